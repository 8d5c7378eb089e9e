//! Blocking work (the disk, mostly) kept off the threads that serve
//! requests: config, secret and CA files on reload and at start, the token
//! cache and the credit window. A read of a slow volume (a network mount, a
//! ConfigMap being swapped) must not stall every request on that thread.

/// Runs `f` on tokio's blocking pool and waits for it without holding a
/// runtime thread. A panic in `f` panics here, as if `f` had run inline.
pub async fn run<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled, which only a runtime shutting down does (a blocking task
        // that has started cannot be): this task is being dropped with it, so
        // nobody is waiting for `T`. Wait with it rather than panic.
        Err(_) => std::future::pending().await,
    }
}

/// Runs `f` right here, for sync code that must block and cannot await
/// (`Drop`). On a worker of the multi-thread runtime the worker first hands
/// its other tasks to another thread (`block_in_place`); on a current-thread
/// runtime (each of the proxy's workers, and tests) there is no other thread
/// to hand them to, so `f` just runs and that worker's connections wait for
/// it: keep `f` to one small write (the credit window's last save).
pub fn in_place<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let current_thread =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread);
    if current_thread {
        f()
    } else {
        tokio::task::block_in_place(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn run_hands_back_the_value_and_runs_off_the_runtime_thread() {
        let here = std::thread::current().id();
        let (value, there) = run(|| (42, std::thread::current().id())).await;
        assert_eq!(value, 42);
        assert_ne!(here, there, "ran on the blocking pool");
    }

    #[tokio::test]
    #[should_panic(expected = "boom")]
    async fn a_panic_in_run_panics_the_caller() {
        run(|| panic!("boom")).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_place_works_on_both_runtimes_and_outside_one() {
        assert_eq!(in_place(|| 1), 1);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        std::thread::spawn(move || {
            assert_eq!(in_place(|| 2), 2);
            assert_eq!(current.block_on(async { in_place(|| 3) }), 3);
        })
        .join()
        .unwrap();
    }
}
