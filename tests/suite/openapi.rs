//! The OpenAPI document: the gateway serves one for its live config at the admin listener's
//! `/openapi.json`; the quick-start config's is kept in `docs/openapi.json` (equal, or
//! `WAFKA_BLESS=1` rewrites it); and schemathesis (PyPI, pinned in `tests/python`) checks the
//! running gateway against it: no server errors, and every answer's status, content type and
//! body as documented, on the routes, the REST Proxy API and the admin API.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use wafka_tests::{Broker, TestGateway};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The quick-start config's routes, `[rest_proxy]` and `[schema_registry]`, on a test gateway.
async fn quick_start(edit: impl FnOnce(&mut wafka::config::Config) + 'static) -> TestGateway {
    let example = std::fs::read_to_string(repo().join("examples/wafka.toml")).unwrap();
    let routes = &example[example.find("[[routes]]").expect("the example has routes")..];
    TestGateway::builder(Broker::Embedded)
        .routes(routes)
        .topics(&["events.web", "events.mobile"])
        .filter("json-enrich")
        .filter("topic-router")
        .configure(|c| {
            // The example's registry port is fixed; tests run side by side.
            if let Some(registry) = c.schema_registry.as_mut() {
                registry.listen = ([127, 0, 0, 1], 0).into();
            }
        })
        .configure(edit)
        .start()
        .await
}

/// The served document, with the test's listener addresses put back to the example's.
async fn served(gw: &TestGateway) -> Value {
    let mut document = gw.admin("/openapi.json").await.json();
    let (public, admin, registry) = (
        gw.gateway().addr().to_string(),
        gw.gateway().admin_addr().to_string(),
        gw.registry_addr().to_string(),
    );
    assert_eq!(document["servers"][0]["url"], format!("http://{public}"));
    document["servers"][0]["url"] = "http://127.0.0.1:8080".into();
    for (_, path) in document["paths"].as_object_mut().unwrap() {
        if let Some(servers) = path.get_mut("servers") {
            let url = servers[0]["url"].as_str().unwrap().to_owned();
            servers[0]["url"] = if url == format!("http://{admin}") {
                "http://127.0.0.1:9090".into()
            } else {
                assert_eq!(url, format!("http://{registry}"));
                "http://127.0.0.1:8081".into()
            };
        }
    }
    document
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kept_document_is_the_quick_starts() {
    let gw = quick_start(|_| {}).await;
    let document = served(&gw).await;
    let kept = repo().join("docs/openapi.json");
    let text = serde_json::to_string_pretty(&document).unwrap() + "\n";
    if std::env::var_os("WAFKA_BLESS").is_some() {
        std::fs::write(&kept, &text).unwrap();
    }
    // Compared as JSON: key order follows serde_json's features, which differ between builds.
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&kept).unwrap_or_default())
        .unwrap_or_default();
    let stale: Vec<&String> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| on_disk["paths"][p.as_str()] != document["paths"][p.as_str()])
        .collect();
    assert!(
        on_disk == document,
        "docs/openapi.json is stale (paths differing: {stale:?}); rerun with WAFKA_BLESS=1"
    );
    // Every route and REST Proxy path is in it.
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/v1/events/{source}",
        "/v1/logs",
        "/topics/{topic}",
        "/consumers/{group}",
        "/v3/clusters/{cluster_id}/topics/{topic}/records",
        "/admin/memory",
        "/subjects/{subject}/versions/{version}",
        "/mode/{subject}",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
}

fn schemathesis(gw: &TestGateway, url: String, only: &str, skip: &str) -> std::process::Output {
    let python = repo().join("tests/python");
    let mut run = Command::new(python.join(".venv/bin/schemathesis"));
    run.arg("--config-file")
        .arg(python.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("http://{}/openapi.json", gw.gateway().admin_addr()))
        .args(["--url", &url])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["--phases", "examples,coverage,fuzzing", "--mode", "all"])
        .args(["--max-examples", "25", "--workers", "1", "--request-timeout", "10", "--seed", "1"]);
    if !only.is_empty() {
        run.args(["--include-path-regex", only]);
    }
    if !skip.is_empty() {
        run.args(["--exclude-path-regex", skip]);
    }
    // Its failure cache (replayed first on the next run) stays out of the repository: every
    // run starts from the same seed and nothing else.
    let scratch = tempfile::tempdir().unwrap();
    run.current_dir(scratch.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis is installed (scripts/test.sh does)")
}

/// Every listener, with schemathesis's negative and boundary cases (`--mode all`, the
/// coverage phase) and topic administration on: no answer may be a server error, and each
/// must be as documented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_the_gateway_as_documented() {
    // Waits are short so that generated reads do not each wait half a minute.
    let gw = quick_start(|c| {
        for route in &mut c.routes {
            if let Some(read) = &mut route.read {
                read.max_wait_ms = 100;
            }
        }
        if let Some(rest_proxy) = &mut c.rest_proxy {
            rest_proxy.max_consumers = 4;
            rest_proxy.topic_admin = true;
        }
    })
    .await;
    let admin = "^/(healthz|readyz|metrics|admin/.*|openapi.json)$";
    let registry = "^/($|subjects|schemas|config|mode|compatibility)";
    let public = format!("http://{}", gw.gateway().addr());
    let admin_url = format!("http://{}", gw.gateway().admin_addr());
    let registry_url = format!("http://{}", gw.registry_addr());
    let not_public = format!("{admin}|{registry}");
    for (url, only, skip) in [
        (public, "", not_public.as_str()),
        (admin_url, admin, ""),
        (registry_url, registry, ""),
    ] {
        let output = tokio::task::block_in_place(|| schemathesis(&gw, url.clone(), only, skip));
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "schemathesis against {url}:\n{report}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(report.contains("generated"), "{report}");
    }
}
