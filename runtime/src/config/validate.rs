//! Checks that serde cannot express. Each failure names the field and the reason.

use std::collections::HashSet;

use super::Config;
use crate::router::PathPattern;

type Failure = (String, String);

pub(super) fn validate(config: &Config) -> Result<(), Failure> {
    let server = &config.server;
    if server.listen == server.admin_listen && server.listen.port() != 0 {
        return fail("server.admin_listen", "must differ from server.listen");
    }
    if server.max_body_bytes == 0 {
        return fail("server.max_body_bytes", "must be at least 1");
    }
    if server.filter_timeout_ms == 0 {
        return fail("server.filter_timeout_ms", "must be at least 1");
    }
    for (field, value) in [
        (
            "request_header_timeout_ms",
            server.request_header_timeout_ms,
        ),
        ("request_timeout_ms", server.request_timeout_ms),
        ("max_headers", server.max_headers as u64),
        ("max_uri_bytes", server.max_uri_bytes as u64),
        ("max_connections", server.max_connections as u64),
        ("max_h2_streams", u64::from(server.max_h2_streams)),
        ("max_filter_instances", server.max_filter_instances as u64),
    ] {
        if value == 0 {
            return fail(format!("server.{field}"), "must be at least 1");
        }
    }
    if server.max_header_bytes < 8192 {
        return fail("server.max_header_bytes", "must be at least 8192");
    }
    if server.max_records == 0 {
        return fail("server.max_records", "must be at least 1");
    }

    let kafka = &config.kafka;
    if kafka.brokers.trim().is_empty() {
        return fail(
            "kafka.brokers",
            "must be \"embedded\" or a list of host:port",
        );
    }
    if kafka.producer.contains_key("bootstrap.servers") {
        return fail(
            "kafka.producer.\"bootstrap.servers\"",
            "set kafka.brokers instead",
        );
    }
    if kafka.embedded.brokers < 1 {
        return fail("kafka.embedded.brokers", "must be at least 1");
    }
    if kafka.embedded.partitions < 1 {
        return fail("kafka.embedded.partitions", "must be at least 1");
    }

    if kafka.max_in_flight_records == 0 {
        return fail("kafka.max_in_flight_records", "must be at least 1");
    }
    if kafka.max_in_flight_bytes < server.max_output_bytes {
        return fail(
            "kafka.max_in_flight_bytes",
            format!(
                "must be at least server.max_output_bytes ({}), or the largest request could never be sent",
                server.max_output_bytes
            ),
        );
    }
    if let Some(topic) = &kafka.dead_letter_topic
        && let Err(reason) = check_topic(topic)
    {
        return fail("kafka.dead_letter_topic", reason);
    }
    let breaker = &kafka.breaker;
    for (field, value) in [
        ("failures", u64::from(breaker.failures)),
        ("stall_ms", breaker.stall_ms),
        ("cooldown_ms", breaker.cooldown_ms),
        ("probe_timeout_ms", breaker.probe_timeout_ms),
    ] {
        if value == 0 {
            return fail(format!("kafka.breaker.{field}"), "must be at least 1");
        }
    }
    if let Some(spool) = &config.spool {
        if spool.fsync_interval_ms == 0 {
            return fail("spool.fsync_interval_ms", "must be at least 1");
        }
        if spool.segment_bytes < 1 << 20 {
            return fail("spool.segment_bytes", "must be at least 1048576 (1 MiB)");
        }
        if spool.max_bytes < spool.segment_bytes.saturating_mul(2) {
            return fail(
                "spool.max_bytes",
                format!(
                    "must be at least twice spool.segment_bytes ({})",
                    spool.segment_bytes
                ),
            );
        }
    }

    for (i, topic) in kafka.embedded.topics.iter().enumerate() {
        if let Err(reason) = check_topic(topic) {
            return fail(format!("kafka.embedded.topics[{i}]"), reason);
        }
    }

    if config.routes.is_empty() {
        return fail("routes", "at least one [[routes]] entry is needed");
    }
    let mut names = HashSet::new();
    let mut patterns: Vec<(PathPattern, Vec<String>, usize)> = Vec::new();
    for (i, route) in config.routes.iter().enumerate() {
        let at = |field: &str| format!("routes[{i}].{field}");
        if !valid_name(&route.name) {
            return fail(
                at("name"),
                "use 1 to 64 characters of a-z, 0-9, '-' and '_'",
            );
        }
        if !names.insert(route.name.as_str()) {
            return fail(at("name"), format!("duplicate route name {:?}", route.name));
        }
        let pattern = route.path.clone();
        if route.methods.is_empty() {
            return fail(at("methods"), "list at least one method");
        }
        for m in &route.methods {
            if !matches!(m.as_str(), "POST" | "PUT" | "PATCH") {
                return fail(
                    at("methods"),
                    format!("{m:?} cannot carry records; use POST, PUT or PATCH"),
                );
            }
        }
        if let Some((_, _, j)) = patterns.iter().find(|(p, ms, _)| {
            p.same_shape(&pattern) && ms.iter().any(|m| route.methods.contains(m))
        }) {
            return fail(
                at("path"),
                format!("same path and method as routes[{j}], which would always win"),
            );
        }
        patterns.push((pattern, route.methods.clone(), i));
        if let Err(reason) = check_topic(&route.topic) {
            return fail(at("topic"), reason);
        }
        if route.spool_when_down && config.spool.is_none() {
            return fail(
                at("spool_when_down"),
                "needs a [spool] section with the directory to spool to",
            );
        }
        if route.spool_when_down && route.mode == super::Mode::Async {
            return fail(
                at("spool_when_down"),
                "only applies to sync routes; async routes always spool when [spool] is set",
            );
        }
        if route.filter_timeout_ms == Some(0) {
            return fail(at("filter_timeout_ms"), "must be at least 1");
        }
        for (k, filter) in route.filters.iter().enumerate() {
            if !valid_name(&filter.name) {
                return fail(
                    at(&format!("filters[{k}].name")),
                    "use 1 to 64 characters of a-z, 0-9, '-' and '_' (the file is NAME.wasm)",
                );
            }
        }
    }
    Ok(())
}

/// Kafka's own rule for topic names (shared with filters through the SDK).
pub(crate) fn check_topic(topic: &str) -> Result<(), String> {
    wafka_sdk::topic::check_name(topic)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn fail(field: impl Into<String>, reason: impl Into<String>) -> Result<(), Failure> {
    Err((field.into(), reason.into()))
}
