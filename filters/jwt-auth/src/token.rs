//! Parsing and checking one compact JWS token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::keys::{Alg, Key};

/// What the claims must satisfy.
pub struct Checks<'a> {
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub leeway: u64,
    pub require_exp: bool,
}

/// Verifies `token` with one of `keys` and checks its claims at `now` (seconds since the
/// epoch). The error says why, without echoing the token.
pub fn verify(
    token: &str,
    keys: &[Key],
    now: u64,
    checks: &Checks<'_>,
) -> Result<Map<String, Value>, String> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWT: expected three dot-separated parts".to_owned());
    };
    let header: Map<String, Value> = decode_json(header, "header")?;
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let alg = Alg::parse(alg_name)
        .ok_or_else(|| format!("algorithm {alg_name:?} is not accepted (HS256, RS256, ES256)"))?;
    let kid = header.get("kid").and_then(Value::as_str);
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "the signature is not base64url".to_owned())?;
    let signed = &token[..header_len(token)];
    // Only keys of the token's algorithm, so an RSA public key can never serve as an HMAC
    // secret (the algorithm-confusion attack).
    let mut candidates = keys
        .iter()
        .filter(|k| k.alg() == alg && (kid.is_none() || k.kid.as_deref() == kid))
        .peekable();
    if candidates.peek().is_none() {
        return Err(match kid {
            Some(kid) => format!("no {alg:?} key with kid {kid:?}"),
            None => format!("no {alg:?} key"),
        });
    }
    if !candidates.any(|k| k.verify(signed.as_bytes(), &signature)) {
        return Err("the signature does not verify".to_owned());
    }
    let claims: Map<String, Value> = decode_json(payload, "payload")?;
    check_claims(&claims, now, checks)?;
    Ok(claims)
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
