//! `crypto` in-process with `ring`, as the gateway does it.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use crate::crypto::{Algorithm, PublicKey, der_item};

/// The gateway's rule: 2048- to 8192-bit moduli.
pub fn check_key(a: Algorithm, k: &PublicKey) -> Result<(), String> {
    match (a, k) {
        (Algorithm::RsaPkcs1Sha256, PublicKey::RsaComponents { n, .. }) => modulus(n),
        (Algorithm::RsaPkcs1Sha256, PublicKey::RsaDer(der)) => {
            // SEQUENCE { INTEGER n, INTEGER e }
            let n = der_item(der, 0x30).and_then(|(seq, _)| der_item(seq, 0x02));
            modulus(n.ok_or("not a DER RSAPublicKey")?.0)
        }
        (Algorithm::EcdsaP256Sha256, PublicKey::EcPoint(p)) if p.len() == 65 && p[0] == 4 => Ok(()),
        (Algorithm::EcdsaP256Sha256, PublicKey::EcPoint(_)) => {
            Err("a P-256 key is an uncompressed point: 0x04 and 64 bytes".into())
        }
        _ => Err(format!("{a:?} cannot use this kind of key")),
    }
}

fn modulus(n: &[u8]) -> Result<(), String> {
    let n = &n[n.iter().position(|b| *b != 0).unwrap_or(n.len())..];
    match n.len() * 8 {
        2048..=8192 => Ok(()),
        bits => Err(format!(
            "an RSA modulus of about {bits} bits; 2048 to 8192 are accepted"
        )),
    }
}

pub fn verify(a: Algorithm, k: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    let rsa = &signature::RSA_PKCS1_2048_8192_SHA256;
    match (a, k) {
        (Algorithm::RsaPkcs1Sha256, PublicKey::RsaDer(der)) => UnparsedPublicKey::new(rsa, der)
            .verify(message, sig)
            .is_ok(),
        (Algorithm::RsaPkcs1Sha256, PublicKey::RsaComponents { n, e }) => {
            RsaPublicKeyComponents { n, e }
                .verify(rsa, message, sig)
                .is_ok()
        }
        (Algorithm::EcdsaP256Sha256, PublicKey::EcPoint(p)) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p)
                .verify(message, sig)
                .is_ok()
        }
        _ => false,
    }
}
