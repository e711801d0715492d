//! Per-read-route handles, registered when the route is built.

use metrics::{Counter, Gauge, Histogram};

use super::{READ_BYTES, READ_FETCHES, READ_LAG, READ_RECORDS, READ_STREAMS};

/// What a read route sends, and to how many readers.
pub struct ReadMetrics {
    /// Server-sent-event streams open now.
    pub streams: Gauge,
    /// Long-poll fetches waiting now.
    pub fetches: Gauge,
    /// Records sent.
    pub records: Counter,
    /// Bytes of answers and events sent.
    pub bytes: Counter,
    /// Records between a reader's position and the log end, when it is sent a batch.
    pub lag: Histogram,
}

impl ReadMetrics {
    /// Registers the handles of read route `route`.
    pub fn new(route: &str) -> Self {
        let route = route.to_owned();
        ReadMetrics {
            streams: metrics::gauge!(READ_STREAMS, "route" => route.clone()),
            fetches: metrics::gauge!(READ_FETCHES, "route" => route.clone()),
            records: metrics::counter!(READ_RECORDS, "route" => route.clone()),
            bytes: metrics::counter!(READ_BYTES, "route" => route.clone()),
            lag: metrics::histogram!(READ_LAG, "route" => route),
        }
    }
}
