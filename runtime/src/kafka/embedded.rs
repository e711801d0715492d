//! The embedded default: librdkafka's in-process mock cluster.
//!
//! The mock cluster is not `Send`, so it lives on a thread of its own and is driven by
//! messages. It listens on real loopback ports, so any Kafka client can read from it.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::error::{KafkaError, KafkaResult};
use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaErrorCode, RDKafkaRespErr};

/// Something to do with the cluster on its thread.
type Action =
    Box<dyn FnOnce(&MockCluster<'static, DefaultProducerContext>) -> KafkaResult<()> + Send>;

enum Command {
    CreateTopic(String, i32, mpsc::Sender<KafkaResult<()>>),
    Run(Action, mpsc::Sender<KafkaResult<()>>),
    Stop,
}

/// A running mock cluster. Keeps nothing on disk: everything is gone when it stops.
pub struct EmbeddedCluster {
    bootstrap: String,
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
    /// Topics created so far: asking the mock cluster again for one costs a round trip to its
    /// thread that can take a good part of a second.
    created: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl EmbeddedCluster {
    /// Starts a cluster of `brokers` mock brokers on loopback.
    pub fn start(brokers: i32) -> KafkaResult<Self> {
        let (commands, inbox) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("wafka-embedded-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(brokers) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                for command in inbox {
                    match command {
                        Command::CreateTopic(topic, partitions, reply) => {
                            let created = match cluster.create_topic(&topic, partitions, 1) {
                                Err(KafkaError::MockCluster(
                                    RDKafkaErrorCode::TopicAlreadyExists,
                                )) => Ok(()),
                                other => other,
                            };
                            let _ = reply.send(created);
                        }
                        Command::Run(action, reply) => {
                            let _ = reply.send(action(&cluster));
                        }
                        Command::Stop => break,
                    }
                }
            })
            .map_err(|_| KafkaError::MockCluster(RDKafkaErrorCode::Fail))?;
        let bootstrap = ready
            .recv()
            .map_err(|_| KafkaError::MockCluster(RDKafkaErrorCode::Fail))??;
        Ok(EmbeddedCluster {
            bootstrap,
            commands,
            thread: Some(thread),
            created: Default::default(),
        })
    }

    /// The cluster's `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Takes broker `id` (1-based) down: its connections close and it refuses new ones.
    /// Fault injection for tests and drills.
    pub fn broker_down(&self, id: i32) -> KafkaResult<()> {
        self.run(Box::new(move |c| c.broker_down(id)))
    }

    /// Brings broker `id` back up.
    pub fn broker_up(&self, id: i32) -> KafkaResult<()> {
        self.run(Box::new(move |c| c.broker_up(id)))
    }

    /// Delays every answer of broker `id` by `delay`: slow acknowledgements.
    pub fn round_trip_time(&self, id: i32, delay: Duration) -> KafkaResult<()> {
        self.run(Box::new(move |c| c.broker_round_trip_time(id, delay)))
    }

    /// Makes the next produce requests fail with `errors`, one per request, in order.
    pub fn produce_errors(&self, errors: Vec<RDKafkaRespErr>) -> KafkaResult<()> {
        self.run(Box::new(move |c| {
            c.request_errors(RDKafkaApiKey::Produce, &errors);
            Ok(())
        }))
    }

    fn run(&self, action: Action) -> KafkaResult<()> {
        let (reply, answer) = mpsc::channel();
        let gone = || KafkaError::MockCluster(RDKafkaErrorCode::Fail);
        self.commands
            .send(Command::Run(action, reply))
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Creates a topic; creating an existing topic is not an error. Blocks until the cluster
    /// answers: call it off the async workers.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> KafkaResult<()> {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if created.contains(topic) {
            return Ok(());
        }
        let (reply, answer) = mpsc::channel();
        let gone = || KafkaError::MockCluster(RDKafkaErrorCode::Fail);
        self.commands
            .send(Command::CreateTopic(topic.to_owned(), partitions, reply))
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())??;
        created.insert(topic.to_owned());
        Ok(())
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
