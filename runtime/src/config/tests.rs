use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("wafka.toml"), Path::new("/etc/wafka"))
}

const MINIMAL: &str = r#"
[[routes]]
name = "events"
path = "/v1/events"
topic = "events"
"#;

#[test]
fn defaults_are_documented_values() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.server.admin_listen.to_string(), "127.0.0.1:9090");
    assert_eq!(c.server.max_body_bytes, 1 << 20);
    assert!(c.kafka.is_embedded());
    assert_eq!(c.routes[0].methods(), vec!["POST"]);
    assert_eq!(c.routes[0].mode, Mode::Sync);
    assert_eq!(c.filters.dir, Path::new("/etc/wafka/filters.d"));
}

#[test]
fn producer_values_may_be_strings_numbers_or_booleans() {
    let c = parse(&format!(
        "[kafka.producer]\n\"linger.ms\" = 5\n\"acks\" = \"1\"\n\"enable.idempotence\" = false\n{MINIMAL}"
    ))
    .unwrap();
    let values: Vec<String> = c.kafka.producer.values().map(|v| v.to_string()).collect();
    assert_eq!(values, ["1", "false", "5"]);
}

#[test]
fn unknown_fields_name_file_line_and_field() {
    let err = parse(&format!("[server]\nlistn = \"x\"\n{MINIMAL}"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("wafka.toml: "), "{err}");
    assert!(err.contains("unknown field `listn`"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn semantic_errors_name_the_field() {
    let err = parse(&MINIMAL.replace("topic = \"events\"", "topic = \"a b\""))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("wafka.toml: routes[0].topic: "), "{err}");
    let err = parse(&format!(
        "[kafka.producer]\n\"bootstrap.servers\" = \"x\"\n{MINIMAL}"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("set kafka.brokers instead"), "{err}");
}
