//! Reading topics from a point in time to their current end, to find records a crash or a
//! lost acknowledgement may have left there: an `Idempotency-Key`'s records, or a spooled
//! record's first write.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;

/// Reads every partition of `topics` from the first record at or after `since_ms` to the end
/// it has now, handing each record to `each`; fails past `within`. The embedded cluster keeps
/// no time index: its partitions are read from the beginning.
pub fn since(
    kafka: &KafkaConfig,
    bootstrap: &str,
    topics: &[String],
    since_ms: i64,
    within: Duration,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<(), String> {
    let consumer: BaseConsumer = crate::kafka::consumer_config(kafka, bootstrap, "wafka-scan")
        .create()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + within;
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
                let start = if kafka.is_embedded() {
                    Offset::Beginning
                } else {
                    Offset::Offset(since_ms.max(0))
                };
                starts
                    .add_partition_offset(topic, p, start)
                    .map_err(|e| e.to_string())?;
            }
        }
        if kafka.is_embedded() {
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
    if ends.is_empty() {
        return Ok(());
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    while !ends.is_empty() {
        if Instant::now() >= deadline {
            return Err(format!("not read to the end within {within:?}"));
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.map_err(|e| e.to_string())?;
        each(&message);
        let key = (message.topic().to_owned(), message.partition());
        if ends
            .get(&key)
            .is_some_and(|end| message.offset() + 1 >= *end)
        {
            ends.remove(&key);
        }
    }
    Ok(())
}
