//! Finding a pending key's records in Kafka: after a crash, or an acknowledgement that never
//! came, the records of a key may be in their partitions with no answer kept. Each carries
//! the header `wafka-idempotency-key: {scope}/{index}`; this reads the topics from shortly
//! before the key was claimed to their current end and collects those records.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::message::{Headers, Message};

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
    let mut found = BTreeMap::new();
    let prefix = format!("{scope}/");
    let since = since_ms as i64 - CLOCK_SLACK_MS;
    crate::kafka::scan::since(kafka, bootstrap, topics, since, SCAN_TIME, |message| {
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
                    topic: message.topic().to_owned(),
                    partition: message.partition(),
                    offset: message.offset(),
                },
            );
        }
    })?;
    Ok(found)
}
