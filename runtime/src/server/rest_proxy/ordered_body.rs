//! A response body of reports that finish out of order but are sent in order: each is a
//! future queued as its record is read; the body awaits the oldest. The queue is bounded, so
//! a client that does not read its reports stops being read from.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

/// One report, once its record is acknowledged or refused.
pub(super) type Report = Pin<Box<dyn Future<Output = Bytes> + Send>>;

/// The body; ends when the sender is dropped and every report is sent.
pub(super) struct OrderedBody {
    reports: mpsc::Receiver<Report>,
    current: Option<Report>,
}

impl OrderedBody {
    /// A body and the queue to feed it, `window` reports deep.
    pub(super) fn new(window: usize) -> (OrderedBody, mpsc::Sender<Report>) {
        let (tx, rx) = mpsc::channel(window);
        let body = OrderedBody {
            reports: rx,
            current: None,
        };
        (body, tx)
    }
}

impl OrderedBody {
    /// Waits for the first report to be queued; `false` when none ever will be.
    pub(super) async fn started(&mut self) -> bool {
        if self.current.is_none() {
            self.current = self.reports.recv().await;
        }
        self.current.is_some()
    }
}

impl Body for OrderedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(report) = this.current.as_mut() {
                let bytes = std::task::ready!(report.as_mut().poll(cx));
                this.current = None;
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            match std::task::ready!(this.reports.poll_recv(cx)) {
                Some(next) => this.current = Some(next),
                None => return Poll::Ready(None),
            }
        }
    }
}
