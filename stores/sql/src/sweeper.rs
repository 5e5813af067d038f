//! The background task that deletes expired rows.

use std::future::Future;
use std::time::Duration;

use session_core::store::StoreError;
use tokio::task::JoinHandle;

/// The sweeper a store started with `spawn_sweeper`: a task on the Tokio runtime that deletes
/// expired rows every interval. Dropping the handle (or [`Sweeper::abort`]) stops it; keep it
/// for as long as the application serves.
#[derive(Debug)]
#[must_use = "the sweeper stops when its handle is dropped"]
pub struct Sweeper {
    task: JoinHandle<()>,
}

impl Sweeper {
    /// Starts a task on the current Tokio runtime that runs `sweep` now and then every
    /// `every`, logging what it deleted (at `debug`) and its errors (at `warn`: the next pass
    /// tries again).
    #[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
    pub(crate) fn spawn<F, Fut>(store: &'static str, every: Duration, mut sweep: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<u64, StoreError>> + Send,
    {
        let every = every.max(Duration::from_millis(10));
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match sweep().await {
                    Ok(0) => {}
                    Ok(deleted) => {
                        tracing::debug!(store, deleted, "deleted expired sessions");
                    }
                    Err(error) => {
                        tracing::warn!(store, %error, "deleting expired sessions failed; the sweeper tries again at its next interval");
                    }
                }
            }
        });
        Self { task }
    }

    /// Stops the sweeper (a pass under way stops at its next statement; what it deleted
    /// stays deleted).
    pub fn abort(self) {
        self.task.abort();
    }

    /// Whether the task has stopped (aborted, or its runtime shut down).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}
