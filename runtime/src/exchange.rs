//! What a request carries through the gateway: the request as received and the records it
//! becomes. Filters see these through host resources; the producer sends the records.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

/// The HTTP request as the filters see it. Immutable once built, shared by reference.
#[derive(Debug)]
pub struct RequestInfo {
    /// Gateway-assigned request id.
    pub id: String,
    /// Method, upper-case.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query without `?`.
    pub query: Option<String>,
    /// Name of the matched route.
    pub route: Arc<str>,
    /// Route parameters in path order.
    pub params: Vec<(String, String)>,
    /// Request headers.
    pub headers: http::HeaderMap,
    /// Peer address.
    pub client: SocketAddr,
    /// Subject of the verified client certificate (mTLS), RFC 4514.
    pub client_subject: Option<String>,
    /// Receive time, milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// The whole body.
    pub body: Bytes,
    /// Whether the call reads or writes what its records name, as its API defines it.
    pub access: Access,
    /// The request's span in its trace, with `[tracing]`: its records' `traceparent` and its
    /// steps' spans hang under it.
    pub trace: Option<crate::trace_context::SpanContext>,
}

/// What a request does to the topics (or subjects) its records name: filters grant reading
/// and writing apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads, looks up or lists: a read route, a consumer, metadata, a registry lookup.
    Read,
    /// Produces, creates, deletes or changes: a produce route, a registration, topic admin.
    Write,
}

/// A record on its way to Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Destination topic.
    pub topic: String,
    /// Key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Value; `None` is a null value.
    pub value: Option<Bytes>,
    /// Headers in order; names may repeat.
    pub headers: Vec<(String, Bytes)>,
    /// Explicit partition, or `None` for the partitioner.
    pub partition: Option<i32>,
    /// Timestamp in ms since the epoch, or `None` for the send time.
    pub timestamp: Option<i64>,
    /// Offset in its partition, for a record read from Kafka.
    pub offset: Option<i64>,
}

impl Record {
    /// A record for `topic` with nothing else set.
    pub fn new(topic: impl Into<String>) -> Self {
        Record {
            topic: topic.into(),
            key: None,
            value: None,
            headers: Vec::new(),
            partition: None,
            timestamp: None,
            offset: None,
        }
    }
}
