//! What of the spool's backlog Kafka already has. A record is spooled after it was sent when
//! its delivery failed or a shutdown cut it short, and it may have reached its partition all
//! the same (a paused broker answers late, or never). Before replaying, the backlog's records
//! are fingerprinted (topic, key, value and the `x-request-id` every produced record carries)
//! and their topics read from before the oldest of them was sent; a record found there is not
//! written again.

use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use rdkafka::message::{Headers, Message};

use super::spool::Spool;
use crate::config::KafkaConfig;
use crate::exchange::Record;

/// The request-id header the pipeline puts on every record.
const REQUEST_ID: &str = "x-request-id";
/// Longest look into Kafka before a replay; past it, the replay goes on without (at least once).
const SCAN_TIME: Duration = Duration::from_secs(30);
/// Records read from the backlog at a time while fingerprinting.
const READ_BATCH: usize = 1000;

/// Where to look: the cluster the producer writes to, and how long a record may have been on
/// its way before it was spooled (`message.timeout.ms`).
#[derive(Clone)]
pub struct Lookup {
    /// `[kafka]`, for the consumer that looks.
    pub kafka: KafkaConfig,
    /// Brokers (the embedded cluster's when embedded).
    pub bootstrap: String,
}

/// Records of the backlog found in Kafka, by fingerprint, each match used once.
#[derive(Default)]
pub(super) struct Written {
    found: HashMap<u64, u32>,
}

impl Written {
    /// Whether `record` is already in Kafka; a match is used up.
    pub fn take(&mut self, record: &Record) -> bool {
        let Some(print) = of(record) else {
            return false;
        };
        match self.found.get_mut(&print) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Reads the backlog `from..end` and looks for its records in Kafka. Blocking.
    pub fn find(lookup: &Lookup, spool: &Spool, from: u64, end: u64) -> Result<Written, String> {
        let mut wanted: HashMap<u64, u32> = HashMap::new();
        let mut topics = BTreeSet::new();
        let mut oldest = i64::MAX;
        let mut reader = spool.reader();
        let mut at = from;
        while at < end {
            let batch = reader
                .read(at, end, READ_BATCH)
                .map_err(|e| e.to_string())?;
            let Some((last, _)) = batch.last() else { break };
            at = last + 1;
            for (_, record) in &batch {
                let Some(print) = of(record) else {
                    continue;
                };
                *wanted.entry(print).or_default() += 1;
                topics.insert(record.topic.clone());
                oldest = oldest.min(record.timestamp.unwrap_or(i64::MAX));
            }
        }
        if wanted.is_empty() {
            return Ok(Written::default());
        }
        // A record is stamped when it is spooled; its first send was at most
        // `message.timeout.ms` before, and clocks differ by a few seconds.
        let timeout_ms = lookup
            .kafka
            .producer
            .get("message.timeout.ms")
            .and_then(|v| v.to_string().trim_matches('"').parse::<i64>().ok())
            .unwrap_or(30_000);
        let since = if oldest == i64::MAX {
            0
        } else {
            oldest - timeout_ms - 5_000
        };
        let topics: Vec<String> = topics.into_iter().collect();
        let mut found: HashMap<u64, u32> = HashMap::new();
        let mut read = 0u64;
        crate::kafka::scan::since(
            &lookup.kafka,
            &lookup.bootstrap,
            &topics,
            since,
            SCAN_TIME,
            |message| {
                read += 1;
                let id = message.headers().and_then(|headers| {
                    headers
                        .iter()
                        .find(|h| h.key == REQUEST_ID)
                        .and_then(|h| h.value)
                });
                let Some(print) =
                    fingerprint(message.topic(), message.key(), message.payload(), id)
                else {
                    return;
                };
                if let Some(&limit) = wanted.get(&print) {
                    let n = found.entry(print).or_default();
                    *n = (*n + 1).min(limit);
                }
            },
        )?;
        tracing::info!(
            backlog = end - from,
            since_ms = since,
            read,
            found = found.values().sum::<u32>(),
            "looked for the spool's records in Kafka before replaying them"
        );
        Ok(Written { found })
    }
}

/// A spooled record's fingerprint, as [`fingerprint`] takes it from a record in Kafka.
fn of(record: &Record) -> Option<u64> {
    let id = record
        .headers
        .iter()
        .find(|(name, _)| name == REQUEST_ID)
        .map(|(_, v)| v.as_ref());
    fingerprint(
        &record.topic,
        record.key.as_deref(),
        record.value.as_deref(),
        id,
    )
}

/// Records without a request id (none the gateway produced) are never matched.
fn fingerprint(
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    id: Option<&[u8]>,
) -> Option<u64> {
    let id = id?;
    let mut h = DefaultHasher::new();
    (topic, key, value, id).hash(&mut h);
    Some(h.finish())
}
