//! `plain-hyper`: the no-gateway baseline of `bench/http.sh`.
//!
//! A plain hyper 1 HTTP/1.1 server that reads each request's whole body and answers 200 with a
//! small JSON body shaped like a sync route's answer. It does no routing, filtering or Kafka
//! work, so it shows what the HTTP stack alone costs on the same machine in the same run.
//!
//! Usage: `plain-hyper [ADDR]` (default `127.0.0.1:8000`).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// The answer to every request: what a sync route answers for one record.
const ANSWER: &[u8] = br#"{"records":[{"topic":"events","partition":0,"offset":0}]}"#;

/// Reads the whole body (as the gateway must before filtering), then answers `ANSWER`.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = match req.into_body().collect().await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::BAD_REQUEST,
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(ANSWER)));
    *resp.status_mut() = status;
    let json = HeaderValue::from_static("application/json");
    resp.headers_mut().insert(CONTENT_TYPE, json);
    Ok(resp)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(std::io::Error::other)?,
        None => SocketAddr::from(([127, 0, 0, 1], 8000)),
    };
    let listener = TcpListener::bind(addr).await?;
    eprintln!("plain-hyper listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service_fn(handle));
            // A client closing mid-request is not the server's problem.
            let _ = conn.await;
        });
    }
}
