//! Each shipped filter, per request with a typical 1 KiB JSON body: its `.wasm` run by the
//! gateway's engine (fresh store, instantiate, call, as for a real request) against the same
//! Rust compiled natively and called through the SDK's native stand-ins. The ratio is what
//! WebAssembly costs. For jwt-auth the three algorithms also answer "verify in the guest or
//! in the host?": the native time is what a host-provided verification would cost.
//!
//! `/wasm` runs one request at a time on one thread, a fresh instance each; `/wasm-reused` the
//! same with the route's `reuse = {}` (one instance serving request after request); `/wasm-concurrent` runs them on every core
//! at once, each thread with its own requests back to back, as the server's workers do, and
//! reports wall time × threads per request: what a request costs a core when all of them are
//! busy (cross-core effects such as TLB shootdowns show up here and not in `/wasm`).
//!
//! Run: `cargo bench -p wafka-bench --bench filters` (needs the filters built for
//! wasm32-wasip2, which building wafka-tests does).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::Mac as _;
use rsa::pkcs8::EncodePublicKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde_json::{Value, json};
use sha2::Digest as _;
use wafka::exchange::{Access, Record, RequestInfo};
use wafka::filter::{self, FilterEngine, LoadedFilter, Step};

/// A 1 KiB JSON event.
fn body() -> String {
    let head = r#"{"event":"page_view","user":{"id":1234,"name":"ada"},"items":[{"sku":"a-1"},{"sku":"b-2"}],"pad":""#;
    let pad = "x".repeat(1024 - head.len() - 2);
    format!("{head}{pad}\"}}")
}

const SECRET: &str = "a-shared-secret-of-at-least-32-bytes!";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens and the config that verifies them, for each algorithm.
struct Jwt {
    config: Value,
    tokens: Vec<(&'static str, String)>,
}

fn jwt() -> Jwt {
    let mut rng = rand::thread_rng();
    let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let ec_key = p256::ecdsa::SigningKey::random(&mut rng);
    let claims =
        json!({"sub": "ada", "aud": "wafka", "exp": 4_000_000_000u64, "topics": ["events.*"]});
    let sign = |alg: &str| {
        let signed = format!(
            "{}.{}",
            b64(json!({"alg": alg}).to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = match alg {
            "HS256" => {
                let mut mac =
                    hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                mac.update(signed.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            "RS256" => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key.clone())
                .sign(signed.as_bytes())
                .to_vec(),
            _ => {
                let s: p256::ecdsa::Signature = ec_key.sign(signed.as_bytes());
                s.to_bytes().to_vec()
            }
        };
        format!("{signed}.{}", b64(&signature))
    };
    let lf = rsa::pkcs8::LineEnding::LF;
    Jwt {
        config: json!({
            "keys": [
                {"alg": "HS256", "secret": SECRET},
                {"alg": "RS256", "pem": rsa_key.to_public_key().to_public_key_pem(lf).unwrap()},
                {"alg": "ES256", "pem": p256::PublicKey::from(ec_key.verifying_key()).to_public_key_pem(lf).unwrap()},
            ],
            "audience": "wafka",
            "topics_claim": "topics",
            "claims_to_headers": {"sub": "x-user"},
        }),
        tokens: vec![
            ("HS256", sign("HS256")),
            ("RS256", sign("RS256")),
            ("ES256", sign("ES256")),
        ],
    }
}

/// One benchmark case: a filter, its config and the request's headers.
struct Case {
    label: String,
    filter: &'static str,
    config: Value,
    headers: Vec<(&'static str, String)>,
    native: fn(&str, &wafka_sdk::Request, Vec<wafka_sdk::Record>) -> wafka_sdk::Outcome,
}

fn cases() -> Vec<Case> {
    let digest = |key: &str| {
        let d = sha2::Sha256::digest(key.as_bytes());
        format!(
            "sha256:{}",
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    };
    let mut cases = vec![
        Case {
            label: "json-enrich".into(),
            filter: "json-enrich",
            config: json!({}),
            headers: vec![],
            native: wafka_sdk::run_filter::<json_enrich::JsonEnrich>,
        },
        Case {
            label: "topic-router".into(),
            filter: "topic-router",
            config: json!({"param": "source", "template": "events.{}", "allow": ["events.*"]}),
            headers: vec![],
            native: wafka_sdk::run_filter::<topic_router::TopicRouter>,
        },
        Case {
            label: "api-key-auth".into(),
            filter: "api-key-auth",
            config: json!({"keys": [
                {"id": "a", "sha256": digest("other-key"), "topics": ["x"]},
                {"id": "web", "sha256": digest("k-live-1"), "topics": ["events*"]},
            ]}),
            headers: vec![("x-api-key", "k-live-1".into())],
            native: wafka_sdk::run_filter::<api_key_auth::ApiKeyAuth>,
        },
        Case {
            label: "json-transform".into(),
            filter: "json-transform",
            config: json!({"pick": ["/event", "/user", "/items"], "rename": [["/user/name", "/name"]],
                           "set": {"/source": "web"}, "timestamp": {"at": "/ts"}, "key": "/user/id"}),
            headers: vec![],
            native: wafka_sdk::run_filter::<json_transform::JsonTransform>,
        },
        Case {
            label: "schema-validate".into(),
            filter: "schema-validate",
            config: json!({"schema": {"type": "object", "required": ["event", "user"], "properties": {
                "event": {"type": "string", "enum": ["page_view", "click"]},
                "user": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
                "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
                "pad": {"type": "string", "maxLength": 2000}}}}),
            headers: vec![],
            native: wafka_sdk::run_filter::<schema_validate::SchemaValidate>,
        },
        Case {
            label: "rate-limit".into(),
            filter: "rate-limit",
            config: json!({"rate": 1_000_000_000u64, "by": {"header": "x-api-key"}}),
            headers: vec![("x-api-key", "k-live-1".into())],
            native: wafka_sdk::run_filter::<rate_limit::RateLimit>,
        },
    ];
    let jwt = jwt();
    for (alg, token) in jwt.tokens {
        cases.push(Case {
            label: format!("jwt-auth/{alg}"),
            filter: "jwt-auth",
            config: jwt.config.clone(),
            headers: vec![("authorization", format!("Bearer {token}"))],
            native: wafka_sdk::run_filter::<jwt_auth::JwtAuth>,
        });
    }
    cases
}

fn info(headers: &[(&'static str, String)], body: &Bytes) -> Arc<RequestInfo> {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, http::HeaderValue::from_str(value).unwrap());
    }
    Arc::new(RequestInfo {
        id: "bench".into(),
        method: "POST".into(),
        path: "/v1/events/web".into(),
        query: None,
        route: "bench".into(),
        params: vec![("source".into(), "web".into())],
        headers: map,
        client: SocketAddr::from(([127, 0, 0, 1], 40000)),
        client_subject: None,
        received_at_ms: 1_795_517_628_123,
        body: body.clone(),
        access: Access::Write,
        trace: None,
    })
}

/// One request with `body` through `steps`, which must forward it.
async fn one_request(
    engine: &FilterEngine,
    steps: &[Arc<Step>],
    request: &Arc<RequestInfo>,
    body: &Bytes,
    limits: filter::Limits,
    label: &str,
) {
    let mut record = Record::new("events.web");
    record.value = Some(body.clone());
    let out = filter::run(
        engine.engine(),
        steps,
        request.clone(),
        vec![record],
        limits,
        None,
    )
    .await
    .unwrap();
    assert!(matches!(out, filter::ChainOutcome::Forward(_)), "{label}");
}

fn filters(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = Arc::new(FilterEngine::new(Default::default(), 64).unwrap());
    let limits = filter::Limits {
        timeout: Duration::from_secs(5),
        max_records: 100,
        max_output_bytes: 16 << 20,
    };
    let body = Bytes::from(body());
    let mut group = c.benchmark_group("filters");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    for case in cases() {
        let loaded = Arc::new(
            LoadedFilter::load(&engine, case.filter, &wafka_tests::wasm(case.filter)).unwrap(),
        );
        // `pool`: the route's idle instances with `reuse = {}`; none, a fresh one per request.
        let step = |pool| {
            vec![Arc::new(Step {
                pool,
                filter: loaded.clone(),
                config_json: case.config.to_string().into(),
                state: Default::default(),
                sees_records: false,
                identity: Default::default(),
                schemas: None,
            })]
        };
        let steps = step(None);
        let reused = step(Some(engine.pool(Default::default(), case.filter)));
        let request = info(&case.headers, &body);
        for (variant, steps) in [("wasm", &steps), ("wasm-reused", &reused)] {
            group.bench_function(format!("{}/{variant}", case.label), |b| {
                b.to_async(&runtime)
                    .iter(|| one_request(&engine, steps, &request, &body, limits, &case.label))
            });
        }

        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        group.bench_function(format!("{}/wasm-concurrent", case.label), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64);
                let started = std::time::Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        scope.spawn(|| {
                            let runtime = tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .unwrap();
                            runtime.block_on(async {
                                for _ in 0..per_thread {
                                    one_request(
                                        &engine,
                                        &steps,
                                        &request,
                                        &body,
                                        limits,
                                        &case.label,
                                    )
                                    .await;
                                }
                            });
                        });
                    }
                });
                // Per request, what it cost one core while every core was busy.
                let wall = started.elapsed().as_secs_f64();
                Duration::from_secs_f64(wall * iters as f64 / per_thread as f64)
            })
        });

        let config = case.config.to_string();
        let mut native_request = wafka_sdk::Request::builder()
            .param("source", "web")
            .client_addr("127.0.0.1:40000")
            .received_at(1_795_517_628_123)
            .body(body.to_vec());
        for (name, value) in &case.headers {
            native_request = native_request.header(name, value);
        }
        let native_request = native_request.build();
        group.bench_function(format!("{}/native", case.label), |b| {
            b.iter(|| {
                let mut record = wafka_sdk::Record::new("events.web");
                record.set_value(Some(&body));
                let out = (case.native)(&config, &native_request, vec![record]);
                assert!(out.records().is_some(), "{}", case.label);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, filters);
criterion_main!(benches);
