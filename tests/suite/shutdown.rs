//! SIGTERM on the real binary: stop accepting, answer what is in flight, flush, exit 0.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wafka_tests::broker::{Tansu, free_port};
use wafka_tests::kafka::read_all;
use wafka_tests::try_request;

pub(crate) use wafka_tests::process::wafka_binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_requests_in_flight_flushes_and_exits_zero() {
    let tansu = Tansu::start();
    for topic in ["clicks", "orders"] {
        tansu.create_topic(topic, 1);
    }
    let dir = tempfile::tempdir().unwrap();
    let (port, admin_port) = (free_port(), free_port());
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin_port}"

[kafka]
brokers = "{}"

[[routes]]
name = "async"
path = "/v1/async"
topic = "clicks"
mode = "async"

[[routes]]
name = "sync"
path = "/v1/sync"
topic = "orders"
"#,
        tansu.bootstrap
    );
    std::fs::create_dir(dir.path().join("filters.d")).unwrap();
    let config_path = dir.path().join("wafka.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(wafka_binary())
        .args(["run", "--config"])
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wafka");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while try_request(admin, "GET", "/healthz", &[], "")
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "wafka did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for i in 0..50 {
        let res = try_request(addr, "POST", "/v1/async", &[], format!("click-{i}"))
            .await
            .unwrap();
        assert_eq!(res.status, 202);
    }
    // A sync request waits for an acknowledgement the paused broker holds back.
    tansu.pause();
    let in_flight = tokio::spawn(try_request(addr, "POST", "/v1/sync", &[], "order"));
    loop {
        let status = try_request(admin, "GET", "/admin/kafka", &[], "")
            .await
            .unwrap()
            .json();
        if status["in_flight"]["records"].as_u64() >= Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sync request never reached the producer"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    // New connections are refused once the listener is closed (requests that raced the
    // signal may still have been taken, and must then be delivered).
    let mut late = 0;
    while let Ok(res) = try_request(addr, "POST", "/v1/async", &[], "late").await {
        late += usize::from(res.status == 202);
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tansu.resume();
    let answer = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(answer.status, 200, "{}", answer.json());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");

    let clicks = read_all(&tansu.bootstrap, "clicks");
    let mut values: Vec<_> = clicks
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    values.sort();
    let mut expected: Vec<_> = (0..50).map(|i| format!("click-{i}")).collect();
    expected.extend(std::iter::repeat_n("late".to_owned(), late));
    expected.sort();
    assert_eq!(values, expected, "every 202 record, once");
    assert_eq!(read_all(&tansu.bootstrap, "orders").len(), 1);
}

/// `wafka run` checks the producer properties as `wafka check` does, before librdkafka sees
/// them: the error names the property and masks a secret's value.
#[test]
fn run_with_a_bad_secret_property_prints_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("filters.d")).unwrap();
    let config = r#"
[kafka.producer]
"sasl.password" = "hunter2"
"no.such.secret" = "hunter3"

[[routes]]
name = "events"
path = "/v1/events"
topic = "events"
"#;
    let path = dir.path().join("wafka.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(wafka_binary())
        .args(["run", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kafka.producer") && stderr.contains("no.such.secret"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("hunter3"),
        "{stderr}"
    );
}

/// The quick start as a newcomer runs it (examples/wafka.toml on the embedded cluster, the
/// shipped filters), used on every kind of route, then Ctrl-C: it exits 0 and prints no
/// ERROR line (a newcomer reads one as a failure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_of_the_quick_start_exits_zero_and_prints_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let filters = dir.path().join("filters.d");
    std::fs::create_dir(&filters).unwrap();
    for name in ["json-enrich", "topic-router", "jwt-auth"] {
        std::fs::copy(
            wafka_tests::wasm(name),
            filters.join(format!("{name}.wasm")),
        )
        .unwrap();
    }
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/wafka.toml");
    let (port, admin_port, registry_port) = (free_port(), free_port(), free_port());
    let config = std::fs::read_to_string(example)
        .unwrap()
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{admin_port}"))
        .replace(
            "[schema_registry]\n",
            &format!("[schema_registry]\nlisten = \"127.0.0.1:{registry_port}\"\n"),
        );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let mut wafka =
        wafka_tests::process::Wafka::start(dir.path(), "wafka", &config, addr, admin).await;
    // Produce, read back (long-poll and a stream, which start consumers), a REST Proxy
    // consumer: every kind of Kafka client the gateway holds.
    let body = r#"{"action":"click"}"#;
    let headers = [("content-type", "application/json")];
    let res = wafka_tests::request(addr, "POST", "/v1/events/web", &headers, body).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let read = wafka_tests::request(addr, "GET", "/v1/events/web?from=earliest", &[], "").await;
    assert_eq!(read.json()["records"].as_array().unwrap().len(), 1);
    let mut stream = wafka_tests::sse::open(addr, "/v1/events/web?from=earliest", &[]).await;
    assert_eq!(stream.take(1, Duration::from_secs(10)).await.len(), 1);
    let v2 = [("content-type", "application/vnd.kafka.v2+json")];
    let created = wafka_tests::request(addr, "POST", "/consumers/g", &v2, r#"{"name":"c"}"#).await;
    assert_eq!(created.status, 200, "{}", created.json());

    // Ctrl-C is SIGINT.
    let pid = wafka.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wafka.exited(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
    let log = wafka.log();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(
        errors.is_empty(),
        "ERROR lines at shutdown:\n{}",
        errors.join("\n")
    );
    assert!(log.contains("stopped"), "{log}");
}
