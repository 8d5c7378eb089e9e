//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`) and
//! every fixed crash (`fuzz/regressions/<target>/*`) through the same
//! property checks the fuzz targets run, on the stable toolchain: a
//! regression fails `cargo test`, not only a fuzzing session.

mod props;

use std::path::Path;

fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir);
    let mut total = 0;
    for (name, check) in props::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.expect("readable entry").path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("readable corpus file");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{name}: {} violates a property (input {:?})",
                file.display(),
                String::from_utf8_lossy(&data)
            );
            total += 1;
        }
    }
    total
}

#[test]
fn every_corpus_file_keeps_its_properties() {
    let replayed = replay("corpus");
    // Each target has a committed corpus: an empty replay proves nothing.
    for (name, _) in props::TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(name);
        let n = std::fs::read_dir(&dir).map_or(0, |d| d.count());
        assert!(n > 0, "no corpus for {name} in {}", dir.display());
    }
    assert!(replayed > 0);
}

#[test]
fn every_fixed_crash_stays_fixed() {
    replay("regressions");
}
