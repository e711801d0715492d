//! Runs a route's filters over one request.
//!
//! One store per request holds every filter of the chain, so records pass from one filter to
//! the next as table handles, never copied through guest memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::component::Resource;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use super::bindings::{Outcome, Response};
use super::host::RequestRef;
use super::loaded::LoadedFilter;
use super::state::{Budget, FilterState, OutputLimit};
use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};

/// One filter in a route's chain with that route's config for it.
pub struct Step {
    /// The compiled filter.
    pub filter: Arc<LoadedFilter>,
    /// The route's config for it, as JSON.
    pub config_json: Arc<str>,
    /// Its keys in the `state` interface.
    pub state: Arc<super::Scope>,
}

/// What one request's filters may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall time each filter gets.
    pub timeout: Duration,
    /// Most records the request may become.
    pub max_records: usize,
    /// Most bytes of record data filters may create.
    pub max_output_bytes: usize,
}

/// How a chain ended.
#[derive(Debug)]
pub enum ChainOutcome {
    /// Produce these records.
    Forward(Vec<Record>),
    /// A filter answered the client itself.
    Respond(http::Response<Bytes>),
}

/// A store whose filters yield to tokio every epoch tick and trap once past their deadline.
pub(crate) fn new_store(
    engine: &Engine,
    request_id: Arc<str>,
    route: Arc<str>,
) -> Store<FilterState> {
    let mut store = Store::new(engine, FilterState::new(request_id, route));
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|ctx| {
        Ok(if Instant::now() >= ctx.data().deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    store
}

/// Runs `steps` in order over `records`, within `limits`.
pub async fn run(
    engine: &Engine,
    steps: &[Arc<Step>],
    request: Arc<RequestInfo>,
    records: Vec<Record>,
    limits: Limits,
) -> Result<ChainOutcome, RequestError> {
    if steps.is_empty() {
        return Ok(ChainOutcome::Forward(records));
    }
    let timeout = limits.timeout;
    let mut store = new_store(engine, request.id.as_str().into(), request.route.clone());
    store.data_mut().budget = Budget::new(records.len(), limits);
    let internal =
        |e: wasmtime::component::ResourceTableError| RequestError::Internal(e.to_string());
    let table = &mut store.data_mut().table;
    let req = table.push(RequestRef(request)).map_err(internal)?;
    let mut handles = records
        .into_iter()
        .map(|r| table.push(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;

    for step in steps {
        let metrics = &step.filter.metrics;
        let started = Instant::now();
        store.data_mut().enter(step.clone(), timeout);
        let outcome = match step.filter.pre.instantiate_async(&mut store).await {
            Ok(instance) => {
                let borrowed = Resource::<RequestRef>::new_borrow(req.rep());
                instance
                    .wafka_filter_produce()
                    .call_on_request(&mut store, borrowed, &handles)
                    .await
            }
            Err(e) => Err(e),
        };
        metrics.duration.record(started.elapsed());
        match outcome {
            Ok(Outcome::Forward(next)) => {
                metrics.ok.increment(1);
                handles = next;
            }
            Ok(Outcome::Respond(response)) => {
                let response = to_http(response).map_err(|reason| {
                    metrics.invalid.increment(1);
                    RequestError::FilterInvalidOutput {
                        filter: step.filter.name.clone(),
                        reason,
                    }
                })?;
                metrics.rejected.increment(1);
                return Ok(ChainOutcome::Respond(response));
            }
            Err(e) => {
                let error = filter_error(&e, store.data(), timeout);
                match error {
                    RequestError::FilterTimeout { .. } => metrics.timed_out.increment(1),
                    _ => metrics.trapped.increment(1),
                }
                return Err(error);
            }
        }
    }

    let table = &mut store.data_mut().table;
    let records = handles
        .into_iter()
        .map(|h| table.delete(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Ok(ChainOutcome::Forward(records))
}

/// A trap or instantiation failure as the client-facing error.
fn filter_error(e: &wasmtime::Error, state: &FilterState, timeout: Duration) -> RequestError {
    let filter = state.filter_name().to_owned();
    if let Some(limit) = e.downcast_ref::<OutputLimit>() {
        return RequestError::FilterOutputTooLarge {
            filter,
            reason: limit.to_string(),
        };
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return RequestError::FilterTimeout {
            filter,
            timeout_ms: timeout.as_millis() as u64,
        };
    }
    RequestError::FilterFailed {
        filter,
        reason: describe_trap(e, state),
    }
}

/// The trap message, followed by what the filter printed to stderr (a panic message).
pub(crate) fn describe_trap(e: &wasmtime::Error, state: &FilterState) -> String {
    let trap = e
        .downcast_ref::<Trap>()
        .map_or_else(|| format!("{e:#}"), |t| t.to_string());
    match state.stderr_text() {
        text if text.is_empty() => trap,
        text => format!("{trap}: {text}"),
    }
}

fn to_http(response: Response) -> Result<http::Response<Bytes>, String> {
    let status = http::StatusCode::from_u16(response.status)
        .ok()
        .filter(|s| !s.is_informational())
        .ok_or_else(|| format!("status {} is not a final HTTP status", response.status))?;
    let mut builder = http::Response::builder().status(status);
    let mut has_content_type = false;
    for header in response.headers {
        let name = http::HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| format!("bad header name {:?}", header.name))?;
        let value = http::HeaderValue::from_bytes(&header.value)
            .map_err(|_| format!("bad value for header {name}"))?;
        has_content_type |= name == http::header::CONTENT_TYPE;
        builder = builder.header(name, value);
    }
    if !has_content_type {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(Bytes::from(response.body))
        .map_err(|e| e.to_string())
}
