//! HTTP: the accept loop shared by both listeners, the produce handler and the admin API.

mod admin;
mod body;
mod handler;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub(crate) use admin::admin;
pub(crate) use handler::handle;

/// Every response the gateway builds.
pub type HttpResponse = http::Response<Full<Bytes>>;

/// A JSON response with the given status.
pub fn json_response(status: http::StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Connection-level limits, fixed at start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    pub header_timeout: Duration,
    pub max_headers: usize,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub max_h2_streams: u32,
    pub grace: Duration,
}

impl ConnLimits {
    pub(crate) fn from_config(server: &crate::config::ServerConfig) -> Self {
        ConnLimits {
            header_timeout: Duration::from_millis(server.request_header_timeout_ms),
            max_headers: server.max_headers,
            max_header_bytes: server.max_header_bytes,
            max_connections: server.max_connections,
            max_h2_streams: server.max_h2_streams,
            grace: Duration::from_millis(server.shutdown_grace_ms),
        }
    }
}

/// Serves HTTP/1.1 and HTTP/2 on `listener` until `stop` fires, then waits up to the grace
/// period for open connections to finish their requests.
pub(crate) async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    mut stop: watch::Receiver<bool>,
    limits: ConnLimits,
) where
    H: Fn(http::Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(limits.max_headers)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_h2_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        // At the connection limit, stop accepting: new clients wait in the listen backlog.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            _ = stop.changed() => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let service = service_fn(move |req| {
                    let response = handler(req, peer);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = limits.grace.as_millis() as u64,
            "connections still open after the grace period"
        );
    }
}
