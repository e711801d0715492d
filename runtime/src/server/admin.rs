//! The admin listener: health, readiness, metrics and what is live.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::{HttpResponse, Services, dialect, full, json_response};
use crate::error::RequestError;
use crate::reload::Reloads;
use crate::snapshot::Dialect;

/// What the admin listener shows: the request path's services, and what only an operator asks
/// about.
pub(crate) struct Admin {
    pub services: Arc<Services>,
    pub reloads: Arc<Reloads>,
    /// `None` when metrics are off.
    pub prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The `bootstrap.servers` the gateway uses, and whether they are the embedded cluster's.
    pub kafka: (String, bool),
    /// The listeners' addresses as bound (the OpenAPI document's servers).
    pub listening: Listening,
}

/// Where the gateway listens, as bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listening {
    pub public: std::net::SocketAddr,
    pub admin: std::net::SocketAddr,
    /// The embedded registry's listener.
    pub registry: Option<std::net::SocketAddr>,
    /// Whether the public and registry listeners serve TLS.
    pub tls: bool,
}

/// Handles one request on the admin listener.
pub(crate) async fn admin(
    admin: Arc<Admin>,
    req: http::Request<Incoming>,
    _peer: Arc<super::Peer>,
) -> HttpResponse {
    let shared = &admin.services;
    let path = req.uri().path();
    let fail =
        |e: RequestError| dialect::error(Dialect::Wafka, &e, &shared.ids.next(), false, None);
    if req.method() != Method::GET {
        return fail(RequestError::MethodNotAllowed {
            method: req.method().to_string(),
            allowed: vec!["GET".into()],
        });
    }
    match path {
        "/healthz" => json_response(StatusCode::OK, &json!({ "status": "ok" })),
        "/readyz" => readyz(shared.clone()).await,
        "/metrics" => {
            let Some(prometheus) = &admin.prometheus else {
                return fail(RequestError::RouteNotFound {
                    path: "/metrics (metrics are off: server.metrics = false)".into(),
                });
            };
            metrics::gauge!(crate::metrics::PRODUCER_IN_FLIGHT)
                .set(f64::from(shared.producing.delivery.producer.in_flight()));
            metrics::gauge!(crate::metrics::READ_BUFFER)
                .set(shared.reading.buffered_bytes().await as f64);
            shared.live.load().identity.sample_metrics();
            if let Some(registry) = &shared.producing.schemas {
                let (schemas, subjects) = registry.counts();
                let entries = crate::metrics::SCHEMA_REGISTRY_ENTRIES;
                metrics::gauge!(entries, "kind" => "schemas").set(schemas as f64);
                metrics::gauge!(entries, "kind" => "subjects").set(subjects as f64);
            }
            let mut response = http::Response::new(full(prometheus.render()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        "/admin/kafka" => {
            let mut status = shared.producing.delivery.status();
            status["bootstrap_servers"] = json!(admin.kafka.0);
            status["embedded"] = json!(admin.kafka.1);
            status["admin_requests"] = json!(shared.producing.cluster.requests());
            json_response(StatusCode::OK, &status)
        }
        "/admin/idempotency" => match &shared.producing.keys {
            Some(keys) => json_response(
                StatusCode::OK,
                &serde_json::to_value(keys.status()).unwrap_or_default(),
            ),
            None => fail(RequestError::RouteNotFound {
                path: "/admin/idempotency (no [idempotency] section)".into(),
            }),
        },
        "/admin/routes" => {
            let snapshot = shared.live.load();
            let routes: Vec<_> = snapshot
                .router
                .routes()
                .chain(snapshot.schema_registry.iter())
                .map(|r| {
                    let mut route = json!({
                        "name": &*r.name,
                        "path": r.path,
                        "methods": r.methods,
                        "filters": r.steps.iter().map(|s| s.filter.name.as_str()).collect::<Vec<_>>(),
                    });
                    match &r.endpoint {
                        crate::snapshot::Endpoint::Produce(p) => {
                            route["kind"] = json!("produce");
                            route["topic"] = json!(p.topic);
                            route["mode"] = json!(p.mode);
                            route["idempotency"] = json!(p.idempotency);
                        }
                        crate::snapshot::Endpoint::Read(read) => {
                            route["kind"] = json!("read");
                            route["topic"] = json!(read.topic);
                        }
                        crate::snapshot::Endpoint::Offsets(read) => {
                            route["kind"] = json!("offsets");
                            route["topic"] = json!(read.topic);
                        }
                        crate::snapshot::Endpoint::RestProxy(_) => {
                            route["kind"] = json!("rest_proxy");
                        }
                        crate::snapshot::Endpoint::SchemaRegistry => {
                            route["kind"] = json!("schema_registry");
                        }
                    }
                    route
                })
                .collect();
            json_response(StatusCode::OK, &json!({ "routes": routes }))
        }
        "/admin/reloads" => json_response(
            StatusCode::OK,
            &serde_json::to_value(admin.reloads.status()).unwrap_or_default(),
        ),
        "/admin/filters" => {
            let snapshot = shared.live.load();
            let filters: Vec<_> = snapshot
                .filters
                .values()
                .map(|f| {
                    json!({
                        "name": f.name,
                        "sha256": f.sha256,
                        "path": f.path,
                        "loaded_at": crate::clock::rfc3339(f.loaded_at),
                    })
                })
                .collect();
            json_response(StatusCode::OK, &json!({ "filters": filters }))
        }
        "/admin/memory" => json_response(StatusCode::OK, &shared.memory.status()),
        "/openapi.json" => {
            let snapshot = shared.live.load();
            let at = admin.listening;
            let scheme = if at.tls { "https" } else { "http" };
            let servers = crate::openapi::Servers {
                public: format!("{scheme}://{}", at.public),
                admin: format!("http://{}", at.admin),
                registry: at.registry.map(|r| format!("{scheme}://{r}")),
            };
            json_response(
                StatusCode::OK,
                &crate::openapi::document(&snapshot, &servers),
            )
        }
        "/admin/identity" => json_response(
            StatusCode::OK,
            &json!({ "providers": shared.live.load().identity.describe() }),
        ),
        "/admin/consumers" => json_response(
            StatusCode::OK,
            &json!({ "consumers": shared.consumers.list() }),
        ),
        "/admin/streams" => {
            let readers: Vec<_> = shared
                .reading
                .readers
                .list()
                .iter()
                .map(|r| serde_json::to_value(&**r).unwrap_or_default())
                .collect();
            let followed = shared.reading.followed().await;
            json_response(
                StatusCode::OK,
                &json!({ "readers": readers, "followed": followed }),
            )
        }
        "/admin/config" => json_response(StatusCode::OK, &masked(&shared.live.load().config)),
        _ => fail(RequestError::RouteNotFound {
            path: path.to_owned(),
        }),
    }
}

/// How long readiness waits for Kafka's metadata.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Ready when the circuit breaker is closed and Kafka answers a metadata request; the body
/// says what is not ready. (Filters are always loaded: a snapshot exists only once all of its
/// filters are.)
async fn readyz(shared: Arc<Services>) -> HttpResponse {
    let filters = shared.live.load().filters.len();
    let memory = shared.memory.status();
    if shared.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "ready": false,
                "not_ready": { "draining": "shutting down: still serving until server.drain_notice_ms ends" },
                "filters": filters,
            }),
        );
    }
    if shared.memory.level() == crate::memory::Level::Refusing {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "ready": false,
                "not_ready": { "memory": "past the memory budget's refuse mark: new requests are refused" },
                "memory": memory,
                "filters": filters,
            }),
        );
    }
    let delivery = &shared.producing.delivery;
    let breaker = delivery.breaker.position();
    let spool = delivery.spool.as_ref().map(|s| s.status());
    let kafka = match delivery.breaker.reason() {
        Some(reason) => Err(format!("circuit breaker {breaker:?}: {reason}").to_lowercase()),
        None => {
            let probe = delivery.clone();
            tokio::task::spawn_blocking(move || probe.producer.check_reachable(READY_TIMEOUT))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
                .map_err(|reason| format!("metadata request failed: {reason}"))
        }
    };
    match kafka {
        Ok(brokers) => json_response(
            StatusCode::OK,
            &json!({
                "ready": true,
                "kafka": { "brokers": brokers, "breaker": breaker },
                "spool": spool,
                "filters": filters,
            }),
        ),
        Err(reason) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "ready": false,
                "not_ready": { "kafka": reason },
                "kafka": { "breaker": breaker },
                "spool": spool,
                "filters": filters,
            }),
        ),
    }
}

/// The effective config as JSON with secret values replaced by `"***"`.
fn masked(config: &crate::config::Config) -> serde_json::Value {
    fn mask(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if crate::config::is_secret(k) && !v.is_object() {
                        *v = json!("***");
                    } else {
                        mask(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(config).unwrap_or_default();
    mask(&mut value);
    value
}
