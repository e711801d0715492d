//! Checks that serde cannot express. Each failure names the field and the reason.

use std::collections::HashSet;

use super::Config;
use crate::router::PathPattern;

/// A field's config path and what is wrong with it.
pub(super) type Failure = (String, String);

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
    let chains = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("routes[{i}]"), &r.filters));
    let chains = chains
        .chain(
            config
                .rest_proxy
                .iter()
                .map(|r| ("rest_proxy".to_owned(), &r.filters)),
        )
        .chain(
            config
                .schema_registry
                .iter()
                .map(|r| ("schema_registry".to_owned(), &r.filters)),
        );
    for (owner, filters) in chains {
        for (k, filter) in filters.iter().enumerate() {
            if let Some(reuse) = &filter.reuse {
                reuse_limits(&format!("{owner}.filters[{k}].reuse"), reuse)?;
            }
        }
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
        ("max_streams", server.max_streams as u64),
        ("max_fetches", server.max_fetches as u64),
        ("write_timeout_ms", server.write_timeout_ms),
    ] {
        if value == 0 {
            return fail(format!("server.{field}"), "must be at least 1");
        }
    }
    if let Some(budget) = server.max_memory_bytes {
        let least = (server.max_body_bytes as usize)
            .saturating_mul(4)
            .max(server.max_output_bytes);
        if budget < least {
            return fail(
                "server.max_memory_bytes",
                format!(
                    "must be at least {least} (4 × server.max_body_bytes and server.max_output_bytes), \
                     or the largest request could not be served"
                ),
            );
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
    for key in ["bootstrap.servers", "group.id"] {
        if kafka.consumer.contains_key(key) {
            return fail(
                format!("kafka.consumer.\"{key}\""),
                "set by the gateway (kafka.brokers; the group a client names)",
            );
        }
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

    // A gateway that only serves the registry (or REST Proxy) is a gateway too.
    let serves_something = !config.routes.is_empty()
        || config.rest_proxy.is_some()
        || config.schema_registry.is_some();
    if !serves_something {
        return fail(
            "routes",
            "at least one [[routes]] entry (or [rest_proxy], or [schema_registry]) is needed",
        );
    }
    let mut names = HashSet::new();
    let mut patterns: Vec<(PathPattern, Vec<String>, usize)> = Vec::new();
    super::identity::check(&config.identity_providers)?;
    if let Some(registry) = &config.schema_registry {
        super::schema_registry::check(registry, server)?;
    }
    if let Some(rest_proxy) = &config.rest_proxy {
        super::rest_proxy::check(rest_proxy)?;
        if let Some(keys) = &rest_proxy.idempotency {
            super::idempotency::check_use(
                "rest_proxy.idempotency",
                keys,
                config.idempotency.as_ref(),
            )?;
        }
    }
    if let Some(idempotency) = &config.idempotency {
        super::idempotency::check(idempotency)?;
    }
    if let Some(tracing) = &config.tracing {
        super::traces::check(tracing)?;
    }
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
        let methods = route.methods();
        if methods.is_empty() {
            return fail(at("methods"), "list at least one method");
        }
        // What the route answers: its path, and for a read route `{path}/offsets` too.
        let mut served = vec![(route.path.clone(), methods.clone())];
        match &route.read {
            None => {
                for m in &methods {
                    if !matches!(m.as_str(), "POST" | "PUT" | "PATCH") {
                        return fail(
                            at("methods"),
                            format!("{m:?} cannot carry records; use POST, PUT or PATCH"),
                        );
                    }
                }
                if let Err(reason) = check_topic(&route.topic) {
                    return fail(at("topic"), reason);
                }
            }
            Some(read) => {
                if methods != ["GET"] {
                    return fail(at("methods"), "a read route answers GET only");
                }
                super::read::check(route, read).map_err(|(field, reason)| (at(&field), reason))?;
                let offsets = PathPattern::parse(&format!("{}/offsets", route.path))
                    .map_err(|e| (at("path"), e))?;
                served.push((offsets, vec!["GET".into(), "POST".into()]));
            }
        }
        for (pattern, methods) in served {
            if let Some((_, _, j)) = patterns
                .iter()
                .find(|(p, ms, _)| p.same_shape(&pattern) && ms.iter().any(|m| methods.contains(m)))
            {
                return fail(
                    at("path"),
                    format!("same path and method as routes[{j}], which would always win"),
                );
            }
            patterns.push((pattern, methods, i));
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
        if let Some(keys) = &route.idempotency {
            if route.read.is_some() {
                return fail(at("idempotency"), "applies to produce routes only");
            }
            super::idempotency::check_use(&at("idempotency"), keys, config.idempotency.as_ref())?;
        }
        if route.filter_timeout_ms == Some(0) {
            return fail(at("filter_timeout_ms"), "must be at least 1");
        }
        for (field, schema) in [
            ("key_schema", &route.key_schema),
            ("value_schema", &route.value_schema),
        ] {
            let Some(schema) = schema else { continue };
            if config.schema_registry.is_none() {
                return fail(at(field), "needs a [schema_registry] section");
            }
            if route.read.is_some() {
                return fail(
                    at(field),
                    "is for produce routes; read routes decode registry-encoded values by themselves",
                );
            }
            if schema.subject.is_some() && schema.record.is_some() {
                return fail(at(field), "set subject or record, not both");
            }
            if [&schema.subject, &schema.record]
                .into_iter()
                .flatten()
                .any(|s| s.trim().is_empty())
            {
                return fail(at(field), "an empty subject names no schema");
            }
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

fn reuse_limits(field: &str, reuse: &super::ReuseConfig) -> Result<(), Failure> {
    if reuse.max_requests == 0 {
        return fail(format!("{field}.max_requests"), "must be at least 1");
    }
    if reuse.max_age_ms == 0 {
        return fail(format!("{field}.max_age_ms"), "must be at least 1");
    }
    if !(1..=64).contains(&reuse.max_memory_mib) {
        return fail(
            format!("{field}.max_memory_mib"),
            "must be 1 to 64 (an instance's memory never grows past 64 MiB)",
        );
    }
    Ok(())
}

pub(super) fn http_url(url: &str) -> bool {
    let parsed = url.parse::<http::Uri>();
    (url.starts_with("http://") || url.starts_with("https://"))
        && parsed.is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()))
}

/// Kafka's own rule for topic names (shared with filters through the SDK).
pub(crate) fn check_topic(topic: &str) -> Result<(), String> {
    wafka_sdk::topic::check_name(topic)
}

pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub(super) fn fail(field: impl Into<String>, reason: impl Into<String>) -> Result<(), Failure> {
    Err((field.into(), reason.into()))
}
