//! What clients switching from Confluent's REST Proxy send and expect, from its API reference
//! (docs.confluent.io/platform/current/kafka-rest/api.html): trailing slashes (its own v2
//! examples send `POST /consumers/testgroup/`), consumer settings it takes or ignores, the
//! statuses it answers produce mistakes with, the v3 cluster's `controller` link, and record
//! times. Also read routes' `from=<time>` on both brokers.

use std::time::Duration;

use serde_json::{Value, json};
use wafka_tests::kafka::read_all;
use wafka_tests::{Broker, Response, TestGateway};

use crate::on_both_brokers;
use crate::rest_proxy::call;

on_both_brokers!(
    consumers_take_trailing_slashes_and_the_settings_clients_send,
    produce_mistakes_answer_rest_proxys_statuses,
    the_v3_cluster_links_its_controller,
    read_routes_start_at_a_time,
    numbers_librdkafka_would_misread_are_refused_first
);

const V2: &str = "application/vnd.kafka.v2+json";
const V2_BINARY: &str = "application/vnd.kafka.binary.v2+json";

const CONFIG: &str = r#"
[rest_proxy]
topic_admin = true

[[routes]]
name = "read-times"
path = "/v1/times"
topic = "times"
read = { max_wait_ms = 2000 }
"#;

async fn gateway(broker: Broker, schemas: bool) -> TestGateway {
    let builder = TestGateway::builder(broker)
        .routes(CONFIG)
        .topics(&["habits", "times"]);
    let builder = if schemas {
        builder.schema_registry()
    } else {
        builder
    };
    builder.start().await
}

fn status_and_code(res: &Response) -> (u16, Value) {
    (res.status, res.json()["error_code"].clone())
}

async fn consumers_take_trailing_slashes_and_the_settings_clients_send(broker: Broker) {
    let gw = gateway(broker, false).await;
    let produced = call(
        &gw,
        "POST",
        "/topics/habits/",
        V2_BINARY,
        json!({"records": [{"value": "aGk="}]}),
    )
    .await;
    assert_eq!(produced.status, 200, "{}", produced.json());

    // A setting REST Proxy's Java consumers know and Wafka does not use is ignored; the ones
    // it uses are checked.
    let create = json!({"name": "c1", "format": "binary", "auto.offset.reset": "earliest",
        "topic.metadata.refresh.interval.ms": "100", "consumer.request.timeout.ms": 100,
        "fetch.min.bytes": 1});
    let res = call(&gw, "POST", "/consumers/g/", V2, create).await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["instance_id"], "c1");
    let base = "/consumers/g/instances/c1";
    for bad in [
        json!({"name": "c2", "fetch.min.bytes": -10}),
        json!({"name": "c2", "fetch.min.bytes": "many"}),
        json!({"name": "c2", "consumer.request.timeout.ms": -1}),
    ] {
        let res = call(&gw, "POST", "/consumers/g", V2, bad.clone()).await;
        assert_eq!(res.status, 422, "{bad}: {}", res.json());
    }
    let res = call(
        &gw,
        "POST",
        &format!("{base}/subscription/"),
        V2,
        json!({"topics": ["habits"]}),
    )
    .await;
    assert_eq!(res.status, 204, "{}", String::from_utf8_lossy(&res.body));
    let accept = [("accept", V2_BINARY)];
    let mut records = Vec::new();
    // Each call waits at most the instance's 100 ms; joining the group takes longer.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while records.is_empty() && std::time::Instant::now() < deadline {
        let got = gw
            .send("GET", &format!("{base}/records/"), &accept, "")
            .await;
        assert_eq!(got.status, 200, "{}", got.json());
        records.extend(got.json().as_array().cloned().unwrap_or_default());
    }
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["value"], "aGk=");
    // Each record says when it was written, as Kafka keeps it.
    let kept = read_all(&gw.bootstrap, "habits");
    assert_eq!(records[0]["timestamp"], json!(kept[0].timestamp));
    assert!(records[0]["timestamp"].is_i64());

    // `consumer.request.timeout.ms` (100 ms) bounds a records call even when `timeout` asks
    // for a minute, as REST Proxy documents: `timeout` is used only when smaller.
    let empty = tokio::time::timeout(
        Duration::from_secs(30),
        gw.send("GET", &format!("{base}/records?timeout=60000"), &accept, ""),
    )
    .await
    .expect("the instance's consumer.request.timeout.ms ends the call");
    assert_eq!(empty.json(), json!([]));
    let res = gw
        .send("DELETE", &format!("{base}/"), &[("content-type", V2)], "")
        .await;
    assert_eq!(res.status, 204);
    // The deleted instance leaves its group in the background; shutdown waits for it while
    // the cluster is still there (dropped instead, the consumer would wait on a dead cluster).
    gw.shutdown().await;
}

async fn produce_mistakes_answer_rest_proxys_statuses(broker: Broker) {
    let gw = gateway(broker, true).await;
    // Not a produce request, or no records: REST Proxy's validation, 422.
    for body in [json!({"value": "aGk="}), json!({"records": []}), json!([1])] {
        let res = call(&gw, "POST", "/topics/habits", V2_BINARY, body.clone()).await;
        assert_eq!(
            status_and_code(&res),
            (422, json!(422)),
            "{body}: {}",
            res.json()
        );
    }
    // Not base64: a bad request, 400.
    let res = call(
        &gw,
        "POST",
        "/topics/habits",
        V2_BINARY,
        json!({"records": [{"value": "%%%"}]}),
    )
    .await;
    assert_eq!(status_and_code(&res), (400, json!(400)), "{}", res.json());
    // A schema id the registry does not have: 422, 40403, "Schema 666 not found".
    let avro = "application/vnd.kafka.avro.v2+json";
    let res = call(
        &gw,
        "POST",
        "/topics/habits",
        avro,
        json!({"key_schema_id": 666, "value_schema_id": 666, "records": [{"key": 1, "value": 1}]}),
    )
    .await;
    assert_eq!(status_and_code(&res), (422, json!(40403)), "{}", res.json());
    assert!(
        res.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("Schema 666 not found")),
        "{}",
        res.json()
    );
    // A schema id given as a string is the id.
    let registered = gw
        .registry(
            "POST",
            "/subjects/habits-value/versions",
            json!({"schema": "\"int\""}).to_string(),
        )
        .await
        .json();
    let id = registered["id"].as_u64().unwrap();
    let res = call(
        &gw,
        "POST",
        "/topics/habits",
        avro,
        json!({"value_schema_id": id.to_string(), "records": [{"value": 7}]}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["value_schema_id"], json!(id));
    assert_eq!(
        read_all(&gw.bootstrap, "habits").len(),
        1,
        "only the good request produced"
    );
}

/// v3's cluster: `controller` is `{"related": …/brokers/{id}}`, as the API's schema requires.
async fn the_v3_cluster_links_its_controller(broker: Broker) {
    let gw = gateway(broker, false).await;
    let clusters = gw.send("GET", "/v3/clusters", &[], "").await.json();
    let cluster = clusters["data"][0].clone();
    let id = cluster["cluster_id"].as_str().unwrap().to_owned();
    let related = cluster["controller"]["related"]
        .as_str()
        .unwrap_or_else(|| panic!("{cluster}"));
    let brokers_at = format!("/v3/clusters/{id}/brokers/");
    assert!(related.contains(&brokers_at), "{related}");
    let controller: i32 = related.rsplit('/').next().unwrap().parse().unwrap();
    let known = gw.send("GET", "/brokers", &[], "").await.json();
    assert!(
        known["brokers"]
            .as_array()
            .unwrap()
            .contains(&json!(controller)),
        "{controller} among {known}"
    );
    let one = gw
        .send("GET", &format!("/v3/clusters/{id}"), &[], "")
        .await
        .json();
    assert_eq!(one["controller"], cluster["controller"]);
}

/// `GET <read route>?from=<ms>` starts at the first record at or after that time, on the
/// embedded cluster too (which has no time index: the gateway reads to it).
async fn read_routes_start_at_a_time(broker: Broker) {
    let gw = gateway(broker, false).await;
    let produce = |value: &'static str| {
        call(
            &gw,
            "POST",
            "/topics/times",
            V2_BINARY,
            json!({"records": [{"value": value, "partition": 0}]}),
        )
    };
    assert_eq!(produce("Zmlyc3Q=").await.status, 200);
    let first = read_all(&gw.bootstrap, "times")[0].timestamp.unwrap();
    // The next record must carry a later time: produce until one does (same-millisecond
    // records are the same time to Kafka).
    let mut later = None;
    for _ in 0..1000 {
        assert_eq!(produce("bGF0ZXI=").await.status, 200);
        let all = read_all(&gw.bootstrap, "times");
        if let Some(t) = all.last().and_then(|r| r.timestamp).filter(|t| *t > first) {
            later = Some((t, all.len()));
            break;
        }
    }
    let (later, count) = later.expect("a record with a later time");
    let from = |ms: i64| {
        let path = format!("/v1/times?from={ms}&timeout_ms=0");
        let gw = &gw;
        async move { gw.send("GET", &path, &[], "").await }
    };
    let all = from(first).await.json();
    assert_eq!(
        all["records"].as_array().map(Vec::len),
        Some(count),
        "{all}"
    );
    let tail = from(later).await.json();
    let tail = tail["records"].as_array().unwrap();
    assert_eq!(tail.len(), 1, "{tail:?}");
    assert_eq!(tail[0]["timestamp"], json!(later));
    let none = from(later + 1).await.json();
    assert_eq!(none["records"], json!([]));
}

/// Every number a client sends that reaches librdkafka (partition counts, replication factors,
/// partitions, offsets, sizes, waits) is checked first: out of range is a 4xx in the API's
/// shape, nothing is created, and the gateway goes on answering.
async fn numbers_librdkafka_would_misread_are_refused_first(broker: Broker) {
    let gw = gateway(broker, false).await;
    let cluster = gw.send("GET", "/v3/clusters", &[], "").await.json()["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let topics = format!("/v3/clusters/{cluster}/topics");
    let json_type = "application/json";
    for (field, value) in [
        ("partitions_count", json!(-123)),
        ("partitions_count", json!(0)),
        ("partitions_count", json!(2147483647)),
        ("partitions_count", json!(-2147483648_i64)),
        ("replication_factor", json!(-5)),
        ("replication_factor", json!(0)),
        ("replication_factor", json!(40000)),
    ] {
        let mut body = json!({"topic_name": "q1", "partitions_count": 1});
        body[field] = value.clone();
        let res = call(&gw, "POST", &topics, json_type, body).await;
        assert_eq!(res.status, 400, "{field} {value}: {}", res.json());
        assert_eq!(res.json()["error_code"], 40002, "{}", res.json());
    }
    let gone = gw.send("GET", &format!("{topics}/q1"), &[], "").await;
    assert_eq!(gone.status, 404, "nothing was created: {}", gone.json());

    // Produce to partitions that cannot exist.
    for partition in ["-1", "-2", "2147483647", "99999999999"] {
        let res = call(
            &gw,
            "POST",
            &format!("/topics/habits/partitions/{partition}"),
            V2_BINARY,
            json!({"records": [{"value": "aGk="}]}),
        )
        .await;
        // Refused whole (a path that is no partition number), or the record's own error
        // (REST Proxy answers 200 with each record's result): never sent.
        let record_error = res.json()["offsets"][0]["error_code"].as_u64();
        assert!(
            (400..500).contains(&res.status) || record_error == Some(40402),
            "partition {partition}: {}",
            res.json()
        );
    }
    let res = call(
        &gw,
        "POST",
        "/topics/habits",
        V2_BINARY,
        json!({"records": [{"value": "aGk=", "partition": -7}]}),
    )
    .await;
    assert!(
        (400..500).contains(&res.status) || res.json()["offsets"][0]["error_code"].is_number(),
        "{}",
        res.json()
    );
    let v3 = format!("{topics}/habits/records");
    for partition in [json!(-1), json!(-9), json!(2147483648_i64)] {
        let body = json!({"partition_id": partition, "value": {"type": "JSON", "data": 1}});
        let res = call(&gw, "POST", &v3, json_type, body).await;
        let report = res.json();
        let code = report["error_code"].as_u64().unwrap_or(0);
        // A v3 record's report carries its own status or code (the stream answers 200).
        let refused = (400..500).contains(&res.status)
            || (400..500).contains(&code)
            || (40000..50000).contains(&code);
        assert!(refused, "{partition}: {report}");
    }

    // A consumer's partitions, offsets and sizes.
    let create = json!({"name": "n1", "format": "binary"});
    assert_eq!(
        call(&gw, "POST", "/consumers/n", V2, create).await.status,
        200
    );
    let base = "/consumers/n/instances/n1";
    for (path, body) in [
        (
            "assignments",
            json!({"partitions": [{"topic": "habits", "partition": -1}]}),
        ),
        (
            "positions",
            json!({"offsets": [{"topic": "habits", "partition": 0, "offset": -2}]}),
        ),
        (
            "positions",
            json!({"offsets": [{"topic": "habits", "partition": -3, "offset": 0}]}),
        ),
        (
            "positions/beginning",
            json!({"partitions": [{"topic": "habits", "partition": -1}]}),
        ),
        (
            "offsets",
            json!({"offsets": [{"topic": "habits", "partition": -1, "offset": 0}]}),
        ),
        (
            "offsets",
            json!({"offsets": [{"topic": "habits", "partition": 0, "offset": -5}]}),
        ),
    ] {
        let res = call(&gw, "POST", &format!("{base}/{path}"), V2, body.clone()).await;
        assert_eq!(res.status, 422, "{path} {body}: {}", res.json());
    }
    for query in ["max_bytes=-1", "timeout=-5", "max_bytes=abc"] {
        let res = gw
            .send(
                "GET",
                &format!("{base}/records?{query}"),
                &[("accept", V2_BINARY)],
                "",
            )
            .await;
        assert_eq!(res.status, 422, "{query}: {}", res.json());
    }
    // Read routes' numbers.
    for query in [
        "max_records=0",
        "max_records=-1",
        "max_bytes=0",
        "timeout_ms=-1",
        "from=-5",
    ] {
        let res = gw.send("GET", &format!("/v1/times?{query}"), &[], "").await;
        assert_eq!(res.status, 400, "{query}: {}", res.json());
    }
    let res = gw.send("DELETE", base, &[("content-type", V2)], "").await;
    assert_eq!(res.status, 204);
    assert_eq!(gw.admin("/healthz").await.status, 200);
    gw.shutdown().await;
}
