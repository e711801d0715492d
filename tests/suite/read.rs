//! Read routes over real HTTP against the real gateway and broker: long-poll, positions that
//! resume on another gateway and after a restart, server-sent events resumed with
//! `Last-Event-ID`, group commits, filters guarding and reshaping reads, clear 400s.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::Digest;
use wafka_tests::{Broker, TestGateway, sse};

use crate::on_both_brokers;

on_both_brokers!(
    long_poll_waits_and_answers_when_a_record_arrives,
    positions_resume_on_another_gateway_without_gap_or_duplicate,
    events_resume_after_the_last_event_id,
    a_group_commits_and_starts_where_it_committed,
    filters_refuse_reads_and_reshape_records,
    bad_positions_and_parameters_answer_400,
    a_stream_is_logged_and_counted_when_it_ends
);

// Embedded only: tansu 0.6.0 answers a fetch from an offset inside a record batch with the
// batches after it, so any Kafka client skips the rest of that batch there (a plain rdkafka
// consumer assigned at offset 500 of a 968-record batch gets 968 first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_up_through_large_batches_skips_nothing() {
    catch_up_through_large_batches(Broker::Embedded).await;
}

/// librdkafka's errors reach a tail's consumer as logs when it takes records many at a time;
/// they go to the gateway's log, not raw to stderr (tansu only: the test kills the broker).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_whose_broker_dies_says_so_in_the_gateways_log() {
    let gw = gateway(Broker::Tansu).await;
    let addr = gw.gateway().addr();
    let mut stream = sse::open(addr, "/v1/events/web", &[]).await;
    assert_eq!(stream.status, 200);
    produce(&gw, 1, "tail").await;
    assert_eq!(stream.take(1, Duration::from_secs(10)).await.len(), 1);

    let tansu = gw.tansu().expect("a tansu gateway");
    let port = tansu.bootstrap.rsplit(':').next().unwrap().to_owned();
    tansu.kill();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logged = wafka_tests::logs::lines_with("wafka-reader#");
        if logged
            .iter()
            .any(|l| l.contains("librdkafka") && l.contains(&port))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no reader error in the gateway's log 20 s after its broker died: {logged:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Read routes' consumers never commit on their own, whatever `[kafka.consumer]` says: a
/// commit's result would reach a consumer read many records at a time, which cannot take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_consumers_ignore_auto_commit_settings() {
    use wafka::config::PropertyValue;
    let gw = builder(Broker::Embedded)
        .configure(|config| {
            for (name, value) in [
                ("enable.auto.commit", PropertyValue::Bool(true)),
                ("enable.auto.offset.store", PropertyValue::Bool(true)),
                ("auto.commit.interval.ms", PropertyValue::Integer(100)),
            ] {
                config.kafka.consumer.insert(name.to_owned(), value);
            }
        })
        .topics(&["events.web", "events.mobile"])
        .start()
        .await;
    produce(&gw, 3, "commit").await;
    // A catch-up read, then a wait on the tail long past the commit interval, then one more.
    let (read, next) = places(&get(&gw, "/v1/events/web?from=earliest").await);
    assert_eq!(read.len(), 3);
    let waited = get(&gw, &format!("/v1/events/web?from={next}&timeout_ms=700")).await;
    assert_eq!(places(&waited).0.len(), 0);
    produce(&gw, 1, "after").await;
    let (last, _) = places(&get(&gw, &format!("/v1/events/web?from={next}")).await);
    assert_eq!(last.len(), 1);
    gw.shutdown().await;
}

fn digest(key: &str) -> String {
    let d = sha2::Sha256::digest(key.as_bytes());
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Route names the stream test counts by carry the broker's name: metrics are per process,
/// and the embedded and tansu runs of a scenario run at once.
fn tag(broker: Broker) -> &'static str {
    match broker {
        Broker::Embedded => "embedded",
        Broker::Tansu => "tansu",
    }
}

fn routes(broker: Broker) -> String {
    let tag = tag(broker);
    format!(
        r#"
[[routes]]
name = "produce"
path = "/v1/events/{{source}}"
topic = "events"
filters = [{{ name = "topic-router", config = {{ param = "source", template = "events.{{}}", allow = ["events.*"] }} }}]

[[routes]]
name = "read"
path = "/v1/events/{{source}}"
topic = "events.{{source}}"
read = {{ max_wait_ms = 10000, max_stream_ms = 60000 }}

[[routes]]
name = "guarded"
path = "/v1/guarded/{{source}}"
topic = "events.{{source}}"
filters = [
  {{ name = "api-key-auth", config = {{ keys = [{{ id = "acme", sha256 = "{}", topics = ["events.web"] }}] }} }},
  {{ name = "json-mask", config = {{ mask = ["/card"], only_matching = {{ pointer = "/tenant", header = "x-tenant" }} }} }},
]
read = {{ max_wait_ms = 2000 }}

[[routes]]
name = "brief-{tag}"
path = "/v1/brief/{{source}}"
topic = "events.{{source}}"
read = {{ max_wait_ms = 1000, max_stream_ms = 5000 }}

[[routes]]
name = "trapped-{tag}"
path = "/v1/trapped/{{source}}"
topic = "events.{{source}}"
filters = [{{ name = "trap", config = {{ on = "records" }} }}]
read = {{ max_wait_ms = 2000 }}
"#,
        digest("k-acme")
    )
}

async fn gateway(broker: Broker) -> TestGateway {
    builder(broker)
        .topics(&["events.web", "events.mobile"])
        .start()
        .await
}

fn builder(broker: Broker) -> wafka_tests::TestGatewayBuilder {
    TestGateway::builder(broker)
        .routes(&routes(broker))
        .filter("topic-router")
        .filter("api-key-auth")
        .filter("json-mask")
        .filter("trap")
}

async fn produce(gw: &TestGateway, n: usize, tag: &str) {
    for i in 0..n {
        let res = gw
            .post("/v1/events/web", format!(r#"{{"tag":"{tag}","n":{i}}}"#))
            .await;
        assert_eq!(res.status, 200, "{}", res.json());
    }
}

async fn get(gw: &TestGateway, path: &str) -> Value {
    let res = gw.send("GET", path, &[], "").await;
    assert_eq!(res.status, 200, "{path}: {}", res.json());
    res.json()
}

/// (partition, offset) of each record, and the `next` token.
fn places(answer: &Value) -> (Vec<(i64, i64)>, String) {
    let records = answer["records"].as_array().unwrap();
    let places = records
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    (places, answer["next"].as_str().unwrap().to_owned())
}

async fn long_poll_waits_and_answers_when_a_record_arrives(broker: Broker) {
    let gw = gateway(broker).await;
    let addr = gw.gateway().addr();
    let started = Instant::now();
    let waiting = tokio::spawn(async move {
        wafka_tests::request(addr, "GET", "/v1/events/web?timeout_ms=8000", &[], "").await
    });
    // The fetch is waiting once the gateway lists it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.admin("/admin/streams").await.json()["readers"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the fetch never waited");
    }
    let produced_at = started.elapsed();
    produce(&gw, 1, "late").await;
    let res = waiting.await.unwrap();
    let took = started.elapsed();
    assert_eq!(res.status, 200);
    let answer = res.json();
    assert_eq!(answer["records"][0]["value"]["tag"], "late", "{answer}");
    assert!(took >= produced_at, "answered before the record existed");
    assert!(
        took < Duration::from_secs(6),
        "answered at the timeout, not at the record: {took:?}"
    );

    // Nothing new: an empty batch at the timeout, with the same position.
    let (_, next) = places(&answer);
    let started = Instant::now();
    let empty = get(&gw, &format!("/v1/events/web?from={next}&timeout_ms=300")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(empty["records"], json!([]));
    assert_eq!(empty["next"], next.as_str());
    gw.shutdown().await;
}

async fn positions_resume_on_another_gateway_without_gap_or_duplicate(broker: Broker) {
    let mut first = gateway(broker).await;
    produce(&first, 7, "a").await;
    // A second gateway on the same Kafka.
    let bootstrap = first.bootstrap.clone();
    let second = builder(Broker::Embedded)
        .configure(move |c| c.kafka.brokers = bootstrap)
        .start()
        .await;
    let mut seen = Vec::new();
    let mut from = "earliest".to_owned();
    for (i, gw) in [&first, &second, &first, &second].into_iter().enumerate() {
        let answer = get(
            gw,
            &format!("/v1/events/web?from={from}&max_records=2&timeout_ms=2000"),
        )
        .await;
        let (places, next) = places(&answer);
        assert_eq!(places.len(), if i < 3 { 2 } else { 1 }, "{answer}");
        seen.extend(places);
        from = next;
    }
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(
        (seen.len(), unique.len()),
        (7, 7),
        "a gap or a duplicate: {seen:?}"
    );

    if broker == Broker::Tansu {
        // The same position after a restart: nothing again, then only what is new.
        first.restart().await;
        produce(&first, 2, "b").await;
        let answer = get(
            &first,
            &format!("/v1/events/web?from={from}&timeout_ms=2000"),
        )
        .await;
        let tags: Vec<&str> = answer["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"]["tag"].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["b", "b"], "{answer}");
    }
    second.shutdown().await;
    first.shutdown().await;
}

/// Records produced in batches of a thousand, then read from the start in answers of 128 (so
/// nearly every position falls inside a batch): every offset of every partition, once.
async fn catch_up_through_large_batches(broker: Broker) {
    const BATCHES: usize = 3;
    const PER_BATCH: usize = 1000;
    let gw = TestGateway::builder(broker)
        .routes(
            r#"
[[routes]]
name = "lines"
path = "/v1/lines"
topic = "lines"
body = "ndjson"

[[routes]]
name = "read"
path = "/v1/lines"
topic = "lines"
read = { max_records = 128 }
"#,
        )
        .topics(&["lines"])
        .start()
        .await;
    for b in 0..BATCHES {
        let lines: String = (0..PER_BATCH).map(|i| format!("{b}-{i}\n")).collect();
        let res = gw
            .send(
                "POST",
                "/v1/lines",
                &[("content-type", "application/x-ndjson")],
                lines,
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.json());
    }
    let mut offsets: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    let mut from = "earliest".to_owned();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while read < BATCHES * PER_BATCH {
        assert!(
            Instant::now() < deadline,
            "read {read} records: {offsets:?}"
        );
        let path = format!("/v1/lines?from={from}&timeout_ms=2000");
        // Every fourth answer is lost and asked for again from the same place: the gateway
        // keeps a consumer where the lost answer stopped, which must not serve the retry (the
        // offsets checked below would then have a gap).
        if read % 512 == 0 {
            get(&gw, &path).await;
        }
        let (places, next) = places(&get(&gw, &path).await);
        read += places.len();
        for (partition, offset) in places {
            offsets.entry(partition).or_default().push(offset);
        }
        from = next;
    }
    assert_eq!(read, BATCHES * PER_BATCH);
    for (partition, seen) in &offsets {
        let expected: Vec<i64> = (0..seen.len() as i64).collect();
        assert_eq!(
            seen, &expected,
            "partition {partition}: a gap or a duplicate"
        );
    }
    gw.shutdown().await;
}

async fn events_resume_after_the_last_event_id(broker: Broker) {
    let gw = gateway(broker).await;
    produce(&gw, 3, "a").await;
    let addr = gw.gateway().addr();
    let mut stream = sse::open(addr, "/v1/events/web?from=earliest", &[]).await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    assert_eq!(
        stream.headers["x-accel-buffering"], "no",
        "proxies must not buffer events"
    );
    let first = stream.take(3, Duration::from_secs(10)).await;
    assert_eq!(stream.retry, Some(1000));
    drop(stream);

    produce(&gw, 2, "b").await;
    let last = first.last().unwrap().id.clone();
    let mut resumed = sse::open(addr, "/v1/events/web", &[("last-event-id", last.as_str())]).await;
    let rest = resumed.take(2, Duration::from_secs(10)).await;
    let all: Vec<(i64, i64)> = first
        .iter()
        .chain(&rest)
        .map(|e| {
            (
                e.json()["partition"].as_i64().unwrap(),
                e.json()["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (5, 5), "{all:?}");
    let tags: Vec<String> = rest
        .iter()
        .map(|e| e.json()["value"]["tag"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tags, ["b", "b"]);
    // Heartbeats keep an idle stream open; nothing more arrives.
    assert_eq!(resumed.next(Duration::from_millis(500)).await, None);
    gw.shutdown().await;
}

async fn a_group_commits_and_starts_where_it_committed(broker: Broker) {
    let gw = gateway(broker).await;
    produce(&gw, 5, "g").await;
    let answer = get(
        &gw,
        "/v1/events/web?from=earliest&max_records=3&timeout_ms=2000",
    )
    .await;
    let (read, next) = places(&answer);
    assert_eq!(read.len(), 3);
    let res = gw
        .send(
            "POST",
            "/v1/events/web/offsets?group=dashboard",
            &[],
            format!(r#"{{"position":"{next}"}}"#),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let committed = get(&gw, "/v1/events/web/offsets?group=dashboard").await;
    assert_eq!(committed["position"], next.as_str(), "{committed}");
    // The group's position as Kafka keeps it, read with a plain consumer.
    let offsets: u64 = committed["offsets"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(offsets, 3, "{committed}");

    // No position of its own: the client starts where the group committed.
    let rest = get(&gw, "/v1/events/web?group=dashboard&timeout_ms=2000").await;
    let (rest, _) = places(&rest);
    let all: BTreeSet<_> = read.iter().chain(&rest).collect();
    assert_eq!((rest.len(), all.len()), (2, 5));
    gw.shutdown().await;
}

async fn filters_refuse_reads_and_reshape_records(broker: Broker) {
    let gw = gateway(broker).await;
    // No key: refused before anything is read (the topic does not even exist).
    let res = gw
        .send("GET", "/v1/guarded/nowhere?from=earliest", &[], "")
        .await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (401, "missing_api_key")
    );
    // A key that may read events.web only.
    let key = [("x-api-key", "k-acme"), ("x-tenant", "acme")];
    let res = gw
        .send("GET", "/v1/guarded/mobile?from=earliest", &key, "")
        .await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (403, "topic_forbidden")
    );
    assert!(
        gw.admin("/admin/streams").await.json()["readers"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    for (tenant, card) in [("acme", "4111"), ("initech", "5500"), ("acme", "3700")] {
        let body = format!(r#"{{"tenant":"{tenant}","card":"{card}"}}"#);
        assert_eq!(gw.post("/v1/events/web", body).await.status, 200);
    }
    let res = gw
        .send(
            "GET",
            "/v1/guarded/web?from=earliest&timeout_ms=2000",
            &key,
            "",
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let values: Vec<Value> = res.json()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].clone())
        .collect();
    assert_eq!(
        values,
        [
            json!({"tenant": "acme", "card": "***"}),
            json!({"tenant": "acme", "card": "***"})
        ]
    );
    gw.shutdown().await;
}

async fn bad_positions_and_parameters_answer_400(broker: Broker) {
    let gw = gateway(broker).await;
    let other_topic = get(&gw, "/v1/events/mobile?timeout_ms=1").await["next"]
        .as_str()
        .unwrap()
        .to_owned();
    for (query, code) in [
        ("from=not-a-token!", "invalid_position"),
        (&*format!("from={other_topic}"), "invalid_position"),
        ("max_records=lots", "invalid_parameter"),
        ("max_records=0", "invalid_parameter"),
        ("timeout_ms=-1", "invalid_parameter"),
        ("group=no%20spaces", "invalid_parameter"),
        ("color=blue", "invalid_parameter"),
    ] {
        let res = gw
            .send("GET", &format!("/v1/events/web?{query}"), &[], "")
            .await;
        assert_eq!(
            (res.status, res.error_code()),
            (400, code.to_owned()),
            "{query}: {}",
            res.json()
        );
    }
    let res = gw
        .send(
            "POST",
            "/v1/events/web/offsets?group=g",
            &[],
            r#"{"position":"zz"}"#,
        )
        .await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (400, "invalid_position")
    );
    let res = gw.send("GET", "/v1/events/web/offsets", &[], "").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (400, "invalid_parameter")
    );
    gw.shutdown().await;
}

/// `metric{labels}` once it reaches `want`: a stream is counted when hyper lets go of its body,
/// just after the client saw its end.
async fn metric_reaches(gw: &TestGateway, name: &str, labels: &[(&str, &str)], want: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = wafka_tests::prometheus::value(&gw.metrics().await, name, labels);
        if seen == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} is {seen}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_stream_is_logged_and_counted_when_it_ends(broker: Broker) {
    let gw = gateway(broker).await;
    produce(&gw, 3, "s").await;
    let addr = gw.gateway().addr();
    let (brief_route, trapped_route) = (
        format!("brief-{}", tag(broker)),
        format!("trapped-{}", tag(broker)),
    );
    let brief = [("route", brief_route.as_str())];

    // Open and carrying records, the stream is not yet an answered request.
    let mut stream = sse::open(addr, "/v1/brief/web?from=earliest", &[]).await;
    assert_eq!(stream.status, 200);
    let id = stream.headers["x-request-id"].to_str().unwrap().to_owned();
    let events = stream.take(3, Duration::from_secs(10)).await;
    let samples = gw.metrics().await;
    let count = |name: &str| wafka_tests::prometheus::value(&samples, name, &brief);
    assert_eq!(count("wafka_http_requests_total"), 0.0);
    assert_eq!(count("wafka_http_request_duration_seconds_count"), 0.0);

    // `max_stream_ms` ends it: then it is counted and logged once, with what it carried.
    let rest = stream.rest(Duration::from_secs(15)).await;
    assert!(rest.iter().all(|e| e.data.is_empty()), "{rest:?}");
    let ended = [("route", brief_route.as_str()), ("ended", "max_stream_ms")];
    metric_reaches(&gw, "wafka_http_streams_ended_total", &ended, 1.0).await;
    let samples = gw.metrics().await;
    let count = |name: &str, labels: &[(&str, &str)]| {
        wafka_tests::prometheus::value(&samples, name, labels)
    };
    let ok = [("route", brief_route.as_str()), ("status", "200")];
    assert_eq!(count("wafka_http_requests_total", &ok), 1.0);
    assert_eq!(
        count("wafka_http_request_duration_seconds_count", &brief),
        1.0
    );
    let logged = wafka_tests::logs::lines_with(&id);
    let line = logged
        .iter()
        .find(|l| l.contains("wafka::access"))
        .unwrap_or_else(|| panic!("no access line for {id}: {logged:?}"));
    let bytes: usize = events.iter().map(|e| e.data.len()).sum();
    let logged_bytes: usize = field(line, "bytes").parse().unwrap();
    assert!(
        line.contains("records=3") && line.contains("ended=\"max_stream_ms\""),
        "{line}"
    );
    assert!(
        logged_bytes > bytes,
        "{logged_bytes} bytes logged, {bytes} of data sent: {line}"
    );

    // A filter that fails on the records read ends the stream in its middle: the client gets an
    // `error` event, and the route counts the failure and how the stream ended.
    let mut stream = sse::open(addr, "/v1/trapped/web?from=earliest", &[]).await;
    assert_eq!(stream.status, 200);
    let rest = stream.rest(Duration::from_secs(10)).await;
    let error = rest
        .iter()
        .find(|e| e.event == "error")
        .unwrap_or_else(|| panic!("no error event: {rest:?}"));
    assert_eq!(error.json()["code"], "filter_failed", "{}", error.data);
    let trapped = [("route", trapped_route.as_str()), ("ended", "failed")];
    metric_reaches(&gw, "wafka_http_streams_ended_total", &trapped, 1.0).await;
    let failed = [("route", trapped_route.as_str()), ("code", "filter_failed")];
    let samples = gw.metrics().await;
    assert_eq!(
        wafka_tests::prometheus::value(&samples, "wafka_http_request_errors_total", &failed),
        1.0
    );
    gw.shutdown().await;
}

/// The value of `name=` in a log line (quotes removed).
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(&format!(" {name}="))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + name.len()
        + 2;
    let value = &line[start..];
    value[..value.find(' ').unwrap_or(value.len())].trim_matches('"')
}
