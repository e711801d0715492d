//! Identity providers (`[[identity_providers]]`): the gateway, not the filters, talks to them.
//! Filters use them by name through the WIT `identity` interface: keys by OpenID Connect
//! discovery with rotation, opaque tokens by introspection. Providers whose settings are
//! unchanged are carried across reloads with their keys and kept answers.

mod introspection;
mod provider;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::config::IdentityProviderConfig;
pub use introspection::MAX_TOKEN;
pub use provider::Provider;

/// Why a token was not accepted (the WIT `token-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The token is not good: answer 401.
    Invalid(String),
    /// The provider could not be asked and nothing kept answers: answer 503.
    Unavailable(String),
}

/// The providers of one snapshot, by name.
#[derive(Default)]
pub struct Providers {
    by_name: BTreeMap<String, Arc<Provider>>,
}

impl Providers {
    /// The providers `configs` name: a provider of `previous` with the same settings is kept
    /// (keys, kept answers and its background fetch with it). Errors name the config field.
    pub fn build(
        configs: &[IdentityProviderConfig],
        previous: Option<&Providers>,
    ) -> Result<Providers, (String, String)> {
        let mut by_name = BTreeMap::new();
        for (i, config) in configs.iter().enumerate() {
            let kept = previous
                .and_then(|p| p.by_name.get(&config.name))
                .filter(|p| p.config == *config);
            let provider = match kept {
                Some(kept) => kept.clone(),
                None => Arc::new(
                    Provider::new(config.clone())
                        .map_err(|reason| (format!("identity_providers[{i}].ca_file"), reason))?,
                ),
            };
            by_name.insert(config.name.clone(), provider);
        }
        Ok(Providers { by_name })
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.by_name.get(name)
    }

    /// Starts fetching keys for the providers that have not started yet.
    pub fn start(&self) {
        self.by_name.values().for_each(Provider::start);
    }

    /// Sets the key-age gauges: called when metrics are scraped.
    pub fn sample_metrics(&self) {
        for (name, provider) in &self.by_name {
            if let Some(age) = provider.keys_age() {
                metrics::gauge!(crate::metrics::IDENTITY_KEYS_AGE, "provider" => name.clone())
                    .set(age);
            }
        }
    }

    /// `/admin/identity`: every provider's keys, their age and the last fetch error.
    pub fn describe(&self) -> Value {
        Value::Array(self.by_name.values().map(|p| p.describe()).collect())
    }

    /// Names, for messages.
    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }
}
