//! Signature verification done by the gateway (natively, with `ring`) instead of inside the
//! filter: RS256 and ES256 verified in a filter cost 0.8 and 1.8 ms a request, measured in
//! `BENCHMARKS.md`. Natively (unit tests) the same library runs in-process.

use crate::backend::crypto as host;

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT `RS256`), 2048- to 8192-bit keys.
    RsaPkcs1Sha256,
    /// ECDSA on P-256 with SHA-256, signatures as r ‖ s (JWT `ES256`).
    EcdsaP256Sha256,
}

/// A public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// DER `RSAPublicKey` (PKCS #1); [`spki`] finds it in a PEM's SubjectPublicKeyInfo.
    RsaDer(Vec<u8>),
    /// Big-endian modulus and exponent, as in a JWK's `n` and `e`.
    RsaComponents {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// An uncompressed P-256 point: 0x04 ‖ x ‖ y.
    EcPoint(Vec<u8>),
}

/// Checks that `key` is usable with `algorithm`: call it when the config loads.
pub fn check_key(algorithm: Algorithm, key: &PublicKey) -> Result<(), String> {
    host::check_key(algorithm, key)
}

/// True when `signature` is `key`'s signature of `message`.
pub fn verify(algorithm: Algorithm, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    host::verify(algorithm, key, message, signature)
}

/// The key inside a DER SubjectPublicKeyInfo (what a `-----BEGIN PUBLIC KEY-----` PEM holds):
/// RSA keys as [`PublicKey::RsaDer`], EC keys as [`PublicKey::EcPoint`] (the curve is checked
/// by [`check_key`]).
pub fn spki(der: &[u8]) -> Result<PublicKey, String> {
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let bad = || "not a DER SubjectPublicKeyInfo".to_owned();
    let (info, rest) = der_item(der, 0x30).ok_or_else(bad)?;
    if !rest.is_empty() {
        return Err(bad());
    }
    let (algorithm, rest) = der_item(info, 0x30).ok_or_else(bad)?;
    let (bits, _) = der_item(rest, 0x03).ok_or_else(bad)?;
    let (&unused, key) = bits.split_first().ok_or_else(bad)?;
    if unused != 0 {
        return Err(bad());
    }
    let (oid, _) = der_item(algorithm, 0x06).ok_or_else(bad)?;
    match oid {
        RSA => Ok(PublicKey::RsaDer(key.to_vec())),
        EC => Ok(PublicKey::EcPoint(key.to_vec())),
        _ => Err("the key is neither RSA nor EC".to_owned()),
    }
}

/// One DER item with tag `tag`: its contents and what follows.
pub(crate) fn der_item(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    if t != tag {
        return None;
    }
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b))
    };
    rest.split_at_checked(len)
}
