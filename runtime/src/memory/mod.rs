//! One memory budget for the whole gateway (`server.max_memory_bytes`): request bodies as they
//! are read, records in flight, what filters create, and what read routes hold draw from it,
//! each under its own [`Use`]. The per-request and per-subsystem bounds stay and nest inside it.
//!
//! Graded, like Envoy's overload manager: past the pause mark (80 %) the gateway stops reading
//! request bodies (TCP holds the clients back) and stops accepting connections; past the refuse
//! mark (95 %) new requests are answered 503 `overloaded` with `Retry-After`, and the bodies
//! that stalled longest are shed. Requests already accepted keep what they hold; nothing
//! acknowledged is given up.

mod bodies;
mod connections;
mod give_back;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

pub use bodies::{BodyWatch, STALLED};
pub use connections::{CONNECTION_BASE, Metered};
pub use give_back::{give_back, on_park, settle};

/// Past this share of the budget, bodies wait and connections are not accepted.
const PAUSE: f64 = 0.80;
/// Past this share, new requests are refused and stalled bodies shed.
const REFUSE: f64 = 0.95;

/// What memory is held for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Use {
    /// Request bodies being read or held for their request.
    Bodies,
    /// Records handed to the producer and not yet acknowledged.
    InFlight,
    /// Record data filters created.
    FilterOutput,
    /// Read routes: the shared fetchers' buffers and answers being sent.
    Reads,
    /// Open connections: their state and read buffers.
    Connections,
    /// REST Proxy consumer instances: each one's prefetch buffer and state.
    Consumers,
}

const USES: [Use; 6] = [
    Use::Bodies,
    Use::InFlight,
    Use::FilterOutput,
    Use::Reads,
    Use::Connections,
    Use::Consumers,
];

impl Use {
    fn index(self) -> usize {
        self as usize
    }

    /// Label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Use::Bodies => "bodies",
            Use::InFlight => "in_flight",
            Use::FilterOutput => "filter_output",
            Use::Reads => "reads",
            Use::Connections => "connections",
            Use::Consumers => "consumers",
        }
    }
}

/// How loaded the gateway is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Under the pause mark.
    Normal,
    /// Bodies wait, connections are not accepted.
    Paused,
    /// New requests are refused, stalled bodies shed.
    Refusing,
}

/// Actions taken, counted.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// A body read waited for memory.
    PausedBody,
    /// The listener stopped accepting for a while.
    PausedAccept,
    /// A request was refused 503 `overloaded`.
    Refused,
    /// A stalled body was cut off.
    Shed,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::PausedBody => "paused_body",
            Action::PausedAccept => "paused_accept",
            Action::Refused => "refused",
            Action::Shed => "shed",
        }
    }
}

/// The budget.
pub struct Memory {
    limit: usize,
    used: AtomicUsize,
    by_use: [AtomicUsize; USES.len()],
    released: Notify,
    actions: [AtomicU64; 4],
    metrics: Gauges,
    bodies: bodies::Bodies,
}

struct Gauges {
    by_use: [metrics::Gauge; USES.len()],
    actions: [metrics::Counter; 4],
}

/// Memory taken from the budget; given back when dropped.
#[must_use]
pub struct Charge {
    memory: Arc<Memory>,
    what: Use,
    bytes: usize,
}

impl Memory {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Memory> {
        metrics::gauge!(crate::metrics::MEMORY_BUDGET).set(limit as f64);
        let by_use =
            USES.map(|u| metrics::gauge!(crate::metrics::MEMORY_USED, "use" => u.as_str()));
        let actions = [
            Action::PausedBody,
            Action::PausedAccept,
            Action::Refused,
            Action::Shed,
        ]
        .map(|a| metrics::counter!(crate::metrics::OVERLOAD_ACTIONS, "action" => a.as_str()));
        Arc::new(Memory {
            limit,
            used: AtomicUsize::new(0),
            by_use: Default::default(),
            released: Notify::new(),
            actions: Default::default(),
            metrics: Gauges { by_use, actions },
            bodies: Default::default(),
        })
    }

    /// The budget in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The load level now.
    pub fn level(&self) -> Level {
        let used = self.used() as f64;
        if used >= self.limit as f64 * REFUSE {
            Level::Refusing
        } else if used >= self.limit as f64 * PAUSE {
            Level::Paused
        } else {
            Level::Normal
        }
    }

    /// Counts `action`, and logs the first of each few.
    pub fn took(&self, action: Action) {
        let n = self.actions[action as usize].fetch_add(1, Ordering::Relaxed);
        self.metrics.actions[action as usize].increment(1);
        if n.is_power_of_two() || n == 0 {
            tracing::warn!(
                action = action.as_str(),
                times = n + 1,
                used = self.used(),
                limit = self.limit,
                "memory budget: overload action"
            );
        }
    }

    /// Takes `bytes` for `what` if the total stays within the budget.
    pub fn try_take(self: &Arc<Self>, what: Use, bytes: usize) -> Option<Charge> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used.checked_add(bytes).filter(|n| *n <= self.limit)?;
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => used = now,
            }
        }
        self.add(what, bytes as isize);
        Some(Charge {
            memory: self.clone(),
            what,
            bytes,
        })
    }

    /// Takes `bytes` for `what` even past the budget, for memory already held (it raises the
    /// level, so the gateway pauses, sheds and refuses to make up for it).
    pub fn force_take(self: &Arc<Self>, what: Use, bytes: usize) -> Charge {
        self.used.fetch_add(bytes, Ordering::AcqRel);
        self.add(what, bytes as isize);
        Charge {
            memory: self.clone(),
            what,
            bytes,
        }
    }

    /// Takes `bytes` for `what`, waiting up to `wait` while the gateway is past its pause mark
    /// or the budget is short (the caller stops reading meanwhile, so TCP holds its client back).
    pub async fn take(self: &Arc<Self>, what: Use, bytes: usize, wait: Duration) -> Option<Charge> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut paused = false;
        loop {
            let released = self.released.notified();
            if self.level() == Level::Normal
                && let Some(charge) = self.try_take(what, bytes)
            {
                return Some(charge);
            }
            if !paused {
                paused = true;
                self.took(Action::PausedBody);
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return None;
            }
        }
    }

    /// Waits until the gateway is under its pause mark.
    pub async fn below_pause(&self) {
        loop {
            let released = self.released.notified();
            if self.level() == Level::Normal {
                return;
            }
            released.await;
        }
    }

    /// Waits until the budget is not spent to the last byte.
    pub async fn below_limit(&self) {
        loop {
            let released = self.released.notified();
            if self.used() < self.limit {
                return;
            }
            released.await;
        }
    }

    /// Bytes held by each use, for `/admin/memory`.
    pub fn status(&self) -> serde_json::Value {
        let by_use: serde_json::Map<String, serde_json::Value> = USES
            .iter()
            .map(|u| {
                (
                    u.as_str().to_owned(),
                    self.by_use[u.index()].load(Ordering::Relaxed).into(),
                )
            })
            .collect();
        let actions: serde_json::Map<String, serde_json::Value> = [
            Action::PausedBody,
            Action::PausedAccept,
            Action::Refused,
            Action::Shed,
        ]
        .iter()
        .map(|a| {
            (
                a.as_str().to_owned(),
                self.actions[*a as usize].load(Ordering::Relaxed).into(),
            )
        })
        .collect();
        serde_json::json!({
            "limit_bytes": self.limit,
            "used_bytes": self.used(),
            "level": self.level(),
            "pause_at_bytes": (self.limit as f64 * PAUSE) as usize,
            "refuse_at_bytes": (self.limit as f64 * REFUSE) as usize,
            "by_use": by_use,
            "actions": actions,
        })
    }

    fn add(&self, what: Use, delta: isize) {
        let gauge = &self.metrics.by_use[what.index()];
        if delta >= 0 {
            self.by_use[what.index()].fetch_add(delta as usize, Ordering::Relaxed);
            gauge.increment(delta as f64);
        } else {
            self.by_use[what.index()].fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
            gauge.decrement(delta.unsigned_abs() as f64);
        }
    }
}

impl Charge {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds `other`'s bytes to this charge (same use).
    pub fn absorb(&mut self, mut other: Charge) {
        debug_assert!(self.what == other.what && Arc::ptr_eq(&self.memory, &other.memory));
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Gives `less` bytes back.
    pub fn shrink(&mut self, less: usize) {
        let less = less.min(self.bytes);
        self.bytes -= less;
        self.memory.used.fetch_sub(less, Ordering::AcqRel);
        self.memory.add(self.what, -(less as isize));
        self.memory.released.notify_waiters();
    }

    /// Takes `more` bytes into this charge, even past the budget.
    pub fn force_grow(&mut self, more: usize) {
        let extra = self.memory.force_take(self.what, more);
        self.absorb(extra);
    }

    /// Takes `more` bytes into this charge if the budget has them.
    pub fn grow(&mut self, more: usize) -> bool {
        match self.memory.try_take(self.what, more) {
            Some(extra) => {
                self.absorb(extra);
                true
            }
            None => false,
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        self.memory.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.memory.add(self.what, -(self.bytes as isize));
        self.memory.released.notify_waiters();
    }
}

/// The default budget: half of the cgroup's memory limit when one is set, else half of the
/// machine's memory; at least 64 MiB.
pub fn default_limit() -> usize {
    let cgroup = cgroup_limit();
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        })
        .map(|kib| kib * 1024);
    let total = cgroup.or(machine).unwrap_or(1 << 30);
    (total / 2).max(64 << 20)
}

/// `memory.max` (cgroup v2) or `memory.limit_in_bytes` (v1), when it is a real limit.
fn cgroup_limit() -> Option<usize> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = match controllers {
            "" => format!("/sys/fs/cgroup{path}/memory.max"),
            c if c.split(',').any(|c| c == "memory") => {
                format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
            }
            _ => continue,
        };
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(bytes) = text.trim().parse::<usize>()
            // v1 reports "no limit" as a huge number.
            && bytes < (1 << 50)
        {
            return Some(bytes);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_bounded_and_given_back() {
        let memory = Memory::new(1000);
        let a = memory.try_take(Use::Bodies, 700).unwrap();
        assert_eq!(memory.level(), Level::Normal);
        assert!(
            memory.try_take(Use::Bodies, 400).is_none(),
            "past the limit"
        );
        let mut b = memory.try_take(Use::InFlight, 150).unwrap();
        assert_eq!(memory.level(), Level::Paused);
        assert!(b.grow(110));
        assert_eq!(memory.level(), Level::Refusing);
        assert!(b.grow(40));
        assert!(!b.grow(1));
        drop(a);
        assert_eq!(memory.used(), 300);
        drop(b);
        assert_eq!(memory.used(), 0);
        assert_eq!(memory.status()["by_use"]["bodies"], 0);
    }

    #[tokio::test]
    async fn a_paused_take_goes_on_when_memory_is_given_back() {
        let memory = Memory::new(1000);
        let held = memory.try_take(Use::Reads, 900).unwrap();
        let waiting = tokio::spawn({
            let memory = memory.clone();
            async move {
                memory
                    .take(Use::Bodies, 100, Duration::from_secs(5))
                    .await
                    .is_some()
            }
        });
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiting.await.unwrap());
        assert!(
            memory
                .take(Use::Bodies, 2000, Duration::from_millis(10))
                .await
                .is_none()
        );
    }
}
