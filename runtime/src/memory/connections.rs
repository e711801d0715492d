//! What an open connection holds before any request body is charged: its task and protocol
//! state, TLS records, and the read buffer hyper fills from the socket (up to
//! `server.max_header_bytes` for HTTP/1.1). Thousands of clients that each sent part of a body
//! and stalled hold that much each, so it is charged too.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Charge, Memory, Use};

/// Charged for every connection from accept to close: task, protocol state, socket.
pub const CONNECTION_BASE: usize = 16 << 10;

/// A stream whose read buffer is charged at its high-water mark: hyper keeps the buffer it
/// grew, so the largest read it asked for is what the connection holds.
pub struct Metered<S> {
    inner: S,
    /// Charged whatever the reads: the base and `extra`.
    fixed: usize,
    /// None on the admin listener, which has no budget.
    charge: Option<Charge>,
}

impl<S> Metered<S> {
    /// Charges a new connection's base cost and `extra` (TLS buffers), and meters its reads.
    /// Never refuses: the accept loop is what holds connections back.
    pub fn new(inner: S, memory: Option<&Arc<Memory>>, extra: usize) -> Self {
        let fixed = CONNECTION_BASE + extra;
        Metered {
            inner,
            fixed,
            charge: memory.map(|m| m.force_take(Use::Connections, fixed)),
        }
    }

    fn note_read_capacity(&mut self, capacity: usize) {
        // Grows only, and rarely: hyper's reads double up to `max_header_bytes`.
        if let Some(charge) = &mut self.charge {
            let wanted = self.fixed + capacity;
            if wanted > charge.bytes() {
                charge.force_grow(wanted - charge.bytes());
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let capacity = buf.remaining();
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        // Charge what the buffer actually took in, up to what it offered.
        if buf.filled().len() > before {
            this.note_read_capacity(capacity);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
