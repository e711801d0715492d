//! `[rest_proxy]`: the Confluent REST Proxy API (v2 and v3) on the public listener.

use serde::{Deserialize, Serialize};

use super::FilterRef;
use super::validate::{Failure, fail, valid_name};

/// Serves the REST Proxy API's paths beside the routes. Present (even empty) turns it on.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestProxyConfig {
    /// Prefix of every REST Proxy path, e.g. `/kafka`. Default none: `/topics/…`, `/v3/…` as
    /// REST Proxy serves them.
    #[serde(default)]
    pub path_prefix: String,
    /// Filters run on every REST Proxy call, with one record per topic the call touches (the
    /// records themselves when producing).
    #[serde(default)]
    pub filters: Vec<FilterRef>,
    /// The URL clients reach this gateway at, put in front of consumer instances' `base_uri`
    /// (`https://gw-1.example.com`). Default: from the request (`Host`, and TLS or not).
    #[serde(default)]
    pub advertised_url: Option<String>,
    /// Consumer instances held at once, across groups; past it 429 error 42901. Default 64.
    #[serde(default = "defaults::max_consumers")]
    pub max_consumers: usize,
    /// A consumer instance not used for this long is closed (REST Proxy's
    /// `consumer.instance.timeout.ms`). Default 300000 (5 minutes).
    #[serde(default = "defaults::consumer_idle_ms")]
    pub consumer_idle_ms: u64,
    /// Bytes each consumer instance may prefetch from Kafka and hold, charged to the memory
    /// budget while it lives. Default 1048576 (1 MiB).
    #[serde(default = "defaults::consumer_buffer_bytes")]
    pub consumer_buffer_bytes: usize,
    /// Allow creating and deleting topics (v3 `POST`/`DELETE …/topics`). Default false:
    /// 403 error 40301, since the public listener is often the internet.
    #[serde(default)]
    pub topic_admin: bool,
    /// Answer failures with their full text (librdkafka's words). Default false.
    #[serde(default)]
    pub error_details: bool,
    /// v2 produce (`POST /topics/{topic}[/partitions/{p}]`) takes `Idempotency-Key`, as a
    /// produce route's `idempotency`. Needs `[idempotency]`. Default: ignored.
    #[serde(default)]
    pub idempotency: Option<super::KeyUse>,
}

pub(super) mod defaults {
    pub fn max_consumers() -> usize {
        64
    }
    pub fn consumer_idle_ms() -> u64 {
        300_000
    }
    pub fn consumer_buffer_bytes() -> usize {
        1 << 20
    }
}

/// A `path_prefix` is empty or `/segment[/segment…]` without a trailing `/` or `{param}`.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    let ok = prefix.starts_with('/')
        && !prefix.ends_with('/')
        && !prefix.contains(['{', '}', '?', '#'])
        && !prefix.contains("//");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{prefix:?}: use \"\" or a path like \"/kafka\" (no trailing '/', no {{param}})"
        ))
    }
}

/// `[rest_proxy]`: a usable prefix, URL, filter names and bounds.
pub(super) fn check(rest_proxy: &RestProxyConfig) -> Result<(), Failure> {
    check_prefix(&rest_proxy.path_prefix)
        .map_err(|reason| ("rest_proxy.path_prefix".to_owned(), reason))?;
    if let Some(url) = &rest_proxy.advertised_url {
        let scheme = url.starts_with("http://") || url.starts_with("https://");
        if !scheme || url.ends_with('/') || url.parse::<http::Uri>().is_err() {
            return fail(
                "rest_proxy.advertised_url",
                format!("{url:?}: use http:// or https://host[:port][/path], no trailing '/'"),
            );
        }
    }
    for (field, value) in [
        ("max_consumers", rest_proxy.max_consumers as u64),
        ("consumer_idle_ms", rest_proxy.consumer_idle_ms),
        (
            "consumer_buffer_bytes",
            rest_proxy.consumer_buffer_bytes as u64,
        ),
    ] {
        if value == 0 {
            return fail(format!("rest_proxy.{field}"), "must be at least 1");
        }
    }
    for (k, filter) in rest_proxy.filters.iter().enumerate() {
        if !valid_name(&filter.name) {
            return fail(
                format!("rest_proxy.filters[{k}].name"),
                "use 1 to 64 characters of a-z, 0-9, '-' and '_' (the file is NAME.wasm)",
            );
        }
    }
    Ok(())
}
