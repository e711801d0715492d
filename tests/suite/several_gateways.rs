//! Three real gateways behind HAProxy on one tansu broker, as they are deployed: under load, one
//! is drained with SIGTERM and one killed with SIGKILL, each then started again. What clients
//! of each kind see is checked against docs/operations.md ("Deploying", "Several gateways").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wafka_tests::broker::{Tansu, free_port};
use wafka_tests::kafka::read_all;
use wafka_tests::node::Script;
use wafka_tests::process::{Haproxy, Wafka};
use wafka_tests::try_request;

const GATEWAYS: usize = 3;
/// The one gateway whose registry takes writes; never stopped here.
const WRITER: usize = 0;
/// How long a SIGTERMed gateway keeps serving with `/readyz` at 503: HAProxy needs
/// `fall 2` × `inter 200ms` plus a check's own time to take it out; the rest is room for a
/// loaded two-core machine.
const NOTICE_MS: u64 = 3000;
const V2: &str = "application/vnd.kafka.v2+json";
const V2_JSON: &str = "application/vnd.kafka.json.v2+json";
const REGISTRY: &str = "application/vnd.schemaregistry.v1+json";

struct Ports {
    public: u16,
    admin: u16,
    registry: u16,
}

fn config(i: usize, ports: &Ports, bootstrap: &str) -> String {
    let Ports {
        public,
        admin,
        registry,
    } = ports;
    format!(
        r#"
[server]
listen = "127.0.0.1:{public}"
admin_listen = "127.0.0.1:{admin}"
drain_notice_ms = {NOTICE_MS}
shutdown_grace_ms = 5000

[kafka]
brokers = "{bootstrap}"

[kafka.producer]
# A claimed Idempotency-Key of a killed gateway is settled this long (+ 2 s) after its claim.
"message.timeout.ms" = "3000"

[kafka.consumer]
# A REST Proxy consumer of a killed gateway leaves its group after this.
"session.timeout.ms" = "6000"

[idempotency]

[rest_proxy]
advertised_url = "http://127.0.0.1:{public}"

[schema_registry]
listen = "127.0.0.1:{registry}"
read_only = {read_only}

[[routes]]
name = "orders"
path = "/v1/orders"
topic = "orders"

[[routes]]
name = "clicks"
path = "/v1/clicks"
topic = "clicks"
mode = "async"

[[routes]]
name = "ticks"
path = "/v1/ticks"
topic = "ticks"
idempotency = {{ required = true }}

[[routes]]
name = "ticks-read"
path = "/v1/ticks"
topic = "ticks"
read = {{ default_from = "earliest", max_wait_ms = 1000, max_stream_ms = 1500 }}
"#,
        read_only = i != WRITER,
    )
}

/// HAProxy as docs/operations.md "Deploying" sets it up: health checks on the admin
/// listener's `/readyz`, connection failures retried on another gateway, timeouts longer than
/// the longest stream, registry writes to the writer.
fn haproxy_config(front: u16, registry_front: u16, ports: &[Ports]) -> String {
    let servers = |port: fn(&Ports) -> u16| {
        ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "  server g{i} 127.0.0.1:{} check port {} inter 200 fall 2 rise 2\n",
                    port(p),
                    p.admin
                )
            })
            .collect::<String>()
    };
    let writer = &ports[WRITER];
    format!(
        r#"defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
  option httpchk GET /readyz
  http-check expect status 200

frontend http
  bind 127.0.0.1:{front}
  http-response set-header x-served-by %s
  default_backend gateways

backend gateways
  balance roundrobin
{gateways}
frontend registry
  bind 127.0.0.1:{registry_front}
  acl write method POST PUT DELETE
  use_backend registry_writer if write
  default_backend registries

backend registry_writer
  server g{WRITER} 127.0.0.1:{writer_registry} check port {writer_admin} inter 200 fall 2 rise 2

backend registries
  balance roundrobin
{registries}"#,
        gateways = servers(|p| p.public),
        registries = servers(|p| p.registry),
        writer_registry = writer.registry,
        writer_admin = writer.admin,
    )
}

/// What the load saw: records acknowledged, and requests that failed (a 5xx or no answer).
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    failures: AtomicU64,
    ticks: AtomicU64,
}

async fn sync_writer(front: SocketAddr, w: usize, load: Arc<Load>) -> Vec<String> {
    let mut acked = Vec::new();
    let mut n = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let value = format!("s-{w}-{n}");
        n += 1;
        match try_request(front, "POST", "/v1/orders", &[], value.clone()).await {
            Ok(res) if res.status == 200 => acked.push(value),
            _ => {
                load.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    acked
}

/// Async records answered 202: the value, the gateway that answered (HAProxy's
/// `x-served-by`) and when.
async fn async_writer(
    front: SocketAddr,
    w: usize,
    load: Arc<Load>,
) -> Vec<(String, String, Instant)> {
    let mut acked = Vec::new();
    let mut n = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let value = format!("a-{w}-{n}");
        n += 1;
        match try_request(front, "POST", "/v1/clicks", &[], value.clone()).await {
            Ok(res) if res.status == 202 => {
                let server = res.header("x-served-by").unwrap_or_default().to_owned();
                acked.push((value, server, Instant::now()));
            }
            _ => {
                load.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    acked
}

/// Ticks 0, 1, 2, … in order, each retried with its `Idempotency-Key` until answered 200:
/// whatever happened to an attempt, each is in Kafka once, in order.
async fn ticker(front: SocketAddr, load: Arc<Load>) -> u64 {
    let mut n = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let key = format!("tick-{n}");
        loop {
            let body = json!({ "tick": n }).to_string();
            let res = try_request(
                front,
                "POST",
                "/v1/ticks",
                &[("idempotency-key", &key)],
                body,
            )
            .await;
            if res.as_ref().is_ok_and(|r| r.status == 200) {
                break;
            }
            // 409 while the first attempt's gateway (or its claim) is being settled.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        n += 1;
        load.ticks.store(n, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    n
}

/// A long-poll client: GETs through the balancer from `earliest`, then from each answer's
/// `next`, retrying the same position when an answer is lost, until it has `target` ticks.
async fn long_poll(front: SocketAddr, target: Arc<AtomicU64>) -> Vec<u64> {
    let mut ticks = Vec::new();
    let mut from = "earliest".to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    while (ticks.len() as u64) < target.load(Ordering::Relaxed) {
        assert!(
            Instant::now() < deadline,
            "long-poll stuck at {}",
            ticks.len()
        );
        let path = format!("/v1/ticks?from={from}&timeout_ms=1000");
        match try_request(front, "GET", &path, &[], "").await {
            Ok(res) if res.status == 200 => {
                let body = res.json();
                for record in body["records"].as_array().unwrap() {
                    ticks.push(record["value"]["tick"].as_u64().unwrap());
                }
                from = body["next"].as_str().unwrap().to_owned();
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    ticks
}

/// The ticks an `eventsource` client printed, and how many times its stream opened.
async fn sse_ticks(client: &Script, n: u64) -> (Vec<u64>, usize) {
    let (mut ticks, mut opens) = (Vec::new(), 0);
    while (ticks.len() as u64) < n {
        let line = client.line(Duration::from_secs(60)).await;
        if line == "open" {
            opens += 1;
        } else if let Some(event) = line.strip_prefix("event ") {
            let event: Value = serde_json::from_str(event).unwrap();
            ticks.push(event["data"]["value"]["tick"].as_u64().unwrap());
        }
    }
    (ticks, opens)
}

async fn json_call(addr: SocketAddr, method: &str, path: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let headers = [("content-type", V2), ("accept", V2_JSON)];
    let res = try_request(addr, method, path, &headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let json = if res.body.is_empty() {
        Value::Null
    } else {
        res.json()
    };
    (res.status, json)
}

/// A REST Proxy consumer instance, created through the balancer and then called at its
/// `base_uri`, as REST Proxy clients do.
struct RestConsumer {
    addr: SocketAddr,
    path: String,
}

impl RestConsumer {
    async fn create(front: SocketAddr, name: &str) -> RestConsumer {
        let body = json!({ "name": name, "format": "json", "auto.commit.enable": "false", "auto.offset.reset": "earliest" });
        let (status, answer) = json_call(front, "POST", "/consumers/ticks-group", body).await;
        assert_eq!(status, 200, "{answer}");
        let uri = answer["base_uri"].as_str().unwrap();
        let rest = uri.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let consumer = RestConsumer {
            addr: host.parse().unwrap(),
            path: path.to_owned(),
        };
        let (status, answer) = json_call(
            consumer.addr,
            "POST",
            &format!("{}/subscription", consumer.path),
            json!({ "topics": ["ticks"] }),
        )
        .await;
        assert_eq!(status, 204, "{answer}");
        consumer
    }

    /// `GET records`: the status and the records' (offset, tick).
    async fn fetch(&self) -> (u16, Value) {
        json_call(
            self.addr,
            "GET",
            &format!("{}/records?timeout=1000", self.path),
            Value::Null,
        )
        .await
    }

    /// Fetches until at least `n` records came (the group may first wait for a dead member).
    async fn fetch_at_least(&self, n: usize) -> Vec<(i64, u64)> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while got.len() < n {
            assert!(Instant::now() < deadline, "only {} records", got.len());
            let (status, records) = self.fetch().await;
            assert_eq!(status, 200, "{records}");
            for r in records.as_array().unwrap() {
                got.push((
                    r["offset"].as_i64().unwrap(),
                    r["value"]["tick"].as_u64().unwrap(),
                ));
            }
        }
        got
    }

    async fn commit(&self) {
        let (status, answer) = json_call(
            self.addr,
            "POST",
            &format!("{}/offsets", self.path),
            Value::Null,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gateways_behind_haproxy_survive_a_drain_and_a_kill() {
    let tansu = Tansu::start();
    tansu.create_topic("orders", 3);
    tansu.create_topic("clicks", 3);
    tansu.create_topic("ticks", 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("filters.d")).unwrap();
    let ports: Vec<Ports> = (0..GATEWAYS)
        .map(|_| Ports {
            public: free_port(),
            admin: free_port(),
            registry: free_port(),
        })
        .collect();
    let mut gateways = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let addr = SocketAddr::from(([127, 0, 0, 1], p.public));
        let admin = SocketAddr::from(([127, 0, 0, 1], p.admin));
        let config = config(i, p, &tansu.bootstrap);
        gateways.push(Wafka::start(dir.path(), &format!("g{i}"), &config, addr, admin).await);
    }
    let (front_port, registry_port) = (free_port(), free_port());
    let haproxy = Haproxy::start(
        dir.path(),
        &haproxy_config(front_port, registry_port, &ports),
    );
    let front = SocketAddr::from(([127, 0, 0, 1], front_port));
    let registry = SocketAddr::from(([127, 0, 0, 1], registry_port));
    let all: Vec<String> = (0..GATEWAYS).map(|i| format!("gateways/g{i}")).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    haproxy.wait_for(&all, "UP", Duration::from_secs(20)).await;

    // One registry writer: registrations through the balancer reach it; a follower refuses.
    let schema = |t: &str| json!({ "schema": json!({ "type": t }).to_string() }).to_string();
    let register = |subject: &'static str, t: &'static str| {
        let body = schema(t);
        async move {
            let path = format!("/subjects/{subject}/versions");
            let res = try_request(registry, "POST", &path, &[("content-type", REGISTRY)], body)
                .await
                .unwrap();
            assert_eq!(res.status, 200, "{}", res.json());
            res.json()["id"].as_u64().unwrap()
        }
    };
    let first_id = register("before-value", "string").await;
    let follower = SocketAddr::from(([127, 0, 0, 1], ports[1].registry));
    let refused = try_request(
        follower,
        "POST",
        "/subjects/elsewhere-value/versions",
        &[("content-type", REGISTRY)],
        schema("long"),
    )
    .await
    .unwrap();
    assert_eq!(refused.status, 422, "{}", refused.json());
    assert_eq!(refused.json()["error_code"], 42205);

    // The load: sync and async writers, a ticker, two EventSource clients and a long-poll
    // client reading the ticks, all through the balancer.
    let load = Arc::new(Load::default());
    let sync: Vec<_> = (0..4)
        .map(|w| tokio::spawn(sync_writer(front, w, load.clone())))
        .collect();
    let asynchronous: Vec<_> = (0..2)
        .map(|w| tokio::spawn(async_writer(front, w, load.clone())))
        .collect();
    let ticker = tokio::spawn(ticker(front, load.clone()));
    let url = format!("http://{front}/v1/ticks?from=earliest");
    let sse: Vec<Script> = (0..2)
        .map(|_| Script::start("sse-client.mjs", &[&url, "1000000000"]))
        .collect();
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let poller = tokio::spawn(long_poll(front, target.clone()));

    let deadline = Instant::now() + Duration::from_secs(30);
    while load.ticks.load(Ordering::Relaxed) < 30 {
        assert!(Instant::now() < deadline, "no ticks through the balancer");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A REST Proxy consumer on a gateway other than the writer; it reads and commits.
    let mut rest = RestConsumer::create(front, "c0").await;
    let mut attempt = 1;
    while rest.addr == gateways[WRITER].addr {
        let (status, _) = json_call(rest.addr, "DELETE", &rest.path, Value::Null).await;
        assert_eq!(status, 204);
        rest = RestConsumer::create(front, &format!("c{attempt}")).await;
        attempt += 1;
    }
    let killed = gateways.iter().position(|g| g.addr == rest.addr).unwrap();
    let drained = (0..GATEWAYS)
        .find(|i| *i != WRITER && *i != killed)
        .unwrap();
    let read = rest.fetch_at_least(10).await;
    rest.commit().await;
    let committed = read.last().unwrap().0 + 1;
    for (i, (offset, tick)) in read.iter().enumerate() {
        assert_eq!((*offset, *tick), (i as i64, i as u64), "{read:?}");
    }

    // Drain: /readyz turns 503 and HAProxy takes the gateway out while it still serves; then
    // it closes its listeners, finishes what it holds and exits 0. No client sees an error.
    let failures_before = load.failures.load(Ordering::Relaxed);
    let server = format!("gateways/g{drained}");
    gateways[drained].terminate();
    haproxy
        .wait_for(&[&server], "DOWN", Duration::from_millis(NOTICE_MS))
        .await;
    assert!(
        gateways[drained].running(),
        "stopped before the balancer saw it"
    );
    let direct = try_request(gateways[drained].addr, "POST", "/v1/orders", &[], "direct")
        .await
        .expect("still accepting once out of the balancer");
    assert_eq!(direct.status, 200);
    let status = gateways[drained].exited(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}\n{}", gateways[drained].log());
    assert_eq!(
        load.failures.load(Ordering::Relaxed),
        failures_before,
        "a request failed while a gateway drained"
    );
    gateways[drained].restart().await;
    haproxy.wait_for(&all, "UP", Duration::from_secs(20)).await;

    // Kill the REST consumer's gateway mid-load and start it again.
    gateways[killed].kill();
    let killed_at = Instant::now();
    gateways[killed].restart().await;
    haproxy.wait_for(&all, "UP", Duration::from_secs(20)).await;

    // The instance died with its gateway: 404 40403; a new one continues from the commit.
    let (status, answer) = rest.fetch().await;
    assert_eq!(
        (status, &answer["error_code"]),
        (404, &json!(40403)),
        "{answer}"
    );
    let again = RestConsumer::create(front, "after-kill").await;
    let resumed = again.fetch_at_least(1).await;
    assert_eq!(resumed[0].0, committed, "{resumed:?}");

    // More load on the three, then stop it.
    let until = load.ticks.load(Ordering::Relaxed) + 100;
    while load.ticks.load(Ordering::Relaxed) < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    load.stop.store(true, Ordering::Relaxed);
    let ticks = ticker.await.unwrap();
    target.store(ticks, Ordering::Relaxed);
    let mut sync_acked = Vec::new();
    for w in sync {
        sync_acked.extend(w.await.unwrap());
    }
    let mut async_acked = Vec::new();
    for w in asynchronous {
        async_acked.extend(w.await.unwrap());
    }

    // Readers: every tick once, in order, across reconnections to other gateways.
    let expected: Vec<u64> = (0..ticks).collect();
    assert_eq!(poller.await.unwrap(), expected, "long-poll");
    for client in &sse {
        let (got, opens) = sse_ticks(client, ticks).await;
        assert_eq!(got, expected, "EventSource");
        assert!(opens >= 3, "the stream reopened {opens} times");
    }
    let in_kafka: Vec<u64> = read_all(&tansu.bootstrap, "ticks")
        .iter()
        .map(|r| r.json()["tick"].as_u64().unwrap())
        .collect();
    assert_eq!(in_kafka, expected, "each tick once in Kafka");

    // Sync: every acknowledged record is in Kafka, once.
    let orders = counts(&read_all(&tansu.bootstrap, "orders"));
    assert!(sync_acked.len() > 100, "{} sync records", sync_acked.len());
    for value in &sync_acked {
        assert_eq!(orders.get(value), Some(&1), "{value}");
    }
    assert_eq!(orders.get("direct"), Some(&1));

    // Async: what a SIGKILL may lose (docs/delivery.md) is records the killed gateway had
    // answered 202 and not yet handed to Kafka: answered by it, just before the kill.
    let clicks = counts(&read_all(&tansu.bootstrap, "clicks"));
    let killed_server = format!("g{killed}");
    let lost: Vec<_> = async_acked
        .iter()
        .filter(|(value, _, _)| !clicks.contains_key(value))
        .collect();
    for (value, server, answered) in &lost {
        assert_eq!(server, &killed_server, "{value} lost on {server}");
        assert!(
            killed_at.duration_since(*answered) < Duration::from_secs(1),
            "{value} answered {:?} before the kill",
            killed_at.duration_since(*answered)
        );
    }
    assert!(clicks.values().all(|n| *n == 1), "an async record twice");

    // The registry kept its one writer: a registration after the restarts takes the next id,
    // and every gateway serves both.
    let second_id = register("after-value", "long").await;
    assert_eq!(second_id, first_id + 1);
    for p in &ports {
        let addr = SocketAddr::from(([127, 0, 0, 1], p.registry));
        for id in [first_id, second_id] {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let res = try_request(addr, "GET", &format!("/schemas/ids/{id}"), &[], "")
                    .await
                    .unwrap();
                if res.status == 200 {
                    break;
                }
                assert!(Instant::now() < deadline, "schema {id}: {}", res.json());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    println!(
        "sync acknowledged {}, async answered 202 {} (lost at the kill: {}), ticks {ticks}, failed requests {}",
        sync_acked.len(),
        async_acked.len(),
        lost.len(),
        load.failures.load(Ordering::Relaxed)
    );
    drop(haproxy);
}

fn counts(records: &[wafka_tests::kafka::Consumed]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in records {
        let value = String::from_utf8(r.value.clone().unwrap_or_default()).unwrap();
        *counts.entry(value).or_insert(0) += 1;
    }
    counts
}
