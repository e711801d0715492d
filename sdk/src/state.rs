//! State kept across requests and shared by every instance of this filter on the route: token
//! buckets and counters under keys the filter chooses. The gateway holds it (atomically, bounded
//! to 100 000 keys of at most 256 bytes per route); natively (in unit tests) it is in memory,
//! per thread, and [`testing`](crate::testing) resets it.
//!
//! ```no_run
//! use wafka_sdk::state;
//! // 10 requests a second per client address, bursts of 20.
//! let taken = state::take_tokens("203.0.113.7", 20, 10, 1);
//! if !taken.allowed {
//!     let seconds = taken.retry_after_ms.div_ceil(1000);
//! }
//! ```

use crate::backend::state as host;

/// What [`take_tokens`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// Whether the tokens were taken.
    pub allowed: bool,
    /// Whole tokens left in the bucket.
    pub remaining: u64,
    /// When refused: milliseconds until `cost` tokens will be there (`u64::MAX`: never, the
    /// cost is above the capacity or nothing refills).
    pub retry_after_ms: u64,
}

/// Takes `cost` tokens from bucket `key`, which holds at most `capacity` and gains
/// `refill_per_second` tokens a second; a new bucket starts full. Nothing is taken when refused.
/// Keys longer than 256 bytes make the gateway stop the filter.
pub fn take_tokens(key: &str, capacity: u64, refill_per_second: u64, cost: u64) -> Taken {
    host::take_tokens(key, capacity, refill_per_second, cost)
}

/// Adds `delta` to counter `key` (0 when new or expired) and returns the new value; the
/// counter expires `ttl_ms` after this call.
pub fn add(key: &str, delta: i64, ttl_ms: u64) -> i64 {
    host::add(key, delta, ttl_ms)
}
