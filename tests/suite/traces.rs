//! Tracing end to end: the W3C trace context from the HTTP request onto the record, spans
//! exported over OTLP/HTTP to a real receiver (tests/python/otlp_receiver.py, which parses
//! them with opentelemetry-proto and refuses anything the OTLP/JSON encoding does not allow),
//! and the trace continued by the gateway that hands the record to an SSE client.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use wafka_tests::kafka::read_all;
use wafka_tests::node::Script;
use wafka_tests::{Broker, TestGateway, python, sse};

use crate::on_both_brokers;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

on_both_brokers!(one_trace_runs_from_the_post_to_the_sse_client_that_read_it);

/// The receiver, refusing its first export with 503 and `Retry-After: 1`, so the exporter's
/// retry is exercised on the way.
async fn receiver() -> (Script, u16) {
    let receiver = python::start("otlp_receiver.py", &["0", "--fail-first", "1"]);
    let first = receiver.line(Duration::from_secs(30)).await;
    let port = first
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the receiver said {first:?}"));
    (receiver, port)
}

/// What the receiver printed: the spans, and how many exports it refused.
#[derive(Default)]
struct Received {
    spans: Vec<Value>,
    refused: usize,
}

impl Received {
    /// Reads the receiver's lines until `done` holds for the spans (panics after 30 s).
    async fn until(&mut self, receiver: &Script, done: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&self.spans) {
            let wait = deadline.saturating_duration_since(Instant::now());
            let line = receiver.line(wait).await;
            if let Some(span) = line.strip_prefix("span ") {
                self.spans.push(serde_json::from_str(span).unwrap());
            } else if line.starts_with("rejected ") {
                self.refused += 1;
            }
        }
    }
}

fn find<'a>(spans: &'a [Value], kind: u64, name: &str) -> Option<&'a Value> {
    spans
        .iter()
        .find(|s| s["kind"] == kind && s["name"].as_str().is_some_and(|n| n.contains(name)))
}

async fn one_trace_runs_from_the_post_to_the_sse_client_that_read_it(broker: Broker) {
    let (receiver, port) = receiver().await;
    let routes = format!(
        r#"
[tracing]
otlp_endpoint = "http://127.0.0.1:{port}"
export_interval_ms = 50

[rest_proxy]

[[routes]]
name = "clicks"
path = "/v1/clicks"
topic = "clicks"
filters = [{{ name = "json-enrich" }}]

[[routes]]
name = "taps"
path = "/v1/taps"
topic = "taps"
mode = "async"

[[routes]]
name = "clicks-read"
path = "/v1/clicks"
topic = "clicks"
read = {{ default_from = "earliest" }}
"#
    );
    let gw = TestGateway::builder(broker)
        .routes(&routes)
        .topics(&["clicks", "taps"])
        .filter("json-enrich")
        .start()
        .await;
    let addr = gw.gateway().addr();
    let mut stream = sse::open(addr, "/v1/clicks", &[]).await;
    assert_eq!(stream.status, 200);

    // A client in a trace, sampled, with vendor state.
    let traceparent = format!("00-{TRACE}-{CLIENT_SPAN}-01");
    let headers = [
        ("traceparent", traceparent.as_str()),
        ("tracestate", "vendor=abc"),
        ("content-type", "application/json"),
    ];
    let res = gw.send("POST", "/v1/clicks", &headers, r#"{"n":1}"#).await;
    assert_eq!(res.status, 200, "{}", res.json());

    // The record carries the trace on: the same trace id, the gateway's publish span as
    // parent, the client's tracestate.
    let records = read_all(&gw.bootstrap, "clicks");
    assert_eq!(records.len(), 1);
    let header = |name: &str| {
        records[0]
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
            .unwrap_or_else(|| panic!("no {name} on {:?}", records[0].headers))
    };
    let on_record = header("traceparent");
    let parts: Vec<&str> = on_record.split('-').collect();
    assert_eq!(
        (parts[0], parts[1], parts[3]),
        ("00", TRACE, "01"),
        "{on_record}"
    );
    let publish_id = parts[2].to_owned();
    assert_ne!(publish_id, CLIENT_SPAN);
    assert_eq!(header("tracestate"), "vendor=abc");

    // The SSE client gets the record, traceparent among its headers.
    let event = stream
        .take(1, Duration::from_secs(10))
        .await
        .remove(0)
        .json();
    let shown: Vec<(String, String)> = event["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let value = STANDARD.decode(h["value"].as_str().unwrap()).unwrap();
            (
                h["name"].as_str().unwrap().to_owned(),
                String::from_utf8(value).unwrap(),
            )
        })
        .collect();
    assert!(
        shown.contains(&("traceparent".into(), on_record.clone())),
        "{shown:?}"
    );
    drop(stream);

    // One trace in the receiver: the POST's server span under the client's, filters and
    // publish under it, and the receive span of the gateway that streamed the record under
    // publish, linked to the SSE request's own span (which ends when the stream does).
    let mut received = Received::default();
    received
        .until(&receiver, |spans| {
            find(spans, 5, "clicks receive").is_some() && find(spans, 2, "GET").is_some()
        })
        .await;
    let spans = received.spans.clone();
    let in_trace: Vec<&Value> = spans.iter().filter(|s| s["trace_id"] == TRACE).collect();
    let server = find(&spans, 2, "POST").expect("the POST's span");
    assert_eq!(server["trace_id"], TRACE);
    assert_eq!(server["parent_span_id"], CLIENT_SPAN);
    assert_eq!(server["name"], "POST /v1/clicks");
    assert_eq!(server["attributes"]["http.response.status_code"], 200);
    assert_eq!(server["attributes"]["wafka.route"], "clicks");
    assert_eq!(server["service"], "wafka");
    assert_eq!(server["trace_state"], "vendor=abc");
    let filters = find(&spans, 1, "filters").expect("the filters' span");
    assert_eq!(filters["parent_span_id"], server["span_id"]);
    let publish = find(&spans, 4, "publish").expect("the publish span");
    assert_eq!(publish["span_id"], publish_id.as_str());
    assert_eq!(publish["parent_span_id"], server["span_id"]);
    assert_eq!(
        publish["attributes"]["messaging.destination.name"],
        "clicks"
    );
    // The publish span lasts until Kafka's acknowledgement, inside the request's.
    let ns = |s: &Value, f: &str| s[f].as_u64().unwrap();
    assert!(ns(publish, "start_ns") >= ns(server, "start_ns"));
    assert!(ns(publish, "end_ns") <= ns(server, "end_ns"));
    let receive = find(&spans, 5, "clicks receive").expect("the receive span");
    assert_eq!(receive["trace_id"], TRACE);
    assert_eq!(receive["parent_span_id"], publish_id.as_str());
    assert_eq!(receive["attributes"]["messaging.kafka.offset"], 0);
    assert_eq!(receive["attributes"]["wafka.route"], "clicks-read");
    let reader = find(&spans, 2, "GET").expect("the SSE request's span");
    assert_ne!(
        reader["trace_id"], TRACE,
        "the reader's request is a trace of its own"
    );
    assert_eq!(
        receive["links"],
        serde_json::json!([{ "trace_id": reader["trace_id"], "span_id": reader["span_id"] }])
    );
    assert_eq!(in_trace.len(), 4, "{in_trace:#?}");

    // A long-poll and a REST Proxy consumer continue the trace the same way, each receive span
    // linked to the reading request's span (here in a trace the reader's client started).
    const READER: &str = "5ce929d0e0e4736a4bf92f3577b34da6";
    let reader_parent = format!("00-{READER}-{CLIENT_SPAN}-01");
    let tp = [("traceparent", reader_parent.as_str())];
    let polled = gw.send("GET", "/v1/clicks?from=earliest", &tp, "").await;
    assert_eq!(polled.json()["records"].as_array().unwrap().len(), 1);
    let v2 = "application/vnd.kafka.v2+json";
    let created = gw
        .send(
            "POST",
            "/consumers/g",
            &[("content-type", v2)],
            r#"{"name":"c","format":"json","auto.offset.reset":"earliest"}"#,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.json());
    let subscribed = gw
        .send(
            "POST",
            "/consumers/g/instances/c/subscription",
            &[("content-type", v2)],
            r#"{"topics":["clicks"]}"#,
        )
        .await;
    assert_eq!(subscribed.status, 204);
    let accept = [("accept", "application/vnd.kafka.json.v2+json"), tp[0]];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let fetched = gw
            .send(
                "GET",
                "/consumers/g/instances/c/records?timeout=500",
                &accept,
                "",
            )
            .await;
        assert_eq!(fetched.status, 200, "{}", fetched.json());
        if !fetched.json().as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the consumer got nothing");
    }
    let reader_spans = |spans: &[Value]| -> Vec<Value> {
        let readers: Vec<&Value> = spans
            .iter()
            .filter(|s| s["trace_id"] == READER && s["kind"] == 2)
            .collect();
        spans
            .iter()
            .filter(|s| s["kind"] == 5 && s["parent_span_id"] == publish_id.as_str())
            .filter(|s| {
                readers
                    .iter()
                    .any(|r| s["links"][0]["span_id"] == r["span_id"])
            })
            .cloned()
            .collect()
    };
    received
        .until(&receiver, |spans| reader_spans(spans).len() == 2)
        .await;
    let routes: Vec<Value> = reader_spans(&received.spans)
        .iter()
        .map(|s| s["attributes"]["wafka.route"].clone())
        .collect();
    assert!(
        routes.contains(&"clicks-read".into()) && routes.len() == 2,
        "{routes:?}"
    );

    // An unsampled client: the record carries its trace on (flag 00), nothing is recorded.
    // A malformed traceparent starts a new trace.
    let unsampled = format!("00-{}-{CLIENT_SPAN}-00", "1".repeat(32));
    for (n, parent) in [(2, unsampled.as_str()), (3, "00-not-a-traceparent")] {
        let headers = [
            ("traceparent", parent),
            ("content-type", "application/json"),
        ];
        let body = format!(r#"{{"n":{n}}}"#);
        let res = gw.send("POST", "/v1/clicks", &headers, body).await;
        assert_eq!(res.status, 200);
    }
    let records = read_all(&gw.bootstrap, "clicks");
    assert_eq!(records.len(), 3);
    // In the order sent (their partitions may differ).
    let parents: Vec<String> = [2, 3]
        .iter()
        .map(|n| {
            let r = records.iter().find(|r| r.json()["n"] == *n).unwrap();
            let (_, v) = r.headers.iter().find(|(n, _)| n == "traceparent").unwrap();
            String::from_utf8(v.clone()).unwrap()
        })
        .collect();
    assert!(
        parents[0].starts_with(&format!("00-{}-", "1".repeat(32))) && parents[0].ends_with("-00"),
        "{parents:?}"
    );
    assert!(
        !parents[1].contains(TRACE) && parents[1].ends_with("-01"),
        "{parents:?}"
    );
    let new_trace = parents[1][3..35].to_owned();
    received
        .until(&receiver, |spans| {
            spans
                .iter()
                .any(|s| s["trace_id"] == new_trace.as_str() && s["kind"] == 2)
        })
        .await;
    assert!(
        received
            .spans
            .iter()
            .all(|s| s["trace_id"] != "1".repeat(32).as_str()),
        "an unsampled trace was recorded"
    );

    // An async route answers once the record is queued: no publish span, the record's parent
    // is the request's own span.
    const TAPPER: &str = "6a4bf92f3577b34da6a3ce929d0e0e47";
    let tap_parent = format!("00-{TAPPER}-{CLIENT_SPAN}-01");
    let headers = [("traceparent", tap_parent.as_str())];
    assert_eq!(
        gw.send("POST", "/v1/taps", &headers, "tap").await.status,
        202
    );
    let tapped = wafka_tests::kafka::wait_for(&gw.bootstrap, "taps", 1);
    let (_, on_tap) = tapped[0]
        .headers
        .iter()
        .find(|(n, _)| n == "traceparent")
        .unwrap();
    let on_tap = String::from_utf8(on_tap.clone()).unwrap();
    received
        .until(&receiver, |spans| {
            spans.iter().any(|s| s["trace_id"] == TAPPER)
        })
        .await;
    let tap_spans: Vec<&Value> = received
        .spans
        .iter()
        .filter(|s| s["trace_id"] == TAPPER)
        .collect();
    assert_eq!(tap_spans.len(), 1, "{tap_spans:?}");
    assert_eq!(tap_spans[0]["name"], "POST /v1/taps");
    assert_eq!(
        on_tap,
        format!(
            "00-{TAPPER}-{}-01",
            tap_spans[0]["span_id"].as_str().unwrap()
        )
    );

    // The first export was refused with 503 and retried: nothing was lost. Spans are counted.
    assert_eq!(received.refused, 1);
    let metrics = gw.admin("/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.lines()
            .any(|l| l.starts_with("wafka_trace_spans_total{outcome=\"exported\"}")),
        "{text}"
    );
    gw.shutdown().await;
}
