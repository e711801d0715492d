//! Many records per request: Confluent REST Proxy v2 JSON and NDJSON bodies.

use wafka_tests::kafka::{read_all, wait_for};
use wafka_tests::{Broker, TestGateway};

use crate::on_both_brokers;

const BATCH_ROUTES: &str = r#"
[[routes]]
name = "batch"
path = "/v1/batch"
topic = "batch"
body = "records"
filters = [{ name = "json-enrich" }]

[[routes]]
name = "lines"
path = "/v1/lines"
topic = "lines"
mode = "async"
body = "ndjson"
"#;

async fn batch_gateway(broker: Broker) -> TestGateway {
    TestGateway::builder(broker)
        .routes(BATCH_ROUTES)
        .filter("json-enrich")
        .configure(|c| c.server.max_records = 3)
        .start()
        .await
}

on_both_brokers!(
    record_batches_are_produced_record_by_record,
    bad_batches_produce_nothing
);

async fn record_batches_are_produced_record_by_record(broker: Broker) {
    let gw = batch_gateway(broker).await;
    let body = r#"{"records":[
        {"key":"u-1","value":{"n":1},"partition":1,"headers":{"source":"web"}},
        {"key":"u-2","value":{"n":2},"partition":1},
        {"value":{"n":3},"partition":1}
    ]}"#;
    let res = gw.post("/v1/batch", body).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let acks = res.json()["records"].as_array().unwrap().clone();
    assert_eq!(acks.len(), 3);
    let records = read_all(&gw.bootstrap, "batch");
    assert_eq!(records.len(), 3);
    for (i, (ack, record)) in acks.iter().zip(&records).enumerate() {
        assert_eq!(
            (ack["partition"].as_i64(), ack["offset"].as_i64()),
            (Some(1), Some(record.offset))
        );
        assert_eq!(record.json()["n"], i + 1, "order kept");
        assert!(
            record.json()["request_id"].is_string(),
            "each record went through the filter"
        );
    }
    assert_eq!(records[0].key.as_deref(), Some(&b"u-1"[..]));
    assert_eq!(records[2].key, None);
    assert_eq!(
        records[0].headers[0],
        ("source".to_owned(), b"web".to_vec())
    );

    let res = gw
        .send(
            "POST",
            "/v1/lines",
            &[("content-type", "application/x-ndjson")],
            "a\nb\r\n\nc\n",
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.json());
    let lines = wait_for(&gw.bootstrap, "lines", 3);
    let mut values: Vec<_> = lines.iter().map(|r| r.value.clone().unwrap()).collect();
    values.sort();
    assert_eq!(values, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    gw.shutdown().await;
}

async fn bad_batches_produce_nothing(broker: Broker) {
    let gw = batch_gateway(broker).await;
    let res = gw
        .post(
            "/v1/batch",
            r#"{"records":[{"value":1},{"partition":"two"}]}"#,
        )
        .await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (400, "invalid_batch")
    );
    assert!(
        res.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("records[1].partition")
    );
    let four = r#"{"records":[{"value":{}},{"value":{}},{"value":{}},{"value":{}}]}"#;
    let res = gw.post("/v1/batch", four).await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (413, "too_many_records")
    );
    let res = gw.send("POST", "/v1/lines", &[], "1\n2\n3\n4\n").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (413, "too_many_records")
    );
    assert!(read_all(&gw.bootstrap, "batch").is_empty());
    assert!(read_all(&gw.bootstrap, "lines").is_empty());
    gw.shutdown().await;
}
