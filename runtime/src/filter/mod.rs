//! WebAssembly filters: compiling them, the host side of their imports, and running a route's
//! chain over a request.

mod bindings;
mod cache;
mod chain;
mod engine;
mod host;
mod loaded;
mod shared;
mod state;

pub use cache::DiskCache;
pub use chain::{ChainOutcome, Limits, Step, run};
pub use engine::{FilterEngine, MAX_INSTANCES, MemoryReset};
pub use loaded::{LoadError, LoadedFilter, sha256_hex};
pub use shared::{Scope, SharedState};
