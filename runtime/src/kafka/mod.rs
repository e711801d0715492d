//! Kafka: the producer, its settings, how its errors reach the client, the metadata and admin
//! client, and the embedded mock cluster.

pub mod cluster;
mod embedded;
mod errors;
pub mod log;
pub mod messages;
mod producer;
mod properties;
pub mod scan;
mod stats;

pub use embedded::EmbeddedCluster;
pub use errors::{classify, is_retriable};
pub use producer::{Delivered, Pending, Producer};
pub use properties::{client_config, consumer_config, validate_properties};
pub use stats::{BrokersDown, StatsContext};

/// Counts a metadata or administrative request sent to Kafka (`wafka_kafka_admin_requests_total`).
pub fn admin_request(request: &'static str) {
    metrics::counter!(crate::metrics::KAFKA_ADMIN_REQUESTS, "request" => request).increment(1);
}
