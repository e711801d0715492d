//! Wafka's integration suite: one binary, real sockets, real components, real Kafka clients.
//!
//! Scenarios that involve Kafka run twice: against the embedded mock cluster and against a
//! real Kafka-protocol broker (tansu).

mod admin;
mod auth;
mod batch;
mod cache;
mod check;
mod delivery;
mod deploy;
mod errors;
mod guide;
mod idempotency;
mod identity;
mod isolation;
mod openapi;
mod operations;
mod overload;
mod produce;
mod rate_limit;
mod read;
mod refused;
mod reload;
mod rest_proxy;
mod rest_proxy_habits;
mod reuse;
mod schema_compatibility;
mod schema_external;
mod schema_filters;
mod schema_references;
mod schema_registry_api;
mod schemas;
mod security;
mod several_gateways;
mod shaping;
mod shutdown;
mod sse_clients;
mod tls;
mod traces;

/// Runs each listed scenario `fn(Broker)` once per broker, as `embedded::NAME` and
/// `tansu::NAME`.
macro_rules! on_both_brokers {
    ($($scenario:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(wafka_tests::Broker::Embedded).await
                }
            )*
        }
        mod tansu {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(wafka_tests::Broker::Tansu).await
                }
            )*
        }
    };
}
pub(crate) use on_both_brokers;

/// The routes most scenarios use: both shipped filters, an async route, a trapping filter.
pub const ROUTES: &str = r#"
[[routes]]
name = "events"
path = "/v1/events/{source}"
topic = "events"
filters = [
  { name = "json-enrich" },
  { name = "topic-router", config = { param = "source", template = "events.{}", allow = ["events.web", "events.mobile"] } },
]

[[routes]]
name = "raw"
path = "/v1/raw"
topic = "raw"
mode = "async"

[[routes]]
name = "raw-sync"
path = "/v1/raw-sync"
topic = "raw"

[[routes]]
name = "broken"
path = "/v1/broken"
topic = "broken"
filters = [{ name = "trap" }]

[[routes]]
name = "broken-details"
path = "/v1/broken-details"
topic = "broken"
error_details = true
filters = [{ name = "trap" }]

[[routes]]
name = "shape"
path = "/v1/shape"
topic = "shaped"
filters = [{ name = "shape" }]
"#;

/// Topics the routes' filters may send to.
pub const ROUTED_TOPICS: &[&str] = &["events.web", "events.mobile"];

/// Filters `ROUTES` needs.
pub const FILTERS: &[&str] = &["json-enrich", "topic-router", "trap", "shape"];

/// A gateway with `ROUTES` against `broker`.
pub async fn standard_gateway(broker: wafka_tests::Broker) -> wafka_tests::TestGateway {
    let mut builder = wafka_tests::TestGateway::builder(broker)
        .routes(ROUTES)
        .topics(ROUTED_TOPICS);
    for f in FILTERS {
        builder = builder.filter(f);
    }
    builder.start().await
}
