//! A route's filter chain as a step any endpoint runs: instance slots first, all at once (so
//! no chain waits holding some), then the chain.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};
use crate::filter::{self, ChainOutcome, FilterEngine};
use crate::memory::Memory;
use crate::snapshot::Route;

/// How long a request waits for free filter instance slots before answering 503.
const SLOT_WAIT: Duration = Duration::from_secs(1);

/// What running filters takes: the engine, the instance slots, the memory budget their
/// output is charged to.
pub(crate) struct Filters {
    pub engine: Arc<FilterEngine>,
    /// One permit per filter instance requests may hold (`server.max_filter_instances`).
    pub slots: Arc<Semaphore>,
    pub memory: Arc<Memory>,
}

impl Filters {
    /// Runs `route`'s filters over `request` and its `records`.
    pub(crate) async fn run(
        &self,
        route: &Route,
        request: Arc<RequestInfo>,
        records: Vec<Record>,
    ) -> Result<ChainOutcome, RequestError> {
        if route.steps.is_empty() {
            return Ok(ChainOutcome::Forward(records));
        }
        let _slots = self.slots(route.steps.len()).await?;
        let engine = self.engine.engine();
        let memory = Some(&self.memory);
        filter::run(engine, &route.steps, request, records, route.limits, memory).await
    }

    /// Runs the `on-records` of `route`'s filters that see records over records read for
    /// `request`: what a reader is sent.
    pub(crate) async fn run_consume(
        &self,
        route: &Route,
        request: Arc<RequestInfo>,
        records: Vec<Record>,
    ) -> Result<Vec<Record>, RequestError> {
        let seeing = route.steps.iter().filter(|s| s.sees_records).count();
        if seeing == 0 || records.is_empty() {
            return Ok(records);
        }
        let _slots = self.slots(seeing).await?;
        let engine = self.engine.engine();
        let memory = Some(&self.memory);
        filter::run_consume(engine, &route.steps, request, records, route.limits, memory).await
    }

    async fn slots(&self, count: usize) -> Result<OwnedSemaphorePermit, RequestError> {
        let wanted = u32::try_from(count).unwrap_or(u32::MAX);
        let acquire = self.slots.clone().acquire_many_owned(wanted);
        match tokio::time::timeout(SLOT_WAIT, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(RequestError::Overloaded),
        }
    }
}
