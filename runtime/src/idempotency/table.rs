//! The keys this gateway knows, bounded in number, bytes and time.

use std::collections::{HashMap, HashSet, VecDeque};
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
    /// Being produced by `owner` (a gateway process; empty when no process is known to be
    /// producing it any more: a crash, an acknowledgement that timed out).
    Pending {
        owner: String,
        topics: Vec<String>,
        count: usize,
    },
    /// Answered: each record's result, in request order.
    Answered(Arc<Vec<Outcome>>),
}

impl Entry {
    /// What it costs to keep, roughly: the bound `max_bytes` counts this.
    fn bytes(&self, scope: &str) -> usize {
        let records: usize = match &self.state {
            State::Pending { topics, .. } => topics.iter().map(|t| t.len() + 24).sum(),
            State::Answered(outcomes) => outcomes.iter().map(Outcome::bytes).sum(),
        };
        100 + scope.len() + records
    }
}

pub(super) struct Table {
    map: HashMap<String, (Entry, usize)>,
    /// For keys this process claimed: the first state another writer put in the topic
    /// meanwhile, and its offset. The earlier offset wins the key.
    rivals: HashMap<String, (i64, Entry)>,
    /// Keys this process is claiming or producing now.
    flying: HashSet<String>,
    /// When each entry expires, oldest first; a later `at_ms` of the same key makes an
    /// earlier item stale (skipped).
    expiry: VecDeque<(u64, String)>,
    bytes: usize,
    window_ms: u64,
}

impl Table {
    pub(super) fn new(window_ms: u64) -> Self {
        Table {
            map: HashMap::new(),
            rivals: HashMap::new(),
            flying: HashSet::new(),
            expiry: VecDeque::new(),
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
        self.map.get(scope).map(|(e, _)| e)
    }

    /// Sets `scope`'s entry, unless it is older than the window.
    pub(super) fn put(&mut self, scope: &str, entry: Entry, now_ms: u64) {
        let expires = entry.at_ms.saturating_add(self.window_ms);
        if expires <= now_ms {
            return;
        }
        let bytes = entry.bytes(scope);
        self.bytes += bytes;
        if let Some((_, old)) = self.map.insert(scope.to_owned(), (entry, bytes)) {
            self.bytes -= old;
        }
        self.expiry.push_back((expires, scope.to_owned()));
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
        if let Some((_, bytes)) = self.map.remove(scope) {
            self.bytes -= bytes;
        }
    }

    /// Forgets what is past the window.
    pub(super) fn sweep(&mut self, now_ms: u64) {
        while let Some((expires, _)) = self.expiry.front() {
            if *expires > now_ms {
                break;
            }
            let (_, scope) = self.expiry.pop_front().expect("front exists");
            let expired = self
                .map
                .get(&scope)
                .is_some_and(|(e, _)| e.at_ms.saturating_add(self.window_ms) <= now_ms);
            if expired {
                self.remove(&scope);
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
        // Renewed: the earlier expiry item of "b" is stale.
        table.put("b", answered(1_200), 1_200);
        table.sweep(1_600);
        assert!(table.get("b").is_some());
        table.sweep(2_200);
        assert_eq!((table.len(), table.bytes()), (0, 0));
        // Already past its window: never kept.
        table.put("c", answered(0), 5_000);
        assert_eq!(table.len(), 0);
    }
}
