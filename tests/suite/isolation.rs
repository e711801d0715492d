//! No request observes another request's data. A hostile filter looks through its whole linear
//! memory for the bodies of earlier requests, then leaves its own body in a static, on the heap,
//! on the stack and in freshly grown memory, and sometimes traps or runs into its deadline with
//! it there. Across 10,000 concurrent requests it must never find another request's body: the
//! gateway resets each instance slot's memory before the next request uses it. Run once per
//! memory-reset setting the gateway ships.

use std::sync::Arc;

use tokio::sync::Semaphore;
use wafka::filter::MemoryReset;
use wafka_tests::{Broker, TestGateway, request};

const ROUTES: &str = r#"
[[routes]]
name = "residue"
path = "/v1/residue"
topic = "residue"
filter_timeout_ms = 5000
filters = [{ name = "residue", config = { act = "residue" } }]

# The same filter with a short deadline, for the requests that run into it.
[[routes]]
name = "residue-loop"
path = "/v1/residue-loop"
topic = "residue"
filter_timeout_ms = 20
filters = [{ name = "residue", config = { act = "residue" } }]
"#;

const REQUESTS: usize = 10_000;
const CONCURRENCY: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_sees_another_requests_data_with_pagemap_or_auto_reset() {
    no_residue(MemoryReset::Auto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_sees_another_requests_data_with_decommit_reset() {
    no_residue(MemoryReset::Decommit).await;
}

/// How request `n` ends once its body is in memory: mostly an answer, sometimes a trap, a
/// deadline or a memory grown past what the pagemap reset copies back.
fn ending(n: usize) -> &'static str {
    match n % 50 {
        0 => "trap",
        1 => "loop",
        2..=4 => "grow",
        _ => "answer",
    }
}

async fn no_residue(reset: MemoryReset) {
    // The hostile fixture under a name of its own: metrics are process-wide, and the security
    // tests count the hostile filter's outcomes.
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(ROUTES)
        .configure(move |c| c.filters.memory_reset = reset)
        .start_with(|dir| {
            std::fs::copy(wafka_tests::wasm("hostile"), dir.join("residue.wasm")).unwrap();
        })
        .await;
    let addr = gw.gateway().addr();
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::with_capacity(REQUESTS);
    for n in 0..REQUESTS {
        let permit = slots.clone().acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let body = format!("secret{n:06}");
            let then = ending(n);
            let path = if then == "loop" {
                "/v1/residue-loop"
            } else {
                "/v1/residue"
            };
            let res = request(addr, "POST", path, &[("x-then", then)], body).await;
            (n, then, res)
        }));
    }
    let (mut answered, mut trapped, mut timed_out) = (0, 0, 0);
    for task in tasks {
        let (n, then, res) = task.await.unwrap();
        match then {
            "trap" => {
                assert_eq!(res.error_code(), "filter_failed", "request {n}");
                trapped += 1;
            }
            "loop" => {
                assert_eq!(res.error_code(), "filter_timeout", "request {n}");
                timed_out += 1;
            }
            _ => {
                assert_eq!(res.status, 200, "request {n}: {}", res.json());
                let json = res.json();
                assert_eq!(
                    json["found"],
                    serde_json::json!([]),
                    "request {n} ({reset:?}) saw data of earlier requests"
                );
                // The scan works: it sees this request's own copies (static, heap, stack,
                // and the grown memory's).
                let own: usize = json["own"][0].as_str().unwrap().parse().unwrap();
                assert!(
                    own >= 3,
                    "request {n} found only {own} copies of its own data"
                );
                answered += 1;
            }
        }
    }
    assert_eq!((trapped, timed_out), (REQUESTS / 50, REQUESTS / 50));
    assert_eq!(answered, REQUESTS - trapped - timed_out);
    gw.shutdown().await;
}
