//! OTLP/HTTP export (JSON encoding, `POST {endpoint}/v1/traces`): finished spans wait in a
//! bounded queue (`max_queued_spans`; past it they are dropped and counted, never waited for)
//! and leave in batches of up to 512, at least every `export_interval_ms`. A batch the
//! collector refuses for a while (429, 502, 503, 504, no connection) is tried twice more, one
//! and two seconds apart, then dropped and counted.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value as Json, json};
use tokio::sync::{mpsc, oneshot};

use super::context::push_hex;
use super::{Recording, SpanContext, Value};
use crate::config::TracingConfig;

/// Spans by `outcome`: `exported`, `queue_full`, `export_failed`.
pub const SPANS: &str = "wafka_trace_spans_total";

/// Most spans in one export request.
const MAX_BATCH: usize = 512;

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
        ]});
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

async fn run(mut received: mpsc::Receiver<Message>, url: String, resource: Json, every: Duration) {
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
    resource: &Json,
    batch: &[Box<Finished>],
) {
    let body = json!({ "resourceSpans": [{
        "resource": resource,
        "scopeSpans": [{
            "scope": { "name": "wafka", "version": env!("CARGO_PKG_VERSION") },
            "spans": batch.iter().map(|s| span(s)).collect::<Vec<_>>(),
        }],
    }]});
    let body = Bytes::from(body.to_string());
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

fn span(s: &Finished) -> Json {
    let r = &s.recording;
    let mut out = json!({
        "traceId": hex(&s.context.trace_id),
        "spanId": hex(&s.context.span_id),
        "name": r.name,
        "kind": r.kind as i32,
        "startTimeUnixNano": r.start_ns.to_string(),
        "endTimeUnixNano": s.end_ns.to_string(),
        "attributes": r.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
    });
    if let Some(parent) = &s.parent {
        out["parentSpanId"] = hex(parent).into();
    }
    if let Some(state) = &s.context.state {
        out["traceState"] = state.as_ref().into();
    }
    if !r.links.is_empty() {
        out["links"] = r
            .links
            .iter()
            .map(|l| json!({ "traceId": hex(&l.trace_id), "spanId": hex(&l.span_id) }))
            .collect();
    }
    if let Some(message) = &r.error {
        out["status"] = json!({ "code": 2, "message": message });
    }
    out
}

fn attribute(key: &str, value: &Value) -> Json {
    let value = match value {
        Value::Str(s) => json!({ "stringValue": s }),
        // OTLP's JSON writes 64-bit integers as strings.
        Value::Int(n) => json!({ "intValue": n.to_string() }),
    };
    json!({ "key": key, "value": value })
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}
