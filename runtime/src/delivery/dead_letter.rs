//! Dead letters: a record Kafka refused for good, re-addressed to the dead-letter topic with
//! the reason in headers, so nothing a client was told is accepted disappears silently.

use bytes::Bytes;

use crate::error::RequestError;
use crate::exchange::Record;

/// Header with the error's stable code.
pub const CODE: &str = "wafka-error-code";
/// Header with the error message.
pub const MESSAGE: &str = "wafka-error-message";
/// Header with the topic the record was meant for.
pub const ORIGINAL_TOPIC: &str = "wafka-original-topic";
/// Header with the partition the record asked for, when it asked.
pub const ORIGINAL_PARTITION: &str = "wafka-original-partition";

/// `record` addressed to `topic` with the error added to its headers.
pub fn letter(mut record: Record, topic: &str, error: &RequestError) -> Record {
    let original = std::mem::replace(&mut record.topic, topic.to_owned());
    record.headers.extend([
        (CODE.to_owned(), Bytes::from_static(error.code().as_bytes())),
        (MESSAGE.to_owned(), Bytes::from(error.to_string())),
        (ORIGINAL_TOPIC.to_owned(), Bytes::from(original)),
    ]);
    if let Some(p) = record.partition.take() {
        record
            .headers
            .push((ORIGINAL_PARTITION.to_owned(), Bytes::from(p.to_string())));
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letter_keeps_the_record_and_says_why() {
        let mut record = Record::new("orders");
        record.key = Some(Bytes::from_static(b"k"));
        record.partition = Some(7);
        let letter = letter(record, "dlq", &RequestError::TopicNotFound("orders".into()));
        assert_eq!(letter.topic, "dlq");
        assert_eq!(
            letter.partition, None,
            "the dead-letter topic's partitioner decides"
        );
        assert_eq!(letter.key.as_deref(), Some(&b"k"[..]));
        let header = |name: &str| {
            letter
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| String::from_utf8(v.to_vec()).unwrap())
        };
        assert_eq!(header(CODE).as_deref(), Some("topic_not_found"));
        assert_eq!(header(ORIGINAL_TOPIC).as_deref(), Some("orders"));
        assert_eq!(header(ORIGINAL_PARTITION).as_deref(), Some("7"));
        assert!(header(MESSAGE).unwrap().contains("does not exist"));
    }
}
