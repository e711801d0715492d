//! `[idempotency]` and a produce route's `idempotency`: the `Idempotency-Key` contract
//! (docs/delivery.md "Retries: Idempotency-Key").

use serde::{Deserialize, Serialize};

use super::validate::{Failure, fail};

/// `[idempotency]`: where keys and their answers are kept, and the bounds. Start-only.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// The compacted topic every gateway of the cluster follows and writes keys to. Default
    /// `_wafka_idempotency`.
    #[serde(default = "defaults::topic")]
    pub topic: String,
    /// How long an answered key is remembered, in milliseconds. Default 86400000 (24 h).
    #[serde(default = "defaults::window_ms")]
    pub window_ms: u64,
    /// Keys remembered at once, gateway-wide; past it a new key gets 503
    /// `idempotency_keys_full`. Default 100000.
    #[serde(default = "defaults::max_keys")]
    pub max_keys: usize,
    /// Bytes of kept answers at once (about 100 bytes per key and 40 per record); past it a
    /// new key gets 503 `idempotency_keys_full`. Default 67108864 (64 MiB).
    #[serde(default = "defaults::max_bytes")]
    pub max_bytes: usize,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            topic: defaults::topic(),
            window_ms: defaults::window_ms(),
            max_keys: defaults::max_keys(),
            max_bytes: defaults::max_bytes(),
        }
    }
}

/// How a produce route (or `[rest_proxy]`) takes `Idempotency-Key`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyUse {
    /// A request without the header gets 400 `idempotency_key_missing`. Default false: a
    /// request without it is produced as usual.
    #[serde(default)]
    pub required: bool,
    /// Record headers the route's filters set to say who the caller is (`x-api-key-id`, a
    /// `claims_to_headers` target): keys are scoped by their values on the first record, with
    /// the route and the TLS client subject, so one caller never sees another's answer. A
    /// header listed here that the filters did not set gets 403 `idempotency_identity_missing`.
    #[serde(default)]
    pub identity: Vec<String>,
}

mod defaults {
    pub fn topic() -> String {
        "_wafka_idempotency".into()
    }
    pub fn window_ms() -> u64 {
        86_400_000
    }
    pub fn max_keys() -> usize {
        100_000
    }
    pub fn max_bytes() -> usize {
        64 << 20
    }
}

/// `[idempotency]`: a usable topic and bounds.
pub(super) fn check(config: &IdempotencyConfig) -> Result<(), Failure> {
    super::validate::check_topic(&config.topic)
        .map_err(|reason| ("idempotency.topic".to_owned(), reason))?;
    if !(1_000..=30 * 86_400_000).contains(&config.window_ms) {
        return fail(
            "idempotency.window_ms",
            "must be 1000 (1 s) to 2592000000 (30 days)",
        );
    }
    if !(1..=10_000_000).contains(&config.max_keys) {
        return fail("idempotency.max_keys", "must be 1 to 10000000");
    }
    if config.max_bytes < 1 << 20 {
        return fail("idempotency.max_bytes", "must be at least 1048576 (1 MiB)");
    }
    Ok(())
}

/// A route's (or `[rest_proxy]`'s) `idempotency` at `at`: `[idempotency]` is there, and the
/// identity headers are names.
pub(super) fn check_use(
    at: &str,
    keys: &KeyUse,
    section: Option<&IdempotencyConfig>,
) -> Result<(), Failure> {
    if section.is_none() {
        return fail(
            at,
            "needs an [idempotency] section (the topic keys are kept in)",
        );
    }
    if let Some(bad) = keys
        .identity
        .iter()
        .find(|h| h.is_empty() || h.len() > 255 || h.chars().any(|c| c.is_control()))
    {
        return fail(
            format!("{at}.identity"),
            format!("{bad:?} is not a header name"),
        );
    }
    Ok(())
}
