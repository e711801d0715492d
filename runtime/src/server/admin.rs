//! The admin listener: health, readiness, metrics and what is live.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::json;

use super::{HttpResponse, json_response};
use crate::error::RequestError;
use crate::gateway::Shared;

/// Handles one request on the admin listener.
pub(crate) async fn admin(
    shared: Arc<Shared>,
    req: http::Request<Incoming>,
    _peer: SocketAddr,
) -> HttpResponse {
    let path = req.uri().path();
    if req.method() != Method::GET {
        return RequestError::MethodNotAllowed {
            method: req.method().to_string(),
            allowed: vec!["GET".into()],
        }
        .to_response(None);
    }
    match path {
        "/healthz" => json_response(StatusCode::OK, &json!({ "status": "ok" })),
        "/readyz" => json_response(StatusCode::OK, &json!({ "ready": true })),
        "/metrics" => {
            let mut response =
                http::Response::new(Full::new(Bytes::from(shared.prometheus.render())));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        "/admin/kafka" => json_response(
            StatusCode::OK,
            &json!({
                "bootstrap_servers": shared.kafka.bootstrap,
                "embedded": shared.embedded.is_some(),
                "in_flight": shared.producer.in_flight(),
            }),
        ),
        "/admin/routes" => {
            let snapshot = shared.snapshot.load();
            let routes: Vec<_> = snapshot
                .router
                .routes()
                .map(|r| {
                    json!({
                        "name": &*r.name,
                        "path": r.path,
                        "methods": r.methods,
                        "topic": r.topic,
                        "mode": format!("{:?}", r.mode).to_lowercase(),
                        "filters": r.steps.iter().map(|s| s.filter.name.as_str()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json_response(StatusCode::OK, &json!({ "routes": routes }))
        }
        "/admin/reloads" => json_response(
            StatusCode::OK,
            &serde_json::to_value(shared.reloads.status()).unwrap_or_default(),
        ),
        "/admin/filters" => {
            let snapshot = shared.snapshot.load();
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
        _ => RequestError::RouteNotFound {
            path: path.to_owned(),
        }
        .to_response(None),
    }
}
