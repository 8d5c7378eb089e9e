#!/usr/bin/env bash
# Runs each fuzz target for SECONDS, one after the other on one core, then
# minimizes its corpus into fuzz/corpus/<target> (what CI replays), and
# prints a line per target for the table in fuzz/README.md.
#
#   fuzz/run.sh SECONDS [TARGET...]      (default: every target)
#
# FUZZ_RUNS=N also stops a target after N executions (whichever comes
# first: issue 17 asks for 10 million or 30 minutes). Two run.sh with
# disjoint targets use both cores.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Inputs that break a property are left in fuzz/artifacts/<target>/; once
# fixed, copy them to fuzz/regressions/<target>/ so CI replays them too.
set -uo pipefail
cd "$(dirname "$0")"
secs="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
mkdir -p logs
cargo +nightly fuzz build || exit 1

status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus-work/$t" "corpus/$t"
    cp -n "corpus/$t/"* "corpus-work/$t/" 2>/dev/null || true
    before="$(ls "artifacts/$t" 2>/dev/null | wc -l)"
    started="$(date +%s)"
    # -rss_limit_mb: the config target compiles whole configs; 2 GB is
    # libFuzzer's default, kept explicit. -timeout: a hang is a finding.
    cargo +nightly fuzz run "$t" "corpus-work/$t" -- \
        -max_total_time="$secs" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"logs/$t.log" 2>&1
    ran=$?
    took="$(($(date +%s) - started))"
    after="$(ls "artifacts/$t" 2>/dev/null | wc -l)"
    # Committed: a small set of inputs that reaches every edge the working
    # corpus reaches (set cover on edges alone, without hit counts or
    # comparison features, which would keep several times as many files).
    rm -rf "corpus/$t"
    mkdir -p "corpus/$t"
    "target/x86_64-unknown-linux-gnu/release/$t" -set_cover_merge=1 -use_counters=0 -use_cmp=0 \
        "corpus/$t" "corpus-work/$t" >"logs/$t.merge.log" 2>&1
    edges() { "target/x86_64-unknown-linux-gnu/release/$t" -runs=0 "$1" 2>&1 | sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p'; }
    echo "$t: the working corpus reaches $(edges "corpus-work/$t") edges, the committed one $(edges "corpus/$t")"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log")"
    last="$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)"
    cov="$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')"
    ft="$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')"
    printf '%-8s %12s executions in %ss, cov %s, ft %s, corpus %s files, new artifacts %s (exit %s)\n' \
        "$t" "${execs:-?}" "$took" "${cov:-?}" "${ft:-?}" "$(ls "corpus/$t" | wc -l)" "$((after - before))" "$ran"
    [ "$ran" -eq 0 ] || status=1
done
exit "$status"
