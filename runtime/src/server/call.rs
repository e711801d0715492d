//! One request from arrival to answer: its id and clock, the snapshot it runs on, the route it
//! matched; and, once answered, the request-id header, the metrics and the access log line.

use std::sync::Arc;
use std::time::Instant;

use super::{HttpResponse, Peer};
use crate::gateway::Shared;
use crate::metrics::RouteMetrics;
use crate::snapshot::{Route, Snapshot};

/// Header carrying the request id, on the response and on every record.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// Route label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// What the steps of one request share.
pub(crate) struct Call<'a> {
    pub shared: &'a Arc<Shared>,
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
}

impl<'a> Call<'a> {
    pub(crate) fn start(shared: &'a Arc<Shared>, peer: Arc<Peer>) -> Self {
        Call {
            shared,
            id: shared.ids.next(),
            started: Instant::now(),
            snapshot: shared.snapshot.load_full(),
            peer,
            route: None,
            records: 0,
        }
    }

    /// The route's name, or `unmatched`.
    pub(crate) fn route_name(&self) -> &str {
        self.route.as_ref().map_or(UNMATCHED, |r| &r.name)
    }

    /// The route's metrics, or those of unmatched requests.
    pub(crate) fn metrics(&self) -> &RouteMetrics {
        self.route
            .as_ref()
            .map_or(&self.shared.unmatched, |r| &r.metrics)
    }

    /// Whether the client may see full error texts (`routes[].error_details`).
    pub(crate) fn error_details(&self) -> bool {
        self.route.as_ref().is_some_and(|r| r.error_details)
    }

    /// Stamps the request id on the answer, counts it and writes the access log line.
    pub(crate) fn finish(self, mut response: HttpResponse) -> HttpResponse {
        if let Ok(v) = http::HeaderValue::from_str(&self.id) {
            response.headers_mut().insert(REQUEST_ID, v);
        }
        let elapsed = self.started.elapsed();
        let status = response.status();
        let metrics = self.metrics();
        metrics.answered(status);
        metrics.duration.record(elapsed);
        tracing::info!(
            target: "wafka::access",
            request_id = %self.id,
            route = self.route_name(),
            status = status.as_u16(),
            records = self.records,
            duration_us = elapsed.as_micros() as u64,
            "request"
        );
        response
    }
}

impl Call<'_> {
    /// The request as filters see it.
    pub(crate) fn request_info(
        &self,
        parts: http::request::Parts,
        params: Vec<(String, String)>,
        body: bytes::Bytes,
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
        })
    }
}
