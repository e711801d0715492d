//! What a filter's store holds for one request.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::chain::Step;
use super::output::OutputBudget;
use super::run_clock::RunClock;

/// Bytes of a filter's stderr kept to explain a trap (Rust panics print there).
const STDERR_CAPTURE: usize = 4096;

/// Store data: the resource table shared by every filter of the chain, a WASI context with no
/// filesystem, network or environment, and which filter is running.
pub struct StoreData {
    pub(crate) table: ResourceTable,
    /// Built on a filter's first WASI call: most requests make none, and building one costs
    /// more than the rest of the store.
    wasi: Option<(WasiCtx, MemoryOutputPipe)>,
    /// The filter now running: its name and config serve `log` and `config`.
    pub(crate) step: Option<Arc<Step>>,
    /// Request id and route, for log attribution.
    pub(crate) request_id: Arc<str>,
    pub(crate) route: Arc<str>,
    /// How long the running filter has run, and how long it may.
    pub(crate) clock: Arc<RunClock>,
    pub(crate) timeout: Duration,
    /// What filters may still create for this request.
    pub(crate) budget: OutputBudget,
    /// Bytes of linear memory and tables the store's instances have grown to.
    pub(crate) memory_bytes: usize,
}

impl StoreData {
    pub(crate) fn new(request_id: Arc<str>, route: Arc<str>) -> Self {
        StoreData {
            table: ResourceTable::new(),
            wasi: None,
            step: None,
            request_id,
            route,
            clock: Arc::default(),
            timeout: Duration::ZERO,
            budget: OutputBudget::default(),
            memory_bytes: 0,
        }
    }

    /// Whether a filter wrote to stderr in this store.
    pub(crate) fn wrote_stderr(&self) -> bool {
        self.wasi
            .as_ref()
            .is_some_and(|(_, stderr)| !stderr.contents().is_empty())
    }

    /// The running filter's keys in the `state` interface.
    pub(crate) fn scope(&self) -> wasmtime::Result<Arc<super::Scope>> {
        match &self.step {
            Some(step) => Ok(step.state.clone()),
            None => wasmtime::bail!("state used outside a filter call"),
        }
    }

    /// Marks `step` as the running filter, which may run for `timeout`.
    pub(crate) fn enter(&mut self, step: Arc<Step>, timeout: Duration) {
        self.step = Some(step);
        self.clock.reset();
        self.timeout = timeout;
    }

    /// Whether the running filter has used its time.
    pub(crate) fn past_deadline(&self) -> bool {
        self.clock.ran() >= self.timeout
    }

    /// What the filter wrote to stderr, e.g. a panic message.
    pub(crate) fn stderr_text(&self) -> String {
        self.wasi.as_ref().map_or_else(String::new, |(_, stderr)| {
            String::from_utf8_lossy(&stderr.contents())
                .trim()
                .to_owned()
        })
    }

    pub(crate) fn filter_name(&self) -> &str {
        self.step.as_ref().map_or("", |s| s.filter.name.as_str())
    }
}

/// Only watches: the pooling allocator enforces the limits.
impl wasmtime::ResourceLimiter for StoreData {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.memory_bytes += desired.saturating_sub(current);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (wasi, _) = self.wasi.get_or_insert_with(|| {
            let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
            // Nothing inherited: no env, args, preopened dirs or sockets.
            let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
            (wasi, stderr)
        });
        WasiCtxView {
            ctx: wasi,
            table: &mut self.table,
        }
    }
}
