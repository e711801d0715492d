//! Distributed tracing: the W3C trace context from each request (or a new trace) onto every
//! record it produces, spans for the gateway's steps, and the trace continued where a reader
//! takes the record; spans exported over OTLP/HTTP when `[tracing] otlp_endpoint` is set.
//!
//! ```text
//! POST (server span) ─┬─ filters
//!                     ├─ schemas
//!                     └─ publish (producer span; its context is the record's traceparent)
//!                            └─ receive (consumer span, on the gateway that read the record;
//!                                        linked to the reader's own request)
//! ```
//!
//! Without `[tracing]` nothing here runs. With it, an unsampled trace costs its ids and the
//! record headers; only sampled spans are recorded and queued for export.

mod otlp;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::trace_context as context;
pub use crate::trace_context::{SpanContext, TRACEPARENT, TRACESTATE};

use crate::config::TracingConfig;
use crate::exchange::Record;

/// What a span does (OTLP's `SpanKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A step inside the gateway (filters, schemas).
    Internal = 1,
    /// A request the gateway serves.
    Server = 2,
    /// Records sent to Kafka.
    Producer = 4,
    /// A record handed to a reader.
    Consumer = 5,
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Str(Cow<'static, str>),
    /// A whole number.
    Int(i64),
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<Cow<'static, str>> for Value {
    fn from(s: Cow<'static, str>) -> Self {
        Value::Str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

/// Starts spans and hands the finished ones to the exporter.
pub struct Tracer {
    /// New traces are sampled at this ratio; a client's `sampled` flag is followed.
    ratio: f64,
    exporter: Option<otlp::Exporter>,
}

impl Tracer {
    /// A tracer for `config`; starts the exporter task when there is an endpoint.
    pub fn start(config: &TracingConfig) -> Tracer {
        Tracer {
            ratio: config.sample_ratio,
            exporter: config
                .otlp_endpoint
                .as_deref()
                .map(|endpoint| otlp::Exporter::start(endpoint, config)),
        }
    }

    /// The server span of a request: a child of the client's `traceparent`, or the root of a
    /// new trace.
    pub fn request(&self, headers: &http::HeaderMap) -> Span {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        match header(TRACEPARENT).and_then(|p| SpanContext::parse(p, header(TRACESTATE))) {
            Some(parent) => self.span(
                parent.child(),
                Some(parent.span_id),
                "request",
                Kind::Server,
            ),
            None => {
                let sampled = self.ratio >= 1.0
                    || (self.ratio > 0.0
                        && (context::random() >> 11) as f64 / (1u64 << 53) as f64 <= self.ratio);
                self.span(SpanContext::root(sampled), None, "request", Kind::Server)
            }
        }
    }

    /// A span under `parent`.
    pub fn child(
        &self,
        parent: &SpanContext,
        name: impl Into<Cow<'static, str>>,
        kind: Kind,
    ) -> Span {
        self.span(parent.child(), Some(parent.span_id), name, kind)
    }

    fn span(
        &self,
        context: SpanContext,
        parent: Option<[u8; 8]>,
        name: impl Into<Cow<'static, str>>,
        kind: Kind,
    ) -> Span {
        let recording = (context.sampled && self.exporter.is_some()).then(|| {
            Box::new(Recording {
                name: name.into(),
                kind,
                start_ns: now_ns(),
                attributes: Vec::with_capacity(8),
                links: Vec::new(),
                error: None,
            })
        });
        Span {
            context,
            parent,
            recording,
        }
    }

    /// Ends `span` now and queues it for export (when it is recorded).
    pub fn end(&self, span: Span) {
        let (Some(recording), Some(exporter)) = (span.recording, &self.exporter) else {
            return;
        };
        exporter.send(otlp::Finished {
            context: span.context,
            parent: span.parent,
            end_ns: now_ns(),
            recording: *recording,
        });
    }

    /// The trace of each of `records` continued where a reader takes them: a consumer span
    /// under the record's `traceparent`, linked to the reader's own request. Nothing for a
    /// record without one, or whose trace is not sampled.
    pub fn received(&self, records: &[Record], reader: &SpanContext, route: &str) {
        if self.exporter.is_some() {
            for record in records {
                self.received_one(record, reader, route);
            }
        }
    }

    fn received_one(&self, record: &Record, reader: &SpanContext, route: &str) {
        let header = |name: &str| {
            record
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| std::str::from_utf8(v).ok())
        };
        let parent = header(TRACEPARENT).and_then(|p| SpanContext::parse(p, header(TRACESTATE)));
        let Some(parent) = parent.filter(|p| p.sampled) else {
            return;
        };
        let mut span = self.child(&parent, format!("{} receive", record.topic), Kind::Consumer);
        span.set("messaging.system", "kafka");
        span.set("messaging.operation.type", "receive");
        span.set("messaging.destination.name", record.topic.clone());
        if let Some(partition) = record.partition {
            span.set("messaging.destination.partition.id", partition.to_string());
        }
        if let Some(offset) = record.offset {
            span.set("messaging.kafka.offset", offset);
        }
        span.set("wafka.route", route.to_owned());
        span.link(reader);
        self.end(span);
    }

    /// Sends what is queued; at shutdown.
    pub async fn flush(&self) {
        if let Some(exporter) = &self.exporter {
            exporter.flush().await;
        }
    }
}

/// Puts `context` on every record as `traceparent` (and the client's `tracestate`), replacing
/// any a filter set: a consumer continues the trace from the span that produced the record.
pub fn stamp(context: &SpanContext, records: &mut [Record]) {
    let parent = Bytes::from(context.traceparent());
    let state = context
        .state
        .as_deref()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()));
    for record in records.iter_mut() {
        record
            .headers
            .retain(|(name, _)| name != TRACEPARENT && name != TRACESTATE);
        record
            .headers
            .push((TRACEPARENT.to_owned(), parent.clone()));
        if let Some(state) = &state {
            record.headers.push((TRACESTATE.to_owned(), state.clone()));
        }
    }
}

/// What a producer span sends: OpenTelemetry's messaging attributes.
pub fn sending(span: &mut Span, records: &[Record]) {
    if span.recording() {
        span.set("messaging.system", "kafka");
        span.set("messaging.operation.type", "send");
        if let Some(first) = records.first() {
            span.set("messaging.destination.name", first.topic.clone());
        }
        span.set("messaging.batch.message_count", records.len() as i64);
    }
}

/// A span being timed. Cheap when not recorded: attributes are dropped at once.
pub struct Span {
    /// Where the span sits: its children's parent, the records' `traceparent`.
    pub context: SpanContext,
    parent: Option<[u8; 8]>,
    recording: Option<Box<Recording>>,
}

struct Recording {
    name: Cow<'static, str>,
    kind: Kind,
    start_ns: u64,
    attributes: Vec<(&'static str, Value)>,
    links: Vec<SpanContext>,
    error: Option<String>,
}

impl Span {
    /// Whether this span is recorded (its attributes are worth computing).
    pub fn recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Sets an attribute.
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(r) = &mut self.recording {
            r.attributes.push((key, value.into()));
        }
    }

    /// Renames the span (a request's name is known once its route matched).
    pub fn rename(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(r) = &mut self.recording {
            r.name = name.into();
        }
    }

    /// Links another trace's span (a reader's request, from the span of a record it read).
    pub fn link(&mut self, other: &SpanContext) {
        if let Some(r) = &mut self.recording {
            r.links.push(other.clone());
        }
    }

    /// Marks the span failed.
    pub fn fail(&mut self, message: impl Into<String>) {
        if let Some(r) = &mut self.recording {
            r.error = Some(message.into());
        }
    }
}

/// A method's name, without allocating for the common ones.
pub fn method_name(method: &http::Method) -> Cow<'static, str> {
    use http::Method;
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => return Cow::Owned(method.as_str().to_owned()),
    };
    Cow::Borrowed(name)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
