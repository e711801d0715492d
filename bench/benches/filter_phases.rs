//! Where one filter's cost per request goes, phase by phase, as the gateway pays it: a fresh
//! store (and its resource table), instantiation from the pooling allocator, the call, and the
//! store's drop, which hands the instance back to the pool and resets its memory.
//!
//! Each filter runs single-threaded (one request at a time) and concurrently (a tokio runtime
//! with one worker per core, each running requests back to back, as the server's workers do),
//! once per memory-reset setting. Page faults per request are read from `/proc/self/stat`;
//! `bench/filter_phases.sh` adds system calls per request with `perf stat`.
//!
//! Run: `cargo bench -p wafka-bench --bench filter_phases` (env: `REQUESTS`, default 20000;
//! `FILTERS`, default `topic-router json-enrich`; `RESETS`, default `decommit auto`;
//! `THREADS`, default `1` and the number of cores).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use wafka::exchange::{Access, Record, RequestInfo};
use wafka::filter::{FilterEngine, Limits, LoadedFilter, MemoryReset, RequestStore, Step};

/// Nanoseconds spent in each phase, summed over requests and threads.
#[derive(Default)]
struct Phases {
    store: AtomicU64,
    instantiate: AtomicU64,
    call: AtomicU64,
    reset: AtomicU64,
}

impl Phases {
    fn add(&self, phase: &AtomicU64, since: Instant) -> Instant {
        let now = Instant::now();
        phase.fetch_add((now - since).as_nanos() as u64, Ordering::Relaxed);
        now
    }

    fn per_request(&self, requests: u64) -> [f64; 4] {
        [&self.store, &self.instantiate, &self.call, &self.reset]
            .map(|p| p.load(Ordering::Relaxed) as f64 / requests as f64 / 1000.0)
    }
}

fn request(body: &Bytes) -> Arc<RequestInfo> {
    Arc::new(RequestInfo {
        id: "bench".into(),
        method: "POST".into(),
        path: "/v1/events/web".into(),
        query: None,
        route: "bench".into(),
        params: vec![("source".into(), "web".into())],
        headers: http::HeaderMap::new(),
        client: SocketAddr::from(([127, 0, 0, 1], 40000)),
        client_subject: None,
        received_at_ms: 1_795_517_628_123,
        body: body.clone(),
        access: Access::Write,
        trace: None,
    })
}

/// One request through one filter, timing each phase.
async fn one(engine: &FilterEngine, step: &Arc<Step>, body: &Bytes, phases: &Phases) {
    let limits = Limits {
        timeout: Duration::from_secs(5),
        max_records: 100,
        max_output_bytes: 16 << 20,
    };
    let mut record = Record::new("events.web");
    record.value = Some(body.clone());
    let t = Instant::now();
    let mut store =
        RequestStore::new(engine.engine(), request(body), vec![record], limits, None).unwrap();
    let t = phases.add(&phases.store, t);
    let mut instance = store.instantiate(step).await.unwrap();
    let t = phases.add(&phases.instantiate, t);
    let answered = store.call(&mut instance).await.unwrap();
    assert!(answered.is_none(), "the filter forwards");
    let t = phases.add(&phases.call, t);
    drop(store);
    phases.add(&phases.reset, t);
}

/// Minor and major page faults of this process so far.
fn faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): minflt is the 10th field.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(7) + get(9)
}

struct Row {
    phases: [f64; 4],
    wall_per_request: f64,
    faults_per_request: f64,
}

fn run(
    engine: &Arc<FilterEngine>,
    step: &Arc<Step>,
    body: &Bytes,
    requests: u64,
    workers: usize,
) -> Row {
    let phases = Arc::new(Phases::default());
    let runtime = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
    .unwrap();
    // Warm up: slots touched once, caches filled.
    runtime.block_on(async {
        for _ in 0..200 {
            one(engine, step, body, &Phases::default()).await;
        }
    });
    // One request at a time per worker: a phase's time is then that phase's own, not other
    // requests' that ran while it awaited.
    let tasks = workers as u64;
    let faults_before = faults();
    let started = Instant::now();
    runtime.block_on(async {
        let mut handles = Vec::new();
        for t in 0..tasks {
            let (engine, step, body, phases) =
                (engine.clone(), step.clone(), body.clone(), phases.clone());
            let share = requests / tasks + u64::from(t < requests % tasks);
            handles.push(tokio::spawn(async move {
                for _ in 0..share {
                    one(&engine, &step, &body, &phases).await;
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let wall = started.elapsed();
    Row {
        phases: phases.per_request(requests),
        wall_per_request: wall.as_secs_f64() * 1e6 / requests as f64,
        faults_per_request: (faults() - faults_before) as f64 / requests as f64,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let requests: u64 = std::env::var("REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let names = std::env::var("FILTERS").unwrap_or_else(|_| "topic-router json-enrich".into());
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let head = r#"{"event":"page_view","user":{"id":1234,"name":"ada"},"pad":""#;
    let body = Bytes::from(format!("{head}{}\"}}", "x".repeat(1024 - head.len() - 2)));
    println!(
        "| filter | reset | threads | store µs | instantiate µs | call µs | reset µs | sum µs | wall µs/request | page faults/request |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let resets = std::env::var("RESETS").unwrap_or_else(|_| "decommit auto".into());
    let threads: Vec<usize> = std::env::var("THREADS").map_or_else(
        |_| vec![1, cores],
        |t| {
            t.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        },
    );
    for reset in resets.split_whitespace() {
        let reset = match reset {
            "decommit" => MemoryReset::Decommit,
            _ => MemoryReset::Auto,
        };
        let engine = Arc::new(FilterEngine::new(reset, 1000).unwrap());
        let shown = match reset.resolve() {
            Ok((MemoryReset::Pagemap, _)) => "pagemap",
            _ => "decommit",
        };
        if reset == MemoryReset::Auto && shown == "decommit" {
            continue;
        }
        for name in names.split_whitespace() {
            let config = match name {
                "topic-router" => {
                    json!({"param": "source", "template": "events.{}", "allow": ["events.*"]})
                }
                _ => json!({}),
            };
            let loaded = LoadedFilter::load(&engine, name, &wafka_tests::wasm(name)).unwrap();
            let step = Arc::new(Step {
                pool: None,
                filter: Arc::new(loaded),
                config_json: config.to_string().into(),
                state: Default::default(),
                sees_records: false,
                identity: Default::default(),
                schemas: None,
            });
            for &workers in &threads {
                let row = run(&engine, &step, &body, requests, workers);
                let [s, i, c, r] = row.phases;
                println!(
                    "| {name} | {shown} | {workers} | {s:.1} | {i:.1} | {c:.1} | {r:.1} | {:.1} | {:.1} | {:.2} |",
                    s + i + c + r,
                    row.wall_per_request,
                    row.faults_per_request
                );
            }
        }
    }
}
