//! The component side, compiled only for wasm32: the generated bindings and the adapter that
//! exports a [`Filter`](crate::Filter) through them.

// Generated code: its items are documented from the WIT, but not all of them.
#[allow(missing_docs)]
pub mod bindings;
pub mod crypto;
mod export;
pub mod identity;
pub mod json_schema;
pub mod schemas;
pub mod state;

pub use bindings::wafka::filter::types::{Record, Request};
pub use bindings::wafka::filter::{clock, log};
pub use export::Adapter;
