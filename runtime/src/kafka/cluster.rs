//! The gateway's metadata and admin client: the cluster's id, brokers, topics and partitions,
//! whether a topic exists, and topic creation and deletion (REST Proxy's metadata and topic
//! administration, produce's topic checks, the schema registry's topic). Metadata comes from
//! one consumer made on first use; the blocking methods belong on a blocking thread. Every
//! number is checked here before librdkafka sees it, and every request to Kafka is counted
//! (`wafka_kafka_admin_requests_total`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

use crate::config::KafkaConfig;
use crate::error::RequestError;
use crate::kafka::EmbeddedCluster;

/// How long a metadata or admin request may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// A topic as metadata describes it.
pub struct TopicInfo {
    /// Its name.
    pub name: String,
    /// Kafka's own (`__consumer_offsets`…).
    pub internal: bool,
    /// By partition number.
    pub partitions: Vec<PartitionInfo>,
}

/// A partition's leader and replicas.
pub struct PartitionInfo {
    /// Its number.
    pub id: i32,
    /// Leader broker, -1 for none.
    pub leader: i32,
    /// Replica brokers.
    pub replicas: Vec<i32>,
    /// In-sync replica brokers.
    pub in_sync: Vec<i32>,
}

/// The cluster the gateway talks to, as the API sees it.
pub struct Cluster {
    kafka: Arc<KafkaConfig>,
    bootstrap: String,
    embedded: Option<Arc<EmbeddedCluster>>,
    client: Mutex<Option<Arc<BaseConsumer>>>,
    admin: Mutex<Option<Arc<AdminClient<DefaultClientContext>>>>,
    id: OnceLock<String>,
    /// Topics seen to exist, and when: produce checks here before asking Kafka.
    known: Mutex<HashMap<String, Instant>>,
    /// Requests sent to Kafka, by kind: `/admin/kafka` shows them.
    requests: Mutex<BTreeMap<&'static str, u64>>,
}

/// Most partitions a topic created here may have: librdkafka allocates per partition before
/// Kafka is asked, and the embedded cluster holds every one in memory.
pub const MAX_PARTITIONS: i32 = 10_000;

/// How long a topic seen to exist is taken to exist without asking again.
const KNOWN_FOR: Duration = Duration::from_secs(60);

/// Topics remembered at most; past it the memory starts over.
const KNOWN_MAX: usize = 10_000;

impl Cluster {
    /// The cluster at `bootstrap`; `embedded` when it is the in-process one.
    pub fn new(
        kafka: &KafkaConfig,
        bootstrap: &str,
        embedded: Option<Arc<EmbeddedCluster>>,
    ) -> Self {
        Cluster {
            kafka: Arc::new(kafka.clone()),
            bootstrap: bootstrap.to_owned(),
            embedded,
            client: Mutex::default(),
            admin: Mutex::default(),
            id: OnceLock::new(),
            known: Mutex::default(),
            requests: Mutex::default(),
        }
    }

    /// Requests sent to Kafka since start, by kind (`metadata`, `cluster_id`, `create_topic`,
    /// `delete_topic`).
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts a request about to be sent to Kafka.
    fn asked(&self, request: &'static str) {
        super::admin_request(request);
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests.entry(request).or_default() += 1;
    }

    /// True when `topic` was seen to exist lately: no need to ask Kafka.
    pub fn known(&self, topic: &str) -> bool {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.get(topic).is_some_and(|at| at.elapsed() < KNOWN_FOR)
    }

    /// `Ok` when `topic` exists, else 404; asks Kafka (without creating it) unless it is known.
    /// Produce checks first, as REST Proxy does, so a typo is not a new topic.
    pub fn require(&self, topic: &str) -> Result<(), RequestError> {
        if self.known(topic) {
            return Ok(());
        }
        self.topic(topic)?;
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= KNOWN_MAX {
            known.clear();
        }
        known.insert(topic.to_owned(), Instant::now());
        Ok(())
    }

    fn client(&self) -> Result<Arc<BaseConsumer>, RequestError> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = &*client {
            return Ok(c.clone());
        }
        let made: BaseConsumer =
            crate::kafka::consumer_config(&self.kafka, &self.bootstrap, "wafka-rest-metadata")
                .create()
                .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?;
        let made = Arc::new(made);
        *client = Some(made.clone());
        Ok(made)
    }

    fn admin(&self) -> Result<Arc<AdminClient<DefaultClientContext>>, RequestError> {
        let mut admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = &*admin {
            return Ok(a.clone());
        }
        let made: AdminClient<DefaultClientContext> =
            crate::kafka::consumer_config(&self.kafka, &self.bootstrap, "wafka-rest-admin")
                .create()
                .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?;
        let made = Arc::new(made);
        *admin = Some(made.clone());
        Ok(made)
    }

    /// The cluster id Kafka reports (`wafka-embedded` for the in-process cluster).
    pub fn id(&self) -> Result<String, RequestError> {
        if let Some(id) = self.id.get() {
            return Ok(id.clone());
        }
        let id = match &self.embedded {
            Some(_) => "wafka-embedded".to_owned(),
            None => {
                self.asked("cluster_id");
                self.client()?
                    .client()
                    .fetch_cluster_id(ASK_TIMEOUT)
                    .ok_or_else(|| {
                        RequestError::KafkaUnavailable("no cluster id in metadata".into())
                    })?
            }
        };
        Ok(self.id.get_or_init(|| id).clone())
    }

    /// The controller broker's id, when the cluster says (it blocks: call it off the runtime).
    pub fn controller(&self) -> Result<Option<i32>, RequestError> {
        self.asked("metadata");
        let client = self.client()?;
        let timeout = i32::try_from(ASK_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the handle lives as long as `client`, held across the call; librdkafka
        // answers -1 when it does not know.
        let id = unsafe {
            rdkafka::bindings::rd_kafka_controllerid(client.client().native_ptr(), timeout)
        };
        if self.kafka.is_embedded() {
            // The mock cluster has no controller (it answers 0, no broker's id): any of its
            // brokers serves what a controller would, so the first one is named.
            let brokers = self.brokers()?;
            if !brokers.contains(&id) {
                return Ok(brokers.first().copied());
            }
        }
        Ok((id >= 0).then_some(id))
    }

    /// Broker ids, sorted.
    pub fn brokers(&self) -> Result<Vec<i32>, RequestError> {
        self.asked("metadata");
        let metadata = self
            .client()?
            .fetch_metadata(None, ASK_TIMEOUT)
            .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?;
        let mut ids: Vec<i32> = metadata.brokers().iter().map(|b| b.id()).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Every topic, by name.
    pub fn topics(&self) -> Result<Vec<TopicInfo>, RequestError> {
        self.describe(None)
    }

    /// One topic, or 404.
    pub fn topic(&self, name: &str) -> Result<TopicInfo, RequestError> {
        self.describe(Some(name))?
            .pop()
            .ok_or_else(|| RequestError::TopicNotFound(name.to_owned()))
    }

    fn describe(&self, name: Option<&str>) -> Result<Vec<TopicInfo>, RequestError> {
        self.asked("metadata");
        let metadata = self
            .client()?
            .fetch_metadata(name, ASK_TIMEOUT)
            .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?;
        let mut topics = Vec::new();
        for topic in metadata.topics() {
            match topic.error().map(RDKafkaErrorCode::from) {
                None => {}
                Some(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
                ) => {
                    continue;
                }
                Some(other) => return Err(RequestError::KafkaUnavailable(other.to_string())),
            }
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions()
                .iter()
                .map(|p| PartitionInfo {
                    id: p.id(),
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    in_sync: p.isr().to_vec(),
                })
                .collect();
            if partitions.is_empty() {
                continue;
            }
            partitions.sort_by_key(|p| p.id);
            topics.push(TopicInfo {
                name: topic.name().to_owned(),
                internal: topic.name().starts_with("__"),
                partitions,
            });
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    }

    /// Creates a topic. Blocking on the embedded cluster, which has no admin API of its own.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: Option<i32>,
        replication: Option<i32>,
        configs: &[(String, String)],
    ) -> Result<(), RequestError> {
        let (partitions, replication) = check_new_topic(partitions, replication)?;
        if let Some(cluster) = &self.embedded {
            if self.topic(name).is_ok() {
                return Err(RequestError::KafkaBadRequest(format!(
                    "Topic '{name}' already exists."
                )));
            }
            let count = partitions.unwrap_or(self.kafka.embedded.partitions);
            self.asked("create_topic");
            return cluster
                .create_topic(name, count)
                .map_err(|e| RequestError::KafkaBadRequest(e.to_string()));
        }
        let replication = TopicReplication::Fixed(replication.unwrap_or(-1));
        let mut topic = NewTopic::new(name, partitions.unwrap_or(-1), replication);
        for (key, value) in configs {
            topic = topic.set(key, value);
        }
        let options = AdminOptions::new().operation_timeout(Some(ASK_TIMEOUT));
        self.asked("create_topic");
        let results = self
            .admin()?
            .create_topics([&topic], &options)
            .await
            .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?;
        admin_result(results)
    }

    /// Deletes a topic; not on the embedded cluster, which refuses as a broker with
    /// `delete.topic.enable=false` does (Kafka's `TOPIC_DELETION_DISABLED`: the client's
    /// request, not the gateway, is what cannot be done).
    pub async fn delete_topic(&self, name: &str) -> Result<(), RequestError> {
        if self.embedded.is_some() {
            return Err(RequestError::KafkaBadRequest(
                "the embedded cluster cannot delete topics (as a broker with delete.topic.enable=false)".into(),
            ));
        }
        let options = AdminOptions::new().operation_timeout(Some(ASK_TIMEOUT));
        self.asked("delete_topic");
        let results = self
            .admin()?
            .delete_topics(&[name], &options)
            .await
            .map_err(|e| RequestError::KafkaUnavailable(e.to_string()))?;
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.remove(name);
        drop(known);
        admin_result(results)
    }
}

/// A new topic's partitions (1 to [`MAX_PARTITIONS`]) and replication factor (1 to 32767:
/// Kafka's is an int16), when given; absent or -1, the broker's defaults (as Kafka reads -1).
/// Refused as Kafka refuses them (400), before librdkafka sees them.
pub fn check_new_topic(
    partitions: Option<i32>,
    replication: Option<i32>,
) -> Result<(Option<i32>, Option<i32>), RequestError> {
    let partitions = partitions.filter(|p| *p != -1);
    if let Some(p) = partitions.filter(|p| !(1..=MAX_PARTITIONS).contains(p)) {
        return Err(RequestError::KafkaBadRequest(format!(
            "partitions_count {p}: use 1 to {MAX_PARTITIONS}, or -1 for the broker's default"
        )));
    }
    let replication = replication.filter(|r| *r != -1);
    if let Some(r) = replication.filter(|r| !(1..=i32::from(i16::MAX)).contains(r)) {
        return Err(RequestError::KafkaBadRequest(format!(
            "replication_factor {r}: use 1 to {}, or -1 for the broker's default",
            i16::MAX
        )));
    }
    Ok((partitions, replication))
}

fn admin_result(results: Vec<rdkafka::admin::TopicResult>) -> Result<(), RequestError> {
    for result in results {
        if let Err((topic, code)) = result {
            return Err(match code {
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                    RequestError::TopicNotFound(topic)
                }
                RDKafkaErrorCode::TopicAlreadyExists => {
                    RequestError::KafkaBadRequest(format!("Topic '{topic}' already exists."))
                }
                RDKafkaErrorCode::RequestTimedOut | RDKafkaErrorCode::BrokerTransportFailure => {
                    RequestError::KafkaUnavailable(code.to_string())
                }
                other => RequestError::KafkaBadRequest(format!("{topic}: {other}")),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_topic_numbers_outside_kafkas_ranges_never_reach_librdkafka() {
        for p in [-123, -2, 0, MAX_PARTITIONS + 1, i32::MAX, i32::MIN] {
            let refused = check_new_topic(Some(p), None).unwrap_err();
            assert_eq!(refused.code(), "kafka_bad_request", "{p}");
        }
        for r in [-5, 0, 32768, i32::MAX] {
            assert!(check_new_topic(None, Some(r)).is_err(), "{r}");
        }
        assert_eq!(check_new_topic(Some(-1), Some(-1)).unwrap(), (None, None));
        assert_eq!(
            check_new_topic(Some(1), Some(1)).unwrap(),
            (Some(1), Some(1))
        );
        assert_eq!(
            check_new_topic(Some(MAX_PARTITIONS), Some(3)).unwrap(),
            (Some(MAX_PARTITIONS), Some(3))
        );
        assert_eq!(check_new_topic(None, None).unwrap(), (None, None));
    }
}
