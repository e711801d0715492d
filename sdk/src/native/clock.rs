//! The system clock, unless a test set the time.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static FIXED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Milliseconds since the Unix epoch (0 if the system clock is set before it), or the time a
/// test set on this thread.
pub fn now_millis() -> u64 {
    FIXED.get().unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64)
    })
}

pub fn set(millis: Option<u64>) {
    FIXED.set(millis);
}
