//! Logging into the gateway's log, attributed to the filter, route and request. Natively
//! (in unit tests) lines go to stderr.

use crate::backend::log::{Level, write};

/// Very detailed tracing, off by default.
pub fn trace(message: impl AsRef<str>) {
    write(Level::Trace, message.as_ref());
}

/// Diagnostics for filter authors.
pub fn debug(message: impl AsRef<str>) {
    write(Level::Debug, message.as_ref());
}

/// Normal operation.
pub fn info(message: impl AsRef<str>) {
    write(Level::Info, message.as_ref());
}

/// Something unexpected that the filter handled.
pub fn warn(message: impl AsRef<str>) {
    write(Level::Warn, message.as_ref());
}

/// Something failed.
pub fn error(message: impl AsRef<str>) {
    write(Level::Error, message.as_ref());
}
