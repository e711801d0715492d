//! Every failure answers with its status, a stable code and a JSON body, and loses nothing.

use wafka_tests::Broker;
use wafka_tests::broker::free_port;
use wafka_tests::kafka::read_all;

use crate::{on_both_brokers, standard_gateway};

on_both_brokers!(
    client_errors_have_status_and_code,
    trapping_filter_answers_500_and_others_keep_working
);

async fn client_errors_have_status_and_code(broker: Broker) {
    let gw = standard_gateway(broker).await;

    let res = gw.send("GET", "/v1/events/web", &[], "").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (405, "method_not_allowed")
    );
    assert_eq!(res.header("allow"), Some("POST"));

    let res = gw.post("/v2/nothing-here", "{}").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (404, "route_not_found")
    );

    let res = gw.post("/v1/events/%ff", "{}").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (400, "bad_request")
    );

    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(1024 * 1024));
    let res = gw.post("/v1/events/web", big).await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (413, "body_too_large")
    );

    // Answers from filters pass through as the filter gave them.
    let res = gw.post("/v1/events/web", "{not json").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (400, "invalid_json")
    );
    let res = gw.post("/v1/events/desktop", "{}").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (403, "topic_not_allowed")
    );

    for res in [
        gw.post("/v1/events/web", "[1]").await,
        gw.post("/nope", "").await,
    ] {
        assert!(
            res.header("x-request-id").is_some(),
            "every answer carries its request id"
        );
        assert_eq!(res.header("content-type"), Some("application/json"));
    }
    // Refused requests produced nothing.
    for topic in ["events", "events.web", "events.mobile"] {
        assert!(
            read_all(&gw.bootstrap, topic).is_empty(),
            "{topic} must be empty"
        );
    }
    gw.shutdown().await;
}

async fn trapping_filter_answers_500_and_others_keep_working(broker: Broker) {
    let gw = standard_gateway(broker).await;
    let res = gw.post("/v1/broken", "{}").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (500, "filter_failed")
    );
    // The client gets the code, a short message and the request id; the trap and the panic
    // message are in the log under that id.
    let error = &res.json()["error"];
    assert_eq!(error["message"], "filter trap failed");
    let id = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(error["request_id"], id.as_str());
    let logged = wafka_tests::logs::lines_with(&id).join("\n");
    assert!(
        logged.contains("unreachable") && logged.contains("deliberate panic"),
        "the log keeps the trap and the panic message: {logged}"
    );
    // A route that opts in answers with them.
    let res = gw.post("/v1/broken-details", "{}").await;
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("deliberate panic"), "{message}");

    // The same filter traps again, and the other routes are unaffected.
    for _ in 0..3 {
        assert_eq!(gw.post("/v1/broken", "{}").await.status, 500);
        let ok = gw.post("/v1/events/web", r#"{"still":"serving"}"#).await;
        assert_eq!(ok.status, 200, "{}", ok.json());
    }
    assert_eq!(read_all(&gw.bootstrap, "events.web").len(), 3);
    assert!(read_all(&gw.bootstrap, "broken").is_empty());
    gw.shutdown().await;
}

/// Kafka is unreachable: sync answers 503 with Retry-After, within the delivery timeout at
/// first and at once after the circuit breaker opens (librdkafka reports every broker down).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_kafka_answers_503_with_retry_after() {
    let nowhere = format!("127.0.0.1:{}", free_port());
    let gw = wafka_tests::TestGateway::builder(Broker::Embedded)
        .routes(crate::ROUTES)
        .filter("json-enrich")
        .filter("topic-router")
        .filter("trap")
        .filter("shape")
        .configure(move |c| {
            c.kafka.brokers = nowhere;
            c.kafka.producer.insert(
                "message.timeout.ms".into(),
                wafka::config::PropertyValue::Integer(500),
            );
        })
        .start()
        .await;
    let started = std::time::Instant::now();
    let res = gw.post("/v1/raw-sync", "{}").await;
    // Whichever comes first: the record's delivery timeout, or the breaker opening.
    let code = res.error_code();
    assert_eq!(res.status, 503);
    assert!(
        matches!(code.as_str(), "kafka_timeout" | "kafka_unavailable"),
        "{code}"
    );
    assert!(res.header("retry-after").is_some());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "answered within the delivery timeout, not the client's patience"
    );

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while gw.admin("/admin/kafka").await.json()["breaker"]["state"] == "closed" {
        assert!(
            std::time::Instant::now() < deadline,
            "the breaker never opened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let started = std::time::Instant::now();
    let res = gw.post("/v1/raw-sync", "{}").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (503, "kafka_unavailable")
    );
    assert_eq!(
        res.header("retry-after"),
        Some("2"),
        "the breaker's cool-down"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(400),
        "no delivery attempt"
    );
    gw.shutdown().await;
}
