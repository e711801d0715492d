//! `topic-router`: sends each record to a topic taken from a route parameter, a request header
//! or a field of the record's JSON value, put into a template and checked against an allow
//! list, so clients choose among topics but only those the route permits.

use std::fmt;

use wafka_sdk::prelude::*;

/// The route's config: exactly one of `param`, `header` or `json`, plus `allow`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Route parameter holding the topic value: `source` for `/v1/events/{source}`.
    param: Option<String>,
    /// Request header holding the topic value.
    header: Option<String>,
    /// RFC 6901 JSON pointer into each record's value, e.g. `/type`.
    json: Option<String>,
    /// The topic, with `{}` standing for the value; default `{}`.
    #[serde(default = "default_template")]
    template: String,
    /// Allowed topics; an entry ending in `*` allows every topic with that prefix.
    allow: Vec<String>,
}

fn default_template() -> String {
    "{}".to_owned()
}

/// The `topic-router` filter.
#[derive(Debug)]
pub struct TopicRouter {
    source: Source,
    template: String,
    allow: Vec<String>,
}

/// Where the topic value comes from.
#[derive(Debug)]
enum Source {
    Param(String),
    Header(String),
    Json(String),
}

impl Filter for TopicRouter {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let source = match (config.param, config.header, config.json) {
            (Some(name), None, None) => Source::Param(name),
            (None, Some(name), None) => Source::Header(name),
            (None, None, Some(pointer)) if pointer.is_empty() || pointer.starts_with('/') => {
                Source::Json(pointer)
            }
            (None, None, Some(pointer)) => {
                return Err(format!(
                    "json {pointer:?} is not a JSON pointer such as \"/type\""
                ));
            }
            _ => return Err("set exactly one of `param`, `header` or `json`".to_owned()),
        };
        if !config.template.contains("{}")
            || !topic::is_legal_text(&config.template.replace("{}", ""))
        {
            return Err(format!(
                "template {:?} must contain {{}} and otherwise only a-z, A-Z, 0-9, '.', '_', '-'",
                config.template
            ));
        }
        if config.allow.is_empty() {
            return Err("allow must list at least one topic, or a prefix ending in *".to_owned());
        }
        if let Some(entry) = config
            .allow
            .iter()
            .find(|entry| topic::check_pattern(entry).is_err())
        {
            return Err(format!(
                "allow entry {entry:?} is neither a legal topic name nor a prefix ending in *"
            ));
        }
        Ok(Self {
            source,
            template: config.template,
            allow: config.allow,
        })
    }

    fn on_request(&self, request: &Request, mut records: Vec<Record>) -> Outcome {
        for record in &mut records {
            match self
                .source
                .value(request, record)
                .and_then(|value| self.topic(&value))
            {
                Ok(topic) => record.set_topic(&topic),
                Err(rejection) => return rejection,
            }
        }
        forward(records)
    }
}

wafka_sdk::export_filter!(TopicRouter);

impl TopicRouter {
    /// The topic for `value`, if it is a legal topic name and allowed.
    fn topic(&self, value: &str) -> Result<String, Outcome> {
        let topic = self.template.replace("{}", value);
        if let Err(message) = topic::check_name(&topic) {
            return Err(reject(400, "topic_invalid", message));
        }
        if !topic::allowed(&self.allow, &topic) {
            return Err(reject(
                403,
                "topic_not_allowed",
                format!("topic {topic:?} is not allowed"),
            ));
        }
        Ok(topic)
    }
}

impl Source {
    /// The topic value for `record`: missing, empty or null values are all missing.
    fn value(&self, request: &Request, record: &Record) -> Result<String, Outcome> {
        let value = match self {
            Self::Param(name) => request.param(name),
            // Lossy: a header that is not UTF-8 then fails as an illegal topic name.
            Self::Header(name) => request
                .header(name)
                .map(|value| String::from_utf8_lossy(&value).into_owned()),
            Self::Json(pointer) => {
                let json: Value = record.value_json().map_err(|error| {
                    reject(400, "invalid_json", format!("invalid JSON: {error}"))
                })?;
                match json.pointer(pointer) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(value)) => Some(value.clone()),
                    Some(other) => Some(other.to_string()),
                }
            }
        };
        value
            .filter(|value| !value.is_empty())
            .ok_or_else(|| reject(400, "topic_missing", format!("no topic: {self} is missing")))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Param(name) => write!(f, "route parameter {name:?}"),
            Self::Header(name) => write!(f, "header {name:?}"),
            Self::Json(pointer) => write!(f, "JSON value at {pointer:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &str) -> Record {
        let mut record = Record::new("default");
        record.set_value(Some(value.as_bytes()));
        record
    }

    fn route(config: &str, request: &Request, records: Vec<Record>) -> Outcome {
        run_filter::<TopicRouter>(config, request, records)
    }

    fn topics(outcome: &Outcome) -> Vec<String> {
        let records = outcome.records().expect("records forwarded");
        records.iter().map(Record::topic).collect()
    }

    fn error(outcome: &Outcome) -> (u16, String, String) {
        let response = outcome.response().expect("a response");
        let body: Value = response.body_json().unwrap();
        let text = |field: &str| body["error"][field].as_str().unwrap().to_owned();
        (response.status, text("code"), text("message"))
    }

    const BY_PARAM: &str =
        r#"{"param":"source","template":"events.{}","allow":["events.web","events.app"]}"#;

    #[test]
    fn routes_by_route_parameter_through_the_template() {
        let request = Request::builder().param("source", "web").build();
        let outcome = route(BY_PARAM, &request, vec![record("{}"), record("{}")]);
        assert_eq!(topics(&outcome), ["events.web", "events.web"]);
    }

    #[test]
    fn routes_by_header_with_a_prefix_allow_entry() {
        let config = r#"{"header":"x-topic","allow":["audit","tenant-*"]}"#;
        let request = Request::builder()
            .header("X-Topic", "tenant-42.orders")
            .build();
        assert_eq!(
            topics(&route(config, &request, vec![record("")])),
            ["tenant-42.orders"]
        );

        let request = Request::builder().header("x-topic", "audit").build();
        assert_eq!(
            topics(&route(config, &request, vec![record("")])),
            ["audit"]
        );
    }

    #[test]
    fn routes_each_record_by_its_own_json() {
        let config = r#"{"json":"/meta/type","template":"events.{}","allow":["events.*"]}"#;
        let records = vec![
            record(r#"{"meta":{"type":"click"}}"#),
            record(r#"{"meta":{"type":"view"}}"#),
            record(r#"{"meta":{"type":7}}"#),
        ];
        let outcome = route(config, &Request::builder().build(), records);
        assert_eq!(
            topics(&outcome),
            ["events.click", "events.view", "events.7"]
        );
    }

    #[test]
    fn missing_values_are_400_topic_missing() {
        let no_param = route(BY_PARAM, &Request::builder().build(), vec![record("")]);
        assert_eq!(
            error(&no_param),
            (
                400,
                "topic_missing".to_owned(),
                r#"no topic: route parameter "source" is missing"#.to_owned()
            )
        );

        let config = r#"{"header":"x-topic","allow":["a"]}"#;
        let empty = route(
            config,
            &Request::builder().header("x-topic", "").build(),
            vec![record("")],
        );
        assert_eq!(error(&empty).1, "topic_missing");

        let config = r#"{"json":"/type","allow":["a"]}"#;
        for value in [r#"{}"#, r#"{"type":null}"#, r#"{"type":""}"#] {
            let outcome = route(config, &Request::builder().build(), vec![record(value)]);
            assert_eq!(
                error(&outcome),
                (
                    400,
                    "topic_missing".to_owned(),
                    r#"no topic: JSON value at "/type" is missing"#.to_owned()
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn illegal_names_are_400_topic_invalid() {
        let config = r#"{"header":"x-topic","allow":["*"]}"#;
        let long = "a".repeat(250);
        for value in ["a b", "a/b", "ü", "..", long.as_str()] {
            let request = Request::builder().header("x-topic", value).build();
            let (status, code, _) = error(&route(config, &request, vec![record("")]));
            assert_eq!((status, code.as_str()), (400, "topic_invalid"), "{value}");
        }
        let request = Request::builder().header("x-topic", [0xff]).build();
        assert_eq!(
            error(&route(config, &request, vec![record("")])).1,
            "topic_invalid"
        );

        let request = Request::builder()
            .header("x-topic", "a".repeat(249))
            .build();
        assert_eq!(
            topics(&route(config, &request, vec![record("")])),
            ["a".repeat(249)]
        );
    }

    #[test]
    fn topics_off_the_allow_list_are_403() {
        let request = Request::builder().param("source", "admin").build();
        assert_eq!(
            error(&route(BY_PARAM, &request, vec![record("")])),
            (
                403,
                "topic_not_allowed".to_owned(),
                r#"topic "events.admin" is not allowed"#.to_owned()
            )
        );

        // A prefix entry matches by prefix only.
        let config = r#"{"header":"x-topic","allow":["events.*"]}"#;
        let request = Request::builder().header("x-topic", "events").build();
        assert_eq!(error(&route(config, &request, vec![record("")])).0, 403);
    }

    #[test]
    fn invalid_json_is_400_invalid_json() {
        let config = r#"{"json":"/type","allow":["a"]}"#;
        let (status, code, message) = error(&route(
            config,
            &Request::builder().build(),
            vec![record("{")],
        ));
        assert_eq!((status, code.as_str()), (400, "invalid_json"));
        assert!(message.contains("line 1 column 1"), "{message}");
    }

    #[test]
    fn one_bad_record_rejects_the_request() {
        let config = r#"{"json":"/type","allow":["a"]}"#;
        let records = vec![record(r#"{"type":"a"}"#), record(r#"{"type":"b"}"#)];
        assert_eq!(
            error(&route(config, &Request::builder().build(), records)).0,
            403
        );
    }

    #[test]
    fn bad_configs_are_rejected_by_new() {
        let cases = [
            (
                r#"{"allow":["a"]}"#,
                "set exactly one of `param`, `header` or `json`",
            ),
            (
                r#"{"param":"p","header":"h","allow":["a"]}"#,
                "set exactly one of `param`, `header` or `json`",
            ),
            (
                r#"{"param":"p","allow":[]}"#,
                "allow must list at least one topic, or a prefix ending in *",
            ),
            (
                r#"{"param":"p","template":"events","allow":["a"]}"#,
                "template \"events\" must contain {} and otherwise only a-z, A-Z, 0-9, '.', '_', '-'",
            ),
            (
                r#"{"param":"p","template":"events/{}","allow":["a"]}"#,
                "template \"events/{}\" must contain {} and otherwise only a-z, A-Z, 0-9, '.', '_', '-'",
            ),
            (
                r#"{"param":"p","allow":["ev*nts"]}"#,
                "allow entry \"ev*nts\" is neither a legal topic name nor a prefix ending in *",
            ),
            (
                r#"{"json":"type","allow":["a"]}"#,
                "json \"type\" is not a JSON pointer such as \"/type\"",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(
                load_filter::<TopicRouter>(config).unwrap_err(),
                expected,
                "{config}"
            );
        }

        let missing_allow = load_filter::<TopicRouter>(r#"{"param":"p"}"#).unwrap_err();
        assert!(
            missing_allow.contains("missing field `allow`"),
            "{missing_allow}"
        );
        let unknown =
            load_filter::<TopicRouter>(r#"{"param":"p","allow":["a"],"topic":"x"}"#).unwrap_err();
        assert!(unknown.contains("unknown field `topic`"), "{unknown}");
    }
}
