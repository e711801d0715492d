//! `routes[].read`: a route that reads Kafka for HTTP clients instead of producing.

use super::validate::{Failure, check_topic};
use serde::{Deserialize, Serialize};

/// How a read route serves records. Its presence makes the route a read route (GET): the
/// route's `topic` is what it reads, and may name path parameters (`events.{source}`) that the
/// route's filters may check or change.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadConfig {
    /// How a record's value is shown: `json` (default: the value as JSON when it is JSON,
    /// else base64 with `"value_encoding":"base64"`), `text` (UTF-8, else base64) or `base64`.
    #[serde(default)]
    pub format: ValueFormat,
    /// Partitions to read. Default: all of the topic's partitions.
    #[serde(default)]
    pub partitions: Option<Vec<i32>>,
    /// Where a client without a position starts: `latest` (default) or `earliest`.
    #[serde(default = "defaults::from")]
    pub default_from: String,
    /// Most records one fetch answers (a client may ask for fewer). Default 500.
    #[serde(default = "defaults::max_records")]
    pub max_records: usize,
    /// Most bytes of record data one fetch answers. Default 1048576 (1 MiB).
    #[serde(default = "defaults::max_bytes")]
    pub max_bytes: usize,
    /// Longest a fetch waits for a record, in milliseconds (a client may ask for less).
    /// Default 30000.
    #[serde(default = "defaults::max_wait_ms")]
    pub max_wait_ms: u64,
    /// Most server-sent-event streams open on this route at once; past it 503
    /// `too_many_readers`. Default 1000.
    #[serde(default = "defaults::max_streams")]
    pub max_streams: usize,
    /// Most long-poll fetches waiting on this route at once; past it 503 `too_many_readers`.
    /// Default 1000.
    #[serde(default = "defaults::max_fetches")]
    pub max_fetches: usize,
    /// Idle time after which a stream sends a heartbeat comment, in milliseconds. Default 15000.
    #[serde(default = "defaults::heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// A stream ends cleanly after this many milliseconds, and the client (a browser's
    /// `EventSource`, say) reconnects with `Last-Event-ID` and goes on, on any gateway: so load
    /// balancers spread long-lived streams again. Default 0: no limit.
    #[serde(default)]
    pub max_stream_ms: u64,
    /// Origins whose pages may read this route from a browser (CORS); `["*"]` for any.
    /// Default none.
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

/// How a read route shows record values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueFormat {
    /// JSON values as JSON; others as base64.
    #[default]
    Json,
    /// UTF-8 values as strings; others as base64.
    Text,
    /// Every value as base64.
    Base64,
}

mod defaults {
    pub fn from() -> String {
        "latest".into()
    }
    pub fn max_records() -> usize {
        500
    }
    pub fn max_bytes() -> usize {
        1 << 20
    }
    pub fn max_wait_ms() -> u64 {
        30_000
    }
    pub fn max_streams() -> usize {
        1000
    }
    pub fn max_fetches() -> usize {
        1000
    }
    pub fn heartbeat_ms() -> u64 {
        15_000
    }
}

/// A read route: its topic template names only path parameters, and its limits are usable.
pub(super) fn check(route: &super::RouteConfig, read: &ReadConfig) -> Result<(), Failure> {
    if route.mode != super::Mode::Sync
        || route.body != super::BodyKind::Raw
        || route.spool_when_down
    {
        return Err((
            "read".into(),
            "mode, body and spool_when_down apply to produce routes only".into(),
        ));
    }
    let params = route.path.params();
    let mut fixed = String::new();
    let mut rest = route.topic.as_str();
    while let Some(open) = rest.find('{') {
        fixed.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err((
                "topic".into(),
                format!("{:?} has an unclosed {{", route.topic),
            ));
        };
        let name = &rest[open + 1..open + close];
        if !params.contains(&name) {
            return Err((
                "topic".into(),
                format!("{{{name}}} is not a parameter of the route's path"),
            ));
        }
        fixed.push('x');
        rest = &rest[open + close + 1..];
    }
    fixed.push_str(rest);
    check_topic(&fixed).map_err(|reason| ("topic".into(), reason))?;
    if !matches!(read.default_from.as_str(), "latest" | "earliest") {
        return Err((
            "read.default_from".into(),
            "use \"latest\" or \"earliest\"".into(),
        ));
    }
    for (field, value) in [
        ("max_records", read.max_records as u64),
        ("max_bytes", read.max_bytes as u64),
        ("max_wait_ms", read.max_wait_ms),
        ("max_streams", read.max_streams as u64),
        ("max_fetches", read.max_fetches as u64),
        ("heartbeat_ms", read.heartbeat_ms),
    ] {
        if value == 0 {
            return Err((format!("read.{field}"), "must be at least 1".into()));
        }
    }
    if let Some(partitions) = &read.partitions
        && (partitions.is_empty() || partitions.iter().any(|p| *p < 0))
    {
        return Err((
            "read.partitions".into(),
            "list partition numbers, 0 or more".into(),
        ));
    }
    Ok(())
}
