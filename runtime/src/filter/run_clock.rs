//! How long a filter has run for its request: the time its call was being polled.
//!
//! A filter's deadline counts this, not wall time. Wall time also holds the waits a filter
//! cannot help: for a worker thread after yielding at an epoch tick (a busy gateway queues
//! it behind every other request), and for a host call (an identity provider or a schema
//! registry, bounded by their own timeouts). Counted in wall time, a 5 µs filter on a
//! loaded gateway could be stopped for the gateway's own queueing.

use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared by a store's data (read by the epoch callback, inside the call) and the code that
/// polls the call. One call at a time: a store is used by one task.
#[derive(Debug)]
pub(crate) struct RunClock {
    base: Instant,
    /// Nanoseconds run in finished polls since the last [`RunClock::reset`].
    spent: AtomicU64,
    /// When the current poll started, in nanoseconds from `base`; 0 between polls.
    since: AtomicU64,
}

impl Default for RunClock {
    fn default() -> Self {
        RunClock {
            base: Instant::now(),
            spent: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }
}

impl RunClock {
    /// Starts counting a new filter call from zero.
    pub(crate) fn reset(&self) {
        self.spent.store(0, Ordering::Relaxed);
    }

    /// Time run since the last reset, the current poll included.
    pub(crate) fn ran(&self) -> Duration {
        let spent = self.spent.load(Ordering::Relaxed);
        let since = self.since.load(Ordering::Relaxed);
        let current = if since == 0 {
            0
        } else {
            self.nanos().saturating_sub(since)
        };
        Duration::from_nanos(spent + current)
    }

    /// Polls `call` to completion, counting only the time spent in its polls.
    pub(crate) async fn time<F: Future>(&self, call: F) -> F::Output {
        let mut call = pin!(call);
        std::future::poll_fn(|cx| {
            // Never 0, which means "not polling".
            let started = self.nanos().max(1);
            self.since.store(started, Ordering::Relaxed);
            let out = call.as_mut().poll(cx);
            self.since.store(0, Ordering::Relaxed);
            let took = self.nanos().saturating_sub(started);
            self.spent.fetch_add(took, Ordering::Relaxed);
            out
        })
        .await
    }

    fn nanos(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_is_not_counted_running_is() {
        let clock = RunClock::default();
        clock
            .time(tokio::time::sleep(Duration::from_millis(40)))
            .await;
        assert!(
            clock.ran() < Duration::from_millis(20),
            "a 40 ms wait counted as {:?} of running",
            clock.ran()
        );
        clock.reset();
        clock
            .time(async {
                std::thread::sleep(Duration::from_millis(15));
                tokio::task::yield_now().await;
                std::thread::sleep(Duration::from_millis(15));
            })
            .await;
        assert!(
            clock.ran() >= Duration::from_millis(30),
            "two 15 ms polls counted as {:?}",
            clock.ran()
        );
    }
}
