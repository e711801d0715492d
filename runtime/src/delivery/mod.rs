//! Getting records to Kafka without losing any: the in-flight bound, the circuit breaker, the
//! spool for outages, and the dead-letter topic for records Kafka refuses after their request
//! was answered. The request path calls [`Delivery::sync`] or [`Delivery::accept`].

mod breaker;
mod dead_letter;
mod in_flight;
mod monitor;
mod replay;
mod spool;
mod written;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use breaker::{Breaker, Position, Tick};
pub use in_flight::{InFlight, size as record_size};
pub use monitor::run as monitor;
pub use replay::run as replay;
pub use spool::{Spool, SpoolStatus};
pub use written::Lookup;

use crate::config::KafkaConfig;
use crate::error::RequestError;
use crate::exchange::Record;
use crate::kafka::{Delivered, Pending, Producer, is_retriable};

/// What became of one record, as its request's answer tells it.
#[derive(Debug)]
pub enum Accepted {
    /// Acknowledged by Kafka.
    Delivered(Delivered),
    /// Queued in the producer; delivery continues after the answer.
    Queued,
    /// Written to the spool; replayed to Kafka once it is reachable.
    Spooled,
}

/// Room in flight taken for records before their request is answered
/// ([`Delivery::hold`]).
pub struct Held {
    _room: in_flight::Reservation,
}

/// Each record's topic and result, in request order.
pub type Results = Vec<(String, Result<Accepted, RequestError>)>;

/// The delivery side of the gateway.
pub struct Delivery {
    /// The native producer.
    pub producer: Producer,
    /// Fails fast while Kafka is down.
    pub breaker: Arc<Breaker>,
    /// Holds records while Kafka is unreachable, when `[spool]` is set.
    pub spool: Option<Spool>,
    in_flight: InFlight,
    dead_letter: Option<String>,
    /// Delivery metrics by topic, bounded.
    topics: crate::metrics::Topics,
}

impl Delivery {
    /// Wraps the producer with the bounds and the breaker `kafka` sets, and the spool.
    pub fn new(
        producer: Producer,
        breaker: Arc<Breaker>,
        spool: Option<Spool>,
        kafka: &KafkaConfig,
        memory: Arc<crate::memory::Memory>,
    ) -> Self {
        Delivery {
            producer,
            breaker,
            spool,
            in_flight: InFlight::new(
                kafka.max_in_flight_records,
                kafka.max_in_flight_bytes,
                memory,
            ),
            dead_letter: kafka.dead_letter_topic.clone(),
            topics: Default::default(),
        }
    }

    /// For a `sync` route: sends and waits for every acknowledgement. With `spool_when_down`,
    /// records that cannot reach Kafka go to the spool instead of failing.
    pub async fn sync(
        self: &Arc<Self>,
        records: Vec<Record>,
        spool_when_down: bool,
    ) -> Result<Results, RequestError> {
        let spool = self.spool.as_ref().filter(|_| spool_when_down);
        if let Err(open) = self.breaker.check() {
            return match spool {
                Some(spool) => spool_all(spool, records).await,
                None => Err(open),
            };
        }
        let held = self.in_flight.reserve(&records)?;
        let queued = records.iter().map(|r| self.queue(r)).collect();
        let outcomes = self.reports(held, queued).await;
        let mut results = Vec::with_capacity(records.len());
        let mut retry = Vec::new();
        for (record, outcome) in records.into_iter().zip(outcomes) {
            match outcome {
                Err(e) if spool.is_some() && is_retriable(&e) => {
                    retry.push((results.len(), record));
                    results.push((String::new(), Err(e)));
                }
                other => results.push((record.topic, other.map(Accepted::Delivered))),
            }
        }
        if let (Some(spool), false) = (spool, retry.is_empty()) {
            let (slots, records): (Vec<usize>, Vec<Record>) = retry.into_iter().unzip();
            let topics: Vec<String> = records.iter().map(|r| r.topic.clone()).collect();
            let spooled = spool.append(records).await;
            for (slot, topic) in slots.into_iter().zip(topics) {
                results[slot] = (topic, spooled.clone().map(|()| Accepted::Spooled));
            }
        }
        Ok(results)
    }

    /// Queues `records` now, in order (so each partition keeps the caller's order across
    /// calls), and returns the wait for their acknowledgements: for callers that pipeline
    /// (the REST Proxy's streamed produce). No spool.
    pub fn send_now(
        self: &Arc<Self>,
        records: Vec<Record>,
    ) -> Result<impl Future<Output = Results> + Send + 'static, RequestError> {
        self.breaker.check()?;
        let held = self.in_flight.reserve(&records)?;
        let queued = records.iter().map(|r| self.queue(r)).collect();
        let reports = self.reports(held, queued);
        // Only the topics wait with the reports: bodies are freed as soon as they are queued.
        let topics: Vec<String> = records.into_iter().map(|r| r.topic).collect();
        Ok(async move {
            let outcomes = reports.await;
            topics
                .into_iter()
                .zip(outcomes)
                .map(|(topic, outcome)| (topic, outcome.map(Accepted::Delivered)))
                .collect()
        })
    }

    /// The reports of `queued` records, waited for on a task of their own that keeps `held`
    /// until the last one: a caller that stops listening (a client gone mid-request) must not
    /// leave the breaker counting reports nobody collects, nor free the room of records still
    /// in flight. One outcome per record, in order.
    fn reports(
        self: &Arc<Self>,
        held: in_flight::Reservation,
        queued: Vec<Result<Pending, RequestError>>,
    ) -> impl Future<Output = Vec<Result<Delivered, RequestError>>> + Send + 'static {
        let count = queued.len();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let this = self.clone();
        tokio::spawn(async move {
            let _held = held;
            let mut outcomes = Vec::with_capacity(queued.len());
            for q in queued {
                outcomes.push(match q {
                    Ok(pending) => this.report(pending).await,
                    Err(e) => Err(e),
                });
            }
            let _ = tx.send(outcomes);
        });
        async move {
            rx.await.unwrap_or_else(|_| {
                let lost = RequestError::Internal("the delivery reports were lost".into());
                vec![Err(lost); count]
            })
        }
    }

    /// For an `async` route: queues the records (or spools them while Kafka is down, or while
    /// older spooled records wait, to keep their order) and returns; delivery goes on in the
    /// background, and a record that then fails is spooled or dead-lettered.
    pub async fn accept(
        self: &Arc<Self>,
        records: Vec<Record>,
        request_id: &str,
    ) -> Result<Results, RequestError> {
        if let Some(spool) = &self.spool
            && (self.breaker.check().is_err() || spool.backlog() > 0)
        {
            return spool_all(spool, records).await;
        }
        self.breaker.check()?;
        let held = self.in_flight.reserve(&records)?;
        let mut results = Vec::with_capacity(records.len());
        let mut waiting = Vec::new();
        for record in records {
            match self.queue(&record) {
                Ok(pending) => {
                    results.push((record.topic.clone(), Ok(Accepted::Queued)));
                    waiting.push((record, pending));
                }
                Err(e) => results.push((record.topic, Err(e))),
            }
        }
        let this = self.clone();
        let id = request_id.to_owned();
        tokio::spawn(async move {
            let _held = held;
            this.settle(waiting, &id).await;
        });
        Ok(results)
    }

    /// Room for the records of an async request answered before they are sent (a keyed one,
    /// whose key is claimed after its 202): `None` while Kafka is down or spooled records wait,
    /// when the request takes the ordinary way; 503 `queue_full` when there is no room.
    pub fn hold(&self, records: &[Record]) -> Result<Option<Held>, RequestError> {
        let backlog = self.spool.as_ref().is_some_and(|s| s.backlog() > 0);
        if backlog || self.breaker.check().is_err() {
            return Ok(None);
        }
        self.in_flight
            .reserve(records)
            .map(|room| Some(Held { _room: room }))
    }

    /// Sends held records; their client was answered 202, so any failure is one after the
    /// answer (spooled, dead-lettered, or counted as dropped).
    pub async fn send_held(self: &Arc<Self>, held: Held, records: Vec<Record>, request_id: &str) {
        let _held = held;
        let mut waiting = Vec::with_capacity(records.len());
        for record in records {
            match self.queue(&record) {
                Ok(pending) => waiting.push((record, pending)),
                Err(e) => Box::pin(self.failed_after_answer(record, e, request_id)).await,
            }
        }
        self.settle(waiting, request_id).await;
    }

    /// Waits for the reports of records already answered.
    async fn settle(&self, waiting: Vec<(Record, Pending)>, request_id: &str) {
        for (record, pending) in waiting {
            if let Err(e) = self.report(pending).await {
                // Boxed: the rare failure path (spool, dead letter) would otherwise size
                // every waiting task, and a paused broker keeps tens of thousands waiting.
                Box::pin(self.failed_after_answer(record, e, request_id)).await;
            }
        }
    }

    /// Hands a record to the producer.
    fn queue(&self, record: &Record) -> Result<Pending, RequestError> {
        let pending = self.producer.send(record, self.topics.get(&record.topic))?;
        self.breaker.sent();
        Ok(pending)
    }

    /// Waits for a record's delivery report and tells the breaker and the metrics.
    async fn report(&self, pending: Pending) -> Result<Delivered, RequestError> {
        let metrics = pending.metrics().clone();
        let result = pending.delivered().await;
        self.breaker
            .reported(result.as_ref().is_err_and(is_retriable));
        match &result {
            Ok(_) => metrics.delivered.increment(1),
            Err(e) => metrics.delivery_error(e.code()),
        }
        result
    }

    /// A record its client was told is accepted did not make it: spool it if Kafka may take
    /// it later, else dead-letter it; count it as dropped only when neither is possible.
    async fn failed_after_answer(&self, record: Record, error: RequestError, request_id: &str) {
        if let Some(spool) = &self.spool
            && is_retriable(&error)
        {
            let topic = record.topic.clone();
            match spool.append(vec![record]).await {
                Ok(()) => {
                    tracing::warn!(request_id, %topic, code = error.code(), error = %error, "accepted record not delivered yet: spooled for replay");
                    return;
                }
                Err(spool_error) => {
                    return self.dropped(&topic, &error, request_id, &spool_error.to_string());
                }
            }
        }
        self.dead_letter_or_drop(record, error, request_id).await;
    }

    /// Sends a record Kafka refused to the dead-letter topic, if there is one.
    async fn dead_letter_or_drop(&self, record: Record, error: RequestError, request_id: &str) {
        let topic = record.topic.clone();
        let Some(dead_letter_topic) = &self.dead_letter else {
            return self.dropped(
                &topic,
                &error,
                request_id,
                "no kafka.dead_letter_topic is set",
            );
        };
        let letter = dead_letter::letter(record, dead_letter_topic, &error);
        let sent = match self.queue(&letter) {
            Ok(pending) => self.report(pending).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(d) => {
                self.topics.get(&topic).dead_lettered(error.code());
                tracing::warn!(request_id, %topic, code = error.code(), error = %error, dead_letter_topic, offset = d.offset, "record dead-lettered");
            }
            Err(dlq_error) => self.dropped(&topic, &error, request_id, &dlq_error.to_string()),
        }
    }

    /// Logs and counts an accepted record that is lost.
    fn dropped(&self, topic: &str, error: &RequestError, request_id: &str, why: &str) {
        self.topics.get(topic).dropped(error.code());
        tracing::error!(request_id, topic, code = error.code(), error = %error, why, "record accepted with 202 was lost");
    }

    /// Size and position of everything held: for `/admin/kafka`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "breaker": {
                "state": self.breaker.position(),
                "reason": self.breaker.reason(),
                "awaiting_reports": self.breaker.awaiting(),
            },
            "in_flight": {
                "records": self.in_flight.records_in_flight(),
                "bytes": self.in_flight.bytes_in_flight(),
            },
            "producer_queue": self.producer.in_flight(),
            "spool": self.spool.as_ref().map(Spool::status),
            "dead_letter_topic": self.dead_letter,
        })
    }

    /// Flushes what is queued, up to `timeout`. Records still queued after it are spooled
    /// when there is a spool (their requests were answered 202); then the spool is closed.
    pub async fn shutdown(self: &Arc<Self>, timeout: Duration) {
        let started = Instant::now();
        let this = self.clone();
        let flushed = tokio::task::spawn_blocking(move || this.producer.flush(timeout)).await;
        match flushed {
            Ok(Ok(())) => tracing::info!("producer flushed"),
            Ok(Err(e)) if self.spool.is_some() => {
                tracing::warn!(error = %e, in_flight = self.producer.in_flight(), "producer flush incomplete: spooling what Kafka has not taken");
                use rdkafka::producer::PurgeConfig;
                // Their delivery reports fail and the waiting tasks spool them. A record already
                // sent may have reached the broker unacknowledged: spooling it again risks a
                // duplicate, where exiting would lose it.
                self.producer
                    .purge(PurgeConfig::default().queue().inflight());
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, in_flight = self.producer.in_flight(), "producer flush incomplete: records may be lost")
            }
            Err(e) => tracing::error!(error = %e, "producer flush panicked"),
        }
        let left = timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1));
        if !self.in_flight.wait_idle(left).await {
            tracing::error!(
                records = self.in_flight.records_in_flight(),
                "records still awaiting delivery reports at exit"
            );
        }
        if let Some(spool) = &self.spool {
            spool.close().await;
            let status = spool.status();
            tracing::info!(
                records = status.records,
                bytes = status.bytes,
                "spool closed"
            );
        }
    }
}

/// Writes every record to the spool: one answer for all of them.
async fn spool_all(spool: &Spool, records: Vec<Record>) -> Result<Results, RequestError> {
    let topics: Vec<String> = records.iter().map(|r| r.topic.clone()).collect();
    spool.append(records).await?;
    Ok(topics
        .into_iter()
        .map(|t| (t, Ok(Accepted::Spooled)))
        .collect())
}
