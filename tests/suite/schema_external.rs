//! An external registry (`schema_registry.url`): a gateway asks another one's Confluent API
//! (the embedded registry of a second gateway stands in for Confluent's) for schemas once, keeps
//! them, keeps serving them when that registry is gone, and answers 503 with `Retry-After` for a
//! schema it never had.

use serde_json::json;
use wafka_tests::kafka::wait_for;
use wafka_tests::prometheus::value;
use wafka_tests::{Broker, TestGateway};

const ROUTES: &str = r#"
[[routes]]
name = "x-orders"
path = "/v1/x-orders"
topic = "x-orders"
value_schema = {}

[[routes]]
name = "x-filtered"
path = "/v1/x-filtered"
topic = "x-filtered"
filters = [{ name = "schema-validate", config = { subject = "x-orders-value", encode = true } }]

[[routes]]
name = "x-later"
path = "/v1/x-later"
topic = "x-later"
value_schema = {}

[[routes]]
name = "read-x-orders"
path = "/v1/x-orders"
topic = "x-orders"
read = { default_from = "earliest", max_wait_ms = 5000 }
"#;

const ORDER: &str = r#"{"type":"record","name":"XOrder","fields":[
  {"name":"id","type":"string"},{"name":"qty","type":"int"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_registry_is_asked_once_and_its_schemas_kept() {
    let registry = TestGateway::builder(Broker::Embedded)
        .routes("[rest_proxy]\n")
        .schema_registry()
        .start()
        .await;
    let body = json!({ "schema": ORDER }).to_string();
    let id = registry
        .registry("POST", "/subjects/x-orders-value/versions", body)
        .await
        .json()["id"]
        .as_u64()
        .expect("an id");
    let url = registry.registry_url();
    let gw = TestGateway::builder(Broker::Embedded)
        .filter("schema-validate")
        .routes(ROUTES)
        .schema_registry()
        .configure(move |c| {
            let settings = c.schema_registry.as_mut().unwrap();
            settings.url = Some(url);
            settings.username = Some("wafka".into());
            settings.password = Some("s3cret".into());
            settings.timeout_ms = 2000;
        })
        .start()
        .await;

    for i in 0..5 {
        let res = gw
            .post("/v1/x-orders", format!(r#"{{"id":"o-{i}","qty":{i}}}"#))
            .await;
        assert_eq!(res.status, 200, "{}", res.json());
    }
    let res = gw.post("/v1/x-filtered", r#"{"id":"f-1","qty":1}"#).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let records = wait_for(&gw.bootstrap, "x-orders", 5);
    let encoded = records[0].value.clone().unwrap();
    assert_eq!(encoded[1..5], (id as u32).to_be_bytes());
    let filtered = wait_for(&gw.bootstrap, "x-filtered", 1);
    assert_eq!(
        filtered[0].value.as_ref().unwrap()[1..5],
        (id as u32).to_be_bytes()
    );

    // Six values encoded, the subject asked for once; readers decode with the kept schema.
    let metrics = gw.metrics().await;
    let fetches = |what: &str, result: &str| {
        value(
            &metrics,
            "wafka_schema_registry_fetches_total",
            &[("what", what), ("result", result)],
        )
    };
    assert_eq!(fetches("subject", "ok"), 1.0);
    let read = gw
        .send("GET", "/v1/x-orders?timeout_ms=5000", &[], "")
        .await
        .json();
    assert_eq!(read["records"][0]["value_schema_id"], json!(id));
    assert!(read["records"][0]["value"]["id"].is_string(), "{read}");
    let masked = gw.admin("/admin/config").await.json();
    assert_eq!(masked["schema_registry"]["password"], "***", "{masked}");

    // The registry goes away: what is kept keeps serving; what never was answers 503.
    registry.shutdown().await;
    let res = gw.post("/v1/x-orders", r#"{"id":"after","qty":9}"#).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = gw.post("/v1/x-later", r#"{"id":"l","qty":1}"#).await;
    assert_eq!(
        (res.status, res.error_code()),
        (503, "schema_registry_unavailable".into()),
        "{}",
        res.json()
    );
    let retry_after = res
        .header("retry-after")
        .and_then(|s| s.parse::<u32>().ok());
    assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");
    assert!(wafka_tests::kafka::read_all(&gw.bootstrap, "x-later").is_empty());
    let metrics = gw.metrics().await;
    assert!(
        value(
            &metrics,
            "wafka_schema_registry_fetches_total",
            &[("what", "subject"), ("result", "error")],
        ) >= 1.0
    );
}
