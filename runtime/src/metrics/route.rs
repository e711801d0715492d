//! Per-route handles: registered when the route is built, so the request path only increments.
//! Statuses and error codes are filled in on first use (a bounded set: HTTP statuses and the
//! gateway's error codes).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use metrics::{Counter, Histogram};

use super::{HTTP_BODY_BYTES, HTTP_DURATION, HTTP_ERRORS, HTTP_REQUESTS, HTTP_STREAMS_ENDED};
use crate::error::RequestError;

/// Statuses 100 to 599.
const STATUSES: usize = 500;

/// The HTTP metrics of one route (or of the requests no route matched).
pub struct RouteMetrics {
    route: Arc<str>,
    requests: Box<[OnceLock<Counter>]>,
    errors: RwLock<HashMap<&'static str, Counter>>,
    streams: RwLock<HashMap<&'static str, Counter>>,
    /// Time from request received to response ready.
    pub duration: Histogram,
    /// Request body bytes received.
    pub body_bytes: Counter,
}

impl RouteMetrics {
    /// Registers the handles of `route`.
    pub fn new(route: &str) -> Self {
        let label = route.to_owned();
        RouteMetrics {
            route: route.into(),
            requests: (0..STATUSES).map(|_| OnceLock::new()).collect(),
            errors: RwLock::default(),
            streams: RwLock::default(),
            duration: metrics::histogram!(HTTP_DURATION, "route" => label.clone()),
            body_bytes: metrics::counter!(HTTP_BODY_BYTES, "route" => label),
        }
    }

    /// Counts one answer with `status`.
    pub fn answered(&self, status: http::StatusCode) {
        let Some(slot) = (status.as_u16() as usize)
            .checked_sub(100)
            .and_then(|i| self.requests.get(i))
        else {
            return;
        };
        slot.get_or_init(|| {
            metrics::counter!(HTTP_REQUESTS, "route" => self.route.to_string(), "status" => status.as_str().to_owned())
        })
        .increment(1);
    }

    /// Counts one failure by its code and blame.
    pub fn failed(&self, error: &RequestError) {
        let code = error.code();
        count(&self.errors, code, || {
            metrics::counter!(
                HTTP_ERRORS,
                "route" => self.route.to_string(),
                "code" => code,
                "blame" => error.blame().as_str()
            )
        });
    }

    /// Counts one streamed answer that ended, by how (`completed`, `client_gone`, `failed`…).
    pub fn stream_ended(&self, how: &'static str) {
        count(
            &self.streams,
            how,
            || metrics::counter!(HTTP_STREAMS_ENDED, "route" => self.route.to_string(), "ended" => how),
        );
    }
}

/// Increments the counter of `key`, registered on first use.
fn count(
    counters: &RwLock<HashMap<&'static str, Counter>>,
    key: &'static str,
    register: impl FnOnce() -> Counter,
) {
    let read = counters.read().unwrap_or_else(|e| e.into_inner());
    if let Some(counter) = read.get(key) {
        counter.increment(1);
        return;
    }
    drop(read);
    let counter = register();
    counter.increment(1);
    let mut write = counters.write().unwrap_or_else(|e| e.into_inner());
    write.insert(key, counter);
}
