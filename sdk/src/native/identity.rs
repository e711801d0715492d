//! `identity` in memory, per thread (each test has its own): providers set up by
//! [`crate::testing::add_provider`], keys checked with the gateway's own [`crate::jwk`].

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::identity::{ProviderInfo, TokenError};
use crate::jwk::{ALGORITHMS, Alg, KeySet};
use crate::testing::TestProvider;

thread_local! {
    static PROVIDERS: RefCell<BTreeMap<String, TestProvider>> = const { RefCell::new(BTreeMap::new()) };
}

pub fn add(name: &str, provider: TestProvider) {
    PROVIDERS.with_borrow_mut(|p| p.insert(name.to_owned(), provider));
}

pub fn reset() {
    PROVIDERS.with_borrow_mut(BTreeMap::clear);
}

fn with<T>(
    name: &str,
    f: impl FnOnce(&TestProvider) -> Result<T, TokenError>,
) -> Result<T, TokenError> {
    PROVIDERS.with_borrow(|p| match p.get(name) {
        Some(provider) => f(provider),
        None => Err(TokenError::Unavailable(format!(
            "no identity provider {name:?}"
        ))),
    })
}

pub fn provider(name: &str) -> Result<ProviderInfo, String> {
    PROVIDERS.with_borrow(|p| {
        p.get(name)
            .map(|t| ProviderInfo {
                issuer: t.issuer.clone(),
                introspection: !t.introspection.is_empty(),
            })
            .ok_or_else(|| format!("no identity provider {name:?} in the gateway config"))
    })
}

pub fn verify_signature(
    provider: &str,
    alg: &str,
    kid: Option<&str>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TokenError> {
    with(provider, |p| {
        let alg = Alg::parse(alg).ok_or_else(|| {
            TokenError::Invalid(format!("algorithm {alg:?} is not accepted ({ALGORITHMS})"))
        })?;
        let set = KeySet::parse(&p.jwks).map_err(TokenError::Unavailable)?;
        let mut candidates = set.candidates(alg, kid).peekable();
        if candidates.peek().is_none() {
            return Err(TokenError::Invalid(format!(
                "the provider has no {alg:?} key {kid:?}"
            )));
        }
        if candidates.any(|k| k.verify(alg, message, signature)) {
            Ok(())
        } else {
            Err(TokenError::Invalid("the signature does not verify".into()))
        }
    })
}

pub fn introspect(provider: &str, token: &str) -> Result<String, TokenError> {
    with(provider, |p| {
        Ok(p.introspection
            .get(token)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"active": false}))
            .to_string())
    })
}
