//! The wasmtime engine shared by every filter: compiled once, instantiated per request or kept
//! for many (a route's `reuse`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings;
use super::store::StoreData;
use crate::config::MemoryReset;

/// How often the epoch advances. A running filter yields to tokio and checks its deadline
/// once per tick, so this is also the deadline's resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Largest linear memory one filter instance may grow to.
pub const MAX_MEMORY_BYTES: usize = 64 << 20;

/// Instance slots beyond `server.max_filter_instances`, for checking configs: a reload goes
/// live even while requests hold every slot they may.
const CHECK_SLOTS: u32 = 16;

/// With [`MemoryReset::Pagemap`], how much of a memory the pages a request wrote may fill
/// and still be copied back in place; past it the rest is given back to the kernel. A filter
/// request writes far less (tens of KiB); it bounds the memory kept per instance slot.
const KEEP_RESIDENT: usize = 2 << 20;

impl MemoryReset {
    /// What `self` means on this machine, and why, for the log.
    pub fn resolve(self) -> Result<(MemoryReset, &'static str), String> {
        let pagemap = PoolingAllocationConfig::is_pagemap_scan_available();
        let swap = swap_possible();
        match self {
            MemoryReset::Decommit => Ok((MemoryReset::Decommit, "as configured")),
            MemoryReset::Pagemap if !pagemap => Err(
                "filters.memory_reset = \"pagemap\" needs the PAGEMAP_SCAN ioctl (Linux 6.7 or later)".into(),
            ),
            MemoryReset::Pagemap if swap => Err(
                "filters.memory_reset = \"pagemap\" needs swap off: the scan misses written pages that were swapped out".into(),
            ),
            MemoryReset::Pagemap => Ok((MemoryReset::Pagemap, "as configured")),
            MemoryReset::Auto if !pagemap => Ok((
                MemoryReset::Decommit,
                "the kernel has no PAGEMAP_SCAN ioctl (Linux 6.7 or later)",
            )),
            MemoryReset::Auto if swap => Ok((
                MemoryReset::Decommit,
                "swap is on, and a pagemap scan misses written pages that were swapped out",
            )),
            MemoryReset::Auto => Ok((MemoryReset::Pagemap, "PAGEMAP_SCAN available, swap off")),
        }
    }

    /// The name used in the config and the log.
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryReset::Auto => "auto",
            MemoryReset::Pagemap => "pagemap",
            MemoryReset::Decommit => "decommit",
        }
    }
}

/// True when some of this process's memory could be swapped out: a swap device is active and
/// the cgroup (v2) does not forbid swapping.
fn swap_possible() -> bool {
    let devices = std::fs::read_to_string("/proc/swaps")
        .map(|s| s.lines().skip(1).any(|l| !l.trim().is_empty()))
        // Unknown: assume the worst.
        .unwrap_or(true);
    if !devices {
        return false;
    }
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let v2_path = cgroup.lines().find_map(|l| l.strip_prefix("0::"));
    let swap_max = v2_path.and_then(|p| {
        std::fs::read_to_string(format!("/sys/fs/cgroup{}/memory.swap.max", p.trim())).ok()
    });
    swap_max.is_none_or(|max| max.trim() != "0")
}

/// Compiles filters and holds the linker that gives them their imports.
pub struct FilterEngine {
    engine: Engine,
    linker: Linker<StoreData>,
    ticker_stop: Arc<AtomicBool>,
    /// What filters keep across requests; here so it outlives reloads.
    state: super::SharedState,
    /// The bound on reused instances waiting for a request, across routes.
    idle: Arc<super::IdleSlots>,
}

impl FilterEngine {
    /// Builds the engine (pooling allocator, epoch interruption, memory reset as `reset`
    /// resolves on this machine) and starts the epoch ticker.
    /// Requests may hold `max_instances` instances at once (the caller bounds them), and as many
    /// reused instances may wait idle between requests.
    pub fn new(reset: MemoryReset, max_instances: usize) -> Result<Self, String> {
        let (reset, why) = reset.resolve()?;
        tracing::info!(memory_reset = reset.as_str(), why, "filter engine");
        let slots = u32::try_from(max_instances)
            .ok()
            .and_then(|n| n.checked_mul(2))
            .and_then(|n| n.checked_add(CHECK_SLOTS))
            .ok_or("server.max_filter_instances is too large")?;
        Self::build(reset, slots, max_instances).map_err(|e| format!("{e:#}"))
    }

    fn build(reset: MemoryReset, slots: u32, max_idle: usize) -> wasmtime::Result<Self> {
        let mut pool = PoolingAllocationConfig::new();
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
        if reset == MemoryReset::Pagemap {
            // Only written pages are copied back, so keeping more resident costs nothing per
            // request; tables are a page or two.
            pool.linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(64 << 10)
                .pagemap_scan(Enabled::Yes);
        }

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        config.enable_incremental_compilation(Arc::new(
            super::function_cache::FunctionCache::default(),
        ))?;
        if std::env::var_os("WAFKA_PERF_MAP").is_some() {
            // Names filter functions in `perf report` (writes /tmp/perf-PID.map).
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::ReadFilter::add_to_linker::<_, HasSelf<StoreData>>(&mut linker, |s| s)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), ticker_stop.clone());
        Ok(FilterEngine {
            engine,
            linker,
            ticker_stop,
            state: Default::default(),
            idle: Arc::new(super::IdleSlots::new(max_idle)),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with WASI and the Wafka host interfaces.
    pub fn linker(&self) -> &Linker<StoreData> {
        &self.linker
    }

    /// A pool for a route's reused instances of `filter`.
    pub fn pool(&self, policy: crate::config::ReuseConfig, filter: &str) -> super::InstancePool {
        super::InstancePool::new(policy, self.idle.clone(), filter)
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
