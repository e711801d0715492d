//! Identity providers for filters (the WIT `identity` interface): keys and introspection stay
//! in the gateway ([`crate::identity`]); the filter gets a verdict. Time spent waiting for a
//! provider is not charged to the filter (`filter::run_clock`): the provider's
//! `timeout_ms` bounds it instead.

use std::sync::Arc;

use crate::filter::bindings::wafka::filter::identity::{self, ProviderInfo, TokenError};
use crate::filter::store::StoreData;
use crate::identity::{Provider, TokenError as Error};

impl StoreData {
    /// The provider `name` of the running filter's snapshot.
    fn provider_named(&self, name: &str) -> Result<Arc<Provider>, String> {
        let step = self
            .step
            .as_ref()
            .ok_or("identity used outside a filter call")?;
        step.identity.get(name).cloned().ok_or_else(|| {
            let known = step.identity.names();
            format!("no identity provider {name:?} in the gateway config (configured: {known:?})")
        })
    }
}

fn wit(e: Error) -> TokenError {
    match e {
        Error::Invalid(why) => TokenError::Invalid(why),
        Error::Unavailable(why) => TokenError::Unavailable(why),
    }
}

impl identity::Host for StoreData {
    fn provider(&mut self, name: String) -> wasmtime::Result<Result<ProviderInfo, String>> {
        Ok(self.provider_named(&name).map(|p| ProviderInfo {
            issuer: p.config.issuer.clone(),
            introspection: p.introspects(),
        }))
    }

    async fn verify_signature(
        &mut self,
        provider: String,
        alg: String,
        kid: Option<String>,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> wasmtime::Result<Result<(), TokenError>> {
        let provider = match self.provider_named(&provider) {
            Ok(p) => p,
            Err(why) => return Ok(Err(TokenError::Unavailable(why))),
        };
        let verdict = provider
            .verify(&alg, kid.as_deref(), &message, &signature)
            .await;
        Ok(verdict.map_err(wit))
    }

    async fn introspect(
        &mut self,
        provider: String,
        token: String,
    ) -> wasmtime::Result<Result<String, TokenError>> {
        let provider = match self.provider_named(&provider) {
            Ok(p) => p,
            Err(why) => return Ok(Err(TokenError::Unavailable(why))),
        };
        Ok(provider.introspect(&token).await.map_err(wit))
    }
}
