//! REST Proxy v3 streaming produce clients for `bench/rest_proxy.sh`.
//!
//! ```text
//! v3-stream URL STREAMS RECORDS SIZE   STREAMS connections, each one chunked POST of RECORDS
//!                                      records (~SIZE-byte JSON values) to URL, reading the
//!                                      reports as they come → "records/s N", "ok N", "failed N"
//! ```

use std::time::Instant;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Records per chunk written.
const CHUNK: usize = 100;

struct Streamed(mpsc::Receiver<Bytes>);

impl Body for Streamed {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|c| c.map(|c| Ok(Frame::data(c))))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, streams, records, size] = &args[..] else {
        eprintln!("usage: v3-stream URL STREAMS RECORDS SIZE");
        std::process::exit(2);
    };
    let (streams, records, size): (usize, usize, usize) = (
        streams.parse().expect("STREAMS"),
        records.parse().expect("RECORDS"),
        size.parse().expect("SIZE"),
    );
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, path) = (host.to_owned(), path.to_owned());
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let started = Instant::now();
    let (ok, failed) = runtime.block_on(async {
        let tasks: Vec<_> = (0..streams)
            .map(|s| tokio::spawn(stream(host.clone(), path.clone(), s, records, size)))
            .collect();
        let (mut ok, mut failed) = (0, 0);
        for task in tasks {
            let (o, f) = task.await.expect("stream task");
            ok += o;
            failed += f;
        }
        (ok, failed)
    });
    let secs = started.elapsed().as_secs_f64();
    println!("records/s {:.0}", ok as f64 / secs);
    println!("ok {ok}");
    println!("failed {failed}");
}

async fn stream(
    host: String,
    path: String,
    id: usize,
    records: usize,
    size: usize,
) -> (usize, usize) {
    let tcp = TcpStream::connect(&host).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let (tx, rx) = mpsc::channel(16);
    let pad = "x".repeat(size.saturating_sub(40));
    tokio::spawn(async move {
        for start in (0..records).step_by(CHUNK) {
            let mut text = String::with_capacity(CHUNK * (size + 80));
            for i in start..(start + CHUNK).min(records) {
                text.push_str(&format!(
                    "{{\"key\":{{\"type\":\"STRING\",\"data\":\"u-{id}-{i}\"}},\"value\":{{\"type\":\"JSON\",\"data\":{{\"event\":\"page_view\",\"pad\":\"{pad}\"}}}}}}\n"
                ));
            }
            if tx.send(Bytes::from(text)).await.is_err() {
                return;
            }
        }
    });
    let request = http::Request::post(path)
        .header("host", host)
        .header("content-type", "application/json")
        .body(Streamed(rx))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let (mut ok, mut failed, mut pending) = (0, 0, Vec::new());
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.expect("body").into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        let mut reports =
            serde_json::Deserializer::from_slice(&pending).into_iter::<serde_json::Value>();
        for report in reports.by_ref() {
            match report {
                Ok(r) if r["error_code"] == 200 => ok += 1,
                Ok(r) => {
                    if failed == 0 {
                        eprintln!("stream {id}: first failure: {r}");
                    }
                    failed += 1;
                }
                Err(e) if e.is_eof() => break,
                Err(e) => panic!("bad report: {e}"),
            }
        }
        let used = reports.byte_offset();
        pending.drain(..used);
    }
    (ok, failed)
}
