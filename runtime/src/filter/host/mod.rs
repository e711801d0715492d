//! The host side of the WIT imports, one file per interface.

mod clock;
mod config;
mod log;
mod record;
mod request;

pub use request::RequestRef;
