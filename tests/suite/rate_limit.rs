//! `rate-limit` in a real gateway: buckets per API key, 429 with Retry-After, and buckets that
//! survive a reload of the config (they live in the gateway's `state` interface).

use std::time::{Duration, Instant};

use wafka_tests::kafka::read_all;
use wafka_tests::{Broker, TestGateway};

fn routes(burst: u32) -> String {
    format!(
        r#"
[[routes]]
name = "events"
path = "/v1/events"
topic = "events"
filters = [{{ name = "rate-limit", config = {{ rate = 1, burst = {burst}, by = {{ header = "x-api-key" }} }} }}]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_gets_its_burst_then_429_and_buckets_survive_a_reload() {
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(&routes(3))
        .filter("rate-limit")
        .watched()
        .start()
        .await;
    let client = &gw;
    let post = move |key: &'static str| async move {
        client
            .send("POST", "/v1/events", &[("x-api-key", key)], "{}")
            .await
    };

    // The burst passes, then 429; a slow machine may see a token refilled meanwhile.
    let started = Instant::now();
    let mut first = 0;
    let res = loop {
        let res = post("alice").await;
        if res.status != 200 {
            break res;
        }
        first += 1;
        assert!(
            first <= 3 + started.elapsed().as_secs() as usize,
            "{first} passed after {:?}",
            started.elapsed()
        );
    };
    assert!(first >= 3, "only {first} of the burst of 3 passed");
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (429, "rate_limited")
    );
    assert_eq!(res.header("retry-after"), Some("1"));
    assert_eq!(post("bob").await.status, 200, "bob has his own bucket");

    // A new config (burst 4) reloads the route; alice's bucket is the same one.
    let before = gw.reloads().await;
    gw.write_routes(&routes(4));
    gw.reloaded(&before, true).await;
    let mut passed = 0;
    for _ in 0..3 {
        passed += usize::from(post("alice").await.status == 200);
    }
    // A fresh bucket would pass all three; the old one refilled one token a second at most.
    let refilled = started.elapsed().as_secs() as usize + 1;
    assert!(
        passed < 3 && passed <= refilled,
        "{passed} passed after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "too slow to tell buckets apart"
    );
    assert_eq!(read_all(&gw.bootstrap, "events").len(), first + 1 + passed);
    gw.shutdown().await;
}
