use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use sha2::Sha256;
use wafka_sdk::testing;

use super::*;

const SECRET: &str = "a-shared-secret-of-at-least-32-bytes!";
const NOW: u64 = 1_800_000_000;

/// A fixed 2048-bit test key (generating one takes seconds in a debug build).
fn rsa_key() -> &'static rsa::RsaPrivateKey {
    use rsa::pkcs8::DecodePrivateKey;
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("test-rsa-key.pem")).unwrap()
    })
}

fn ec_key() -> &'static p256::ecdsa::SigningKey {
    static KEY: OnceLock<p256::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| p256::ecdsa::SigningKey::random(&mut rand::thread_rng()))
}

fn rsa_pem() -> String {
    rsa_key()
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

fn ec_pem() -> String {
    p256::PublicKey::from(ec_key().verifying_key())
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with `header` and `claims`, signed with the key for `alg`.
fn token(header: Value, claims: Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match header["alg"].as_str().unwrap() {
        "HS256" => {
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(signed.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        "RS256" => rsa::pkcs1v15::SigningKey::<Sha256>::new(rsa_key().clone())
            .sign(signed.as_bytes())
            .to_vec(),
        "ES256" => {
            let s: p256::ecdsa::Signature = ec_key().sign(signed.as_bytes());
            s.to_bytes().to_vec()
        }
        _ => Vec::new(),
    };
    format!("{signed}.{}", b64(&signature))
}

fn claims() -> Value {
    json!({"sub": "ada", "iss": "https://id.example", "aud": ["wafka"], "exp": NOW + 300, "topics": ["events.*"]})
}

fn config() -> Value {
    json!({
        "keys": [
            {"kid": "h1", "alg": "HS256", "secret": SECRET},
            {"kid": "r1", "alg": "RS256", "pem": rsa_pem()},
            {"alg": "ES256", "pem": ec_pem()},
        ],
        "issuer": "https://id.example",
        "audience": "wafka",
        "topics_claim": "topics",
        "claims_to_headers": {"sub": "x-user"},
    })
}

fn run_with(config: &Value, authorization: Option<&str>, topic: &str) -> Outcome {
    testing::set_clock(Some(NOW * 1000));
    let mut builder = Request::builder();
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    run_filter::<JwtAuth>(
        &config.to_string(),
        &builder.build(),
        vec![Record::new(topic)],
    )
}

fn run(token: &str) -> Outcome {
    run_with(&config(), Some(&format!("Bearer {token}")), "events.web")
}

fn refused(outcome: &Outcome) -> (u16, String, String) {
    let r = outcome.response().expect("a response");
    let body: Value = r.body_json().unwrap();
    let text = |f: &str| body["error"][f].as_str().unwrap().to_owned();
    (r.status, text("code"), text("message"))
}

fn assert_invalid(outcome: &Outcome, why: &str) {
    let (status, code, message) = refused(outcome);
    assert_eq!((status, code.as_str()), (401, "invalid_token"), "{message}");
    assert!(message.contains(why), "{message:?} should say {why:?}");
    let challenge = outcome
        .response()
        .unwrap()
        .header("www-authenticate")
        .unwrap();
    assert_eq!(challenge, br#"Bearer error="invalid_token""#);
}

#[test]
fn each_algorithm_verifies_and_copies_claims_to_headers() {
    for (alg, kid) in [
        ("HS256", Some("h1")),
        ("RS256", Some("r1")),
        ("ES256", None),
    ] {
        let mut header = json!({"alg": alg, "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        let out = run(&token(header, claims()));
        let records = out
            .records()
            .unwrap_or_else(|| panic!("{alg}: {:?}", refused(&out)));
        assert_eq!(records[0].header("x-user"), Some(b"ada".to_vec()), "{alg}");
    }
}

#[test]
fn keys_from_a_jwks_document() {
    use rsa::traits::PublicKeyParts;
    let public = rsa_key().to_public_key();
    let point = ec_key().verifying_key().to_encoded_point(false);
    let config = json!({
        "jwks": {"keys": [
            {"kty": "RSA", "kid": "rk", "use": "sig", "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())},
            {"kty": "EC", "kid": "ek", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())},
            {"kty": "oct", "kid": "ignored"},
        ]},
    });
    for (alg, kid) in [("RS256", "rk"), ("ES256", "ek")] {
        let t = token(json!({"alg": alg, "kid": kid}), claims());
        let out = run_with(&config, Some(&format!("Bearer {t}")), "anything");
        assert!(out.records().is_some(), "{alg}: {:?}", refused(&out));
    }
}

#[test]
fn time_claims_respect_the_leeway() {
    let at = |exp: u64| {
        let mut c = claims();
        c["exp"] = json!(exp);
        run(&token(json!({"alg": "HS256"}), c))
    };
    assert!(at(NOW - 30).records().is_some(), "within the 60 s leeway");
    assert_invalid(&at(NOW - 61), "expired");
    let mut c = claims();
    c["nbf"] = json!(NOW + 120);
    assert_invalid(&run(&token(json!({"alg": "HS256"}), c)), "not valid before");
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_invalid(&run(&token(json!({"alg": "HS256"}), c)), "no exp");
}

#[test]
fn issuer_and_audience_are_checked() {
    let mut c = claims();
    c["iss"] = json!("https://evil.example");
    assert_invalid(&run(&token(json!({"alg": "HS256"}), c)), "issuer");
    let mut c = claims();
    c["aud"] = json!("other");
    assert_invalid(&run(&token(json!({"alg": "HS256"}), c)), "audience");
}

#[test]
fn forged_and_malformed_tokens_are_refused() {
    let good = token(json!({"alg": "HS256"}), claims());
    // Another payload under the same signature.
    let mut parts: Vec<&str> = good.split('.').collect();
    let mut c = claims();
    c["sub"] = json!("mallory");
    let forged_payload = b64(c.to_string().as_bytes());
    parts[1] = &forged_payload;
    assert_invalid(&run(&parts.join(".")), "signature does not verify");
    // alg none, unsigned.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims().to_string().as_bytes())
    );
    assert_invalid(&run(&none), "\"none\" is not accepted");
    // Algorithm confusion: HS256 "signed" with the RSA public key as the secret, against a
    // config that only has that RSA key.
    let config = json!({"keys": [{"kid": "r1", "alg": "RS256", "pem": rsa_pem()}]});
    let header = b64(br#"{"alg":"HS256","kid":"r1"}"#);
    let payload = b64(claims().to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(rsa_pem().as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let confused = format!("{header}.{payload}.{}", b64(&mac.finalize().into_bytes()));
    assert_invalid(
        &run_with(&config, Some(&format!("Bearer {confused}")), "t"),
        "no HS256 key",
    );
    assert_invalid(
        &run(&token(json!({"alg": "RS256", "kid": "nope"}), claims())),
        "kid \"nope\"",
    );
    assert_invalid(&run("a.b"), "three dot-separated parts");
    assert_invalid(&run("!!.!!.!!"), "not base64url");
    assert_invalid(&run(&"a".repeat(9000)), "longer than 8192");
}

#[test]
fn a_missing_token_gets_a_bearer_challenge() {
    for header in [None, Some("Basic dXNlcjpwYXNz"), Some("Bearer ")] {
        let out = run_with(&config(), header, "events.web");
        let (status, code, _) = refused(&out);
        assert_eq!(
            (status, code.as_str()),
            (401, "missing_token"),
            "{header:?}"
        );
        assert_eq!(
            out.response().unwrap().header("www-authenticate"),
            Some(&b"Bearer"[..])
        );
    }
}

#[test]
fn topics_come_from_the_claims() {
    let t = token(json!({"alg": "HS256"}), claims());
    let out = run_with(&config(), Some(&format!("Bearer {t}")), "orders");
    let (status, code, message) = refused(&out);
    assert_eq!((status, code.as_str()), (403, "topic_forbidden"));
    assert!(message.contains("orders"));

    let mut config = config();
    config.as_object_mut().unwrap().remove("topics_claim");
    config["grants"] = json!({"claim": "scope", "topics": {"write:orders": ["orders"], "write:events": ["events.*"]}});
    let mut c = claims();
    c["scope"] = json!("read write:orders");
    let t = token(json!({"alg": "HS256"}), c);
    assert!(
        run_with(&config, Some(&format!("Bearer {t}")), "orders")
            .records()
            .is_some()
    );
    let (status, _, _) = refused(&run_with(
        &config,
        Some(&format!("Bearer {t}")),
        "events.web",
    ));
    assert_eq!(status, 403);
}

#[test]
fn read_grants_allow_reading_only_and_write_grants_allow_both() {
    let mut config = config();
    config.as_object_mut().unwrap().remove("topics_claim");
    config["grants"] = json!({
        "claim": "scope",
        "topics": {"registry:write": ["*"]},
        "read_topics": {"registry:read": ["*"], "orders:read": ["orders-*"]},
    });
    let run_as = |scope: &str, access: Access, subject: &str| {
        let mut c = claims();
        c["scope"] = json!(scope);
        let t = token(json!({"alg": "HS256"}), c);
        testing::set_clock(Some(NOW * 1000));
        let request = Request::builder()
            .header("authorization", format!("Bearer {t}"))
            .access(access)
            .build();
        run_filter::<JwtAuth>(&config.to_string(), &request, vec![Record::new(subject)])
    };
    assert!(
        run_as("registry:read", Access::Read, "orders-value")
            .records()
            .is_some()
    );
    let (status, code, message) = refused(&run_as("registry:read", Access::Write, "orders-value"));
    assert_eq!((status, code.as_str()), (403, "topic_forbidden"));
    assert!(
        message.contains("may not write to topic \"orders-value\""),
        "{message}"
    );
    assert!(
        run_as("registry:write", Access::Write, "orders-value")
            .records()
            .is_some()
    );
    assert!(
        run_as("registry:write", Access::Read, "orders-value")
            .records()
            .is_some()
    );
    assert!(
        run_as("orders:read", Access::Read, "orders-value")
            .records()
            .is_some()
    );
    let (status, _, message) = refused(&run_as("orders:read", Access::Read, "payments-value"));
    assert_eq!(status, 403);
    assert!(message.contains("may not read topic"), "{message}");
}

#[test]
fn bad_configs_are_explained() {
    let err = |v: Value| load_filter::<JwtAuth>(&v.to_string()).unwrap_err();
    assert!(err(json!({})).contains("no verification keys"));
    assert!(
        err(json!({"keys": [{"alg": "HS256", "secret": "short"}]})).contains("at least 32 bytes")
    );
    assert!(err(json!({"keys": [{"alg": "RS256", "secret": SECRET}]})).contains("needs `pem`"));
    assert!(
        err(json!({"keys": [{"alg": "RS256", "pem": "garbage"}]}))
            .starts_with("keys[0]: RS256 pem")
    );
    assert!(err(json!({"keys": [{"alg": "none", "secret": SECRET}]})).contains("unknown variant"));
    let grants = json!({"keys": [{"alg": "HS256", "secret": SECRET}], "grants": {"claim": "scope", "topics": {"x": ["a b"]}}});
    assert!(err(grants).contains("grants.topics"));
    let grants = json!({"keys": [{"alg": "HS256", "secret": SECRET}], "grants": {"claim": "scope", "read_topics": {"x": ["a b"]}}});
    assert!(err(grants).contains("grants.read_topics"));
}

/// The provider `corp`: the test RSA key published as `p1`, and introspection answers for two
/// opaque tokens.
fn add_corp() {
    use rsa::traits::PublicKeyParts;
    let public = rsa_key().to_public_key();
    let answers = [
        (
            "opaque-good",
            json!({"active": true, "iss": "https://id.example", "scope": "write:orders", "exp": NOW + 60, "client_id": "svc"}),
        ),
        ("opaque-revoked", json!({"active": false})),
    ];
    testing::add_provider(
        "corp",
        testing::TestProvider {
            issuer: "https://id.example".into(),
            jwks: json!({"keys": [
                {"kty": "RSA", "kid": "p1", "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())},
            ]}),
            introspection: answers
                .into_iter()
                .map(|(t, a)| (t.to_owned(), a))
                .collect(),
        },
    );
}

fn provider_config() -> Value {
    json!({
        "provider": "corp",
        "introspect": true,
        "grants": {"claim": "scope", "topics": {"write:orders": ["orders.*"]}},
    })
}

fn pss256(signed: &str) -> Vec<u8> {
    use rsa::signature::RandomizedSigner;
    rsa::pss::BlindedSigningKey::<Sha256>::new(rsa_key().clone())
        .sign_with_rng(&mut rand::thread_rng(), signed.as_bytes())
        .to_vec()
}

#[test]
fn tokens_verify_with_a_providers_published_keys() {
    add_corp();
    let mut c = claims();
    c["scope"] = json!("write:orders");
    let bearer = |t: &str| format!("Bearer {t}");
    let t = token(json!({"alg": "RS256", "kid": "p1"}), c.clone());
    let out = run_with(&provider_config(), Some(&bearer(&t)), "orders.eu");
    assert!(out.records().is_some(), "{:?}", refused(&out));

    // PS256, a provider-only algorithm, by the same key.
    let signed = format!(
        "{}.{}",
        b64(br#"{"alg":"PS256","kid":"p1"}"#),
        b64(c.to_string().as_bytes())
    );
    let ps = format!("{signed}.{}", b64(&pss256(&signed)));
    let out = run_with(&provider_config(), Some(&bearer(&ps)), "orders.eu");
    assert!(out.records().is_some(), "{:?}", refused(&out));

    let t = token(json!({"alg": "RS256", "kid": "rotated-away"}), c.clone());
    assert_invalid(
        &run_with(&provider_config(), Some(&bearer(&t)), "orders.eu"),
        "no RS256 key Some(\"rotated-away\")",
    );
    // The issuer defaults to the provider's.
    let mut other = c;
    other["iss"] = json!("https://elsewhere.example");
    let t = token(json!({"alg": "RS256", "kid": "p1"}), other);
    assert_invalid(
        &run_with(&provider_config(), Some(&bearer(&t)), "orders.eu"),
        "issuer",
    );
}

#[test]
fn opaque_tokens_are_introspected() {
    add_corp();
    let run =
        |t: &str, topic: &str| run_with(&provider_config(), Some(&format!("Bearer {t}")), topic);
    assert!(run("opaque-good", "orders.eu").records().is_some());
    let (status, code, _) = refused(&run("opaque-good", "payments"));
    assert_eq!((status, code.as_str()), (403, "topic_forbidden"));
    assert_invalid(&run("opaque-revoked", "orders.eu"), "not active");
    assert_invalid(&run("never-issued", "orders.eu"), "not active");

    // Without `introspect`, an opaque token is not a JWT.
    let mut config = provider_config();
    config["introspect"] = json!(false);
    assert_invalid(
        &run_with(&config, Some("Bearer opaque-good"), "orders.eu"),
        "three dot-separated parts",
    );
}

#[test]
fn provider_configs_are_checked() {
    add_corp();
    let err = |v: Value| load_filter::<JwtAuth>(&v.to_string()).unwrap_err();
    assert!(err(json!({"provider": "nope"})).contains("no identity provider \"nope\""));
    assert!(
        err(json!({"keys": [{"alg": "HS256", "secret": SECRET}], "introspect": true}))
            .contains("needs a `provider`")
    );
    testing::add_provider(
        "keys-only",
        testing::TestProvider {
            issuer: "https://k.example".into(),
            jwks: json!({"keys": []}),
            ..Default::default()
        },
    );
    assert!(err(json!({"provider": "keys-only", "introspect": true})).contains("no client_id"));
    assert!(load_filter::<JwtAuth>(&json!({"provider": "keys-only"}).to_string()).is_ok());
}
