//! What operators see: metrics after known traffic, readiness that follows Kafka, the
//! effective config with secrets masked, and a shutdown that loses nothing.

use std::sync::Arc;

use wafka_tests::kafka::read_all;
use wafka_tests::prometheus::value;
use wafka_tests::{Broker, TestGateway, try_request};

/// A route used by no other test, so metric deltas are exact in a shared process.
const PROBE: &str = r#"
[[routes]]
name = "probe"
path = "/v1/probe"
topic = "probe"
filters = [{ name = "peek", config = { read = "header" } }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_known_traffic_with_bounded_labels() {
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(PROBE)
        .filter("peek")
        .configure(|c| {
            c.kafka.producer.insert(
                "sasl.password".into(),
                wafka::config::PropertyValue::String("hunter2".into()),
            );
            c.kafka.producer.insert(
                "statistics.interval.ms".into(),
                wafka::config::PropertyValue::Integer(100),
            );
        })
        .start()
        .await;
    let before = gw.metrics().await;
    for _ in 0..3 {
        let res = gw
            .send("POST", "/v1/probe", &[("x-api-key", "k")], "{}")
            .await;
        assert_eq!(res.status, 200);
    }
    for _ in 0..2 {
        assert_eq!(gw.post("/v1/probe", "{}").await.status, 401);
    }
    let after = gw.metrics().await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let route = ("route", "probe");
    assert_eq!(
        delta("wafka_http_requests_total", &[route, ("status", "200")]),
        3.0
    );
    assert_eq!(
        delta("wafka_http_requests_total", &[route, ("status", "401")]),
        2.0
    );
    assert_eq!(
        delta("wafka_http_request_duration_seconds_count", &[route]),
        5.0
    );
    assert_eq!(delta("wafka_http_request_body_bytes_total", &[route]), 10.0);
    let peek = ("filter", "peek");
    assert_eq!(
        delta("wafka_filter_invocations_total", &[peek, ("outcome", "ok")]),
        3.0
    );
    assert_eq!(
        delta(
            "wafka_filter_invocations_total",
            &[peek, ("outcome", "rejected")]
        ),
        2.0
    );
    assert_eq!(delta("wafka_filter_duration_seconds_count", &[peek]), 5.0);
    let topic = ("topic", "probe");
    assert_eq!(delta("wafka_kafka_records_delivered_total", &[topic]), 3.0);
    assert_eq!(
        delta("wafka_kafka_delivery_duration_seconds_count", &[topic]),
        3.0
    );
    assert!(
        after
            .iter()
            .any(|s| s.name == "wafka_kafka_producer_in_flight_records")
    );
    for sample in &after {
        for (label, v) in &sample.labels {
            assert!(
                !v.starts_with('/'),
                "raw path in label {label} of {}",
                sample.name
            );
        }
    }

    // librdkafka's statistics arrive every 100 ms here.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let samples = gw.metrics().await;
        let rtt = samples
            .iter()
            .find(|s| s.name == "wafka_librdkafka_broker_rtt_seconds" && s.labels["stat"] == "avg");
        if let Some(rtt) = rtt {
            assert!(rtt.value >= 0.0 && rtt.value < 10.0, "{rtt:?}");
            assert!(
                samples
                    .iter()
                    .any(|s| s.name == "wafka_librdkafka_queue_messages")
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no librdkafka statistics"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let config = gw.admin("/admin/config").await.json();
    assert_eq!(config["kafka"]["producer"]["sasl.password"], "***");
    assert_eq!(config["routes"][0]["name"], "probe");
    let text = gw.admin("/admin/config").await.body;
    assert!(!String::from_utf8_lossy(&text).contains("hunter2"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_a_paused_broker() {
    let gw = crate::standard_gateway(Broker::Tansu).await;
    let ready = gw.admin("/readyz").await;
    assert_eq!(
        (ready.status, &ready.json()["ready"]),
        (200, &serde_json::json!(true))
    );

    let tansu = gw.tansu().expect("tansu");
    tansu.pause();
    // An answer the broker sent just before it stopped may still satisfy one probe; every
    // probe after that must fail (each takes the 2 s metadata timeout).
    let mut not_ready = gw.admin("/readyz").await;
    for _ in 0..3 {
        if not_ready.status == 503 {
            break;
        }
        not_ready = gw.admin("/readyz").await;
    }
    tansu.resume();
    assert_eq!(not_ready.status, 503, "{}", not_ready.json());
    assert!(not_ready.json()["not_ready"]["kafka"].is_string());

    // Ready again once the broker answers; readiness asks Kafka afresh each time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while gw.admin("/readyz").await.status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready again after resume"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_delivers_every_accepted_record() {
    let mut gw = crate::standard_gateway(Broker::Tansu).await;
    let addr = gw.gateway().addr();
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let first_tx = Arc::new(std::sync::Mutex::new(Some(first_tx)));
    let clients: Vec<_> = (0..40)
        .map(|i| {
            let first_tx = first_tx.clone();
            tokio::spawn(async move {
                let path = if i % 2 == 0 {
                    "/v1/raw"
                } else {
                    "/v1/raw-sync"
                };
                let res = try_request(addr, "POST", path, &[], format!("record {i}")).await;
                if let Some(tx) = first_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                res.map(|r| r.status)
            })
        })
        .collect();
    // Shut down while the rest are in flight.
    first_rx.await.unwrap();
    gw.stop().await;

    let mut accepted = 0;
    for client in clients {
        match client.await.unwrap() {
            Ok(200 | 202) => accepted += 1,
            Ok(status) => panic!("unexpected status {status}"),
            Err(_refused) => {}
        }
    }
    assert!(accepted >= 1);
    let records = read_all(&gw.bootstrap, "raw");
    assert_eq!(
        records.len(),
        accepted,
        "every 2xx record is in Kafka, once"
    );
}

/// The dashboard and the operations guide only name metrics the gateway defines, and the guide
/// names every one it defines.
#[test]
fn dashboard_and_guide_name_real_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let names = |text: &str| -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for (i, _) in text.match_indices("wafka_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .fold(name.clone(), |n, s| {
                    n.strip_suffix(s).map_or(n.clone(), str::to_owned)
                });
            if base.ends_with("_total")
                || base.ends_with("_seconds")
                || base.ends_with("_bytes")
                || base.ends_with("_records")
                || base.ends_with("_info")
                || base.ends_with("_messages")
            {
                out.insert(base);
            }
        }
        out
    };
    let mut defined = std::collections::BTreeSet::new();
    for file in ["metrics/mod.rs", "reload.rs", "kafka/stats.rs"] {
        defined.extend(names(&read(&format!("runtime/src/{file}"))));
    }
    let guide = names(&read("docs/operations.md"));
    let dashboard = names(&read("examples/grafana-dashboard.json"));
    assert!(defined.len() >= 15, "{defined:?}");
    assert_eq!(guide, defined, "docs/operations.md and the code disagree");
    assert!(
        dashboard.is_subset(&defined),
        "unknown: {:?}",
        dashboard.difference(&defined)
    );
}
