//! The route's filter chain as a step any endpoint runs: instance slots first, all at once (so
//! no chain waits holding some), then the chain.

use std::sync::Arc;
use std::time::Duration;

use super::call::Call;
use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};
use crate::filter::{self, ChainOutcome};
use crate::snapshot::Route;

/// How long a request waits for free filter instance slots before answering 503.
const SLOT_WAIT: Duration = Duration::from_secs(1);

/// Runs `route`'s filters over `request` and its `records`.
pub(crate) async fn run(
    call: &Call<'_>,
    route: &Route,
    request: Arc<RequestInfo>,
    records: Vec<Record>,
) -> Result<ChainOutcome, RequestError> {
    if route.steps.is_empty() {
        return Ok(ChainOutcome::Forward(records));
    }
    let wanted = u32::try_from(route.steps.len()).unwrap_or(u32::MAX);
    let acquire = call.shared.filter_slots.clone().acquire_many_owned(wanted);
    let _slots = match tokio::time::timeout(SLOT_WAIT, acquire).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(RequestError::Overloaded),
    };
    let engine = call.shared.engine.engine();
    filter::run(engine, &route.steps, request, records, route.limits).await
}
