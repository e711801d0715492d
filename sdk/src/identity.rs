//! Identity providers configured in the gateway (`[[identity_providers]]`), by name: the
//! gateway fetches their keys by OpenID Connect discovery, follows rotations and introspects
//! opaque tokens. Keys and client secrets never enter the filter. Natively (unit tests),
//! [`testing::add_provider`](crate::testing::add_provider) sets up a stand-in.
//!
//! ```no_run
//! use wafka_sdk::identity;
//!
//! let info = identity::provider("corp").unwrap();
//! let (signed, signature) = (b"header.payload", b"...");
//! match identity::verify_signature("corp", "RS256", Some("2026-11"), signed, signature) {
//!     Ok(()) => {}
//!     Err(identity::TokenError::Invalid(why)) => println!("401: {why}"),
//!     Err(identity::TokenError::Unavailable(why)) => println!("503: {why}"),
//! }
//! # let _ = info;
//! ```

use serde_json::{Map, Value};

use crate::backend::identity as host;

/// A configured provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Its issuer: the `iss` of its tokens.
    pub issuer: String,
    /// Whether [`introspect`] can be used with it.
    pub introspection: bool,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The token is not good (401); the message says why, never quoting the token.
    Invalid(String),
    /// The provider could not be asked and nothing kept answers (503).
    Unavailable(String),
}

/// The provider called `name`, or why there is none: call it when the config loads.
pub fn provider(name: &str) -> Result<ProviderInfo, String> {
    host::provider(name)
}

/// Checks `signature` over `message` (a JWS's `header.payload`) with the provider's key `kid`
/// (any of its keys for `alg` when `None`). `alg` is the token's: RS256/384/512,
/// PS256/384/512, ES256/384 or EdDSA. An unknown `kid` makes the gateway refetch the keys.
pub fn verify_signature(
    provider: &str,
    alg: &str,
    kid: Option<&str>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TokenError> {
    host::verify_signature(provider, alg, kid, message, signature)
}

/// Introspects an opaque token (RFC 7662): the provider's answer, `active` included. The
/// gateway keeps answers per token for the provider's `introspection_cache_ms`.
pub fn introspect(provider: &str, token: &str) -> Result<Map<String, Value>, TokenError> {
    let text = host::introspect(provider, token)?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(answer)) => Ok(answer),
        _ => Err(TokenError::Unavailable(
            "the provider's introspection answer is not a JSON object".into(),
        )),
    }
}
