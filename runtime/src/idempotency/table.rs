//! The keys this gateway knows, bounded in number, bytes and time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::Outcome;

/// One key's state.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// sha256 of the request it was first used with.
    pub fingerprint: [u8; 32],
    /// When it was claimed or answered, ms since the epoch: the window counts from here.
    pub at_ms: u64,
    pub state: State,
}

#[derive(Debug, Clone)]
pub(super) enum State {
    /// Claimed, its records going to `topics`: by this process while `Table::is_flying`, else
    /// by another gateway, or by nobody any more (a crash, an acknowledgement that timed out).
    Pending { topics: Vec<String> },
    /// Answered: each record's result, in request order.
    Answered(Arc<Vec<Outcome>>),
}

impl Entry {
    /// What it costs to keep, roughly: the bound `max_bytes` counts this.
    fn bytes(&self, scope: &str) -> usize {
        let records: usize = match &self.state {
            State::Pending { topics } => topics.iter().map(|t| t.len() + 24).sum(),
            State::Answered(outcomes) => outcomes.iter().map(Outcome::bytes).sum(),
        };
        100 + scope.len() + records
    }
}

/// Hashes scopes: hex sha256s a gateway writes itself, so already spread evenly; SipHash's
/// flooding resistance buys nothing here, and a request hashes its scope half a dozen times.
#[derive(Default)]
pub(super) struct ScopeHasher(u64);

type Scopes = BuildHasherDefault<ScopeHasher>;

impl Hasher for ScopeHasher {
    fn write(&mut self, bytes: &[u8]) {
        // FxHash's step, eight bytes at a time.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(super) struct Table {
    /// Each key's entry, its bytes and its place in `expiry`.
    map: HashMap<String, (Entry, usize, (u64, u64)), Scopes>,
    /// Each key once, by when it expires (and a sequence number, for ties).
    expiry: BTreeMap<(u64, u64), String>,
    next: u64,
    /// For keys this process claimed: the first state another writer put in the topic
    /// meanwhile, and its offset. The earlier offset wins the key.
    rivals: HashMap<String, (i64, Entry), Scopes>,
    /// Keys this process is claiming or producing now.
    flying: HashSet<String, Scopes>,
    bytes: usize,
    window_ms: u64,
}

impl Table {
    pub(super) fn new(window_ms: u64) -> Self {
        Table {
            map: HashMap::default(),
            expiry: BTreeMap::new(),
            next: 0,
            rivals: HashMap::default(),
            flying: HashSet::default(),
            bytes: 0,
            window_ms,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn get(&self, scope: &str) -> Option<&Entry> {
        self.map.get(scope).map(|(e, _, _)| e)
    }

    /// Sets `scope`'s entry, unless it is older than the window.
    pub(super) fn put(&mut self, scope: &str, entry: Entry, now_ms: u64) {
        let expires = entry.at_ms.saturating_add(self.window_ms);
        if expires <= now_ms {
            return;
        }
        self.remove(scope);
        let bytes = entry.bytes(scope);
        let place = (expires, self.next);
        self.next += 1;
        self.bytes += bytes;
        self.expiry.insert(place, scope.to_owned());
        self.map.insert(scope.to_owned(), (entry, bytes, place));
    }

    /// `scope` is being claimed or produced here.
    pub(super) fn fly(&mut self, scope: &str) {
        self.flying.insert(scope.to_owned());
    }

    /// `scope` is no longer being produced here: whatever is noted about it is done with.
    pub(super) fn land(&mut self, scope: &str) {
        self.flying.remove(scope);
        self.rivals.remove(scope);
    }

    pub(super) fn is_flying(&self, scope: &str) -> bool {
        self.flying.contains(scope)
    }

    /// Notes another writer's state of a key this process claimed: the offset of its first
    /// record (which decides who claimed first), and its latest state.
    pub(super) fn rival(&mut self, scope: &str, offset: i64, entry: Entry) {
        self.rivals
            .entry(scope.to_owned())
            .and_modify(|(_, latest)| *latest = entry.clone())
            .or_insert((offset, entry));
    }

    /// Another writer's first state of `scope` since it was claimed here, if any.
    pub(super) fn take_rival(&mut self, scope: &str) -> Option<(i64, Entry)> {
        self.rivals.remove(scope)
    }

    pub(super) fn remove(&mut self, scope: &str) {
        if let Some((_, bytes, place)) = self.map.remove(scope) {
            self.bytes -= bytes;
            self.expiry.remove(&place);
        }
    }

    /// Forgets what is past the window.
    pub(super) fn sweep(&mut self, now_ms: u64) {
        while let Some(entry) = self.expiry.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let scope = entry.remove();
            if let Some((_, bytes, _)) = self.map.remove(&scope) {
                self.bytes -= bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(at_ms: u64) -> Entry {
        Entry {
            fingerprint: [0; 32],
            at_ms,
            state: State::Answered(Arc::new(vec![Outcome::Queued { topic: "t".into() }])),
        }
    }

    #[test]
    fn entries_leave_after_the_window_and_their_bytes_with_them() {
        let mut table = Table::new(1_000);
        table.put("a", answered(0), 0);
        table.put("b", answered(500), 500);
        assert_eq!(table.len(), 2);
        let both = table.bytes();
        table.sweep(999);
        assert_eq!(table.len(), 2);
        table.sweep(1_000);
        assert!(table.get("a").is_none() && table.get("b").is_some());
        assert!(table.bytes() < both && table.bytes() > 0);
        // Renewed: one expiry per key, the new one.
        table.put("b", answered(1_200), 1_200);
        assert_eq!(table.expiry.len(), 1);
        table.sweep(1_600);
        assert!(table.get("b").is_some());
        // Removed and put again: still one.
        table.remove("b");
        table.put("b", answered(1_200), 1_600);
        assert_eq!(table.expiry.len(), 1);
        table.sweep(2_200);
        assert_eq!((table.len(), table.bytes()), (0, 0));
        assert!(table.expiry.is_empty());
        // Already past its window: never kept.
        table.put("c", answered(0), 5_000);
        assert_eq!(table.len(), 0);
    }
}
