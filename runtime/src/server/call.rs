//! One request from arrival to answer: its id and clock, the snapshot it runs on, the route it
//! matched; and, once answered, the request-id header, the metrics and the access log line. A
//! streamed answer (server-sent events, a v3 record stream) is logged and counted when it ends,
//! with what it carried and how it ended.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};

use super::{Body, HttpResponse, Peer};
use crate::exchange::Access;
use crate::metrics::RouteMetrics;
use crate::snapshot::{Dialect, Route, Snapshot};
use crate::trace::{Span, SpanContext, Tracer};

/// Header carrying the request id, on the response and on every record.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// Route label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// What the steps of one request share.
pub(crate) struct Call<'a> {
    /// Gateway-assigned, unique.
    pub id: String,
    started: Instant,
    /// Held to the end: a reload mid-request does not change what this request runs.
    pub snapshot: Arc<Snapshot>,
    pub peer: Arc<Peer>,
    /// Set once a route matched.
    pub route: Option<Arc<Route>>,
    /// How many records the answer covers, for the access log.
    pub records: usize,
    /// The listener's dialect, for answers before a route matched.
    dialect: Dialect,
    /// The metrics of requests no route matched.
    unmatched: &'a RouteMetrics,
    /// The request's server span, with `[tracing]`.
    trace: Option<Traced>,
}

/// A request's server span and what names it.
struct Traced {
    tracer: Arc<Tracer>,
    span: Span,
    method: http::Method,
}

impl<'a> Call<'a> {
    pub(crate) fn start(
        id: String,
        snapshot: Arc<Snapshot>,
        peer: Arc<Peer>,
        dialect: Dialect,
        unmatched: &'a RouteMetrics,
        tracing: Option<(&Arc<Tracer>, &http::Request<hyper::body::Incoming>)>,
    ) -> Self {
        let trace = tracing.map(|(tracer, request)| {
            let mut span = tracer.request(request.headers());
            if span.recording() {
                let method = crate::trace::method_name(request.method());
                span.rename(method.clone());
                span.set("http.request.method", method);
                span.set("wafka.request_id", id.clone());
            }
            Traced {
                tracer: tracer.clone(),
                span,
                method: request.method().clone(),
            }
        });
        Call {
            id,
            started: Instant::now(),
            snapshot,
            peer,
            route: None,
            records: 0,
            dialect,
            unmatched,
            trace,
        }
    }

    /// The request's span: where its steps' spans and its records' `traceparent` hang.
    pub(crate) fn trace(&self) -> Option<(&Arc<Tracer>, &SpanContext)> {
        self.trace.as_ref().map(|t| (&t.tracer, &t.span.context))
    }

    /// The route's name, or `unmatched`.
    pub(crate) fn route_name(&self) -> &str {
        self.route.as_ref().map_or(UNMATCHED, |r| &r.name)
    }

    /// The route's metrics, or those of unmatched requests.
    pub(crate) fn metrics(&self) -> &RouteMetrics {
        self.route.as_ref().map_or(self.unmatched, |r| &r.metrics)
    }

    /// The dialect answers are shaped in: the route's, else the listener's.
    pub(crate) fn dialect(&self) -> Dialect {
        self.route.as_ref().map_or(self.dialect, |r| r.dialect)
    }

    /// Whether the client may see full error texts (`routes[].error_details`).
    pub(crate) fn error_details(&self) -> bool {
        self.route.as_ref().is_some_and(|r| r.error_details)
    }

    /// Stamps the request id on the answer; counts it and writes the access log line now, or,
    /// for a stream ([`streamed`]), when the stream ends.
    pub(crate) fn finish(self, mut response: HttpResponse) -> HttpResponse {
        if let Ok(v) = http::HeaderValue::from_str(&self.id) {
            response.headers_mut().insert(REQUEST_ID, v);
        }
        let status = response.status();
        let trace = self.trace.map(|mut t| {
            if t.span.recording() {
                if let Some(route) = &self.route {
                    t.span.rename(format!("{} {}", t.method, route.path));
                    t.span.set("http.route", route.path.clone());
                    t.span.set("wafka.route", route.name.to_string());
                }
                t.span
                    .set("http.response.status_code", i64::from(status.as_u16()));
                if status.is_server_error() {
                    t.span.fail(status.to_string());
                }
            }
            t
        });
        let streamed = response.extensions_mut().remove::<Streamed>();
        match (streamed, self.route) {
            (Some(Streamed(carried)), Some(route)) => {
                let ending = Ending {
                    route,
                    id: self.id,
                    started: self.started,
                    status,
                    carried,
                    trace,
                };
                response.map(|body| {
                    Finishing {
                        body,
                        _ending: ending,
                    }
                    .boxed_unsync()
                })
            }
            (_, route) => {
                let metrics = route.as_ref().map_or(self.unmatched, |r| &r.metrics);
                let name = route.as_ref().map_or(UNMATCHED, |r| &r.name);
                let elapsed = self.started.elapsed();
                metrics.answered(status);
                metrics.duration.record(elapsed);
                tracing::info!(
                    target: "wafka::access",
                    request_id = %self.id,
                    route = name,
                    status = status.as_u16(),
                    records = self.records,
                    duration_us = elapsed.as_micros() as u64,
                    "request"
                );
                if let Some(t) = trace {
                    t.tracer.end(t.span);
                }
                response
            }
        }
    }

    /// The request as filters see it; `access` is what it does to the topics it names.
    pub(crate) fn request_info(
        &self,
        parts: http::request::Parts,
        params: Vec<(String, String)>,
        body: Bytes,
        access: Access,
    ) -> Arc<crate::exchange::RequestInfo> {
        Arc::new(crate::exchange::RequestInfo {
            id: self.id.clone(),
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            route: self
                .route
                .as_ref()
                .map_or_else(|| UNMATCHED.into(), |r| r.name.clone()),
            params,
            headers: parts.headers,
            client: self.peer.addr,
            client_subject: self.peer.subject.clone(),
            received_at_ms: crate::clock::now_millis(),
            body,
            access,
            trace: self.trace.as_ref().map(|t| t.span.context.clone()),
        })
    }
}

/// What a streamed answer carried, counted by the stream as it goes.
#[derive(Default)]
pub(crate) struct Carried {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    /// How the stream ended, when it ended on its own: `completed`, `max_stream_ms`,
    /// `shutdown`, `request_timeout`, `failed`. Unset when the client left first.
    pub ended: OnceLock<&'static str>,
}

impl Carried {
    /// Counts records and bytes sent.
    pub(crate) fn sent(&self, records: usize, bytes: usize) {
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Says how the stream ended (the first word counts).
    pub(crate) fn ended(&self, how: &'static str) {
        let _ = self.ended.set(how);
    }
}

/// Marks `response` as a stream: its access log line and metrics wait for its end and report
/// what `carried` counted.
pub(crate) fn streamed(response: &mut HttpResponse, carried: &Arc<Carried>) {
    response.extensions_mut().insert(Streamed(carried.clone()));
}

#[derive(Clone)]
struct Streamed(Arc<Carried>);

/// A stream's body, which logs and counts the request when hyper is done with it: at its end,
/// or when the client leaves.
struct Finishing {
    body: Body,
    _ending: Ending,
}

impl hyper::body::Body for Finishing {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The end of a streamed request: its access log line and metrics.
struct Ending {
    route: Arc<Route>,
    id: String,
    started: Instant,
    status: StatusCode,
    carried: Arc<Carried>,
    trace: Option<Traced>,
}

impl Drop for Ending {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        let metrics = &self.route.metrics;
        let ended = self.carried.ended.get().copied().unwrap_or("client_gone");
        metrics.answered(self.status);
        metrics.duration.record(elapsed);
        metrics.stream_ended(ended);
        tracing::info!(
            target: "wafka::access",
            request_id = %self.id,
            route = %self.route.name,
            status = self.status.as_u16(),
            records = self.carried.records.load(Ordering::Relaxed),
            bytes = self.carried.bytes.load(Ordering::Relaxed),
            duration_us = elapsed.as_micros() as u64,
            ended,
            "stream"
        );
        if let Some(mut t) = self.trace.take() {
            t.span.set("wafka.stream.ended", ended);
            let records = self.carried.records.load(Ordering::Relaxed);
            t.span.set("wafka.stream.records", records as i64);
            t.tracer.end(t.span);
        }
    }
}
