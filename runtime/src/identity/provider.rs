//! One identity provider: its keys, fetched by discovery at start and in the background, kept
//! when the provider is unreachable, and fetched again (at most once per `min_refetch_ms`) when
//! a token names a key the gateway has not seen, so a rotation costs no failed request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use serde_json::{Value, json};
use wafka_sdk::jwk::{ALGORITHMS, Alg, KeySet};

use super::TokenError;
use super::introspection::Introspection;
use crate::config::IdentityProviderConfig;
use crate::http_client::Client;
use crate::metrics::{IDENTITY_FETCHES, IDENTITY_KEYS};

/// The keys a provider published when last fetched.
#[derive(Default)]
struct Keys {
    set: KeySet,
    fetched_at: Option<SystemTime>,
}

/// What the admin API shows about fetching.
#[derive(Default)]
struct Status {
    jwks_url: Option<String>,
    introspection_url: Option<String>,
    last_error: Option<(SystemTime, String)>,
    fetches: u64,
    failures: u64,
}

/// One configured provider.
pub struct Provider {
    /// Its settings.
    pub config: IdentityProviderConfig,
    pub(super) client: Client,
    keys: ArcSwap<Keys>,
    /// Fetch attempts finished: a request that waited for a fetch sees it moved.
    attempts: AtomicU64,
    /// One fetch at a time; when the last one for an unknown key started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    status: Mutex<Status>,
    pub(super) introspection: Introspection,
    started: AtomicBool,
}

/// Why keys were fetched (the `reason` label).
#[derive(Clone, Copy)]
enum Reason {
    Schedule,
    UnknownKey,
}

impl Provider {
    /// A provider that has fetched nothing yet.
    pub fn new(config: IdentityProviderConfig) -> Result<Provider, String> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = Client::new(config.ca_file.as_deref(), timeout)?;
        Ok(Provider {
            introspection: Introspection::new(&config),
            client,
            status: Mutex::new(Status {
                jwks_url: config.jwks_url.clone(),
                introspection_url: config.introspection_url.clone(),
                ..Status::default()
            }),
            config,
            keys: ArcSwap::default(),
            attempts: AtomicU64::new(0),
            fetching: tokio::sync::Mutex::new(None),
            started: AtomicBool::new(false),
        })
    }

    /// Starts fetching keys now and every `refresh_interval_ms` (sooner after a failure), until
    /// the last snapshot using this provider is gone. Once per provider.
    pub fn start(self: &Arc<Self>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(refresh(weak));
    }

    /// Whether introspection can be used: an endpoint (configured or discoverable) and the
    /// gateway's credentials.
    pub fn introspects(&self) -> bool {
        self.config.client_id.is_some()
    }

    /// Checks `signature` over `message` with the key `kid` for `alg`.
    pub async fn verify(
        &self,
        alg: &str,
        kid: Option<&str>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), TokenError> {
        let alg = Alg::parse(alg).ok_or_else(|| {
            TokenError::Invalid(format!("algorithm {alg:?} is not accepted ({ALGORITHMS})"))
        })?;
        for first in [true, false] {
            let seen = self.attempts.load(Ordering::SeqCst);
            let keys = self.keys.load();
            let mut candidates = keys.set.candidates(alg, kid).peekable();
            if candidates.peek().is_some() {
                return if candidates.any(|k| k.verify(alg, message, signature)) {
                    Ok(())
                } else {
                    Err(TokenError::Invalid("the signature does not verify".into()))
                };
            }
            if first {
                self.refetch(seen).await;
            } else if keys.fetched_at.is_none() {
                return Err(TokenError::Unavailable(format!(
                    "identity provider {:?} has not published its keys yet: {}",
                    self.config.name,
                    self.last_error().unwrap_or_else(|| "no answer yet".into())
                )));
            }
        }
        Err(TokenError::Invalid(match kid {
            Some(kid) => format!("the provider publishes no {alg:?} key {kid:?}"),
            None => format!("the provider publishes no {alg:?} key"),
        }))
    }

    /// Fetches the keys again for a token naming a key not seen, unless a fetch finished
    /// since the caller looked (`seen`) or one started less than `min_refetch_ms` ago.
    async fn refetch(&self, seen: u64) {
        let mut last = self.fetching.lock().await;
        if self.attempts.load(Ordering::SeqCst) != seen {
            return;
        }
        let min = Duration::from_millis(self.config.min_refetch_ms);
        if last.is_some_and(|at| at.elapsed() < min) {
            return;
        }
        *last = Some(Instant::now());
        self.fetch(Reason::UnknownKey).await;
    }

    /// One fetch of discovery (unless `jwks_url` is set) and the key set. On failure the last
    /// good keys stay.
    async fn fetch(&self, reason: Reason) -> bool {
        let result = self.fetch_keys().await;
        let name = self.config.name.clone();
        let reason_label = match reason {
            Reason::Schedule => "schedule",
            Reason::UnknownKey => "unknown_key",
        };
        let ok = result.is_ok();
        metrics::counter!(IDENTITY_FETCHES, "provider" => name.clone(), "reason" => reason_label,
            "result" => if ok { "ok" } else { "error" })
        .increment(1);
        {
            let mut status = self.status();
            status.fetches += 1;
            match &result {
                Ok(_) => status.last_error = None,
                Err(e) => {
                    status.failures += 1;
                    status.last_error = Some((SystemTime::now(), e.clone()));
                }
            }
        }
        match result {
            Ok(set) => {
                let kids = |set: &KeySet| {
                    let kids: Vec<&str> = set
                        .keys
                        .iter()
                        .map(|k| k.kid.as_deref().unwrap_or("-"))
                        .collect();
                    kids.join(",")
                };
                let (before, now) = (kids(&self.keys.load().set), kids(&set));
                if before != now {
                    tracing::info!(provider = %name, kids = %now, skipped = set.skipped.len(), "identity provider keys fetched");
                }
                metrics::gauge!(IDENTITY_KEYS, "provider" => name).set(set.keys.len() as f64);
                self.keys.store(Arc::new(Keys {
                    set,
                    fetched_at: Some(SystemTime::now()),
                }));
            }
            Err(error) => {
                tracing::warn!(provider = %name, %error, "identity provider keys not fetched; keeping the last good ones");
            }
        }
        self.attempts.fetch_add(1, Ordering::SeqCst);
        ok
    }

    async fn fetch_keys(&self) -> Result<KeySet, String> {
        let jwks_url = match &self.config.jwks_url {
            Some(url) => url.clone(),
            None => self.discover().await?.0,
        };
        let document = self.client.get_json(&jwks_url).await?;
        let set = KeySet::parse(&document).map_err(|e| format!("{jwks_url}: {e}"))?;
        if set.keys.is_empty() {
            return Err(format!(
                "{jwks_url}: no signing key the gateway can use ({})",
                set.skipped.join("; ")
            ));
        }
        Ok(set)
    }

    /// Reads discovery: the key set's URL and the introspection endpoint.
    pub(super) async fn discover(&self) -> Result<(String, Option<String>), String> {
        let url = self.config.discovery_url();
        let document = self.client.get_json(&url).await?;
        let field = |name: &str| {
            document
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        // OpenID Connect Discovery §4.3: the document must name the issuer it was asked for.
        if field("issuer").as_deref() != Some(self.config.issuer.as_str()) {
            return Err(format!(
                "{url}: issuer is {:?}, the config says {:?}",
                field("issuer").unwrap_or_default(),
                self.config.issuer
            ));
        }
        let jwks = field("jwks_uri").ok_or_else(|| format!("{url}: no jwks_uri"))?;
        let mut status = self.status();
        status.jwks_url = Some(self.config.jwks_url.clone().unwrap_or_else(|| jwks.clone()));
        if self.config.introspection_url.is_none() {
            status.introspection_url = field("introspection_endpoint");
        }
        Ok((jwks, status.introspection_url.clone()))
    }

    /// The introspection endpoint: configured, or found by discovery.
    pub(super) async fn introspection_url(&self) -> Result<String, String> {
        if let Some(url) = self.status().introspection_url.clone() {
            return Ok(url);
        }
        self.discover().await?.1.ok_or_else(|| {
            format!(
                "identity provider {:?} publishes no introspection_endpoint; set introspection_url",
                self.config.name
            )
        })
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn last_error(&self) -> Option<String> {
        self.status().last_error.as_ref().map(|(_, e)| e.clone())
    }

    /// Seconds since the keys were fetched, if ever.
    pub fn keys_age(&self) -> Option<f64> {
        let fetched = self.keys.load().fetched_at?;
        Some(fetched.elapsed().unwrap_or_default().as_secs_f64())
    }

    /// The admin API's view: keys (never their material), age and the last error.
    pub fn describe(&self) -> Value {
        let keys = self.keys.load();
        let status = self.status();
        let listed: Vec<Value> = keys
            .set
            .keys
            .iter()
            .map(|k| json!({ "kid": k.kid, "kind": k.kind(), "alg": k.alg.map(|a| format!("{a:?}")) }))
            .collect();
        json!({
            "name": self.config.name,
            "issuer": self.config.issuer,
            "jwks_url": status.jwks_url,
            "introspection_url": status.introspection_url,
            "keys": listed,
            "skipped_keys": keys.set.skipped,
            "fetched_at": keys.fetched_at.map(crate::clock::rfc3339),
            "age_seconds": self.keys_age().map(|s| s.floor()),
            "fetches": status.fetches,
            "failures": status.failures,
            "last_error": status.last_error.as_ref().map(|(at, e)| json!({
                "at": crate::clock::rfc3339(*at),
                "message": e,
            })),
            "introspection_cache_entries": self.introspection.len(),
        })
    }
}

/// Fetches keys now, then every `refresh_interval_ms`; after a failure sooner, backing off
/// from one second up to the interval. Ends when the provider is dropped.
async fn refresh(provider: Weak<Provider>) {
    let mut failures = 0u32;
    loop {
        let wait = {
            let Some(provider) = provider.upgrade() else {
                return;
            };
            let ok = {
                let _turn = provider.fetching.lock().await;
                provider.fetch(Reason::Schedule).await
            };
            let interval = Duration::from_millis(provider.config.refresh_interval_ms);
            if ok {
                failures = 0;
                interval
            } else {
                failures = failures.saturating_add(1);
                (Duration::from_secs(1) * 2u32.saturating_pow(failures - 1).min(3600)).min(interval)
            }
        };
        tokio::time::sleep(wait).await;
    }
}
