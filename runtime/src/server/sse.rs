//! Server-sent events on a read route: `retry:` first, then one event per record whose `id:`
//! is the position after it (a client that reconnects with `Last-Event-ID` continues right
//! after the last event it saw, on any gateway), and a comment as heartbeat when idle.
//!
//! The body is pulled: the next batch is read only when hyper asks for more, so a client that
//! reads slowly holds the stream back through TCP instead of making the gateway buffer, and
//! one that stops reading is cut off by `server.write_timeout_ms`. The stream ends cleanly on
//! shutdown and after `read.max_stream_ms`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use tokio::sync::OwnedSemaphorePermit;

use super::call::{self, Call, Carried};
use super::filters::Filters;
use super::read::{Allowed, lag, reader, shape, too_many};
use super::{HttpResponse, Services};
use crate::error::RequestError;
use crate::exchange::Record;
use crate::memory::Memory;
use crate::read::streams::Registered;
use crate::read::{Position, Reading, render};
use crate::schemas::Registry;
use crate::snapshot::{Read, Route};

/// What the client waits before reconnecting, in milliseconds (`retry:`).
const RETRY_MS: u64 = 1000;

/// Everything a stream holds while it is open.
struct Stream {
    filters: Arc<Filters>,
    reading: Arc<Reading>,
    memory: Arc<Memory>,
    schemas: Option<Arc<Registry>>,
    stop: tokio::sync::watch::Receiver<bool>,
    route: Arc<Route>,
    read: Arc<Read>,
    allowed: Allowed,
    position: Position,
    id: String,
    opened: Instant,
    started: bool,
    /// Set once the stream must end after the chunk in hand.
    ended: bool,
    /// The memory of the chunk hyper is writing; given back when the next one is asked for.
    held: Option<crate::memory::Charge>,
    registered: Registered,
    /// What it sent and how it ended, for the access log line at its end.
    carried: Arc<Carried>,
    /// With `[tracing]`: the stream's own span, which each record's receive span links to.
    trace: Option<(Arc<crate::trace::Tracer>, crate::trace::SpanContext)>,
    _slots: (OwnedSemaphorePermit, OwnedSemaphorePermit),
}

/// Opens a stream from `position`, or 503 `too_many_readers` past the route's or the
/// gateway's bound.
pub(super) fn open(
    call: &Call<'_>,
    services: &Services,
    read: &Arc<Read>,
    allowed: Allowed,
    position: Position,
) -> Result<HttpResponse, RequestError> {
    let route = call
        .route
        .clone()
        .ok_or_else(|| RequestError::Internal("no route".into()))?;
    let route_slot = read
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| too_many("streams", &route))?;
    let reading = &services.reading;
    let slot = reading
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| too_many("streams", &route))?;
    let registered = reading.readers.register(reader("stream", call, &allowed));
    read.metrics.streams.increment(1);
    let carried = Arc::new(Carried::default());
    let producing = &services.producing;
    let stream = Stream {
        filters: producing.filters.clone(),
        reading: reading.clone(),
        memory: services.memory.clone(),
        schemas: producing.schemas.clone(),
        stop: services.stop.clone(),
        route,
        read: read.clone(),
        allowed,
        position,
        id: call.id.clone(),
        trace: call.trace().map(|(t, c)| (t.clone(), c.clone())),
        opened: Instant::now(),
        started: false,
        ended: false,
        held: None,
        registered,
        carried: carried.clone(),
        _slots: (route_slot, slot),
    };
    let body = SseBody {
        stream: Some(stream),
        next: None,
    };
    let mut response = http::Response::new(body.boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    // nginx and proxies that honour it pass each event on at once instead of buffering.
    headers.insert(
        http::HeaderName::from_static("x-accel-buffering"),
        http::HeaderValue::from_static("no"),
    );
    call::streamed(&mut response, &carried);
    Ok(response)
}

/// One step of a stream: the next chunk to send, or `None` to end.
type Step = Pin<Box<dyn Future<Output = (Stream, Option<Bytes>)> + Send>>;

struct SseBody {
    stream: Option<Stream>,
    next: Option<Step>,
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.next.is_none() {
            let Some(stream) = this.stream.take() else {
                return Poll::Ready(None);
            };
            this.next = Some(Box::pin(stream.next_chunk()));
        }
        let step = this.next.as_mut().expect("set above");
        match step.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((stream, chunk)) => {
                this.next = None;
                match chunk {
                    Some(chunk) => {
                        this.stream = Some(stream);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    None => Poll::Ready(None),
                }
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.read.metrics.streams.decrement(1);
    }
}

impl Stream {
    /// Waits for records (or a heartbeat's time) and renders them as events.
    async fn next_chunk(mut self) -> (Stream, Option<Bytes>) {
        self.held = None;
        if self.ended {
            return (self, None);
        }
        if !self.started {
            self.started = true;
            return (self, Some(Bytes::from(format!("retry: {RETRY_MS}\n\n"))));
        }
        let config = &self.read.config;
        let mut deadline = Instant::now() + Duration::from_millis(config.heartbeat_ms);
        if config.max_stream_ms > 0 {
            let end = self.opened + Duration::from_millis(config.max_stream_ms);
            if Instant::now() >= end {
                self.carried.ended("max_stream_ms");
                return (self, None);
            }
            deadline = deadline.min(end);
        }
        let mut stop = self.stop.clone();
        if *stop.borrow() {
            self.carried.ended("shutdown");
            return (self, None);
        }
        let reading = self.reading.clone();
        let read = reading
            .read(
                &self.allowed.tail,
                &self.position,
                config.max_records,
                config.max_bytes,
                deadline,
                &mut stop,
            )
            .await;
        let records = match read {
            Ok(records) if records.is_empty() => {
                if *stop.borrow() {
                    self.carried.ended("shutdown");
                    return (self, None);
                }
                return (self, Some(Bytes::from_static(b": heartbeat\n\n")));
            }
            Ok(records) => records,
            Err(error) => return self.failed(error),
        };
        let chunk = match self.events(records).await {
            Ok(chunk) => chunk,
            Err(error) => return self.failed(error),
        };
        // Sent only once the budget holds it; a stream that cannot get memory for a while
        // ends, and its client resumes later from the last event it saw.
        let memory = self.memory.clone();
        match memory
            .take(
                crate::memory::Use::Reads,
                chunk.len(),
                Duration::from_secs(5),
            )
            .await
        {
            Some(charge) => {
                self.held = Some(charge);
                (self, Some(chunk))
            }
            None => self.failed(RequestError::Overloaded),
        }
    }

    /// The events for `records`, each with the position after it as its id.
    async fn events(&mut self, records: Vec<Arc<Record>>) -> Result<Bytes, RequestError> {
        let topic = self.allowed.tail.topic().to_owned();
        // Positions after each record, before filters drop or reshape any.
        let mut ids = HashMap::with_capacity(records.len());
        let mut at = self.position.clone();
        for record in &records {
            if let (Some(p), Some(o)) = (record.partition, record.offset) {
                at.0.insert(p, o + 1);
            }
            ids.entry((record.partition, record.offset))
                .or_insert_with(|| at.encode(&topic));
        }
        let sent = shape(
            &self.filters,
            &self.route,
            &self.allowed,
            &mut self.position,
            records,
        )
        .await?;
        if let Some(registry) = self.schemas.as_deref() {
            // The stream has moved on: a value whose schema cannot be had is sent as it is.
            let _ = crate::schemas::records::ready_to_decode(registry, &sent).await;
        }
        if let Some((tracer, reader)) = &self.trace {
            tracer.received(&sent, reader, &self.route.name);
        }
        // Written in place: `render::write` gives one line of UTF-8, fit for `data:`.
        let ids_len = ids.values().next().map_or(0, String::len) + 16;
        let mut chunk = Vec::with_capacity(
            render::size_hint(&sent, self.read.config.format) + sent.len() * ids_len + 64,
        );
        let mut last = None;
        for record in &sent {
            let id: &str = match ids.get(&(record.partition, record.offset)) {
                Some(id) => id,
                None => last.get_or_insert_with(|| self.position.encode(&topic)),
            };
            chunk.extend_from_slice(b"id: ");
            chunk.extend_from_slice(id.as_bytes());
            chunk.extend_from_slice(b"\ndata: ");
            render::write(
                &mut chunk,
                record,
                self.read.config.format,
                self.schemas.as_deref(),
            );
            chunk.extend_from_slice(b"\n\n");
        }
        if sent.is_empty() {
            // Every record was filtered out: the client still moves past them.
            let id = self.position.encode(&topic);
            chunk.extend_from_slice(format!("id: {id}\n: filtered\n\n").as_bytes());
        }
        let lag = lag(&self.allowed.tail, &self.position);
        let metrics = &self.read.metrics;
        metrics.records.increment(sent.len() as u64);
        metrics.bytes.increment(chunk.len() as u64);
        metrics.lag.record(lag as f64);
        let reader = &self.registered.reader;
        reader
            .records
            .fetch_add(sent.len() as u64, Ordering::Relaxed);
        reader
            .bytes
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        reader.lag.store(lag, Ordering::Relaxed);
        self.carried.sent(sent.len(), chunk.len());
        Ok(Bytes::from(chunk))
    }

    /// A failure mid-stream: logged, counted in the route's failures, told to the client as an
    /// `error` event, and the stream ends (the client reconnects from its last id).
    fn failed(mut self, error: RequestError) -> (Stream, Option<Bytes>) {
        tracing::warn!(request_id = %self.id, route = %self.route.name, code = error.code(), "stream ended: {error}");
        self.route.metrics.failed(&error);
        self.carried.ended("failed");
        let data = serde_json::json!({ "code": error.code(), "message": error.message(self.route.error_details) });
        self.ended = true;
        (
            self,
            Some(Bytes::from(format!("event: error\ndata: {data}\n\n"))),
        )
    }
}
