//! librdkafka's own statistics (queue, broker round trips, retries, batch sizes) as metrics,
//! delivered every `statistics.interval.ms` through the client context.

use std::sync::Arc;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::{Statistics, Window};

/// Messages waiting in librdkafka's queues.
pub const QUEUE_MESSAGES: &str = "wafka_librdkafka_queue_messages";
/// Bytes waiting in librdkafka's queues.
pub const QUEUE_BYTES: &str = "wafka_librdkafka_queue_bytes";
/// Broker round-trip time, by `broker` and `stat` (`avg`, `p99`).
pub const BROKER_RTT: &str = "wafka_librdkafka_broker_rtt_seconds";
/// Produce requests retried, by `broker` (running total since start).
pub const BROKER_RETRIES: &str = "wafka_librdkafka_broker_retries_total";
/// Requests that failed to send, by `broker` (running total since start).
pub const BROKER_ERRORS: &str = "wafka_librdkafka_broker_errors_total";
/// Produce batch size in bytes, by `topic` and `stat` (`avg`, `p99`).
pub const BATCH_BYTES: &str = "wafka_librdkafka_batch_size_bytes";

/// The producer's client context: routes statistics to metrics, logs through `tracing`, and
/// says when librdkafka loses every broker (the delivery layer's breaker listens).
pub struct StatsContext {
    /// Hears when every broker is down, with librdkafka's reason.
    pub brokers_down: BrokersDown,
}

/// What hears that every broker is down.
pub type BrokersDown = Arc<dyn Fn(&str) + Send + Sync>;

impl ClientContext for StatsContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            (self.brokers_down)(reason);
        }
        tracing::error!(target: "librdkafka", error = %error, reason, "librdkafka error");
    }

    fn stats(&self, stats: Statistics) {
        metrics::gauge!(QUEUE_MESSAGES).set(stats.msg_cnt as f64);
        metrics::gauge!(QUEUE_BYTES).set(stats.msg_size as f64);
        for broker in stats.brokers.values().filter(|b| b.nodeid >= 0) {
            let name = broker.name.clone();
            if let Some(rtt) = &broker.rtt {
                set_window(BROKER_RTT, "broker", &name, rtt, 1e-6);
            }
            metrics::counter!(BROKER_RETRIES, "broker" => name.clone()).absolute(broker.txretries);
            metrics::counter!(BROKER_ERRORS, "broker" => name).absolute(broker.txerrs);
        }
        for topic in stats.topics.values() {
            set_window(BATCH_BYTES, "topic", &topic.topic, &topic.batchsize, 1.0);
        }
    }
}

/// Sets `avg` and `p99` of a window, scaled (librdkafka reports times in microseconds).
fn set_window(name: &'static str, label: &'static str, value: &str, w: &Window, scale: f64) {
    for (stat, v) in [("avg", w.avg), ("p99", w.p99)] {
        metrics::gauge!(name, label => value.to_owned(), "stat" => stat).set(v as f64 * scale);
    }
}
