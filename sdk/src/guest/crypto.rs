//! The `crypto` import, in the SDK's types.

use super::bindings::wafka::filter::crypto as wit;
use crate::crypto::{Algorithm, PublicKey};

fn algorithm(a: Algorithm) -> wit::SignatureAlgorithm {
    match a {
        Algorithm::RsaPkcs1Sha256 => wit::SignatureAlgorithm::RsaPkcs1Sha256,
        Algorithm::EcdsaP256Sha256 => wit::SignatureAlgorithm::EcdsaP256Sha256,
    }
}

fn key(k: &PublicKey) -> wit::PublicKey {
    match k {
        PublicKey::RsaDer(der) => wit::PublicKey::RsaDer(der.clone()),
        PublicKey::RsaComponents { n, e } => wit::PublicKey::RsaComponents((n.clone(), e.clone())),
        PublicKey::EcPoint(point) => wit::PublicKey::EcPoint(point.clone()),
    }
}

pub fn check_key(a: Algorithm, k: &PublicKey) -> Result<(), String> {
    wit::check_key(algorithm(a), &key(k))
}

pub fn verify(a: Algorithm, k: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    wit::verify(algorithm(a), &key(k), message, signature)
}
