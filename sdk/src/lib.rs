//! Write [Wafka](https://github.com/wafka/wafka) filters in Rust.
//!
//! A filter is a WebAssembly component that sits between an HTTP request and Kafka. It sees the
//! request and the records about to be produced, may change, split or drop them, and either
//! forwards them (to the next filter, and after the last one to Kafka) or answers the client
//! itself. Implement [`Filter`], export it with [`export_filter!`], build for `wasm32-wasip2`.
//!
//! # A filter
//!
//! ```
//! use wafka_sdk::prelude::*;
//!
//! /// Lets through requests carrying a known API key, and stamps the client into each record.
//! struct ApiKey {
//!     keys: Vec<String>,
//! }
//!
//! /// The route's `config = { keys = ["…"] }`, delivered as JSON.
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct ApiKeyConfig {
//!     keys: Vec<String>,
//! }
//!
//! impl Filter for ApiKey {
//!     type Config = ApiKeyConfig;
//!
//!     fn new(config: ApiKeyConfig) -> Result<Self, String> {
//!         if config.keys.is_empty() {
//!             return Err("keys must not be empty".to_owned());
//!         }
//!         Ok(Self { keys: config.keys })
//!     }
//!
//!     fn on_request(&self, request: &Request, mut records: Vec<Record>) -> Outcome {
//!         let Some(key) = request.header_str("x-api-key") else {
//!             return reject(401, "api_key_missing", "send the x-api-key header");
//!         };
//!         if !self.keys.contains(&key) {
//!             return reject(403, "api_key_unknown", "unknown API key");
//!         }
//!         for record in &mut records {
//!             record.set_header("client-ip", request.client_ip());
//!         }
//!         log::debug(format!("accepted {} record(s)", records.len()));
//!         forward(records)
//!     }
//! }
//!
//! wafka_sdk::export_filter!(ApiKey);
//!
//! # fn main() {
//! // A native unit test: no wasm, no gateway.
//! let filter: ApiKey = load_filter(r#"{"keys": ["k1"]}"#).unwrap();
//! let request = Request::builder()
//!     .header("x-api-key", "k1")
//!     .client_addr("[2001:db8::7]:50123")
//!     .build();
//! let outcome = filter.on_request(&request, vec![Record::new("events")]);
//! let records = outcome.records().unwrap();
//! assert_eq!(records[0].header("client-ip"), Some(b"2001:db8::7".to_vec()));
//!
//! let outcome = filter.on_request(&Request::builder().build(), vec![Record::new("events")]);
//! assert_eq!(outcome.response().unwrap().status, 401);
//! # }
//! ```
//!
//! # Building
//!
//! A filter crate is a `cdylib` that depends on `wafka-sdk`, and on `serde` (feature
//! `derive`) if it derives `Deserialize` for its config: serde's derive names the `serde`
//! crate itself.
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! wafka-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `cargo build --release --target wasm32-wasip2` then writes the component to
//! `target/wasm32-wasip2/release/<crate>.wasm`.
//!
//! # Testing
//!
//! On every target but wasm32 the types are plain Rust data, so `cargo test` runs a filter's
//! unit tests natively: build requests with `Request::builder()`, records with
//! [`Record::new`], and run the filter directly, through [`load_filter`], or end to end with
//! [`run_filter`]. Logs go to stderr and the clock is the system's.
//!
//! # Errors
//!
//! [`reject`] answers in the gateway's own error shape, `{"error":{"code":…,"message":…}}`,
//! so clients handle a filter's errors like the gateway's. A panic traps the instance: the
//! gateway answers 500 and the panic message is logged.

#![deny(missing_docs)]

pub mod clock;
pub mod crypto;
mod filter;
#[cfg(feature = "formats")]
pub mod formats;
mod header;
pub mod identity;
pub mod json;
pub mod json_schema;
#[cfg(not(target_arch = "wasm32"))]
pub mod jwk;
pub mod log;
mod outcome;
mod record;
mod request;
mod response;
pub mod schemas;
pub mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod time;
pub mod topic;

// One implementation of the host per target: the component's imports, or plain data.
#[cfg(target_arch = "wasm32")]
mod guest;
#[cfg(target_arch = "wasm32")]
use guest as backend;
#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
use native as backend;

pub use filter::{Filter, NoConfig, load_filter, run_filter};
pub use header::Header;
#[cfg(not(target_arch = "wasm32"))]
pub use native::RequestBuilder;
pub use outcome::{Outcome, forward, reject};
pub use record::Record;
pub use request::{Access, Request};
pub use response::Response;

/// Everything a filter usually needs: `use wafka_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Filter, Header, NoConfig, Outcome, Record, Request, Response, clock, export_filter,
        forward, json, json_schema, load_filter, log, reject, run_filter, state, time, topic,
    };
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::{Value, json};
}

/// The host's rules, natively: the gateway's host calls run this code, and the SDK's native
/// stand-ins run it in unit tests, so the two cannot drift. Not part of the filter API.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod host {
    pub use crate::native::crypto::{check_key, verify};
    pub use crate::native::state::{Keys, MAX_KEY_BYTES, MAX_KEYS, check_key as check_state_key};
}

/// Used by `export_filter!` from the filter's crate; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::filter::assert_filter;
    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::{Adapter, bindings};
}
