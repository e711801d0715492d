//! librdkafka producer properties: Wafka's no-loss defaults, then the user's overrides.

use rdkafka::ClientConfig;

use crate::config::KafkaConfig;

/// Defaults chosen so an acknowledged record is durable and never duplicated by retries.
const DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    // librdkafka's 300 s default is longer than any HTTP client waits.
    ("message.timeout.ms", "30000"),
    ("linger.ms", "5"),
    // Feeds the wafka_librdkafka_* metrics.
    ("statistics.interval.ms", "5000"),
    ("client.id", "wafka"),
];

/// The producer's client config: defaults, then `[kafka.producer]`, then the brokers.
pub fn client_config(kafka: &KafkaConfig, bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in DEFAULTS {
        config.set(*key, *value);
    }
    for (key, value) in &kafka.producer {
        config.set(key, value.to_string());
    }
    config.set("bootstrap.servers", bootstrap);
    config
}

/// Consumer defaults for read routes: nothing committed behind the client's back, no topic
/// created by asking for it, no end-of-partition events.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("allow.auto.create.topics", "false"),
    ("enable.partition.eof", "false"),
    ("client.id", "wafka-reader"),
    // Kafka answers a fetch as soon as a record is there; a broker that holds it for the
    // whole wait (tansu) would delay every event by up to librdkafka's 500 ms. Costs only
    // idle fetches: ten a second per broker.
    ("fetch.wait.max.ms", "100"),
];

/// A read route consumer's client config: defaults, the producer's security settings,
/// `[kafka.consumer]`, then the brokers and `group`.
pub fn consumer_config(kafka: &KafkaConfig, bootstrap: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in CONSUMER_DEFAULTS {
        config.set(*key, *value);
    }
    let shared = |key: &str| {
        ["security.", "ssl.", "sasl."]
            .iter()
            .any(|p| key.starts_with(p))
    };
    for (key, value) in kafka.producer.iter().filter(|(k, _)| shared(k)) {
        config.set(key, value.to_string());
    }
    for (key, value) in &kafka.consumer {
        config.set(key, value.to_string());
    }
    config.set("bootstrap.servers", bootstrap);
    config.set("group.id", group);
    config
}

/// Lets librdkafka check every property name and value without connecting anywhere.
pub fn validate_properties(kafka: &KafkaConfig) -> Result<(), String> {
    check(client_config(kafka, "localhost:9092"))?;
    check(consumer_config(kafka, "localhost:9092", "check"))
        .map_err(|e| format!("(kafka.consumer) {e}"))
}

fn check(config: ClientConfig) -> Result<(), String> {
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(rdkafka::error::KafkaError::ClientConfig(_, reason, key, value)) => {
            let value = if crate::config::is_secret(&key) {
                "***".to_owned()
            } else {
                value
            };
            Err(format!("\"{key}\" = {value:?}: {reason}"))
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PropertyValue;

    #[test]
    fn user_properties_override_defaults() {
        let mut kafka = KafkaConfig::default();
        kafka
            .producer
            .insert("linger.ms".into(), PropertyValue::Integer(20));
        let config = client_config(&kafka, "b:9092");
        assert_eq!(config.get("linger.ms"), Some("20"));
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("bootstrap.servers"), Some("b:9092"));
    }

    #[test]
    fn unknown_properties_are_reported() {
        let mut kafka = KafkaConfig::default();
        kafka
            .producer
            .insert("lingr.ms".into(), PropertyValue::String("5".into()));
        let err = validate_properties(&kafka).unwrap_err();
        assert!(err.contains("lingr.ms"), "{err}");
    }
}
