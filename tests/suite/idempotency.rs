//! `Idempotency-Key` (docs/delivery.md "Retries"): a client that retries each request with its
//! key finds exactly one record per key in Kafka and the same answer every time, whatever cut
//! the first answer short: a dropped connection, a paused broker, another gateway.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use wafka::config::PropertyValue;
use wafka_tests::kafka::{Consumed, read_all};
use wafka_tests::prometheus::value;
use wafka_tests::{Broker, Response, TestGateway, try_request};

use crate::on_both_brokers;

on_both_brokers!(
    each_key_is_written_once_whatever_cut_the_answer,
    a_key_reused_missing_or_malformed_is_refused,
    one_identity_never_sees_another_identitys_answer,
    a_retry_on_another_gateway_gets_the_first_answer
);

const ROUTES: &str = r#"
[[routes]]
name = "orders"
path = "/v1/orders"
topic = "orders"
idempotency = {}

[[routes]]
name = "clicks"
path = "/v1/clicks"
topic = "clicks"
mode = "async"
idempotency = { required = true }

[[routes]]
name = "plain"
path = "/v1/plain"
topic = "plain"

[idempotency]
"#;

/// How long a test waits for anything.
const PATIENCE: Duration = Duration::from_secs(60);

/// A client that does what the contract asks: on a lost answer, 409 or 503 it sends the same
/// request with the same key again, after `Retry-After` (or at once when the connection broke).
async fn until_answered(addr: SocketAddr, path: &str, key: &str, body: &str) -> Response {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let headers = [("idempotency-key", key), ("content-type", "text/plain")];
        match try_request(addr, "POST", path, &headers, body.to_owned()).await {
            Ok(res) if res.status == 409 || res.status == 503 => {
                let wait = res
                    .header("retry-after")
                    .and_then(|s| s.parse::<u64>().ok())
                    .expect("409 and 503 say when to retry");
                // A real client's back-off, shortened: the gateway's answer is the event.
                tokio::time::sleep(Duration::from_millis(wait * 100)).await;
            }
            Ok(res) => return res,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        assert!(Instant::now() < deadline, "{key} never answered");
    }
}

/// Sends the request and closes the connection without reading the answer: the answer is lost.
async fn send_and_hang_up(addr: SocketAddr, path: &str, key: &str, body: &str) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nidempotency-key: {key}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
}

/// The header value naming a record's key, if it has one.
fn key_header(record: &Consumed) -> Option<String> {
    record
        .headers
        .iter()
        .find(|(n, _)| n == "wafka-idempotency-key")
        .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
}

/// Each value's count in `topic`.
fn counts(records: &[Consumed]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in records {
        let value = String::from_utf8(r.value.clone().unwrap_or_default()).unwrap();
        *counts.entry(value).or_default() += 1;
    }
    counts
}

/// Reads `topic` until it holds `n` records and stays there while the gateway's producer is
/// idle; more than `n` is a failure the caller sees.
fn read_settled(bootstrap: &str, topic: &str, n: usize) -> Vec<Consumed> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let records = read_all(bootstrap, topic);
        if records.len() >= n || Instant::now() > deadline {
            return records;
        }
    }
}

async fn each_key_is_written_once_whatever_cut_the_answer(broker: Broker) {
    let gw = TestGateway::builder(broker).routes(ROUTES).start().await;
    let addr = gw.gateway().addr();
    const N: usize = 1000;
    let first: Arc<tokio::sync::Mutex<BTreeMap<usize, serde_json::Value>>> = Default::default();
    let mut tasks = Vec::new();
    for lane in 0..16 {
        let first = first.clone();
        tasks.push(tokio::spawn(async move {
            for i in (lane..N).step_by(16) {
                let (key, body) = (format!("order-key-{i}"), format!("order-{i}"));
                // Every other answer is lost on the wire; the rest are read and thrown away.
                if i % 2 == 0 {
                    send_and_hang_up(addr, "/v1/orders", &key, &body).await;
                } else {
                    until_answered(addr, "/v1/orders", &key, &body).await;
                }
                let answer = until_answered(addr, "/v1/orders", &key, &body).await;
                assert_eq!(answer.status, 200, "{key}: {}", answer.json());
                let again = until_answered(addr, "/v1/orders", &key, &body).await;
                assert_eq!(again.status, 200);
                assert_eq!(again.header("idempotent-replayed"), Some("true"));
                assert_eq!(again.json(), answer.json(), "{key}: the same answer");
                first.lock().await.insert(i, answer.json());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let records = read_settled(&gw.bootstrap, "orders", N);
    assert_eq!(records.len(), N, "exactly one record per key");
    let counted = counts(&records);
    for i in 0..N {
        assert_eq!(counted.get(&format!("order-{i}")), Some(&1), "order-{i}");
    }
    // Each answer names the record that is in Kafka.
    let first = first.lock().await;
    for r in &records {
        let i: usize = String::from_utf8(r.value.clone().unwrap())
            .unwrap()
            .strip_prefix("order-")
            .unwrap()
            .parse()
            .unwrap();
        let placed = &first[&i]["records"][0];
        assert_eq!(
            (placed["partition"].as_i64(), placed["offset"].as_i64()),
            (Some(r.partition as i64), Some(r.offset)),
            "order-{i}"
        );
        assert!(key_header(r).is_some_and(|h| h.ends_with("/0")));
    }

    // An async route keeps its 202 the same way.
    for i in 0..20 {
        let (key, body) = (format!("click-key-{i}"), format!("click-{i}"));
        let answer = until_answered(addr, "/v1/clicks", &key, &body).await;
        assert_eq!(answer.status, 202);
        let again = until_answered(addr, "/v1/clicks", &key, &body).await;
        assert_eq!(
            (again.status, again.header("idempotent-replayed")),
            (202, Some("true"))
        );
    }
    let clicks = read_settled(&gw.bootstrap, "clicks", 20);
    assert_eq!(clicks.len(), 20);
    assert!(counts(&clicks).values().all(|n| *n == 1));

    // Process-wide (other tests run beside this one): at least this test's replays.
    let replayed = value(
        &gw.metrics().await,
        "wafka_idempotency_requests_total",
        &[("outcome", "replayed")],
    );
    assert!(replayed >= (N + 20) as f64, "replayed {replayed}");
    let admin = gw.admin("/admin/idempotency").await.json();
    assert_eq!(admin["keys"], N + 20, "{admin}");
    assert_eq!(admin["max_keys"], 100_000);
    gw.shutdown().await;
}

async fn a_key_reused_missing_or_malformed_is_refused(broker: Broker) {
    let gw = TestGateway::builder(broker)
        .routes(ROUTES)
        .configure(|c| {
            c.idempotency.as_mut().unwrap().max_keys = 3;
        })
        .start()
        .await;
    let addr = gw.gateway().addr();
    let first = until_answered(addr, "/v1/orders", "k-1", "one").await;
    assert_eq!(first.status, 200);
    // The same key with another body: 422, and nothing written.
    let other = until_answered(addr, "/v1/orders", "k-1", "two").await;
    assert_eq!(other.status, 422, "{}", other.json());
    assert_eq!(other.error_code(), "idempotency_key_reused");
    // A route that requires a key: 400 without one.
    let res = gw.send("POST", "/v1/clicks", &[], "x").await;
    assert_eq!(res.status, 400);
    assert_eq!(res.error_code(), "idempotency_key_missing");
    let long = "k".repeat(256);
    let res = gw
        .send("POST", "/v1/orders", &[("idempotency-key", &long)], "x")
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.error_code(), "idempotency_key_invalid");
    // A route without `idempotency` ignores the header: two records.
    for _ in 0..2 {
        let res = gw
            .send("POST", "/v1/plain", &[("idempotency-key", "k-1")], "p")
            .await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("idempotent-replayed"), None);
    }
    // Past `max_keys`: 503 with Retry-After, and the keys already kept still answer.
    for key in ["k-2", "k-3"] {
        assert_eq!(
            until_answered(addr, "/v1/orders", key, key).await.status,
            200
        );
    }
    let full = gw
        .send("POST", "/v1/orders", &[("idempotency-key", "k-4")], "four")
        .await;
    assert_eq!(full.status, 503);
    assert_eq!(full.error_code(), "idempotency_keys_full");
    assert!(full.header("retry-after").is_some());
    let again = until_answered(addr, "/v1/orders", "k-1", "one").await;
    assert_eq!(again.json(), first.json());
    let orders = read_settled(&gw.bootstrap, "orders", 3);
    assert_eq!(orders.len(), 3);
    assert_eq!(read_settled(&gw.bootstrap, "plain", 2).len(), 2);
    gw.shutdown().await;
}

async fn one_identity_never_sees_another_identitys_answer(broker: Broker) {
    let digest = |key: &str| format!("sha256:{:x}", Sha256::digest(key.as_bytes()));
    let routes = format!(
        r#"
[[routes]]
name = "orders"
path = "/v1/orders"
topic = "orders"
idempotency = {{ identity = ["x-api-key-id"] }}
filters = [
  {{ name = "api-key-auth", config = {{ keys = [
    {{ id = "shop", sha256 = "{}", topics = ["orders"] }},
    {{ id = "billing", sha256 = "{}", topics = ["orders"] }},
  ] }} }},
]

[idempotency]
"#,
        digest("shop-key"),
        digest("billing-key"),
    );
    let gw = TestGateway::builder(broker)
        .routes(&routes)
        .filter("api-key-auth")
        .start()
        .await;
    let client = &gw;
    let post = move |api_key: &'static str| async move {
        client
            .send(
                "POST",
                "/v1/orders",
                &[("x-api-key", api_key), ("idempotency-key", "same-key")],
                "same body",
            )
            .await
    };
    let shop = post("shop-key").await;
    let billing = post("billing-key").await;
    assert_eq!((shop.status, billing.status), (200, 200));
    assert_eq!(
        billing.header("idempotent-replayed"),
        None,
        "its own produce"
    );
    assert_ne!(shop.json(), billing.json());
    // Each gets its own answer again.
    let (shop2, billing2) = (post("shop-key").await, post("billing-key").await);
    assert_eq!(shop2.json(), shop.json());
    assert_eq!(billing2.json(), billing.json());
    // A caller the filter refuses learns nothing about the key.
    let stranger = gw
        .send(
            "POST",
            "/v1/orders",
            &[("x-api-key", "nope"), ("idempotency-key", "same-key")],
            "same body",
        )
        .await;
    assert_eq!(stranger.status, 401);
    let orders = read_settled(&gw.bootstrap, "orders", 2);
    assert_eq!(orders.len(), 2);
    let senders: Vec<_> = orders
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .find(|(n, _)| n == "x-api-key-id")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert!(
        senders.contains(&Some(b"shop".to_vec())) && senders.contains(&Some(b"billing".to_vec()))
    );
    gw.shutdown().await;
}

async fn a_retry_on_another_gateway_gets_the_first_answer(broker: Broker) {
    let first = TestGateway::builder(broker).routes(ROUTES).start().await;
    let bootstrap = first.bootstrap.clone();
    let second = TestGateway::builder(Broker::Embedded)
        .routes(ROUTES)
        .configure(move |c| {
            c.kafka.brokers = bootstrap;
        })
        .start()
        .await;
    let (a, b) = (first.gateway().addr(), second.gateway().addr());
    const N: usize = 200;
    for i in 0..N {
        let (key, body) = (format!("spread-{i}"), format!("spread-{i}"));
        // Half the first attempts on each gateway, the retry on the other.
        let (one, other) = if i % 2 == 0 { (a, b) } else { (b, a) };
        let answer = until_answered(one, "/v1/orders", &key, &body).await;
        assert_eq!(answer.status, 200);
        let again = until_answered(other, "/v1/orders", &key, &body).await;
        assert_eq!(again.status, 200, "{}", again.json());
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.json(), answer.json());
    }
    let orders = read_settled(&first.bootstrap, "orders", N);
    assert_eq!(orders.len(), N);
    assert!(counts(&orders).values().all(|n| *n == 1));

    // An async request is answered before its key is written: the same request sent to both
    // gateways at once is answered 202 by each, and the claim written first writes it.
    const M: usize = 100;
    let mut both = Vec::new();
    for i in 0..M {
        for gateway in [a, b] {
            let (key, body) = (format!("twice-{i}"), format!("twice-{i}"));
            both.push(tokio::spawn(async move {
                until_answered(gateway, "/v1/clicks", &key, &body)
                    .await
                    .status
            }));
        }
    }
    for attempt in both {
        assert_eq!(attempt.await.unwrap(), 202);
    }
    // Each gateway then replays every key (409 while it is being sent), so whatever either
    // sent for them has been sent.
    for i in 0..M {
        for gateway in [a, b] {
            let (key, body) = (format!("twice-{i}"), format!("twice-{i}"));
            let again = until_answered(gateway, "/v1/clicks", &key, &body).await;
            assert_eq!(again.status, 202);
            assert_eq!(again.header("idempotent-replayed"), Some("true"), "{key}");
        }
    }
    let clicks: Vec<_> = read_settled(&first.bootstrap, "clicks", M)
        .into_iter()
        .filter(|r| r.value.as_deref().is_some_and(|v| v.starts_with(b"twice-")))
        .collect();
    let twice = counts(&clicks);
    assert_eq!(twice.len(), M);
    assert!(twice.values().all(|n| *n == 1), "{twice:?}");
    second.shutdown().await;
    first.shutdown().await;
}

/// A key in flight gets 409; a broker paused past the delivery timeout leaves keys pending,
/// settled from Kafka once it is back: still one record per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_broker_gives_409_in_flight_and_duplicates_nothing() {
    let gw = TestGateway::builder(Broker::Tansu)
        .routes(ROUTES)
        .configure(|c| {
            c.kafka
                .producer
                .insert("message.timeout.ms".into(), PropertyValue::Integer(2_000));
            c.kafka.breaker.stall_ms = 60_000;
        })
        .start()
        .await;
    let tansu = gw.tansu().unwrap();
    let addr = gw.gateway().addr();
    tansu.pause();
    let headers = [("idempotency-key", "held")];
    let held = tokio::spawn(async move {
        let headers = [("idempotency-key", "held")];
        try_request(addr, "POST", "/v1/orders", &headers, "held").await
    });
    // Claimed: the key's pending state is acknowledged only once the broker answers, so the
    // retry sees it in flight either way.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = gw.admin("/admin/idempotency").await.json();
        if status["keys"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never claimed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let retry = gw.send("POST", "/v1/orders", &headers, "held").await;
    assert_eq!(retry.status, 409, "{}", retry.json());
    assert_eq!(retry.error_code(), "idempotency_key_in_flight");
    assert!(retry.header("retry-after").is_some());
    tansu.resume();
    let held = held.await.unwrap().unwrap();
    let settled = until_answered(addr, "/v1/orders", "held", "held").await;
    assert_eq!(settled.status, 200);
    if held.status == 200 {
        assert_eq!(settled.json(), held.json());
    }

    // Paused past `message.timeout.ms`: the first attempts fail 503 (timed out: pending).
    const N: usize = 100;
    tansu.pause();
    let mut first = Vec::new();
    for i in 0..N {
        first.push(tokio::spawn(async move {
            let key = format!("paused-{i}");
            let headers = [("idempotency-key", key.as_str())];
            try_request(addr, "POST", "/v1/orders", &headers, key.clone()).await
        }));
    }
    // Every first attempt answered (503 after the delivery timeout) while the broker is down.
    for f in first {
        let res = f.await.unwrap().unwrap();
        assert_eq!(res.status, 503, "{}", res.json());
    }
    tansu.resume();
    for i in 0..N {
        let key = format!("paused-{i}");
        let res = until_answered(addr, "/v1/orders", &key, &key).await;
        assert_eq!(res.status, 200, "{key}: {}", res.json());
    }
    let orders = read_settled(&gw.bootstrap, "orders", N + 1);
    let counts = counts(&orders);
    for i in 0..N {
        assert_eq!(counts.get(&format!("paused-{i}")), Some(&1), "paused-{i}");
    }
    assert_eq!(orders.len(), N + 1);
    gw.shutdown().await;
}

/// The real binary SIGKILLed mid-load and started again: keys answered before the kill are
/// answered the same after it, keys in flight are settled from Kafka, and each key has one
/// record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_load_and_restarted_writes_each_key_once() {
    let tansu = wafka_tests::broker::Tansu::start();
    tansu.create_topic("orders", 3);
    let dir = tempfile::tempdir().unwrap();
    let (port, admin_port) = (
        wafka_tests::broker::free_port(),
        wafka_tests::broker::free_port(),
    );
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin_port}"

[kafka]
brokers = "{}"

[kafka.producer]
"message.timeout.ms" = 3000

[[routes]]
name = "orders"
path = "/v1/orders"
topic = "orders"
idempotency = {{}}

[idempotency]
"#,
        tansu.bootstrap
    );
    std::fs::create_dir(dir.path().join("filters.d")).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let mut wafka =
        wafka_tests::process::Wafka::start(dir.path(), "wafka", &config, addr, admin).await;

    const N: usize = 1000;
    const KILL_AFTER: usize = 300;
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let first: Arc<tokio::sync::Mutex<BTreeMap<usize, serde_json::Value>>> = Default::default();
    let mut lanes = Vec::new();
    for lane in 0..8 {
        let (answered, enough, first) = (answered.clone(), enough.clone(), first.clone());
        lanes.push(tokio::spawn(async move {
            for i in (lane..N).step_by(8) {
                let key = format!("killed-{i}");
                let res = until_answered(addr, "/v1/orders", &key, &key).await;
                assert_eq!(res.status, 200, "{key}: {}", res.json());
                first.lock().await.insert(i, res.json());
                if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == KILL_AFTER {
                    enough.notify_one();
                }
            }
        }));
    }
    enough.notified().await;
    wafka.kill();
    wafka.restart().await;
    for lane in lanes {
        lane.await.unwrap();
    }
    // Every key once more, on the restarted gateway: the answer it first gave.
    let first = first.lock().await;
    for i in 0..N {
        let key = format!("killed-{i}");
        let again = until_answered(addr, "/v1/orders", &key, &key).await;
        assert_eq!(again.header("idempotent-replayed"), Some("true"), "{key}");
        assert_eq!(again.json(), first[&i], "{key}: the same answer");
    }
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let metrics = try_request(admin, "GET", "/metrics", &[], "")
        .await
        .unwrap();
    let samples = wafka_tests::prometheus::parse(std::str::from_utf8(&metrics.body).unwrap());
    let outcome = |o| {
        value(
            &samples,
            "wafka_idempotency_requests_total",
            &[("outcome", o)],
        )
    };
    eprintln!(
        "after the restart: {} keys settled from Kafka, {} answers replayed, {} retries told 409",
        outcome("recovered"),
        outcome("replayed"),
        outcome("idempotency_key_in_flight")
    );
    wafka.kill();
    let records = read_settled(&tansu.bootstrap, "orders", N);
    let counted = counts(&records);
    for i in 0..N {
        assert_eq!(counted.get(&format!("killed-{i}")), Some(&1), "killed-{i}");
    }
    assert_eq!(records.len(), N);
}
