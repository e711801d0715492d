//! Reading Kafka for HTTP clients (read routes): shared per-topic fetchers ([`tail`]), catch-up
//! reads for clients behind them, positions that travel with the client ([`position`]), group
//! commits, and the registry of who is reading ([`streams`]).
//!
//! No state a client must stick to: a client's position is a token it holds, a group's is in
//! Kafka's committed offsets, and any gateway can serve the next request.

mod consumer;
pub mod position;
pub mod render;
pub mod streams;
mod tail;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Semaphore, watch};

pub use consumer::{Consumers, record_size, to_record};
pub use position::{BadPosition, Position};
pub use tail::Tail;

use crate::config::KafkaConfig;
use crate::error::RequestError;
use crate::exchange::Record;
use crate::memory::Memory;

/// Bytes of records each topic's shared fetcher keeps for clients close behind the log end, at
/// most: when the memory budget is short it keeps fewer (clients then catch up from Kafka).
pub const TAIL_BUFFER_BYTES: usize = 16 << 20;

/// Catch-up reads (clients behind the shared buffer) running at once; more wait.
const CATCH_UPS: usize = 8;

/// A tail nobody read for this long is stopped.
const TAIL_IDLE: Duration = Duration::from_secs(60);

/// Longest one catch-up read waits for records.
const CATCH_UP_WAIT: Duration = Duration::from_secs(2);

/// The gateway's read side.
pub struct Reading {
    consumers: Consumers,
    tails: Mutex<HashMap<String, Arc<Tail>>>,
    catch_ups: Semaphore,
    /// Who is reading now.
    pub readers: Arc<streams::Readers>,
    /// Server-sent-event streams open across all routes (`server.max_streams`).
    pub streams: Arc<Semaphore>,
    /// Long-poll fetches waiting across all routes (`server.max_fetches`).
    pub fetches: Arc<Semaphore>,
    /// What the tails' buffers and answers being sent are charged to.
    pub memory: Arc<Memory>,
}

/// Where a read starts when the client gives no position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// Each partition's first offset.
    Earliest,
    /// Each partition's end: only records produced from now on.
    Latest,
    /// The first records at or after this time, in milliseconds since the Unix epoch.
    Time(i64),
    /// A position returned earlier.
    Position(Position),
}

impl Reading {
    /// The read side for `kafka` at `bootstrap`, with the global bounds.
    pub fn new(
        kafka: &KafkaConfig,
        bootstrap: &str,
        max_streams: usize,
        max_fetches: usize,
        memory: Arc<Memory>,
    ) -> Self {
        Reading {
            memory,
            consumers: Consumers::new(kafka, bootstrap),
            tails: Mutex::default(),
            catch_ups: Semaphore::new(CATCH_UPS),
            readers: Arc::default(),
            streams: Arc::new(Semaphore::new(max_streams)),
            fetches: Arc::new(Semaphore::new(max_fetches)),
        }
    }

    /// Connects a catch-up consumer to the cluster in the background, so the first client
    /// that is behind does not wait for it.
    pub fn warm(&self) {
        let consumers = self.consumers.clone();
        tokio::task::spawn_blocking(move || consumers.warm());
    }

    /// The shared fetcher of `topic`, started on first use.
    pub async fn tail(&self, topic: &str) -> Result<Arc<Tail>, RequestError> {
        let mut tails = self.tails.lock().await;
        if let Some(tail) = tails.get(topic) {
            return Ok(tail.clone());
        }
        let (consumers, name) = (self.consumers.clone(), topic.to_owned());
        let memory = self.memory.clone();
        let tail = tokio::task::spawn_blocking(move || {
            Tail::start(&consumers, &name, TAIL_BUFFER_BYTES, &memory)
        })
        .await
        .map_err(|e| RequestError::Internal(e.to_string()))??;
        tails.insert(topic.to_owned(), tail.clone());
        Ok(tail)
    }

    /// Where a client starts on `tail`'s `partitions`: `from`, or for `group` its committed
    /// offsets where it has some and `from` elsewhere.
    pub async fn start(
        &self,
        tail: &Tail,
        partitions: &[i32],
        from: From,
        group: Option<&str>,
    ) -> Result<Position, RequestError> {
        let topic = tail.topic().to_owned();
        let mut position = match from {
            From::Latest => tail.ends(),
            From::Position(position) => position,
            From::Earliest | From::Time(_) => {
                let (consumers, owned) = (self.consumers.clone(), partitions.to_vec());
                let topic = topic.clone();
                blocking(move || {
                    consumers.asking(|consumer| match from {
                        From::Time(ms) => consumers.at_time(consumer, &topic, &owned, ms),
                        _ => consumers.ends(consumer, &topic, &owned, true),
                    })
                })
                .await?
            }
        };
        if let Some(group) = group {
            let (consumers, group, owned) = (
                self.consumers.clone(),
                group.to_owned(),
                partitions.to_vec(),
            );
            let committed = blocking(move || consumers.committed(&group, &topic, &owned)).await?;
            position.0.extend(committed.0);
        }
        // Partitions the client did not know yet start at the log end.
        let ends = tail.ends();
        position.0.retain(|p, _| partitions.contains(p));
        for p in partitions {
            if let Some(&end) = ends.0.get(p) {
                position.0.entry(*p).or_insert(end);
            }
        }
        Ok(position)
    }

    /// Records at or after `position`, at most `max_records` and about `max_bytes`: at once
    /// when there are some, else as soon as one arrives, at the latest at `deadline` (then
    /// none). `stop` ends the wait early.
    pub async fn read(
        &self,
        tail: &Tail,
        position: &Position,
        max_records: usize,
        max_bytes: usize,
        deadline: Instant,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Vec<Arc<Record>>, RequestError> {
        let mut changed = tail.subscribe();
        loop {
            changed.borrow_and_update();
            let collected = tail.collect(position, max_records, max_bytes);
            let mut records = collected.records;
            if !collected.behind.is_empty() {
                let caught = self
                    .catch_up(tail.topic(), &collected.behind, max_records, max_bytes)
                    .await?;
                // Older records first; the buffer's follow for the other partitions.
                let mut all: Vec<Arc<Record>> = caught.into_iter().map(Arc::new).collect();
                all.append(&mut records);
                all.truncate(max_records);
                records = all;
            }
            if !records.is_empty() {
                return Ok(records);
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep_until(deadline.into()) => return Ok(Vec::new()),
                _ = stop.changed() => return Ok(Vec::new()),
            }
        }
    }

    async fn catch_up(
        &self,
        topic: &str,
        behind: &std::collections::BTreeMap<i32, (i64, i64)>,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, RequestError> {
        let _permit = self
            .catch_ups
            .acquire()
            .await
            .map_err(|_| RequestError::Internal("catch-up closed".into()))?;
        let from = Position(behind.iter().map(|(&p, &(f, _))| (p, f)).collect());
        let until = Position(behind.iter().map(|(&p, &(_, u))| (p, u)).collect());
        let (consumers, topic) = (self.consumers.clone(), topic.to_owned());
        blocking(move || {
            consumers.read_range(&topic, &from, &until, max_records, max_bytes, CATCH_UP_WAIT)
        })
        .await
    }

    /// Commits `position` of `topic` under `group`.
    pub async fn commit(
        &self,
        group: &str,
        topic: &str,
        position: Position,
    ) -> Result<(), RequestError> {
        let (consumers, group, topic) =
            (self.consumers.clone(), group.to_owned(), topic.to_owned());
        blocking(move || consumers.commit(&group, &topic, &position)).await
    }

    /// What `group` committed on `topic`'s `partitions`.
    pub async fn committed(
        &self,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<Position, RequestError> {
        let (consumers, group, topic, partitions) = (
            self.consumers.clone(),
            group.to_owned(),
            topic.to_owned(),
            partitions.to_vec(),
        );
        blocking(move || consumers.committed(&group, &topic, &partitions)).await
    }

    /// The topics followed by a shared tail, sorted.
    pub async fn followed(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.tails.lock().await.keys().cloned().collect();
        topics.sort();
        topics
    }

    /// Bytes held by every tail's buffer.
    pub async fn buffered_bytes(&self) -> usize {
        self.tails
            .lock()
            .await
            .values()
            .map(|t| t.buffered_bytes())
            .sum()
    }

    /// Stops tails nobody used for a while, until `stop`.
    pub async fn reap(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(TAIL_IDLE / 4);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => break,
            }
            let now = crate::clock::now_millis();
            let mut tails = self.tails.lock().await;
            tails.retain(|_, tail| {
                let idle = now.saturating_sub(tail.last_used.load(Ordering::Relaxed));
                let keep = Arc::strong_count(tail) > 1 || idle < TAIL_IDLE.as_millis() as u64;
                if !keep {
                    tail.stop();
                }
                keep
            });
        }
        for tail in self.tails.lock().await.values() {
            tail.stop();
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RequestError> + Send + 'static,
) -> Result<T, RequestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RequestError::Internal(e.to_string()))?
}
