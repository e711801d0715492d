//! What filters may create for one request, and what they may set: checked inside the host
//! calls that do it, so the filter that overdoes it or sets something illegal is the one
//! stopped and named.

use std::sync::Arc;

use super::chain::Limits;
use crate::memory::{Charge, Memory, Use};

/// Records and bytes filters may still create for one request: a filter cannot make the host
/// hold unbounded data (a million records, a huge value) on its behalf.
#[derive(Default)]
pub(crate) struct OutputBudget {
    records: usize,
    bytes: usize,
    /// What the data created is charged to in the gateway's memory budget, when there is one.
    memory: Option<Charge>,
}

/// The trap raised when the gateway's memory budget cannot hold what a filter creates: the
/// request is answered 503 `overloaded`, as a retry later may succeed.
#[derive(Debug, thiserror::Error)]
#[error("the gateway is short of memory for what the filter created")]
pub(crate) struct ShortOfMemory;

/// The trap raised when a filter passes its output budget.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct OutputLimit(String);

/// The trap raised when a filter sets a value the gateway cannot produce (an illegal topic,
/// a negative partition, an empty header name).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InvalidOutput(pub String);

impl OutputBudget {
    /// The budget of a request that starts with `existing` records, charged to `memory`.
    pub(crate) fn new(existing: usize, limits: Limits, memory: Option<&Arc<Memory>>) -> Self {
        OutputBudget {
            records: limits.max_records.saturating_sub(existing),
            bytes: limits.max_output_bytes,
            memory: memory.and_then(|m| m.try_take(Use::FilterOutput, 0)),
        }
    }

    /// Takes one more record of `bytes`, or fails the filter.
    pub(crate) fn record(&mut self, bytes: usize) -> wasmtime::Result<()> {
        self.records = self.records.checked_sub(1).ok_or_else(|| {
            OutputLimit("created more records than server.max_records allows".into())
        })?;
        self.bytes(bytes)
    }

    /// Takes `bytes` more of record data, or fails the filter.
    pub(crate) fn bytes(&mut self, bytes: usize) -> wasmtime::Result<()> {
        self.bytes = self.bytes.checked_sub(bytes).ok_or_else(|| {
            OutputLimit("wrote more record data than server.max_output_bytes allows".into())
        })?;
        if let Some(charge) = &mut self.memory
            && !charge.grow(bytes)
        {
            return Err(ShortOfMemory.into());
        }
        Ok(())
    }
}

/// A topic a filter sets: Kafka's own rule, the one the SDK checks too.
pub(crate) fn topic(topic: &str) -> wasmtime::Result<()> {
    wafka_sdk::topic::check_name(topic).map_err(|reason| InvalidOutput(reason).into())
}

/// An explicit partition a filter sets.
pub(crate) fn partition(partition: Option<i32>) -> wasmtime::Result<()> {
    match partition {
        Some(p) if p < 0 => Err(InvalidOutput(format!("partition {p} is negative")).into()),
        _ => Ok(()),
    }
}

/// A record header name a filter sets.
pub(crate) fn header_name(name: &str) -> wasmtime::Result<()> {
    if name.is_empty() {
        return Err(InvalidOutput("a record header name is empty".into()).into());
    }
    Ok(())
}
