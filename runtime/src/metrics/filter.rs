//! Per-filter handles, registered once when a filter loads, and the live-versions gauge.

use super::{FILTER_CALLS, FILTER_DURATION, FILTER_VERSION};

/// Marks the filters of `live` as serving and those only in `previous` as retired.
pub fn publish_versions(
    previous: Option<&crate::snapshot::Snapshot>,
    live: &crate::snapshot::Snapshot,
) {
    let version = |f: &crate::filter::LoadedFilter| {
        let sha = f.sha256.get(..12).unwrap_or(&f.sha256).to_owned();
        metrics::gauge!(FILTER_VERSION, "filter" => f.name.clone(), "sha256" => sha)
    };
    for old in previous.iter().flat_map(|s| s.filters.values()) {
        if live
            .filters
            .get(&old.name)
            .is_none_or(|new| new.sha256 != old.sha256)
        {
            version(old).set(0.0);
        }
    }
    for filter in live.filters.values() {
        version(filter).set(1.0);
    }
}

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
        }
    }
}
