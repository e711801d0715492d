//! The sandbox holds and hostile HTTP gets clear answers: each hostile filter is answered with
//! its code within its deadline while other requests keep succeeding.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wafka_tests::{Broker, TestGateway, request};

const HOSTILE: &str = r#"
[[routes]]
name = "good"
path = "/v1/good"
topic = "good"

[[routes]]
name = "hostile"
path = "/v1/hostile/loop"
topic = "good"
filter_timeout_ms = 100
filters = [{ name = "hostile", config = { act = "loop" } }]
"#;

fn hostile_routes() -> String {
    let mut routes = HOSTILE.to_owned();
    // A generous deadline, so the memory cap and the stack limit are what stop them.
    for act in [
        "memory-bomb",
        "recurse",
        "many-records",
        "huge-value",
        "read-file",
        "read-env",
    ] {
        routes.push_str(&format!(
            "\n[[routes]]\nname = \"{act}\"\npath = \"/v1/hostile/{act}\"\ntopic = \"good\"\n\
             filter_timeout_ms = 5000\nerror_details = true\n\
             filters = [{{ name = \"hostile\", config = {{ act = \"{act}\" }} }}]\n"
        ));
    }
    routes
}

async fn hostile_gateway() -> TestGateway {
    TestGateway::builder(Broker::Embedded)
        .routes(&hostile_routes())
        .filter("hostile")
        .configure(|c| {
            c.server.request_header_timeout_ms = 300;
            c.server.request_timeout_ms = 300;
            c.server.max_uri_bytes = 1024;
        })
        .start()
        .await
}

/// Sends `path` while good requests run alongside; returns the answer, how long it took, and
/// how many good requests succeeded meanwhile (all must).
async fn while_serving(gw: &TestGateway, path: &str) -> (wafka_tests::Response, Duration, usize) {
    let addr = gw.gateway().addr();
    let stop = Arc::new(AtomicBool::new(false));
    let good = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut ok = 0;
            while !stop.load(Ordering::Relaxed) {
                let res = request(addr, "POST", "/v1/good", &[], "{}").await;
                assert_eq!(res.status, 200, "a good request failed: {}", res.json());
                ok += 1;
            }
            ok
        }
    });
    let started = Instant::now();
    let res = request(addr, "POST", path, &[], r#"{"a":1}"#).await;
    let took = started.elapsed();
    // One more good request after the hostile one, so both overlap for sure.
    assert_eq!(
        request(addr, "POST", "/v1/good", &[], "{}").await.status,
        200
    );
    stop.store(true, Ordering::Relaxed);
    (res, took, good.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_filters_get_clear_answers_and_others_keep_working() {
    let gw = hostile_gateway().await;

    let (res, took, _) = while_serving(&gw, "/v1/hostile/loop").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (504, "filter_timeout")
    );
    assert!(
        took >= Duration::from_millis(100),
        "stopped before its deadline: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "not stopped at its deadline: {took:?}"
    );

    let (res, _, _) = while_serving(&gw, "/v1/hostile/memory-bomb").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (500, "filter_failed")
    );
    let message = res.json()["error"]["message"].to_string();
    assert!(message.contains("memory allocation"), "{message}");

    let (res, _, _) = while_serving(&gw, "/v1/hostile/recurse").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (500, "filter_failed")
    );
    // Rust's shadow stack sits at the bottom of linear memory: overflowing it is an
    // out-of-bounds access; deep wasm frames exhaust wasmtime's own stack limit instead.
    let message = res.json()["error"]["message"].to_string();
    assert!(
        message.contains("out of bounds memory access") || message.contains("call stack exhausted"),
        "{message}"
    );

    for act in ["many-records", "huge-value"] {
        let (res, took, _) = while_serving(&gw, &format!("/v1/hostile/{act}")).await;
        assert_eq!(
            (res.status, res.error_code().as_str()),
            (500, "filter_output_too_large"),
            "{act}"
        );
        assert!(took < Duration::from_secs(2), "{act} took {took:?}");
    }

    // No filesystem, no environment.
    let (res, _, _) = while_serving(&gw, "/v1/hostile/read-file").await;
    assert_eq!(res.status, 200);
    assert!(
        res.json()["outcome"]
            .as_str()
            .unwrap()
            .starts_with("denied"),
        "{}",
        res.json()
    );
    let (res, _, _) = while_serving(&gw, "/v1/hostile/read-env").await;
    assert!(
        res.json()["outcome"]
            .as_str()
            .unwrap()
            .starts_with("denied"),
        "{}",
        res.json()
    );
    assert_eq!(res.json()["variables"], 0);

    // Counted per filter and outcome.
    let metrics = gw.metrics().await;
    let calls = |outcome| {
        wafka_tests::prometheus::value(
            &metrics,
            "wafka_filter_invocations_total",
            &[("filter", "hostile"), ("outcome", outcome)],
        )
    };
    assert_eq!(calls("timed_out"), 1.0);
    assert_eq!(
        calls("trapped"),
        4.0,
        "memory bomb, recursion and the two output limits"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_requests_are_cut_off() {
    let gw = hostile_gateway().await;
    let addr = gw.gateway().addr();

    // Half a request header, then nothing: closed within the header timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /v1/good HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "connection still open after 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    // Headers complete, body trickles: 408 after the request timeout.
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle
        .write_all(b"POST /v1/good HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")
        .await
        .unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), trickle.read(&mut answer))
        .await
        .expect("answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");

    let long = format!("/v1/good?pad={}", "x".repeat(2000));
    let res = gw.post(&long, "{}").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (414, "uri_too_long")
    );

    let many: Vec<(String, String)> = (0..150).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = gw.send("POST", "/v1/good", &many, "{}").await;
    assert_eq!(res.status, 431, "too many headers");

    // Malformed HTTP gets 400 from the server, and it keeps serving.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut answer)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400"));
    assert_eq!(gw.post("/v1/good", "{}").await.status, 200);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_served() {
    use http_body_util::{BodyExt, Full};
    let gw = hostile_gateway().await;
    let stream = TcpStream::connect(gw.gateway().addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake (prior knowledge)");
    tokio::spawn(conn);
    let req = http::Request::post(format!("http://{}/v1/good", gw.gateway().addr()))
        .body(Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), http::Version::HTTP_2);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("\"offset\""));
    gw.shutdown().await;
}

/// A filter that sets a topic, partition or header name the gateway cannot produce is stopped
/// in the host call that sets it and named, even when other filters run after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_output_is_blamed_on_the_filter_that_set_it() {
    let mut routes = String::new();
    for act in ["bad-topic", "bad-partition", "bad-header"] {
        routes.push_str(&format!(
            "\n[[routes]]\nname = \"{act}\"\npath = \"/v1/{act}\"\ntopic = \"good\"\n\
             filters = [{{ name = \"hostile\", config = {{ act = \"{act}\" }} }}, {{ name = \"json-enrich\" }}]\n"
        ));
    }
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(&routes)
        .filter("hostile")
        .filter("json-enrich")
        .start()
        .await;
    for (act, why) in [
        ("bad-topic", "\"not a topic!\" is not a Kafka topic name"),
        ("bad-partition", "partition -2 is negative"),
        ("bad-header", "a record header name is empty"),
    ] {
        let res = gw.post(&format!("/v1/{act}"), r#"{"a":1}"#).await;
        assert_eq!(
            (res.status, res.error_code().as_str()),
            (500, "filter_invalid_output"),
            "{act}"
        );
        let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(
            message.starts_with("filter hostile returned invalid output") && message.contains(why),
            "{act}: {message}"
        );
    }
    let metrics = gw.metrics().await;
    let invalid = wafka_tests::prometheus::value(
        &metrics,
        "wafka_filter_invocations_total",
        &[("filter", "hostile"), ("outcome", "invalid")],
    );
    assert!(invalid >= 3.0, "{invalid}");
    gw.shutdown().await;
}
