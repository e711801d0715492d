//! For filters' native unit tests (not compiled for wasm32): control the clock and the state
//! interface, and stand in for the gateway's identity providers, per test thread.

use std::collections::BTreeMap;

use serde_json::Value;

/// Makes [`clock::now_millis`](crate::clock::now_millis) (and everything built on it: `time`,
/// `state`) return `millis` on this thread; `None` goes back to the system clock.
pub fn set_clock(millis: Option<u64>) {
    crate::native::clock::set(millis);
}

/// Forgets every bucket and counter of the [`state`](crate::state) interface on this thread.
pub fn reset_state() {
    crate::native::state::reset();
}

/// An identity provider as [`identity`](crate::identity) sees it in a unit test.
#[derive(Debug, Clone, Default)]
pub struct TestProvider {
    /// Its issuer.
    pub issuer: String,
    /// Its published keys, a JWKS document (`{"keys": [...]}`).
    pub jwks: Value,
    /// Introspection answers by token; any other token is `{"active": false}`. Empty means the
    /// provider does not introspect.
    pub introspection: BTreeMap<String, Value>,
}

/// Makes the provider `name` known to [`identity`](crate::identity) on this thread.
pub fn add_provider(name: &str, provider: TestProvider) {
    crate::native::identity::add(name, provider);
}

/// Forgets every provider added on this thread.
pub fn reset_providers() {
    crate::native::identity::reset();
}
