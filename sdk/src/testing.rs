//! For filters' native unit tests (not compiled for wasm32): control the clock and the state
//! interface, and stand in for the gateway's identity providers and schema registry, per test
//! thread.

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

/// Registers `text`, a schema of `schema_type` (`AVRO`, `JSON` or `PROTOBUF`), as the next
/// version of `subject` for [`schemas`](crate::schemas) on this thread; its new id, or why the
/// schema does not parse. Values are encoded with the gateway's own code, which needs
/// `wafka-sdk`'s `formats` feature: turn it on in the filter's `[dev-dependencies]`.
pub fn add_schema(subject: &str, schema_type: &str, text: &str) -> Result<u32, String> {
    crate::native::schemas::add(subject, schema_type, text)
}

/// Forgets every schema added on this thread.
pub fn reset_schemas() {
    crate::native::schemas::reset();
}
