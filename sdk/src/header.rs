//! Headers of requests, records and responses.

/// A header: a name and a value. Values are bytes because neither HTTP nor Kafka headers are
/// guaranteed to be UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Header name. HTTP header names are lower-case; Kafka header names as given.
    pub name: String,
    /// Header value, raw bytes.
    pub value: Vec<u8>,
}

impl Header {
    /// A header from anything string-like and anything byte-like: `Header::new("x-a", "1")`.
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}
