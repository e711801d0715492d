//! Signature verification for filters (the WIT `crypto` interface), natively with `ring`:
//! measured 6× faster than the same check compiled into a filter (BENCHMARKS.md). The checks
//! and the verification are the SDK's (`wafka_sdk::host`), which its native stand-in runs in
//! filters' unit tests too.

use wafka_sdk::crypto::{Algorithm, PublicKey as Key};

use crate::filter::bindings::wafka::filter::crypto::{self, PublicKey, SignatureAlgorithm};
use crate::filter::store::StoreData;

impl crypto::Host for StoreData {
    fn check_key(
        &mut self,
        algorithm: SignatureAlgorithm,
        key: PublicKey,
    ) -> wasmtime::Result<Result<(), String>> {
        Ok(wafka_sdk::host::check_key(
            algorithm_of(algorithm),
            &key_of(key),
        ))
    }

    fn verify(
        &mut self,
        algorithm: SignatureAlgorithm,
        key: PublicKey,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> wasmtime::Result<bool> {
        let (algorithm, key) = (algorithm_of(algorithm), key_of(key));
        Ok(wafka_sdk::host::verify(
            algorithm, &key, &message, &signature,
        ))
    }
}

fn algorithm_of(algorithm: SignatureAlgorithm) -> Algorithm {
    match algorithm {
        SignatureAlgorithm::RsaPkcs1Sha256 => Algorithm::RsaPkcs1Sha256,
        SignatureAlgorithm::EcdsaP256Sha256 => Algorithm::EcdsaP256Sha256,
    }
}

fn key_of(key: PublicKey) -> Key {
    match key {
        PublicKey::RsaDer(der) => Key::RsaDer(der),
        PublicKey::RsaComponents((n, e)) => Key::RsaComponents { n, e },
        PublicKey::EcPoint(point) => Key::EcPoint(point),
    }
}
