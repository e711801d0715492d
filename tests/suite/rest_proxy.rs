//! The Confluent REST Proxy API over real HTTP against the real gateway and broker: v2 produce,
//! metadata and consumers, v3 clusters, topics and records (one, a stream, a batch), REST
//! Proxy's error shape, filters on every call, and two third-party clients run unchanged: PyPI
//! `kafka-bridge-client` 0.7.1 (Confluent mode; `tests/python`) and crates.io `kafka-http`
//! 0.1.2.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};
use wafka_tests::kafka::read_all;
use wafka_tests::{Broker, Response, TestGateway};

use crate::auth::{SECRET, hs256, now};
use crate::on_both_brokers;

on_both_brokers!(
    v2_produce_and_metadata_answer_as_rest_proxy,
    a_python_rest_proxy_client_works_unchanged,
    a_rust_rest_proxy_client_works_unchanged,
    v3_streams_ten_thousand_records_and_reports_the_bad_one_in_place,
    v3_clusters_topics_and_batches,
);

const V2_JSON: &str = "application/vnd.kafka.json.v2+json";
const V2_BINARY: &str = "application/vnd.kafka.binary.v2+json";
const V2: &str = "application/vnd.kafka.v2+json";

async fn gateway(broker: Broker, rest_proxy: &str, topics: &[&str]) -> TestGateway {
    TestGateway::builder(broker)
        .routes(rest_proxy)
        .topics(topics)
        .filter("jwt-auth")
        .start()
        .await
}

pub(crate) async fn call(
    gw: &TestGateway,
    method: &str,
    path: &str,
    content_type: &str,
    body: Value,
) -> Response {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    gw.send(method, path, &[("content-type", content_type)], body)
        .await
}

/// Asserts REST Proxy's error shape: status, `error_code`, its content type.
fn rest_error(res: &Response, status: u16, code: u64) {
    assert_eq!(res.status, status, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["error_code"], json!(code), "{}", res.json());
    assert!(
        res.json()["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(res.json().get("error").is_none(), "not Wafka's shape");
}

async fn v2_produce_and_metadata_answer_as_rest_proxy(broker: Broker) {
    let gw = gateway(broker, "[rest_proxy]\n", &["orders"]).await;
    let res = call(
        &gw,
        "POST",
        "/topics/orders",
        V2_JSON,
        json!({"records": [
            {"key": "k1", "value": {"n": 1}},
            {"value": [1, 2], "partition": 1},
        ]}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.header("content-type"), Some(V2));
    let answer = res.json();
    assert_eq!(answer["key_schema_id"], Value::Null);
    let offsets = answer["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), 2);
    assert_eq!(offsets[1]["partition"], json!(1));
    assert!(
        offsets
            .iter()
            .all(|o| o["error_code"].is_null() && o["offset"].is_i64())
    );

    let res = call(
        &gw,
        "POST",
        "/topics/orders/partitions/2",
        V2_BINARY,
        json!({"records": [
            {"key": STANDARD.encode("bk"), "value": STANDARD.encode([0u8, 255, 1])},
        ]}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["offsets"][0]["partition"], json!(2));

    let mut kept: Vec<_> = read_all(&gw.bootstrap, "orders")
        .into_iter()
        .map(|r| (r.partition, r.key, r.value))
        .collect();
    kept.sort();
    let partition_of_first = offsets[0]["partition"].as_i64().unwrap() as i32;
    let mut expected = vec![
        (
            partition_of_first,
            Some(b"\"k1\"".to_vec()),
            Some(br#"{"n":1}"#.to_vec()),
        ),
        (1, None, Some(b"[1,2]".to_vec())),
        (2, Some(b"bk".to_vec()), Some(vec![0, 255, 1])),
    ];
    expected.sort();
    assert_eq!(kept, expected);

    // Metadata.
    let topics = gw.send("GET", "/topics", &[], "").await.json();
    assert!(
        topics.as_array().unwrap().contains(&json!("orders")),
        "{topics}"
    );
    let topic = gw.send("GET", "/topics/orders", &[], "").await.json();
    assert_eq!(topic["name"], "orders");
    assert_eq!(topic["partitions"].as_array().unwrap().len(), 3, "{topic}");
    let partition = gw
        .send("GET", "/topics/orders/partitions/1", &[], "")
        .await
        .json();
    assert_eq!(partition["partition"], 1);
    assert_eq!(partition["replicas"][0]["leader"], true, "{partition}");
    let brokers = gw.send("GET", "/brokers", &[], "").await.json();
    assert!(!brokers["brokers"].as_array().unwrap().is_empty());

    // Errors, in REST Proxy's shape and codes; nothing reaches Kafka.
    let one = json!({"records": [{"value": 1}]});
    rest_error(
        &call(&gw, "POST", "/topics/missing", V2_JSON, one.clone()).await,
        404,
        40401,
    );
    rest_error(
        &gw.send("GET", "/topics/orders/partitions/7", &[], "").await,
        404,
        40402,
    );
    rest_error(
        &call(&gw, "POST", "/topics/orders", "text/plain", one.clone()).await,
        415,
        415,
    );
    // REST Proxy: a value that is not base64 is a bad request (400).
    let bad64 = json!({"records": [{"value": "not base64!"}]});
    rest_error(
        &call(&gw, "POST", "/topics/orders", V2_BINARY, bad64).await,
        400,
        400,
    );
    let avro = "application/vnd.kafka.avro.v2+json";
    rest_error(
        &call(
            &gw,
            "POST",
            "/topics/orders",
            avro,
            json!({"records": [{"key": 1, "value": 1}]}),
        )
        .await,
        422,
        42201,
    );
    rest_error(
        &call(
            &gw,
            "POST",
            "/topics/orders",
            avro,
            json!({"records": [{"value": 1}]}),
        )
        .await,
        422,
        42202,
    );
    let with_schema = json!({"value_schema": "{\"type\":\"int\"}", "records": [{"value": 1}]});
    rest_error(
        &call(&gw, "POST", "/topics/orders", avro, with_schema).await,
        422,
        42206,
    );
    rest_error(
        &gw.send("POST", "/consumers/g/instances/nobody/offsets", &[], "")
            .await,
        404,
        40403,
    );
    assert_eq!(
        read_all(&gw.bootstrap, "orders").len(),
        3,
        "refused requests produced nothing"
    );
    // Wafka's own 404 for paths that are no route.
    assert_eq!(
        gw.send("GET", "/nothing", &[], "").await.error_code(),
        "route_not_found"
    );
}

async fn a_python_rest_proxy_client_works_unchanged(broker: Broker) {
    let gw = gateway(broker, "[rest_proxy]\n", &["clicks"]).await;
    let base = format!("http://{}", gw.gateway().addr());
    let stdout =
        wafka_tests::python::run("rest_proxy_client.py", &[&base, "clicks", "py-group"]).await;
    let steps: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["produced", "subscribed", "read", "committed", "deleted"]
    );

    // What it read is what it wrote, in binary (base64) as it asked.
    let read = steps[2]["records"].as_array().unwrap();
    let decode = |v: &Value| STANDARD.decode(v.as_str().unwrap()).unwrap();
    let got: BTreeSet<(Vec<u8>, Vec<u8>)> = read
        .iter()
        .map(|r| (decode(&r["key"]), decode(&r["value"])))
        .collect();
    let wrote: BTreeSet<(Vec<u8>, Vec<u8>)> = [
        (b"\"k1\"".to_vec(), br#"{"n":1}"#.to_vec()),
        (b"\"k2\"".to_vec(), br#"{"n":2}"#.to_vec()),
        (b"k3".to_vec(), b"\x00\x01binary".to_vec()),
    ]
    .into();
    assert_eq!(got, wrote);
    assert_eq!(read_all(&gw.bootstrap, "clicks").len(), 3);

    // The commit is Kafka's: the group's offsets are one past each record it read.
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for r in read {
        let (p, o) = (
            r["partition"].as_i64().unwrap() as i32,
            r["offset"].as_i64().unwrap(),
        );
        let e = last.entry(p).or_insert(o);
        *e = (*e).max(o);
    }
    let committed = committed(&gw.bootstrap, "py-group", "clicks");
    let expected: BTreeMap<i32, i64> = last.into_iter().map(|(p, o)| (p, o + 1)).collect();
    assert_eq!(committed, expected);
    // Deleted: the gateway holds no instance, and its memory is given back.
    assert_eq!(
        gw.admin("/admin/consumers").await.json()["consumers"],
        json!([])
    );
    given_back(&gw).await;
}

/// Waits until no memory is charged to consumer instances (a closed consumer leaves its group
/// first).
async fn given_back(gw: &TestGateway) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.admin("/admin/memory").await.json()["by_use"]["consumers"] != json!(0) {
        assert!(
            Instant::now() < deadline,
            "an instance's memory was never given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The offsets `group` committed for `topic`, by partition.
fn committed(bootstrap: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        list.add_partition(topic, p.id());
    }
    let found = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    found
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            rdkafka::Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

async fn a_rust_rest_proxy_client_works_unchanged(broker: Broker) {
    use kafka_http::KafkaHttpClient;
    use kafka_http::types::*;
    let gw = gateway(broker, "[rest_proxy]\n", &["notes"]).await;
    let mut client = KafkaHttpClient::new(&format!("http://{}", gw.gateway().addr()));
    client.set_timeout_ms(2000);
    let records = (0..5)
        .map(|i| ProduceRecord {
            value: format!("note-{i}"),
        })
        .collect();
    client
        .produce_to_topic("notes", &ProduceParams { records })
        .await
        .expect("produce");
    let params = CreateConsumerParams {
        name: "rs-consumer".into(),
        format: "json".into(),
        auto_offset_reset: "earliest".into(),
    };
    client
        .create_consumer("rs-group", &params)
        .await
        .expect("create consumer");
    let topics = SubscribeParams {
        topics: vec!["notes".into()],
    };
    client
        .subscribe("rs-group", &topics)
        .await
        .expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut read = Vec::new();
    while read.len() < 5 {
        assert!(Instant::now() < deadline, "read only {read:?}");
        read.extend(client.poll().await.expect("poll"));
    }
    let values: BTreeSet<String> = read.iter().map(|r| r.value.clone()).collect();
    assert_eq!(values, (0..5).map(|i| format!("note-{i}")).collect());
    // Its commit names the next offset (Redpanda's `partitions` body).
    let partitions = read
        .iter()
        .map(|r| PartitionOffset {
            topic: r.topic.clone(),
            partition: r.partition,
            offset: r.offset + 1,
        })
        .collect();
    client
        .commit(&PartitionOffsetCommitParams { partitions })
        .await
        .expect("commit");
    let mut expected = BTreeMap::new();
    for r in &read {
        let e = expected.entry(r.partition).or_insert(0);
        *e = (*e).max(r.offset + 1);
    }
    assert_eq!(committed(&gw.bootstrap, "rs-group", "notes"), expected);
    // A second create with the same name is REST Proxy's 409, which this client treats as "exists".
    let again = client
        .try_create_consumer("rs-group", &params)
        .await
        .expect("exists is fine");
    assert!(again.is_some_and(|uri| uri.ends_with("/consumers/rs-group/instances/rs-consumer")));
}

/// A request body fed chunk by chunk from a channel: a client streaming records.
struct Streamed(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Streamed {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|c| c.map(|c| Ok(hyper::body::Frame::data(c))))
    }
}

async fn v3_streams_ten_thousand_records_and_reports_the_bad_one_in_place(broker: Broker) {
    use http_body_util::BodyExt;
    const N: usize = 10_000;
    const BAD: usize = 4_321;
    let gw = gateway(broker, "[rest_proxy]\n", &["stream"]).await;
    let addr = gw.gateway().addr();
    let cluster = gw.send("GET", "/v3/clusters", &[], "").await.json()["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let request = http::Request::post(format!("/v3/clusters/{cluster}/topics/stream/records"))
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Streamed(rx))
        .unwrap();
    // Records go out in chunks of 100 while the reports come back on the same connection.
    let writer = tokio::spawn(async move {
        for chunk in (0..N).collect::<Vec<_>>().chunks(100) {
            let mut text = String::new();
            for &i in chunk {
                if i == BAD {
                    // Braces balance, so the stream finds its end; it is not JSON.
                    text.push_str("{\"value\": {\"type\": \"JSON\", \"data\": {\"n\": }}}\n");
                } else {
                    let key = format!("k{}", i % 7);
                    text.push_str(&json!({"key": {"type": "STRING", "data": key}, "value": {"type": "JSON", "data": {"n": i}}}).to_string());
                    text.push('\n');
                }
            }
            tx.send(Bytes::from(text)).await.unwrap();
        }
    });
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    writer.await.unwrap();
    let reports: Vec<Value> = serde_json::Deserializer::from_slice(&body)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(reports.len(), N, "one report per record");
    for (i, report) in reports.iter().enumerate() {
        if i == BAD {
            assert_eq!(report["error_code"], json!(400), "{report}");
            assert!(
                report["message"].as_str().unwrap().contains("not JSON"),
                "{report}"
            );
        } else {
            assert_eq!(report["error_code"], json!(200), "report {i}: {report}");
            assert_eq!(report["topic_name"], "stream");
        }
    }
    // In Kafka: each good record exactly once, each partition in the order sent.
    let kept = read_all(&gw.bootstrap, "stream");
    assert_eq!(kept.len(), N - 1);
    let mut seen = BTreeSet::new();
    let mut by_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for r in &kept {
        let n = r.json()["n"].as_i64().unwrap();
        assert!(seen.insert(n), "record {n} twice");
        by_partition.entry(r.partition).or_default().push(n);
    }
    assert!(!seen.contains(&(BAD as i64)));
    for (p, ns) in by_partition {
        assert!(
            ns.windows(2).all(|w| w[0] < w[1]),
            "partition {p} out of order"
        );
    }
    // Each report names the record's place.
    let places: BTreeSet<(i64, i64)> = reports
        .iter()
        .filter(|r| r["error_code"] == 200)
        .map(|r| {
            (
                r["partition_id"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    let stored: BTreeSet<(i64, i64)> = kept
        .iter()
        .map(|r| (i64::from(r.partition), r.offset))
        .collect();
    assert_eq!(places, stored);
}

async fn v3_clusters_topics_and_batches(broker: Broker) {
    let gw = gateway(broker, "[rest_proxy]\ntopic_admin = true\n", &["existing"]).await;
    let clusters = gw.send("GET", "/v3/clusters", &[], "").await.json();
    assert_eq!(clusters["kind"], "KafkaClusterList");
    let cluster = clusters["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/v3/clusters/{cluster}");
    let one = gw.send("GET", &base, &[], "").await.json();
    assert_eq!(one["kind"], "KafkaCluster");
    assert!(
        one["topics"]["related"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{base}/topics"))
    );
    rest_error(
        &gw.send("GET", "/v3/clusters/other/topics", &[], "").await,
        404,
        404,
    );

    let created = call(
        &gw,
        "POST",
        &format!("{base}/topics"),
        "application/json",
        json!({"topic_name": "made", "partitions_count": 2}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json());
    assert!(
        created
            .header("location")
            .unwrap()
            .ends_with(&format!("{base}/topics/made"))
    );
    let again = call(
        &gw,
        "POST",
        &format!("{base}/topics"),
        "application/json",
        json!({"topic_name": "made"}),
    )
    .await;
    rest_error(&again, 400, 40002);
    let listed = gw
        .send("GET", &format!("{base}/topics"), &[], "")
        .await
        .json();
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topic_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"made") && names.contains(&"existing"),
        "{names:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let topic = loop {
        let t = gw
            .send("GET", &format!("{base}/topics/made"), &[], "")
            .await;
        if t.status == 200 && t.json()["partitions_count"] == 2 {
            break t.json();
        }
        assert!(
            Instant::now() < deadline,
            "made never had 2 partitions: {}",
            t.json()
        );
    };
    assert_eq!(topic["kind"], "KafkaTopic");
    let partitions = gw
        .send("GET", &format!("{base}/topics/made/partitions"), &[], "")
        .await
        .json();
    assert_eq!(partitions["data"].as_array().unwrap().len(), 2);
    rest_error(
        &gw.send("GET", &format!("{base}/topics/gone"), &[], "")
            .await,
        404,
        40403,
    );

    // One record, then a batch with a failure in it.
    let single = call(&gw, "POST", &format!("{base}/topics/made/records"), "application/json",
        json!({"partition_id": 1, "headers": [{"name": "h", "value": STANDARD.encode("v")}], "value": {"type": "BINARY", "data": STANDARD.encode("one")}})).await;
    assert_eq!(single.status, 200);
    assert_eq!(single.json()["partition_id"], 1, "{}", single.json());
    assert_eq!(single.json()["value"], json!({"type": "BINARY", "size": 3}));
    let batch = call(
        &gw,
        "POST",
        &format!("{base}/topics/made/records:batch"),
        "application/json",
        json!({"entries": [
            {"id": "a", "value": {"type": "STRING", "data": "two"}},
            {"id": "b", "value": {"type": "PROTOBUF", "data": {}}},
            {"id": "c", "value": {"type": "JSON", "data": {"three": 3}}},
        ]}),
    )
    .await;
    assert_eq!(batch.status, 207);
    let answer = batch.json();
    let ids = |k: &str| {
        answer[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (ids("successes"), ids("failures")),
        (vec!["a".into(), "c".into()], vec!["b".to_owned()])
    );
    assert_eq!(answer["failures"][0]["error_code"], 42206);
    let mut values: Vec<Vec<u8>> = read_all(&gw.bootstrap, "made")
        .into_iter()
        .filter_map(|r| r.value)
        .collect();
    values.sort();
    assert_eq!(
        values,
        [b"one".to_vec(), b"two".to_vec(), br#"{"three":3}"#.to_vec()]
    );

    let deleted = gw
        .send("DELETE", &format!("{base}/topics/made"), &[], "")
        .await;
    match broker {
        Broker::Embedded => rest_error(&deleted, 400, 40002),
        Broker::Tansu => assert_eq!(
            deleted.status,
            204,
            "{}",
            String::from_utf8_lossy(&deleted.body)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_guard_every_call() {
    let config = format!(
        r#"
[rest_proxy]
filters = [{{ name = "jwt-auth", config = {{ keys = [{{ alg = "HS256", secret = "{SECRET}" }}], topics_claim = "topics" }} }}]
"#
    );
    let gw = gateway(Broker::Embedded, &config, &["orders.eu", "payments"]).await;
    let token = hs256(json!({"sub": "shop", "topics": ["orders.*"], "exp": now() + 600}));
    let bearer = format!("Bearer {token}");
    let auth = |ct| [("content-type", ct), ("authorization", bearer.as_str())];
    let one = json!({"records": [{"value": 1}]}).to_string();

    let res = gw
        .send(
            "POST",
            "/topics/orders.eu",
            &[("content-type", V2_JSON)],
            one.clone(),
        )
        .await;
    rest_error(&res, 401, 40101);
    assert!(res.header("www-authenticate").is_some());
    rest_error(&gw.send("GET", "/topics", &[], "").await, 401, 40101);
    let res = gw
        .send("POST", "/topics/payments", &auth(V2_JSON), one.clone())
        .await;
    rest_error(&res, 403, 40301);
    let res = gw
        .send("POST", "/topics/orders.eu", &auth(V2_JSON), one.clone())
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(
        read_all(&gw.bootstrap, "payments").len(),
        0,
        "refused calls produced nothing"
    );
    assert_eq!(read_all(&gw.bootstrap, "orders.eu").len(), 1);

    // Consumers: subscribing to a topic the token may not use is refused too; v3 as well.
    let created = gw
        .send(
            "POST",
            "/consumers/g",
            &auth(V2),
            json!({"name": "c"}).to_string(),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.json());
    let sub = gw
        .send(
            "POST",
            "/consumers/g/instances/c/subscription",
            &auth(V2),
            json!({"topics": ["payments"]}).to_string(),
        )
        .await;
    rest_error(&sub, 403, 40301);
    let cluster = gw
        .send("GET", "/v3/clusters", &auth("application/json"), "")
        .await
        .json()["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = json!({"value": {"type": "JSON", "data": 1}}).to_string();
    let v3 = gw
        .send(
            "POST",
            &format!("/v3/clusters/{cluster}/topics/payments/records"),
            &auth("application/json"),
            record,
        )
        .await;
    rest_error(&v3, 403, 40301);
    assert_eq!(read_all(&gw.bootstrap, "payments").len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_instances_are_bounded_and_expire() {
    let config = "[rest_proxy]\nmax_consumers = 1\nconsumer_idle_ms = 1500\n";
    let gw = gateway(Broker::Embedded, config, &["t"]).await;
    let create = |name: &str| json!({"name": name, "format": "json"}).to_string();
    let first = gw
        .send("POST", "/consumers/g", &[("content-type", V2)], create("a"))
        .await;
    assert_eq!(first.status, 200);
    let uri = first.json()["base_uri"].as_str().unwrap().to_owned();
    assert_eq!(
        uri,
        format!("http://{}/consumers/g/instances/a", gw.gateway().addr())
    );
    rest_error(
        &gw.send("POST", "/consumers/g", &[("content-type", V2)], create("a"))
            .await,
        409,
        40902,
    );
    rest_error(
        &gw.send("POST", "/consumers/g", &[("content-type", V2)], create("b"))
            .await,
        429,
        42901,
    );
    let held = gw.admin("/admin/memory").await.json()["by_use"]["consumers"]
        .as_u64()
        .unwrap();
    assert!(held >= 1 << 20, "an instance charges its buffer: {held}");
    let records = gw
        .send(
            "GET",
            "/consumers/g/instances/a/records?timeout=10",
            &[("accept", V2_BINARY)],
            "",
        )
        .await;
    rest_error(&records, 406, 40601);
    // Unused, it is closed after consumer_idle_ms, and its memory given back.
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.admin("/admin/consumers").await.json()["consumers"] != json!([]) {
        assert!(Instant::now() < deadline, "instance never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rest_error(
        &gw.send("DELETE", "/consumers/g/instances/a", &[], "").await,
        404,
        40403,
    );
    given_back(&gw).await;
    assert_eq!(
        gw.send("POST", "/consumers/g", &[("content-type", V2)], create("b"))
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rate_limit_covers_the_whole_api() {
    let config =
        "[rest_proxy]\nfilters = [{ name = \"rate-limit\", config = { rate = 1, burst = 3 } }]\n";
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(config)
        .topics(&["t"])
        .filter("rate-limit")
        .start()
        .await;
    // Calls of every kind take tokens from the one bucket the API's filters share: 3 at once,
    // then 1 a second.
    let started = Instant::now();
    let one = json!({"records": [{"value": 1}]}).to_string();
    let mut allowed = 0;
    let refused = loop {
        let res = match allowed % 3 {
            0 => gw.send("GET", "/topics", &[], "").await,
            1 => {
                gw.send(
                    "POST",
                    "/topics/t",
                    &[("content-type", V2_JSON)],
                    one.clone(),
                )
                .await
            }
            _ => gw.send("GET", "/v3/clusters", &[], "").await,
        };
        if res.status != 200 {
            break res;
        }
        allowed += 1;
        assert!(allowed <= 10, "never limited");
    };
    rest_error(&refused, 429, 42901);
    assert!(refused.header("retry-after").is_some());
    let refilled = started.elapsed().as_secs() as usize;
    assert!(
        (3..=3 + refilled).contains(&allowed),
        "{allowed} calls in {refilled} s"
    );
    let produced = (allowed + 1) / 3;
    assert_eq!(
        read_all(&gw.bootstrap, "t").len(),
        produced,
        "the refused call produced nothing"
    );
}
