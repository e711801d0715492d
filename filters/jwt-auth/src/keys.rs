//! Verification keys: HS256 secrets, RS256 and ES256 public keys from PEM or a JWKS document,
//! parsed once when the config is loaded.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::DecodePublicKey as _;
use serde::Deserialize;
use sha2::Sha256;

/// The algorithms this filter accepts. `none` and everything else are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Alg {
    HS256,
    RS256,
    ES256,
}

impl Alg {
    pub fn parse(name: &str) -> Option<Alg> {
        match name {
            "HS256" => Some(Alg::HS256),
            "RS256" => Some(Alg::RS256),
            "ES256" => Some(Alg::ES256),
            _ => None,
        }
    }
}

/// One key from the config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Matched against the token's `kid`; a key without one serves tokens without one.
    #[serde(default)]
    pub kid: Option<String>,
    pub alg: Alg,
    /// HS256: the shared secret, as text.
    #[serde(default)]
    pub secret: Option<String>,
    /// RS256, ES256: the public key, PEM (`-----BEGIN PUBLIC KEY-----`).
    #[serde(default)]
    pub pem: Option<String>,
}

/// A JWKS document's key (RFC 7517): RSA (`n`, `e`) or EC P-256 (`x`, `y`).
#[derive(Debug, Deserialize)]
pub struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
}

/// A JWKS document: `{"keys": [...]}`.
#[derive(Debug, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// A key ready to verify.
pub struct Key {
    pub kid: Option<String>,
    verifier: Verifier,
}

enum Verifier {
    Hs256(Vec<u8>),
    Rs256(rsa::pkcs1v15::VerifyingKey<Sha256>),
    Es256(p256::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Key({:?}, {:?})", self.kid, self.alg())
    }
}

impl Key {
    pub fn from_config(config: KeyConfig) -> Result<Key, String> {
        let verifier = match (config.alg, config.secret, config.pem) {
            (Alg::HS256, Some(secret), None) => {
                if secret.len() < 32 {
                    return Err("an HS256 secret needs at least 32 bytes".to_owned());
                }
                Verifier::Hs256(secret.into_bytes())
            }
            (Alg::RS256, None, Some(pem)) => {
                let key = rsa::RsaPublicKey::from_public_key_pem(pem.trim())
                    .map_err(|e| format!("RS256 pem: {e}"))?;
                Verifier::Rs256(rsa::pkcs1v15::VerifyingKey::new(key))
            }
            (Alg::ES256, None, Some(pem)) => {
                let key = p256::PublicKey::from_public_key_pem(pem.trim())
                    .map_err(|e| format!("ES256 pem: {e}"))?;
                Verifier::Es256(key.into())
            }
            (Alg::HS256, _, _) => return Err("an HS256 key needs `secret` (and no `pem`)".into()),
            (alg, _, _) => return Err(format!("an {alg:?} key needs `pem` (and no `secret`)")),
        };
        Ok(Key {
            kid: config.kid,
            verifier,
        })
    }

    /// Keys of a JWKS document; keys for other uses or curves are skipped.
    pub fn from_jwk(jwk: Jwk) -> Result<Option<Key>, String> {
        if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        let b64 = |field: &str, v: Option<String>| {
            let v = v.ok_or_else(|| format!("jwks key {:?}: missing {field}", jwk.kid))?;
            URL_SAFE_NO_PAD
                .decode(v.trim_end_matches('='))
                .map_err(|e| format!("jwks key {:?}: {field}: {e}", jwk.kid))
        };
        let verifier = match (jwk.kty.as_str(), jwk.alg.as_deref()) {
            ("RSA", None | Some("RS256")) => {
                let n = rsa::BigUint::from_bytes_be(&b64("n", jwk.n)?);
                let e = rsa::BigUint::from_bytes_be(&b64("e", jwk.e)?);
                let key = rsa::RsaPublicKey::new(n, e)
                    .map_err(|e| format!("jwks key {:?}: {e}", jwk.kid))?;
                Verifier::Rs256(rsa::pkcs1v15::VerifyingKey::new(key))
            }
            ("EC", None | Some("ES256")) if jwk.crv.as_deref() == Some("P-256") => {
                let (x, y) = (b64("x", jwk.x)?, b64("y", jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(format!("jwks key {:?}: x and y must be 32 bytes", jwk.kid));
                }
                let point = p256::EncodedPoint::from_affine_coordinates(
                    x.as_slice().into(),
                    y.as_slice().into(),
                    false,
                );
                let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map_err(|_| format!("jwks key {:?}: not a point on P-256", jwk.kid))?;
                Verifier::Es256(key)
            }
            _ => return Ok(None),
        };
        Ok(Some(Key {
            kid: jwk.kid,
            verifier,
        }))
    }

    pub fn alg(&self) -> Alg {
        match self.verifier {
            Verifier::Hs256(_) => Alg::HS256,
            Verifier::Rs256(_) => Alg::RS256,
            Verifier::Es256(_) => Alg::ES256,
        }
    }

    /// Checks `signature` over `message` (`header.payload` of the token).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.verifier {
            Verifier::Hs256(secret) => {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
                    return false;
                };
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }
            Verifier::Rs256(key) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok()),
            Verifier::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok()),
        }
    }
}
