//! OTLP/HTTP export (JSON encoding, `POST {endpoint}/v1/traces`): finished spans wait in a
//! bounded queue (`max_queued_spans`; past it they are dropped and counted, never waited for)
//! and leave in batches of up to 2048, at least every `export_interval_ms`. A batch the
//! collector refuses for a while (429, 502, 503, 504, no connection) is tried twice more, one
//! and two seconds apart, then dropped and counted.

use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::{Recording, SpanContext, Value};
use crate::config::TracingConfig;
use crate::trace_context::push_hex;

use crate::metrics::TRACE_SPANS as SPANS;

/// Most spans in one export request (about 1 MiB).
const MAX_BATCH: usize = 2048;

/// A span as it is exported.
pub(super) struct Finished {
    pub context: SpanContext,
    pub parent: Option<[u8; 8]>,
    pub end_ns: u64,
    pub recording: Recording,
}

enum Message {
    Span(Box<Finished>),
    Flush(oneshot::Sender<()>),
}

pub(super) struct Exporter {
    queue: mpsc::Sender<Message>,
}

impl Exporter {
    pub fn start(endpoint: &str, config: &TracingConfig) -> Exporter {
        let (queue, received) = mpsc::channel(config.max_queued_spans.max(1));
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let resource = json!({ "attributes": [
            { "key": "service.name", "value": { "stringValue": config.service_name } },
            { "key": "service.version", "value": { "stringValue": env!("CARGO_PKG_VERSION") } },
        ]})
        .to_string();
        let every = Duration::from_millis(config.export_interval_ms.max(1));
        tokio::spawn(run(received, url, resource, every));
        Exporter { queue }
    }

    pub fn send(&self, span: Finished) {
        if self.queue.try_send(Message::Span(Box::new(span))).is_err() {
            metrics::counter!(SPANS, "outcome" => "queue_full").increment(1);
        }
    }

    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

async fn run(
    mut received: mpsc::Receiver<Message>,
    url: String,
    resource: String,
    every: Duration,
) {
    let client = match crate::http_client::Client::new(None, Duration::from_secs(10)) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "trace export cannot start: spans are dropped");
            return;
        }
    };
    loop {
        let mut batch = Vec::new();
        let mut flushed = None;
        match received.recv().await {
            None => return,
            Some(Message::Span(span)) => batch.push(span),
            Some(Message::Flush(done)) => flushed = Some(done),
        }
        let deadline = tokio::time::Instant::now() + every;
        while flushed.is_none() && batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, received.recv()).await {
                Ok(Some(Message::Span(span))) => batch.push(span),
                Ok(Some(Message::Flush(done))) => flushed = Some(done),
                Ok(None) | Err(_) => break,
            }
        }
        if !batch.is_empty() {
            export(&client, &url, &resource, &batch).await;
        }
        if let Some(done) = flushed {
            let _ = done.send(());
        }
    }
}

async fn export(
    client: &crate::http_client::Client,
    url: &str,
    resource: &str,
    batch: &[Box<Finished>],
) {
    let body = Bytes::from(encode(resource, batch));
    let mut why = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
        let sent = client
            .exchange(
                http::Method::POST,
                url,
                None,
                Some(("application/json", body.clone())),
            )
            .await;
        match sent {
            Ok(answer) if answer.status.is_success() => {
                metrics::counter!(SPANS, "outcome" => "exported").increment(batch.len() as u64);
                return;
            }
            Ok(answer) => {
                why = format!("{}: {}", answer.status, answer.excerpt());
                // Only these are worth trying again (OTLP/HTTP's retryable answers).
                if ![429, 502, 503, 504].contains(&answer.status.as_u16()) {
                    break;
                }
            }
            Err(e) => why = e,
        }
    }
    metrics::counter!(SPANS, "outcome" => "export_failed").increment(batch.len() as u64);
    tracing::warn!(url, spans = batch.len(), error = %why, "trace export failed: spans dropped");
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding: ids in hex, enums and 64-bit
/// integers as numbers and strings. Written straight into one buffer: at full sampling this
/// runs for every request, on the cores that serve them.
fn encode(resource: &str, batch: &[Box<Finished>]) -> String {
    let mut out = String::with_capacity(128 + batch.len() * 512);
    out.push_str(r#"{"resourceSpans":[{"resource":"#);
    out.push_str(resource);
    out.push_str(r#","scopeSpans":[{"scope":{"name":"wafka","version":""#);
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str(r#""},"spans":["#);
    for (i, span) in batch.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_span(&mut out, span);
    }
    out.push_str("]}]}]}");
    out
}

fn write_span(out: &mut String, s: &Finished) {
    use std::fmt::Write;
    let r = &s.recording;
    out.push_str(r#"{"traceId":""#);
    push_hex(out, &s.context.trace_id);
    out.push_str(r#"","spanId":""#);
    push_hex(out, &s.context.span_id);
    out.push('"');
    if let Some(parent) = &s.parent {
        out.push_str(r#","parentSpanId":""#);
        push_hex(out, parent);
        out.push('"');
    }
    if let Some(state) = &s.context.state {
        out.push_str(r#","traceState":"#);
        string(out, state);
    }
    out.push_str(r#","name":"#);
    string(out, &r.name);
    let _ = write!(
        out,
        r#","kind":{},"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":["#,
        r.kind as i32, r.start_ns, s.end_ns
    );
    for (i, (key, value)) in r.attributes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"key":"#);
        string(out, key);
        match value {
            Value::Str(text) => {
                out.push_str(r#","value":{"stringValue":"#);
                string(out, text);
                out.push_str("}}");
            }
            Value::Int(n) => {
                let _ = write!(out, r#","value":{{"intValue":"{n}"}}}}"#);
            }
        }
    }
    out.push(']');
    if !r.links.is_empty() {
        out.push_str(r#","links":["#);
        for (i, link) in r.links.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"traceId":""#);
            push_hex(out, &link.trace_id);
            out.push_str(r#"","spanId":""#);
            push_hex(out, &link.span_id);
            out.push_str(r#""}"#);
        }
        out.push(']');
    }
    if let Some(message) = &r.error {
        out.push_str(r#","status":{"code":2,"message":"#);
        string(out, message);
        out.push('}');
    }
    out.push('}');
}

/// `text` as a JSON string.
fn string(out: &mut String, text: &str) {
    use std::fmt::Write;
    out.push('"');
    // Names, routes and ids need no escaping: copied whole.
    if !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(text);
        out.push('"');
        return;
    }
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Kind, Recording};
    use crate::trace_context::SpanContext;

    #[test]
    fn spans_are_written_as_otlp_json() {
        let span = Box::new(Finished {
            context: SpanContext::parse(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Some("a=b"),
            )
            .unwrap(),
            parent: Some([1, 2, 3, 4, 5, 6, 7, 8]),
            end_ns: 20,
            recording: Recording {
                name: "POST /v1/\"x\"".into(),
                kind: Kind::Server,
                start_ns: 10,
                attributes: vec![("a", Value::Int(-3)), ("b", "line\nbreak".into())],
                links: vec![],
                error: Some("503".into()),
            },
        });
        let json: serde_json::Value =
            serde_json::from_str(&encode(r#"{"attributes":[]}"#, &[span])).unwrap();
        let written = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(
            *written,
            serde_json::json!({
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": "00f067aa0ba902b7",
                "parentSpanId": "0102030405060708",
                "traceState": "a=b",
                "name": "POST /v1/\"x\"",
                "kind": 2,
                "startTimeUnixNano": "10",
                "endTimeUnixNano": "20",
                "attributes": [
                    { "key": "a", "value": { "intValue": "-3" } },
                    { "key": "b", "value": { "stringValue": "line\nbreak" } },
                ],
                "status": { "code": 2, "message": "503" },
            })
        );
    }
}
