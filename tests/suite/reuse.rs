//! Reused filter instances (`reuse = { … }` in a route's filter entry). The hostile fixture
//! reports what earlier requests left in its memory: on a reused instance it finds the body of
//! the request before (what reuse gives up, docs/security.md), and after any failure, a kept
//! handle, a line on stderr or memory grown past the policy's bound it finds nothing, because
//! the instance was retired and a new one serves. Requests go one at a time, so a route's pool
//! holds at most one idle instance and "the next request" is always served by it.

use std::collections::BTreeMap;

use wafka_tests::prometheus::value;
use wafka_tests::{Broker, TestGateway};

/// The hostile fixture as `FILE` on routes `a` and `a-same` (the same config, reused), `b` (a
/// different config, reused) and `fresh` (the same config as `a`, a fresh instance each time).
const ROUTES: &str = r#"
[[routes]]
name = "FILE-a"
path = "/v1/FILE/a"
topic = "reuse"
filter_timeout_ms = 300
filters = [{ name = "FILE", config = { act = "residue", tag = "a" }, reuse = { max_memory_mib = 4 } }]

[[routes]]
name = "FILE-a-same"
path = "/v1/FILE/a-same"
topic = "reuse"
filter_timeout_ms = 300
filters = [{ name = "FILE", config = { act = "residue", tag = "a" }, reuse = { max_memory_mib = 4 } }]

[[routes]]
name = "FILE-b"
path = "/v1/FILE/b"
topic = "reuse"
filter_timeout_ms = 300
filters = [{ name = "FILE", config = { act = "residue", tag = "b" }, reuse = {} }]

[[routes]]
name = "FILE-fresh"
path = "/v1/FILE/fresh"
topic = "reuse"
filter_timeout_ms = 300
filters = [{ name = "FILE", config = { act = "residue", tag = "a" } }]
"#;

/// A gateway with the hostile fixture installed as `file` (metrics are per process: each test
/// counts its own filter's).
async fn gateway(file: &'static str, watched: bool) -> TestGateway {
    let mut builder = TestGateway::builder(Broker::Embedded)
        .routes(&ROUTES.replace("FILE", file))
        .topics(&["reuse"]);
    if watched {
        builder = builder.watched();
    }
    builder
        .start_with(move |dir| {
            std::fs::copy(
                wafka_tests::wasm("hostile"),
                dir.join(format!("{file}.wasm")),
            )
            .unwrap();
        })
        .await
}

/// Posts `body` to `file`'s `route`, ending as `then`; the bodies of earlier requests the
/// instance found in its memory.
async fn found(gw: &TestGateway, file: &str, route: &str, body: &str) -> Vec<String> {
    let res = post(gw, file, route, body, "answer").await;
    assert_eq!(res.status, 200, "{}", res.json());
    let json = res.json();
    let own: usize = json["own"][0].as_str().unwrap().parse().unwrap();
    assert!(
        own >= 3,
        "the scan did not see this request's own copies: {json}"
    );
    json["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

async fn post(
    gw: &TestGateway,
    file: &str,
    route: &str,
    body: &str,
    then: &str,
) -> wafka_tests::Response {
    let path = format!("/v1/{file}/{route}");
    gw.send("POST", &path, &[("x-then", then)], body.to_owned())
        .await
}

async fn retired(gw: &TestGateway, file: &str, reason: &str) -> f64 {
    let labels = [("filter", file), ("reason", reason)];
    value(
        &gw.metrics().await,
        "wafka_filter_instances_retired_total",
        &labels,
    )
}

async fn created(gw: &TestGateway, file: &str, policy: &str) -> f64 {
    let labels = [("filter", file), ("policy", policy)];
    value(
        &gw.metrics().await,
        "wafka_filter_instances_created_total",
        &labels,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_instance_is_retired_after_each_failure_and_each_bound() {
    let file = "reused";
    let gw = gateway(file, false).await;
    assert_eq!(found(&gw, file, "a", "first").await, Vec::<String>::new());
    // Reused: the request before left its body in the instance's memory.
    assert!(
        found(&gw, file, "a", "second")
            .await
            .contains(&"first".to_owned())
    );

    // (ending, error code or none for an answer, retirement reason)
    let endings = [
        ("trap", Some("filter_failed"), "failed"),
        ("loop", Some("filter_timeout"), "failed"),
        ("bomb", Some("filter_failed"), "failed"),
        ("many", Some("filter_output_too_large"), "failed"),
        ("bad-topic", Some("filter_invalid_output"), "failed"),
        ("keep", None, "kept_handle"),
        ("stderr", None, "stderr"),
        ("grow", None, "memory"),
    ];
    for (k, (then, code, reason)) in endings.into_iter().enumerate() {
        let before = retired(&gw, file, reason).await;
        let created_before = created(&gw, file, "reuse").await;
        // The pooled instance has served this route: it holds `warm{k}`.
        let warm = format!("warm{k}");
        assert!(
            !found(&gw, file, "a", &warm).await.is_empty(),
            "{then}: not reused"
        );
        let res = post(&gw, file, "a", &format!("ended{k}"), then).await;
        match code {
            Some(code) => assert_eq!(res.error_code(), code, "{then}: {}", res.json()),
            None => assert_eq!(res.status, 200, "{then}: {}", res.json()),
        }
        assert_eq!(retired(&gw, file, reason).await, before + 1.0, "{then}");
        // A new instance serves the next request: nothing of `warm` or `ended` in it.
        let probe = format!("probe{k}");
        assert_eq!(
            found(&gw, file, "a", &probe).await,
            Vec::<String>::new(),
            "{then}"
        );
        assert_eq!(
            created(&gw, file, "reuse").await,
            created_before + 1.0,
            "{then}"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_never_share_an_instance_and_fresh_keeps_nothing() {
    let file = "reused-routes";
    let gw = gateway(file, false).await;
    // Each route's bodies start with a letter of its own.
    let routes = [("a", 'x'), ("a-same", 'y'), ("b", 'z'), ("fresh", 'f')];
    for round in 0..3 {
        for (route, letter) in routes {
            let seen = found(&gw, file, route, &format!("{letter}{round}")).await;
            if route == "fresh" || round == 0 {
                assert_eq!(seen, Vec::<String>::new(), "{route}, round {round}");
                continue;
            }
            // This route's last request, and never another route's, not even one with the
            // same config.
            let last = format!("{letter}{}", round - 1);
            assert!(seen.contains(&last), "{route}, round {round}: {seen:?}");
            assert!(
                seen.iter().all(|s| s.starts_with(letter)),
                "{route}, round {round}: {seen:?}"
            );
        }
    }
    assert_eq!(created(&gw, file, "reuse").await, 3.0);
    assert_eq!(created(&gw, file, "fresh").await, 3.0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_retires_the_instances_of_the_old_config() {
    let file = "reused-reload";
    let gw = gateway(file, true).await;
    assert_eq!(found(&gw, file, "a", "before1").await, Vec::<String>::new());
    assert!(
        found(&gw, file, "a", "before2")
            .await
            .contains(&"before1".to_owned())
    );
    let retired_before = retired(&gw, file, "reload").await;

    // Only route `b`'s config changes; every route's instances belong to the old snapshot.
    let reloads = gw.reloads().await;
    let routes = ROUTES.replace("FILE", file);
    gw.write_routes(&routes.replace(r#"tag = "b""#, r#"tag = "b2""#));
    gw.reloaded(&reloads, true).await;

    assert_eq!(found(&gw, file, "a", "after1").await, Vec::<String>::new());
    assert!(
        found(&gw, file, "a", "after2")
            .await
            .contains(&"after1".to_owned())
    );
    assert!(retired(&gw, file, "reload").await >= retired_before + 1.0);
    gw.shutdown().await;
}

/// The shipped filters on two routes that differ only in `reuse` and in the topics they write
/// (`fresh.*` or `reused.*`): topic-router, api-key-auth, schema-validate, json-mask,
/// json-transform, json-enrich.
fn shipped_routes(key_sha256: &str) -> String {
    let route = |kind: &str, reuse: &str| {
        format!(
            r#"
[[routes]]
name = "shipped-{kind}"
path = "/v1/shipped-{kind}/{{source}}"
topic = "unused"
filters = [
  {{ name = "topic-router", {reuse} config = {{ param = "source", template = "{kind}.{{}}", allow = ["{kind}.a", "{kind}.b"] }} }},
  {{ name = "api-key-auth", {reuse} config = {{ keys = [{{ id = "acme", sha256 = "sha256:{key_sha256}", topics = ["{kind}.*"] }}] }} }},
  {{ name = "schema-validate", {reuse} config = {{ schema = {{ type = "object", required = ["order", "lines"], properties = {{ order = {{ type = "integer" }}, lines = {{ type = "array", minItems = 1, items = {{ type = "object", required = ["sku"] }} }} }} }} }} }},
  {{ name = "json-mask", {reuse} config = {{ mask = ["/card"] }} }},
  {{ name = "json-transform", {reuse} config = {{ split = "/lines", key = "/sku" }} }},
  {{ name = "json-enrich", {reuse} }},
]
"#
        )
    };
    route("fresh", "") + &route("reused", "reuse = {},")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_filters_answer_the_same_reused() {
    use sha2::Digest;
    const KEY: &str = "key-of-acme";
    let sha = sha2::Sha256::digest(KEY.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(&shipped_routes(&sha))
        .filter("api-key-auth")
        .filter("schema-validate")
        .filter("json-mask")
        .filter("json-transform")
        .filter("json-enrich")
        .filter("topic-router")
        .topics(&["fresh.a", "fresh.b", "reused.a", "reused.b"])
        .start()
        .await;

    // Requests whose answers and records depend on what they carry: accepted, refused by
    // each filter that refuses, split into one to three records, masked or not.
    let requests: Vec<(&str, &str, String)> = (0..40)
        .map(|n| {
            let source = if n % 3 == 0 { "b" } else { "a" };
            let key = match n % 7 {
                5 => "wrong-key",
                _ => KEY,
            };
            let lines: Vec<String> = (0..1 + n % 3)
                .map(|l| format!(r#"{{"sku":"s{n}-{l}"}}"#))
                .collect();
            let body = match n % 5 {
                4 => format!(
                    r#"{{"order":"not a number {n}","lines":[{}]}}"#,
                    lines.join(",")
                ),
                3 => format!(
                    r#"{{"order":{n},"card":"4111-{n}","lines":[{}]}}"#,
                    lines.join(",")
                ),
                _ => format!(r#"{{"order":{n},"lines":[{}]}}"#, lines.join(",")),
            };
            (source, key, body)
        })
        .collect();

    // Each accepted request: its source and the request ids of its fresh and reused answers.
    let mut accepted = Vec::new();
    for (n, (source, key, body)) in requests.iter().enumerate() {
        let mut answers = Vec::new();
        for kind in ["fresh", "reused"] {
            let path = format!("/v1/shipped-{kind}/{source}");
            let headers = [("content-type", "application/json"), ("x-api-key", *key)];
            let res = gw.send("POST", &path, &headers, body.clone()).await;
            let id = res.header("x-request-id").expect("x-request-id").to_owned();
            answers.push((res.status, res.json(), id));
        }
        let (fresh, reused) = (&answers[0], &answers[1]);
        assert_eq!(
            fresh.0, reused.0,
            "request {n}: {} vs {}",
            fresh.1, reused.1
        );
        if fresh.0 == 200 {
            accepted.push((n, *source, fresh.2.clone(), reused.2.clone()));
        } else {
            assert_eq!(fresh.1, reused.1, "request {n}");
        }
    }
    assert!(
        accepted.len() >= 20,
        "only {} requests accepted",
        accepted.len()
    );

    // Records by topic and request id, without the fields json-enrich stamps per request
    // (checked to be each request's own: never another's).
    let mut records: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
    for topic in ["fresh.a", "fresh.b", "reused.a", "reused.b"] {
        for r in wafka_tests::kafka::read_all(&gw.bootstrap, topic) {
            let id = r.headers.iter().find(|(k, _)| k == "x-request-id").unwrap();
            let id = String::from_utf8(id.1.clone()).unwrap();
            let mut value = r.json();
            assert_eq!(value["request_id"], id.as_str(), "{topic}");
            let fields = value.as_object_mut().unwrap();
            fields.remove("request_id");
            assert!(fields.remove("received_at").is_some(), "{topic}");
            let key = r.key.as_deref().map(String::from_utf8_lossy);
            let record = serde_json::json!({ "key": key, "value": value });
            records
                .entry((topic.to_owned(), id))
                .or_default()
                .push(record);
        }
    }
    for (n, source, fresh, reused) in accepted {
        let fresh = &records[&(format!("fresh.{source}"), fresh)];
        let reused = &records[&(format!("reused.{source}"), reused)];
        assert_eq!(fresh, reused, "request {n}");
    }
    gw.shutdown().await;
}
