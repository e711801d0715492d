//! REST Proxy v2 consumer instances: a librdkafka consumer per instance, in its group, held
//! by the gateway between a client's calls. Bounded in number (`rest_proxy.max_consumers`),
//! each charged its prefetch buffer on the memory budget while it lives, closed after
//! `rest_proxy.consumer_idle_ms` without a call. Every method that talks to Kafka blocks:
//! call it on a blocking thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::formats::Format;
use crate::config::{KafkaConfig, RestProxyConfig};
use crate::error::RequestError;
use crate::exchange::Record;
use crate::memory::{Charge, Memory, Use};

/// How long a metadata, commit or seek request to Kafka may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest a records fetch waits, whatever `timeout` the client asks for.
pub const MAX_FETCH_WAIT: Duration = Duration::from_secs(30);

/// What each instance costs besides its prefetch buffer: librdkafka's state and threads.
const INSTANCE_OVERHEAD: usize = 256 << 10;

/// A topic, partition and offset, as the API lists them.
pub type Place = (String, i32, i64);

/// What a client sets when it creates an instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `name`; generated when absent.
    pub name: String,
    /// `format`.
    pub format: Format,
    /// `auto.offset.reset`: `earliest` or `latest`.
    pub offset_reset: String,
    /// `auto.commit.enable`.
    pub auto_commit: bool,
    /// `fetch.min.bytes`, when set above 0.
    pub fetch_min_bytes: Option<u32>,
    /// `consumer.request.timeout.ms`: how long a records call waits at most.
    pub request_wait: std::time::Duration,
}

/// The gateway's consumer instances.
pub struct Instances {
    kafka: Arc<KafkaConfig>,
    bootstrap: String,
    memory: Arc<Memory>,
    held: Mutex<Held>,
    /// Deleted instances still leaving their groups: shutdown waits for them while the
    /// cluster is there (a consumer closing against a cluster that is gone waits forever).
    closing: watch::Sender<usize>,
}

/// Longest shutdown waits for deleted instances to leave their groups.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Instances by group and name, and how many are being created (they count against the bound).
#[derive(Default)]
struct Held {
    by_name: HashMap<(String, String), Arc<Instance>>,
    creating: usize,
}

/// One consumer instance.
pub struct Instance {
    /// Its group.
    pub group: String,
    /// Its name, also its `instance_id`.
    pub name: String,
    /// How its records are shown.
    pub format: Format,
    /// `consumer.request.timeout.ms`.
    pub request_wait: std::time::Duration,
    consumer: Mutex<BaseConsumer>,
    /// One call at a time, waited for without a thread: a blocking thread is taken only by the
    /// call whose turn it is.
    pub turn: Arc<tokio::sync::Mutex<()>>,
    /// Topics subscribed to, or partitions assigned: never both.
    state: Mutex<Target>,
    /// Milliseconds since `born` of the last call.
    last_used: AtomicU64,
    born: Instant,
    _charge: Charge,
}

#[derive(Default)]
struct Target {
    topics: Vec<String>,
    partitions: Vec<(String, i32)>,
}

impl Instances {
    /// No instances yet; they consume from `bootstrap` with `kafka`'s consumer settings.
    pub fn new(kafka: &KafkaConfig, bootstrap: &str, memory: Arc<Memory>) -> Self {
        Instances {
            kafka: Arc::new(kafka.clone()),
            bootstrap: bootstrap.to_owned(),
            memory,
            held: Mutex::default(),
            closing: watch::Sender::new(0),
        }
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates an instance in `group`. Blocks (librdkafka starts its threads).
    pub fn create(
        &self,
        group: &str,
        settings: Settings,
        limits: &RestProxyConfig,
    ) -> Result<Arc<Instance>, RequestError> {
        let key = (group.to_owned(), settings.name.clone());
        let exists = || RequestError::ConsumerExists {
            group: group.to_owned(),
            instance: settings.name.clone(),
        };
        {
            let mut held = self.held();
            if held.by_name.contains_key(&key) {
                return Err(exists());
            }
            if held.by_name.len() + held.creating >= limits.max_consumers {
                return Err(RequestError::TooManyConsumers {
                    limit: limits.max_consumers,
                });
            }
            held.creating += 1;
        }
        let made = self.make(group, &settings, limits);
        let mut held = self.held();
        held.creating -= 1;
        let instance = made?;
        if held.by_name.contains_key(&key) {
            return Err(exists());
        }
        held.by_name.insert(key, instance.clone());
        metrics::gauge!(crate::metrics::REST_CONSUMERS).set(held.by_name.len() as f64);
        Ok(instance)
    }

    /// The instance's consumer, in `group`, charged to the budget.
    fn make(
        &self,
        group: &str,
        settings: &Settings,
        limits: &RestProxyConfig,
    ) -> Result<Arc<Instance>, RequestError> {
        let buffer = limits.consumer_buffer_bytes;
        let charge = self
            .memory
            .try_take(Use::Consumers, buffer + INSTANCE_OVERHEAD)
            .ok_or(RequestError::Overloaded)?;
        let mut config = crate::kafka::consumer_config(&self.kafka, &self.bootstrap, group);
        config
            .set("client.id", "wafka-rest-consumer")
            .set("auto.offset.reset", &settings.offset_reset)
            .set("enable.auto.commit", settings.auto_commit.to_string())
            // Offsets are stored once records are answered (`handed_out`): what a commit
            // without offsets, or auto-commit, commits is what clients were sent.
            .set("enable.auto.offset.store", "false")
            .set(
                "queued.max.messages.kbytes",
                (buffer / 1024).max(1).to_string(),
            )
            .set("fetch.max.bytes", buffer.to_string())
            .set("max.partition.fetch.bytes", buffer.to_string());
        if let Some(bytes) = settings.fetch_min_bytes {
            // Checked against REST Proxy's range (1 to 10,000,000) first: within librdkafka's.
            config.set("fetch.min.bytes", bytes.to_string());
        }
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| RequestError::InvalidParameter(format!("consumer config: {e}")))?;
        Ok(Arc::new(Instance {
            group: group.to_owned(),
            name: settings.name.clone(),
            format: settings.format,
            request_wait: settings.request_wait,
            consumer: Mutex::new(consumer),
            turn: Arc::default(),
            state: Mutex::default(),
            last_used: AtomicU64::new(0),
            born: Instant::now(),
            _charge: charge,
        }))
    }

    /// The instance `name` of `group`, marked used now.
    pub fn get(&self, group: &str, name: &str) -> Result<Arc<Instance>, RequestError> {
        let held = self.held();
        let instance = held
            .by_name
            .get(&(group.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| RequestError::ConsumerNotFound {
                group: group.to_owned(),
                instance: name.to_owned(),
            })?;
        instance.touch();
        Ok(instance)
    }

    /// Removes an instance; its consumer leaves the group when the last call on it ends.
    pub fn remove(&self, group: &str, name: &str) -> Result<Arc<Instance>, RequestError> {
        let mut held = self.held();
        let removed = held
            .by_name
            .remove(&(group.to_owned(), name.to_owned()))
            .ok_or_else(|| RequestError::ConsumerNotFound {
                group: group.to_owned(),
                instance: name.to_owned(),
            })?;
        metrics::gauge!(crate::metrics::REST_CONSUMERS).set(held.by_name.len() as f64);
        Ok(removed)
    }

    /// Closes a removed instance in the background; shutdown waits for it.
    pub fn close_later(self: &Arc<Self>, instance: Arc<Instance>) {
        self.closing.send_modify(|n| *n += 1);
        let this = self.clone();
        tokio::spawn(async move {
            close(vec![instance]).await;
            this.closing.send_modify(|n| *n -= 1);
        });
    }

    /// Instances held, for `/admin`.
    pub fn list(&self) -> Vec<serde_json::Value> {
        self.held()
            .by_name
            .values()
            .map(|i| {
                serde_json::json!({
                    "group": i.group,
                    "instance": i.name,
                    "format": i.format.name(),
                    "idle_ms": i.idle().as_millis() as u64,
                })
            })
            .collect()
    }

    /// Closes instances idle longer than `idle` (read from the live config each round) until
    /// `stop`; and all of them at the end.
    pub async fn reap(
        self: Arc<Self>,
        idle: impl Fn() -> Option<Duration>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => break,
            }
            let limit = idle().unwrap_or(Duration::ZERO);
            let expired: Vec<Arc<Instance>> = {
                let mut held = self.held();
                // An instance in a call is in use, however long the call waits.
                let gone: Vec<_> = held
                    .by_name
                    .iter()
                    .filter(|(_, i)| i.idle() >= limit && i.turn.try_lock().is_ok())
                    .map(|(k, _)| k.clone())
                    .collect();
                let removed = gone.iter().filter_map(|k| held.by_name.remove(k)).collect();
                metrics::gauge!(crate::metrics::REST_CONSUMERS).set(held.by_name.len() as f64);
                removed
            };
            for instance in &expired {
                tracing::info!(group = %instance.group, instance = %instance.name, "consumer instance expired");
            }
            close(expired).await;
        }
        let all: Vec<_> = self.held().by_name.drain().map(|(_, i)| i).collect();
        close(all).await;
        let mut closing = self.closing.subscribe();
        if tokio::time::timeout(CLOSE_WAIT, closing.wait_for(|n| *n == 0))
            .await
            .is_err()
        {
            tracing::warn!(
                pending = *closing.borrow(),
                "consumer instances still leaving their groups at shutdown"
            );
        }
    }
}

/// Drops consumers on a blocking thread: leaving a group waits for the coordinator.
pub async fn close(instances: Vec<Arc<Instance>>) {
    if !instances.is_empty() {
        let _ = tokio::task::spawn_blocking(move || drop(instances)).await;
    }
}

impl Instance {
    fn touch(&self) {
        let now = self.born.elapsed().as_millis() as u64;
        self.last_used.store(now, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_used.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(last)
    }

    fn consumer(&self) -> MutexGuard<'_, BaseConsumer> {
        self.consumer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn target(&self) -> MutexGuard<'_, Target> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes to `topics` (in the group, with rebalancing).
    pub fn subscribe(&self, topics: Vec<String>) -> Result<(), RequestError> {
        // Always the consumer first, then the state: `state` is never held while waiting.
        let consumer = self.consumer();
        let mut target = self.target();
        if !target.partitions.is_empty() {
            return Err(RequestError::ConsumerState(
                "the consumer has assigned partitions; it cannot also subscribe".into(),
            ));
        }
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| kafka_error(&e, ""))?;
        target.topics = topics;
        Ok(())
    }

    /// Topics subscribed to.
    pub fn subscription(&self) -> Vec<String> {
        self.target().topics.clone()
    }

    /// Drops the subscription.
    pub fn unsubscribe(&self) {
        let consumer = self.consumer();
        consumer.unsubscribe();
        self.target().topics.clear();
    }

    /// Assigns `partitions` (no group membership); each starts at its committed offset, or
    /// where `auto.offset.reset` says.
    pub fn assign(&self, partitions: Vec<(String, i32)>) -> Result<(), RequestError> {
        let consumer = self.consumer();
        let mut target = self.target();
        if !target.topics.is_empty() {
            return Err(RequestError::ConsumerState(
                "the consumer is subscribed to topics; it cannot also be assigned partitions"
                    .into(),
            ));
        }
        let mut list = TopicPartitionList::new();
        for (topic, partition) in &partitions {
            list.add_partition(topic, *partition);
        }
        consumer.assign(&list).map_err(|e| kafka_error(&e, ""))?;
        target.partitions = partitions;
        Ok(())
    }

    /// Partitions held now: assigned, or given to it by its group.
    pub fn assignment(&self) -> Result<Vec<(String, i32)>, RequestError> {
        let list = self
            .consumer()
            .assignment()
            .map_err(|e| kafka_error(&e, ""))?;
        Ok(list
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect())
    }

    /// Topics it reads: subscribed, or of its assigned partitions.
    pub fn topics(&self) -> Vec<String> {
        let target = self.target();
        let mut topics = target.topics.clone();
        topics.extend(target.partitions.iter().map(|(t, _)| t.clone()));
        topics.sort();
        topics.dedup();
        topics
    }

    /// Records from where it is: waits up to `wait` for the first, then takes what is already
    /// fetched, up to about `max_bytes` (at least one record).
    pub fn poll(&self, wait: Duration, max_bytes: usize) -> Result<Vec<Record>, RequestError> {
        let consumer = self.consumer();
        let deadline = Instant::now() + wait.min(MAX_FETCH_WAIT);
        let mut records = Vec::new();
        let mut bytes = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Once something is here, only what is already fetched.
            let step = if records.is_empty() {
                left.min(Duration::from_millis(100))
            } else {
                Duration::ZERO
            };
            match consumer.poll(step) {
                Some(Ok(message)) => {
                    let record = crate::read::to_record(&message);
                    bytes += crate::read::record_size(&record);
                    records.push(record);
                    if bytes >= max_bytes {
                        break;
                    }
                }
                Some(Err(e)) => {
                    let error = kafka_error(&e, "");
                    if records.is_empty() {
                        return Err(error);
                    }
                    break;
                }
                None if !records.is_empty() || left.is_zero() => break,
                None => {}
            }
        }
        self.touch();
        Ok(records)
    }

    /// The client got `records`: their offsets are what the next commit (or auto-commit) may
    /// commit.
    pub fn handed_out(&self, records: &[Record]) -> Result<(), RequestError> {
        let consumer = self.consumer();
        for r in records {
            if let (Some(p), Some(o)) = (r.partition, r.offset) {
                consumer
                    .store_offset(&r.topic, p, o)
                    .map_err(|e| kafka_error(&e, &r.topic))?;
            }
        }
        Ok(())
    }

    /// The client did not get `records`: the next poll starts at them again.
    pub fn rewind(&self, records: &[Record]) {
        let mut first: HashMap<(String, i32), i64> = HashMap::new();
        for r in records {
            if let (Some(p), Some(o)) = (r.partition, r.offset) {
                let e = first.entry((r.topic.clone(), p)).or_insert(o);
                *e = (*e).min(o);
            }
        }
        let consumer = self.consumer();
        for ((topic, p), o) in first {
            if let Err(e) = consumer.seek(&topic, p, Offset::Offset(o), ASK_TIMEOUT) {
                tracing::warn!(group = %self.group, instance = %self.name, %topic, partition = p, offset = o, "could not rewind a consumer instance after an unanswered fetch: {e}");
            }
        }
    }

    /// Commits `offsets` as given (the next offset to read), or, with none, what it has read.
    pub fn commit(&self, offsets: Option<Vec<Place>>) -> Result<(), RequestError> {
        let consumer = self.consumer();
        let result = match offsets {
            None => consumer.commit_consumer_state(CommitMode::Sync),
            Some(places) => {
                let list = place_list(&places)?;
                consumer.commit(&list, CommitMode::Sync)
            }
        };
        match result {
            // Nothing read yet: nothing to commit, as Kafka's own consumer sees it.
            Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => Ok(()),
            other => other.map_err(|e| kafka_error(&e, "")),
        }
    }

    /// The group's committed offsets for `partitions` (those it has).
    pub fn committed(&self, partitions: &[(String, i32)]) -> Result<Vec<Place>, RequestError> {
        let mut list = TopicPartitionList::new();
        for (topic, partition) in partitions {
            list.add_partition(topic, *partition);
        }
        let found = self
            .consumer()
            .committed_offsets(list, ASK_TIMEOUT)
            .map_err(|e| kafka_error(&e, ""))?;
        Ok(found
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.topic().to_owned(), e.partition(), o)),
                _ => None,
            })
            .collect())
    }

    /// Moves each partition to its offset; the next records start there.
    pub fn seek(&self, places: &[(String, i32, Offset)]) -> Result<(), RequestError> {
        let consumer = self.consumer();
        let held = consumer.assignment().map_err(|e| kafka_error(&e, ""))?;
        for (topic, partition, offset) in places {
            if held.find_partition(topic, *partition).is_none() {
                return Err(RequestError::ConsumerState(format!(
                    "partition {partition} of {topic:?} is not assigned to this consumer \
                     (a subscribed consumer has partitions once a records call joined the group)"
                )));
            }
            consumer
                .seek(topic, *partition, *offset, ASK_TIMEOUT)
                .map_err(|e| kafka_error(&e, topic))?;
        }
        Ok(())
    }
}

fn place_list(places: &[Place]) -> Result<TopicPartitionList, RequestError> {
    let mut list = TopicPartitionList::new();
    for (topic, partition, offset) in places {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| RequestError::Internal(e.to_string()))?;
    }
    Ok(list)
}

fn kafka_error(e: &KafkaError, topic: &str) -> RequestError {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::State) => RequestError::ConsumerState(e.to_string()),
        _ => crate::kafka::classify(e, topic, None),
    }
}
