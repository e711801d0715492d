//! What a filter decides.

use crate::{Record, Response};

/// What a filter decides: forward records, or answer the client.
#[derive(Debug)]
#[must_use]
pub enum Outcome {
    /// Pass these records to the next filter, or to Kafka after the last one. Records the
    /// filter received and does not return are dropped; an empty list produces nothing.
    Forward(Vec<Record>),
    /// Stop here and answer the client with this response; nothing is produced.
    Respond(Response),
}

impl Outcome {
    /// The forwarded records, or `None` for a response.
    pub fn records(&self) -> Option<&[Record]> {
        match self {
            Self::Forward(records) => Some(records),
            Self::Respond(_) => None,
        }
    }

    /// The response, or `None` when forwarding.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Self::Forward(_) => None,
            Self::Respond(response) => Some(response),
        }
    }
}

/// Forwards `records` to the next filter, or to Kafka after the last one.
pub fn forward(records: Vec<Record>) -> Outcome {
    Outcome::Forward(records)
}

/// Answers the client with an error in the gateway's own shape, so clients handle every error
/// alike: `status`, `content-type: application/json` and the body
/// `{"error":{"code":"<code>","message":"<message>"}}`.
pub fn reject(status: u16, code: &str, message: impl std::fmt::Display) -> Outcome {
    Outcome::Respond(Response::error(status, code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_body_is_exact() {
        let outcome = reject(400, "invalid_json", "expected a JSON object, got an array");
        let response = outcome.response().unwrap();
        assert_eq!(response.status, 400);
        assert_eq!(
            response.header("content-type"),
            Some(&b"application/json"[..])
        );
        assert_eq!(
            String::from_utf8_lossy(&response.body),
            r#"{"error":{"code":"invalid_json","message":"expected a JSON object, got an array"}}"#
        );
        assert!(outcome.records().is_none());
    }

    #[test]
    fn forward_keeps_records() {
        let outcome = forward(vec![Record::new("a"), Record::new("b")]);
        let topics: Vec<_> = outcome
            .records()
            .unwrap()
            .iter()
            .map(Record::topic)
            .collect();
        assert_eq!(topics, ["a", "b"]);
        assert!(outcome.response().is_none());
    }
}
