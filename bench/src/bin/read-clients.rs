//! Clients of a read route for `bench/read.sh`.
//!
//! ```text
//! read-clients poll  URL COUNT             long-poll from the earliest record until COUNT
//!                                           records came, on one kept-alive connection as
//!                                           any HTTP client → "records/s N first_answer_ms F"
//! read-clients catch-up URL COUNT          one event stream from the earliest record until
//!                                           COUNT records came → "records/s N first_event_ms F"
//! read-clients sse   URL CLIENTS SECONDS   CLIENTS event streams for SECONDS; each record's
//!                                           value is {"sent_us": …}; prints "events N",
//!                                           "latency_p50_ms X", "latency_p99_ms Y"
//! read-clients stall URL CLIENTS SECONDS   CLIENTS streams that never read a byte, held open
//!                                           for SECONDS → "opened N"
//! ```
//!
//! `poll` and `catch-up` decode each record into a type of their own, as an application does,
//! and fail if a partition's offsets ever go back or repeat.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::net::TcpStream;

/// A long-poll answer as an application decodes it: into types of its own, not a tree of
/// JSON values (which costs more per record than the gateway's whole answer does).
#[derive(Deserialize)]
struct Answer<'a> {
    records: Vec<Read>,
    #[serde(borrow)]
    next: &'a str,
}

/// One record: where it is, and its value checked and skipped (an application would decode it
/// into a type of its own).
#[derive(Deserialize)]
struct Read {
    partition: i32,
    offset: i64,
    #[serde(rename = "value")]
    _value: IgnoredAny,
}

/// Each partition's last offset read: a read must never go back or repeat.
#[derive(Default)]
struct Order(std::collections::HashMap<i32, i64>);

impl Order {
    fn check(&mut self, read: &Read) {
        if let Some(last) = self.0.insert(read.partition, read.offset) {
            assert!(
                read.offset > last,
                "partition {} went from offset {last} to {}",
                read.partition,
                read.offset
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["poll", url, count] => {
            let (rate, first) = runtime.block_on(poll(url, count.parse().expect("COUNT")));
            println!("records/s {rate:.0} first_answer_ms {first:.1}");
        }
        ["catch-up", url, count] => {
            let (rate, first) = runtime.block_on(catch_up(url, count.parse().expect("COUNT")));
            println!("records/s {rate:.0} first_event_ms {first:.1}");
        }
        ["sse", url, clients, seconds] => {
            runtime.block_on(sse(
                url,
                clients.parse().expect("CLIENTS"),
                seconds.parse().expect("SECONDS"),
            ));
        }
        ["stall", url, clients, seconds] => {
            runtime.block_on(stall(
                url,
                clients.parse().expect("CLIENTS"),
                seconds.parse().expect("SECONDS"),
            ));
        }
        _ => {
            eprintln!(
                "usage: read-clients poll URL COUNT | catch-up URL COUNT | sse URL CLIENTS SECONDS | stall URL CLIENTS SECONDS"
            );
            std::process::exit(2);
        }
    }
}

/// `http://host:port/path?query` → (host:port, path?query).
fn split(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (host.to_owned(), path.to_owned())
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(host: &str) -> Sender {
    let stream = TcpStream::connect(host).await.expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn send(
    sender: &mut Sender,
    host: &str,
    path: &str,
    accept: &str,
) -> hyper::Response<hyper::body::Incoming> {
    // Ready once the last answer was read; a connection the server closed is opened again.
    if sender.ready().await.is_err() {
        *sender = connect(host).await;
    }
    let req = http::Request::builder()
        .uri(path)
        .header("host", host)
        .header("accept", accept)
        .body(Empty::<Bytes>::new())
        .unwrap();
    sender.send_request(req).await.expect("send")
}

/// One request on a connection of its own.
async fn get(host: &str, path: &str, accept: &str) -> hyper::Response<hyper::body::Incoming> {
    send(&mut connect(host).await, host, path, accept).await
}

/// Records per second over the whole read, and how long the first answer took.
async fn poll(url: &str, count: usize) -> (f64, f64) {
    let (host, path) = split(url);
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut from = "earliest".to_owned();
    let (mut read, mut order) = (0, Order::default());
    let started = Instant::now();
    let mut first = None;
    let mut sender = connect(&host).await;
    while read < count {
        let res = send(
            &mut sender,
            &host,
            &format!("{path}{sep}from={from}&timeout_ms=5000"),
            "application/json",
        )
        .await;
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.expect("body").to_bytes();
        let answer: Answer = serde_json::from_slice(&body).expect("a long-poll answer");
        read += answer.records.len();
        answer.records.iter().for_each(|r| order.check(r));
        from = answer.next.to_owned();
        first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
    }
    let rate = read as f64 / started.elapsed().as_secs_f64();
    (rate, first.unwrap_or_default())
}

/// Records per second over one event stream from the earliest record, and how long its first
/// event took.
async fn catch_up(url: &str, count: usize) -> (f64, f64) {
    let (host, path) = split(url);
    let sep = if path.contains('?') { '&' } else { '?' };
    let started = Instant::now();
    let res = get(
        &host,
        &format!("{path}{sep}from=earliest"),
        "text/event-stream",
    )
    .await;
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    let (mut read, mut first, mut order) = (0, None, Order::default());
    let mut buffer = Vec::new();
    while read < count {
        let frame = body
            .frame()
            .await
            .expect("the stream ended")
            .expect("frame");
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buffer.extend_from_slice(&data);
        let Some(end) = buffer.windows(2).rposition(|w| w == b"\n\n") else {
            continue;
        };
        let events: Vec<u8> = buffer.drain(..end + 2).collect();
        for line in events.split(|&b| b == b'\n') {
            if let Some(json) = line.strip_prefix(b"data: ") {
                order.check(&serde_json::from_slice(json).expect("a record event"));
                read += 1;
            }
        }
        first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
    }
    let rate = read as f64 / started.elapsed().as_secs_f64();
    (rate, first.unwrap_or_default())
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

async fn sse(url: &str, clients: usize, seconds: u64) {
    let (host, path) = split(url);
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let events = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (host, path, latencies, events) = (
            host.clone(),
            path.clone(),
            latencies.clone(),
            events.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut body = get(&host, &path, "text/event-stream").await.into_body();
            let mut buffer = String::new();
            let mut mine = Vec::new();
            while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(end.into(), body.frame()).await
            {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let received = now_us();
                buffer.push_str(&String::from_utf8_lossy(&data));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    for line in block.lines() {
                        let Some(json) = line.strip_prefix("data: ") else {
                            continue;
                        };
                        let Ok(event) = serde_json::from_str::<serde_json::Value>(json) else {
                            continue;
                        };
                        if let Some(sent) = event["value"]["sent_us"].as_u64() {
                            mine.push(received.saturating_sub(sent));
                            events.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let mut all = latencies.lock().unwrap().clone();
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!("events {}", events.load(Ordering::Relaxed));
    println!("latency_p50_ms {:.2}", at(0.50) as f64 / 1000.0);
    println!("latency_p99_ms {:.2}", at(0.99) as f64 / 1000.0);
}

async fn stall(url: &str, clients: usize, seconds: u64) {
    let (host, path) = split(url);
    let mut held = Vec::new();
    for _ in 0..clients {
        // Sends the request, then never reads the answer: the socket's buffers fill.
        let stream = std::net::TcpStream::connect(&host).expect("connect");
        use std::io::Write;
        let mut s = &stream;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: {host}\r\naccept: text/event-stream\r\n\r\n"
        )
        .expect("send");
        held.push(stream);
    }
    println!("opened {}", held.len());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}
