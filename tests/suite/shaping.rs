//! The shaping filters in a real gateway: `json-transform` splits and reshapes, and
//! `schema-validate` refuses what does not match, before anything reaches Kafka.

use wafka_tests::kafka::read_all;
use wafka_tests::{Broker, TestGateway};

use crate::on_both_brokers;

const ROUTES: &str = r#"
[[routes]]
name = "orders"
path = "/v1/orders"
topic = "order-lines"
filters = [
  { name = "schema-validate", config = { schema = { type = "object", required = ["order", "lines"], properties = { order = { type = "integer" }, lines = { type = "array", minItems = 1, items = { type = "object", required = ["sku"] } } } } } },
  { name = "json-transform", config = { split = "/lines", key = "/sku", request_id = "/request_id" } },
]
"#;

async fn gateway(broker: Broker) -> TestGateway {
    TestGateway::builder(broker)
        .routes(ROUTES)
        .filter("schema-validate")
        .filter("json-transform")
        .start()
        .await
}

on_both_brokers!(an_order_becomes_one_record_per_line_keyed_by_sku);

async fn an_order_becomes_one_record_per_line_keyed_by_sku(broker: Broker) {
    let gw = gateway(broker).await;
    let body = r#"{"order": 7, "lines": [{"sku": "a-1", "qty": 2}, {"sku": "b-2", "qty": 1}]}"#;
    let res = gw.post("/v1/orders", body).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let request_id = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(res.json()["records"].as_array().unwrap().len(), 2);
    let mut lines = read_all(&gw.bootstrap, "order-lines");
    lines.sort_by_key(|r| r.key.clone());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].key.as_deref(), Some(&b"a-1"[..]));
    assert_eq!(lines[0].json()["qty"], 2);
    assert_eq!(lines[1].key.as_deref(), Some(&b"b-2"[..]));
    assert_eq!(lines[1].json()["request_id"], request_id.as_str());
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_breaks_the_schema_gets_422_with_every_error_and_nothing_is_written() {
    let gw = gateway(Broker::Embedded).await;
    let res = gw
        .post("/v1/orders", r#"{"order": "seven", "lines": [{"qty": 1}]}"#)
        .await;
    assert_eq!(res.status, 422, "{}", res.json());
    let body = res.json();
    assert_eq!(body["error"]["code"], "schema_violation");
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["instance_path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/order") && paths.contains(&"/lines/0"),
        "{paths:?}"
    );
    let res = gw.post("/v1/orders", "not json").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (400, "invalid_json")
    );
    assert!(read_all(&gw.bootstrap, "order-lines").is_empty());
    gw.shutdown().await;
}
