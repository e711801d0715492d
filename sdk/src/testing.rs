//! For filters' native unit tests (not compiled for wasm32): control the clock and the state
//! interface, per test thread.

/// Makes [`clock::now_millis`](crate::clock::now_millis) (and everything built on it: `time`,
/// `state`) return `millis` on this thread; `None` goes back to the system clock.
pub fn set_clock(millis: Option<u64>) {
    crate::native::clock::set(millis);
}

/// Forgets every bucket and counter of the [`state`](crate::state) interface on this thread.
pub fn reset_state() {
    crate::native::state::reset();
}
