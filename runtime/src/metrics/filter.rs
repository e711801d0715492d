//! Per-filter handles, registered once when a filter loads.

use super::{FILTER_CALLS, FILTER_DURATION, FILTER_INSTANCES};

/// Per-filter metric handles, registered once when the filter loads: the hot path only
/// increments them.
pub struct FilterMetrics {
    /// `outcome="ok"`: forwarded records.
    pub ok: metrics::Counter,
    /// `outcome="rejected"`: answered the client itself.
    pub rejected: metrics::Counter,
    /// `outcome="trapped"`: trapped or failed to instantiate.
    pub trapped: metrics::Counter,
    /// `outcome="timed_out"`: stopped at its deadline.
    pub timed_out: metrics::Counter,
    /// `outcome="invalid"`: returned an unusable answer.
    pub invalid: metrics::Counter,
    /// Duration of each invocation.
    pub duration: metrics::Histogram,
    /// Instances created for one request.
    pub fresh: metrics::Counter,
    /// Instances created to be kept between requests.
    pub pooled: metrics::Counter,
}

impl FilterMetrics {
    /// Registers the handles for `filter`.
    pub fn new(filter: &str) -> Self {
        let calls = |outcome: &'static str| metrics::counter!(FILTER_CALLS, "filter" => filter.to_owned(), "outcome" => outcome);
        FilterMetrics {
            ok: calls("ok"),
            rejected: calls("rejected"),
            trapped: calls("trapped"),
            timed_out: calls("timed_out"),
            invalid: calls("invalid"),
            duration: metrics::histogram!(FILTER_DURATION, "filter" => filter.to_owned()),
            fresh: metrics::counter!(FILTER_INSTANCES, "filter" => filter.to_owned(), "policy" => "fresh"),
            pooled: metrics::counter!(FILTER_INSTANCES, "filter" => filter.to_owned(), "policy" => "reuse"),
        }
    }
}
