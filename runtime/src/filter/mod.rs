//! WebAssembly filters: compiling them, the host side of their imports, and running a route's
//! chain over a request.

mod bindings;
mod cache;
mod chain;
mod engine;
mod function_cache;
mod host;
mod loaded;
mod output;
mod reuse;
mod run_clock;
mod shared_state;
mod store;

pub use crate::config::MemoryReset;
pub use cache::DiskCache;
pub use chain::{ChainOutcome, Instance, Limits, RequestStore, Step, run, run_consume};
pub use engine::FilterEngine;
pub use loaded::{LoadError, LoadedFilter, sha256_hex};
pub use reuse::{IdleSlots, InstancePool};
pub use shared_state::{Scope, SharedState};
