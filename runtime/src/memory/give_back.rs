//! Handing freed memory back to the kernel after an overload: the allocators keep freed pages
//! for reuse, so without this the resident size stays near its peak long after the load went.
//! The gateway's heap is mimalloc's, one heap per thread, so each worker collects its own when
//! it next goes idle ([`on_park`]); librdkafka (C) allocates from glibc's.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

// Links mimalloc into every binary that uses the library, not only `wafka`.
use mimalloc as _;

unsafe extern "C" {
    fn mi_collect(force: bool);
    fn mi_option_get(option: i32) -> std::ffi::c_long;
    fn mi_option_set(option: i32, value: std::ffi::c_long);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn malloc_trim(pad: usize) -> i32;
}

/// `mi_option_purge_delay` and `mi_option_arena_purge_mult` (the same in mimalloc 2 and 3):
/// freed pages stay resident this long (10 ms, times 10 for whole segments) in case they are
/// reused, and are purged only by a thread that allocates again. Set to 0 while giving back.
const PURGE_DELAY: i32 = 15;
const ARENA_PURGE_MULT: i32 = 24;

/// Bumped by each [`give_back`]; a thread behind it collects when it parks.
static ROUND: AtomicU64 = AtomicU64::new(0);

/// The purge options as they were before [`give_back`], for [`settle`]; `None` while settled.
static SAVED: std::sync::Mutex<Option<(std::ffi::c_long, std::ffi::c_long)>> =
    std::sync::Mutex::new(None);

/// A window is open: set by [`Window`] before its first give-back, cleared by [`settle`], so a
/// give-back the blocking pool runs late does not undo a settle.
static OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

thread_local! {
    static SEEN: Cell<u64> = const { Cell::new(0) };
}

/// Returns freed pages to the kernel: glibc's now, each runtime thread's as it parks; until
/// [`settle`], freed pages are purged at once. Only inside a window the budget opened after a
/// burst (otherwise nothing). Takes a few milliseconds: call it off the request path.
pub fn give_back() {
    {
        let mut saved = SAVED.lock().unwrap_or_else(|e| e.into_inner());
        if !OPEN.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: options are plain integers the allocator reads on each purge.
        unsafe {
            if saved.is_none() {
                *saved = Some((mi_option_get(PURGE_DELAY), mi_option_get(ARENA_PURGE_MULT)));
            }
            mi_option_set(PURGE_DELAY, 0);
            mi_option_set(ARENA_PURGE_MULT, 0);
        }
    }
    ROUND.fetch_add(1, Ordering::Relaxed);
    // SAFETY: both only walk the allocator's own free lists; no pointer of ours is involved.
    unsafe {
        mi_collect(true);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        malloc_trim(0);
    }
}

/// Puts the purge delays back after [`give_back`]: purging every free at once costs system
/// calls under load.
pub fn settle() {
    let mut saved = SAVED.lock().unwrap_or_else(|e| e.into_inner());
    OPEN.store(false, Ordering::Relaxed);
    if let Some((delay, mult)) = saved.take() {
        // SAFETY: as in `give_back`.
        unsafe {
            mi_option_set(PURGE_DELAY, delay);
            mi_option_set(ARENA_PURGE_MULT, mult);
        }
    }
}

/// For the runtime's `on_thread_park`: one atomic load unless a give-back is pending.
pub fn on_park() {
    let round = ROUND.load(Ordering::Relaxed);
    if SEEN.get() != round {
        SEEN.set(round);
        // SAFETY: as above.
        unsafe { mi_collect(true) };
    }
}

/// When to give memory back: once what the budget hands out has fallen to half of a high
/// mark of at least half the budget (an overload, or a burst, is over and its memory freed),
/// every second for ten seconds, since requests finishing and records delivered free more as
/// they go. Meanwhile each free is purged at once, which costs about a tenth of the throughput
/// (BENCHMARKS.md), so not for longer. Ticked every 100 ms.
#[derive(Default)]
pub(super) struct Window {
    /// The most used since the last window.
    high: usize,
    /// Ticks into the window, while one is open.
    open: Option<u32>,
}

/// Ticks between give-backs (a second), and the window's length (ten seconds).
const EVERY: u32 = 10;
const FOR: u32 = 100;

impl Window {
    pub(super) fn tick(&mut self, used: usize, limit: usize) {
        self.high = self.high.max(used);
        if let Some(n) = self.open.as_mut() {
            *n += 1;
            if *n >= FOR {
                self.open = None;
                self.high = used;
                settle();
            } else if *n % EVERY == 0 {
                tokio::task::spawn_blocking(give_back);
            }
        } else if self.high >= limit / 2 && used <= self.high / 2 {
            self.open = Some(0);
            OPEN.store(true, Ordering::Relaxed);
            tokio::task::spawn_blocking(give_back);
        }
    }
}
