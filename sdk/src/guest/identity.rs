//! The `identity` import, in the SDK's types.

use super::bindings::wafka::filter::identity as wit;
use crate::identity::{ProviderInfo, TokenError};

fn error(e: wit::TokenError) -> TokenError {
    match e {
        wit::TokenError::Invalid(why) => TokenError::Invalid(why),
        wit::TokenError::Unavailable(why) => TokenError::Unavailable(why),
    }
}

pub fn provider(name: &str) -> Result<ProviderInfo, String> {
    wit::provider(name).map(|p| ProviderInfo {
        issuer: p.issuer,
        introspection: p.introspection,
    })
}

pub fn verify_signature(
    provider: &str,
    alg: &str,
    kid: Option<&str>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TokenError> {
    wit::verify_signature(provider, alg, kid, message, signature).map_err(error)
}

pub fn introspect(provider: &str, token: &str) -> Result<String, TokenError> {
    wit::introspect(provider, token).map_err(error)
}
