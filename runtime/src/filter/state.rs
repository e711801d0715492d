//! What a filter's store holds for one request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::chain::Step;

/// Bytes of a filter's stderr kept to explain a trap (Rust panics print there).
const STDERR_CAPTURE: usize = 4096;

/// Store data: the resource table shared by every filter of the chain, a WASI context with no
/// filesystem, network or environment, and which filter is running.
pub struct FilterState {
    pub(crate) table: ResourceTable,
    wasi: WasiCtx,
    stderr: MemoryOutputPipe,
    /// The filter now running: its name and config serve `log` and `config`.
    pub(crate) step: Option<Arc<Step>>,
    /// Request id and route, for log attribution.
    pub(crate) request_id: Arc<str>,
    pub(crate) route: Arc<str>,
    /// When the running filter must be stopped.
    pub(crate) deadline: Instant,
    /// What filters may still create for this request.
    pub(crate) budget: Budget,
}

/// Records and bytes filters may still create for one request: a filter cannot make the host
/// hold unbounded data (a million records, a huge value) on its behalf.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    records: usize,
    bytes: usize,
}

/// The trap raised when a filter exceeds its budget.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct OutputLimit(String);

impl Budget {
    pub(crate) fn new(existing: usize, limits: super::chain::Limits) -> Self {
        Budget {
            records: limits.max_records.saturating_sub(existing),
            bytes: limits.max_output_bytes,
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
        Ok(())
    }
}

impl FilterState {
    /// The running filter's keys in the `state` interface.
    pub(crate) fn scope(&self) -> wasmtime::Result<Arc<super::Scope>> {
        match &self.step {
            Some(step) => Ok(step.state.clone()),
            None => wasmtime::bail!("state used outside a filter call"),
        }
    }

    pub(crate) fn new(request_id: Arc<str>, route: Arc<str>) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        // Nothing inherited: no env, args, preopened dirs or sockets.
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        FilterState {
            table: ResourceTable::new(),
            wasi,
            stderr,
            step: None,
            request_id,
            route,
            deadline: Instant::now(),
            budget: Budget {
                records: 0,
                bytes: 0,
            },
        }
    }

    /// Marks `step` as the running filter, with `timeout` from now to finish.
    pub(crate) fn enter(&mut self, step: Arc<Step>, timeout: Duration) {
        self.step = Some(step);
        self.deadline = Instant::now() + timeout;
    }

    /// What the filter wrote to stderr, e.g. a panic message.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }

    pub(crate) fn filter_name(&self) -> &str {
        self.step.as_ref().map_or("", |s| s.filter.name.as_str())
    }
}

impl WasiView for FilterState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
