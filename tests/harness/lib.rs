//! Test harness: starts the real gateway on loopback with real filter components, talks to it
//! over real sockets, and reads Kafka back with a real client.
//!
//! ```text
//! let gw = TestGateway::new(Broker::Embedded).filter("json-enrich").routes(ROUTES).start().await;
//! let res = gw.post("/v1/events/web", "{}").await;
//! ```

pub mod broker;
pub mod gateway;
pub mod http;
pub mod kafka;
pub mod logs;
pub mod node;
pub mod process;
pub mod prometheus;
pub mod python;
pub mod sse;

pub use broker::Broker;
pub use gateway::{TestGateway, TestGatewayBuilder};
pub use http::{Response, request, try_request};

/// Where `build.rs` put the compiled filter components (`json_enrich.wasm`, ...).
pub const WASM_DIR: &str = env!("WAFKA_TEST_WASM_DIR");

/// Path of a compiled filter by its filter name (`json-enrich` → `json_enrich.wasm`).
pub fn wasm(name: &str) -> std::path::PathBuf {
    std::path::Path::new(WASM_DIR).join(format!("{}.wasm", name.replace('-', "_")))
}
