//! The native producer: queue records, then await the broker's acknowledgements.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaResult;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};

use super::{StatsContext, classify, client_config};
use crate::config::KafkaConfig;
use crate::error::RequestError;
use crate::exchange::Record;
use crate::metrics::TopicMetrics;

/// Where the broker stored a record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivered {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
}

/// A record queued in the producer, waiting for its acknowledgement.
pub struct Pending {
    topic: String,
    partition: Option<i32>,
    future: DeliveryFuture,
    queued_at: Instant,
    metrics: Arc<TopicMetrics>,
}

/// The gateway's Kafka producer (librdkafka through rdkafka).
pub struct Producer {
    inner: FutureProducer<StatsContext>,
}

impl Producer {
    /// Creates the producer; it connects in the background.
    pub fn new(
        kafka: &KafkaConfig,
        bootstrap: &str,
        brokers_down: super::stats::BrokersDown,
    ) -> KafkaResult<Self> {
        let inner =
            client_config(kafka, bootstrap).create_with_context(StatsContext { brokers_down })?;
        Ok(Producer { inner })
    }

    /// Queues one record without waiting. Fails at once when the queue is full or librdkafka
    /// refuses the record locally (too large, unknown partition...).
    /// `metrics` are the handles of the record's topic.
    pub fn send(
        &self,
        record: &Record,
        metrics: Arc<TopicMetrics>,
    ) -> Result<Pending, RequestError> {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_ref()),
            });
        }
        let mut out: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&record.topic).headers(headers);
        if let Some(key) = &record.key {
            out = out.key(key.as_ref());
        }
        if let Some(value) = &record.value {
            out = out.payload(value.as_ref());
        }
        if let Some(partition) = record.partition {
            out = out.partition(partition);
        }
        if let Some(ts) = record.timestamp {
            out = out.timestamp(ts);
        }
        match self.inner.send_result(out) {
            Ok(future) => Ok(Pending {
                topic: record.topic.clone(),
                partition: record.partition,
                future,
                queued_at: Instant::now(),
                metrics,
            }),
            Err((e, _)) => Err(classify(&e, &record.topic, record.partition)),
        }
    }

    /// Waits for librdkafka to flush everything queued, up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> KafkaResult<()> {
        self.inner.flush(timeout)
    }

    /// Drops queued (and with `inflight`, sent) records; their delivery reports fail.
    pub fn purge(&self, flags: rdkafka::producer::PurgeConfig) {
        self.inner.purge(flags);
    }

    /// Records queued or in flight.
    pub fn in_flight(&self) -> i32 {
        self.inner.in_flight_count()
    }

    /// Asks the cluster for its metadata: the readiness check. Blocks up to `timeout`.
    pub fn check_reachable(&self, timeout: Duration) -> Result<usize, String> {
        use rdkafka::producer::Producer as _;
        self.inner
            .client()
            .fetch_metadata(None, timeout)
            .map(|m| m.brokers().len())
            .map_err(|e| e.to_string())
    }
}

impl Pending {
    /// Waits for the broker's answer. librdkafka always answers within `message.timeout.ms`.
    pub async fn delivered(self) -> Result<Delivered, RequestError> {
        let answer = self.future.await;
        self.metrics.duration.record(self.queued_at.elapsed());
        match answer {
            Ok(Ok(d)) => Ok(Delivered {
                topic: self.topic,
                partition: d.partition,
                offset: d.offset,
            }),
            Ok(Err((e, _))) => Err(classify(&e, &self.topic, self.partition)),
            Err(_canceled) => Err(RequestError::Internal(
                "the producer dropped the delivery report".into(),
            )),
        }
    }

    /// Destination topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's delivery metrics.
    pub fn metrics(&self) -> &Arc<TopicMetrics> {
        &self.metrics
    }
}
