//! Parsing and checking one compact JWS token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use wafka_sdk::identity::{self, TokenError};

use crate::keys::{Alg, Key};

/// Why a token was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 401: the message says why, never quoting the token.
    Invalid(String),
    /// 503: the identity provider could not be asked.
    Unavailable(String),
}

impl From<String> for Refusal {
    fn from(why: String) -> Self {
        Refusal::Invalid(why)
    }
}

impl From<TokenError> for Refusal {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(why) => Refusal::Invalid(why),
            TokenError::Unavailable(why) => Refusal::Unavailable(why),
        }
    }
}

/// What the claims must satisfy.
#[derive(Clone, Copy)]
pub struct Checks<'a> {
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub leeway: u64,
    pub require_exp: bool,
}

/// Whether `token` has a JWS's shape (three dot-separated parts); opaque tokens do not.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// Verifies `token` with one of `keys`, or else with the identity `provider`'s published keys,
/// and checks its claims at `now` (seconds since the epoch). The error says why, without
/// echoing the token.
pub fn verify(
    token: &str,
    keys: &[Key],
    provider: Option<&str>,
    now: u64,
    checks: &Checks<'_>,
) -> Result<Map<String, Value>, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Invalid(
            "not a JWT: expected three dot-separated parts".to_owned(),
        ));
    };
    let header: Map<String, Value> = decode_json(header, "header")?;
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let kid = header.get("kid").and_then(Value::as_str);
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "the signature is not base64url".to_owned())?;
    let signed = &token[..header_len(token)];
    // Only keys of the token's algorithm, so an RSA public key can never serve as an HMAC
    // secret (the algorithm-confusion attack). The provider's keys are public keys only.
    let alg = Alg::parse(alg_name);
    let mut candidates = keys
        .iter()
        .filter(|k| Some(k.alg()) == alg && (kid.is_none() || k.kid.as_deref() == kid))
        .peekable();
    if candidates.peek().is_some() {
        if !candidates.any(|k| k.verify(signed.as_bytes(), &signature)) {
            return Err(Refusal::Invalid("the signature does not verify".to_owned()));
        }
    } else if let Some(provider) = provider {
        identity::verify_signature(provider, alg_name, kid, signed.as_bytes(), &signature)?;
    } else {
        return Err(Refusal::Invalid(match (alg, kid) {
            (None, _) => format!("algorithm {alg_name:?} is not accepted (HS256, RS256, ES256)"),
            (Some(alg), Some(kid)) => format!("no {alg:?} key with kid {kid:?}"),
            (Some(alg), None) => format!("no {alg:?} key"),
        }));
    }
    let claims: Map<String, Value> = decode_json(payload, "payload")?;
    check_claims(&claims, now, checks)?;
    Ok(claims)
}

/// Checks an opaque token by the `provider`'s introspection (RFC 7662): its answer must say
/// `active`, and its claims pass the same checks as a JWT's (`exp` optional, `iss` checked
/// when the answer names one).
pub fn introspect(
    token: &str,
    provider: &str,
    now: u64,
    checks: &Checks<'_>,
) -> Result<Map<String, Value>, Refusal> {
    let answer = identity::introspect(provider, token)?;
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(Refusal::Invalid(
            "the token is not active (expired, revoked or unknown to the provider)".to_owned(),
        ));
    }
    let checks = Checks {
        issuer: checks.issuer.filter(|_| answer.contains_key("iss")),
        require_exp: false,
        ..*checks
    };
    check_claims(&answer, now, &checks)?;
    Ok(answer)
}

/// Length of `header.payload`, the signed part.
fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the {what} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("the {what} is not a JSON object"))
}

fn check_claims(claims: &Map<String, Value>, now: u64, c: &Checks<'_>) -> Result<(), String> {
    let time = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| format!("{name} is not a number of seconds")),
    };
    match time("exp")? {
        Some(exp) if now > exp.saturating_add(c.leeway) => {
            return Err(format!("the token expired at {exp} (now {now})"));
        }
        None if c.require_exp => return Err("the token has no exp".to_owned()),
        _ => {}
    }
    if let Some(nbf) = time("nbf")?
        && now.saturating_add(c.leeway) < nbf
    {
        return Err(format!("the token is not valid before {nbf} (now {now})"));
    }
    if let Some(issuer) = c.issuer
        && claims.get("iss").and_then(Value::as_str) != Some(issuer)
    {
        return Err(format!("the issuer is not {issuer:?}"));
    }
    if let Some(audience) = c.audience {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !ok {
            return Err(format!("the audience does not include {audience:?}"));
        }
    }
    Ok(())
}
