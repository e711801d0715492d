//! `[tracing]`: W3C trace context on records, and spans over OTLP (docs/operations.md
//! "Tracing").

use serde::{Deserialize, Serialize};

use super::validate::{Failure, fail};

/// `[tracing]`: with it, every record carries a `traceparent`; with `otlp_endpoint`, spans are
/// exported too. Start-only.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// OTLP/HTTP endpoint spans go to, as `http://collector:4318` (`/v1/traces` is added).
    /// Default: none, the context is only passed on.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the spans. Default `wafka`.
    #[serde(default = "defaults::service_name")]
    pub service_name: String,
    /// Share of new traces recorded, 0 to 1; a request's `traceparent` flag is followed.
    /// Default 1.
    #[serde(default = "defaults::sample_ratio")]
    pub sample_ratio: f64,
    /// Spans waiting for export at most; past it new ones are dropped (and counted).
    /// Default 8192 (a span is about 300 bytes).
    #[serde(default = "defaults::max_queued_spans")]
    pub max_queued_spans: usize,
    /// Longest wait before a batch is sent, in milliseconds. Default 1000.
    #[serde(default = "defaults::export_interval_ms")]
    pub export_interval_ms: u64,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            otlp_endpoint: None,
            service_name: defaults::service_name(),
            sample_ratio: defaults::sample_ratio(),
            max_queued_spans: defaults::max_queued_spans(),
            export_interval_ms: defaults::export_interval_ms(),
        }
    }
}

mod defaults {
    pub fn service_name() -> String {
        "wafka".into()
    }
    pub fn sample_ratio() -> f64 {
        1.0
    }
    pub fn max_queued_spans() -> usize {
        8192
    }
    pub fn export_interval_ms() -> u64 {
        1000
    }
}

pub(super) fn check(config: &TracingConfig) -> Result<(), Failure> {
    if let Some(endpoint) = &config.otlp_endpoint {
        let uri: Option<http::Uri> = endpoint.parse().ok();
        let usable = uri.is_some_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.host().is_some()
                && u.query().is_none()
        });
        if !usable {
            return fail(
                "tracing.otlp_endpoint",
                "must be an http:// or https:// URL, as http://collector:4318",
            );
        }
    }
    if !(0.0..=1.0).contains(&config.sample_ratio) {
        return fail("tracing.sample_ratio", "must be between 0 and 1");
    }
    if !(1..=1_000_000).contains(&config.max_queued_spans) {
        return fail("tracing.max_queued_spans", "must be 1 to 1000000");
    }
    if !(10..=60_000).contains(&config.export_interval_ms) {
        return fail("tracing.export_interval_ms", "must be 10 to 60000");
    }
    if config.service_name.is_empty() {
        return fail("tracing.service_name", "must not be empty");
    }
    Ok(())
}
