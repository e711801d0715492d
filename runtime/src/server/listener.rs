//! The accept loop shared by both listeners: connection limits, TLS, HTTP/1.1 and HTTP/2,
//! graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::HttpResponse;
use crate::memory::{Action, Level, Memory, Metered};

/// Longest an accept waits while the gateway is past its memory pause mark.
const ACCEPT_WAIT: Duration = Duration::from_millis(100);

/// What rustls holds per connection: a record being received and one being sent.
const TLS_BUFFERS: usize = 2 * (16 << 10) + 2048;

/// The per-connection service: every request carries the connection's peer.
fn service<H, F>(
    handler: H,
    peer: Arc<Peer>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = HttpResponse,
    Error = Infallible,
    Future = impl Future<Output = Result<HttpResponse, Infallible>> + Send,
> + Clone
where
    H: Fn(http::Request<Incoming>, Arc<Peer>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    service_fn(move |req| {
        let response = handler(req, peer.clone());
        async move { Ok::<_, Infallible>(response.await) }
    })
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
    /// A client that takes no bytes for this long is disconnected.
    pub write_timeout: Duration,
}

impl ConnLimits {
    pub(crate) fn from_start(start: &crate::config::StartOnly) -> Self {
        ConnLimits {
            header_timeout: Duration::from_millis(start.request_header_timeout_ms),
            max_headers: start.max_headers,
            max_header_bytes: start.max_header_bytes,
            max_connections: start.max_connections,
            max_h2_streams: start.max_h2_streams,
            grace: Duration::from_millis(start.shutdown_grace_ms),
            write_timeout: Duration::from_millis(start.write_timeout_ms),
        }
    }
}

/// Who is on the other end of a connection.
#[derive(Debug)]
pub(crate) struct Peer {
    /// Client address.
    pub addr: SocketAddr,
    /// Subject of the verified client certificate (mTLS).
    pub subject: Option<String>,
}

/// `stream`, cut off when the client takes no bytes for `write_timeout`: a reader that stalls
/// (a server-sent-event client that stopped reading) holds at most the socket's buffers.
fn stalls<S>(
    stream: S,
    limits: ConnLimits,
) -> std::pin::Pin<Box<tokio_io_timeout::TimeoutStream<S>>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
    stream.set_write_timeout(Some(limits.write_timeout));
    Box::pin(stream)
}

/// Serves HTTP/1.1 and HTTP/2 (over TLS when `tls` is given) on `listener` until `stop`
/// fires, then waits up to the grace period for open connections to finish their requests.
pub(crate) async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    mut stop: watch::Receiver<bool>,
    limits: ConnLimits,
    tls: Option<crate::tls::Live>,
    memory: Option<Arc<Memory>>,
) where
    H: Fn(http::Request<Incoming>, Arc<Peer>) -> F + Clone + Send + Sync + 'static,
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
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        // Past the memory budget's pause mark, accept slowly: a connection costs memory, but a
        // new client is better answered (503 `overloaded` past the refuse mark) than left to
        // time out in the backlog. Only a budget spent to the last byte stops accepting.
        if let Some(memory) = &memory
            && memory.level() != Level::Normal
        {
            memory.took(Action::PausedAccept);
            tokio::select! {
                _ = memory.below_pause() => {}
                _ = tokio::time::sleep(ACCEPT_WAIT) => {}
                _ = stop.changed() => break,
            }
            tokio::select! {
                _ = memory.below_limit() => {}
                _ = stop.changed() => break,
            }
        }
        // At the connection limit, stop accepting: new clients wait in the listen backlog.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            _ = stop.changed() => break,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let (handler, builder, watcher) = (handler.clone(), builder.clone(), graceful.watcher());
        let memory = memory.clone();
        let acceptor = tls.as_ref().map(|t| t.load_full());
        tokio::spawn(async move {
            let result = match acceptor {
                None => {
                    let peer = Arc::new(Peer {
                        addr,
                        subject: None,
                    });
                    let service = service(handler, peer);
                    let stream = Metered::new(stream, memory.as_ref(), 0);
                    let conn = builder.serve_connection_with_upgrades(
                        TokioIo::new(stalls(stream, limits)),
                        service,
                    );
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    // The handshake shares the header timeout: a silent client is cut off.
                    let handshake =
                        tokio::time::timeout(limits.header_timeout, acceptor.accept(stream));
                    let stream = match handshake.await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, %addr, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%addr, "TLS handshake timed out");
                            return;
                        }
                    };
                    let subject = crate::tls::client_subject(stream.get_ref().1);
                    let peer = Arc::new(Peer { addr, subject });
                    let service = service(handler, peer);
                    let stream = Metered::new(stream, memory.as_ref(), TLS_BUFFERS);
                    let conn = builder.serve_connection_with_upgrades(
                        TokioIo::new(stalls(stream, limits)),
                        service,
                    );
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %addr, "connection ended with an error");
            }
            drop(permit);
        });
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
