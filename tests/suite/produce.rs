//! Records go through the filters and land in Kafka as the filters shaped them.

use wafka_tests::Broker;
use wafka_tests::kafka::{read_all, read_at, wait_for};

use crate::{on_both_brokers, standard_gateway};

on_both_brokers!(
    sync_through_both_filters,
    async_answers_202_then_delivers,
    shape_fixture_sets_every_field
);

async fn sync_through_both_filters(broker: Broker) {
    let gw = standard_gateway(broker).await;
    let res = gw
        .post(
            "/v1/events/web",
            r#"{"kind":"click","n":1,"request_id":"spoofed"}"#,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let request_id = res.header("x-request-id").expect("x-request-id").to_owned();
    let ack = &res.json()["records"][0];
    assert_eq!(ack["topic"], "events.web");
    let (partition, offset) = (
        ack["partition"].as_i64().unwrap(),
        ack["offset"].as_i64().unwrap(),
    );

    let record = read_at(&gw.bootstrap, "events.web", partition as i32, offset);
    let value = record.json();
    assert_eq!(value["kind"], "click");
    assert_eq!(value["n"], 1);
    assert_eq!(
        value["request_id"],
        request_id.as_str(),
        "spoofed id must be overwritten"
    );
    assert_eq!(value["client_ip"], "127.0.0.1");
    assert!(value["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(record.key, None);
    assert_eq!(
        record.headers,
        [("x-request-id".to_owned(), request_id.into_bytes())]
    );

    // A second request gets the next offset of its partition: offsets are the broker's.
    let res = gw.post("/v1/events/mobile", r#"{"kind":"view"}"#).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["records"][0]["topic"], "events.mobile");
    let all = read_all(&gw.bootstrap, "events.mobile");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].json()["kind"], "view");
    // Nothing went to the route's default topic.
    assert!(read_all(&gw.bootstrap, "events").is_empty());
    gw.shutdown().await;
}

async fn async_answers_202_then_delivers(broker: Broker) {
    let gw = standard_gateway(broker).await;
    let res = gw
        .send(
            "POST",
            "/v1/raw",
            &[("content-type", "text/plain")],
            "plain text, not JSON",
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.json());
    assert_eq!(res.json()["records"][0]["status"], "queued");
    let records = wait_for(&gw.bootstrap, "raw", 1);
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].value.as_deref(),
        Some(&b"plain text, not JSON"[..])
    );
    gw.shutdown().await;
}

async fn shape_fixture_sets_every_field(broker: Broker) {
    let gw = standard_gateway(broker).await;
    let headers = [
        ("content-type", "application/json"),
        ("x-key", "user-1"),
        ("x-trace", "abc"),
        ("x-partition", "2"),
    ];
    let res = gw
        .send("POST", "/v1/shape", &headers, r#"[{"a":1},{"a":2}]"#)
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let request_id = res.header("x-request-id").unwrap().as_bytes().to_vec();
    let acks = res.json()["records"].as_array().unwrap().clone();
    assert_eq!(acks.len(), 2, "one record per array element");
    for (i, ack) in acks.iter().enumerate() {
        assert_eq!(ack["topic"], "shaped");
        assert_eq!(ack["partition"], 2);
        let record = read_at(&gw.bootstrap, "shaped", 2, ack["offset"].as_i64().unwrap());
        assert_eq!(record.json(), serde_json::json!({ "a": i + 1 }));
        assert_eq!(record.key.as_deref(), Some(&b"user-1"[..]));
        let expected = [
            ("trace", b"abc".to_vec()),
            ("x-request-id", request_id.clone()),
        ];
        let expected: Vec<_> = expected.map(|(k, v)| (k.to_owned(), v)).into();
        assert_eq!(record.headers, expected);
        assert_eq!(record.timestamp, Some(1_700_000_000_000));
    }
    gw.shutdown().await;
}
