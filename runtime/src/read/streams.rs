//! Who is reading right now: every open stream and waiting fetch, for `/admin/streams`, with the
//! counts that go with it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// One reader: a server-sent-event stream or a long-poll fetch.
#[derive(Debug, Serialize)]
pub struct Reader {
    /// `stream` or `fetch`.
    pub kind: &'static str,
    /// Route name.
    pub route: String,
    /// Topic read.
    pub topic: String,
    /// The request that opened it.
    pub request_id: String,
    /// Client address.
    pub client: String,
    /// When it opened, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// Records sent so far.
    pub records: AtomicU64,
    /// Bytes of events or answers sent so far.
    pub bytes: AtomicU64,
    /// Records between its position and the log end when it last sent.
    pub lag: AtomicI64,
}

/// The registry.
#[derive(Default)]
pub struct Readers {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Reader>>>,
}

/// Holds a reader in the registry; dropping it removes the reader.
pub struct Registered {
    registry: Arc<Readers>,
    id: u64,
    /// The reader's entry, to count what it sends.
    pub reader: Arc<Reader>,
}

impl Readers {
    /// Adds `reader` until the returned guard drops.
    pub fn register(self: &Arc<Self>, reader: Reader) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let reader = Arc::new(reader);
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, reader.clone());
        Registered {
            registry: self.clone(),
            id,
            reader,
        }
    }

    /// Every open reader, oldest first.
    pub fn list(&self) -> Vec<Arc<Reader>> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.values().cloned().collect()
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}
