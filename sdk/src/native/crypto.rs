//! `crypto` in-process with `ring`: the gateway's host calls run this code, so a filter's unit
//! test accepts and refuses exactly the keys the gateway does.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use crate::crypto::{Algorithm, PublicKey, der_item};

/// Whether `key` has the shape `algorithm` needs: RSA moduli of 2048 to 8192 bits and public
/// exponents of at most 33 bits, P-256 points uncompressed. (ring checks the rest when
/// verifying.)
pub fn check_key(algorithm: Algorithm, key: &PublicKey) -> Result<(), String> {
    match (algorithm, key) {
        (Algorithm::RsaPkcs1Sha256, PublicKey::RsaDer(der)) => {
            let (n, e) = rsa_der(der).ok_or("not a DER RSAPublicKey")?;
            rsa_sizes(n, e)
        }
        (Algorithm::RsaPkcs1Sha256, PublicKey::RsaComponents { n, e }) => rsa_sizes(n, e),
        (Algorithm::EcdsaP256Sha256, PublicKey::EcPoint(point)) => {
            if point.len() == 65 && point[0] == 4 {
                Ok(())
            } else {
                Err("a P-256 key is an uncompressed point: 0x04 and 64 bytes".into())
            }
        }
        (Algorithm::RsaPkcs1Sha256, _) => Err("an RSA algorithm needs an RSA key".into()),
        (Algorithm::EcdsaP256Sha256, _) => Err("ECDSA P-256 needs an EC point".into()),
    }
}

/// True when `sig` is `key`'s signature of `message`; false for a key [`check_key`] refuses.
pub fn verify(algorithm: Algorithm, key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    if check_key(algorithm, key).is_err() {
        return false;
    }
    let rsa = &signature::RSA_PKCS1_2048_8192_SHA256;
    match (algorithm, key) {
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

fn rsa_sizes(n: &[u8], e: &[u8]) -> Result<(), String> {
    let bits = |v: &[u8]| {
        let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len())..];
        v.first()
            .map_or(0, |b| (v.len() - 1) * 8 + (8 - b.leading_zeros() as usize))
    };
    match bits(n) {
        2048..=8192 => {}
        other => {
            return Err(format!(
                "an RSA modulus of {other} bits; 2048 to 8192 are accepted"
            ));
        }
    }
    match bits(e) {
        2..=33 => Ok(()),
        _ => Err("an RSA public exponent must be between 3 and 2^33".into()),
    }
}

/// The modulus and exponent of `SEQUENCE { INTEGER n, INTEGER e }`, and nothing after it.
fn rsa_der(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (seq, rest) = der_item(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (n, rest) = der_item(seq, 0x02)?;
    let (e, rest) = der_item(rest, 0x02)?;
    rest.is_empty().then_some((n, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shapes_are_checked() {
        let rsa = |n_len: usize| PublicKey::RsaComponents {
            n: vec![0xff; n_len],
            e: vec![1, 0, 1],
        };
        let rs256 = Algorithm::RsaPkcs1Sha256;
        let es256 = Algorithm::EcdsaP256Sha256;
        assert!(check_key(rs256, &rsa(256)).is_ok());
        let short = check_key(rs256, &rsa(128)).unwrap_err();
        assert!(short.contains("1024 bits"), "{short}");
        let point = PublicKey::EcPoint([vec![4], vec![1; 64]].concat());
        assert!(check_key(es256, &point).is_ok());
        assert!(check_key(rs256, &point).is_err());
        assert!(check_key(es256, &PublicKey::EcPoint(vec![4; 33])).is_err());
        let huge_e = PublicKey::RsaComponents {
            n: vec![0xff; 256],
            e: vec![1; 6],
        };
        assert!(check_key(rs256, &huge_e).unwrap_err().contains("exponent"));
        // SEQUENCE { INTEGER n (257 bytes, leading zero), INTEGER 65537 }
        let mut der = vec![0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00];
        der.extend([0xc3; 256]);
        der.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        assert!(check_key(rs256, &PublicKey::RsaDer(der.clone())).is_ok());
        der.push(0);
        let trailing = check_key(rs256, &PublicKey::RsaDer(der)).unwrap_err();
        assert_eq!(trailing, "not a DER RSAPublicKey");
    }
}
