//! Instances kept between requests for filters whose route opts in (`reuse = { … }`).
//!
//! Each route's filter entry has its own pool, built with the snapshot: an instance never
//! serves another route, another config or another version of the filter, and a reload retires
//! every instance the old snapshot pooled. A WIT 0.1 component is entered by one call at a time,
//! so an instance serves its requests one after another; concurrency comes from several
//! instances. An instance goes back to the pool only after a clean call that left nothing
//! behind in the host: any failure, a handle it kept, a line on stderr, memory grown past the
//! policy's bound, its request count or its age retires it.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::store::StoreData;
use crate::config::ReuseConfig;
use crate::metrics::{FILTER_IDLE_INSTANCES, FILTER_INSTANCES_RETIRED};

/// An instance that served requests, waiting for its next one.
pub(crate) struct Pooled {
    pub store: Store<StoreData>,
    pub instance: wasmtime::component::Instance,
    /// Its `produce` export, once looked up.
    pub produce: Option<super::bindings::produce::Guest>,
    /// Requests it has served.
    pub served: u32,
    pub born: Instant,
}

/// Why an instance was retired: the `reason` label of its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retired {
    /// It trapped, ran into its deadline or a limit, or made a host call wrongly.
    Failed,
    /// It kept a handle to a record or a stream after its call.
    KeptHandle,
    /// It wrote to stderr (kept only to explain a trap, so it is not carried on).
    Stderr,
    /// Its memory grew past `max_memory_mib`.
    Memory,
    /// It served `max_requests`.
    Requests,
    /// It lived `max_age_ms`.
    Age,
    /// The gateway holds as many idle instances as it may.
    Full,
    /// A reload replaced the route's config or the filter.
    Reload,
}

impl Retired {
    fn label(self) -> &'static str {
        match self {
            Retired::Failed => "failed",
            Retired::KeptHandle => "kept_handle",
            Retired::Stderr => "stderr",
            Retired::Memory => "memory",
            Retired::Requests => "requests",
            Retired::Age => "age",
            Retired::Full => "idle_full",
            Retired::Reload => "reload",
        }
    }
}

/// The gateway-wide bound on idle instances: they hold instance slots no request is using.
pub struct IdleSlots {
    held: AtomicUsize,
    max: usize,
    gauge: metrics::Gauge,
}

impl IdleSlots {
    pub(crate) fn new(max: usize) -> Self {
        IdleSlots {
            held: AtomicUsize::new(0),
            max,
            gauge: metrics::gauge!(FILTER_IDLE_INSTANCES),
        }
    }

    fn take(&self) -> bool {
        let taken = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        if let Ok(before) = taken {
            self.gauge.set((before + 1) as f64);
        }
        taken.is_ok()
    }

    fn give_back(&self, n: usize) {
        let before = self.held.fetch_sub(n, Ordering::AcqRel);
        self.gauge.set((before - n) as f64);
    }
}

/// One route's idle instances of one filter.
pub struct InstancePool {
    policy: ReuseConfig,
    idle: Mutex<Vec<Pooled>>,
    slots: Arc<IdleSlots>,
    filter: String,
}

impl InstancePool {
    pub(crate) fn new(policy: ReuseConfig, slots: Arc<IdleSlots>, filter: &str) -> Self {
        InstancePool {
            policy,
            idle: Mutex::new(Vec::new()),
            slots,
            filter: filter.to_owned(),
        }
    }

    /// The most recently used idle instance still young enough (its memory is the warmest).
    pub(crate) fn take(&self) -> Option<Pooled> {
        let max_age = Duration::from_millis(self.policy.max_age_ms);
        loop {
            let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            self.slots.give_back(1);
            if pooled.born.elapsed() < max_age {
                return Some(pooled);
            }
            self.retire(Retired::Age);
        }
    }

    /// Puts `pooled` back after a clean call, unless something retires it.
    pub(crate) fn give_back(&self, pooled: Pooled) {
        if let Some(reason) = self.retires(&pooled) {
            return self.retire(reason);
        }
        if !self.slots.take() {
            return self.retire(Retired::Full);
        }
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pooled);
    }

    /// Counts an instance dropped after a failure.
    pub(crate) fn failed(&self) {
        self.retire(Retired::Failed);
    }

    fn retires(&self, pooled: &Pooled) -> Option<Retired> {
        let data = pooled.store.data();
        if data.wrote_stderr() {
            Some(Retired::Stderr)
        } else if !data.table.is_empty() {
            Some(Retired::KeptHandle)
        } else if data.memory_bytes > (self.policy.max_memory_mib as usize) << 20 {
            Some(Retired::Memory)
        } else if pooled.served >= self.policy.max_requests {
            Some(Retired::Requests)
        } else if pooled.born.elapsed() >= Duration::from_millis(self.policy.max_age_ms) {
            Some(Retired::Age)
        } else {
            None
        }
    }

    fn retire(&self, reason: Retired) {
        self.retire_many(reason, 1);
    }

    fn retire_many(&self, reason: Retired, n: usize) {
        metrics::counter!(FILTER_INSTANCES_RETIRED, "filter" => self.filter.clone(), "reason" => reason.label())
            .increment(n as u64);
    }
}

impl Drop for InstancePool {
    /// The snapshot that built the pool is gone: so are its instances.
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !idle.is_empty() {
            self.slots.give_back(idle.len());
            self.retire_many(Retired::Reload, idle.len());
        }
    }
}
