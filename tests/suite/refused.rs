//! Filters decide before anything happens, on every API: a caller `jwt-auth` refuses gets its
//! 401 or 403 in the API's own shape, and nothing happened — no subject registered, no topic
//! created or looked up in Kafka, no consumer created or subscribed, no topic followed, no record
//! encoded or written. The same calls with a token that grants them do happen, so each
//! assertion could fail. Then the schema registry's own listener behind `jwt-auth`: read and
//! write grants per subject, and Confluent's Python registry client with a token over TLS.

use serde_json::{Value, json};
use wafka_tests::kafka::read_all;
use wafka_tests::{Broker, Response, TestGateway};

use crate::auth::{SECRET, hs256, now};
use crate::on_both_brokers;

on_both_brokers!(a_caller_the_filters_refuse_changes_nothing);

const V2: &str = "application/vnd.kafka.v2+json";
const V2_AVRO: &str = "application/vnd.kafka.avro.v2+json";

const ORDER: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
const PAYMENT: &str =
    r#"{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"}]}"#;

/// One `jwt-auth` for every door: topics from the `topics` claim; the registry's subjects by
/// scope, `registry:read` reading only.
fn config() -> String {
    let keys = format!(r#"keys = [{{ alg = "HS256", secret = "{SECRET}" }}]"#);
    let topics =
        format!(r#"{{ name = "jwt-auth", config = {{ {keys}, topics_claim = "topics" }} }}"#);
    format!(
        r#"
[rest_proxy]
topic_admin = true
filters = [{topics}]

[schema_registry]
listen = "127.0.0.1:0"
filters = [{{ name = "jwt-auth", config = {{ {keys}, grants = {{ claim = "scope", topics = {{ "registry:write" = ["*"] }}, read_topics = {{ "registry:read" = ["*"], "orders:read" = ["orders-*"] }} }} }} }}]

[[routes]]
name = "orders"
path = "/v1/orders"
topic = "orders"
value_schema = {{}}
filters = [{topics}]

[[routes]]
name = "orders-read"
path = "/v1/read/orders"
topic = "orders"
read = {{ max_wait_ms = 1000 }}
filters = [{topics}]
"#
    )
}

async fn gateway(broker: Broker) -> TestGateway {
    TestGateway::builder(broker)
        .routes(&config())
        .topics(&["orders", "payments"])
        .filter("jwt-auth")
        .start()
        .await
}

/// A token for `topics` (gateway) and `scope` (registry).
fn token(topics: &[&str], scope: &str) -> String {
    hs256(json!({"sub": "test", "topics": topics, "scope": scope, "exp": now() + 600}))
}

/// A call on the public listener, with `token` when given.
async fn call(
    gw: &TestGateway,
    token: Option<&str>,
    method: &str,
    path: &str,
    content_type: &str,
    body: Value,
) -> Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", content_type)];
    headers.extend(bearer.as_deref().map(|b| ("authorization", b)));
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    gw.send(method, path, &headers, body).await
}

/// REST Proxy's and the registry's error shape: `error_code` is the status × 100 + 1.
fn refused_confluent(res: &Response, status: u16) {
    let body = String::from_utf8_lossy(&res.body);
    assert_eq!(res.status, status, "{body}");
    let code = u64::from(status) * 100 + 1;
    assert_eq!(res.json()["error_code"], json!(code), "{body}");
    assert!(
        res.json().get("error").is_none(),
        "not Wafka's shape: {body}"
    );
}

/// Wafka's own shape, with the filter's code.
fn refused_wafka(res: &Response, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.error_code(), code);
}

/// What would change if a refused call got through.
#[derive(Debug, PartialEq)]
struct World {
    kafka_requests: Value,
    subjects: Value,
    consumers: Value,
    subscription: Value,
    followed: Value,
    records: (usize, usize),
}

/// The consumer instances, without how long each has been idle (time moves on).
fn without_idle(mut consumers: Value) -> Value {
    for instance in consumers["consumers"].as_array_mut().into_iter().flatten() {
        instance.as_object_mut().map(|i| i.remove("idle_ms"));
    }
    consumers
}

async fn world(gw: &TestGateway, admin: &str) -> World {
    let kafka = gw.admin("/admin/kafka").await.json();
    let subjects = gw.registry_as(Some(admin), "GET", "/subjects", "").await;
    assert_eq!(
        subjects.status,
        200,
        "{}",
        String::from_utf8_lossy(&subjects.body)
    );
    let subscription = call(
        gw,
        Some(admin),
        "GET",
        "/consumers/g/instances/c/subscription",
        V2,
        Value::Null,
    )
    .await;
    World {
        kafka_requests: kafka["admin_requests"].clone(),
        subjects: subjects.json(),
        consumers: without_idle(gw.admin("/admin/consumers").await.json()),
        subscription: subscription.json(),
        followed: gw.admin("/admin/streams").await.json()["followed"].clone(),
        records: (
            read_all(&gw.bootstrap, "orders").len(),
            read_all(&gw.bootstrap, "payments").len(),
        ),
    }
}

async fn a_caller_the_filters_refuse_changes_nothing(broker: Broker) {
    let gw = gateway(broker).await;
    let admin = token(&["*"], "registry:write");
    let elsewhere = token(&["other"], "registry:read");
    // What the refused calls below would use: a subject with a schema, the cluster id, a
    // consumer instance.
    let order = json!({"schema": ORDER}).to_string();
    let registered = gw
        .registry_as(
            Some(&admin),
            "POST",
            "/subjects/orders-value/versions",
            order,
        )
        .await;
    assert_eq!(registered.json(), json!({"id": 1}));
    let clusters = call(
        &gw,
        Some(&admin),
        "GET",
        "/v3/clusters",
        "application/json",
        Value::Null,
    )
    .await
    .json();
    let cluster = clusters["data"][0]["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = call(
        &gw,
        Some(&admin),
        "POST",
        "/consumers/g",
        V2,
        json!({"name": "c"}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.json());
    let before = world(&gw, &admin).await;
    assert_eq!(before.subjects, json!(["orders-value"]));
    assert_eq!(before.subscription, json!({"topics": []}));

    let inline = json!({"value_schema": PAYMENT, "records": [{"value": {"id": "p-1"}}]});
    let v3_record = json!({"value": {"subject": "orders-value", "data": {"id": "o-1"}}});
    let v3_records = format!("/v3/clusters/{cluster}/topics/orders/records");
    let v3_batch = format!("/v3/clusters/{cluster}/topics/orders/records:batch");
    let v3_topics = format!("/v3/clusters/{cluster}/topics");
    let batch = json!({"entries": [{"id": "e1", "value": {"type": "JSON", "data": 1}}]});
    let new_topic = json!({"topic_name": "q1", "partitions_count": 1});
    let subscribe = json!({"topics": ["orders"]});
    for (who, status) in [(None, 401), (Some(elsewhere.as_str()), 403)] {
        let rest = [
            ("POST", "/topics/payments", V2_AVRO, inline.clone()),
            (
                "POST",
                v3_records.as_str(),
                "application/json",
                v3_record.clone(),
            ),
            ("POST", v3_batch.as_str(), "application/json", batch.clone()),
            (
                "POST",
                v3_topics.as_str(),
                "application/json",
                new_topic.clone(),
            ),
            ("GET", "/topics/orders", V2, Value::Null),
            ("GET", "/topics/orders/partitions", V2, Value::Null),
            (
                "POST",
                "/consumers/g/instances/c/subscription",
                V2,
                subscribe.clone(),
            ),
            (
                "POST",
                "/consumers/g/instances/c/assignments",
                V2,
                json!({"partitions": [{"topic": "orders", "partition": 0}]}),
            ),
        ];
        for (method, path, content_type, body) in rest {
            let res = call(&gw, who, method, path, content_type, body).await;
            refused_confluent(&res, status);
        }
        if who.is_none() {
            // Calls that name no topic: only a token is asked for, and none is here. An unknown
            // instance is not told apart from a known one.
            refused_confluent(
                &call(&gw, who, "POST", "/consumers/g2", V2, json!({"name": "c2"})).await,
                401,
            );
            refused_confluent(
                &call(&gw, who, "GET", "/topics", V2, Value::Null).await,
                401,
            );
            let unknown = "/consumers/g/instances/nobody/records";
            refused_confluent(&call(&gw, who, "GET", unknown, V2, Value::Null).await, 401);
            let res = gw.registry_as(None, "GET", "/subjects", "").await;
            refused_confluent(&res, 401);
        }
        let wafka_code = if who.is_none() {
            "missing_token"
        } else {
            "topic_forbidden"
        };
        let res = call(
            &gw,
            who,
            "POST",
            "/v1/orders",
            "application/json",
            json!({"id": "o-2"}),
        )
        .await;
        refused_wafka(&res, status, wafka_code);
        let res = call(
            &gw,
            who,
            "GET",
            "/v1/read/orders?from=earliest",
            "",
            Value::Null,
        )
        .await;
        refused_wafka(&res, status, wafka_code);
        let bearer = who.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("authorization", b.as_str()))
            .collect();
        let sse = wafka_tests::sse::open(gw.gateway().addr(), "/v1/read/orders", &headers).await;
        assert_eq!(
            sse.status, status,
            "an event stream is refused before it opens"
        );
        let registration = json!({"schema": PAYMENT}).to_string();
        let res = gw
            .registry_as(
                who,
                "POST",
                "/subjects/payments-value/versions",
                registration,
            )
            .await;
        refused_confluent(&res, status);
    }
    assert_eq!(
        world(&gw, &admin).await,
        before,
        "a refused call changed something"
    );

    // The same calls with a token that grants them happen: registered, created, subscribed,
    // followed, encoded, written.
    let res = call(
        &gw,
        Some(&admin),
        "POST",
        "/topics/payments",
        V2_AVRO,
        inline,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = call(
        &gw,
        Some(&admin),
        "POST",
        &v3_records,
        "application/json",
        v3_record,
    )
    .await;
    assert_eq!(res.json()["error_code"], 200, "{}", res.json());
    let res = call(
        &gw,
        Some(&admin),
        "POST",
        &v3_topics,
        "application/json",
        new_topic,
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.json());
    let res = call(
        &gw,
        Some(&admin),
        "POST",
        "/consumers/g/instances/c/subscription",
        V2,
        subscribe,
    )
    .await;
    assert_eq!(res.status, 204);
    let res = call(
        &gw,
        Some(&admin),
        "POST",
        "/v1/orders",
        "application/json",
        json!({"id": "o-3"}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = call(
        &gw,
        Some(&admin),
        "GET",
        "/v1/read/orders?from=earliest&timeout_ms=1",
        "",
        Value::Null,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let after = world(&gw, &admin).await;
    assert_eq!(after.subjects, json!(["orders-value", "payments-value"]));
    assert_eq!(after.subscription, json!({"topics": ["orders"]}));
    assert_eq!(after.followed, json!(["orders"]));
    assert_eq!(after.records, (2, 1));
    let asked = |w: &World, kind: &str| w.kafka_requests[kind].as_u64().unwrap_or(0);
    assert!(asked(&after, "create_topic") > asked(&before, "create_topic"));
    assert!(asked(&after, "metadata") > asked(&before, "metadata"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_clients_use_tokens_over_tls_and_grants_hold_per_subject() {
    let pki = crate::tls::pki();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let tls = wafka::config::TlsConfig {
        cert: write("server.pem", &pki.server.0),
        key: write("server.key", &pki.server.1),
        client_ca: None,
    };
    let ca = write("ca.pem", &pki.ca.pem());
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(&config())
        .topics(&["orders", "payments"])
        .filter("jwt-auth")
        .configure(move |c| c.server.tls = Some(tls))
        .start()
        .await;
    let url = format!("https://localhost:{}", gw.registry_addr().port());
    let ca = ca.to_str().unwrap().to_owned();
    // Confluent's Python registry client, unchanged: a static bearer token, the test CA.
    let client = |token: Option<String>, args: Vec<String>| {
        let (url, ca) = (url.clone(), ca.clone());
        async move {
            let mut all = vec![url];
            all.extend(args);
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            let mut env = vec![("WAFKA_REGISTRY_CA", ca.as_str())];
            env.extend(token.as_deref().map(|t| ("WAFKA_REGISTRY_TOKEN", t)));
            let out = wafka_tests::python::run_with("schema_registry_client.py", &all, &env).await;
            serde_json::from_str::<Value>(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
        }
    };
    let args = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let writer = Some(token(&[], "registry:write"));
    let reader = Some(token(&[], "registry:read"));
    let orders_reader = Some(token(&[], "orders:read"));
    let register = |subject: &str, schema: &str| args(&["register", subject, "AVRO", schema]);

    assert_eq!(
        client(writer.clone(), register("orders-value", ORDER)).await,
        json!({"id": 1})
    );
    assert_eq!(
        client(writer.clone(), register("payments-value", PAYMENT)).await,
        json!({"id": 2})
    );
    let refusal = |status: u64| json!({"status": status, "error_code": status * 100 + 1});
    let code = |v: Value| json!({"status": v["status"], "error_code": v["error_code"]});
    assert_eq!(code(client(None, args(&["subjects"])).await), refusal(401));
    assert_eq!(
        code(client(None, register("orders-value", ORDER)).await),
        refusal(401)
    );

    // A read grant reads every subject and changes none.
    assert_eq!(
        client(reader.clone(), args(&["subjects"])).await,
        json!({"subjects": ["orders-value", "payments-value"]})
    );
    assert_eq!(
        client(reader.clone(), args(&["latest", "payments-value"])).await,
        json!({"id": 2, "version": 1})
    );
    assert_eq!(
        code(client(reader.clone(), register("orders-value", ORDER)).await),
        refusal(403)
    );
    assert_eq!(
        code(client(reader.clone(), args(&["level", "orders-value", "NONE"])).await),
        refusal(403)
    );
    // A subject grant sees its subjects only, in lists too.
    assert_eq!(
        client(orders_reader.clone(), args(&["subjects"])).await,
        json!({"subjects": ["orders-value"]})
    );
    assert_eq!(
        code(client(orders_reader.clone(), args(&["latest", "payments-value"])).await),
        refusal(403)
    );
    let by_id = gw.registry_addr();
    assert!(
        wafka_tests::http::try_request(by_id, "GET", "/subjects", &[], "")
            .await
            .is_err(),
        "the registry's listener speaks TLS only"
    );
    // What the writer may do, it did; nothing the others tried.
    assert_eq!(
        client(writer, args(&["latest", "orders-value"])).await,
        json!({"id": 1, "version": 1})
    );
}
