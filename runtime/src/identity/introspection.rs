//! Opaque tokens checked by the provider (RFC 7662), with the gateway's client credentials.
//! Answers are kept per token (by its SHA-256: the tokens themselves are not held) for
//! `introspection_cache_ms`, never past the token's `exp`, and at most
//! `introspection_cache_entries` of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::TokenError;
use super::provider::Provider;
use crate::config::IdentityProviderConfig;
use crate::http_client::basic_auth;
use crate::metrics::IDENTITY_INTROSPECTIONS;

/// Longest token sent to the provider: what `jwt-auth` accepts too.
pub const MAX_TOKEN: usize = 8192;

struct Kept {
    answer: String,
    until: Instant,
}

/// A provider's kept answers.
pub struct Introspection {
    kept: Mutex<HashMap<[u8; 32], Kept>>,
    ttl: Duration,
    max: usize,
}

impl Introspection {
    pub fn new(config: &IdentityProviderConfig) -> Introspection {
        Introspection {
            kept: Mutex::default(),
            ttl: Duration::from_millis(config.introspection_cache_ms),
            max: config.introspection_cache_entries,
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Kept>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers kept now.
    pub fn len(&self) -> usize {
        self.kept().len()
    }

    fn get(&self, hash: &[u8; 32]) -> Option<String> {
        let mut kept = self.kept();
        match kept.get(hash) {
            Some(k) if k.until > Instant::now() => Some(k.answer.clone()),
            Some(_) => {
                kept.remove(hash);
                None
            }
            None => None,
        }
    }

    fn put(&self, hash: [u8; 32], answer: String, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut kept = self.kept();
        if kept.len() >= self.max && !kept.contains_key(&hash) {
            kept.retain(|_, k| k.until > now);
            if kept.len() >= self.max {
                // Still full of live answers: make room by dropping one.
                if let Some(victim) = kept.keys().next().copied() {
                    kept.remove(&victim);
                }
            }
        }
        kept.insert(
            hash,
            Kept {
                answer,
                until: now + ttl,
            },
        );
    }
}

impl Provider {
    /// The provider's answer for `token`, kept or asked now.
    pub async fn introspect(&self, token: &str) -> Result<String, TokenError> {
        let name = self.config.name.clone();
        let count = |result: &'static str| {
            metrics::counter!(IDENTITY_INTROSPECTIONS, "provider" => name.clone(), "result" => result)
                .increment(1);
        };
        if token.is_empty() || token.len() > MAX_TOKEN {
            count("refused");
            return Err(TokenError::Invalid(format!(
                "the token is empty or longer than {MAX_TOKEN} bytes"
            )));
        }
        let (Some(id), Some(secret)) = (&self.config.client_id, &self.config.client_secret) else {
            count("error");
            return Err(TokenError::Unavailable(format!(
                "identity provider {:?} has no client_id and client_secret for introspection",
                self.config.name
            )));
        };
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(answer) = self.introspection.get(&hash) {
            count("cached");
            return Ok(answer);
        }
        let asked = async {
            let url = self.introspection_url().await?;
            let form = form_urlencoded::Serializer::new(String::new())
                .append_pair("token", token)
                .append_pair("token_type_hint", "access_token")
                .finish();
            let answer = self
                .client
                .post_form(&url, form, &basic_auth(id, secret))
                .await?;
            match answer.get("active") {
                Some(Value::Bool(_)) => Ok(answer),
                _ => Err(format!("{url}: the answer has no boolean \"active\"")),
            }
        };
        let answer = match asked.await {
            Ok(answer) => answer,
            Err(error) => {
                count("error");
                tracing::warn!(provider = %self.config.name, %error, "token introspection failed");
                return Err(TokenError::Unavailable(format!(
                    "identity provider {:?} could not introspect the token",
                    self.config.name
                )));
            }
        };
        let active = answer["active"] == Value::Bool(true);
        count(if active { "active" } else { "inactive" });
        let ttl = match answer.get("exp").and_then(Value::as_u64) {
            Some(exp) if active => {
                let left = exp
                    .saturating_mul(1000)
                    .saturating_sub(crate::clock::now_millis());
                self.introspection.ttl.min(Duration::from_millis(left))
            }
            _ => self.introspection.ttl,
        };
        let text = answer.to_string();
        self.introspection.put(hash, text.clone(), ttl);
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max: usize) -> Introspection {
        Introspection {
            kept: Mutex::default(),
            ttl: Duration::from_secs(60),
            max,
        }
    }

    #[test]
    fn answers_expire_and_the_cache_stays_bounded() {
        let c = cache(2);
        c.put([1; 32], "a".into(), Duration::from_secs(60));
        c.put([2; 32], "b".into(), Duration::from_secs(60));
        c.put([3; 32], "c".into(), Duration::from_secs(60));
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&[3; 32]).as_deref(), Some("c"));
        c.put([4; 32], "d".into(), Duration::ZERO);
        assert_eq!(c.get(&[4; 32]), None, "a zero time-to-live keeps nothing");
        let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap();
        let kept = Kept {
            answer: "e".into(),
            until: past,
        };
        c.kept().insert([5; 32], kept);
        assert_eq!(c.get(&[5; 32]), None, "expired answers are not served");
    }
}
