//! Request bodies being read, so the ones whose clients stalled can be shed, oldest first, when
//! the gateway is short of memory: a client that sent most of a large body and stopped holds
//! memory others need.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::{Action, Level, Memory};

/// A body whose client sent nothing for this long is stalled.
pub const STALLED: Duration = Duration::from_secs(1);

/// How often the shedder looks.
const EVERY: Duration = Duration::from_millis(100);

/// One body being read.
struct Entry {
    /// When its last bytes arrived, in milliseconds since the Unix epoch.
    progress_ms: AtomicU64,
    /// Bytes it holds.
    bytes: AtomicUsize,
    /// Waiting for memory: the gateway, not the client, holds it back.
    waiting: AtomicBool,
    /// Picked by the shedder already: picked once, counted once.
    picked: AtomicBool,
    shed: Notify,
}

/// The bodies being read, by arrival.
#[derive(Default)]
pub(super) struct Bodies {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Entry>>>,
}

/// A body's place in the registry; dropping it leaves.
pub struct BodyWatch {
    memory: Arc<Memory>,
    id: u64,
    entry: Arc<Entry>,
}

impl Memory {
    /// Registers a body about to be read.
    pub fn watch_body(self: &Arc<Self>) -> BodyWatch {
        let id = self.bodies.next.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            progress_ms: AtomicU64::new(crate::clock::now_millis()),
            bytes: AtomicUsize::new(0),
            waiting: AtomicBool::new(false),
            picked: AtomicBool::new(false),
            shed: Notify::new(),
        });
        self.bodies
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, entry.clone());
        BodyWatch {
            memory: self.clone(),
            id,
            entry,
        }
    }

    /// Sheds stalled bodies, oldest first, while the gateway is past its pause mark, and gives
    /// freed memory back to the kernel after a burst, until `stop`.
    pub async fn shed_stalled(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(EVERY);
        let mut giving_back = super::give_back::Window::default();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => return,
            }
            giving_back.tick(self.used(), self.limit);
            if self.level() == Level::Normal {
                continue;
            }
            let pause = (self.limit as f64 * super::PAUSE) as usize;
            let mut to_free = self.used().saturating_sub(pause);
            let now = crate::clock::now_millis();
            let open = self.bodies.open.lock().unwrap_or_else(|e| e.into_inner());
            for entry in open.values() {
                if to_free == 0 {
                    break;
                }
                let idle = now.saturating_sub(entry.progress_ms.load(Ordering::Relaxed));
                let bytes = entry.bytes.load(Ordering::Relaxed);
                // A body holding nothing frees nothing: its connection is charged, not shed.
                if bytes == 0
                    || entry.waiting.load(Ordering::Relaxed)
                    || idle < STALLED.as_millis() as u64
                    || entry.picked.swap(true, Ordering::Relaxed)
                {
                    continue;
                }
                to_free = to_free.saturating_sub(bytes);
                entry.shed.notify_one();
                self.took(Action::Shed);
            }
        }
    }
}

impl BodyWatch {
    /// `bytes` more arrived.
    pub fn progressed(&self, bytes: usize) {
        self.entry
            .progress_ms
            .store(crate::clock::now_millis(), Ordering::Relaxed);
        self.entry.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Whether the gateway, not the client, is holding the body back now.
    pub fn waiting(&self, waiting: bool) {
        self.entry.waiting.store(waiting, Ordering::Relaxed);
        if !waiting {
            // Waiting for memory is no stall of the client's.
            self.entry
                .progress_ms
                .store(crate::clock::now_millis(), Ordering::Relaxed);
        }
    }

    /// Resolves when the shedder picks this body.
    pub async fn shed(&self) {
        self.entry.shed.notified().await
    }
}

impl Drop for BodyWatch {
    fn drop(&mut self) {
        self.memory
            .bodies
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}
