//! The host side of the WIT imports, one file per interface.

mod clock;
mod config;
mod crypto;
mod identity;
mod json_schema;
mod log;
mod record;
mod request;
mod schemas;
mod state;

pub use request::RequestRef;
