//! The `Filter` trait, and how a filter is built from its config and run.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Outcome, Record, Request, log, reject};

/// A filter: built from the route's config, then asked to handle one request.
///
/// The gateway instantiates the component afresh for every request, so `new` runs for each
/// request too and nothing survives from one request to the next.
pub trait Filter: Sized + 'static {
    /// Parsed from the route's `config` JSON (serde). Use [`NoConfig`] for none.
    type Config: DeserializeOwned;

    /// Builds the filter from its config; `Err(message)` rejects the config.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// Handles one request. `records` holds the records produced so far: the initial one
    /// (the route's default topic, the body as value), as changed by earlier filters.
    ///
    /// On a read route (a GET that reads Kafka) the one record has the topic the client asks
    /// to read and no value: answer to refuse the read, change the topic to read another,
    /// forward it to allow the read.
    fn on_request(&self, request: &Request, records: Vec<Record>) -> Outcome;

    /// Whether [`on_records`](Self::on_records) should see the records a read route sends;
    /// asked once per route when the filter loads. Default false: the filter costs nothing per
    /// batch of records.
    fn sees_records(&self) -> bool {
        false
    }

    /// Records read from Kafka on their way to the client of a read route, a batch at a time,
    /// in offset order within each partition. Return those to send, reshaped as needed (drop a
    /// field, mask a value); a record left out is not sent. Called only when
    /// [`sees_records`](Self::sees_records) is true. Default: all of them, unchanged.
    fn on_records(&self, request: &Request, records: Vec<Record>) -> Vec<Record> {
        let _ = request;
        records
    }
}

/// The config of a filter that takes none: accepts `{}` only, so a typo in the route's
/// config is reported instead of ignored.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Builds `F` from `config`, the route's config as JSON text, exactly as the gateway's
/// `check-config` does: a config that does not parse is rejected with
/// `invalid config: <serde's message>`, then `F::new` decides.
pub fn load_filter<F: Filter>(config: &str) -> Result<F, String> {
    let config =
        serde_json::from_str(config).map_err(|error| format!("invalid config: {error}"))?;
    F::new(config)
}

/// Handles one request as the gateway's `on-request` does: builds `F` from `config`, then
/// calls [`Filter::on_request`]. A config that is rejected here answers 500
/// `filter_config_invalid`.
pub fn run_filter<F: Filter>(config: &str, request: &Request, records: Vec<Record>) -> Outcome {
    match load_filter::<F>(config) {
        Ok(filter) => filter.on_request(request, records),
        Err(message) => {
            log::error(&message);
            reject(500, "filter_config_invalid", message)
        }
    }
}

/// Fails to compile unless `F` is a [`Filter`]; what `export_filter!` expands to natively.
#[doc(hidden)]
pub const fn assert_filter<F: Filter>() {}

/// Exports a [`Filter`] as the component's `produce` interface. Write it once, at the top
/// level of the filter's crate:
///
/// ```
/// # use wafka_sdk::prelude::*;
/// # struct MyFilter;
/// # impl Filter for MyFilter {
/// #     type Config = NoConfig;
/// #     fn new(_: NoConfig) -> Result<Self, String> { Ok(MyFilter) }
/// #     fn on_request(&self, _: &Request, records: Vec<Record>) -> Outcome { forward(records) }
/// # }
/// wafka_sdk::export_filter!(MyFilter);
/// ```
///
/// Natively (for unit tests) it only checks that the type is a `Filter`.
#[macro_export]
macro_rules! export_filter {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            // The generated export macro takes a plain name, not a generic type.
            type WafkaFilterAdapter = $crate::__private::Adapter<$ty>;
            $crate::__private::bindings::export!(
                WafkaFilterAdapter with_types_in $crate::__private::bindings
            );
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = $crate::__private::assert_filter::<$ty>();
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Response, forward};

    /// Forwards records to the configured topic; rejects an empty topic.
    struct Retopic {
        topic: String,
    }

    #[derive(Deserialize)]
    struct RetopicConfig {
        topic: String,
    }

    impl Filter for Retopic {
        type Config = RetopicConfig;

        fn new(config: RetopicConfig) -> Result<Self, String> {
            if config.topic.is_empty() {
                return Err("topic must not be empty".to_owned());
            }
            Ok(Self {
                topic: config.topic,
            })
        }

        fn on_request(&self, _: &Request, mut records: Vec<Record>) -> Outcome {
            for record in &mut records {
                record.set_topic(&self.topic);
            }
            forward(records)
        }
    }

    crate::export_filter!(Retopic);

    fn error_of(outcome: &Outcome) -> (u16, serde_json::Value) {
        let response: &Response = outcome.response().expect("a response");
        let body: serde_json::Value = response.body_json().unwrap();
        (response.status, body["error"].clone())
    }

    #[test]
    fn load_reports_parse_errors_and_new_errors() {
        let error = load_filter::<Retopic>("{").err().unwrap();
        assert!(error.starts_with("invalid config: "), "{error}");
        assert!(error.contains("line 1 column 1"), "{error}");

        let error = load_filter::<Retopic>(r#"{"topic":""}"#).err().unwrap();
        assert_eq!(error, "topic must not be empty");

        assert!(load_filter::<Retopic>(r#"{"topic":"t"}"#).is_ok());
    }

    #[test]
    fn run_calls_on_request_with_the_config() {
        let request = Request::builder().build();
        let outcome = run_filter::<Retopic>(r#"{"topic":"t"}"#, &request, vec![Record::new("a")]);
        assert_eq!(outcome.records().unwrap()[0].topic(), "t");
    }

    #[test]
    fn run_with_a_bad_config_answers_500() {
        let request = Request::builder().build();
        let outcome = run_filter::<Retopic>(r#"{"topic":""}"#, &request, vec![]);
        let (status, error) = error_of(&outcome);
        assert_eq!(status, 500);
        assert_eq!(error["code"], "filter_config_invalid");
        assert_eq!(error["message"], "topic must not be empty");
    }

    #[test]
    fn no_config_accepts_only_an_empty_object() {
        assert!(serde_json::from_str::<NoConfig>("{}").is_ok());
        let error = serde_json::from_str::<NoConfig>(r#"{"x":1}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `x`"), "{error}");
    }
}
