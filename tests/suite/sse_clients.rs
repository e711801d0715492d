//! Third-party server-sent-event clients, unchanged, against a read route: the npm
//! `eventsource` package and a real browser's `EventSource` (headless Chromium driven by
//! playwright-core). The route ends each stream after 1.5 s, as a deployment behind a load
//! balancer would; each client must reconnect by itself with `Last-Event-ID` and go on with no
//! gap and no duplicate. `tests/node/` holds the clients (`npm ci` there; `scripts/test.sh` does).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use wafka_tests::node::Script;
use wafka_tests::{Broker, TestGateway};

const ROUTES: &str = r#"
[[routes]]
name = "produce"
path = "/v1/events/{source}"
topic = "events"
filters = [{ name = "topic-router", config = { param = "source", template = "events.{}", allow = ["events.web"] } }]

[[routes]]
name = "read"
path = "/v1/events/{source}"
topic = "events.{source}"
read = { max_stream_ms = 1500, cors_origins = ["*"] }
"#;

/// A client process and the lines it prints.
struct Client(Script);

impl Client {
    fn start(script: &str, args: &[&str]) -> Client {
        Client(Script::start(script, args))
    }

    async fn line(&self, wait: Duration) -> String {
        self.0.line(wait).await
    }

    /// Reads lines until `n` events came; returns them and how many times the stream opened.
    async fn events(&self, n: usize) -> (Vec<Value>, usize) {
        let (mut events, mut opened) = (Vec::new(), 0);
        while events.len() < n {
            let line = self.line(Duration::from_secs(30)).await;
            if line == "open" {
                opened += 1;
            } else if let Some(json) = line.strip_prefix("event ") {
                events.push(serde_json::from_str(json).unwrap());
            }
        }
        (events, opened)
    }

    /// Waits until the stream has opened `times` more times.
    async fn opens(&self, times: usize) {
        let mut seen = 0;
        while seen < times {
            if self.line(Duration::from_secs(30)).await == "open" {
                seen += 1;
            }
        }
    }
}

async fn produce(gw: &TestGateway, n: usize, tag: &str) {
    for i in 0..n {
        let res = gw
            .post("/v1/events/web", format!(r#"{{"tag":"{tag}","n":{i}}}"#))
            .await;
        assert_eq!(res.status, 200);
    }
}

/// Six events across at least one reconnect, each record once.
async fn reads_and_resumes(gw: &TestGateway, client: Client) {
    let (first, opened) = client.events(3).await;
    assert_eq!(opened, 1);
    // The route ends the stream after 1.5 s; the client reopens it with Last-Event-ID.
    client.opens(1).await;
    produce(gw, 3, "b").await;
    let (rest, _) = client.events(3).await;
    let all: Vec<(i64, i64)> = first
        .iter()
        .chain(&rest)
        .map(|e| {
            (
                e["data"]["partition"].as_i64().unwrap(),
                e["data"]["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!(
        (all.len(), unique.len()),
        (6, 6),
        "a gap or a duplicate: {all:?}"
    );
    let tags: Vec<&str> = first
        .iter()
        .chain(&rest)
        .map(|e| e["data"]["value"]["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["a", "a", "a", "b", "b", "b"]);
    assert!(first.iter().all(|e| !e["id"].as_str().unwrap().is_empty()));
}

async fn gateway() -> TestGateway {
    TestGateway::builder(Broker::Embedded)
        .routes(ROUTES)
        .topics(&["events.web"])
        .filter("topic-router")
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eventsource_package_reads_and_resumes() {
    let gw = gateway().await;
    produce(&gw, 3, "a").await;
    let url = format!("http://{}/v1/events/web?from=earliest", gw.gateway().addr());
    let client = Client::start("sse-client.mjs", &[&url, "6"]);
    reads_and_resumes(&gw, client).await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_eventsource_reads_and_resumes() {
    let gw = gateway().await;
    produce(&gw, 3, "a").await;
    let stream = format!("http://{}/v1/events/web?from=earliest", gw.gateway().addr());
    // The page comes from another origin than the gateway, as a dashboard's would.
    let page = serve_page(format!(
        r#"<!doctype html><html><body><script>
const source = new EventSource({stream:?});
source.onopen = () => console.log("open");
source.onmessage = (e) => console.log("event " + JSON.stringify({{ id: e.lastEventId, data: JSON.parse(e.data) }}));
</script></body></html>"#
    ))
    .await;
    let client = Client::start("browser.mjs", &[&format!("http://{page}/"), "6"]);
    reads_and_resumes(&gw, client).await;
    gw.shutdown().await;
}

/// Serves `html` on a loopback port of its own; returns the address.
async fn serve_page(html: String) -> SocketAddr {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let html = Bytes::from(html);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    let html = html.clone();
                    async move {
                        let mut res = http::Response::new(Full::new(html));
                        res.headers_mut()
                            .insert("content-type", "text/html".parse().unwrap());
                        Ok::<_, std::convert::Infallible>(res)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}
