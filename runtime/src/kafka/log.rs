//! A compacted, one-partition topic as a replicated log: a thread follows it from the beginning
//! and hands each record to its owner (the schema registry's `_schemas`, the idempotency keys),
//! so every gateway sees what any gateway writes there. `append` waits until the record is
//! applied here (read-your-writes); `send` only for Kafka's acknowledgement; `known_before`
//! until every record before one is applied or was written here.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::config::KafkaConfig;

/// What a log's owner does with each record: `(offset, key, value)`, a tombstone's value none.
pub type Apply = Box<dyn FnMut(i64, &[u8], Option<&[u8]>) + Send>;

/// How long start waits to read the topic to its end.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// A followed topic and the producer that appends to it.
pub struct Log {
    producer: FutureProducer,
    topic: String,
    applied: watch::Receiver<i64>,
    /// Wakes `applied`'s waiters when `own` grows (the value unchanged).
    progress: Arc<watch::Sender<i64>>,
    /// Offsets this process wrote, acknowledged and not yet applied.
    own: Mutex<Own>,
    stop: Arc<AtomicBool>,
    follower: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Log {
    /// Stops the follower and waits for it (one poll, at most 200 ms), so it never polls a
    /// cluster that is gone (the embedded one is dropped right after).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(follower) = self.follower.take() {
            let _ = follower.join();
            tracing::debug!(topic = %self.topic, "log follower stopped");
        }
    }
}

impl Log {
    /// Creates `topic` with one partition and `configs` (`cleanup.policy = compact` and more)
    /// unless it exists.
    pub async fn create(
        cluster: &super::cluster::Cluster,
        topic: &str,
        configs: &[(String, String)],
    ) -> Result<(), String> {
        if cluster.topic(topic).is_ok() {
            return Ok(());
        }
        match cluster.create_topic(topic, Some(1), None, configs).await {
            Err(e) if cluster.topic(topic).is_err() => Err(format!("creating {topic}: {e}")),
            _ => Ok(()),
        }
    }

    /// Follows `topic` into `apply` (on a thread named `thread`) and returns once what it held
    /// at start is applied.
    pub async fn open(
        kafka: &KafkaConfig,
        bootstrap: &str,
        topic: &str,
        thread: &str,
        apply: Apply,
    ) -> Result<Log, String> {
        // A write waits until it is read back here: a broker that holds a fetch for its whole
        // wait (tansu, the mock cluster) would add that wait to each. 100 idle fetches a second.
        let consumer: BaseConsumer =
            crate::kafka::consumer_config(kafka, bootstrap, &format!("wafka-{thread}"))
                .set("fetch.wait.max.ms", "10")
                .create()
                .map_err(|e| e.to_string())?;
        let (low, high) =
            tokio::task::block_in_place(|| consumer.fetch_watermarks(topic, 0, LOAD_TIMEOUT))
                .map_err(|e| format!("{topic}: {e}"))?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, 0, Offset::Beginning)
            .map_err(|e| e.to_string())?;
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        // Whatever lies before the first record was deleted: nothing there to wait for.
        let (tx, mut applied) = watch::channel(low - 1);
        let tx = Arc::new(tx);
        let stop = Arc::new(AtomicBool::new(false));
        let follower = {
            let (stop, topic, tx) = (stop.clone(), topic.to_owned(), tx.clone());
            std::thread::Builder::new()
                .name(format!("wafka-{thread}"))
                .spawn(move || follow(consumer, &topic, apply, &tx, &stop))
                .map_err(|e| e.to_string())?
        };
        if high > low {
            let loaded = tokio::time::timeout(LOAD_TIMEOUT, applied.wait_for(|a| *a >= high - 1));
            let loaded = match loaded.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(_)) => Err(format!("{topic}: its reader stopped")),
                Err(_) => Err(format!(
                    "{topic}: not read to its end (offset {high}) within {LOAD_TIMEOUT:?}"
                )),
            };
            if let Err(e) = loaded {
                stop.store(true, Ordering::SeqCst);
                return Err(e);
            }
        }
        // Not idempotent: a fenced idempotent producer (tansu fences one after a pause) fails
        // every later write, and a state written twice is harmless to its owner.
        let producer = crate::kafka::client_config(kafka, bootstrap)
            .set("statistics.interval.ms", "0")
            .set("enable.idempotence", "false")
            .set("acks", "all")
            // Writers wait for each write: 0.5 ms of lingering, enough for concurrent writes to
            // share a batch (measured: 0 sends one request per write, 1 made a sync keyed
            // request 4 % slower).
            .set("linger.ms", "0.5")
            .create()
            .map_err(|e| e.to_string())?;
        Ok(Log {
            producer,
            topic: topic.to_owned(),
            applied,
            progress: tx,
            own: Mutex::new(Own {
                offsets: BTreeSet::new(),
                known: low - 1,
            }),
            stop,
            follower: Some(follower),
        })
    }

    /// Appends a record and waits until it is applied; its offset.
    pub async fn append(&self, key: &[u8], value: &[u8], timeout: Duration) -> Result<i64, String> {
        self.append_or_delete(key, Some(value), timeout).await
    }

    /// Appends a record, or a tombstone when `value` is none, once Kafka acknowledged it; its
    /// offset. Not yet applied here.
    pub async fn send(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<i64, String> {
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic)
            .partition(0)
            .key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        // `send`'s timeout bounds the queueing only: the acknowledgement is bounded here.
        let delivered = tokio::time::timeout(timeout, self.producer.send(record, timeout))
            .await
            .map_err(|_| format!("{}: not acknowledged within {timeout:?}", self.topic))?
            .map_err(|(e, _)| format!("{}: {e}", self.topic))?;
        let applied = *self.applied.borrow();
        self.own().wrote(delivered.offset, applied);
        self.progress.send_modify(|_| {});
        Ok(delivered.offset)
    }

    /// Appends a record, or a tombstone when `value` is none, and waits until it is applied.
    pub async fn append_or_delete(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<i64, String> {
        let offset = self.send(key, value, timeout).await?;
        self.applied(offset, timeout).await?;
        Ok(offset)
    }

    /// Waits until the record at `offset` (and all before it) is applied here.
    pub async fn applied(&self, offset: i64, timeout: Duration) -> Result<(), String> {
        let mut applied = self.applied.clone();
        tokio::time::timeout(timeout, applied.wait_for(|a| *a >= offset))
            .await
            .map_err(|_| {
                format!(
                    "{}: the record at {offset} was not read back in time",
                    self.topic
                )
            })?
            .map_err(|_| format!("{}: its reader stopped", self.topic))?;
        Ok(())
    }

    fn own(&self) -> std::sync::MutexGuard<'_, Own> {
        self.own.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every record before `offset` is applied here or was written by this
    /// process: what another writer put before it is then applied. A writer alone on its log
    /// need not wait for its follower's next fetch.
    pub async fn known_before(&self, offset: i64, timeout: Duration) -> Result<(), String> {
        let mut applied = self.applied.clone();
        let known = |a: &i64| *a >= offset - 1 || self.own().known(*a) >= offset - 1;
        tokio::time::timeout(timeout, applied.wait_for(known))
            .await
            .map_err(|_| {
                format!(
                    "{}: the records before {offset} were not read in time",
                    self.topic
                )
            })?
            .map_err(|_| format!("{}: its reader stopped", self.topic))?;
        Ok(())
    }
}

/// What this process wrote past what its follower applied.
struct Own {
    offsets: BTreeSet<i64>,
    /// Every offset up to here is applied or in `offsets` (and left it).
    known: i64,
}

impl Own {
    fn wrote(&mut self, offset: i64, applied: i64) {
        if offset > applied.max(self.known) {
            self.offsets.insert(offset);
        }
        self.known(applied);
    }

    /// Up to where every offset is applied or written here, once `applied` is.
    fn known(&mut self, applied: i64) -> i64 {
        self.known = self.known.max(applied);
        while let Some(&first) = self.offsets.first() {
            if first > self.known + 1 {
                break;
            }
            self.offsets.pop_first();
            self.known = self.known.max(first);
        }
        self.known
    }
}

fn follow(
    consumer: BaseConsumer,
    topic: &str,
    mut apply: Apply,
    applied: &watch::Sender<i64>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let offset = message.offset();
                if let Some(key) = message.key() {
                    apply(offset, key, message.payload());
                }
                applied.send_replace(offset);
            }
            Some(Err(error)) => tracing::warn!(topic, %error, "following a log topic"),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_writes_close_the_gap_to_what_is_applied() {
        let mut own = Own {
            offsets: BTreeSet::new(),
            known: -1,
        };
        own.wrote(2, -1);
        assert_eq!(
            own.known(-1),
            -1,
            "0 and 1 are another writer's, or not read yet"
        );
        own.wrote(0, -1);
        assert_eq!(own.known(-1), 0);
        assert_eq!(own.known(1), 2, "1 applied, 2 written here");
        own.wrote(5, 1);
        assert_eq!(own.known(3), 3, "4 is not known");
        assert_eq!(own.known(4), 5);
        assert!(own.offsets.is_empty());
        own.wrote(5, 5);
        assert!(own.offsets.is_empty(), "an applied offset is not kept");
    }
}
