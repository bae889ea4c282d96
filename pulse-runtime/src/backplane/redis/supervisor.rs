//! Keeps a backplane task running for as long as its server does: whatever ends it (a
//! panic, or a return while the server is alive) is logged, counted, and the task is
//! started again after a backoff.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt as _;

use super::BACKOFF;
use crate::guard::panic_message;

/// Runs `task()` and starts it again each time it ends while `alive()` holds, calling
/// `restarted` before each new start. The delays follow [`BACKOFF`], from the start
/// again once a run lasted longer than the longest delay (it was not failing at once).
pub(super) async fn supervise<Task, Run>(
    name: &'static str,
    mut task: Task,
    alive: impl Fn() -> bool,
    mut restarted: impl FnMut(),
) where
    Task: FnMut() -> Run,
    Run: Future<Output = ()>,
{
    let longest = BACKOFF[BACKOFF.len() - 1];
    let mut attempt = 0;
    loop {
        let started = Instant::now();
        let ended = AssertUnwindSafe(task()).catch_unwind().await;
        if !alive() {
            return;
        }
        match ended {
            Ok(()) => tracing::error!(task = name, "a backplane task ended while its server runs; restarting it"),
            Err(panic) => tracing::error!(
                task = name,
                panic = %panic_message(panic.as_ref()),
                "a backplane task panicked; restarting it"
            ),
        }
        restarted();
        if started.elapsed() > longest {
            attempt = 0;
        }
        tokio::time::sleep(BACKOFF[attempt.min(BACKOFF.len() - 1)]).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_or_returns_is_started_again_until_the_server_is_gone() {
        let runs = Arc::new(AtomicUsize::new(0));
        let alive = Arc::new(AtomicBool::new(true));
        let mut restarts = 0;
        let (counted, living) = (runs.clone(), alive.clone());
        let task = move || {
            let (runs, alive) = (counted.clone(), living.clone());
            async move {
                match runs.fetch_add(1, Ordering::SeqCst) {
                    0 => panic!("first run panics"),
                    1 => {}                                    // the second returns early
                    _ => alive.store(false, Ordering::SeqCst), // the third ends with the server
                }
            }
        };
        let watching = alive.clone();
        supervise("test", task, move || watching.load(Ordering::SeqCst), || restarts += 1).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(restarts, 2, "each end while alive is a restart; the end with the server is not");
    }
}
