//! What the request path runs on, built once by the gateway and handed down. An endpoint takes
//! `&Services` and gives each step only the service it uses, so a step's signature says what
//! it touches.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use super::pipeline::Producing;
use crate::memory::Memory;
use crate::metrics::RouteMetrics;
use crate::read::Reading;
use crate::request_id::RequestIds;
use crate::rest_proxy::instances::Instances;
use crate::snapshot::Snapshot;

/// The request path's services.
pub(crate) struct Services {
    /// The live snapshot: routes, filters, the config. A request holds the one it started with.
    pub live: Arc<ArcSwap<Snapshot>>,
    pub ids: RequestIds,
    /// Filter chains, the topic checks, the schema registry and delivery.
    pub producing: Producing,
    /// Read routes' shared fetchers, catch-up reads and readers.
    pub reading: Arc<Reading>,
    /// REST Proxy v2 consumer instances.
    pub consumers: Arc<Instances>,
    /// The budget every large allocation of the request and read paths draws from.
    pub memory: Arc<Memory>,
    /// Fires at shutdown: streams end cleanly, fetches stop waiting.
    pub stop: watch::Receiver<bool>,
    /// Set at SIGTERM for `server.drain_notice_ms`: `/readyz` answers 503 while requests are
    /// still served, so load balancers move away before the listeners close.
    pub draining: std::sync::atomic::AtomicBool,
    /// The HTTP metrics of requests no route matched.
    pub unmatched: RouteMetrics,
    /// Where clients reach the public listener without `rest_proxy.advertised_url`: its
    /// configured address, and whether it serves TLS.
    pub public: (SocketAddr, bool),
}
