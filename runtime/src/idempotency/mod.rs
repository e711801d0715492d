//! `Idempotency-Key` (IETF httpapi draft-07): a retried produce request is answered from the
//! first one and writes nothing. Keys are scoped by route, TLS client subject and the identity
//! the filters established. Each key's state is kept in a topic that every gateway follows
//! (`kafka::log`), the states of concurrent requests batched in one record (`writer`):
//! `pending` is written and acknowledged before the records are produced, `answered` after; a
//! key found pending with nobody producing it any more (a crash, a timed-out acknowledgement)
//! is settled by looking for its records in their partitions (`recover`), each of which
//! carries `wafka-idempotency-key: {scope}/{index}`.

mod recover;
mod table;
mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{IdempotencyConfig, KafkaConfig, KeyUse};
use crate::delivery::{Accepted, Results};
use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};
use crate::kafka::Delivered;
use crate::kafka::cluster::Cluster;
use crate::kafka::log::Log;
use table::{Entry, State, Table};
use writer::Writer;

/// The request header clients send.
pub const KEY_HEADER: &str = "idempotency-key";
/// The response header on an answer given again: `true`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The record header naming a record's key and place in its request: `{scope}/{index}`.
pub const HEADER: &str = "wafka-idempotency-key";

/// Longest key accepted (the draft leaves it to the server; a UUID is 36).
const MAX_KEY_BYTES: usize = 255;
/// How long writing a key's state to its topic may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// One record's result as kept for a replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    Delivered {
        topic: String,
        partition: i32,
        offset: i64,
    },
    Queued {
        topic: String,
    },
    Spooled {
        topic: String,
    },
    Failed {
        topic: String,
        code: String,
        message: String,
    },
}

impl Outcome {
    fn of(topic: &str, result: &Result<Accepted, RequestError>) -> Outcome {
        let topic = topic.to_owned();
        match result {
            Ok(Accepted::Delivered(d)) => Outcome::Delivered {
                topic,
                partition: d.partition,
                offset: d.offset,
            },
            Ok(Accepted::Queued) => Outcome::Queued { topic },
            Ok(Accepted::Spooled) => Outcome::Spooled { topic },
            Err(e) => Outcome::Failed {
                topic,
                code: e.code().to_owned(),
                message: e.to_string(),
            },
        }
    }

    fn topic(&self) -> &str {
        match self {
            Outcome::Delivered { topic, .. }
            | Outcome::Queued { topic }
            | Outcome::Spooled { topic }
            | Outcome::Failed { topic, .. } => topic,
        }
    }

    fn bytes(&self) -> usize {
        40 + self.topic().len()
            + match self {
                Outcome::Failed { message, .. } => message.len(),
                _ => 0,
            }
    }

    /// The result as the dialects render it.
    fn result(&self) -> (String, Result<Accepted, RequestError>) {
        let topic = self.topic().to_owned();
        let result = match self {
            Outcome::Delivered {
                topic,
                partition,
                offset,
            } => Ok(Accepted::Delivered(Delivered {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
            })),
            Outcome::Queued { .. } => Ok(Accepted::Queued),
            Outcome::Spooled { .. } => Ok(Accepted::Spooled),
            Outcome::Failed {
                topic,
                code,
                message,
            } => Err(stored_error(topic, code, message)),
        };
        (topic, result)
    }
}

/// A kept failure as the error it was (the delivery failures a partly accepted request can
/// hold).
fn stored_error(topic: &str, code: &str, message: &str) -> RequestError {
    let m = message.to_owned();
    match code {
        "record_too_large" => RequestError::RecordTooLarge(m),
        "queue_full" => RequestError::QueueFull(m),
        "kafka_unavailable" => RequestError::KafkaUnavailable(m),
        "kafka_timeout" => RequestError::KafkaTimeout(m),
        "spool_full" => RequestError::SpoolFull(m),
        "spool_failed" => RequestError::SpoolFailed(m),
        "topic_not_found" => RequestError::TopicNotFound(topic.to_owned()),
        _ => RequestError::KafkaRejected(m),
    }
}

/// A key's state in the topic.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// The process that wrote it (in a batch, the batch's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    by: String,
    /// Hex sha256 of the request.
    fp: String,
    at: u64,
    /// Pending: the topics its records go to (where a settling retry looks for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answered: Option<Vec<Outcome>>,
}

/// Lower-case hex: twice per request (the scope, the fingerprint), so without `format!`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Wire {
    fn entry(self) -> Option<Entry> {
        let state = match (self.pending, self.answered) {
            (_, Some(outcomes)) => State::Answered(Arc::new(outcomes)),
            (Some(topics), None) => State::Pending { topics },
            (None, None) => return None,
        };
        Some(Entry {
            fingerprint: unhex(&self.fp)?,
            at_ms: self.at,
            state,
        })
    }

    /// The state as a batch holds it (its writer named once, for the batch).
    fn of(entry: &Entry) -> Wire {
        let (pending, answered) = match &entry.state {
            State::Pending { topics } => (Some(topics.clone()), None),
            State::Answered(outcomes) => (None, Some(outcomes.as_ref().clone())),
        };
        Wire {
            by: String::new(),
            fp: hex(&entry.fingerprint),
            at: entry.at_ms,
            pending,
            answered,
        }
    }
}

/// Applies a state `by` a writer read from the topic at `offset` (a tombstone: `None`).
fn apply(table: &mut Table, owner: &str, offset: i64, scope: &str, by: &str, wire: Option<Wire>) {
    // A key this process is producing is decided here, not by the log; another writer's state
    // of it is noted: the earlier offset wins (`Keys::claim`).
    if table.is_flying(scope) {
        if by != owner
            && let Some(entry) = wire.and_then(Wire::entry)
        {
            table.rival(scope, offset, entry);
        }
        return;
    }
    match wire.map(Wire::entry) {
        None => table.remove(scope),
        // A claim that lost the key to an answered one (`Keys::lost`).
        Some(Some(Entry {
            state: State::Pending { .. },
            ..
        })) if matches!(
            table.get(scope),
            Some(Entry {
                state: State::Answered(_),
                ..
            })
        ) => {}
        Some(Some(entry)) => table.put(scope, entry, now_ms()),
        Some(None) => tracing::warn!(offset, "idempotency record without a state"),
    }
}

/// What the keys of this gateway hold, for `/admin/idempotency`.
#[derive(Debug, Serialize)]
pub struct Status {
    /// `idempotency.topic`.
    pub topic: String,
    /// Keys remembered now.
    pub keys: usize,
    /// `idempotency.max_keys`.
    pub max_keys: usize,
    /// Bytes of kept answers now.
    pub bytes: usize,
    /// `idempotency.max_bytes`.
    pub max_bytes: usize,
    /// `idempotency.window_ms`.
    pub window_ms: u64,
}

/// The keys of every route that takes them.
pub struct Keys {
    table: Arc<Mutex<Table>>,
    log: Arc<Log>,
    /// Writes states as this process (`by`): another writer's state of a key it is claiming
    /// is a rival claim.
    writer: Writer,
    settings: IdempotencyConfig,
    /// Once a pending key is this old, its records have landed or never will: the producer's
    /// `message.timeout.ms` and a margin.
    settle_ms: u64,
    kafka: KafkaConfig,
    bootstrap: String,
}

/// What a request with a key does.
pub(crate) enum Claim {
    /// Claimed here: [`Ticket::keep`] writes the claim, then produce; the ticket keeps the
    /// answer.
    Go(Ticket),
    /// Answer it as the first request was answered; nothing is written.
    Replay(Results),
}

/// A claimed key: [`Ticket::keep`], produce the records not yet `found`, then
/// [`Ticket::finish`].
pub(crate) struct Ticket {
    keys: Arc<Keys>,
    scope: String,
    fingerprint: [u8; 32],
    /// Records of an earlier attempt found in Kafka, by index.
    pub found: std::collections::BTreeMap<usize, Outcome>,
    /// Finished, or handed back: nothing left for `Drop`.
    done: bool,
}

fn now_ms() -> u64 {
    crate::clock::now_millis()
}

fn refused(code: &'static str, status: u16, message: impl Into<String>) -> RequestError {
    crate::metrics::idempotency_outcome(code);
    RequestError::Idempotency {
        code,
        status,
        message: message.into(),
    }
}

impl Keys {
    /// Creates the topic if missing (compacted, deleted after the window) and follows it to
    /// its end.
    pub async fn open(
        settings: &IdempotencyConfig,
        kafka: &KafkaConfig,
        bootstrap: &str,
        cluster: &Cluster,
    ) -> Result<Arc<Keys>, String> {
        let configs = [
            ("cleanup.policy".to_owned(), "compact,delete".to_owned()),
            ("retention.ms".to_owned(), settings.window_ms.to_string()),
        ];
        Log::create(cluster, &settings.topic, &configs).await?;
        let table = Arc::new(Mutex::new(Table::new(settings.window_ms)));
        let owner = format!(
            "{}-{}-{}",
            std::process::id(),
            now_ms(),
            crate::request_id::RequestIds::new().next()
        );
        let apply = {
            let (table, owner) = (table.clone(), owner.clone());
            Box::new(move |offset, key: &[u8], value: Option<&[u8]>| {
                let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
                if key.starts_with(writer::BATCH_PREFIX) {
                    match value.map(serde_json::from_slice::<writer::Batch>) {
                        Some(Ok(batch)) => {
                            for (scope, wire) in batch.states {
                                apply(&mut table, &owner, offset, &scope, &batch.by, wire);
                            }
                        }
                        Some(Err(e)) => tracing::warn!(offset, %e, "idempotency record skipped"),
                        None => {}
                    }
                } else {
                    // A key's own record, as gateways before batching wrote them.
                    let Ok(scope) = std::str::from_utf8(key) else {
                        return;
                    };
                    match value.map(serde_json::from_slice::<Wire>).transpose() {
                        Ok(wire) => {
                            let by = wire.as_ref().map(|w| w.by.clone()).unwrap_or_default();
                            apply(&mut table, &owner, offset, scope, &by, wire);
                        }
                        Err(e) => tracing::warn!(offset, %e, "idempotency record skipped"),
                    }
                }
                crate::metrics::idempotency_keys(table.len(), table.bytes());
            })
        };
        let log =
            Arc::new(Log::open(kafka, bootstrap, &settings.topic, "idempotency", apply).await?);
        let timeout_ms = kafka
            .producer
            .get("message.timeout.ms")
            .and_then(|v| v.to_string().trim_matches('"').parse::<u64>().ok())
            .unwrap_or(30_000);
        let writer = Writer::start(Arc::downgrade(&log), owner.clone(), WRITE_TIMEOUT);
        Ok(Arc::new(Keys {
            table,
            log,
            writer,
            settings: settings.clone(),
            settle_ms: timeout_ms + 2_000,
            kafka: kafka.clone(),
            bootstrap: bootstrap.to_owned(),
        }))
    }

    /// What the keys hold now, and their bounds.
    pub fn status(&self) -> Status {
        let table = self.table();
        Status {
            topic: self.settings.topic.clone(),
            keys: table.len(),
            max_keys: self.settings.max_keys,
            bytes: table.bytes(),
            max_bytes: self.settings.max_bytes,
            window_ms: self.settings.window_ms,
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims the request's key here, if it has one (a key found pending and abandoned is
    /// settled from Kafka first): `None` goes on without a key. `fingerprint` is
    /// of the request as received; `output` is the records as the filters made them (the
    /// identity headers, the topics).
    pub(crate) async fn claim(
        self: &Arc<Self>,
        uses: &KeyUse,
        request: &RequestInfo,
        fingerprint: [u8; 32],
        output: &[Record],
    ) -> Result<Option<Claim>, RequestError> {
        let Some(key) = request.headers.get(KEY_HEADER) else {
            if uses.required {
                return Err(refused(
                    "idempotency_key_missing",
                    400,
                    "this route requires an Idempotency-Key header (e.g. a UUID per request, the same on each retry)",
                ));
            }
            return Ok(None);
        };
        let key = match key.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_BYTES => k.trim_matches('"'),
            _ => {
                return Err(refused(
                    "idempotency_key_invalid",
                    400,
                    format!(
                        "Idempotency-Key must be 1 to {MAX_KEY_BYTES} visible ASCII characters"
                    ),
                ));
            }
        };
        let scope = self.scope(uses, request, key, output)?;
        let topics = {
            let mut t: Vec<String> = output.iter().map(|r| r.topic.clone()).collect();
            t.sort();
            t.dedup();
            t
        };
        let now = now_ms();
        let settle = {
            let mut table = self.table();
            table.sweep(now);
            match table.get(&scope) {
                Some(e) if e.fingerprint != fingerprint => {
                    return Err(refused(
                        "idempotency_key_reused",
                        422,
                        "this Idempotency-Key was used with a different request; use a new key for a new request",
                    ));
                }
                Some(Entry {
                    state: State::Answered(outcomes),
                    ..
                }) => {
                    crate::metrics::idempotency_outcome("replayed");
                    return Ok(Some(Claim::Replay(
                        outcomes.iter().map(Outcome::result).collect(),
                    )));
                }
                Some(Entry {
                    state: State::Pending { topics },
                    at_ms,
                    ..
                }) => {
                    let settled = at_ms.saturating_add(self.settle_ms) <= now;
                    if table.is_flying(&scope) || !settled {
                        return Err(refused(
                            "idempotency_key_in_flight",
                            409,
                            "a request with this Idempotency-Key is still being produced; retry once it is answered",
                        ));
                    }
                    // Nobody produces it any more: look for its records, claimed meanwhile.
                    let since = *at_ms;
                    let topics = topics.clone();
                    self.pend(&mut table, &scope, fingerprint, now, &topics);
                    Some((since, topics))
                }
                None => {
                    if table.len() >= self.settings.max_keys
                        || table.bytes() >= self.settings.max_bytes
                    {
                        return Err(refused(
                            "idempotency_keys_full",
                            503,
                            "the gateway remembers as many Idempotency-Keys as it may; retry later",
                        ));
                    }
                    self.pend(&mut table, &scope, fingerprint, now, &topics);
                    None
                }
            }
        };
        let mut ticket = Ticket {
            keys: self.clone(),
            scope,
            fingerprint,
            found: Default::default(),
            done: false,
        };
        if let Some((since, topics)) = settle {
            let (keys, scope, looked) = (self.clone(), ticket.scope.clone(), topics.clone());
            let scanned = tokio::task::spawn_blocking(move || {
                recover::scan(&keys.kafka, &keys.bootstrap, &scope, &looked, since)
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            match scanned {
                Ok(found) => {
                    crate::metrics::idempotency_outcome("recovered");
                    tracing::info!(
                        records = found.len(),
                        "a pending Idempotency-Key settled from Kafka"
                    );
                    ticket.found = found;
                }
                Err(why) => {
                    ticket.release_pending(since, &topics);
                    return Err(refused(
                        "idempotency_unavailable",
                        503,
                        format!(
                            "the first attempt of this key could not be looked for in Kafka: {why}"
                        ),
                    ));
                }
            }
            if ticket.found.len() >= output.len() {
                let results: Vec<_> = ticket.found.values().cloned().collect();
                let replay = results.iter().map(Outcome::result).collect();
                ticket.answer(results);
                ticket.done = true;
                return Ok(Some(Claim::Replay(replay)));
            }
        }
        Ok(Some(Claim::Go(ticket)))
    }

    /// The key was claimed in the topic before this process's claim: `first` is that claim's
    /// state, which this one's later record must not replace.
    fn lost(
        self: &Arc<Self>,
        scope: &str,
        fingerprint: [u8; 32],
        first: Entry,
    ) -> Result<Claim, RequestError> {
        let mut table = self.table();
        table.land(scope);
        let same = first.fingerprint == fingerprint;
        let answered = match &first.state {
            State::Answered(outcomes) => Some(outcomes.clone()),
            State::Pending { .. } => None,
        };
        table.put(scope, first.clone(), now_ms());
        drop(table);
        if let Some(outcomes) = &answered {
            // Written again, so the topic's last word on the key is the answer.
            self.writer.queue_only(scope, Some(Wire::of(&first)));
            if same {
                crate::metrics::idempotency_outcome("replayed");
                return Ok(Claim::Replay(
                    outcomes.iter().map(Outcome::result).collect(),
                ));
            }
        }
        if !same {
            return Err(refused(
                "idempotency_key_reused",
                422,
                "this Idempotency-Key was used with a different request; use a new key for a new request",
            ));
        }
        Err(refused(
            "idempotency_key_in_flight",
            409,
            "a request with this Idempotency-Key is still being produced; retry once it is answered",
        ))
    }

    fn pend(
        &self,
        table: &mut Table,
        scope: &str,
        fingerprint: [u8; 32],
        now: u64,
        topics: &[String],
    ) {
        let entry = Entry {
            fingerprint,
            at_ms: now,
            state: State::Pending {
                topics: topics.to_vec(),
            },
        };
        table.put(scope, entry, now);
        table.fly(scope);
        crate::metrics::idempotency_keys(table.len(), table.bytes());
    }

    /// The key's scope: hex sha256 of the route, the TLS client subject, the identity
    /// headers' values and the key.
    fn scope(
        &self,
        uses: &KeyUse,
        request: &RequestInfo,
        key: &str,
        output: &[Record],
    ) -> Result<String, RequestError> {
        let mut hash = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        part(request.route.as_bytes());
        part(request.client_subject.as_deref().unwrap_or("").as_bytes());
        for name in &uses.identity {
            let value = output.first().and_then(|r| {
                r.headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            });
            let Some(value) = value else {
                return Err(refused(
                    "idempotency_identity_missing",
                    403,
                    format!(
                        "the route scopes Idempotency-Keys by the record header {name:?}, which its filters did not set"
                    ),
                ));
            };
            part(&value);
        }
        part(key.as_bytes());
        Ok(hex(&hash.finalize()))
    }
}

/// sha256 of what a request asks for: method, path, query and each record as parsed (topic,
/// partition, key, value, headers). A retry must send the same.
pub(crate) fn fingerprint(request: &RequestInfo, records: &[Record]) -> [u8; 32] {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    part(request.method.as_bytes());
    part(request.path.as_bytes());
    part(request.query.as_deref().unwrap_or("").as_bytes());
    for r in records {
        part(r.topic.as_bytes());
        part(&r.partition.unwrap_or(-1).to_be_bytes());
        part(r.key.as_deref().unwrap_or(b"\xff-none"));
        part(r.value.as_deref().unwrap_or(b"\xff-none"));
        for (n, v) in &r.headers {
            part(n.as_bytes());
            part(v);
        }
    }
    hash.finalize().into()
}

impl Ticket {
    /// The header each record of the request carries, by index.
    pub(crate) fn header(&self, index: usize) -> (String, bytes::Bytes) {
        (
            HEADER.to_owned(),
            bytes::Bytes::from(format!("{}/{index}", self.scope)),
        )
    }

    /// Writes the claim to the key's topic and waits for Kafka's acknowledgement, and until
    /// every claim before it is known here. Done before any record is sent: a crash after
    /// it leaves a pending key to settle, never an unknown one with records in Kafka. A rival
    /// claim written first stands (`Claim::Replay` of its answer, 409 or 422).
    pub(crate) async fn keep(mut self) -> Result<Claim, RequestError> {
        let keys = self.keys.clone();
        let pending = keys.table().get(&self.scope).map(Wire::of);
        if let Some(pending) = pending {
            let written = match keys.writer.write(&self.scope, Some(pending)).await {
                Ok(offset) => keys
                    .log
                    .known_before(offset, WRITE_TIMEOUT)
                    .await
                    .map(|_| offset),
                Err(why) => Err(why),
            };
            let offset = match written {
                Ok(offset) => offset,
                Err(why) => {
                    self.done = true;
                    let mut table = keys.table();
                    table.remove(&self.scope);
                    table.land(&self.scope);
                    drop(table);
                    // The pending state may still land (a timeout is not a refusal): undone,
                    // or else settled from Kafka by a later retry.
                    self.write(None);
                    return Err(refused(
                        "idempotency_unavailable",
                        503,
                        format!("the key could not be kept: {why}"),
                    ));
                }
            };
            // Another gateway claimed the key first (a retry sent there too early, or two at
            // once): its claim stands.
            let rival = keys.table().take_rival(&self.scope);
            if let Some((_, first)) = rival.filter(|(at, _)| *at < offset) {
                self.done = true;
                return keys.lost(&self.scope, self.fingerprint, first);
            }
        }
        crate::metrics::idempotency_outcome("new");
        Ok(Claim::Go(self))
    }

    /// Keeps the answer: `results` of the records sent (in order, the `found` ones left out).
    /// A request that wrote nothing for sure lets the key go (a retry produces it); one whose
    /// acknowledgement timed out stays pending, settled from Kafka on a retry.
    pub(crate) fn finish(mut self, sent: &Results) -> Results {
        self.done = true;
        let mut sent = sent.iter();
        let total = self.found.keys().max().map_or(0, |m| m + 1) + sent.len();
        let mut outcomes = Vec::with_capacity(total);
        let mut results = Vec::with_capacity(total);
        for i in 0..total {
            let outcome = match self.found.get(&i) {
                Some(found) => found.clone(),
                None => match sent.next() {
                    Some((topic, result)) => Outcome::of(topic, result),
                    None => break,
                },
            };
            results.push(outcome.result());
            outcomes.push(outcome);
        }
        let uncertain = outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Failed { code, .. } if code == "kafka_timeout"));
        let nothing_written = outcomes.iter().all(|o| matches!(o, Outcome::Failed { .. }));
        if uncertain {
            // Stays pending, no longer produced here: a retry settles it from Kafka.
            self.keys.table().land(&self.scope);
        } else if nothing_written {
            let mut table = self.keys.table();
            table.remove(&self.scope);
            table.land(&self.scope);
            drop(table);
            self.write(None);
        } else {
            self.answer(outcomes);
        }
        results
    }

    fn answer(&self, outcomes: Vec<Outcome>) {
        let entry = Entry {
            fingerprint: self.fingerprint,
            at_ms: now_ms(),
            state: State::Answered(Arc::new(outcomes)),
        };
        let wire = Wire::of(&entry);
        {
            let mut table = self.keys.table();
            table.put(&self.scope, entry, now_ms());
            // The key was counted when claimed; the follower sets the gauges again when it
            // reads this answer back.
            table.land(&self.scope);
        }
        self.write(Some(wire));
    }

    /// Puts back a pending key it could not settle, for the next retry to try again.
    fn release_pending(&mut self, since: u64, topics: &[String]) {
        let entry = Entry {
            fingerprint: self.fingerprint,
            at_ms: since,
            state: State::Pending {
                topics: topics.to_vec(),
            },
        };
        let mut table = self.keys.table();
        table.put(&self.scope, entry, now_ms());
        table.land(&self.scope);
        self.done = true;
    }

    /// Writes the key's state (none: lets it go) without waiting: the answer does not depend
    /// on it, and a crash before it lands leaves the key pending, settled from Kafka.
    fn write(&self, wire: Option<Wire>) {
        self.keys.writer.queue_only(&self.scope, wire);
    }
}

impl Drop for Ticket {
    /// Never finished (a panic): nobody produces the key here any more; a retry settles it
    /// from Kafka once its records have landed or never will.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.keys.table().land(&self.scope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_reads_back() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37 + 5) as u8);
        let text = hex(&bytes);
        assert_eq!(&text[..6], "052a4f");
        assert_eq!(unhex(&text), Some(bytes));
        assert_eq!(unhex(&text[1..]), None);
    }
}
