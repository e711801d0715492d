//! One shared fetcher per topic: a consumer on a thread of its own reads every partition from
//! where the log ended when the tail started, keeps the newest records in a bounded buffer,
//! and wakes every client waiting for more. Clients tailing a topic, however many, cost one
//! consumer; a client behind the buffer reads the gap with a catch-up consumer instead.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::Position;
use super::consumer::{Consumers, record_size};
use crate::error::RequestError;
use crate::exchange::Record;
use crate::kafka::messages::{Batch, Fetcher, MOST_AT_ONCE};
use crate::memory::{Charge, Memory, Use};

/// A record in the buffer, with the order it arrived in across partitions.
struct Held {
    seq: u64,
    record: Arc<Record>,
    bytes: usize,
}

/// One partition's buffered records: every offset from `start` up to `next` that exists.
struct PartitionBuffer {
    /// The lowest offset the buffer answers for (older ones were never read or were evicted).
    start: i64,
    /// The next offset the tail will read.
    next: i64,
    records: VecDeque<Held>,
}

struct Buffer {
    partitions: BTreeMap<i32, PartitionBuffer>,
    bytes: usize,
    seq: u64,
}

/// What [`Tail::collect`] found for a position.
pub struct Collected {
    /// Records from the buffer, in arrival order, within the limits.
    pub records: Vec<Arc<Record>>,
    /// Partitions whose position is before the buffer: read from there up to `start` with a
    /// catch-up consumer (partition → (from, until)).
    pub behind: BTreeMap<i32, (i64, i64)>,
}

/// A topic's shared fetcher.
pub struct Tail {
    topic: String,
    partitions: Vec<i32>,
    buffer: Mutex<Buffer>,
    max_bytes: usize,
    /// The buffer's memory, charged to the gateway's budget.
    charge: Mutex<Charge>,
    changed: watch::Sender<u64>,
    stop: Arc<AtomicBool>,
    /// Milliseconds since the Unix epoch when a client last used it.
    pub(super) last_used: AtomicU64,
}

impl Tail {
    /// Starts tailing `topic` from its end now, keeping at most `max_bytes` of records.
    /// Blocks (metadata, offsets): call it on a blocking thread.
    pub fn start(
        consumers: &Consumers,
        topic: &str,
        max_bytes: usize,
        memory: &Arc<Memory>,
    ) -> Result<Arc<Tail>, RequestError> {
        let consumer = consumers.create_fetcher()?;
        let partitions = consumers.partitions(&consumer, topic)?;
        let ends = consumers.ends(&consumer, topic, &partitions, false)?;
        let mut assignment = TopicPartitionList::new();
        let mut buffers = BTreeMap::new();
        for (&p, &next) in &ends.0 {
            assignment
                .add_partition_offset(topic, p, Offset::Offset(next))
                .map_err(|e| RequestError::Internal(e.to_string()))?;
            buffers.insert(
                p,
                PartitionBuffer {
                    start: next,
                    next,
                    records: VecDeque::new(),
                },
            );
        }
        consumer
            .assign(&assignment)
            .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?;
        let (changed, _) = watch::channel(0);
        let tail = Arc::new(Tail {
            topic: topic.to_owned(),
            partitions,
            buffer: Mutex::new(Buffer {
                partitions: buffers,
                bytes: 0,
                seq: 0,
            }),
            max_bytes,
            charge: Mutex::new(
                memory
                    .try_take(Use::Reads, 0)
                    .ok_or(RequestError::Overloaded)?,
            ),
            changed,
            stop: Arc::new(AtomicBool::new(false)),
            last_used: AtomicU64::new(crate::clock::now_millis()),
        });
        let reader = tail.clone();
        std::thread::Builder::new()
            .name(format!("wafka-tail-{topic}"))
            .spawn(move || reader.run(consumer))
            .map_err(|e| RequestError::Internal(format!("cannot start a tail thread: {e}")))?;
        tracing::info!(topic, partitions = tail.partitions.len(), "tailing topic");
        Ok(tail)
    }

    /// The topic's partitions.
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Fires whenever records arrive.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Stops the consumer thread (it ends within a poll interval).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The next offset of every partition: where `latest` starts.
    pub fn ends(&self) -> Position {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        Position(
            buffer
                .partitions
                .iter()
                .map(|(&p, b)| (p, b.next))
                .collect(),
        )
    }

    /// Bytes of records held.
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// Records at or after `position` in the partitions it names, up to `max_records` and
    /// about `max_bytes`, and the partitions that are behind the buffer.
    pub fn collect(&self, position: &Position, max_records: usize, max_bytes: usize) -> Collected {
        self.last_used
            .store(crate::clock::now_millis(), Ordering::Relaxed);
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let mut behind = BTreeMap::new();
        let mut cursors = Vec::new();
        for (&p, &offset) in &position.0 {
            let Some(part) = buffer.partitions.get(&p) else {
                continue;
            };
            if offset < part.start {
                behind.insert(p, (offset, part.start));
                continue;
            }
            // Offsets can have gaps (compaction, transaction markers): find the first held
            // record at or after the position.
            let first = part
                .records
                .partition_point(|h| h.record.offset.unwrap_or(0) < offset);
            if first < part.records.len() {
                cursors.push((p, first));
            }
        }
        let mut records = Vec::new();
        let mut bytes = 0;
        // Merge partitions in arrival order.
        while records.len() < max_records && bytes < max_bytes {
            let next = cursors
                .iter_mut()
                .filter_map(|(p, i)| {
                    let part = &buffer.partitions[p];
                    part.records.get(*i).map(|h| (h.seq, p, i))
                })
                .min_by_key(|(seq, _, _)| *seq);
            let Some((_, p, i)) = next else { break };
            let held = &buffer.partitions[p].records[*i];
            records.push(held.record.clone());
            bytes += held.bytes;
            *i += 1;
        }
        Collected { records, behind }
    }

    fn run(self: Arc<Self>, consumer: Fetcher) {
        let mut batch = Batch::new();
        while !self.stop.load(Ordering::Relaxed) {
            // What is ready in one go, then the waiting clients are woken once.
            // Errors are logged as they come; librdkafka retries.
            let _ = consumer.pop(&mut batch, MOST_AT_ONCE, Duration::from_millis(100));
            let mut added = false;
            for message in batch.iter() {
                match message.error() {
                    None => {
                        self.push(message.record(self.topic.clone()));
                        added = true;
                    }
                    Some(e) => tracing::warn!(topic = %self.topic, error = %e, "tail read failed"),
                }
            }
            if added {
                self.changed.send_modify(|generation| *generation += 1);
            }
        }
        drop(batch);
        tracing::info!(topic = %self.topic, "stopped tailing topic");
    }

    fn push(&self, record: Record) {
        let (Some(p), Some(offset)) = (record.partition, record.offset) else {
            return;
        };
        let bytes = record_size(&record);
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        buffer.seq += 1;
        let seq = buffer.seq;
        let Some(part) = buffer.partitions.get_mut(&p) else {
            return;
        };
        part.next = offset + 1;
        part.records.push_back(Held {
            seq,
            record: Arc::new(record),
            bytes,
        });
        buffer.bytes += bytes;
        // What the budget allows: the bound, or less when the gateway is short of memory.
        let mut charge = self.charge.lock().unwrap_or_else(|e| e.into_inner());
        let held = charge.bytes();
        let allowed = if held >= buffer.bytes || charge.grow(buffer.bytes - held) {
            self.max_bytes
        } else {
            charge.bytes()
        };
        // Over it: drop the oldest record of any partition, which moves that partition's
        // start past it (clients there catch up through Kafka instead).
        while buffer.bytes > allowed.min(self.max_bytes) {
            let oldest = buffer
                .partitions
                .iter()
                .filter_map(|(&p, b)| b.records.front().map(|h| (h.seq, p)))
                .min();
            let Some((_, p)) = oldest else { break };
            let part = buffer.partitions.get_mut(&p).expect("found above");
            let dropped = part.records.pop_front().expect("found above");
            part.start = dropped.record.offset.unwrap_or(part.start) + 1;
            buffer.bytes -= dropped.bytes;
        }
        if charge.bytes() > buffer.bytes {
            let extra = charge.bytes() - buffer.bytes;
            charge.shrink(extra);
        }
    }
}
