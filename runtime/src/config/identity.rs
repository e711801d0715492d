//! `[[identity_providers]]`: OpenID Connect providers whose keys and token introspection
//! filters use by name (`jwt-auth`'s `provider`).

use std::path::PathBuf;

use super::validate::{Failure, fail, http_url, valid_name};
use serde::{Deserialize, Serialize};

/// One identity provider.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderConfig {
    /// The name filters use, e.g. `corp`.
    pub name: String,
    /// The issuer URL: tokens' `iss`, and where discovery is found
    /// (`{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// The discovery document's URL. Default: the issuer's well-known one.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// The key set's URL. Default: discovery's `jwks_uri`; set, discovery is not needed for keys.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The RFC 7662 introspection endpoint. Default: discovery's `introspection_endpoint`.
    #[serde(default)]
    pub introspection_url: Option<String>,
    /// The gateway's client id, for introspection (HTTP Basic, `client_secret_basic`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The gateway's client secret; never shown or logged.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// PEM file of the CAs the provider's certificate is checked against. Default: the
    /// system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Longest one exchange with the provider may take, in milliseconds. Default 5000.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// How often keys are fetched again in the background, in milliseconds. Default 300000.
    #[serde(default = "defaults::refresh_interval_ms")]
    pub refresh_interval_ms: u64,
    /// A token signed by a key the gateway does not know makes it fetch the keys again, at most
    /// once per this many milliseconds. Default 5000.
    #[serde(default = "defaults::min_refetch_ms")]
    pub min_refetch_ms: u64,
    /// How long an introspection answer is kept, in milliseconds; never past the token's
    /// `exp`. Default 60000.
    #[serde(default = "defaults::introspection_cache_ms")]
    pub introspection_cache_ms: u64,
    /// Most introspection answers kept. Default 10000.
    #[serde(default = "defaults::introspection_cache_entries")]
    pub introspection_cache_entries: usize,
}

/// The client secret never reaches a log line, even through `{:?}`.
impl std::fmt::Debug for IdentityProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProviderConfig")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("discovery_url", &self.discovery_url)
            .field("jwks_url", &self.jwks_url)
            .field("introspection_url", &self.introspection_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl IdentityProviderConfig {
    /// Where discovery is fetched from.
    pub fn discovery_url(&self) -> String {
        self.discovery_url.clone().unwrap_or_else(|| {
            format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            )
        })
    }
}

pub(super) mod defaults {
    pub fn timeout_ms() -> u64 {
        5_000
    }
    pub fn refresh_interval_ms() -> u64 {
        300_000
    }
    pub fn min_refetch_ms() -> u64 {
        5_000
    }
    pub fn introspection_cache_ms() -> u64 {
        60_000
    }
    pub fn introspection_cache_entries() -> usize {
        10_000
    }
}

/// `[[identity_providers]]`: unique names, http(s) URLs, credentials in pairs, usable bounds.
pub(super) fn check(providers: &[IdentityProviderConfig]) -> Result<(), Failure> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in providers.iter().enumerate() {
        let at = |field: &str| format!("identity_providers[{i}].{field}");
        if !valid_name(&p.name) {
            return fail(
                at("name"),
                "use 1 to 64 characters of a-z, 0-9, '-' and '_'",
            );
        }
        if !seen.insert(p.name.as_str()) {
            return fail(at("name"), format!("{:?} is named twice", p.name));
        }
        let urls = [
            ("issuer", Some(&p.issuer)),
            ("discovery_url", p.discovery_url.as_ref()),
            ("jwks_url", p.jwks_url.as_ref()),
            ("introspection_url", p.introspection_url.as_ref()),
        ];
        for (field, url) in urls {
            if let Some(url) = url
                && !http_url(url)
            {
                return fail(
                    at(field),
                    format!("{url:?}: use an http:// or https:// URL"),
                );
            }
        }
        if p.client_id.is_some() != p.client_secret.is_some() {
            return fail(
                at("client_secret"),
                "client_id and client_secret go together (introspection authenticates with both)",
            );
        }
        if p.introspection_url.is_some() && p.client_id.is_none() {
            return fail(
                at("client_id"),
                "introspection needs the gateway's client_id and client_secret",
            );
        }
        for (field, value) in [
            ("timeout_ms", p.timeout_ms),
            ("refresh_interval_ms", p.refresh_interval_ms),
            (
                "introspection_cache_entries",
                p.introspection_cache_entries as u64,
            ),
        ] {
            if value == 0 {
                return fail(at(field), "must be at least 1");
            }
        }
    }
    Ok(())
}
