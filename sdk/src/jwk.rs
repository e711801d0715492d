//! JSON Web Keys (RFC 7517) checked with `ring`: what the gateway verifies identity providers'
//! tokens with, and what the native stand-in of [`identity`](crate::identity) uses, so both
//! accept the same keys. Not compiled for wasm32: a filter never holds a provider's keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

/// Most keys kept from one key set: bounds the work a token without `kid` can cause.
pub const MAX_KEYS: usize = 64;

/// A JWS algorithm verified with a provider's keys. `none` and HMAC are never among them: a
/// published key is public, so it can never serve as a shared secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// Every accepted algorithm, in the order error messages list them.
pub const ALGORITHMS: &str = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA";

impl Alg {
    /// The algorithm of a JOSE `alg` name.
    pub fn parse(name: &str) -> Option<Alg> {
        Some(match name {
            "RS256" => Alg::RS256,
            "RS384" => Alg::RS384,
            "RS512" => Alg::RS512,
            "PS256" => Alg::PS256,
            "PS384" => Alg::PS384,
            "PS512" => Alg::PS512,
            "ES256" => Alg::ES256,
            "ES384" => Alg::ES384,
            "EdDSA" => Alg::EdDSA,
            _ => return None,
        })
    }

    fn rsa(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

/// Curves of EC and OKP keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    Ed25519,
}

#[derive(Clone)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed point (EC), or the public key bytes (Ed25519).
    Point(Curve, Vec<u8>),
}

/// One signing key of a key set.
#[derive(Clone)]
pub struct Key {
    /// The key's `kid`.
    pub kid: Option<String>,
    /// The `alg` it is published for, if it says.
    pub alg: Option<Alg>,
    material: Material,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?}, {})", self.kid, self.kind())
    }
}

impl Key {
    /// `RSA`, `EC P-256`, `EC P-384` or `OKP Ed25519`.
    pub fn kind(&self) -> &'static str {
        match &self.material {
            Material::Rsa { .. } => "RSA",
            Material::Point(Curve::P256, _) => "EC P-256",
            Material::Point(Curve::P384, _) => "EC P-384",
            Material::Point(Curve::Ed25519, _) => "OKP Ed25519",
        }
    }

    /// Whether this key can verify `alg` signatures.
    pub fn fits(&self, alg: Alg) -> bool {
        if self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        matches!(
            (&self.material, alg),
            (Material::Rsa { .. }, a) if a.rsa().is_some()
        ) || matches!(
            (&self.material, alg),
            (Material::Point(Curve::P256, _), Alg::ES256)
                | (Material::Point(Curve::P384, _), Alg::ES384)
                | (Material::Point(Curve::Ed25519, _), Alg::EdDSA)
        )
    }

    /// True when `signature` is this key's `alg` signature of `message`.
    pub fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match &self.material {
            Material::Rsa { n, e } => alg.rsa().is_some_and(|p| {
                RsaPublicKeyComponents { n, e }
                    .verify(p, message, sig)
                    .is_ok()
            }),
            Material::Point(curve, point) => {
                let algorithm: &dyn signature::VerificationAlgorithm = match curve {
                    Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                    Curve::Ed25519 => &signature::ED25519,
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(message, sig)
                    .is_ok()
            }
        }
    }
}

/// The signing keys of a JWKS document, and why the others were left out.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Keys usable for signatures.
    pub keys: Vec<Key>,
    /// One line per key left out (an encryption key, an HMAC key, an unknown curve…).
    pub skipped: Vec<String>,
}

impl KeySet {
    /// Reads `{"keys": [...]}`. Keys that cannot verify signatures are skipped, not refused:
    /// providers publish encryption keys in the same set.
    pub fn parse(document: &Value) -> Result<KeySet, String> {
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("not a JWKS document: no \"keys\" array")?;
        let mut set = KeySet::default();
        for (i, jwk) in keys.iter().enumerate() {
            let kid = jwk.get("kid").and_then(Value::as_str);
            match parse_key(jwk) {
                Ok(key) if set.keys.len() < MAX_KEYS => set.keys.push(key),
                Ok(_) => set
                    .skipped
                    .push(format!("keys[{i}] {kid:?}: more than {MAX_KEYS} keys")),
                Err(why) => set.skipped.push(format!("keys[{i}] {kid:?}: {why}")),
            }
        }
        Ok(set)
    }

    /// The keys that may have signed an `alg` token with `kid` (every key for `alg` when the
    /// token names none).
    pub fn candidates(&self, alg: Alg, kid: Option<&str>) -> impl Iterator<Item = &Key> {
        self.keys
            .iter()
            .filter(move |k| k.fits(alg) && (kid.is_none() || k.kid.as_deref() == kid))
    }
}

fn parse_key(jwk: &Value) -> Result<Key, String> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("use").is_some_and(|u| u != "sig") {
        return Err("not a signing key (use)".into());
    }
    let alg = match field("alg") {
        None => None,
        Some(name) => Some(Alg::parse(name).ok_or_else(|| format!("alg {name:?} not accepted"))?),
    };
    let bytes = |name: &str| {
        let text = field(name).ok_or_else(|| format!("no {name:?}"))?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| format!("{name:?} is not base64url"))
    };
    let material = match (field("kty"), field("crv")) {
        (Some("RSA"), _) => {
            let (n, e) = (bytes("n")?, bytes("e")?);
            let n_bits = significant_bits(&n);
            if !(2048..=8192).contains(&n_bits) {
                return Err(format!(
                    "an RSA modulus of {n_bits} bits; 2048 to 8192 are accepted"
                ));
            }
            Material::Rsa { n, e }
        }
        (Some("EC"), Some(crv @ ("P-256" | "P-384"))) => {
            let (curve, len) = if crv == "P-256" {
                (Curve::P256, 32)
            } else {
                (Curve::P384, 48)
            };
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != len || y.len() != len {
                return Err(format!("x and y of a {crv} key are {len} bytes"));
            }
            Material::Point(curve, [&[4u8][..], &x, &y].concat())
        }
        (Some("OKP"), Some("Ed25519")) => {
            let x = bytes("x")?;
            if x.len() != 32 {
                return Err("x of an Ed25519 key is 32 bytes".into());
            }
            Material::Point(Curve::Ed25519, x)
        }
        (kty, crv) => return Err(format!("kty {kty:?} crv {crv:?} not accepted")),
    };
    let key = Key {
        kid: field("kid").map(str::to_owned),
        alg,
        material,
    };
    if let Some(alg) = alg
        && !key.fits(alg)
    {
        return Err(format!("a {} key cannot be {alg:?}", key.kind()));
    }
    Ok(key)
}

fn significant_bits(v: &[u8]) -> usize {
    let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len())..];
    v.first()
        .map_or(0, |b| (v.len() - 1) * 8 + (8 - b.leading_zeros() as usize))
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
    use serde_json::json;

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn ec_and_ed25519_keys_verify_their_own_algorithm_only() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = ec.public_key().as_ref();
        let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).unwrap();
        let set = KeySet::parse(&json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64(&point[1..33]), "y": b64(&point[33..])},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.public_key().as_ref())},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": b64(&[0xff; 128]), "e": "AQAB"},
        ]}))
        .unwrap();
        assert_eq!(set.keys.len(), 2, "{:?}", set.skipped);
        assert_eq!(set.skipped.len(), 3);
        assert!(set.skipped[2].contains("1024 bits"), "{:?}", set.skipped);

        let message = b"header.payload";
        let sig = ec.sign(&rng, message).unwrap();
        let key = set.candidates(Alg::ES256, Some("ec")).next().unwrap();
        assert!(key.verify(Alg::ES256, message, sig.as_ref()));
        assert!(!key.verify(Alg::ES256, b"other", sig.as_ref()));
        assert!(set.candidates(Alg::ES384, Some("ec")).next().is_none());
        assert!(set.candidates(Alg::RS256, None).next().is_none());

        let sig = ed.sign(message);
        let key = set.candidates(Alg::EdDSA, None).next().unwrap();
        assert_eq!(key.kid.as_deref(), Some("ed"));
        assert!(key.verify(Alg::EdDSA, message, sig.as_ref()));
    }

    #[test]
    fn a_declared_alg_binds_the_key() {
        let set = KeySet::parse(&json!({"keys": [
            {"kty": "RSA", "kid": "r", "alg": "PS256", "n": b64(&[0xc5; 256]), "e": "AQAB"},
            {"kty": "RSA", "kid": "wrong", "alg": "ES256", "n": b64(&[0xc5; 256]), "e": "AQAB"},
        ]}))
        .unwrap();
        assert_eq!(set.keys.len(), 1);
        assert!(set.candidates(Alg::PS256, Some("r")).next().is_some());
        assert!(set.candidates(Alg::RS256, Some("r")).next().is_none());
        assert!(KeySet::parse(&json!({"nokeys": []})).is_err());
        assert_eq!(Alg::parse("none"), None);
        assert_eq!(Alg::parse("HS256"), None);
    }
}
