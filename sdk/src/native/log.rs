//! Log lines go to stderr, which `cargo test` shows for failing tests.

/// Severity of a log line.
#[derive(Clone, Copy, Debug)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Diagnostics for filter authors.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the filter handled.
    Warn,
    /// Something failed.
    Error,
}

/// Writes one line to stderr.
pub fn write(level: Level, message: &str) {
    eprintln!("[{level:?}] {message}");
}
