//! Plain-data stand-ins for the host, used on every target but wasm32 so that filters are
//! unit-tested natively with `cargo test`. Each item mirrors the shape of its generated
//! counterpart in `guest::bindings`.

pub mod clock;
pub mod crypto;
pub mod identity;
pub mod json_schema;
pub mod log;
mod record;
mod request;
pub mod schemas;
pub mod state;

pub use record::Record;
pub use request::{Request, RequestBuilder};
