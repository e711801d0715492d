//! One memory budget: clients that send most of a large body and stall cannot make the gateway
//! hold more than `server.max_memory_bytes`; their bodies are shed, oldest first, while other
//! clients keep being answered (200, or 503 `overloaded` with `Retry-After`: never a timeout
//! or a reset), and the memory comes back when they go.

use std::io::Write;
use std::time::{Duration, Instant};

use wafka_tests::{Broker, TestGateway, try_request};

const ROUTES: &str = r#"
[[routes]]
name = "raw"
path = "/v1/raw"
topic = "raw"
"#;

/// A budget of 8 MiB; 24 clients each send 600 KiB of a 1 MiB body and stop.
const BUDGET: usize = 8 << 20;
const STALLED: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_are_shed_and_others_are_answered() {
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(ROUTES)
        .configure(|c| {
            c.server.max_memory_bytes = Some(BUDGET);
            c.server.max_output_bytes = 2 << 20;
            c.server.request_timeout_ms = 60_000;
        })
        .start()
        .await;
    let addr = gw.gateway().addr();
    let mut stalled = Vec::new();
    for _ in 0..STALLED {
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        write!(
            socket,
            "POST /v1/raw HTTP/1.1\r\nhost: x\r\ncontent-length: 1048576\r\n\r\n"
        )
        .unwrap();
        socket.write_all(&vec![b'x'; 600 << 10]).unwrap();
        stalled.push(socket);
    }
    // The budget fills, and the gateway sheds the stalled bodies.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let memory = gw.admin("/admin/memory").await.json();
        assert!(
            memory["used_bytes"].as_u64().unwrap() as usize <= BUDGET,
            "{memory}"
        );
        if memory["actions"]["shed"].as_u64().unwrap() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no body was shed: {memory}");
    }

    // Meanwhile other clients are answered at once: 200, or 503 with Retry-After.
    let (mut ok, mut refused) = (0, 0);
    for i in 0..40 {
        let res = try_request(addr, "POST", "/v1/raw", &[], format!("{{\"n\":{i}}}"))
            .await
            .unwrap_or_else(|e| panic!("request {i} got no answer: {e}"));
        match res.status {
            200 => ok += 1,
            503 => {
                assert_eq!(res.error_code(), "overloaded");
                assert!(res.header("retry-after").is_some());
                refused += 1;
            }
            other => panic!("request {i}: {other} {}", res.json()),
        }
    }
    assert!(ok > 0, "no request got through ({refused} refused)");

    // The stalled clients were told, and the memory comes back once they are gone.
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let memory = gw.admin("/admin/memory").await.json();
        if memory["used_bytes"] == 0 {
            assert_eq!(memory["level"], "normal");
            break;
        }
        assert!(Instant::now() < deadline, "memory not given back: {memory}");
    }
    assert_eq!(gw.admin("/readyz").await.status, 200);
    gw.shutdown().await;
}
