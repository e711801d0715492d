//! Per-topic delivery handles. Topics can come from clients (a router filter with a prefix
//! allow-list), so the label is bounded: the first [`MAX_TOPICS`] topics seen get their own
//! series, later ones share `topic="_other"`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use metrics::{Counter, Histogram};

use super::{
    DEAD_LETTERED, DELIVERY_DURATION, DELIVERY_ERRORS, RECORDS_DELIVERED, RECORDS_DROPPED,
};

/// Topics with series of their own.
pub const MAX_TOPICS: usize = 1000;

/// The label shared by topics past [`MAX_TOPICS`].
const OTHER: &str = "_other";

/// The delivery metrics of one topic.
pub struct TopicMetrics {
    label: String,
    /// Records acknowledged by Kafka.
    pub delivered: Counter,
    /// Time from queueing a record to its acknowledgement.
    pub duration: Histogram,
    by_code: RwLock<HashMap<(&'static str, &'static str), Counter>>,
}

impl TopicMetrics {
    fn new(label: &str) -> Self {
        TopicMetrics {
            label: label.to_owned(),
            delivered: metrics::counter!(RECORDS_DELIVERED, "topic" => label.to_owned()),
            duration: metrics::histogram!(DELIVERY_DURATION, "topic" => label.to_owned()),
            by_code: RwLock::default(),
        }
    }

    /// A record Kafka did not take, by error code.
    pub fn delivery_error(&self, code: &'static str) {
        self.count(DELIVERY_ERRORS, code);
    }

    /// A record sent to the dead-letter topic, by error code.
    pub fn dead_lettered(&self, code: &'static str) {
        self.count(DEAD_LETTERED, code);
    }

    /// A record accepted and then lost for good, by error code.
    pub fn dropped(&self, code: &'static str) {
        self.count(RECORDS_DROPPED, code);
    }

    fn count(&self, name: &'static str, code: &'static str) {
        let read = self.by_code.read().unwrap_or_else(|e| e.into_inner());
        if let Some(counter) = read.get(&(name, code)) {
            counter.increment(1);
            return;
        }
        drop(read);
        let counter = metrics::counter!(name, "topic" => self.label.clone(), "code" => code);
        counter.increment(1);
        let mut write = self.by_code.write().unwrap_or_else(|e| e.into_inner());
        write.insert((name, code), counter);
    }
}

/// Every topic's handles, looked up by name.
pub struct Topics {
    known: RwLock<HashMap<String, Arc<TopicMetrics>>>,
    other: Arc<TopicMetrics>,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            known: RwLock::default(),
            other: Arc::new(TopicMetrics::new(OTHER)),
        }
    }
}

impl Topics {
    /// The handles of `topic`, registered on first use.
    pub fn get(&self, topic: &str) -> Arc<TopicMetrics> {
        if let Some(found) = self
            .known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(topic)
        {
            return found.clone();
        }
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = known.get(topic) {
            return found.clone();
        }
        if known.len() >= MAX_TOPICS {
            return self.other.clone();
        }
        let handles = Arc::new(TopicMetrics::new(topic));
        known.insert(topic.to_owned(), handles.clone());
        handles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_past_the_bound_share_one_series() {
        let topics = Topics::default();
        for n in 0..MAX_TOPICS {
            assert_eq!(topics.get(&format!("t{n}")).label, format!("t{n}"));
        }
        assert_eq!(
            topics.get("t0").label,
            "t0",
            "known topics keep their series"
        );
        assert_eq!(topics.get("one-too-many").label, OTHER);
    }
}
