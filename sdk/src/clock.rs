//! Wall-clock time: the gateway's clock, or the system clock natively.

/// Current time in milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    crate::backend::clock::now_millis()
}
