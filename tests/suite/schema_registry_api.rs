//! The registry API's calls and error codes as Confluent's Schema Registry API reference
//! documents them (docs.confluent.io/platform/current/schema-registry/develop/api.html, and
//! its schema deletion guidelines): schemas shared by subjects, soft and permanent deletes,
//! modes, lookups, and the error codes 40401–40409 and 42201–42206.

use serde_json::{Value, json};
use wafka_tests::{Broker, TestGateway};

use super::on_both_brokers;

on_both_brokers!(
    one_schema_under_two_subjects_keeps_one_id,
    versions_delete_softly_then_for_good
);

const STRING: &str = r#""string""#;
const ORDER: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;

fn schema(text: &str) -> String {
    json!({ "schema": text }).to_string()
}

async fn gateway(broker: Broker) -> TestGateway {
    TestGateway::builder(broker).schema_registry().start().await
}

/// `(status, error_code)` of an answer.
fn codes(res: &wafka_tests::http::Response) -> (u16, Value) {
    (res.status, res.json()["error_code"].clone())
}

/// "If the same schema is registered under a different subject, the same identifier will be
/// returned": ids are global, subjects point at them.
async fn one_schema_under_two_subjects_keeps_one_id(broker: Broker) {
    let gw = gateway(broker).await;
    let a = gw
        .registry("POST", "/subjects/a-value/versions", schema(STRING))
        .await;
    assert_eq!(a.status, 200, "{}", a.json());
    // The same schema, written differently (`{"type": "string"}` is `"string"`).
    let b = gw
        .registry(
            "POST",
            "/subjects/b-value/versions",
            schema(r#"{"type": "string"}"#),
        )
        .await;
    assert_eq!(b.status, 200, "{}", b.json());
    assert_eq!(a.json()["id"], b.json()["id"]);
    let id = a.json()["id"].clone();
    let subjects = gw
        .registry("GET", &format!("/schemas/ids/{id}/subjects"), "")
        .await
        .json();
    assert_eq!(subjects, json!(["a-value", "b-value"]));
    let versions = gw
        .registry("GET", &format!("/schemas/ids/{id}/versions"), "")
        .await
        .json();
    assert_eq!(
        versions,
        json!([{"subject": "a-value", "version": 1}, {"subject": "b-value", "version": 1}])
    );
    // Registering it again under either subject is no new version.
    let again = gw
        .registry("POST", "/subjects/b-value/versions", schema(STRING))
        .await;
    assert_eq!(again.json()["id"], id);
    let listed = gw
        .registry("GET", "/subjects/b-value/versions", "")
        .await
        .json();
    assert_eq!(listed, json!([1]));
}

/// `DELETE /subjects/{s}/versions/{v}`: "You must first soft delete the schema, then
/// hard-delete it"; a soft-deleted version is hidden but its id still decodes; the answer is
/// the version number.
async fn versions_delete_softly_then_for_good(broker: Broker) {
    let gw = gateway(broker).await;
    let id = gw
        .registry("POST", "/subjects/d-value/versions", schema(ORDER))
        .await
        .json()["id"]
        .clone();
    let v2 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},
        {"name":"n","type":"int","default":0}]}"#;
    assert_eq!(
        gw.registry("POST", "/subjects/d-value/versions", schema(v2))
            .await
            .status,
        200
    );

    // Permanent before soft: 40407.
    let res = gw
        .registry("DELETE", "/subjects/d-value/versions/1?permanent=true", "")
        .await;
    assert_eq!(codes(&res), (404, json!(40407)), "{}", res.json());
    assert!(
        res.json()["message"]
            .as_str()
            .unwrap()
            .contains("was not deleted first before being permanently deleted")
    );
    // Soft: the version number; then hidden, 40402, but its id still answers.
    let res = gw
        .registry("DELETE", "/subjects/d-value/versions/1", "")
        .await;
    assert_eq!((res.status, res.json()), (200, json!(1)));
    let res = gw.registry("GET", "/subjects/d-value/versions", "").await;
    assert_eq!(res.json(), json!([2]));
    let res = gw
        .registry("GET", "/subjects/d-value/versions?deleted=true", "")
        .await;
    assert_eq!(res.json(), json!([1, 2]));
    let res = gw.registry("GET", "/subjects/d-value/versions/1", "").await;
    assert_eq!(codes(&res), (404, json!(40402)));
    let res = gw
        .registry("GET", "/subjects/d-value/versions/1?deleted=true", "")
        .await;
    assert_eq!(res.json()["id"], id);
    let res = gw.registry("GET", &format!("/schemas/ids/{id}"), "").await;
    assert_eq!(res.status, 200, "soft-deleted ids still decode");
    // Soft again: 40406. Then permanently: the version number, and it is gone for good.
    let res = gw
        .registry("DELETE", "/subjects/d-value/versions/1", "")
        .await;
    assert_eq!(codes(&res), (404, json!(40406)), "{}", res.json());
    let res = gw
        .registry("DELETE", "/subjects/d-value/versions/1?permanent=true", "")
        .await;
    assert_eq!((res.status, res.json()), (200, json!(1)));
    let res = gw
        .registry("GET", "/subjects/d-value/versions?deleted=true", "")
        .await;
    assert_eq!(res.json(), json!([2]));
    let res = gw
        .registry("DELETE", "/subjects/d-value/versions/1", "")
        .await;
    assert_eq!(codes(&res), (404, json!(40402)));
    // `latest` is the newest live version.
    let res = gw
        .registry("DELETE", "/subjects/d-value/versions/latest", "")
        .await;
    assert_eq!((res.status, res.json()), (200, json!(2)));

    // A whole subject: soft (the versions), soft again 40404, permanent, then 40401.
    gw.registry("POST", "/subjects/e-value/versions", schema(ORDER))
        .await;
    let res = gw
        .registry("DELETE", "/subjects/e-value?permanent=true", "")
        .await;
    assert_eq!(codes(&res), (404, json!(40405)), "{}", res.json());
    let res = gw.registry("DELETE", "/subjects/e-value", "").await;
    assert_eq!(res.json(), json!([1]));
    let res = gw.registry("DELETE", "/subjects/e-value", "").await;
    assert_eq!(codes(&res), (404, json!(40404)), "{}", res.json());
    let subjects = gw
        .registry("GET", "/subjects?deleted=true", "")
        .await
        .json();
    assert!(subjects.as_array().unwrap().contains(&json!("e-value")));
    let res = gw
        .registry("DELETE", "/subjects/e-value?permanent=true", "")
        .await;
    assert_eq!(res.json(), json!([1]));
    let res = gw.registry("DELETE", "/subjects/e-value", "").await;
    assert_eq!(codes(&res), (404, json!(40401)));
}

/// `/mode`: READONLY refuses writes to its subject with 42205; no subject mode is 40409
/// unless `defaultToGlobal`; an unknown mode is 42204; DELETE gives the mode back; IMPORT
/// takes schemas with the ids and versions they had elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_guard_subjects_and_import_keeps_ids() {
    let gw = gateway(Broker::Embedded).await;
    let res = gw.registry("GET", "/mode/m-value", "").await;
    assert_eq!(codes(&res), (404, json!(40409)), "{}", res.json());
    let res = gw
        .registry("GET", "/mode/m-value?defaultToGlobal=true", "")
        .await;
    assert_eq!(res.json(), json!({"mode": "READWRITE"}));
    let res = gw
        .registry("PUT", "/mode/m-value", r#"{"mode":"SOMETIMES"}"#)
        .await;
    assert_eq!(codes(&res), (422, json!(42204)), "{}", res.json());
    let res = gw
        .registry("PUT", "/mode/m-value", r#"{"mode":"READONLY"}"#)
        .await;
    assert_eq!((res.status, res.json()), (200, json!({"mode": "READONLY"})));
    let res = gw
        .registry("POST", "/subjects/m-value/versions", schema(ORDER))
        .await;
    assert_eq!(codes(&res), (422, json!(42205)), "{}", res.json());
    assert_eq!(
        res.json()["message"],
        "Subject m-value is in read-only mode"
    );
    // Other subjects still take writes.
    let res = gw
        .registry("POST", "/subjects/n-value/versions", schema(ORDER))
        .await;
    assert_eq!(res.status, 200);
    let res = gw.registry("DELETE", "/mode/m-value", "").await;
    assert_eq!(res.json(), json!({"mode": "READONLY"}));
    let res = gw.registry("DELETE", "/mode/m-value", "").await;
    assert_eq!(codes(&res), (404, json!(40401)));
    let res = gw
        .registry("POST", "/subjects/m-value/versions", schema(ORDER))
        .await;
    assert_eq!(res.status, 200, "{}", res.json());

    // IMPORT: an empty subject takes a schema with its id and version; outside IMPORT an id
    // is refused.
    let with_id = json!({"schema": STRING, "id": 500, "version": 3}).to_string();
    let res = gw
        .registry("POST", "/subjects/i-value/versions", with_id.clone())
        .await;
    assert_eq!(codes(&res), (422, json!(42205)), "{}", res.json());
    let res = gw
        .registry("PUT", "/mode/i-value", r#"{"mode":"IMPORT"}"#)
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = gw
        .registry("POST", "/subjects/i-value/versions", with_id)
        .await;
    assert_eq!(res.json(), json!({"id": 500}));
    let res = gw
        .registry("GET", "/subjects/i-value/versions/3", "")
        .await
        .json();
    assert_eq!(
        (res["id"].clone(), res["version"].clone()),
        (json!(500), json!(3))
    );
    // A taken id cannot be rebound to another schema.
    let other = json!({"schema": ORDER, "id": 500, "version": 4}).to_string();
    let res = gw
        .registry("POST", "/subjects/i-value/versions", other)
        .await;
    assert_eq!(codes(&res), (422, json!(42205)), "{}", res.json());
}

/// Lookups and errors by their documented codes and messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_and_errors_say_what_confluents_do() {
    let gw = gateway(Broker::Embedded).await;
    gw.registry("POST", "/subjects/l-value/versions", schema(ORDER))
        .await;
    let res = gw
        .registry("POST", "/subjects/l-value", schema(STRING))
        .await;
    assert_eq!(codes(&res), (404, json!(40403)), "{}", res.json());
    assert_eq!(res.json()["message"], "Schema not found");
    let res = gw
        .registry("POST", "/subjects/nobody", schema(STRING))
        .await;
    assert_eq!(codes(&res), (404, json!(40401)));
    assert_eq!(res.json()["message"], "Subject 'nobody' not found.");
    let res = gw.registry("GET", "/schemas/ids/666", "").await;
    assert_eq!(codes(&res), (404, json!(40403)));
    assert_eq!(res.json()["message"], "Schema 666 not found");
    let res = gw.registry("GET", "/subjects/l-value/versions/7", "").await;
    assert_eq!(res.json()["message"], "Version 7 not found.");
    // Verbose: an invalid schema is a reason, not an error.
    let res = gw
        .registry(
            "POST",
            "/compatibility/subjects/l-value/versions/latest?verbose=true",
            schema(r#"{"type":"nope"}"#),
        )
        .await;
    assert_eq!(res.json()["is_compatible"], false, "{}", res.json());
    assert!(res.json()["messages"][0].is_string());
    let res = gw
        .registry(
            "POST",
            "/compatibility/subjects/l-value/versions/latest",
            schema(r#"{"type":"nope"}"#),
        )
        .await;
    assert_eq!(codes(&res), (422, json!(42201)));
    // Trailing slashes are the same path.
    let res = gw.registry("GET", "/subjects/", "").await;
    assert_eq!(res.status, 200);
}
