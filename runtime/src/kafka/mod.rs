//! Kafka: the producer, its settings, how its errors reach the client, and the embedded
//! mock cluster.

mod embedded;
mod errors;
mod producer;
mod properties;
mod stats;

pub use embedded::EmbeddedCluster;
pub use errors::{classify, is_retriable};
pub use producer::{Delivered, Pending, Producer};
pub use properties::{client_config, consumer_config, validate_properties};
pub use stats::StatsContext;
