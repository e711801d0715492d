//! Identity providers as they are run: a real OpenID Connect provider (the npm `oidc-provider`
//! package, unchanged, `tests/node/oidc-provider.mjs`) issues client-credentials access tokens,
//! as JWTs and as opaque tokens. The gateway finds its keys by discovery, follows a key
//! rotation under load with no failed request, keeps serving when the provider is gone, and
//! introspects opaque tokens with its own client credentials.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Notify, RwLock};
use wafka::config::IdentityProviderConfig;
use wafka_tests::kafka::read_all;
use wafka_tests::node::Script;
use wafka_tests::{Broker, TestGateway, prometheus};

/// The gateway's client at the provider (`oidc-provider.mjs`).
const GATEWAY_SECRET: &str = "wafka-secret-0123456789abcdef01234567";

const ROUTES: &str = r#"
[[routes]]
name = "orders"
path = "/v1/{topic}"
topic = "orders"
filters = [
  { name = "topic-router", config = { param = "topic", template = "{}", allow = ["orders.eu", "payments"] } },
  { name = "jwt-auth", config = { provider = "PROVIDER", introspect = true, audience = "wafka", grants = { claim = "scope", topics = { "orders:write" = ["orders.*"] } }, claims_to_headers = { client_id = "x-client" } } },
]
"#;

/// The provider process.
struct Oidc {
    script: Script,
    issuer: String,
}

impl Oidc {
    async fn start() -> Oidc {
        let script = Script::start("oidc-provider.mjs", &[]);
        let first: Value = serde_json::from_str(&script.line(Duration::from_secs(30)).await)
            .expect("the provider prints its issuer");
        let issuer = first["issuer"].as_str().unwrap().to_owned();
        Oidc { script, issuer }
    }

    async fn ask(&mut self, command: &str) -> Value {
        let answer: Value = serde_json::from_str(&self.script.ask(command).await).unwrap();
        assert!(answer.get("error").is_none(), "{command}: {answer}");
        answer
    }

    /// An access token by the client-credentials grant: `jwt` or `opaque`.
    async fn token(&mut self, format: &str) -> String {
        self.ask(&format!("token {format}")).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The gateway's config for this provider, called `name` (metrics are per process: each
    /// test has its own name), with `extra` TOML lines.
    fn config(&self, name: &str, extra: &str) -> IdentityProviderConfig {
        toml::from_str(&format!(
            "name = \"{name}\"\nissuer = \"{}\"\nclient_id = \"wafka\"\nclient_secret = \"{GATEWAY_SECRET}\"\n{extra}",
            self.issuer
        ))
        .unwrap()
    }
}

async fn gateway(broker: Broker, provider: IdentityProviderConfig) -> TestGateway {
    TestGateway::builder(broker)
        .routes(&ROUTES.replace("PROVIDER", &provider.name))
        .topics(&["orders.eu", "payments"])
        .filter("topic-router")
        .filter("jwt-auth")
        .configure(move |c| c.identity_providers = vec![provider])
        .start()
        .await
}

async fn send(gw: &TestGateway, topic: &str, token: &str, body: &str) -> wafka_tests::Response {
    let auth = format!("Bearer {token}");
    gw.send(
        "POST",
        &format!("/v1/{topic}"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.to_owned(),
    )
    .await
}

async fn providers(gw: &TestGateway) -> Value {
    gw.admin("/admin/identity").await.json()["providers"][0].clone()
}

/// JWT and opaque tokens from the provider write what their scope grants, and nothing else.
pub(crate) async fn provider_tokens_write_their_topics(broker: Broker) {
    let mut oidc = Oidc::start().await;
    let name = format!("tokens-{broker:?}").to_lowercase();
    let gw = gateway(broker, oidc.config(&name, "")).await;
    let jwt = oidc.token("jwt").await;
    let opaque = oidc.token("opaque").await;
    assert_eq!(jwt.split('.').count(), 3, "a JWT access token");
    assert_eq!(opaque.split('.').count(), 1, "an opaque access token");

    let res = send(&gw, "orders.eu", &jwt, r#"{"n":1}"#).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let res = send(&gw, "orders.eu", &opaque, r#"{"n":2}"#).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    for token in [&jwt, &opaque] {
        let res = send(&gw, "payments", token, "{}").await;
        assert_eq!(
            (res.status, res.error_code()),
            (403, "topic_forbidden".into())
        );
    }
    let res = send(&gw, "orders.eu", "not-a-token-the-provider-issued", "{}").await;
    assert_eq!(
        (res.status, res.error_code()),
        (401, "invalid_token".into())
    );
    assert!(
        res.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not active")
    );

    let records = read_all(&gw.bootstrap, "orders.eu");
    let mut ns: Vec<i64> = records
        .iter()
        .map(|r| r.json()["n"].as_i64().unwrap())
        .collect();
    // Three partitions: the order read back is not the order written.
    ns.sort();
    assert_eq!(ns, [1, 2]);
    let client = |r: &wafka_tests::kafka::Consumed| {
        r.headers
            .iter()
            .find(|(k, _)| k == "x-client")
            .map(|(_, v)| v.clone())
    };
    assert!(records.iter().all(|r| client(r) == Some(b"app".to_vec())));
    assert!(read_all(&gw.bootstrap, "payments").is_empty());

    // The admin API shows the key set, never key material or the client secret.
    let status = providers(&gw).await;
    assert_eq!(status["name"], name.as_str());
    assert_eq!(status["keys"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["keys"][0]["kind"], "RSA");
    assert!(
        status["fetched_at"].is_string() && status["last_error"].is_null(),
        "{status}"
    );
    assert_eq!(status["jwks_url"], format!("{}/jwks", oidc.issuer));
    let config = gw.admin("/admin/config").await.json();
    assert_eq!(config["identity_providers"][0]["client_secret"], "***");
    let metrics = gw.metrics().await;
    let keys = prometheus::value(
        &metrics,
        "wafka_identity_provider_keys",
        &[("provider", name.as_str())],
    );
    assert_eq!(keys, 1.0);
    let introspected = [("provider", name.as_str()), ("result", "active")];
    assert_eq!(
        prometheus::value(
            &metrics,
            "wafka_identity_introspections_total",
            &introspected
        ),
        1.0,
        "the second use of the opaque token is answered from the cache"
    );
}

/// The provider rotates its signing key while requests flow: every request with a valid token
/// succeeds, old key or new. Then the provider stops: the keys kept go on serving.
pub(crate) async fn rotation_under_load_fails_no_request(broker: Broker) {
    let mut oidc = Oidc::start().await;
    let gw = Arc::new(gateway(broker, oidc.config("rotation", "min_refetch_ms = 100")).await);
    let tokens = Arc::new(RwLock::new(vec![oidc.token("jwt").await]));
    let (stop, done, progress) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Notify::new()),
    );
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (gw, tokens, stop, done, progress) = (
                gw.clone(),
                tokens.clone(),
                stop.clone(),
                done.clone(),
                progress.clone(),
            );
            tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut i = w;
                while !stop.load(Ordering::SeqCst) {
                    let token = {
                        let tokens = tokens.read().await;
                        tokens[i % tokens.len()].clone()
                    };
                    let res = send(&gw, "orders.eu", &token, r#"{"w":1}"#).await;
                    if res.status != 200 {
                        failures.push(format!(
                            "{}: {}",
                            res.status,
                            String::from_utf8_lossy(&res.body)
                        ));
                    }
                    i += 1;
                    done.fetch_add(1, Ordering::SeqCst);
                    progress.notify_waiters();
                }
                failures
            })
        })
        .collect();
    let until = |n: usize| {
        let (done, progress) = (done.clone(), progress.clone());
        async move {
            while done.load(Ordering::SeqCst) < n {
                let notified = progress.notified();
                if done.load(Ordering::SeqCst) >= n {
                    break;
                }
                tokio::time::timeout(Duration::from_secs(30), notified)
                    .await
                    .expect("requests keep flowing");
            }
        }
    };
    until(100).await;
    let kid = oidc.ask("rotate").await["kid"].as_str().unwrap().to_owned();
    let new_token = oidc.token("jwt").await;
    assert!(
        header(&new_token)["kid"] == kid.as_str(),
        "signed with the new key"
    );
    tokens.write().await.push(new_token.clone());
    let rotated_at = done.load(Ordering::SeqCst);
    until(rotated_at + 200).await;

    // The provider goes away: the keys kept serve both tokens.
    oidc.script.kill();
    let stopped_at = done.load(Ordering::SeqCst);
    until(stopped_at + 100).await;
    stop.store(true, Ordering::SeqCst);
    let mut failures = Vec::new();
    for w in workers {
        failures.extend(w.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let total = done.load(Ordering::SeqCst);
    assert_eq!(
        read_all(&gw.bootstrap, "orders.eu").len(),
        total,
        "each answered request is one record"
    );

    let metrics = gw.metrics().await;
    let refetched = [
        ("provider", "rotation"),
        ("reason", "unknown_key"),
        ("result", "ok"),
    ];
    assert!(
        prometheus::value(
            &metrics,
            "wafka_identity_provider_fetches_total",
            &refetched
        ) >= 1.0
    );
    let status = providers(&gw).await;
    let kids: Vec<&str> = status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "{status}");
    assert_eq!(kids[0], kid, "the new key is published first");

    // A token naming a key never published, with the provider gone: refused (not 503, the keys
    // are known), and the failed refetch shows in the admin API.
    let forged = with_kid(&new_token, "never-published");
    let deadline = Instant::now() + Duration::from_secs(20);
    let last_error = loop {
        let res = send(&gw, "orders.eu", &forged, "{}").await;
        assert_eq!(
            (res.status, res.error_code()),
            (401, "invalid_token".into())
        );
        let status = providers(&gw).await;
        if !status["last_error"].is_null() {
            break status["last_error"]["message"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no failed fetch recorded: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(last_error.contains("cannot connect"), "{last_error}");
    let res = send(&gw, "orders.eu", &new_token, "{}").await;
    assert_eq!(res.status, 200, "the kept keys still serve");
}

/// An opaque token is introspected once, then answered from the cache; after the provider
/// revokes it, it is refused once its cache time has passed.
pub(crate) async fn revoked_opaque_tokens_are_refused_after_the_cache_time(broker: Broker) {
    let mut oidc = Oidc::start().await;
    let cache = Duration::from_millis(1500);
    let extra = format!("introspection_cache_ms = {}", cache.as_millis());
    let gw = gateway(broker, oidc.config("revocation", &extra)).await;
    let opaque = oidc.token("opaque").await;
    let introspected = Instant::now();
    assert_eq!(send(&gw, "orders.eu", &opaque, "{}").await.status, 200);
    oidc.ask(&format!("revoke {opaque}")).await;
    assert_eq!(
        send(&gw, "orders.eu", &opaque, "{}").await.status,
        200,
        "within its cache time the answer kept is used"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = send(&gw, "orders.eu", &opaque, "{}").await;
        if res.status == 401 {
            assert_eq!(res.error_code(), "invalid_token");
            break;
        }
        assert_eq!(res.status, 200);
        assert!(
            Instant::now() < deadline,
            "the revoked token is still accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        introspected.elapsed() >= cache,
        "refused before its cache time passed"
    );
    let metrics = gw.metrics().await;
    let count = |result| {
        prometheus::value(
            &metrics,
            "wafka_identity_introspections_total",
            &[("provider", "revocation"), ("result", result)],
        )
    };
    assert_eq!(count("active"), 1.0);
    assert!(count("cached") >= 1.0);
    assert_eq!(count("inactive"), 1.0);
}

/// A provider that never answered: tokens get 503 with Retry-After (not 401: they may be
/// good), the gateway stays up, and the admin API says why.
pub(crate) async fn an_unreachable_provider_answers_503(broker: Broker) {
    let port = wafka_tests::broker::free_port();
    let provider: IdentityProviderConfig = toml::from_str(&format!(
        "name = \"unreachable\"\nissuer = \"http://127.0.0.1:{port}\"\nclient_id = \"wafka\"\nclient_secret = \"s\"\ntimeout_ms = 500"
    ))
    .unwrap();
    let gw = gateway(broker, provider).await;
    let jwt = format!(
        "{}.{}.c2lnbmF0dXJl",
        b64url(br#"{"alg":"RS256","kid":"k1"}"#),
        b64url(br#"{"scope":"orders:write"}"#)
    );
    for token in [jwt.as_str(), "opaque-token"] {
        let res = send(&gw, "orders.eu", token, "{}").await;
        assert_eq!(res.status, 503, "{}", String::from_utf8_lossy(&res.body));
        assert_eq!(res.error_code(), "identity_provider_unavailable");
        assert_eq!(res.header("retry-after"), Some("5"));
    }
    let status = providers(&gw).await;
    assert!(status["fetched_at"].is_null());
    assert!(
        status["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{status}"
    );
    assert!(read_all(&gw.bootstrap, "orders.eu").is_empty());
    assert_eq!(gw.admin("/healthz").await.status, 200);
}

/// A provider that accepts connections and never answers, for longer than the filter may run:
/// the wait is the provider's (its `timeout_ms`, then 503), not charged to the filter (no 504).
pub(crate) async fn a_slow_provider_is_not_charged_to_the_filter(broker: Broker) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let provider: IdentityProviderConfig = toml::from_str(&format!(
        "name = \"silent\"\nissuer = \"http://127.0.0.1:{port}\"\nclient_id = \"wafka\"\nclient_secret = \"s\"\ntimeout_ms = 300"
    ))
    .unwrap();
    let gw = TestGateway::builder(broker)
        .routes(&ROUTES.replace("PROVIDER", "silent"))
        .topics(&["orders.eu", "payments"])
        .filter("topic-router")
        .filter("jwt-auth")
        .configure(move |c| {
            c.server.filter_timeout_ms = 50;
            c.identity_providers = vec![provider];
        })
        .start()
        .await;
    let started = Instant::now();
    let res = send(&gw, "orders.eu", "opaque-token", "{}").await;
    assert_eq!(res.status, 503, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.error_code(), "identity_provider_unavailable");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered before the provider's timeout: {:?}",
        started.elapsed()
    );
    silent.abort();
}

fn header(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `token` with its header's `kid` replaced (the signature no longer matches, which is fine:
/// the key is looked up first).
fn with_kid(token: &str, kid: &str) -> String {
    let mut h = header(token);
    h["kid"] = Value::from(kid);
    let rest = token.split_once('.').unwrap().1;
    format!("{}.{rest}", b64url(h.to_string().as_bytes()))
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

crate::on_both_brokers!(provider_tokens_write_their_topics);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load() {
    rotation_under_load_fails_no_request(Broker::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_opaque_tokens() {
    revoked_opaque_tokens_are_refused_after_the_cache_time(Broker::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_provider() {
    an_unreachable_provider_answers_503(Broker::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_provider() {
    a_slow_provider_is_not_charged_to_the_filter(Broker::Embedded).await;
}
