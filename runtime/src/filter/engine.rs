//! The wasmtime engine shared by every filter: compiled once, instantiated per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings;
use super::state::FilterState;

/// How often the epoch advances. A running filter yields to tokio and checks its deadline
/// once per tick, so this is also the deadline's resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Largest linear memory one filter instance may grow to.
pub const MAX_MEMORY_BYTES: usize = 64 << 20;

/// Filter instances that may exist at once across all requests (the pooling allocator's
/// slots); requests wait for free slots rather than fail to instantiate.
pub const MAX_INSTANCES: usize = 1000;

/// Compiles filters and holds the linker that gives them their imports.
pub struct FilterEngine {
    engine: Engine,
    linker: Linker<FilterState>,
    ticker_stop: Arc<AtomicBool>,
    /// What filters keep across requests; here so it outlives reloads.
    state: super::SharedState,
}

impl FilterEngine {
    /// Builds the engine (pooling allocator, epoch interruption) and starts the epoch ticker.
    pub fn new() -> wasmtime::Result<Self> {
        let mut pool = PoolingAllocationConfig::new();
        let slots = MAX_INSTANCES as u32;
        pool.total_component_instances(slots)
            // A Rust component is a few core modules (program, WASI adapter, shims).
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 4)
            .total_stacks(slots)
            .max_memory_size(MAX_MEMORY_BYTES)
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(8);

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Filter::add_to_linker::<_, HasSelf<FilterState>>(&mut linker, |s| s)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), ticker_stop.clone());
        Ok(FilterEngine {
            engine,
            linker,
            ticker_stop,
            state: Default::default(),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with WASI and the Wafka host interfaces.
    pub fn linker(&self) -> &Linker<FilterState> {
        &self.linker
    }

    /// State filters keep across requests, by route and filter.
    pub fn state(&self) -> &super::SharedState {
        &self.state
    }
}

impl Drop for FilterEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn spawn_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("wafka-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawn epoch ticker thread");
}
