//! A server-sent-event client for tests: opens a stream over a real socket and hands out the
//! events as they arrive.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One event: its `id:`, `event:` and `data:` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `id:`, empty when none.
    pub id: String,
    /// `event:`, `message` when none.
    pub event: String,
    /// `data:` lines joined with newlines.
    pub data: String,
}

impl Event {
    /// `data` as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// An open stream.
pub struct Stream {
    /// The answer's status.
    pub status: u16,
    /// The answer's headers.
    pub headers: http::HeaderMap,
    body: Incoming,
    buffer: String,
    /// `retry:` when the server sent one.
    pub retry: Option<u64>,
}

/// Opens `GET path` with `Accept: text/event-stream` and `headers`.
pub async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Stream {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut builder = http::Request::builder()
        .uri(path)
        .header("host", addr.to_string())
        .header("accept", "text/event-stream");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let res = sender
        .send_request(builder.body(Empty::<Bytes>::new()).unwrap())
        .await
        .expect("send");
    let (parts, body) = res.into_parts();
    Stream {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
        buffer: String::new(),
        retry: None,
    }
}

impl Stream {
    /// The next event within `wait`; `None` when the stream ended or nothing came.
    /// Comments (heartbeats) are skipped.
    pub async fn next(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.parse() {
                return Some(event);
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??;
            let Ok(frame) = frame else { return None };
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// The next `n` events, each within `wait`; panics when fewer come.
    pub async fn take(&mut self, n: usize, wait: Duration) -> Vec<Event> {
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            match self.next(wait).await {
                Some(e) if e.event == "message" && !e.data.is_empty() => events.push(e),
                Some(_) => {}
                None => panic!("only {} of {n} events came", events.len()),
            }
        }
        events
    }

    /// Every event (heartbeats skipped) until the server ends the stream; panics when it is
    /// still open after `wait`.
    pub async fn rest(&mut self, wait: Duration) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut events = Vec::new();
        loop {
            while let Some(event) = self.parse() {
                events.push(event);
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .unwrap_or_else(|_| panic!("the stream is still open after {wait:?}"));
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                Some(Err(_)) | None => return events,
            }
        }
    }

    fn parse(&mut self) -> Option<Event> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut event = Event {
                id: String::new(),
                event: "message".into(),
                data: String::new(),
            };
            let mut any = false;
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "" => {}
                    "id" => {
                        event.id = value.to_owned();
                        any = true;
                    }
                    "event" => {
                        event.event = value.to_owned();
                        any = true;
                    }
                    "data" => {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                        any = true;
                    }
                    "retry" => self.retry = value.parse().ok(),
                    _ => {}
                }
            }
            if any {
                return Some(event);
            }
        }
    }
}
