//! Where log lines go: stderr, one `write` per line, except on a thread
//! that batches ([`batch_here`]: the proxy's workers). There a line joins
//! the thread's buffer, which goes out in one `write` when the thread is
//! about to wait for work ([`flush_here`], its runtime's park hook), when it
//! holds [`BATCH_BYTES`], or when the thread ends. A busy worker thus writes
//! the request lines of everything it served since it last waited at once
//! instead of one system call per request (as nginx's `access_log …
//! buffer=`), and a line is never held while the worker is idle: it is out
//! before the worker sleeps. On the near benchmark this removed one of the
//! 3.6 system calls per request (bench/README.md).

use std::cell::RefCell;
use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// A batching thread writes its buffer out once it holds this much.
pub const BATCH_BYTES: usize = 64 << 10;

/// The log writer for `tracing_subscriber::fmt().with_writer(..)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stderr;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line
    }
}

/// One formatted event on its way out.
#[derive(Debug)]
pub struct Line;

impl Write for Line {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let kept = BATCH
            .try_with(|b| match b.try_borrow_mut() {
                Ok(mut b) if b.on => {
                    b.keep(line);
                    true
                }
                _ => false,
            })
            .unwrap_or(false);
        if !kept {
            io::stderr().write_all(line)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Batch {
    on: bool,
    lines: Vec<u8>,
}

impl Batch {
    /// Keeps `line`, writing all out once past [`BATCH_BYTES`].
    fn keep(&mut self, line: &[u8]) {
        self.lines.extend_from_slice(line);
        if self.lines.len() >= BATCH_BYTES {
            self.write_out();
        }
    }

    fn write_out(&mut self) {
        if !self.lines.is_empty() {
            // As tracing does: a log that cannot be written is not an error
            // of the request that logged.
            let _ = io::stderr().write_all(&self.lines);
            self.lines.clear();
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.write_out();
    }
}

thread_local! {
    static BATCH: RefCell<Batch> = const {
        RefCell::new(Batch {
            on: false,
            lines: Vec::new(),
        })
    };
}

/// From now on this thread's log lines wait in its buffer for
/// [`flush_here`] (call it before the thread waits for work, and before the
/// thread or the process ends: the main thread's buffer is not written out
/// by itself at exit).
pub fn batch_here() {
    BATCH.with(|b| {
        let mut b = b.borrow_mut();
        b.on = true;
        b.lines.reserve(BATCH_BYTES);
    });
}

/// Writes this thread's waiting log lines out now.
pub fn flush_here() {
    let _ = BATCH.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            b.write_out();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `line` waited in this thread's buffer.
    fn waiting(line: &[u8]) -> bool {
        BATCH.with(|b| b.borrow().lines.windows(line.len()).any(|w| w == line))
    }

    #[test]
    fn a_batching_thread_keeps_its_lines_until_flushed_or_full() {
        std::thread::spawn(|| {
            Line.write_all(b"direct\n").unwrap();
            assert!(!waiting(b"direct\n"), "not batching yet: written at once");
            batch_here();
            Line.write_all(b"kept\n").unwrap();
            assert!(waiting(b"kept\n"));
            flush_here();
            assert!(!waiting(b"kept\n"), "flushed");
            // Past BATCH_BYTES the buffer goes out by itself.
            let long = vec![b'x'; BATCH_BYTES / 4];
            for _ in 0..4 {
                Line.write_all(&long).unwrap();
            }
            BATCH.with(|b| assert!(b.borrow().lines.is_empty(), "written when full"));
            Line.write_all(b"last\n").unwrap();
            assert!(waiting(b"last\n"), "written when the thread ends");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn other_threads_are_not_batched() {
        std::thread::spawn(batch_here).join().unwrap();
        std::thread::spawn(|| {
            Line.write_all(b"elsewhere\n").unwrap();
            assert!(!waiting(b"elsewhere\n"));
        })
        .join()
        .unwrap();
    }
}
