//! Reading a request body within `server.max_body_bytes`.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::config::ServerConfig;
use crate::error::RequestError;

/// How much of an oversized body is read and thrown away so that a client that sends it all
/// before reading (most do, unless they sent `Expect: 100-continue`) gets the 413 rather than
/// a reset connection. Past this, the connection is closed.
const DRAIN_MAX: u64 = 8 << 20;

/// How long draining an oversized body may take.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Collects the body within `server.request_timeout_ms`, refusing it as soon as it passes
/// `server.max_body_bytes`.
pub(crate) async fn read(
    body: Incoming,
    headers: &http::HeaderMap,
    server: &ServerConfig,
) -> Result<Bytes, RequestError> {
    let timeout_ms = server.request_timeout_ms;
    let read = collect(body, headers, server.max_body_bytes);
    match tokio::time::timeout(Duration::from_millis(timeout_ms), read).await {
        Ok(body) => body,
        Err(_) => Err(RequestError::RequestTimeout { timeout_ms }),
    }
}

async fn collect(
    mut body: Incoming,
    headers: &http::HeaderMap,
    limit: u64,
) -> Result<Bytes, RequestError> {
    let too_large = RequestError::BodyTooLarge { limit };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        // A client waiting for `100 Continue` has sent nothing yet: answer at once.
        let waiting = headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waiting && declared.is_some_and(|len| len <= DRAIN_MAX) {
            drain(&mut body).await;
        }
        return Err(too_large);
    }
    let mut collected = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            RequestError::BadRequest(format!("could not read the request body: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            if collected.len() as u64 + data.len() as u64 > limit {
                drain(&mut body).await;
                return Err(too_large);
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

/// Reads and discards up to `DRAIN_MAX` bytes for up to `DRAIN_TIME`.
async fn drain(body: &mut Incoming) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > DRAIN_MAX {
                return;
            }
        }
    })
    .await;
}
