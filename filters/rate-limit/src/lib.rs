//! `rate-limit`: token buckets per client address, per request header (an API key) or per
//! record header (a claim an auth filter put there). Over the limit the client gets 429 with
//! `Retry-After`. The buckets live in the gateway (the `state` interface), so every instance
//! of the filter on a route shares them, and they survive reloads.

use wafka_sdk::prelude::*;

/// The route's config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Tokens added per second: the sustained rate.
    rate: u64,
    /// Bucket size: the largest burst. Default: `rate`.
    burst: Option<u64>,
    /// What a bucket belongs to: `"client"` (the client's IP address, default),
    /// `{ header = "x-api-key" }` (a request header) or `{ record_header = "x-user" }` (a
    /// header of the first record, e.g. a claim jwt-auth copied there).
    #[serde(default)]
    by: Key,
    /// What one token pays for: `"request"` (default) or `"record"` (a batch of 100 records
    /// takes 100 tokens).
    #[serde(default)]
    cost: Cost,
}

/// What a bucket belongs to.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Key {
    #[default]
    Client,
    Header(String),
    RecordHeader(String),
}

/// What a token pays for.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Cost {
    #[default]
    Request,
    Record,
}

/// The `rate-limit` filter.
#[derive(Debug)]
pub struct RateLimit {
    rate: u64,
    burst: u64,
    by: Key,
    cost: Cost,
}

/// Key for requests that lack the header the limit is keyed by: they share one bucket.
const MISSING: &str = "-";

impl Filter for RateLimit {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.rate == 0 {
            return Err("rate must be at least 1 (tokens per second)".to_owned());
        }
        let burst = config.burst.unwrap_or(config.rate);
        if burst == 0 {
            return Err("burst must be at least 1".to_owned());
        }
        if let Key::Header(name) | Key::RecordHeader(name) = &config.by
            && name.trim().is_empty()
        {
            return Err("by: the header name is empty".to_owned());
        }
        Ok(Self {
            rate: config.rate,
            burst,
            by: config.by,
            cost: config.cost,
        })
    }

    fn on_request(&self, request: &Request, records: Vec<Record>) -> Outcome {
        let key = match &self.by {
            Key::Client => request.client_ip(),
            Key::Header(name) => request
                .header(name)
                .map_or(MISSING.to_owned(), |v| digest(&v)),
            Key::RecordHeader(name) => records
                .first()
                .and_then(|r| r.header(name))
                .map_or(MISSING.to_owned(), |v| digest(&v)),
        };
        let cost = match self.cost {
            Cost::Request => 1,
            Cost::Record => records.len().max(1) as u64,
        };
        let taken = state::take_tokens(&key, self.burst, self.rate, cost);
        if taken.allowed {
            return forward(records);
        }
        if taken.retry_after_ms == u64::MAX {
            return reject(
                429,
                "rate_limited",
                format!(
                    "this request costs {cost} tokens, more than the burst of {}",
                    self.burst
                ),
            );
        }
        let seconds = taken.retry_after_ms.div_ceil(1000).max(1);
        let outcome = reject(
            429,
            "rate_limited",
            format!("over {} requests a second; retry in {seconds} s", self.rate),
        );
        match outcome {
            Outcome::Respond(response) => {
                Outcome::Respond(response.with_header("retry-after", seconds.to_string()))
            }
            other => other,
        }
    }
}

/// A short, fixed-length key for a header value (keys are at most 256 bytes, and secrets such
/// as API keys should not sit in memory as they are): FNV-1a, 64 bits, in hex.
fn digest(value: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

export_filter!(RateLimit);

#[cfg(test)]
mod tests {
    use super::*;
    use wafka_sdk::testing;

    fn request(ip: &str, key: Option<&str>) -> Request {
        let mut builder = Request::builder().client_addr(&format!("{ip}:5000"));
        if let Some(key) = key {
            builder = builder.header("x-api-key", key);
        }
        builder.build()
    }

    fn run(config: &str, request: &Request, records: usize) -> Outcome {
        let records = (0..records).map(|_| Record::new("t")).collect();
        run_filter::<RateLimit>(config, request, records)
    }

    fn status(outcome: &Outcome) -> Option<u16> {
        outcome.response().map(|r| r.status)
    }

    fn setup() {
        testing::reset_state();
        testing::set_clock(Some(1_000_000));
    }

    #[test]
    fn the_burst_passes_then_429_with_retry_after_then_refills() {
        setup();
        let config = r#"{"rate": 2, "burst": 3}"#;
        let req = request("203.0.113.7", None);
        for _ in 0..3 {
            assert_eq!(status(&run(config, &req, 1)), None);
        }
        let refused = run(config, &req, 1);
        let response = refused.response().unwrap();
        assert_eq!(response.status, 429);
        assert_eq!(response.header("retry-after"), Some(&b"1"[..]));
        let body: Value = response.body_json().unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
        // Another client has its own bucket.
        assert_eq!(status(&run(config, &request("203.0.113.8", None), 1)), None);
        // Half a second later, one token at 2/s.
        testing::set_clock(Some(1_000_500));
        assert_eq!(status(&run(config, &req, 1)), None);
        assert_eq!(status(&run(config, &req, 1)), Some(429));
    }

    #[test]
    fn keyed_by_header_and_missing_headers_share_a_bucket() {
        setup();
        let config = r#"{"rate": 1, "by": {"header": "x-api-key"}}"#;
        assert_eq!(
            status(&run(config, &request("1.1.1.1", Some("a")), 1)),
            None
        );
        assert_eq!(
            status(&run(config, &request("2.2.2.2", Some("a")), 1)),
            Some(429)
        );
        assert_eq!(
            status(&run(config, &request("1.1.1.1", Some("b")), 1)),
            None
        );
        assert_eq!(status(&run(config, &request("1.1.1.1", None), 1)), None);
        assert_eq!(
            status(&run(config, &request("2.2.2.2", None), 1)),
            Some(429)
        );
    }

    #[test]
    fn keyed_by_a_record_header() {
        setup();
        let config = r#"{"rate": 1, "by": {"record_header": "x-user"}}"#;
        let with_user = |user: &str| {
            let mut record = Record::new("t");
            record.set_header("x-user", user);
            run_filter::<RateLimit>(config, &request("1.1.1.1", None), vec![record])
        };
        assert_eq!(status(&with_user("alice")), None);
        assert_eq!(status(&with_user("alice")), Some(429));
        assert_eq!(status(&with_user("bob")), None);
    }

    #[test]
    fn per_record_cost_charges_batches() {
        setup();
        let config = r#"{"rate": 10, "cost": "record"}"#;
        let req = request("1.1.1.1", None);
        assert_eq!(status(&run(config, &req, 8)), None);
        assert_eq!(status(&run(config, &req, 3)), Some(429));
        assert_eq!(status(&run(config, &req, 2)), None);
        let too_big = run(config, &req, 11);
        assert_eq!(status(&too_big), Some(429));
        assert!(too_big.response().unwrap().header("retry-after").is_none());
    }

    #[test]
    fn bad_configs_are_explained() {
        let err = |config: &str| load_filter::<RateLimit>(config).unwrap_err();
        assert!(err(r#"{"rate": 0}"#).contains("rate must be at least 1"));
        assert!(err(r#"{"rate": 1, "burst": 0}"#).contains("burst"));
        assert!(err(r#"{"rate": 1, "by": {"header": ""}}"#).contains("header name"));
        assert!(err(r#"{"rate": 1, "by": "everyone"}"#).contains("unknown variant"));
        assert!(err(r#"{"rate": 1, "per": 2}"#).contains("unknown field"));
    }
}
