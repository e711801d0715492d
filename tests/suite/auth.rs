//! The auth filters in a real gateway: `jwt-auth` and `api-key-auth` decide who may write which
//! topic, and what they refuse never reaches Kafka.

use sha2::{Digest, Sha256};
use wafka_tests::kafka::read_all;
use wafka_tests::{Broker, TestGateway};

pub(crate) const SECRET: &str = "integration-secret-of-32-bytes-or-more";

/// HMAC-SHA256 (RFC 2104), enough to sign an HS256 test token without another dependency.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

pub(crate) fn hs256(claims: serde_json::Value) -> String {
    let signed = format!(
        "{}.{}",
        b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64url(claims.to_string().as_bytes())
    );
    format!(
        "{signed}.{}",
        b64url(&hmac_sha256(SECRET.as_bytes(), signed.as_bytes()))
    )
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_auth_lets_tokens_write_their_topics_only() {
    let routes = format!(
        r#"
[[routes]]
name = "events"
path = "/v1/events/{{source}}"
topic = "events"
filters = [
  {{ name = "topic-router", config = {{ param = "source", template = "events.{{}}", allow = ["events.*"] }} }},
  {{ name = "jwt-auth", config = {{ keys = [{{ alg = "HS256", secret = "{SECRET}" }}], audience = "wafka", topics_claim = "topics", claims_to_headers = {{ sub = "x-user" }} }} }},
]
"#
    );
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(&routes)
        .topics(&["events.web", "events.mobile"])
        .filter("topic-router")
        .filter("jwt-auth")
        .start()
        .await;
    let token = hs256(serde_json::json!({
        "sub": "ada", "aud": "wafka", "exp": now() + 300, "topics": ["events.web"]
    }));
    let bearer = format!("Bearer {token}");
    let post = |path: &'static str, auth: Option<String>| {
        let gw = &gw;
        async move {
            let mut headers = vec![("content-type", "application/json")];
            let auth = auth.unwrap_or_default();
            if !auth.is_empty() {
                headers.push(("authorization", auth.as_str()));
            }
            gw.send("POST", path, &headers, r#"{"n":1}"#).await
        }
    };

    let res = post("/v1/events/web", Some(bearer.clone())).await;
    assert_eq!(res.status, 200, "{}", res.json());

    let res = post("/v1/events/web", None).await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (401, "missing_token")
    );
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));

    let forged = format!("Bearer {}x", &token[..token.len() - 1]);
    let res = post("/v1/events/web", Some(forged)).await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (401, "invalid_token")
    );

    let res = post("/v1/events/mobile", Some(bearer)).await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (403, "topic_forbidden")
    );

    let web = read_all(&gw.bootstrap, "events.web");
    assert_eq!(web.len(), 1, "only the authorized request was produced");
    assert!(
        web[0]
            .headers
            .contains(&("x-user".to_owned(), b"ada".to_vec()))
    );
    assert!(read_all(&gw.bootstrap, "events.mobile").is_empty());
    gw.shutdown().await;
}

/// A token signed by `sign` over `header.payload`.
fn signed_token(
    header: serde_json::Value,
    claims: serde_json::Value,
    sign: impl Fn(&[u8]) -> Vec<u8>,
) -> String {
    let signed = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    format!("{signed}.{}", b64url(&sign(signed.as_bytes())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_auth_verifies_rs256_and_es256_through_the_host_crypto_interface() {
    use base64::Engine as _;
    use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};

    let rng = ring::rand::SystemRandom::new();
    let pem = include_str!("../../filters/jwt-auth/src/test-rsa-key.pem");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let rsa = RsaKeyPair::from_pkcs8(&der).unwrap();
    let rsa_public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(rsa.public());
    let ec_alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let ec_key = |rng| {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(ec_alg, rng).unwrap();
        EcdsaKeyPair::from_pkcs8(ec_alg, pkcs8.as_ref(), rng).unwrap()
    };
    let (ec, other_ec) = (ec_key(&rng), ec_key(&rng));
    let point = ec.public_key().as_ref();
    let jwks = serde_json::json!({"keys": [
        {"kty": "RSA", "kid": "r1", "alg": "RS256",
         "n": b64url(&rsa_public.n),
         "e": b64url(&rsa_public.e)},
        {"kty": "EC", "kid": "e1", "crv": "P-256",
         "x": b64url(&point[1..33]), "y": b64url(&point[33..])},
    ]});
    let routes = format!(
        r#"
[[routes]]
name = "events"
path = "/v1/events"
topic = "events.web"
filters = [{{ name = "jwt-auth", config = {{ jwks = {jwks}, audience = "wafka", topics_claim = "topics", claims_to_headers = {{ sub = "x-user" }} }} }}]
"#
    )
    // A JSON object is a TOML inline table once its `:` are `=`.
    .replace(r#"":"#, r#"" = "#);
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(&routes)
        .filter("jwt-auth")
        .start()
        .await;
    let claims = |sub: &str| serde_json::json!({"sub": sub, "aud": "wafka", "exp": now() + 300, "topics": ["events.web"]});
    let rs256 = signed_token(
        serde_json::json!({"alg": "RS256", "kid": "r1"}),
        claims("rsa"),
        |m| {
            let mut sig = vec![0; rsa.public().modulus_len()];
            rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, m, &mut sig)
                .unwrap();
            sig
        },
    );
    let es256 = |key: &EcdsaKeyPair, sub: &str| {
        signed_token(
            serde_json::json!({"alg": "ES256", "kid": "e1"}),
            claims(sub),
            |m| key.sign(&rng, m).unwrap().as_ref().to_vec(),
        )
    };
    let post = |token: String| {
        let gw = &gw;
        async move {
            let auth = format!("Bearer {token}");
            gw.send(
                "POST",
                "/v1/events",
                &[("authorization", auth.as_str())],
                "{}",
            )
            .await
        }
    };

    let res = post(rs256).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = post(es256(&ec, "ec")).await;
    assert_eq!(res.status, 200, "{}", res.json());
    // Signed by another P-256 key under the same kid: the host refuses the signature.
    let res = post(es256(&other_ec, "impostor")).await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (401, "invalid_token")
    );

    let mut users: Vec<Vec<u8>> = read_all(&gw.bootstrap, "events.web")
        .into_iter()
        .flat_map(|r| r.headers)
        .filter(|(name, _)| name == "x-user")
        .map(|(_, value)| value)
        .collect();
    users.sort();
    assert_eq!(users, [b"ec".to_vec(), b"rsa".to_vec()]);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_auth_names_the_key_and_refuses_other_topics() {
    let digest = |key: &str| {
        let d = Sha256::digest(key.as_bytes());
        format!(
            "sha256:{}",
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    };
    let routes = format!(
        r#"
[[routes]]
name = "orders"
path = "/v1/orders"
topic = "orders"
filters = [
  {{ name = "api-key-auth", config = {{ keys = [
    {{ id = "shop", sha256 = "{}", topics = ["orders"] }},
    {{ id = "billing", sha256 = "{}", topics = ["invoices"] }},
  ] }} }},
]
"#,
        digest("shop-key-1"),
        digest("billing-key-1"),
    );
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(&routes)
        .filter("api-key-auth")
        .start()
        .await;
    let client = &gw;
    let post = move |key: &'static str| async move {
        client
            .send("POST", "/v1/orders", &[("x-api-key", key)], "{}")
            .await
    };

    let res = post("shop-key-1").await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = post("wrong-key").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (401, "invalid_api_key")
    );
    let res = post("billing-key-1").await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (403, "topic_forbidden")
    );

    let orders = read_all(&gw.bootstrap, "orders");
    assert_eq!(orders.len(), 1);
    assert!(
        orders[0]
            .headers
            .contains(&("x-api-key-id".to_owned(), b"shop".to_vec()))
    );
    // The key itself is nowhere in what the gateway shows.
    let config = gw.admin("/admin/config").await;
    assert!(!String::from_utf8_lossy(&config.body).contains("shop-key-1"));
    gw.shutdown().await;
}
