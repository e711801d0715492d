//! Schema references, as Confluent's registry takes them (`references: [{name, subject,
//! version}]` in a registration): an Avro named type, a JSON Schema `$ref` and a Protobuf
//! `import` of another subject, and imports of Protobuf's well-known types. End to end with
//! Confluent's Python client (tests/python/schema_registry_client.py): registered by it,
//! produced through a route and through REST Proxy v2, read back by the read route and by the
//! client's own deserializer.

use serde_json::{Value, json};
use wafka_tests::kafka::wait_for;
use wafka_tests::{Broker, TestGateway};

use super::on_both_brokers;
use super::schemas::{client, read_route};

on_both_brokers!(protobuf_imports_work_from_the_client_to_the_reader);

const ROUTES: &str = r#"
[rest_proxy]

[[routes]]
name = "orders-pb"
path = "/v1/orders-pb"
topic = "orders-pb"
value_schema = {}

[[routes]]
name = "read-orders-pb"
path = "/v1/orders-pb"
topic = "orders-pb"
read = { default_from = "earliest", max_wait_ms = 5000 }

[[routes]]
name = "people"
path = "/v1/people"
topic = "people"
value_schema = {}
"#;

const ADDRESS_PROTO: &str = r#"syntax = "proto3";
package acme;
message Address { string city = 1; string zip = 2; }"#;

const ORDER_PROTO: &str = r#"syntax = "proto3";
package acme;
import "acme/address.proto";
import "google/protobuf/timestamp.proto";
message Order {
  string id = 1;
  Address to = 2;
  google.protobuf.Timestamp at = 3;
  enum Speed { HIGH = 0; LOW = 1; }
  Speed speed = 4;
  int32 query = 5;
}"#;

async fn gateway(broker: Broker) -> TestGateway {
    TestGateway::builder(broker)
        .routes(ROUTES)
        .topics(&["orders-pb"])
        .schema_registry()
        .start()
        .await
}

fn register_body(kind: &str, schema: &str, references: Value) -> String {
    json!({ "schema": schema, "schemaType": kind, "references": references }).to_string()
}

async fn protobuf_imports_work_from_the_client_to_the_reader(broker: Broker) {
    let gw = gateway(broker).await;
    // Registered by Confluent's client: the imported file under its own subject, then the
    // order naming it.
    let address = client(
        &gw,
        &["register", "acme/address.proto", "PROTOBUF", ADDRESS_PROTO],
    )
    .await;
    assert!(address["id"].is_i64(), "{address}");
    let references =
        json!([{"name": "acme/address.proto", "subject": "acme/address.proto", "version": 1}]);
    let order = client(
        &gw,
        &[
            "register",
            "orders-pb-value",
            "PROTOBUF",
            ORDER_PROTO,
            &references.to_string(),
        ],
    )
    .await;
    let id = order["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("registered: {order}"));
    let by_id = gw
        .registry("GET", &format!("/schemas/ids/{id}"), "")
        .await
        .json();
    assert_eq!(by_id["references"], references, "{by_id}");
    let referenced_by = gw
        .registry(
            "GET",
            "/subjects/acme%2Faddress.proto/versions/1/referencedby",
            "",
        )
        .await
        .json();
    assert_eq!(referenced_by, json!([id]));

    // Produced through a route (the subject's latest) and through REST Proxy v2 (by id).
    let value =
        json!({"id": "o-1", "to": {"city": "Oslo"}, "at": "2024-01-01T00:00:00Z", "query": 5});
    let res = gw.post("/v1/orders-pb", value.to_string()).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let protobuf = [("content-type", "application/vnd.kafka.protobuf.v2+json")];
    let second = json!({"id": "o-2", "to": {"city": "Bergen", "zip": "5003"}, "speed": "LOW"});
    let body = json!({"value_schema_id": id, "records": [{"value": second}]});
    let res = gw
        .send("POST", "/topics/orders-pb", &protobuf, body.to_string())
        .await;
    assert_eq!(
        res.json()["offsets"][0]["error_code"],
        Value::Null,
        "{}",
        res.json()
    );
    wait_for(&gw.bootstrap, "orders-pb", 2);

    // The read route shows every field, defaults included, as Confluent's JSON printing does.
    let records = read_route(&gw, "/v1/orders-pb", 2).await;
    let mut values: Vec<Value> = records.iter().map(|r| r["value"].clone()).collect();
    values.sort_by_key(|v| v["id"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        values[0],
        json!({"id": "o-1", "to": {"city": "Oslo", "zip": ""}, "at": "2024-01-01T00:00:00Z",
            "speed": "HIGH", "query": 5})
    );
    assert_eq!(values[1]["to"], json!({"city": "Bergen", "zip": "5003"}));
    assert_eq!(values[1]["speed"], "LOW");

    // Confluent's deserializer decodes both (its JSON printing leaves defaults out).
    let decoded = client(
        &gw,
        &["consume", &gw.bootstrap, "orders-pb", "PROTOBUF", "2"],
    )
    .await;
    let mut decoded: Vec<Value> = decoded.as_array().cloned().unwrap_or_default();
    decoded.sort_by_key(|v| v["id"].as_str().unwrap_or_default().to_owned());
    assert_eq!(decoded[0], value, "{decoded:?}");
    assert_eq!(decoded[1], second, "{decoded:?}");

    // A referenced version cannot be deleted while the order holds it: 42206.
    let res = gw
        .registry("DELETE", "/subjects/acme%2Faddress.proto/versions/1", "")
        .await;
    assert_eq!(
        (res.status, res.json()["error_code"].clone()),
        (422, json!(42206)),
        "{}",
        res.json()
    );
}

/// Avro named types and JSON Schema `$ref`s from other subjects; a reference to nothing is an
/// invalid schema (42201).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_and_json_schema_references_resolve() {
    let gw = gateway(Broker::Embedded).await;
    let address = r#"{"type":"record","name":"Address","namespace":"acme",
        "fields":[{"name":"city","type":"string"}]}"#;
    let res = gw
        .registry(
            "POST",
            "/subjects/address/versions",
            json!({ "schema": address }).to_string(),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let person = r#"{"type":"record","name":"Person","namespace":"acme",
        "fields":[{"name":"name","type":"string"},{"name":"home","type":"Address"},
        {"name":"work","type":["null","acme.Address"],"default":null}]}"#;
    let references = json!([{"name": "acme.Address", "subject": "address", "version": 1}]);
    let res = gw
        .registry(
            "POST",
            "/subjects/people-value/versions",
            register_body("AVRO", person, references.clone()),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let ok = gw
        .post(
            "/v1/people",
            r#"{"name":"Ada","home":{"city":"London"},"work":null}"#,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.json());
    let bad = gw
        .post("/v1/people", r#"{"name":"Ada","home":{"town":"London"}}"#)
        .await;
    assert_eq!(bad.status, 422, "{}", bad.json());
    // The same text without its references is another schema: it does not parse alone.
    let res = gw
        .registry(
            "POST",
            "/subjects/people-value",
            json!({ "schema": person }).to_string(),
        )
        .await;
    assert_eq!(res.json()["error_code"], 42201, "{}", res.json());
    let res = gw
        .registry(
            "POST",
            "/subjects/people-value",
            register_body("AVRO", person, references),
        )
        .await;
    assert_eq!(res.json()["version"], 1, "{}", res.json());

    // JSON Schema: `$ref` names the reference.
    let city = r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#;
    let res = gw
        .registry(
            "POST",
            "/subjects/city/versions",
            json!({ "schema": city, "schemaType": "JSON" }).to_string(),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let trip = r#"{"type":"object","properties":{"to":{"$ref":"city.json"}}}"#;
    let refs = json!([{"name": "city.json", "subject": "city", "version": 1}]);
    let res = gw
        .registry(
            "POST",
            "/subjects/trips-value/versions",
            register_body("JSON", trip, refs),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());

    // A reference to a version that does not exist: 42201, nothing registered.
    let dangling = json!([{"name": "city.json", "subject": "city", "version": 9}]);
    let res = gw
        .registry(
            "POST",
            "/subjects/trips2-value/versions",
            register_body("JSON", trip, dangling),
        )
        .await;
    assert_eq!(
        (res.status, res.json()["error_code"].clone()),
        (422, json!(42201)),
        "{}",
        res.json()
    );
    assert_eq!(
        gw.registry("GET", "/subjects/trips2-value/versions", "")
            .await
            .status,
        404
    );
}
