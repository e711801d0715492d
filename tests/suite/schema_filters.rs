//! Filters and the schema registry (the WIT `schemas` interface): the shipped `schema-validate`
//! filter checks values against registry subjects and encodes them in the wire format on the
//! gateway's side; what it encodes is read back as JSON, raw from Kafka in the wire format.

use serde_json::json;
use wafka_tests::kafka::{read_all, wait_for};
use wafka_tests::{Broker, TestGateway};

use super::on_both_brokers;

on_both_brokers!(schema_validate_encodes_with_registry_subjects);

const ROUTES: &str = r#"
[[routes]]
name = "f-orders"
path = "/v1/f-orders"
topic = "f-orders"
filters = [{ name = "schema-validate", config = { subject = "{topic}-value", encode = true } }]

[[routes]]
name = "f-checked"
path = "/v1/f-checked"
topic = "f-checked"
filters = [{ name = "schema-validate", config = { subject = "f-orders-value", max_errors = 1 } }]

[[routes]]
name = "f-unregistered"
path = "/v1/f-unregistered"
topic = "f-unregistered"
filters = [{ name = "schema-validate", config = { subject = "{topic}-value" } }]

[[routes]]
name = "read-f-orders"
path = "/v1/f-orders"
topic = "f-orders"
read = { default_from = "earliest", max_wait_ms = 5000 }
"#;

const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[
  {"name":"id","type":"string"},{"name":"qty","type":"int"}]}"#;

async fn schema_validate_encodes_with_registry_subjects(broker: Broker) {
    let gw = TestGateway::builder(broker)
        .filter("schema-validate")
        .routes(ROUTES)
        .schema_registry()
        .start()
        .await;
    let body = json!({ "schema": ORDER }).to_string();
    let registered = gw
        .registry("POST", "/subjects/f-orders-value/versions", body)
        .await;
    let id = registered.json()["id"].as_u64().expect("an id") as u32;

    let res = gw.post("/v1/f-orders", r#"{"id":"o-1","qty":3}"#).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let raw = wait_for(&gw.bootstrap, "f-orders", 1);
    let value = raw[0].value.clone().expect("a value");
    assert_eq!(value[..5], [[0].as_slice(), &id.to_be_bytes()].concat());
    // Avro: the string's zigzag length (3 → 6) and bytes, then zigzag int 3 → 6.
    assert_eq!(value[5..], [6, b'o', b'-', b'1', 6]);

    let read = gw
        .send("GET", "/v1/f-orders?timeout_ms=5000", &[], "")
        .await
        .json();
    assert_eq!(read["records"][0]["value"], json!({"id": "o-1", "qty": 3}));
    assert_eq!(read["records"][0]["value_schema_id"], json!(id));

    // A misfit is refused whole, every problem named by record and pointer; nothing produced.
    let bad = gw
        .send(
            "POST",
            "/v1/f-orders",
            &[("content-type", "application/json")],
            r#"{"id":7,"qty":"three"}"#,
        )
        .await;
    let answer = bad.json();
    assert_eq!(
        (bad.status, bad.error_code()),
        (422, "schema_violation".into())
    );
    let paths: Vec<&str> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["instance_path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/id", "/qty"], "{answer}");
    assert_eq!(read_all(&gw.bootstrap, "f-orders").len(), 1);

    // Checked only: the value goes to Kafka as the JSON it was; the list is capped.
    let ok = gw.post("/v1/f-checked", r#"{"id":"c-1","qty":1}"#).await;
    assert_eq!(ok.status, 200);
    let checked = wait_for(&gw.bootstrap, "f-checked", 1);
    assert_eq!(checked[0].json(), json!({"id": "c-1", "qty": 1}));
    let capped = gw.post("/v1/f-checked", r#"{"qty":"x"}"#).await.json();
    assert_eq!(
        (
            capped["errors"].as_array().map(Vec::len),
            &capped["truncated"]
        ),
        (Some(1), &json!(true)),
        "{capped}"
    );

    let missing = gw.post("/v1/f-unregistered", "{}").await;
    assert_eq!(
        (missing.status, missing.error_code()),
        (422, "schema_not_found".into())
    );
    let not_json = gw.post("/v1/f-orders", "{oops").await;
    assert_eq!(
        (not_json.status, not_json.error_code()),
        (400, "invalid_json".into())
    );
}

/// Without `[schema_registry]` the filter's calls answer `unavailable`: 503, nothing produced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_registry_the_filter_answers_503() {
    let gw = TestGateway::builder(Broker::Embedded)
        .filter("schema-validate")
        .routes(ROUTES)
        .start()
        .await;
    let res = gw.post("/v1/f-orders", r#"{"id":"o-1","qty":3}"#).await;
    assert_eq!(
        (res.status, res.error_code()),
        (503, "schema_registry_unavailable".into()),
        "{}",
        res.json()
    );
    assert!(
        res.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[schema_registry]")
    );
    assert!(read_all(&gw.bootstrap, "f-orders").is_empty());
}
