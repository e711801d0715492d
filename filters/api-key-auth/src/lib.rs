//! `api-key-auth`: checks an API key against SHA-256 digests from the config (keys themselves
//! are never in the config or the logs) and lets each key write only its topics.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use wafka_sdk::prelude::*;

/// The route's config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The accepted keys.
    keys: Vec<KeyConfig>,
    /// Request header carrying the key. Default `x-api-key`. `authorization` accepts
    /// `ApiKey <key>` and `Bearer <key>`.
    #[serde(default = "default_header")]
    header: String,
    /// Record header that receives the key's id, so consumers know who sent a record.
    /// Default `x-api-key-id`; `""` adds none.
    #[serde(default = "default_id_header")]
    id_header: String,
}

/// One accepted key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyConfig {
    /// Name of the key, for logs and the id header: never the key itself.
    id: String,
    /// `sha256:` and the hex SHA-256 of the key: `printf %s "$KEY" | sha256sum`.
    sha256: String,
    /// Topics it may write: names, or prefixes ending in `*`.
    topics: Vec<String>,
}

fn default_header() -> String {
    "x-api-key".to_owned()
}

fn default_id_header() -> String {
    "x-api-key-id".to_owned()
}

/// The `api-key-auth` filter.
#[derive(Debug)]
pub struct ApiKeyAuth {
    keys: Vec<Key>,
    header: String,
    id_header: String,
}

#[derive(Debug)]
struct Key {
    id: String,
    digest: [u8; 32],
    topics: Vec<String>,
}

impl Filter for ApiKeyAuth {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.keys.is_empty() {
            return Err("keys: list at least one key".to_owned());
        }
        let mut ids = HashSet::new();
        let mut keys = Vec::with_capacity(config.keys.len());
        for (i, key) in config.keys.into_iter().enumerate() {
            if key.id.is_empty() || !ids.insert(key.id.clone()) {
                return Err(format!("keys[{i}].id: empty or used twice: {:?}", key.id));
            }
            let digest = parse_digest(&key.sha256).map_err(|e| format!("keys[{i}].sha256: {e}"))?;
            if key.topics.is_empty() {
                return Err(format!(
                    "keys[{i}].topics: list at least one topic or prefix*"
                ));
            }
            for pattern in &key.topics {
                topic::check_pattern(pattern).map_err(|e| format!("keys[{i}].topics: {e}"))?;
            }
            keys.push(Key {
                id: key.id,
                digest,
                topics: key.topics,
            });
        }
        let header = config.header.to_ascii_lowercase();
        if header.is_empty() {
            return Err("header: name the request header that carries the key".to_owned());
        }
        Ok(Self {
            keys,
            header,
            id_header: config.id_header,
        })
    }

    fn on_request(&self, request: &Request, mut records: Vec<Record>) -> Outcome {
        let Some(presented) = self.presented(request) else {
            return unauthorized(
                "missing_api_key",
                format!("send an API key in the {} header", self.header),
            );
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Every key is compared, in constant time, so timing says nothing about which matched.
        let mut found = None;
        for key in &self.keys {
            if constant_time_eq(&key.digest, &digest) {
                found = Some(key);
            }
        }
        let Some(key) = found else {
            return unauthorized("invalid_api_key", "the API key is not valid");
        };
        if let Some(record) = records
            .iter()
            .find(|r| !topic::allowed(&key.topics, &r.topic()))
        {
            log::info(format!(
                "key {} may not write topic {}",
                key.id,
                record.topic()
            ));
            return reject(
                403,
                "topic_forbidden",
                format!("this API key may not write to topic {:?}", record.topic()),
            );
        }
        if !self.id_header.is_empty() {
            for record in &mut records {
                record.set_header(&self.id_header, &key.id);
            }
        }
        forward(records)
    }
}

impl ApiKeyAuth {
    fn presented(&self, request: &Request) -> Option<String> {
        let value = request.header_str(&self.header)?;
        let value = value.trim();
        let key = if self.header == "authorization" {
            let (scheme, rest) = value.split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("apikey") && !scheme.eq_ignore_ascii_case("bearer") {
                return None;
            }
            rest.trim()
        } else {
            value
        };
        (!key.is_empty()).then(|| key.to_owned())
    }
}

fn unauthorized(code: &str, message: impl std::fmt::Display) -> Outcome {
    match reject(401, code, message) {
        Outcome::Respond(r) => Outcome::Respond(r.with_header("www-authenticate", "ApiKey")),
        other => other,
    }
}

fn parse_digest(text: &str) -> Result<[u8; 32], String> {
    let hex = text
        .strip_prefix("sha256:")
        .ok_or("write the digest as sha256:<64 hex digits> (printf %s \"$KEY\" | sha256sum)")?;
    if hex.len() != 64 {
        return Err(format!("expected 64 hex digits, got {}", hex.len()));
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| "not hexadecimal".to_owned())?;
    }
    Ok(out)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

export_filter!(ApiKeyAuth);

#[cfg(test)]
mod tests {
    use super::*;

    // printf %s "k-live-1" | sha256sum ; printf %s "k-live-2" | sha256sum
    fn digest(key: &str) -> String {
        let d = Sha256::digest(key.as_bytes());
        format!(
            "sha256:{}",
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    fn config() -> String {
        json!({
            "keys": [
                { "id": "web", "sha256": digest("k-live-1"), "topics": ["events.*"] },
                { "id": "billing", "sha256": digest("k-live-2"), "topics": ["invoices"] },
            ]
        })
        .to_string()
    }

    fn run(config: &str, header: Option<(&str, &str)>, topic: &str) -> Outcome {
        let mut builder = Request::builder();
        if let Some((name, value)) = header {
            builder = builder.header(name, value);
        }
        run_filter::<ApiKeyAuth>(config, &builder.build(), vec![Record::new(topic)])
    }

    fn error(outcome: &Outcome) -> (u16, String) {
        let r = outcome.response().expect("a response");
        let body: Value = r.body_json().unwrap();
        (r.status, body["error"]["code"].as_str().unwrap().to_owned())
    }

    #[test]
    fn a_valid_key_writes_its_topics_and_is_named_on_the_record() {
        let out = run(&config(), Some(("x-api-key", "k-live-1")), "events.web");
        let records = out.records().expect("forwarded");
        assert_eq!(records[0].header("x-api-key-id"), Some(b"web".to_vec()));
    }

    #[test]
    fn missing_and_unknown_keys_get_401() {
        let out = run(&config(), None, "events.web");
        assert_eq!(error(&out), (401, "missing_api_key".into()));
        assert_eq!(
            out.response().unwrap().header("www-authenticate"),
            Some(&b"ApiKey"[..])
        );
        let out = run(&config(), Some(("x-api-key", "k-live-3")), "events.web");
        assert_eq!(error(&out), (401, "invalid_api_key".into()));
    }

    #[test]
    fn a_key_outside_its_topics_gets_403() {
        let out = run(&config(), Some(("x-api-key", "k-live-2")), "events.web");
        assert_eq!(error(&out), (403, "topic_forbidden".into()));
        assert!(
            run(&config(), Some(("x-api-key", "k-live-2")), "invoices")
                .records()
                .is_some()
        );
    }

    #[test]
    fn every_record_of_a_batch_is_checked() {
        let request = Request::builder().header("x-api-key", "k-live-1").build();
        let records = vec![Record::new("events.web"), Record::new("orders")];
        let out = run_filter::<ApiKeyAuth>(&config(), &request, records);
        assert_eq!(error(&out), (403, "topic_forbidden".into()));
    }

    #[test]
    fn authorization_header_schemes() {
        let mut config: Value = serde_json::from_str(&config()).unwrap();
        config["header"] = json!("Authorization");
        let config = config.to_string();
        for value in ["ApiKey k-live-1", "Bearer k-live-1"] {
            assert!(
                run(&config, Some(("authorization", value)), "events.a")
                    .records()
                    .is_some(),
                "{value}"
            );
        }
        let out = run(
            &config,
            Some(("authorization", "Basic k-live-1")),
            "events.a",
        );
        assert_eq!(error(&out), (401, "missing_api_key".into()));
    }

    #[test]
    fn bad_configs_are_explained() {
        let err = |v: Value| load_filter::<ApiKeyAuth>(&v.to_string()).unwrap_err();
        assert!(err(json!({"keys": []})).contains("at least one key"));
        let key = |id: &str, sha: &str| json!({"id": id, "sha256": sha, "topics": ["a"]});
        assert!(err(json!({"keys": [key("a", "k-live-1")]})).contains("sha256:<64 hex digits>"));
        assert!(err(json!({"keys": [key("a", "sha256:abcd")]})).contains("64 hex digits"));
        let d = digest("x");
        assert!(err(json!({"keys": [key("a", &d), key("a", &d)]})).contains("used twice"));
        assert!(
            err(json!({"keys": [{"id": "a", "sha256": d, "topics": []}]}))
                .contains("at least one topic")
        );
        assert!(
            err(json!({"keys": [{"id": "a", "sha256": d, "topics": ["a b"]}]}))
                .contains("neither a topic")
        );
    }
}
