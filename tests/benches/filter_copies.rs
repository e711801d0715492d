//! What a filter pays to see the request, with host-owned resources (the WIT's choice) versus
//! passing request and records by value.
//!
//! The `peek` fixture either reads one header (what an auth filter does, and all it copies with
//! resources) or copies the body and the record value into guest memory and the value back out
//! (what every filter would pay if the WIT passed them by value). Both run the real chain:
//! fresh store, instantiate, call. Run: `cargo bench -p wafka-tests --bench filter_copies`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wafka::exchange::{Access, Record, RequestInfo};
use wafka::filter::{self, FilterEngine, LoadedFilter, Step};

fn request(body: Bytes) -> Arc<RequestInfo> {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-api-key", http::HeaderValue::from_static("k1"));
    Arc::new(RequestInfo {
        id: "bench".into(),
        method: "POST".into(),
        path: "/v1/events".into(),
        query: None,
        route: "bench".into(),
        params: Vec::new(),
        headers,
        client: SocketAddr::from(([127, 0, 0, 1], 40000)),
        client_subject: None,
        received_at_ms: 0,
        body,
        access: Access::Write,
        trace: None,
    })
}

fn copies(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = Arc::new(FilterEngine::new(Default::default(), 64).unwrap());
    let peek = Arc::new(LoadedFilter::load(&engine, "peek", &wafka_tests::wasm("peek")).unwrap());
    let step = |read: &str| {
        vec![Arc::new(Step {
            pool: None,
            filter: peek.clone(),
            config_json: format!(r#"{{"read":"{read}"}}"#).into(),
            state: Default::default(),
            sees_records: false,
            identity: Default::default(),
            schemas: None,
        })]
    };
    let limits = filter::Limits {
        timeout: Duration::from_secs(5),
        max_records: 10,
        max_output_bytes: 64 << 20,
    };

    let mut group = c.benchmark_group("filter_copies");
    for size in [1024usize, 64 * 1024, 1024 * 1024] {
        let body = Bytes::from(vec![b'x'; size]);
        group.throughput(Throughput::Bytes(size as u64));
        for read in ["header", "body"] {
            let steps = step(read);
            group.bench_with_input(BenchmarkId::new(read, size), &body, |b, body| {
                b.to_async(&runtime).iter(|| async {
                    let mut record = Record::new("events");
                    record.value = Some(body.clone());
                    let out = filter::run(
                        engine.engine(),
                        &steps,
                        request(body.clone()),
                        vec![record],
                        limits,
                        None,
                    )
                    .await
                    .unwrap();
                    assert!(matches!(out, filter::ChainOutcome::Forward(_)));
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, copies);
criterion_main!(benches);
