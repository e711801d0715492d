//! Schemas as contracts: Confluent's own Python registry client and serializers
//! (`confluent-kafka` 2.16.1, tests/python/schema_registry_client.py) against Wafka's embedded
//! registry; routes encoding JSON bodies as Avro and JSON Schema; read routes decoding them.

use serde_json::{Value, json};
use wafka_tests::kafka::{read_all, wait_for};
use wafka_tests::{Broker, TestGateway};

use super::on_both_brokers;

on_both_brokers!(
    the_confluent_client_registers_and_decodes_what_wafka_encodes,
    records_from_the_confluent_serializer_read_back_as_json
);

const ROUTES: &str = r#"
[[routes]]
name = "orders"
path = "/v1/orders"
topic = "orders"
value_schema = {}

[[routes]]
name = "clicks"
path = "/v1/clicks"
topic = "clicks"
body = "ndjson"
value_schema = {}

[[routes]]
name = "shipments"
path = "/v1/shipments"
topic = "shipments"
value_schema = {}

[[routes]]
name = "unregistered"
path = "/v1/unregistered"
topic = "unregistered"
value_schema = { subject = "nobody-registered-this" }

[[routes]]
name = "read-orders"
path = "/v1/orders"
topic = "orders"
read = { default_from = "earliest", max_wait_ms = 5000 }

[[routes]]
name = "read-payments"
path = "/v1/payments"
topic = "payments"
read = { default_from = "earliest", max_wait_ms = 5000 }
"#;

const ORDER_V1: &str = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[
  {"name":"id","type":"string"},{"name":"qty","type":"int"},
  {"name":"note","type":["null","string"],"default":null}]}"#;

/// Adds a field with a default: BACKWARD compatible.
const ORDER_V2: &str = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[
  {"name":"id","type":"string"},{"name":"qty","type":"int"},
  {"name":"note","type":["null","string"],"default":null},
  {"name":"currency","type":"string","default":"EUR"}]}"#;

/// Adds a field without a default: readers of it cannot read v1 records.
const ORDER_BAD: &str = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[
  {"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"customer","type":"string"}]}"#;

const SHIPMENT: &str = r#"syntax = "proto3";
package acme;
message Shipment {
  string order = 1;
  int32 parcels = 2;
  repeated Stop stops = 3;
  message Stop { string city = 1; }
}"#;

const CLICK: &str = r#"{"type":"object","properties":{"page":{"type":"string"},"ms":{"type":"integer"}},
  "required":["page"]}"#;

async fn gateway(broker: Broker) -> TestGateway {
    TestGateway::builder(broker)
        .routes(ROUTES)
        .topics(&["payments"])
        .schema_registry()
        .start()
        .await
}

/// One command of the Confluent client script; its JSON answer.
pub(crate) async fn client(gw: &TestGateway, args: &[&str]) -> Value {
    let url = gw.registry_url();
    let mut all = vec![url.as_str()];
    all.extend_from_slice(args);
    let out = wafka_tests::python::run("schema_registry_client.py", &all).await;
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

async fn the_confluent_client_registers_and_decodes_what_wafka_encodes(broker: Broker) {
    let gw = gateway(broker).await;
    let v1 = client(&gw, &["register", "orders-value", "AVRO", ORDER_V1]).await;
    let v1 = v1["id"].as_i64().unwrap_or_else(|| panic!("{v1}"));
    let click = client(&gw, &["register", "clicks-value", "JSON", CLICK]).await;
    assert!(click["id"].as_i64().is_some_and(|id| id != v1), "{click}");
    let shipment = client(&gw, &["register", "shipments-value", "PROTOBUF", SHIPMENT]).await;
    assert!(shipment["id"].as_i64().is_some(), "{shipment}");

    // A body that fits is encoded; what does not fit is refused whole, every problem listed.
    let res = gw.post("/v1/orders", r#"{"id":"o-1","qty":2}"#).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let bad = gw.post("/v1/orders", r#"{"id":7,"qty":"two"}"#).await;
    assert_eq!(
        (bad.status, bad.error_code()),
        (422, "schema_mismatch".into())
    );
    let problems = bad.json()["error"]["problems"].clone();
    let problems: Vec<&str> = problems
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("records[0].value/id: "),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("records[0].value/qty: "),
        "{problems:?}"
    );
    let not_json = gw.post("/v1/orders", "qty=2").await;
    assert_eq!(not_json.error_code(), "schema_mismatch");
    let lines = "{\"page\":\"/a\",\"ms\":5}\n{\"page\":\"/b\"}\n";
    assert_eq!(gw.post("/v1/clicks", lines).await.status, 200);
    let half_bad = gw
        .post("/v1/clicks", "{\"page\":\"/c\"}\n{\"ms\":1}\n")
        .await;
    assert_eq!(
        half_bad.error_code(),
        "schema_mismatch",
        "{}",
        half_bad.json()
    );
    assert!(
        half_bad.json()["error"]["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("records[1].value")
    );
    let parcel = r#"{"order":"o-1","parcels":2,"stops":[{"city":"Lyon"}]}"#;
    assert_eq!(gw.post("/v1/shipments", parcel).await.status, 200);
    let lost = gw
        .post("/v1/shipments", r#"{"order":1,"stops":[{"town":"x"}]}"#)
        .await;
    let problems = lost.json()["error"]["problems"].clone();
    assert_eq!(
        problems,
        json!([
            "records[0].value/order: expected a string, found a number",
            "records[0].value/stops/0/town: not a field of acme.Shipment.Stop",
        ])
    );
    let none = gw.post("/v1/unregistered", "{}").await;
    assert_eq!(
        (none.status, none.error_code()),
        (422, "schema_not_found".into())
    );

    // An incompatible version is refused with the registry's code; a compatible one becomes
    // the version routes encode with.
    let refused = client(&gw, &["register", "orders-value", "AVRO", ORDER_BAD]).await;
    assert_eq!(refused["error_code"], 409, "{refused}");
    let verdict = client(&gw, &["compatible", "orders-value", "AVRO", ORDER_BAD]).await;
    assert_eq!(verdict["is_compatible"], false);
    let v2 = client(&gw, &["register", "orders-value", "AVRO", ORDER_V2]).await["id"].clone();
    assert_ne!(v2, json!(v1));
    let res = gw
        .post("/v1/orders", r#"{"id":"o-2","qty":1,"currency":"USD"}"#)
        .await;
    assert_eq!(res.status, 200, "{}", res.json());

    // Confluent's deserializers read what Wafka wrote: the refused bodies left nothing.
    // (Three partitions: compared in an order of their own.)
    let orders = client(&gw, &["consume", &gw.bootstrap, "orders", "AVRO", "2"]).await;
    assert_eq!(
        sorted(orders, "id"),
        [
            json!({"id": "o-1", "qty": 2, "note": null}),
            json!({"id": "o-2", "qty": 1, "note": null, "currency": "USD"}),
        ]
    );
    let clicks = client(&gw, &["consume", &gw.bootstrap, "clicks", "JSON", "2"]).await;
    assert_eq!(
        sorted(clicks, "page"),
        [json!({"page": "/a", "ms": 5}), json!({"page": "/b"})]
    );
    assert_eq!(read_all(&gw.bootstrap, "clicks").len(), 2);
    let shipments = client(
        &gw,
        &["consume", &gw.bootstrap, "shipments", "PROTOBUF", "1"],
    )
    .await;
    assert_eq!(
        shipments,
        json!([serde_json::from_str::<Value>(parcel).unwrap()])
    );
    let written = read_all(&gw.bootstrap, "orders");
    assert_eq!(written.len(), 2);
    let mut ids: Vec<u32> = written
        .iter()
        .map(|r| {
            let raw = r.value.as_deref().unwrap();
            assert_eq!(raw[0], 0, "the wire format's magic byte");
            u32::from_be_bytes(raw[1..5].try_into().unwrap())
        })
        .collect();
    ids.sort();
    assert_eq!(json!(ids), json!([v1, v2]));

    // The read route gives JSON back, saying which schema wrote it.
    let mut records = read_route(&gw, "/v1/orders", 2).await;
    records.sort_by_key(|r| r["value"]["id"].as_str().unwrap().to_owned());
    assert_eq!(
        records[0]["value"],
        json!({"id": "o-1", "qty": 2, "note": null})
    );
    assert_eq!(records[0]["value_schema_id"], json!(v1));
    assert_eq!(records[1]["value_schema_id"], v2);

    let metrics = gw.metrics().await;
    let values = |direction: &str, result: &str| {
        let labels = [("direction", direction), ("result", result)];
        wafka_tests::prometheus::value(&metrics, "wafka_schema_values_total", &labels)
    };
    assert!(values("encode", "mismatch") >= 4.0);
    assert!(values("encode", "ok") >= 5.0);
    assert!(values("decode", "ok") >= 2.0);
}

async fn records_from_the_confluent_serializer_read_back_as_json(broker: Broker) {
    let gw = gateway(broker).await;
    let payment = r#"{"type":"record","name":"Payment","fields":[
      {"name":"amount","type":"double"},{"name":"to","type":"string"}]}"#;
    let values = r#"[{"amount": 9.5, "to": "ada"}, {"amount": 1.25, "to": "bob"}]"#;
    let produced = client(
        &gw,
        &[
            "produce",
            &gw.bootstrap,
            "payments",
            "AVRO",
            payment,
            values,
        ],
    )
    .await;
    assert_eq!(produced["produced"], 2);
    wait_for(&gw.bootstrap, "payments", 2);
    // The serializer registered the schema itself, under the topic name strategy.
    let subjects = gw.registry("GET", "/subjects", "").await.json();
    assert!(
        subjects
            .as_array()
            .unwrap()
            .contains(&json!("payments-value")),
        "{subjects}"
    );

    let records = read_route(&gw, "/v1/payments", 2).await;
    let got: Vec<Value> = records.iter().map(|r| r["value"].clone()).collect();
    let sent: Vec<Value> = serde_json::from_str(values).unwrap();
    assert_eq!(sorted(json!(got), "to"), sent);
}

/// The API's answers and errors, as Confluent's registry gives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_api_answers_as_confluents() {
    let gw = gateway(Broker::Embedded).await;
    let body = json!({ "schema": ORDER_V1 }).to_string();
    let id = gw
        .registry("POST", "/subjects/api-value/versions", body.clone())
        .await
        .json()["id"]
        .clone();
    // The same schema again, or under another subject, keeps its id.
    let again = gw
        .registry("POST", "/subjects/api-value/versions", body.clone())
        .await;
    assert_eq!(again.json()["id"], id);
    let other = gw
        .registry("POST", "/subjects/other-value/versions", body.clone())
        .await;
    assert_eq!(other.json()["id"], id);
    let res = gw
        .registry("GET", "/subjects/api-value/versions/latest", "")
        .await;
    assert_eq!(
        res.header("content-type"),
        Some("application/vnd.schemaregistry.v1+json")
    );
    let latest = res.json();
    assert_eq!(
        (
            latest["subject"].clone(),
            latest["version"].clone(),
            latest["id"].clone()
        ),
        (json!("api-value"), json!(1), id.clone())
    );
    let found = gw
        .registry("POST", "/subjects/api-value", body.clone())
        .await
        .json();
    assert_eq!(found["version"], 1);
    let uses = gw
        .registry("GET", &format!("/schemas/ids/{id}/versions"), "")
        .await
        .json();
    assert_eq!(
        uses,
        json!([{"subject": "api-value", "version": 1}, {"subject": "other-value", "version": 1}])
    );
    let schema = gw
        .registry("GET", "/subjects/api-value/versions/1/schema", "")
        .await
        .json();
    assert_eq!(schema["name"], "Order");

    // Levels, globally and per subject.
    assert_eq!(
        gw.registry("GET", "/config", "").await.json(),
        json!({"compatibilityLevel": "BACKWARD"})
    );
    let set = gw
        .registry("PUT", "/config/api-value", r#"{"compatibility":"none"}"#)
        .await;
    assert_eq!(set.json(), json!({"compatibility": "NONE"}));
    assert_eq!(
        gw.registry("GET", "/config/api-value", "").await.json()["compatibilityLevel"],
        "NONE"
    );
    let unset = gw.registry("GET", "/config/other-value", "").await;
    assert_eq!(
        (unset.status, unset.json()["error_code"].clone()),
        (404, json!(40408))
    );
    let fallback = gw
        .registry("GET", "/config/other-value?defaultToGlobal=true", "")
        .await;
    assert_eq!(fallback.json()["compatibilityLevel"], "BACKWARD");
    // Under NONE the incompatible version goes in; under BACKWARD it does not.
    let bad = json!({ "schema": ORDER_BAD }).to_string();
    assert_eq!(
        gw.registry("POST", "/subjects/api-value/versions", bad.clone())
            .await
            .status,
        200
    );
    let refused = gw
        .registry("POST", "/subjects/other-value/versions", bad.clone())
        .await;
    assert_eq!(
        (refused.status, refused.json()["error_code"].clone()),
        (409, json!(409))
    );
    let verbose = gw
        .registry(
            "POST",
            "/compatibility/subjects/other-value/versions/latest?verbose=true",
            bad,
        )
        .await
        .json();
    assert_eq!(verbose["is_compatible"], false);
    assert!(
        verbose["messages"][0]
            .as_str()
            .unwrap()
            .contains("customer"),
        "{verbose}"
    );

    // Soft delete.
    let deleted = gw
        .registry("DELETE", "/subjects/other-value", "")
        .await
        .json();
    assert_eq!(deleted, json!([1]));
    assert_eq!(
        gw.registry("GET", "/subjects", "").await.json(),
        json!(["api-value"])
    );

    // Errors, with Confluent's codes.
    for (method, path, body, status, code) in [
        ("GET", "/subjects/nobody/versions", "", 404, 40401),
        ("GET", "/subjects/api-value/versions/9", "", 404, 40402),
        ("GET", "/schemas/ids/999", "", 404, 40403),
        ("GET", "/subjects/api-value/versions/zero", "", 422, 42202),
        (
            "POST",
            "/subjects/x/versions",
            r#"{"schema":"{\"type\":\"nope\"}"}"#,
            422,
            42201,
        ),
        (
            "POST",
            "/subjects/x/versions",
            r#"{"schema":"{}","schemaType":"XML"}"#,
            422,
            42201,
        ),
        (
            "PUT",
            "/config",
            r#"{"compatibility":"SOMETIMES"}"#,
            422,
            42203,
        ),
        ("POST", "/subjects/x/versions", "{not json", 400, 400),
        ("GET", "/nowhere", "", 404, 404),
    ] {
        let res = gw.registry(method, path, body).await;
        assert_eq!(
            (res.status, res.json()["error_code"].clone()),
            (status, json!(code)),
            "{method} {path}: {}",
            res.json()
        );
        assert!(
            res.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let large = format!(r#"{{"schema":"{}"}}"#, "x".repeat(2 << 20));
    assert_eq!(
        gw.registry("POST", "/subjects/x/versions", large)
            .await
            .status,
        413
    );
    assert_eq!(
        gw.registry("GET", "/mode", "").await.json(),
        json!({"mode": "READWRITE"})
    );
    let types = gw.registry("GET", "/schemas/types", "").await.json();
    assert!(types.as_array().unwrap().contains(&json!("AVRO")));
}

/// Schemas live in the `_schemas` topic: a restart finds the same ids, and a second gateway
/// (read-only, as docs/schemas.md says to run all but one) serves and encodes with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_survive_a_restart_and_two_gateways_share_them() {
    let mut first = gateway(Broker::Tansu).await;
    let register = |subject: &str, schema: &str| {
        (
            format!("/subjects/{subject}/versions"),
            json!({ "schema": schema }).to_string(),
        )
    };
    let (path, body) = register("orders-value", ORDER_V1);
    let v1 = first.registry("POST", &path, body).await.json()["id"].clone();
    let (path, body) = register("orders-value", ORDER_V2);
    let v2 = first.registry("POST", &path, body).await.json()["id"].clone();
    assert_eq!(
        first
            .post("/v1/orders", r#"{"id":"a","qty":1}"#)
            .await
            .status,
        200
    );

    first.restart().await;
    assert_eq!(
        first
            .registry("GET", &format!("/schemas/ids/{v1}"), "")
            .await
            .json()["schema"],
        ORDER_V1
    );
    let latest = first
        .registry("GET", "/subjects/orders-value/versions/latest", "")
        .await
        .json();
    assert_eq!(
        (latest["id"].clone(), latest["version"].clone()),
        (v2.clone(), json!(2))
    );

    let bootstrap = first.bootstrap.clone();
    let second = TestGateway::builder(Broker::Embedded)
        .routes(ROUTES)
        .schema_registry()
        .configure(move |c| {
            c.kafka.brokers = bootstrap;
            c.schema_registry.as_mut().unwrap().read_only = true;
        })
        .start()
        .await;
    assert_eq!(
        second
            .registry("GET", "/subjects/orders-value/versions", "")
            .await
            .json(),
        json!([1, 2])
    );
    assert_eq!(
        second.registry("GET", "/mode", "").await.json(),
        json!({"mode": "READONLY"})
    );
    let (path, body) = register("elsewhere-value", ORDER_V1);
    let refused = second.registry("POST", &path, body).await;
    assert_eq!(
        (refused.status, refused.json()["error_code"].clone()),
        (422, json!(42205))
    );

    // What the writer registers next reaches the reader through the topic.
    let body = json!({ "schema": CLICK, "schemaType": "JSON" }).to_string();
    let click = first
        .registry("POST", "/subjects/clicks-value/versions", body)
        .await
        .json()["id"]
        .clone();
    assert_eq!(click, json!(v2.as_i64().unwrap() + 1));
    let seen = wait_until(|| async {
        second
            .registry("GET", &format!("/schemas/ids/{click}"), "")
            .await
            .status
            == 200
    })
    .await;
    assert!(seen, "the second gateway never saw schema {click}");
    assert_eq!(
        second
            .post("/v1/clicks", "{\"page\":\"/x\"}\n")
            .await
            .status,
        200
    );
    assert_eq!(
        second.post("/v1/clicks", "{\"ms\":1}\n").await.error_code(),
        "schema_mismatch"
    );
    // Both gateways' records carry the ids both agree on.
    let read = second
        .send("GET", "/v1/orders?timeout_ms=5000", &[], "")
        .await
        .json();
    assert_eq!(read["records"][0]["value_schema_id"], v2);
    assert_eq!(
        read["records"][0]["value"],
        json!({"id": "a", "qty": 1, "note": null, "currency": "EUR"})
    );
}

/// `count` records from a read route, following its `next` position across long polls.
pub(crate) async fn read_route(gw: &TestGateway, path: &str, count: usize) -> Vec<Value> {
    let (mut records, mut from) = (Vec::new(), "earliest".to_owned());
    while records.len() < count {
        let res = gw
            .send(
                "GET",
                &format!("{path}?from={from}&timeout_ms=5000"),
                &[],
                "",
            )
            .await;
        let answer = res.json();
        let got = answer["records"].as_array().cloned().unwrap_or_default();
        assert!(
            !got.is_empty(),
            "{path}: nothing more after {records:?}: {answer}"
        );
        records.extend(got);
        from = answer["next"].as_str().unwrap().to_owned();
    }
    assert_eq!(records.len(), count, "{records:?}");
    records
}

/// The objects of a JSON array, ordered by one string field.
fn sorted(values: Value, by: &str) -> Vec<Value> {
    let mut values = values
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{values}"));
    values.sort_by_key(|v| v[by].as_str().unwrap_or_default().to_owned());
    values
}

/// Polls `check` until it holds, for at most 10 s: for state that another process's log
/// carries here, which has no event to await.
async fn wait_until<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// REST Proxy's embedded formats with the registry: v2 `avro` with an inline schema (registered
/// under `{topic}-value`) or a schema id, v3 schema-based values, an `avro` consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_proxy_schema_formats_encode_and_decode() {
    let gw = TestGateway::builder(Broker::Embedded)
        .routes("[rest_proxy]\n")
        .topics(&["rp-orders"])
        .schema_registry()
        .start()
        .await;
    let avro = [("content-type", "application/vnd.kafka.avro.v2+json")];
    let inline = json!({"value_schema": ORDER_V1, "records": [{"value": {"id": "r-1", "qty": 1}}]});
    let res = gw
        .send("POST", "/topics/rp-orders", &avro, inline.to_string())
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let id = res.json()["value_schema_id"].clone();
    assert!(id.as_u64().is_some(), "{}", res.json());
    let versions = gw
        .registry("GET", "/subjects/rp-orders-value/versions", "")
        .await;
    assert_eq!(versions.json(), json!([1]));
    let by_id = json!({"value_schema_id": id, "records": [{"value": {"id": "r-2", "qty": 2}}]});
    let res = gw
        .send("POST", "/topics/rp-orders", &avro, by_id.to_string())
        .await;
    assert_eq!(
        res.json()["offsets"][0]["error_code"],
        Value::Null,
        "{}",
        res.json()
    );
    let wrong = json!({"value_schema_id": id, "records": [{"value": {"id": 3}}]});
    let res = gw
        .send("POST", "/topics/rp-orders", &avro, wrong.to_string())
        .await;
    assert_eq!(
        (res.status, res.json()["error_code"].clone()),
        (422, json!(42203)),
        "{}",
        res.json()
    );

    // v3: a value with no type is schema-based: the subject's latest schema.
    let cluster = gw.send("GET", "/v3/clusters", &[], "").await.json()["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v3/clusters/{cluster}/topics/rp-orders/records");
    let json_type = [("content-type", "application/json")];
    let v3 = json!({"value": {"data": {"id": "r-3", "qty": 3}}}).to_string();
    let report = gw.send("POST", &path, &json_type, v3).await.json();
    assert_eq!(report["error_code"], 200, "{report}");
    assert_eq!(report["value"]["type"], "AVRO");
    let v3_bad = json!({"value": {"schema_id": id, "data": {"qty": "x"}}}).to_string();
    let report = gw.send("POST", &path, &json_type, v3_bad).await.json();
    assert_eq!(report["error_code"], 42203, "{report}");
    assert_eq!(read_all(&gw.bootstrap, "rp-orders").len(), 3);

    // An avro consumer reads them back as JSON; so does Confluent's deserializer.
    let v2 = [("content-type", "application/vnd.kafka.v2+json")];
    let create = json!({"name": "c", "format": "avro", "auto.offset.reset": "earliest"});
    assert_eq!(
        gw.send("POST", "/consumers/g", &v2, create.to_string())
            .await
            .status,
        200
    );
    let topics = json!({"topics": ["rp-orders"]}).to_string();
    let sub = gw
        .send("POST", "/consumers/g/instances/c/subscription", &v2, topics)
        .await;
    assert_eq!(sub.status, 204);
    let accept = [("accept", "application/vnd.kafka.avro.v2+json")];
    let mut values = Vec::new();
    for _ in 0..20 {
        let got = gw
            .send(
                "GET",
                "/consumers/g/instances/c/records?timeout=1000",
                &accept,
                "",
            )
            .await;
        values.extend(
            got.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["value"].clone()),
        );
        if values.len() >= 3 {
            break;
        }
    }
    assert_eq!(
        sorted(json!(values), "id"),
        [
            json!({"id": "r-1", "qty": 1, "note": null}),
            json!({"id": "r-2", "qty": 2, "note": null}),
            json!({"id": "r-3", "qty": 3, "note": null}),
        ]
    );
    let deleted = gw.send("DELETE", "/consumers/g/instances/c", &v2, "").await;
    assert_eq!(deleted.status, 204);
    let decoded = client(&gw, &["consume", &gw.bootstrap, "rp-orders", "AVRO", "3"]).await;
    assert_eq!(sorted(decoded, "id"), sorted(json!(values), "id"));
}
