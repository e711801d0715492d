//! Reading a request body within `server.max_body_bytes` and the gateway's memory budget: each
//! piece is charged before the next is read, so when memory runs low the body simply waits
//! (TCP holds the client back), and a body whose client stalled can be shed.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use std::sync::Arc;

use crate::config::ServerConfig;
use crate::error::RequestError;
use crate::memory::{Action, BodyWatch, Charge, Level, Memory, Use};

/// How much of an oversized body is read and thrown away so that a client that sends it all
/// before reading (most do, unless they sent `Expect: 100-continue`) gets the 413 rather than
/// a reset connection. Past this, the connection is closed.
const DRAIN_MAX: u64 = 8 << 20;

/// Longest a body waits for memory before its request is answered 503 `overloaded`.
const MEMORY_WAIT: Duration = Duration::from_secs(2);

/// A body declared this small is paid for at once while the budget has room, even past the
/// pause mark: holding back small requests would not relieve memory, only delay clients.
const SMALL: u64 = 64 << 10;

/// How long draining an oversized body may take.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A body read, and the memory it holds until the request is done.
pub(crate) struct Read {
    pub bytes: Bytes,
    /// Given back to the budget when dropped.
    pub _charge: Option<Charge>,
}

/// Collects the body within `server.request_timeout_ms`, refusing it as soon as it passes
/// `server.max_body_bytes`.
pub(crate) async fn read(
    body: Incoming,
    headers: &http::HeaderMap,
    server: &ServerConfig,
    memory: &Arc<Memory>,
) -> Result<Read, RequestError> {
    let limit = server.max_body_bytes;
    read_within(body, headers, limit, server.request_timeout_ms, memory).await
}

/// Collects the body within `timeout_ms`, refusing it as soon as it passes `limit` bytes.
pub(crate) async fn read_within(
    body: Incoming,
    headers: &http::HeaderMap,
    limit: u64,
    timeout_ms: u64,
    memory: &Arc<Memory>,
) -> Result<Read, RequestError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
    let watch = memory.watch_body();
    let read = collect(body, headers, limit, memory, &watch, deadline);
    tokio::select! {
        read = tokio::time::timeout_at(deadline, read) => match read {
            Ok(body) => body,
            Err(_) => Err(RequestError::RequestTimeout { timeout_ms }),
        },
        _ = watch.shed() => Err(RequestError::Overloaded),
    }
}

async fn collect(
    mut body: Incoming,
    headers: &http::HeaderMap,
    limit: u64,
    memory: &Arc<Memory>,
    watch: &BodyWatch,
    deadline: tokio::time::Instant,
) -> Result<Read, RequestError> {
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
    // Kept as hyper read them (no copy per piece, no doubling buffer), joined once at the end.
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    let mut charge: Option<Charge> = None;
    let small = declared.is_some_and(|n| n <= SMALL);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            RequestError::BadRequest(format!("could not read the request body: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            if len as u64 + data.len() as u64 > limit {
                drain(&mut body).await;
                return Err(too_large);
            }
            watch.progressed(data.len());
            // The next piece is read only once this one is paid for. A small body is paid for
            // at once while the budget has room: it is done quickly and gives it back.
            let paid = match &mut charge {
                Some(c) => memory.level() == Level::Normal && c.grow(data.len()),
                None if small => {
                    // Already read: waiting would hold it, not relieve anything.
                    let now = memory.try_take(Use::Bodies, data.len());
                    if now.is_none() {
                        memory.took(Action::Refused);
                        return Err(RequestError::Overloaded);
                    }
                    charge = now;
                    true
                }
                None => false,
            };
            if !paid {
                watch.waiting(true);
                let wait = deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .min(MEMORY_WAIT);
                let more = memory.take(Use::Bodies, data.len(), wait).await;
                watch.waiting(false);
                let more = more.ok_or(RequestError::Overloaded)?;
                match &mut charge {
                    Some(charge) => charge.absorb(more),
                    None => charge = Some(more),
                }
            }
            len += data.len();
            pieces.push(data);
        }
    }
    let bytes = match pieces.len() {
        0 => Bytes::new(),
        // Copied out of hyper's read buffer: records may wait in flight for minutes (a paused
        // broker), and a slice would keep the connection's whole buffer alive with them.
        1 => Bytes::copy_from_slice(&pieces.pop().expect("one piece")),
        _ => {
            // Each piece is freed as it is copied: the two copies never both exist in full.
            let mut joined = BytesMut::with_capacity(len);
            for piece in pieces {
                joined.extend_from_slice(&piece);
            }
            joined.freeze()
        }
    };
    Ok(Read {
        bytes,
        _charge: charge,
    })
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
