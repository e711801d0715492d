//! Runs a route's filters over one request.
//!
//! Filters with fresh instances (the default) share one store per request, so records pass from
//! one to the next as table handles, never copied through guest memory; each is one
//! instantiation and one call, and dropping the store gives the instances back to the pool
//! allocator, which resets their memory (see [`crate::config::MemoryReset`]). A filter whose
//! route reuses its instances runs in the store of an instance from its [`InstancePool`]: the
//! records move into that store's table and out again, without a copy either.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::component::Resource;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use super::bindings::{Outcome, Response, produce};
use super::host::RequestRef;
use super::loaded::LoadedFilter;
use super::output::{InvalidOutput, OutputBudget, OutputLimit, ShortOfMemory};
use super::reuse::{InstancePool, Pooled};
use super::store::StoreData;
use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};
use crate::memory::Memory;

/// One filter in a route's chain with that route's config for it.
pub struct Step {
    /// The compiled filter.
    pub filter: Arc<LoadedFilter>,
    /// The route's config for it, as JSON.
    pub config_json: Arc<str>,
    /// Its keys in the `state` interface.
    pub state: Arc<super::Scope>,
    /// Whether it wants records read for this route (`consume.sees-records`).
    pub sees_records: bool,
    /// The identity providers it may use by name (the snapshot's).
    pub identity: Arc<crate::identity::Providers>,
    /// The schema registry it may use by subject and id, when the gateway has one.
    pub schemas: Option<Arc<crate::schemas::Registry>>,
    /// Its idle instances when the route reuses them; none: a fresh instance per request.
    pub pool: Option<InstancePool>,
}

/// What one request's filters may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time each filter may run ([`super::run_clock`]).
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

/// Which export a chain calls.
#[derive(Debug, Clone, Copy)]
enum Export {
    /// `produce.on-request`: a request on its way to Kafka.
    OnRequest,
    /// `consume.on-records`: records read for a client.
    OnRecords,
}

/// Runs `steps` in order over `records`, within `limits`; what they create is charged to
/// `memory` when given.
pub async fn run(
    engine: &Engine,
    steps: &[Arc<Step>],
    request: Arc<RequestInfo>,
    records: Vec<Record>,
    limits: Limits,
    memory: Option<&Arc<Memory>>,
) -> Result<ChainOutcome, RequestError> {
    if steps.is_empty() {
        return Ok(ChainOutcome::Forward(records));
    }
    let mut chain = Chain::new(engine, request, records, limits, memory);
    for step in steps {
        if let Some(response) = chain.step(step, Export::OnRequest).await? {
            return Ok(ChainOutcome::Respond(response));
        }
    }
    chain.into_records().map(ChainOutcome::Forward)
}

/// Runs `on-records` of the `steps` that see records over `records` read for `request`, in
/// chain order: what the client of a read route is sent.
pub async fn run_consume(
    engine: &Engine,
    steps: &[Arc<Step>],
    request: Arc<RequestInfo>,
    records: Vec<Record>,
    limits: Limits,
    memory: Option<&Arc<Memory>>,
) -> Result<Vec<Record>, RequestError> {
    let seeing: Vec<&Arc<Step>> = steps.iter().filter(|s| s.sees_records).collect();
    if seeing.is_empty() || records.is_empty() {
        return Ok(records);
    }
    let mut chain = Chain::new(engine, request, records, limits, memory);
    for step in seeing {
        chain.step(step, Export::OnRecords).await?;
    }
    chain.into_records()
}

/// Where one request's records are between filters.
enum Held {
    /// On the host, with what filters may still create.
    Host(Vec<Record>, OutputBudget),
    /// In the store of the fresh instances run so far.
    Fresh(RequestStore),
}

/// One request going through a chain.
struct Chain<'a> {
    engine: &'a Engine,
    request: Arc<RequestInfo>,
    timeout: Duration,
    /// None once a failed step lost them (and ended the request).
    held: Option<Held>,
}

impl<'a> Chain<'a> {
    fn new(
        engine: &'a Engine,
        request: Arc<RequestInfo>,
        records: Vec<Record>,
        limits: Limits,
        memory: Option<&Arc<Memory>>,
    ) -> Self {
        let budget = OutputBudget::new(records.len(), limits, memory);
        Chain {
            engine,
            request,
            timeout: limits.timeout,
            held: Some(Held::Host(records, budget)),
        }
    }

    /// Runs `step` over the records, counting its outcome. `Ok(Some(_))`: it answered the
    /// client.
    async fn step(
        &mut self,
        step: &Arc<Step>,
        export: Export,
    ) -> Result<Option<http::Response<Bytes>>, RequestError> {
        let metrics = &step.filter.metrics;
        let started = Instant::now();
        let result = match &step.pool {
            None => self.fresh(step, export).await,
            Some(pool) => self.reused(step, pool, export).await,
        };
        metrics.duration.record(started.elapsed());
        match &result {
            Ok(None) => metrics.ok.increment(1),
            Ok(Some(_)) => metrics.rejected.increment(1),
            Err(RequestError::FilterTimeout { .. }) => metrics.timed_out.increment(1),
            Err(RequestError::FilterInvalidOutput { .. }) => metrics.invalid.increment(1),
            Err(_) => metrics.trapped.increment(1),
        }
        result
    }

    /// `step` on a new instance in the request's store.
    async fn fresh(
        &mut self,
        step: &Arc<Step>,
        export: Export,
    ) -> Result<Option<http::Response<Bytes>>, RequestError> {
        let mut store = match self.take()? {
            Held::Fresh(store) => store,
            Held::Host(records, budget) => {
                let id = self.request.id.as_str().into();
                let store = new_store(self.engine, id, self.request.route.clone());
                let request = self.request.clone();
                RequestStore::around(store, request, records, budget, self.timeout)?
            }
        };
        step.filter.metrics.fresh.increment(1);
        let mut instance = store.instantiate(step).await?;
        let answer = store.call_export(&mut instance, export).await?;
        self.held = Some(Held::Fresh(store));
        Ok(answer)
    }

    /// `step` on an instance from `pool`, or a new one that goes there after.
    async fn reused(
        &mut self,
        step: &Arc<Step>,
        pool: &InstancePool,
        export: Export,
    ) -> Result<Option<http::Response<Bytes>>, RequestError> {
        let (records, budget) = match self.take()? {
            Held::Host(records, budget) => (records, budget),
            Held::Fresh(store) => store.release()?.0,
        };
        let request = self.request.clone();
        let (mut store, mut instance, served, born) = match pool.take() {
            Some(mut pooled) => {
                pooled.store.data_mut().request_id = request.id.as_str().into();
                let mut store =
                    RequestStore::around(pooled.store, request, records, budget, self.timeout)?;
                enter(&mut store.store, step.clone(), self.timeout);
                let instance = Instance {
                    instance: pooled.instance,
                    step: step.clone(),
                    produce: pooled.produce,
                };
                (store, instance, pooled.served, pooled.born)
            }
            None => {
                let id = request.id.as_str().into();
                let store = new_store(self.engine, id, request.route.clone());
                let mut store =
                    RequestStore::around(store, request, records, budget, self.timeout)?;
                step.filter.metrics.pooled.increment(1);
                let instance = store
                    .instantiate(step)
                    .await
                    .inspect_err(|_| pool.failed())?;
                (store, instance, 0, Instant::now())
            }
        };
        let answer = store
            .call_export(&mut instance, export)
            .await
            .inspect_err(|_| pool.failed())?;
        let ((records, budget), store) = store.release()?;
        self.held = Some(Held::Host(records, budget));
        pool.give_back(Pooled {
            store,
            instance: instance.instance,
            produce: instance.produce,
            served: served + 1,
            born,
        });
        Ok(answer)
    }

    /// The records the last filter forwarded.
    fn into_records(mut self) -> Result<Vec<Record>, RequestError> {
        match self.take()? {
            Held::Host(records, _) => Ok(records),
            Held::Fresh(store) => Ok(store.release()?.0.0),
        }
    }

    /// The records where they are, until a step puts them back: a step that fails ends the
    /// request, and nothing runs after it.
    fn take(&mut self) -> Result<Held, RequestError> {
        self.held
            .take()
            .ok_or_else(|| RequestError::Internal("records lost".into()))
    }
}

/// A filter instantiated in a [`RequestStore`], ready to be called.
pub struct Instance {
    instance: wasmtime::component::Instance,
    step: Arc<Step>,
    /// Its `produce` export, looked up (and type-checked) on the first call: a reused instance
    /// keeps it for the next request.
    produce: Option<produce::Guest>,
}

/// One request's store: the request and its records as host resources, and the filters that
/// run in it. Public so benchmarks can time each phase.
pub struct RequestStore {
    store: Store<StoreData>,
    request: Resource<RequestRef>,
    records: Vec<Resource<Record>>,
    /// Wall time each filter gets.
    timeout: Duration,
}

/// What [`RequestStore::release`] takes out: the records, what filters may still create, and
/// the store with no request in it.
type Released = ((Vec<Record>, OutputBudget), Store<StoreData>);

impl RequestStore {
    /// A store for `request` holding `records`, with `limits` on what filters may create,
    /// charged to `memory` when given.
    pub fn new(
        engine: &Engine,
        request: Arc<RequestInfo>,
        records: Vec<Record>,
        limits: Limits,
        memory: Option<&Arc<Memory>>,
    ) -> Result<Self, RequestError> {
        let store = new_store(engine, request.id.as_str().into(), request.route.clone());
        let budget = OutputBudget::new(records.len(), limits, memory);
        Self::around(store, request, records, budget, limits.timeout)
    }

    /// `store` holding `request` and `records`, with `budget` left for what filters create.
    fn around(
        mut store: Store<StoreData>,
        request: Arc<RequestInfo>,
        records: Vec<Record>,
        budget: OutputBudget,
        timeout: Duration,
    ) -> Result<Self, RequestError> {
        let data = store.data_mut();
        data.budget = budget;
        let table = &mut data.table;
        let request = table.push(RequestRef(request)).map_err(internal)?;
        let records = records
            .into_iter()
            .map(|r| table.push(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        Ok(RequestStore {
            store,
            request,
            records,
            timeout,
        })
    }

    /// Takes the request, its records and its budget out of the store, and gives the store
    /// back with no filter running in it (so it holds no [`Step`], which holds the pool).
    fn release(self) -> Result<Released, RequestError> {
        let RequestStore {
            mut store,
            request,
            records,
            ..
        } = self;
        let data = store.data_mut();
        data.step = None;
        let budget = std::mem::take(&mut data.budget);
        let table = &mut data.table;
        table.delete(request).map_err(internal)?;
        let records = records
            .into_iter()
            .map(|h| table.delete(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        Ok(((records, budget), store))
    }

    /// Instantiates `step`'s filter; its time counts from here and covers the call too.
    pub async fn instantiate(&mut self, step: &Arc<Step>) -> Result<Instance, RequestError> {
        let timeout = self.timeout;
        enter(&mut self.store, step.clone(), timeout);
        let clock = self.store.data().clock.clone();
        let instantiated = clock
            .time(step.filter.pre.instantiate_async(&mut self.store))
            .await;
        match instantiated {
            Ok(instance) => Ok(Instance {
                instance,
                step: step.clone(),
                produce: None,
            }),
            Err(e) => Err(filter_error(&e, self.store.data(), timeout)),
        }
    }

    async fn call_export(
        &mut self,
        instance: &mut Instance,
        export: Export,
    ) -> Result<Option<http::Response<Bytes>>, RequestError> {
        match export {
            Export::OnRequest => self.call(instance).await,
            Export::OnRecords => self.call_consume(instance).await.map(|()| None),
        }
    }

    /// Calls the filter's `on-request` with the records so far. `Ok(None)`: it forwarded, and
    /// the store now holds the records it returned; `Ok(Some(_))`: it answered the client.
    pub async fn call(
        &mut self,
        instance: &mut Instance,
    ) -> Result<Option<http::Response<Bytes>>, RequestError> {
        let request = Resource::<RequestRef>::new_borrow(self.request.rep());
        let records = std::mem::take(&mut self.records);
        let clock = self.store.data().clock.clone();
        if instance.produce.is_none() {
            let indices = &instance.step.filter.produce;
            match indices.load(&mut self.store, &instance.instance) {
                Ok(produce) => instance.produce = Some(produce),
                Err(e) => return Err(filter_error(&e, self.store.data(), self.timeout)),
            }
        }
        let produce = instance.produce.as_ref().expect("looked up above");
        let call = produce.call_on_request(&mut self.store, request, &records);
        let outcome = clock.time(call).await;
        let data = self.store.data();
        match outcome {
            Ok(Outcome::Forward(next)) => {
                self.records = next;
                Ok(None)
            }
            Ok(Outcome::Respond(response)) => {
                to_http(response)
                    .map(Some)
                    .map_err(|reason| RequestError::FilterInvalidOutput {
                        filter: data.filter_name().to_owned(),
                        reason,
                    })
            }
            Err(e) => Err(filter_error(&e, data, self.timeout)),
        }
    }

    /// Calls the filter's `consume.on-records` with the records held; the store then holds
    /// the ones it returned.
    pub async fn call_consume(&mut self, instance: &Instance) -> Result<(), RequestError> {
        let request = Resource::<RequestRef>::new_borrow(self.request.rep());
        let records = std::mem::take(&mut self.records);
        let Some(consume) = &instance.step.filter.consume else {
            self.records = records;
            return Ok(());
        };
        let clock = self.store.data().clock.clone();
        let returned = match consume.load(&mut self.store, &instance.instance) {
            Ok(consume) => {
                let call = consume.call_on_records(&mut self.store, request, &records);
                clock.time(call).await
            }
            Err(e) => Err(e),
        };
        match returned {
            Ok(kept) => {
                self.records = kept;
                Ok(())
            }
            Err(e) => Err(filter_error(&e, self.store.data(), self.timeout)),
        }
    }
}

fn internal(e: wasmtime::component::ResourceTableError) -> RequestError {
    RequestError::Internal(e.to_string())
}

/// A store whose filters yield to tokio every epoch tick and trap once they have run past
/// their time ([`super::run_clock`]).
pub(crate) fn new_store(
    engine: &Engine,
    request_id: Arc<str>,
    route: Arc<str>,
) -> Store<StoreData> {
    let mut store = Store::new(engine, StoreData::new(request_id, route));
    store.limiter(|data| data);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|ctx| {
        Ok(if ctx.data().past_deadline() {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    store
}

/// Marks `step` as the filter running in `store`, which may run for `timeout`. The next yield
/// is a tick away: a pooled store's epoch deadline passed while it waited, and would make the
/// call yield before it did anything.
pub(crate) fn enter(store: &mut Store<StoreData>, step: Arc<Step>, timeout: Duration) {
    store.data_mut().enter(step, timeout);
    store.set_epoch_deadline(1);
}

/// A trap or instantiation failure as the request's error, naming the filter that failed.
fn filter_error(e: &wasmtime::Error, state: &StoreData, timeout: Duration) -> RequestError {
    let filter = state.filter_name().to_owned();
    if e.downcast_ref::<ShortOfMemory>().is_some() {
        return RequestError::Overloaded;
    }
    if let Some(limit) = e.downcast_ref::<OutputLimit>() {
        return RequestError::FilterOutputTooLarge {
            filter,
            reason: limit.to_string(),
        };
    }
    if let Some(InvalidOutput(reason)) = e.downcast_ref::<InvalidOutput>() {
        return RequestError::FilterInvalidOutput {
            filter,
            reason: reason.clone(),
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
pub(crate) fn describe_trap(e: &wasmtime::Error, state: &StoreData) -> String {
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
