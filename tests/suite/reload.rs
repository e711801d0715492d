//! Hot reload against the running gateway: filter files and the config change underneath it,
//! and it follows without a restart or a failed request. Filters only matter here, so these
//! run on the embedded cluster.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wafka_tests::gateway::install_filter;
use wafka_tests::{Broker, TestGateway};

/// One route whose only filter is `current`: tests swap what `current.wasm` holds.
const CURRENT: &str = r#"
[[routes]]
name = "events"
path = "/v1/events"
topic = "events"
filters = [{ name = "current" }]
"#;

/// The safe deploy: write a hidden file aside, then rename it into place.
fn deploy(gw: &TestGateway, file: &str, bytes: &[u8]) {
    let tmp = gw.filters_dir().join(format!(".{file}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, gw.filters_dir().join(file)).unwrap();
}

/// A new version of a component that behaves the same: an extra custom section.
fn new_version(mut component: Vec<u8>, tag: u8) -> Vec<u8> {
    let name = b"wafka-test-version";
    component.extend_from_slice(&[0, (1 + name.len() + 1) as u8, name.len() as u8]);
    component.extend_from_slice(name);
    component.push(tag);
    component
}

async fn watched(routes: &str, current: Option<&str>) -> TestGateway {
    watched_as(routes, "current", current).await
}

/// `watched` with the filter file named `file`: metrics are per process, so a test asserting
/// on a filter's metrics gives it a name no other test uses.
async fn watched_as(routes: &str, file: &str, current: Option<&str>) -> TestGateway {
    TestGateway::builder(Broker::Embedded)
        .routes(routes)
        .topics(&["other", "events.v2"])
        .watched()
        .start_with(|filters_dir| {
            if let Some(name) = current {
                let bytes = std::fs::read(wafka_tests::wasm(name)).unwrap();
                std::fs::write(filters_dir.join(format!("{file}.wasm")), bytes).unwrap();
            }
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_filter_serves_new_requests_and_none_fail() {
    let routes = CURRENT.replace("current", "replaced");
    let gw = Arc::new(watched_as(&routes, "replaced", Some("json-enrich")).await);
    assert_eq!(gw.post("/v1/events", r#"{"a":1}"#).await.status, 200);
    let sha_before = gw.live_filters().await["replaced"].clone();

    // Load while a new version lands: every request must succeed.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (gw, stop) = (gw.clone(), stop.clone());
        async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) && statuses.len() < 2000 {
                statuses.push(gw.post("/v1/events", r#"{"a":1}"#).await.status);
            }
            statuses
        }
    });
    let before = gw.reloads().await;
    let same_behaviour = new_version(std::fs::read(wafka_tests::wasm("json-enrich")).unwrap(), 1);
    deploy(&gw, "replaced.wasm", &same_behaviour);
    gw.reloaded(&before, true).await;
    let sha_after = gw.live_filters().await["replaced"].clone();
    assert_ne!(sha_after, sha_before, "new version is live");
    let metrics = gw.metrics().await;
    let version = |sha: &str| {
        let labels = [("filter", "replaced"), ("sha256", &sha[..12])];
        wafka_tests::prometheus::value(&metrics, "wafka_filter_version_info", &labels)
    };
    assert_eq!((version(&sha_after), version(&sha_before)), (1.0, 0.0));
    assert_eq!(gw.post("/v1/events", r#"{"a":1}"#).await.status, 200);
    stop.store(true, Ordering::Relaxed);
    let statuses = load.await.unwrap();
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|&s| s == 200),
        "a request failed during reload: {statuses:?}"
    );

    // A filter with other behaviour: arrays are now split instead of refused.
    assert_eq!(gw.post("/v1/events", "[1]").await.status, 400);
    let before = gw.reloads().await;
    // Written in place, the unsafe way: the watcher must wait for a whole file.
    let shape = std::fs::read(wafka_tests::wasm("shape")).unwrap();
    std::fs::write(gw.filters_dir().join("replaced.wasm"), shape).unwrap();
    gw.reloaded(&before, true).await;
    let res = gw.post("/v1/events", r#"[{"a":1},{"a":2}]"#).await;
    assert_eq!(res.status, 200, "{}", res.json());
    assert_eq!(res.json()["records"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_and_partial_files_keep_the_last_good_version() {
    let gw = watched(CURRENT, Some("json-enrich")).await;
    let good = gw.live_filters().await["current"].clone();

    let before = gw.reloads().await;
    std::fs::write(gw.filters_dir().join("current.wasm"), b"\0asm not really").unwrap();
    let status = gw.reloaded(&before, false).await;
    let error = status["last_error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("current.wasm") && error.contains("not a usable"),
        "{error}"
    );
    assert_eq!(gw.post("/v1/events", r#"{"a":1}"#).await.status, 200);
    assert_eq!(gw.live_filters().await["current"], good);
    // `wafka check` says the same about the same file.
    let check = wafka::cli::check_report(&gw.dir.path().join("wafka.toml")).await;
    assert_eq!(check.unwrap_err(), error);

    // Half a file, as an interrupted copy leaves it: refused, old version serves.
    let shape = std::fs::read(wafka_tests::wasm("shape")).unwrap();
    let before = gw.reloads().await;
    std::fs::write(
        gw.filters_dir().join("current.wasm"),
        &shape[..shape.len() / 2],
    )
    .unwrap();
    gw.reloaded(&before, false).await;
    assert_eq!(gw.post("/v1/events", r#"{"a":1}"#).await.status, 200);
    assert_eq!(gw.live_filters().await["current"], good);

    // The rest of the copy lands: the new filter loads.
    let before = gw.reloads().await;
    std::fs::write(gw.filters_dir().join("current.wasm"), &shape).unwrap();
    let status = gw.reloaded(&before, true).await;
    assert!(status["last_error"].is_null());
    assert_eq!(gw.post("/v1/events", r#"[{"a":1}]"#).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_filter_serves_until_the_config_drops_it() {
    let gw = watched(CURRENT, Some("json-enrich")).await;
    let before = gw.reloads().await;
    std::fs::remove_file(gw.filters_dir().join("current.wasm")).unwrap();
    gw.reloaded(&before, true).await;
    assert!(
        gw.live_filters().await.contains_key("current"),
        "kept while named"
    );
    let res = gw.post("/v1/events", "[1]").await;
    assert_eq!(res.error_code(), "invalid_json", "json-enrich still runs");

    let before = gw.reloads().await;
    gw.write_routes(&CURRENT.replace(r#"filters = [{ name = "current" }]"#, ""));
    gw.reloaded(&before, true).await;
    assert!(gw.live_filters().await.is_empty());
    assert_eq!(
        gw.post("/v1/events", "[1]").await.status,
        200,
        "no filter now"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_add_remove_and_retarget_routes() {
    let gw = watched(CURRENT, Some("json-enrich")).await;
    // Add: a new filter file, then a config that uses it on a new route.
    install_filter(&gw.filters_dir(), "topic-router");
    let before = gw.reloads().await;
    gw.write_routes(
        r#"
[[routes]]
name = "events"
path = "/v1/events"
topic = "events.v2"

[[routes]]
name = "other"
path = "/v1/other/{kind}"
topic = "other"
mode = "async"
filters = [{ name = "topic-router", config = { param = "kind", allow = ["other"] } }]
"#,
    );
    gw.reloaded(&before, true).await;
    let res = gw.post("/v1/events", "[1]").await;
    assert_eq!(
        res.status,
        200,
        "filter removed from the route: {}",
        res.json()
    );
    assert_eq!(res.json()["records"][0]["topic"], "events.v2");
    assert_eq!(gw.post("/v1/other/other", "{}").await.status, 202);
    assert_eq!(
        gw.post("/v1/other/else", "{}").await.error_code(),
        "topic_not_allowed"
    );
    let filters = gw.live_filters().await;
    assert_eq!(filters.keys().collect::<Vec<_>>(), ["topic-router"]);

    // Remove the route again; a restart-only setting is reported, not applied.
    let before = gw.reloads().await;
    let text = std::fs::read_to_string(gw.dir.path().join("wafka.toml")).unwrap();
    let text = text.replace(
        "admin_listen = \"127.0.0.1:0\"",
        "admin_listen = \"127.0.0.1:1\"",
    );
    let text = &text[..text.find("[[routes]]\nname = \"other\"").unwrap()];
    gw.write_config_text(text);
    let status = gw.reloaded(&before, true).await;
    assert_eq!(
        status["restart_needed"],
        serde_json::json!(["server.admin_listen"])
    );
    assert_eq!(
        gw.post("/v1/other/other", "{}").await.error_code(),
        "route_not_found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_keep_the_running_config() {
    let gw = watched(CURRENT, Some("json-enrich")).await;
    for (broken, expect) in [
        ("[[routes]]\nname = ", "TOML parse error"),
        (
            &CURRENT.replace("current", "missing-filter") as &str,
            "missing-filter.wasm",
        ),
        (
            &CURRENT.replace("topic = \"events\"", "topic = \"no spaces\"") as &str,
            "routes[0].topic",
        ),
    ] {
        let before = gw.reloads().await;
        gw.write_routes(broken);
        let status = gw.reloaded(&before, false).await;
        let error = status["last_error"].as_str().unwrap();
        assert!(
            error.contains("wafka.toml") && error.contains(expect),
            "{error}"
        );
        assert_eq!(gw.post("/v1/events", r#"{"a":1}"#).await.status, 200);
    }
    let metrics = String::from_utf8(gw.admin("/metrics").await.body.to_vec()).unwrap();
    assert!(
        metrics.contains(r#"wafka_reloads_total{outcome="failed"}"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_reload_is_reported_and_the_next_one_goes_live() {
    let gw = watched(CURRENT, Some("json-enrich")).await;
    let good = gw.live_filters().await["current"].clone();

    gw.gateway().panic_in_next_reload();
    let before = gw.reloads().await;
    let v1 = new_version(std::fs::read(wafka_tests::wasm("json-enrich")).unwrap(), 1);
    deploy(&gw, "current.wasm", &v1);
    let status = gw.reloaded(&before, false).await;
    let error = status["last_error"].as_str().unwrap();
    assert!(error.contains("panicked"), "{error}");
    assert_eq!(gw.live_filters().await["current"], good);
    assert_eq!(gw.post("/v1/events", r#"{"a":1}"#).await.status, 200);

    // The watcher still watches: the next change goes live.
    let before = gw.reloads().await;
    let v2 = new_version(std::fs::read(wafka_tests::wasm("json-enrich")).unwrap(), 2);
    deploy(&gw, "current.wasm", &v2);
    gw.reloaded(&before, true).await;
    assert_ne!(gw.live_filters().await["current"], good);
}

/// Two requests hold both instance slots requests may use (a filter spinning into its 3 s
/// deadline); a reload meanwhile checks its config on slots of its own and goes live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_goes_live_while_requests_hold_every_instance_slot() {
    const ROUTES: &str = r#"
[[routes]]
name = "busy"
path = "/v1/busy"
topic = "events"
filter_timeout_ms = 3000
filters = [{ name = "spinner", config = { act = "loop" } }]

[[routes]]
name = "events"
path = "/v1/events"
topic = "events"
filters = [{ name = "current" }]
"#;
    // The hostile fixture under a name of its own: metrics are process-wide, and the security
    // tests count the hostile filter's timeouts.
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(ROUTES)
        .configure(|c| c.server.max_filter_instances = 2)
        .watched()
        .start_with(|dir| {
            std::fs::copy(wafka_tests::wasm("json-enrich"), dir.join("current.wasm")).unwrap();
            std::fs::copy(wafka_tests::wasm("hostile"), dir.join("spinner.wasm")).unwrap();
        })
        .await;
    let gw = Arc::new(gw);
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move { gw.post("/v1/busy", "{}").await })
        })
        .collect();
    // Both slots are taken once a third request is refused for want of one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let res = gw.post("/v1/events", "{}").await;
        if res.status == 503 {
            assert_eq!(res.error_code(), "overloaded");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slots never filled"
        );
    }
    let before = gw.reloads().await;
    let v1 = new_version(std::fs::read(wafka_tests::wasm("json-enrich")).unwrap(), 1);
    deploy(&gw, "current.wasm", &v1);
    gw.reloaded(&before, true).await;
    for task in busy {
        let res = task.await.unwrap();
        assert_eq!(
            res.error_code(),
            "filter_timeout",
            "still held during the reload"
        );
    }
}
