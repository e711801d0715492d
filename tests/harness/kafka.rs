//! Reading records back with a real Kafka client.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// A record as read back from Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumed {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Timestamp, ms.
    pub timestamp: Option<i64>,
}

impl Consumed {
    /// The value as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.value.as_deref().expect("record has a value"))
            .expect("value is JSON")
    }
}

const TIMEOUT: Duration = Duration::from_secs(20);

fn consumer(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "wafka-tests")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("create consumer")
}

/// Reads the record at `partition`/`offset` of `topic`. Reads from the partition's start:
/// tansu 0.6 reports the high watermark as the last batch's base offset + 1, and serves
/// nothing past it, so an offset inside the last batch is only reachable from before it.
pub fn read_at(bootstrap: &str, topic: &str, partition: i32, offset: i64) -> Consumed {
    let c = consumer(bootstrap);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .expect("add partition");
    c.assign(&tpl).expect("assign");
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if let Some(msg) = c.poll(Duration::from_millis(100)) {
            let msg = msg.expect("consume");
            match msg.offset().cmp(&offset) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return consumed(&msg),
                std::cmp::Ordering::Greater => break,
            }
        }
    }
    panic!("no record at {topic}/{partition}@{offset} within {TIMEOUT:?}");
}

/// Reads every record now in `topic`: each partition up to its high watermark, plus the rest
/// of the batch holding the last offset (see `read_at` on tansu's watermarks).
pub fn read_all(bootstrap: &str, topic: &str) -> Vec<Consumed> {
    let c = consumer(bootstrap);
    let metadata = c
        .fetch_metadata(Some(topic), TIMEOUT)
        .expect("fetch metadata");
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut last = std::collections::HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let (low, high) = c.fetch_watermarks(topic, p, TIMEOUT).expect("watermarks");
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Offset(low))
                .expect("add partition");
            last.insert(p, high - 1);
        }
    }
    let mut out = Vec::new();
    if last.is_empty() {
        return out;
    }
    c.assign(&tpl).expect("assign");
    let deadline = Instant::now() + TIMEOUT;
    while !last.is_empty() {
        assert!(
            Instant::now() < deadline,
            "could not read {topic} to its end"
        );
        if let Some(msg) = c.poll(Duration::from_millis(100)) {
            let record = consumed(&msg.expect("consume"));
            if last
                .get(&record.partition)
                .is_some_and(|&end| record.offset >= end)
            {
                last.remove(&record.partition);
            }
            out.push(record);
        }
    }
    // Records of the same fetched batch are already here: take them without waiting.
    while let Some(msg) = c.poll(Duration::ZERO) {
        out.push(consumed(&msg.expect("consume")));
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out.dedup_by_key(|r| (r.partition, r.offset));
    out
}

/// Waits until `topic` holds at least `n` records and returns them all.
pub fn wait_for(bootstrap: &str, topic: &str, n: usize) -> Vec<Consumed> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let records = read_all(bootstrap, topic);
        if records.len() >= n {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} has {} records, expected {n}",
            records.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn consumed(msg: &BorrowedMessage<'_>) -> Consumed {
    let headers = msg
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    Consumed {
        topic: msg.topic().to_owned(),
        partition: msg.partition(),
        offset: msg.offset(),
        key: msg.key().map(<[u8]>::to_vec),
        value: msg.payload().map(<[u8]>::to_vec),
        headers,
        timestamp: msg.timestamp().to_millis(),
    }
}
