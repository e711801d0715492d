//! Writes key states to the topic in batches (group commit): one record holds every state
//! queued while the previous records were being acknowledged, so a busy gateway writes a few
//! records a millisecond, not two per request, and its follower reads them back as few. Each
//! record's key is unique (`batch/{owner}/{n}`): compaction never drops one; the topic's
//! retention (the window) does.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::Wire;
use crate::kafka::log::Log;

/// How a batch record's key starts; a key's own record (older gateways) is its scope.
pub(super) const BATCH_PREFIX: &[u8] = b"batch/";
/// A record holds at most this many states and about this many bytes: well under Kafka's
/// default 1 MB `max.message.bytes` (one answer of a large batch request may be bigger on its
/// own; it then goes alone).
const MAX_STATES: usize = 2_000;
const MAX_BYTES: usize = 256 * 1024;
/// Records being acknowledged at once; states arriving meanwhile wait for the next one.
const IN_FLIGHT: usize = 2;
/// What a state's writer hears when the gateway stops before writing it.
const STOPPING: &str = "the gateway is stopping";

/// The states written in one record.
#[derive(Deserialize)]
pub(super) struct Batch {
    /// The process that wrote them.
    pub by: String,
    /// Each key's scope and its state, none for a key let go.
    pub states: Vec<(String, Option<Wire>)>,
}

/// What `write` answers: the offset of the record that holds the state.
pub(super) type Written = Result<i64, String>;

struct Job {
    scope: String,
    wire: Option<Wire>,
    done: Option<oneshot::Sender<Written>>,
}

/// Queues states for the batching task. The queue is bounded by the requests in flight: a
/// request queues its claim and waits for it, and its answer (or release) only after.
pub(super) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
    timeout: Duration,
}

impl Writer {
    /// Starts the task that writes to `log` as `owner`; it ends when the writer is dropped.
    pub(super) fn start(log: Weak<Log>, owner: String, timeout: Duration) -> Writer {
        let (jobs, queued) = mpsc::unbounded_channel();
        tokio::spawn(run(log, owner, timeout, queued));
        Writer { jobs, timeout }
    }

    /// Writes `scope`'s state and waits for Kafka's acknowledgement, at most the timeout (the
    /// state may still be written after).
    pub(super) async fn write(&self, scope: &str, wire: Option<Wire>) -> Written {
        let (done, answer) = oneshot::channel();
        self.queue(scope, wire, Some(done));
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(written)) => written,
            Ok(Err(_)) => Err(STOPPING.to_owned()),
            Err(_) => Err(format!("not acknowledged within {:?}", self.timeout)),
        }
    }

    /// Writes `scope`'s state without waiting; a failure is logged.
    pub(super) fn queue_only(&self, scope: &str, wire: Option<Wire>) {
        self.queue(scope, wire, None);
    }

    fn queue(&self, scope: &str, wire: Option<Wire>, done: Option<oneshot::Sender<Written>>) {
        let job = Job {
            scope: scope.to_owned(),
            wire,
            done,
        };
        if let Err(mpsc::error::SendError(job)) = self.jobs.send(job)
            && let Some(done) = job.done
        {
            let _ = done.send(Err(STOPPING.to_owned()));
        }
    }
}

async fn run(
    log: Weak<Log>,
    owner: String,
    timeout: Duration,
    mut queued: mpsc::UnboundedReceiver<Job>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut n: u64 = 0;
    // The owner is digits and dashes (`Keys::open`); quoted as JSON all the same.
    let by = serde_json::to_string(&owner).unwrap_or_default();
    let head = format!("{{\"by\":{by},\"states\":[");
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = queued.recv().await else {
            return;
        };
        let mut value = head.clone().into_bytes();
        let mut dones = Vec::new();
        let mut states = 0;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            if states > 0 {
                value.push(b',');
            }
            // A state always serializes: strings, numbers and lists of them.
            let _ = serde_json::to_writer(&mut value, &(&job.scope, &job.wire));
            states += 1;
            dones.extend(job.done);
            if states < MAX_STATES && value.len() < MAX_BYTES {
                next = queued.try_recv().ok();
            }
        }
        value.extend_from_slice(b"]}");
        let Some(log) = log.upgrade() else {
            return;
        };
        let key = [BATCH_PREFIX, format!("{owner}/{n}").as_bytes()].concat();
        n += 1;
        tokio::spawn(async move {
            let written = log.send(&key, Some(&value), timeout).await;
            drop(slot);
            crate::metrics::idempotency_write(states);
            if let Err(why) = &written {
                tracing::warn!(%why, states, "Idempotency-Key states not written; a retry elsewhere settles their keys from Kafka");
            }
            for done in dones {
                let _ = done.send(written.clone());
            }
        });
    }
}
