//! Wafka: an HTTP gateway to Apache Kafka, programmable with WebAssembly filters.
//!
//! A request is matched to a route, passed through the route's chain of filter components
//! (see `wit/filter.wit`), and its records are produced with librdkafka. The binary is a thin
//! shell over [`Gateway`]; tests and benches start the very same object:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let gateway = wafka::Gateway::start_watching("wafka.toml".as_ref()).await?;
//! println!("listening on {}", gateway.addr());
//! gateway.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod build;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod error;
pub mod exchange;
pub mod filter;
pub mod gateway;
pub mod http_client;
pub mod idempotency;
pub mod identity;
pub mod kafka;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod read;
pub mod reload;
pub mod request_id;
pub mod rest_proxy;
pub mod router;
pub mod scaffold;
pub mod schemas;
pub mod server;
pub mod snapshot;
pub mod tls;
pub mod trace;
pub mod trace_context;
pub mod watcher;

pub use gateway::{Gateway, StartError};
