//! The admin listener shows what is live.

use wafka_tests::Broker;

use crate::standard_gateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_shows_kafka_routes_filters_and_metrics() {
    let gw = standard_gateway(Broker::Embedded).await;
    assert_eq!(gw.post("/v1/events/web", "{}").await.status, 200);

    let health = gw.admin("/healthz").await;
    assert_eq!(
        (health.status, health.json()["status"].as_str()),
        (200, Some("ok"))
    );

    let kafka = gw.admin("/admin/kafka").await.json();
    assert_eq!(kafka["bootstrap_servers"], gw.bootstrap.as_str());
    assert_eq!(kafka["embedded"], true);

    let routes = gw.admin("/admin/routes").await.json();
    let names: Vec<&str> = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "events",
            "raw",
            "raw-sync",
            "broken",
            "broken-details",
            "shape"
        ]
    );
    assert_eq!(
        routes["routes"][0]["filters"],
        serde_json::json!(["json-enrich", "topic-router"])
    );

    let filters = gw.admin("/admin/filters").await.json();
    let enrich = filters["filters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "json-enrich")
        .expect("json-enrich is listed")
        .clone();
    let bytes = std::fs::read(wafka_tests::wasm("json-enrich")).unwrap();
    assert_eq!(enrich["sha256"], sha256_hex(&bytes));

    let metrics = gw.admin("/metrics").await;
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("wafka_http_requests_total{")
                && l.contains(r#"route="events""#)
                && l.contains(r#"status="200""#)),
        "{text}"
    );
    assert_eq!(gw.admin("/nope").await.status, 404);
    gw.shutdown().await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
