use std::path::PathBuf;

/// Why a configuration was refused. Every variant names the file; `Invalid` also names the
/// field, in the form `routes[1].filters[0].name`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The config file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema (includes unknown fields).
    #[error("{file}: {message}")]
    Parse {
        /// The config file.
        file: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field has a value the gateway cannot use.
    #[error("{file}: {field}: {reason}")]
    Invalid {
        /// The config file.
        file: PathBuf,
        /// Path of the offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}
