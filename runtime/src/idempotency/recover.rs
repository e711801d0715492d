//! Finding a pending key's records in Kafka: after a crash, or an acknowledgement that never
//! came, the records of a key may be in their partitions with no answer kept. Each carries
//! the header `wafka-idempotency-key: {scope}/{index}`; this reads the topics from shortly
//! before the key was claimed to their current end and collects those records.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::{HEADER, Outcome};
use crate::config::KafkaConfig;

/// How long a scan may take before the retry is answered 503 (and may be retried).
const SCAN_TIME: Duration = Duration::from_secs(20);
/// Read from this long before the claim: producer and broker clocks differ.
const CLOCK_SLACK_MS: i64 = 5_000;

/// The records of `scope` found in `topics`, by their index in the request.
pub(super) fn scan(
    kafka: &KafkaConfig,
    bootstrap: &str,
    scope: &str,
    topics: &[String],
    since_ms: u64,
) -> Result<BTreeMap<usize, Outcome>, String> {
    let consumer: BaseConsumer =
        crate::kafka::consumer_config(kafka, bootstrap, "wafka-idempotency-recovery")
            .create()
            .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + SCAN_TIME;
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut ends = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), left())
            .map_err(|e| format!("{topic}: {e}"))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        let mut starts = TopicPartitionList::new();
        for &p in &partitions {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, left())
                .map_err(|e| format!("{topic}/{p}: {e}"))?;
            if high > low {
                ends.insert((topic.clone(), p), high);
                let since = since_ms as i64 - CLOCK_SLACK_MS;
                let start = if kafka.is_embedded() {
                    Offset::Beginning
                } else {
                    Offset::Offset(since.max(0))
                };
                starts
                    .add_partition_offset(topic, p, start)
                    .map_err(|e| e.to_string())?;
            }
        }
        if kafka.is_embedded() {
            // The mock cluster has no time index: read from the beginning.
            for e in starts.elements() {
                assignment
                    .add_partition_offset(topic, e.partition(), Offset::Beginning)
                    .map_err(|e| e.to_string())?;
            }
            continue;
        }
        let found = consumer
            .offsets_for_times(starts, left())
            .map_err(|e| format!("{topic}: {e}"))?;
        for e in found.elements() {
            let end = ends[&(topic.clone(), e.partition())];
            let offset = match e.offset() {
                Offset::Offset(o) => o.min(end),
                _ => end,
            };
            if offset < end {
                assignment
                    .add_partition_offset(topic, e.partition(), Offset::Offset(offset))
                    .map_err(|e| e.to_string())?;
            } else {
                ends.remove(&(topic.clone(), e.partition()));
            }
        }
    }
    let mut found = BTreeMap::new();
    if ends.is_empty() {
        return Ok(found);
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    let prefix = format!("{scope}/");
    while !ends.is_empty() {
        if Instant::now() >= deadline {
            return Err(format!("not read to the end within {SCAN_TIME:?}"));
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.map_err(|e| e.to_string())?;
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        let index = message.headers().and_then(|headers| {
            headers
                .iter()
                .find(|h| h.key == HEADER)
                .and_then(|h| std::str::from_utf8(h.value?).ok()?.strip_prefix(&prefix))
                .and_then(|i| i.parse::<usize>().ok())
        });
        if let Some(index) = index {
            found.insert(
                index,
                Outcome::Delivered {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                },
            );
        }
        let key = (topic.to_owned(), partition);
        if ends.get(&key).is_some_and(|end| offset + 1 >= *end) {
            ends.remove(&key);
        }
    }
    Ok(found)
}
