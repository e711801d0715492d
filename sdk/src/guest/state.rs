//! The `state` import, in the SDK's types.

use super::bindings::wafka::filter::state;
use crate::state::Taken;

pub fn take_tokens(key: &str, capacity: u64, refill_per_second: u64, cost: u64) -> Taken {
    let r = state::take_tokens(key, capacity, refill_per_second, cost);
    Taken {
        allowed: r.allowed,
        remaining: r.remaining,
        retry_after_ms: r.retry_after_ms,
    }
}

pub fn add(key: &str, delta: i64, ttl_ms: u64) -> i64 {
    state::add(key, delta, ttl_ms)
}
