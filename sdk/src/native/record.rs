//! A record held in plain fields.

use crate::Header;

/// A Kafka record: the fields the gateway would keep on its side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    topic: String,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<Header>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    offset: Option<i64>,
}

impl Record {
    pub fn new(topic: &str) -> Self {
        Self {
            topic: topic.to_owned(),
            ..Self::default()
        }
    }

    pub fn duplicate(&self) -> Self {
        self.clone()
    }

    pub fn topic(&self) -> String {
        self.topic.clone()
    }

    pub fn set_topic(&mut self, topic: &str) {
        topic.clone_into(&mut self.topic);
    }

    pub fn key(&self) -> Option<Vec<u8>> {
        self.key.clone()
    }

    pub fn set_key(&mut self, key: Option<&[u8]>) {
        self.key = key.map(<[u8]>::to_vec);
    }

    pub fn value(&self) -> Option<Vec<u8>> {
        self.value.clone()
    }

    pub fn value_size(&self) -> u64 {
        self.value.as_ref().map_or(0, |value| value.len() as u64)
    }

    pub fn set_value(&mut self, value: Option<&[u8]>) {
        self.value = value.map(<[u8]>::to_vec);
    }

    pub fn headers(&self) -> Vec<Header> {
        self.headers.clone()
    }

    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers
            .iter()
            .find(|header| header.name == name)
            .map(|header| header.value.clone())
    }

    pub fn set_header(&mut self, name: &str, value: &[u8]) {
        self.remove_header(name);
        self.add_header(name, value);
    }

    pub fn add_header(&mut self, name: &str, value: &[u8]) {
        self.headers.push(Header::new(name, value));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|header| header.name != name);
    }

    pub fn partition(&self) -> Option<i32> {
        self.partition
    }

    pub fn set_partition(&mut self, partition: Option<i32>) {
        self.partition = partition;
    }

    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    pub fn set_timestamp(&mut self, timestamp: Option<i64>) {
        self.timestamp = timestamp;
    }

    pub fn offset(&self) -> Option<i64> {
        self.offset
    }

    /// A record as read from Kafka, for native tests of `on_records`.
    pub fn read(topic: &str, partition: i32, offset: i64, value: &[u8]) -> Self {
        Self {
            topic: topic.to_owned(),
            value: Some(value.to_vec()),
            partition: Some(partition),
            offset: Some(offset),
            ..Self::default()
        }
    }
}
