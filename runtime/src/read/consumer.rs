//! The librdkafka consumers behind read routes, and the blocking calls made with them: a
//! topic's partitions and offsets, offsets by time, group commits, and reading a range of
//! offsets for a client behind what the shared tail holds. Every function here blocks: call it
//! on a blocking thread.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::Position;
use crate::config::KafkaConfig;
use crate::error::RequestError;
use crate::exchange::Record;
use crate::kafka::messages::{Batch, Fetcher, MOST_AT_ONCE, Raw};

/// How long a metadata or offsets request may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// Group of the consumers that only read (they never commit).
const READER_GROUP: &str = "wafka-reader";

/// Makes consumers with the gateway's settings.
#[derive(Clone)]
pub struct Consumers {
    kafka: Arc<KafkaConfig>,
    bootstrap: String,
    /// Catch-up consumers not in use, kept for the next client that is behind.
    idle: Arc<Mutex<Vec<Fetcher>>>,
    /// Catch-up consumers still assigned where a read stopped short of the client's target.
    parked: Arc<Mutex<Vec<Parked>>>,
}

/// Catch-up consumers kept idle.
const IDLE_CONSUMERS: usize = 4;

/// Catch-up consumers kept assigned where a client stopped, and for how long: a client catching
/// up asks for its next batch at once, and continuing on the consumer's prefetch instead of
/// assigning a new one and fetching again is what makes catch-up run at Kafka's speed. Each
/// holds at most `queued.max.messages.kbytes` of prefetched records
/// ([`CATCH_UP_QUEUE_KBYTES`] unless `[kafka.consumer]` sets it).
const PARKED_CONSUMERS: usize = 8;
const PARK_TIME: Duration = Duration::from_secs(5);

/// What a catch-up consumer prefetches per partition set, in KiB (librdkafka's default is
/// 64 MiB); bounds the memory a parked consumer holds.
const CATCH_UP_QUEUE_KBYTES: &str = "16384";

/// How long a catch-up consumer's fetch may wait at the end of a partition, in ms. A consumer
/// reassigned (a new client, or one given back) sends its next fetch only once the last one
/// returned: the readers' 100 ms would be added to the first answer of the next read.
const CATCH_UP_FETCH_WAIT_MS: &str = "10";

/// A catch-up consumer left assigned: the offset each of its partitions delivers next.
struct Parked {
    topic: String,
    next: BTreeMap<i32, i64>,
    consumer: Fetcher,
    since: Instant,
}

/// Longest a time lookup reads to check the broker's answer (or, on the embedded cluster,
/// which has no time index, to find it).
const SCAN_TIME: Duration = Duration::from_secs(5);

impl Consumers {
    /// Consumers for `kafka` at `bootstrap`.
    pub fn new(kafka: &KafkaConfig, bootstrap: &str) -> Self {
        Consumers {
            kafka: Arc::new(kafka.clone()),
            bootstrap: bootstrap.to_owned(),
            idle: Arc::default(),
            parked: Arc::default(),
        }
    }

    /// A consumer in `group`, for its committed offsets (read consumers are [`Fetcher`]s).
    fn create(&self, group: &str) -> Result<BaseConsumer, RequestError> {
        created(crate::kafka::consumer_config(
            &self.kafka,
            &self.bootstrap,
            group,
        ))
    }

    /// The partitions of `topic`, or 404 `topic_not_found`.
    pub fn partitions(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
    ) -> Result<Vec<i32>, RequestError> {
        crate::kafka::admin_request("metadata");
        let metadata = consumer
            .fetch_metadata(Some(topic), ASK_TIMEOUT)
            .map_err(|e| kafka_error(&e, topic))?;
        let found = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .ok_or_else(|| RequestError::TopicNotFound(topic.to_owned()))?;
        if let Some(e) = found.error() {
            let code = RDKafkaErrorCode::from(e);
            return Err(match code {
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                    RequestError::TopicNotFound(topic.to_owned())
                }
                other => RequestError::KafkaUnavailable(other.to_string()),
            });
        }
        let mut partitions: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
        if partitions.is_empty() {
            return Err(RequestError::TopicNotFound(topic.to_owned()));
        }
        partitions.sort_unstable();
        Ok(partitions)
    }

    /// Each partition's first (`earliest`) or next (`latest`) offset.
    pub fn ends(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        partitions: &[i32],
        earliest: bool,
    ) -> Result<Position, RequestError> {
        let mut position = BTreeMap::new();
        for &p in partitions {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, ASK_TIMEOUT)
                .map_err(|e| kafka_error(&e, topic))?;
            position.insert(p, if earliest { low } else { high });
        }
        Ok(Position(position))
    }

    /// Each partition's first offset at or after `millis` since the epoch (its end when there
    /// is none). The broker's answer is checked by reading the record it names: brokers without
    /// a time index answer wrongly (the embedded mock cluster says the end, tansu 0.6.0 the last
    /// record for a time after it), so from the named offset (the start, on the embedded
    /// cluster) the partition is read to the first record at or after `millis`, for at most
    /// [`SCAN_TIME`] in all; past that the request is refused, never answered from the wrong
    /// place.
    pub fn at_time(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        partitions: &[i32],
        millis: i64,
    ) -> Result<Position, RequestError> {
        let ends = self.ends(consumer, topic, partitions, false)?;
        let starts = if self.kafka.is_embedded() {
            self.ends(consumer, topic, partitions, true)?
        } else {
            let mut asked = TopicPartitionList::new();
            for &p in partitions {
                asked
                    .add_partition_offset(topic, p, Offset::Offset(millis))
                    .map_err(|e| RequestError::Internal(e.to_string()))?;
            }
            let found = consumer
                .offsets_for_times(asked, ASK_TIMEOUT)
                .map_err(|e| kafka_error(&e, topic))?;
            let mut position = BTreeMap::new();
            for element in found.elements() {
                let end = ends.0.get(&element.partition()).copied().unwrap_or(0);
                let offset = match element.offset() {
                    Offset::Offset(o) => o.min(end),
                    _ => end,
                };
                position.insert(element.partition(), offset);
            }
            Position(position)
        };
        let deadline = Instant::now() + SCAN_TIME;
        let mut position = BTreeMap::new();
        for &p in partitions {
            let end = ends.0.get(&p).copied().unwrap_or(0);
            let start = starts.0.get(&p).copied().unwrap_or(end);
            let found = self.first_at(consumer, topic, p, (start, end), millis, deadline)?;
            position.insert(p, found);
        }
        Ok(Position(position))
    }

    /// The offset of the first record of partition `p` in `start..end` whose time is at or
    /// after `millis`; `end` when none is.
    fn first_at(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        p: i32,
        (start, end): (i64, i64),
        millis: i64,
        deadline: Instant,
    ) -> Result<i64, RequestError> {
        if start >= end {
            return Ok(end);
        }
        let mut at = TopicPartitionList::new();
        at.add_partition_offset(topic, p, Offset::Offset(start))
            .map_err(|e| RequestError::Internal(e.to_string()))?;
        consumer.assign(&at).map_err(|e| kafka_error(&e, topic))?;
        let found = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = consumer.unassign();
                return Err(RequestError::InvalidParameter(format!(
                    "from=<time>: the broker has no usable time index, and reading {topic} \
                     to find {millis} took over {SCAN_TIME:?}; start from an offset \
                     position, earliest or latest"
                )));
            }
            let Some(message) = consumer.poll(left.min(Duration::from_millis(200))) else {
                continue;
            };
            let message = message.map_err(|e| kafka_error(&e, topic))?;
            if message.timestamp().to_millis().is_some_and(|t| t >= millis) {
                break message.offset();
            }
            if message.offset() + 1 >= end {
                break end;
            }
        };
        let _ = consumer.unassign();
        Ok(found)
    }

    /// What `group` committed for `topic`'s partitions (those it has).
    pub fn committed(
        &self,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<Position, RequestError> {
        let consumer = self.create(group)?;
        let mut asked = TopicPartitionList::new();
        for &p in partitions {
            asked.add_partition(topic, p);
        }
        let found = consumer
            .committed_offsets(asked, ASK_TIMEOUT)
            .map_err(|e| kafka_error(&e, topic))?;
        let mut position = BTreeMap::new();
        for element in found.elements() {
            if let Offset::Offset(o) = element.offset() {
                position.insert(element.partition(), o);
            }
        }
        Ok(Position(position))
    }

    /// Commits `position` for `topic` under `group`, as ordinary Kafka committed offsets. No
    /// group membership is held: the commit is a simple (unassigned) consumer's.
    pub fn commit(
        &self,
        group: &str,
        topic: &str,
        position: &Position,
    ) -> Result<(), RequestError> {
        let consumer = self.create(group)?;
        let mut offsets = TopicPartitionList::new();
        for (&p, &o) in &position.0 {
            offsets
                .add_partition_offset(topic, p, Offset::Offset(o))
                .map_err(|e| RequestError::Internal(e.to_string()))?;
        }
        consumer
            .commit(&offsets, CommitMode::Sync)
            .map_err(|e| kafka_error(&e, topic))
    }

    /// Reads `topic` from each partition's offset in `from` up to (not including) its offset
    /// in `until`, at most `max_records` and about `max_bytes`, for at most `wait`.
    pub fn read_range(
        &self,
        topic: &str,
        from: &Position,
        until: &Position,
        max_records: usize,
        max_bytes: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, RequestError> {
        let mut open: BTreeMap<i32, i64> = BTreeMap::new();
        for (&p, &start) in &from.0 {
            let end = until.0.get(&p).copied().unwrap_or(i64::MAX);
            if start < end {
                open.insert(p, end);
            }
        }
        if open.is_empty() {
            return Ok(Vec::new());
        }
        // Where each partition's next record should be, and is once read.
        let wanted: BTreeMap<i32, i64> = open.keys().map(|p| (*p, from.0[p])).collect();
        let parked = self.unpark(topic, &wanted);
        let how = if parked.is_some() {
            "parked"
        } else {
            "assigned"
        };
        metrics::counter!(crate::metrics::READ_CATCH_UPS, "consumer" => how).increment(1);
        let consumer = match parked {
            Some(consumer) => consumer,
            None => {
                let consumer = match self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                    Some(consumer) => consumer,
                    None => self.create_catch_up()?,
                };
                let mut assignment = TopicPartitionList::new();
                for (&p, &start) in &wanted {
                    assignment
                        .add_partition_offset(topic, p, Offset::Offset(start))
                        .map_err(|e| RequestError::Internal(e.to_string()))?;
                }
                consumer
                    .assign(&assignment)
                    .map_err(|e| kafka_error(&e, topic))?;
                consumer
            }
        };
        let mut next = wanted.clone();
        let deadline = Instant::now() + wait;
        // Where each partition's first record should be.
        let mut first: BTreeMap<i32, i64> = from.0.clone();
        let mut records = Vec::new();
        let mut bytes = 0;
        let mut largest = 0;
        let mut batch = Batch::new();
        while !open.is_empty() && records.len() < max_records && bytes < max_bytes {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let room = batch_room(max_records - records.len(), max_bytes - bytes, largest);
            let error = consumer.pop(&mut batch, room, left.min(Duration::from_millis(100)));
            if let Some(error) = error
                && records.is_empty()
            {
                return Err(RequestError::KafkaUnavailable(error));
            }
            for message in batch.iter() {
                if let Some(e) = message.error() {
                    return Err(kafka_error(&e, topic));
                }
                let p = message.partition();
                next.insert(p, message.offset() + 1);
                let Some(&end) = open.get(&p) else { continue };
                // Past the limits (records larger than those before): the consumer moved on,
                // so it is not parked where the client stopped.
                if message.offset() >= end || records.len() >= max_records || bytes >= max_bytes {
                    open.remove(&p);
                    continue;
                }
                if let Some(expected) = first.remove(&p)
                    && message.offset() > expected
                {
                    skipped(topic, p, expected, message.offset());
                }
                let record = message.record(topic.to_owned());
                let size = record_size(&record);
                (bytes, largest) = (bytes + size, largest.max(size));
                if message.offset() + 1 >= end {
                    open.remove(&p);
                }
                records.push(record);
            }
        }
        drop(batch);
        // Stopped short of every partition's end: the client asks for the rest next.
        if open.len() == wanted.len() {
            self.park(Parked {
                topic: topic.to_owned(),
                next,
                consumer,
                since: Instant::now(),
            });
        } else {
            self.give_back(consumer);
        }
        Ok(records)
    }

    /// Keeps an idle catch-up consumer that has fetched the cluster's metadata (connected).
    pub fn warm(&self) {
        let warmed = self.create_catch_up().and_then(|consumer| {
            consumer
                .fetch_metadata(None, ASK_TIMEOUT)
                .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?;
            Ok(consumer)
        });
        match warmed {
            Ok(consumer) => self.give_back(consumer),
            Err(e) => tracing::debug!(error = %e, "no catch-up consumer ready yet"),
        }
    }

    /// A catch-up consumer with librdkafka's prefetch bounded (see [`CATCH_UP_QUEUE_KBYTES`])
    /// and its fetches held briefly ([`CATCH_UP_FETCH_WAIT_MS`]), unless `[kafka.consumer]`
    /// sets either.
    fn create_catch_up(&self) -> Result<Fetcher, RequestError> {
        let mut config = crate::kafka::consumer_config(&self.kafka, &self.bootstrap, READER_GROUP);
        let own = |name: &str| self.kafka.consumer.contains_key(name);
        if !own("queued.max.messages.kbytes") {
            config.set("queued.max.messages.kbytes", CATCH_UP_QUEUE_KBYTES);
        }
        if !own("fetch.wait.max.ms") {
            config.set("fetch.wait.max.ms", CATCH_UP_FETCH_WAIT_MS);
        }
        fetcher(config)
    }

    /// A consumer for a tail: read routes' settings, taken from many at a time.
    pub fn create_fetcher(&self) -> Result<Fetcher, RequestError> {
        fetcher(crate::kafka::consumer_config(
            &self.kafka,
            &self.bootstrap,
            READER_GROUP,
        ))
    }

    /// The parked consumer whose partitions deliver `wanted` next, if one is; parked
    /// consumers past [`PARK_TIME`] are given back on the way.
    fn unpark(&self, topic: &str, wanted: &BTreeMap<i32, i64>) -> Option<Fetcher> {
        let (found, stale) = {
            let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
            let found = parked
                .iter()
                .position(|p| p.topic == topic && &p.next == wanted)
                .map(|i| parked.swap_remove(i).consumer);
            let stale: Vec<Parked> = parked
                .extract_if(.., |p| p.since.elapsed() >= PARK_TIME)
                .collect();
            (found, stale)
        };
        for parked in stale {
            self.give_back(parked.consumer);
        }
        found
    }

    /// Keeps `parked` for its client's next read; the oldest parked one makes room.
    fn park(&self, parked: Parked) {
        let evicted = {
            let mut all = self.parked.lock().unwrap_or_else(|e| e.into_inner());
            all.push(parked);
            (all.len() > PARKED_CONSUMERS).then(|| all.remove(0))
        };
        if let Some(evicted) = evicted {
            self.give_back(evicted.consumer);
        }
    }

    /// Runs `ask` (a question about offsets) on an idle catch-up consumer, connected already,
    /// instead of a new one that must connect first.
    pub fn asking<T>(
        &self,
        ask: impl FnOnce(&BaseConsumer) -> Result<T, RequestError>,
    ) -> Result<T, RequestError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let consumer = match idle {
            Some(consumer) => consumer,
            None => self.create_catch_up()?,
        };
        let answer = ask(&consumer);
        consumer.pass_logs_on();
        self.give_back(consumer);
        answer
    }

    /// Unassigns `consumer` and keeps it idle, or drops it when enough are.
    fn give_back(&self, consumer: Fetcher) {
        let _ = consumer.unassign();
        consumer.pass_logs_on();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CONSUMERS {
            idle.push(consumer);
        }
    }
}

fn created(config: rdkafka::ClientConfig) -> Result<BaseConsumer, RequestError> {
    config
        .create()
        .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))
}

fn fetcher(config: rdkafka::ClientConfig) -> Result<Fetcher, RequestError> {
    Fetcher::new(config)
        .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?
        .ok_or_else(|| RequestError::Internal("a read consumer has no group queue".into()))
}

/// Records to take from a catch-up consumer at once: what the answer has room for, counting
/// each as large as the largest so far (one, before any), and at most [`MOST_AT_ONCE`]. Records
/// taken past the answer's limits are dropped (the client asks for them next).
fn batch_room(records: usize, bytes: usize, largest: usize) -> usize {
    let by_bytes = if largest == 0 {
        1
    } else {
        bytes.div_ceil(largest)
    };
    records.min(by_bytes).clamp(1, MOST_AT_ONCE)
}

/// Kafka answered a read from `asked` with `got`: legitimate on compacted topics and around
/// aborted transactions, data loss on a broker that mishandles fetches from inside a batch.
fn skipped(topic: &str, partition: i32, asked: i64, got: i64) {
    metrics::counter!(crate::metrics::READ_SKIPPED).increment((got - asked) as u64);
    tracing::warn!(
        topic,
        partition,
        asked,
        got,
        "Kafka skipped offsets on a catch-up read (compaction, aborted transactions, or a broker \
         that answers fetches from inside a record batch with the next batch)"
    );
}

/// A message read from Kafka as the gateway's record.
pub fn to_record(message: &BorrowedMessage<'_>) -> Record {
    let raw = Raw::of(message);
    raw.record(raw.topic())
}

/// Bytes a record holds in memory, roughly.
pub fn record_size(record: &Record) -> usize {
    crate::delivery::record_size(record)
}

fn kafka_error(e: &KafkaError, topic: &str) -> RequestError {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            RequestError::TopicNotFound(topic.to_owned())
        }
        _ => RequestError::KafkaUnavailable(e.to_string()),
    }
}
