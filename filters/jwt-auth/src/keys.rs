//! Verification keys: HS256 secrets (checked here: cheap), RS256 and ES256 public keys from PEM
//! or a JWKS document (checked by the gateway through `wafka_sdk::crypto`: 6× faster than in
//! the guest, see the README).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use wafka_sdk::crypto::{self, Algorithm, PublicKey};

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
    Rs256(PublicKey),
    Es256(PublicKey),
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
            (Alg::RS256, None, Some(pem)) => match public_key(&pem) {
                Ok(key @ PublicKey::RsaDer(_)) => {
                    Verifier::Rs256(checked(Algorithm::RsaPkcs1Sha256, key)?)
                }
                Ok(_) => return Err("RS256 pem: not an RSA key".into()),
                Err(e) => return Err(format!("RS256 pem: {e}")),
            },
            (Alg::ES256, None, Some(pem)) => match public_key(&pem) {
                Ok(key @ PublicKey::EcPoint(_)) => {
                    Verifier::Es256(checked(Algorithm::EcdsaP256Sha256, key)?)
                }
                Ok(_) => return Err("ES256 pem: not an EC key".into()),
                Err(e) => return Err(format!("ES256 pem: {e}")),
            },
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
                let key = PublicKey::RsaComponents {
                    n: b64("n", jwk.n)?,
                    e: b64("e", jwk.e)?,
                };
                let key = checked(Algorithm::RsaPkcs1Sha256, key)
                    .map_err(|e| format!("jwks key {:?}: {e}", jwk.kid))?;
                Verifier::Rs256(key)
            }
            ("EC", None | Some("ES256")) if jwk.crv.as_deref() == Some("P-256") => {
                let (x, y) = (b64("x", jwk.x)?, b64("y", jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(format!("jwks key {:?}: x and y must be 32 bytes", jwk.kid));
                }
                let key = PublicKey::EcPoint([&[4u8][..], &x, &y].concat());
                let key = checked(Algorithm::EcdsaP256Sha256, key)
                    .map_err(|e| format!("jwks key {:?}: {e}", jwk.kid))?;
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
            Verifier::Rs256(key) => {
                crypto::verify(Algorithm::RsaPkcs1Sha256, key, message, signature)
            }
            Verifier::Es256(key) => {
                crypto::verify(Algorithm::EcdsaP256Sha256, key, message, signature)
            }
        }
    }
}

/// The key in a `-----BEGIN PUBLIC KEY-----` PEM.
fn public_key(pem: &str) -> Result<PublicKey, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN PUBLIC KEY-----")
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    if body.is_empty() {
        return Err("expected -----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----".into());
    }
    let der = STANDARD.decode(body).map_err(|e| format!("base64: {e}"))?;
    crypto::spki(&der)
}

/// `key` after the gateway confirmed it fits `algorithm`.
fn checked(algorithm: Algorithm, key: PublicKey) -> Result<PublicKey, String> {
    crypto::check_key(algorithm, &key)?;
    Ok(key)
}
