//! Metric names, their meaning, and the Prometheus recorder. Labels are bounded: route and
//! filter names, topics, status codes and error codes; never a path, key or address.

mod filter;
mod read;
mod route;
mod topic;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use filter::FilterMetrics;
pub use read::ReadMetrics;
pub use route::RouteMetrics;
pub use topic::{MAX_TOPICS, TopicMetrics, Topics};

/// Requests answered, by `route` and `status`.
pub const HTTP_REQUESTS: &str = "wafka_http_requests_total";
/// Time from request received to response ready, by `route`.
pub const HTTP_DURATION: &str = "wafka_http_request_duration_seconds";
/// Request body bytes received, by `route`.
pub const HTTP_BODY_BYTES: &str = "wafka_http_request_body_bytes_total";
/// Failed requests, by `route`, `code` (the JSON error code) and `blame`.
pub const HTTP_ERRORS: &str = "wafka_http_request_errors_total";
/// Streamed answers (server-sent events, REST Proxy v3 record streams) that ended, by `route`
/// and `ended` (`completed`, `client_gone`, `failed`, `max_stream_ms`, `shutdown`,
/// `request_timeout`); their requests are counted and logged at that moment.
pub const HTTP_STREAMS_ENDED: &str = "wafka_http_streams_ended_total";
/// Records acknowledged by Kafka, by `topic`.
pub const RECORDS_DELIVERED: &str = "wafka_kafka_records_delivered_total";
/// Records Kafka did not take, by `topic` and `code`.
pub const DELIVERY_ERRORS: &str = "wafka_kafka_delivery_errors_total";
/// Time from queueing a record to the broker's acknowledgement, by `topic`.
pub const DELIVERY_DURATION: &str = "wafka_kafka_delivery_duration_seconds";
/// Records queued in the producer or in flight to the broker (sampled at scrape).
pub const PRODUCER_IN_FLIGHT: &str = "wafka_kafka_producer_in_flight_records";
/// Records held in flight against `kafka.max_in_flight_records`.
pub const IN_FLIGHT_RECORDS: &str = "wafka_in_flight_records";
/// Bytes held in flight against `kafka.max_in_flight_bytes`.
pub const IN_FLIGHT_BYTES: &str = "wafka_in_flight_bytes";
/// Circuit breaker state: 0 closed, 1 open, 2 probing.
pub const BREAKER_STATE: &str = "wafka_kafka_breaker_state";
/// Times the circuit breaker opened, by `reason` (`failures`, `stall`, `brokers_down`).
pub const BREAKER_OPENED: &str = "wafka_kafka_breaker_opened_total";
/// Records accepted (answered 2xx) and then lost for good, by `topic` and `code`: only when no
/// dead-letter topic is set or it failed too.
pub const RECORDS_DROPPED: &str = "wafka_records_dropped_total";
/// Records written to the dead-letter topic, by original `topic` and `code`.
pub const DEAD_LETTERED: &str = "wafka_records_dead_lettered_total";
/// Records written to the spool.
pub const SPOOL_APPENDED: &str = "wafka_spool_appended_records_total";
/// Spooled records delivered to Kafka.
pub const SPOOL_REPLAYED: &str = "wafka_spool_replayed_records_total";
/// Trace spans by `outcome`: `exported`, `queue_full`, `export_failed`.
pub const TRACE_SPANS: &str = "wafka_trace_spans_total";
/// Spooled records found already in Kafka before their replay: not written again.
pub const SPOOL_ALREADY_WRITTEN: &str = "wafka_spool_already_written_records_total";
/// Records in the spool not yet delivered.
pub const SPOOL_RECORDS: &str = "wafka_spool_records";
/// Bytes the spool holds on disk.
pub const SPOOL_BYTES: &str = "wafka_spool_bytes";
/// Filter invocations, by `filter` and `outcome` (`ok`, `rejected`, `trapped`, `timed_out`,
/// `invalid`).
pub const FILTER_CALLS: &str = "wafka_filter_invocations_total";
/// Time one filter took for one request (instantiation included), by `filter`.
pub const FILTER_DURATION: &str = "wafka_filter_duration_seconds";
/// Filter instances created, by `filter` and `policy` (`fresh`: one per request; `reuse`: kept
/// between requests when the route opts in).
pub const FILTER_INSTANCES: &str = "wafka_filter_instances_created_total";
/// Reused filter instances retired, by `filter` and `reason` (`failed`, `kept_handle`,
/// `stderr`, `memory`, `requests`, `age`, `idle_full`, `reload`).
pub const FILTER_INSTANCES_RETIRED: &str = "wafka_filter_instances_retired_total";
/// Reused filter instances waiting for a request, across routes.
pub const FILTER_IDLE_INSTANCES: &str = "wafka_filter_idle_instances";
/// Server-sent-event streams open, by `route`.
pub const READ_STREAMS: &str = "wafka_read_open_streams";
/// Long-poll fetches waiting for records, by `route`.
pub const READ_FETCHES: &str = "wafka_read_waiting_fetches";
/// Records sent to readers, by `route`.
pub const READ_RECORDS: &str = "wafka_read_records_total";
/// Bytes of answers and events sent to readers, by `route`.
pub const READ_BYTES: &str = "wafka_read_sent_bytes_total";
/// Records between a reader's position and the log end when it is sent a batch, by `route`.
pub const READ_LAG: &str = "wafka_read_lag_records";
/// Catch-up reads, by `consumer`: `parked` (continued on the consumer left where the client
/// stopped, with its prefetch) or `assigned` (a consumer assigned at the client's position).
pub const READ_CATCH_UPS: &str = "wafka_read_catch_ups_total";
/// Offsets a catch-up read asked for and Kafka did not return: compacted away, aborted
/// transactions, or a broker that answers a fetch from inside a batch with the next batch.
pub const READ_SKIPPED: &str = "wafka_read_skipped_offsets_total";
/// Bytes the shared per-topic fetchers hold for readers close behind the log end (sampled at
/// scrape).
pub const READ_BUFFER: &str = "wafka_read_buffer_bytes";
/// The memory budget, `server.max_memory_bytes`.
pub const MEMORY_BUDGET: &str = "wafka_memory_budget_bytes";
/// Bytes held against the budget, by `use` (`bodies`, `in_flight`, `filter_output`, `reads`,
/// `connections`, `consumers`).
pub const MEMORY_USED: &str = "wafka_memory_used_bytes";
/// Overload actions taken, by `action` (`paused_body`, `paused_accept`, `refused`, `shed`).
pub const OVERLOAD_ACTIONS: &str = "wafka_overload_actions_total";
/// REST Proxy consumer instances held.
pub const REST_CONSUMERS: &str = "wafka_rest_proxy_consumers";
/// Signing keys an identity provider publishes, by `provider`.
pub const IDENTITY_KEYS: &str = "wafka_identity_provider_keys";
/// Seconds since a provider's keys were last fetched, by `provider` (sampled at scrape).
pub const IDENTITY_KEYS_AGE: &str = "wafka_identity_provider_keys_age_seconds";
/// Key fetches, by `provider`, `reason` (`schedule`, `unknown_key`) and `result` (`ok`,
/// `error`).
pub const IDENTITY_FETCHES: &str = "wafka_identity_provider_fetches_total";
/// Token introspections, by `provider` and `result` (`active`, `inactive`, `cached`, `error`,
/// `refused`).
pub const IDENTITY_INTROSPECTIONS: &str = "wafka_identity_introspections_total";
/// Live filter versions: 1 for the `sha256` (first 12 hex digits) each `filter` serves now, 0
/// for versions it served before in this process.
pub const FILTER_VERSION: &str = "wafka_filter_version_info";
/// Schemas and subjects the registry holds (sampled at scrape), by `kind`
/// (`schemas`, `subjects`).
pub const SCHEMA_REGISTRY_ENTRIES: &str = "wafka_schema_registry_entries";
/// Values encoded by routes' `key_schema` / `value_schema` and decoded by read routes, by
/// `direction` (`encode`, `decode`) and `result` (`ok`, `mismatch`, `no_schema`, `error`).
pub const SCHEMA_VALUES: &str = "wafka_schema_values_total";
/// Exchanges with an external registry (`schema_registry.url`), by `what` (`subject`, `id`,
/// `register`) and `result` (`ok`, `not_found`, `error`).
pub const SCHEMA_REGISTRY_FETCHES: &str = "wafka_schema_registry_fetches_total";
/// Metadata and administrative requests the gateway sent to Kafka, by `request` (`metadata`,
/// `cluster_id`, `create_topic`, `delete_topic`): REST Proxy metadata and topic
/// administration, produce's topic checks, a read route's first look at a topic.
pub const KAFKA_ADMIN_REQUESTS: &str = "wafka_kafka_admin_requests_total";
/// Requests with an `Idempotency-Key`, by `outcome`: `new`, `replayed`, `recovered` (a
/// pending key settled from Kafka), or the error code that refused it.
pub const IDEMPOTENCY_REQUESTS: &str = "wafka_idempotency_requests_total";
/// Keys remembered, against `idempotency.max_keys`.
pub const IDEMPOTENCY_KEYS: &str = "wafka_idempotency_keys";
/// Bytes of kept answers, against `idempotency.max_bytes`.
pub const IDEMPOTENCY_BYTES: &str = "wafka_idempotency_bytes";
/// Records written to the idempotency topic; each holds the states queued meanwhile.
pub const IDEMPOTENCY_WRITES: &str = "wafka_idempotency_writes_total";
/// Key states written (claims, answers, releases): over `IDEMPOTENCY_WRITES`, states a record.
pub const IDEMPOTENCY_STATES: &str = "wafka_idempotency_states_written_total";

/// Counts a request with an `Idempotency-Key`.
pub fn idempotency_outcome(outcome: &'static str) {
    metrics::counter!(IDEMPOTENCY_REQUESTS, "outcome" => outcome).increment(1);
}

/// Counts one record written to the idempotency topic and the states it held.
pub fn idempotency_write(states: usize) {
    metrics::counter!(IDEMPOTENCY_WRITES).increment(1);
    metrics::counter!(IDEMPOTENCY_STATES).increment(states as u64);
}

/// Sets the keys' gauges.
pub fn idempotency_keys(keys: usize, bytes: usize) {
    metrics::gauge!(IDEMPOTENCY_KEYS).set(keys as f64);
    metrics::gauge!(IDEMPOTENCY_BYTES).set(bytes as f64);
}

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histogram samples are folded into their buckets.
const UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds histogram samples into buckets every few seconds until `stop`: the recorder keeps each
/// raw sample until then, so without a scrape they would pile up (8 bytes per sample).
pub async fn upkeep(handle: PrometheusHandle, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(UPKEEP);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticks.tick() => handle.run_upkeep(),
        }
    }
}

/// Installs the process-wide recorder once and returns the handle that renders `/metrics`.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // A recorder set by an embedding program wins; ours then renders nothing.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "Requests answered, by route and status");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from request received to response ready"
    );
    describe_counter!(HTTP_BODY_BYTES, Unit::Bytes, "Request body bytes received");
    describe_counter!(
        HTTP_ERRORS,
        "Failed requests, by route, error code and blame"
    );
    describe_counter!(RECORDS_DELIVERED, "Records acknowledged by Kafka, by topic");
    describe_counter!(
        DELIVERY_ERRORS,
        "Records Kafka did not take, by topic and code"
    );
}
