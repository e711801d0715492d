//! `jwt-auth`: verifies `Authorization: Bearer` JSON Web Tokens (HS256, RS256, ES256 with
//! keys in its config; with an identity provider's published keys RS256/384/512,
//! PS256/384/512, ES256/384 and EdDSA), or opaque tokens by the provider's introspection;
//! checks `exp`, `nbf`, `iss` and `aud`, lets each token write only the topics its claims
//! grant, and can copy claims into record headers.

mod keys;
mod token;

use std::collections::BTreeMap;

use keys::{Jwks, Key, KeyConfig};
use token::Refusal;
use wafka_sdk::Access;
use wafka_sdk::identity;
use wafka_sdk::prelude::*;

/// The route's config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Verification keys.
    #[serde(default)]
    keys: Vec<KeyConfig>,
    /// A JWKS document (`{"keys": [...]}`), e.g. your identity provider's, pasted in.
    #[serde(default)]
    jwks: Option<Jwks>,
    /// An identity provider of the gateway config (`[[identity_providers]]`) whose published
    /// keys verify tokens, followed through rotations. Default: none.
    #[serde(default)]
    provider: Option<String>,
    /// Accept opaque (non-JWT) tokens, checked by the provider's introspection. Default false.
    #[serde(default)]
    introspect: bool,
    /// Required `iss`. Default: the provider's issuer, or not checked.
    #[serde(default)]
    issuer: Option<String>,
    /// Required `aud` (one of the token's audiences). Default: not checked.
    #[serde(default)]
    audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds. Default 60.
    #[serde(default = "default_leeway")]
    leeway_seconds: u64,
    /// Refuse tokens without `exp`. Default true.
    #[serde(default = "default_true")]
    require_exp: bool,
    /// Claim listing the topics (or prefixes ending in `*`) the token may write (and read): an
    /// array, or a space-separated string. Default: none.
    #[serde(default)]
    topics_claim: Option<String>,
    /// Claim listing the topics (or prefixes) the token may only read: read routes, REST Proxy
    /// consumers and metadata, schema registry lookups. Default: none.
    #[serde(default)]
    read_topics_claim: Option<String>,
    /// Topics granted by the values of a claim, e.g. roles or scopes.
    #[serde(default)]
    grants: Option<Grants>,
    /// Claims copied to every record as headers: `{ sub = "x-user" }`.
    #[serde(default)]
    claims_to_headers: BTreeMap<String, String>,
}

/// Topics granted per value of one claim.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Grants {
    /// The claim, e.g. `scope` (space-separated) or `roles` (an array).
    claim: String,
    /// Claim value → topics or prefixes it may write (and read).
    #[serde(default)]
    topics: BTreeMap<String, Vec<String>>,
    /// Claim value → topics or prefixes it may only read.
    #[serde(default)]
    read_topics: BTreeMap<String, Vec<String>>,
}

fn default_leeway() -> u64 {
    60
}

fn default_true() -> bool {
    true
}

/// Longest token accepted, in bytes: bounds the work an unauthenticated client can cause.
const MAX_TOKEN: usize = 8192;

/// The `jwt-auth` filter.
#[derive(Debug)]
pub struct JwtAuth {
    keys: Vec<Key>,
    config: Config,
}

impl Filter for JwtAuth {
    type Config = Config;

    fn new(mut config: Config) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (i, key) in std::mem::take(&mut config.keys).into_iter().enumerate() {
            keys.push(Key::from_config(key).map_err(|e| format!("keys[{i}]: {e}"))?);
        }
        if let Some(jwks) = config.jwks.take() {
            for jwk in jwks.keys {
                keys.extend(Key::from_jwk(jwk)?);
            }
        }
        if let Some(name) = &config.provider {
            let info = identity::provider(name).map_err(|e| format!("provider: {e}"))?;
            if config.introspect && !info.introspection {
                return Err(format!(
                    "introspect: identity provider {name:?} has no client_id and client_secret in the gateway config"
                ));
            }
            config.issuer.get_or_insert(info.issuer);
        } else if config.introspect {
            return Err("introspect needs a `provider`".to_owned());
        }
        if keys.is_empty() && config.provider.is_none() {
            return Err("no verification keys: set `provider`, `keys` or `jwks`".to_owned());
        }
        if let Some(grants) = &config.grants {
            for (field, granted) in [
                ("topics", &grants.topics),
                ("read_topics", &grants.read_topics),
            ] {
                for p in granted.values().flatten() {
                    topic::check_pattern(p).map_err(|e| format!("grants.{field}: {e}"))?;
                }
            }
        }
        if let Some((_, h)) = config.claims_to_headers.iter().find(|(_, h)| h.is_empty()) {
            return Err(format!("claims_to_headers: empty header name {h:?}"));
        }
        Ok(Self { keys, config })
    }

    fn on_request(&self, request: &Request, mut records: Vec<Record>) -> Outcome {
        let Some(token) = bearer(request) else {
            return unauthorized("missing_token", "send a token: Authorization: Bearer <jwt>");
        };
        if token.len() > MAX_TOKEN {
            return unauthorized(
                "invalid_token",
                format!("the token is longer than {MAX_TOKEN} bytes"),
            );
        }
        let now = clock::now_millis() / 1000;
        let provider = self.config.provider.as_deref();
        let checked = match provider {
            Some(provider) if self.config.introspect && !token::looks_like_jwt(&token) => {
                token::introspect(&token, provider, now, &self.checks())
            }
            _ => token::verify(&token, &self.keys, provider, now, &self.checks()),
        };
        let claims = match checked {
            Ok(claims) => claims,
            Err(Refusal::Invalid(reason)) => {
                log::debug(format!("token refused: {reason}"));
                return unauthorized("invalid_token", reason);
            }
            Err(Refusal::Unavailable(reason)) => {
                log::warn(format!("token not checked: {reason}"));
                return match reject(503, "identity_provider_unavailable", reason) {
                    Outcome::Respond(r) => Outcome::Respond(r.with_header("retry-after", "5")),
                    other => other,
                };
            }
        };
        let access = request.access();
        if let Some(granted) = self.granted_topics(&claims, access)
            && let Some(record) = records
                .iter()
                .find(|r| !topic::allowed(&granted, &r.topic()))
        {
            let verb = match access {
                Access::Read => "read",
                Access::Write => "write to",
            };
            return reject(
                403,
                "topic_forbidden",
                format!("this token may not {verb} topic {:?}", record.topic()),
            );
        }
        for (claim, header) in &self.config.claims_to_headers {
            let value = match claims.get(claim) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => continue,
                Some(other) => other.to_string(),
            };
            for record in &mut records {
                record.set_header(header, &value);
            }
        }
        forward(records)
    }
}

impl JwtAuth {
    fn checks(&self) -> token::Checks<'_> {
        token::Checks {
            issuer: self.config.issuer.as_deref(),
            audience: self.config.audience.as_deref(),
            leeway: self.config.leeway_seconds,
            require_exp: self.config.require_exp,
        }
    }

    /// The topic patterns the claims grant for `access` (what a token may write it may also
    /// read), or `None` when the config grants by no claim (any valid token may do what the
    /// route allows).
    fn granted_topics(
        &self,
        claims: &serde_json::Map<String, Value>,
        access: Access,
    ) -> Option<Vec<String>> {
        let config = &self.config;
        if config.topics_claim.is_none()
            && config.read_topics_claim.is_none()
            && config.grants.is_none()
        {
            return None;
        }
        let reading = access == Access::Read;
        let mut granted = Vec::new();
        if let Some(claim) = &config.topics_claim {
            granted.extend(values(claims.get(claim)));
        }
        if let Some(claim) = config.read_topics_claim.as_ref().filter(|_| reading) {
            granted.extend(values(claims.get(claim)));
        }
        if let Some(grants) = &config.grants {
            for value in values(claims.get(&grants.claim)) {
                granted.extend(grants.topics.get(&value).into_iter().flatten().cloned());
                if reading {
                    granted.extend(
                        grants
                            .read_topics
                            .get(&value)
                            .into_iter()
                            .flatten()
                            .cloned(),
                    );
                }
            }
        }
        Some(granted)
    }
}

/// A claim's values: the items of an array, or the words of a space-separated string.
fn values(claim: Option<&Value>) -> Vec<String> {
    match claim {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn bearer(request: &Request) -> Option<String> {
    let value = request.header_str("authorization")?;
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

fn unauthorized(code: &str, message: impl std::fmt::Display) -> Outcome {
    let challenge = if code == "missing_token" {
        "Bearer".to_owned()
    } else {
        "Bearer error=\"invalid_token\"".to_owned()
    };
    match reject(401, code, message) {
        Outcome::Respond(r) => Outcome::Respond(r.with_header("www-authenticate", challenge)),
        other => other,
    }
}

export_filter!(JwtAuth);

#[cfg(test)]
mod tests;
