//! The Kafka records a filter forwards.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Header, backend};

/// A Kafka record: about to be produced (the gateway starts each request with one record whose
/// topic is the route's default topic and whose value is the request body), or read from Kafka
/// on its way to a client of a read route.
///
/// The record lives in the gateway: getters copy into the filter's memory, and
/// [`duplicate`](Self::duplicate) copies on the gateway's side.
#[derive(Debug)]
pub struct Record {
    pub(crate) inner: backend::Record,
}

impl Record {
    /// A new record for `topic` with no key, value or headers: used to split a request into
    /// several records.
    pub fn new(topic: &str) -> Self {
        Self {
            inner: backend::Record::new(topic),
        }
    }

    /// A record as a read route would pass it to [`Filter::on_records`](crate::Filter::on_records):
    /// for native unit tests.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read(topic: &str, partition: i32, offset: i64, value: &[u8]) -> Self {
        Self {
            inner: backend::Record::read(topic, partition, offset, value),
        }
    }

    /// A copy of this record, made by the gateway without passing the value through the
    /// filter's memory.
    pub fn duplicate(&self) -> Self {
        Self {
            inner: self.inner.duplicate(),
        }
    }

    /// Destination topic.
    pub fn topic(&self) -> String {
        self.inner.topic()
    }

    /// Changes the destination topic.
    pub fn set_topic(&mut self, topic: &str) {
        self.inner.set_topic(topic);
    }

    /// Record key; `None` means a null key (the partitioner then spreads records).
    pub fn key(&self) -> Option<Vec<u8>> {
        self.inner.key()
    }

    /// Sets or clears the key.
    pub fn set_key(&mut self, key: Option<&[u8]>) {
        self.inner.set_key(key);
    }

    /// Record value; `None` means a null value (a tombstone on compacted topics).
    pub fn value(&self) -> Option<Vec<u8>> {
        self.inner.value()
    }

    /// Value size in bytes (0 for a null value), without copying the value.
    pub fn value_size(&self) -> u64 {
        self.inner.value_size()
    }

    /// Sets or clears the value.
    pub fn set_value(&mut self, value: Option<&[u8]>) {
        self.inner.set_value(value);
    }

    /// The value parsed as JSON. A null value fails like an empty document.
    pub fn value_json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.value().unwrap_or_default())
    }

    /// Serializes `value` as JSON into the record's value. Fails only for types that cannot
    /// be JSON, such as maps with non-string keys; the record is then unchanged.
    pub fn set_value_json(&mut self, value: &impl Serialize) -> Result<(), serde_json::Error> {
        let json = serde_json::to_vec(value)?;
        self.set_value(Some(&json));
        Ok(())
    }

    /// All record headers, in order. Kafka allows repeated names.
    pub fn headers(&self) -> Vec<Header> {
        self.inner.headers()
    }

    /// First value of the named record header (exact name), if present.
    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.inner.header(name)
    }

    /// Replaces every header of that name with this one value.
    pub fn set_header(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.inner.set_header(name, value.as_ref());
    }

    /// Appends a header, keeping any of the same name.
    pub fn add_header(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.inner.add_header(name, value.as_ref());
    }

    /// Removes every header of that name.
    pub fn remove_header(&mut self, name: &str) {
        self.inner.remove_header(name);
    }

    /// Explicit partition; `None` lets the producer's partitioner choose (by key).
    pub fn partition(&self) -> Option<i32> {
        self.inner.partition()
    }

    /// Sets or clears the explicit partition.
    pub fn set_partition(&mut self, partition: Option<i32>) {
        self.inner.set_partition(partition);
    }

    /// Record timestamp in milliseconds since the Unix epoch; `None` lets the producer stamp
    /// the send time.
    pub fn timestamp(&self) -> Option<i64> {
        self.inner.timestamp()
    }

    /// Sets or clears the timestamp.
    pub fn set_timestamp(&mut self, timestamp: Option<i64>) {
        self.inner.set_timestamp(timestamp);
    }

    /// Where a record read from Kafka sits in its partition (in [`Filter::on_records`](crate::Filter::on_records));
    /// `None` for a record about to be produced.
    pub fn offset(&self) -> Option<i64> {
        self.inner.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_record_is_empty() {
        let record = Record::new("events");
        assert_eq!(record.topic(), "events");
        assert_eq!(record.key(), None);
        assert_eq!(record.value(), None);
        assert_eq!(record.value_size(), 0);
        assert!(record.headers().is_empty());
        assert_eq!(record.partition(), None);
        assert_eq!(record.timestamp(), None);
    }

    #[test]
    fn headers_set_add_remove() {
        let mut record = Record::new("events");
        record.add_header("a", "1");
        record.add_header("a", "2");
        record.add_header("b", "3");
        assert_eq!(record.header("a"), Some(b"1".to_vec()));
        assert_eq!(record.header("A"), None, "record header names are exact");

        record.set_header("a", "4");
        assert_eq!(
            record.headers(),
            [Header::new("b", "3"), Header::new("a", "4")]
        );

        record.remove_header("a");
        assert_eq!(record.headers(), [Header::new("b", "3")]);
    }

    #[test]
    fn duplicate_is_independent() {
        let mut record = Record::new("events");
        record.set_key(Some(b"k"));
        record.set_value(Some(b"v"));
        record.set_partition(Some(3));
        record.set_timestamp(Some(1_000));

        let mut copy = record.duplicate();
        copy.set_topic("other");
        assert_eq!(copy.key(), Some(b"k".to_vec()));
        assert_eq!(copy.value(), Some(b"v".to_vec()));
        assert_eq!(copy.partition(), Some(3));
        assert_eq!(copy.timestamp(), Some(1_000));
        assert_eq!(record.topic(), "events");
    }

    #[test]
    fn value_json_round_trip() {
        let mut record = Record::new("events");
        assert!(record.value_json::<serde_json::Value>().is_err());

        record.set_value_json(&serde_json::json!({"n": 1})).unwrap();
        assert_eq!(record.value(), Some(br#"{"n":1}"#.to_vec()));
        assert_eq!(record.value_size(), 7);
        let value: serde_json::Value = record.value_json().unwrap();
        assert_eq!(value["n"], 1);
    }
}
