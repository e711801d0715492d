//! The request path every API shares, written once. An endpoint is a dialect: it parses its
//! request into what the pipeline takes and renders what comes back in its own shape
//! (`dialect`). The filters always decide first; only then does anything happen outside the
//! request — Kafka asked about a topic, a schema registered or fetched, a consumer created, a
//! record produced — so a caller the filters refuse changes nothing and learns nothing.
//!
//! ```text
//! admit    filters over the request, one record per topic (or subject) it touches
//!          → the topics they let through; or their own answer
//! produce  filters over the records → topics must exist (when the API says so)
//!          → schemas registered, fetched, values encoded → the request id on every record
//!          → delivery (sync, async, or queued now and awaited later) → each record's result
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::call::REQUEST_ID;
use super::filters::Filters;
use super::rescue::Failure;
use crate::config::KeyUse;
use crate::config::SchemaRef;
use crate::delivery::{Delivery, Results};
use crate::error::RequestError;
use crate::exchange::{Record, RequestInfo};
use crate::filter::ChainOutcome;
use crate::idempotency::Keys;
use crate::kafka::cluster::Cluster;
use crate::schemas::records::Using;
use crate::schemas::{Kind, Missing, Registry};
use crate::snapshot::Route;
use crate::trace::{Kind as SpanKind, Span, Tracer};

/// Runs `route`'s filters over `request` with one record per topic in `topics` (nothing else
/// set): the step before every call that reads, looks up or changes something. Returns the
/// topics the filters forwarded, in their order (they may drop, rename or add); a filter's
/// own answer ends the request.
pub(crate) async fn admit(
    filters: &Filters,
    route: &Route,
    request: Arc<RequestInfo>,
    topics: &[String],
) -> Result<Vec<String>, Failure> {
    let probes = topics.iter().map(Record::new).collect();
    match filters.run(route, request, probes).await? {
        ChainOutcome::Respond(answer) => Err(Failure::Answered(Box::new(answer))),
        ChainOutcome::Forward(kept) => Ok(kept.into_iter().map(|r| r.topic).collect()),
    }
}

/// Like [`admit`], for calls that act on exactly the topics they name: a topic the filters do
/// not forward is 403.
pub(crate) async fn admit_each(
    filters: &Filters,
    route: &Route,
    request: Arc<RequestInfo>,
    topics: &[String],
) -> Result<(), Failure> {
    let kept = admit(filters, route, request, topics).await?;
    match topics.iter().find(|t| !kept.contains(t)) {
        Some(missing) => Err(RequestError::Forbidden(format!(
            "the gateway's filters do not allow topic {missing:?}"
        ))
        .into()),
        None => Ok(()),
    }
}

/// Of `names`, those the filters let the caller read, in order: for list calls. One run over
/// them all (in chunks a chain may hold, `server.max_records`); when the chain refuses with
/// 403, as an auth filter does when one name of many is not granted, one run per name, leaving
/// out those refused with 403. Any other answer of a filter (401, 429) ends the call.
pub(crate) async fn visible(
    filters: &Filters,
    route: &Route,
    request: Arc<RequestInfo>,
    names: Vec<String>,
) -> Result<Vec<String>, Failure> {
    if route.steps.is_empty() || names.is_empty() {
        return Ok(names);
    }
    let forbidden = |f: &Failure| matches!(f, Failure::Answered(a) if a.status() == http::StatusCode::FORBIDDEN);
    let mut kept = Vec::with_capacity(names.len());
    for chunk in names.chunks(route.limits.max_records.max(1)) {
        match admit(filters, route, request.clone(), chunk).await {
            Ok(allowed) => kept.extend(chunk.iter().filter(|n| allowed.contains(n)).cloned()),
            Err(refused) if forbidden(&refused) => {
                for name in chunk {
                    let one = std::slice::from_ref(name);
                    match admit(filters, route, request.clone(), one).await {
                        Ok(allowed) if allowed.contains(name) => kept.push(name.clone()),
                        Ok(_) => {}
                        Err(refused) if forbidden(&refused) => {}
                        Err(other) => return Err(other),
                    }
                }
            }
            Err(other) => return Err(other),
        }
    }
    Ok(kept)
}

/// What producing touches: services the gateway owns.
#[derive(Clone)]
pub(crate) struct Producing {
    pub filters: Arc<Filters>,
    pub cluster: Arc<Cluster>,
    pub schemas: Option<Arc<Registry>>,
    pub delivery: Arc<Delivery>,
    /// `Idempotency-Key` answers, with `[idempotency]`.
    pub keys: Option<Arc<Keys>>,
    /// With `[tracing]`: the steps' spans, and `traceparent` on every record.
    pub tracer: Option<Arc<Tracer>>,
}

/// A produce request as a dialect parsed it.
pub(crate) struct Input {
    pub request: Arc<RequestInfo>,
    pub records: Vec<Record>,
    /// How keys are encoded after the filters; `None` leaves them as they are.
    pub key: Option<Schema>,
    /// How values are encoded after the filters.
    pub value: Option<Schema>,
    /// Each topic the filters produce to must exist (asked of Kafka unless seen lately), so a
    /// typo is 404 and never a new topic.
    pub topics_must_exist: bool,
    pub deliver: Deliver,
    /// How the endpoint takes `Idempotency-Key`; `None` ignores it. Not for `Pipelined`.
    pub keys: Option<KeyUse>,
}

/// The schema a request's keys or values are encoded with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Schema {
    /// The latest version of a route's subject (`value_schema`).
    Route(SchemaRef),
    /// A registered schema by id; of `kind`, when the request named its format.
    Id { id: u32, kind: Option<Kind> },
    /// A subject's version, the latest for `None`; of `kind` when named.
    Subject {
        subject: String,
        version: Option<u32>,
        kind: Option<Kind>,
    },
    /// A schema's text, registered under `subject` first (REST Proxy v2 `value_schema`).
    Inline {
        subject: String,
        kind: Kind,
        text: String,
    },
}

/// When the request is answered.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Deliver {
    /// Once Kafka acknowledged every record; with `spool_when_down`, records that cannot reach
    /// Kafka are spooled (202) instead of failing.
    Sync { spool_when_down: bool },
    /// Once queued (202); delivery goes on after the answer.
    Async,
    /// Queued now, in order, the acknowledgements awaited by the caller later (a stream).
    Pipelined,
}

/// Each record's result, awaited later (`Deliver::Pipelined`).
pub(crate) type Waiting = Pin<Box<dyn Future<Output = Results> + Send>>;

/// What producing did.
pub(crate) struct Produced {
    /// How many records the filters forwarded (and were produced).
    pub records: usize,
    pub results: Delivered,
    /// The schema ids keys and values were encoded with.
    pub key_schema_id: Option<u32>,
    pub value_schema_id: Option<u32>,
    /// The first produced record's key and value sizes, once encoded.
    pub first_sizes: (Option<usize>, Option<usize>),
    /// The answer of an earlier request with the same `Idempotency-Key`: nothing was written.
    pub replayed: bool,
}

/// Each record's result, now or later.
pub(crate) enum Delivered {
    Now(Results),
    Later(Waiting),
}

impl Delivered {
    /// Each record's result, once there.
    pub(crate) async fn wait(self) -> Results {
        match self {
            Delivered::Now(results) => results,
            Delivered::Later(waiting) => waiting.await,
        }
    }
}

/// Runs the filters over the records, then (only if they let them through) claims the
/// request's `Idempotency-Key` (an answer given before ends here), checks topics, registers,
/// fetches and encodes schemas, stamps the request id and delivers.
pub(crate) async fn produce(
    with: &Producing,
    route: &Route,
    input: Input,
) -> Result<Produced, Failure> {
    let Input {
        request,
        records,
        key,
        value,
        topics_must_exist,
        deliver,
        keys: uses,
    } = input;
    let fingerprint = uses
        .as_ref()
        .map(|_| crate::idempotency::fingerprint(&request, &records));
    let span = (!route.steps.is_empty())
        .then(|| with.step(&request, "filters", SpanKind::Internal))
        .flatten();
    // Boxed, as the ways below: each is kilobytes, and a request's future is moved whole.
    let outcome = Box::pin(with.filters.run(route, request.clone(), records)).await;
    with.end(span, &outcome);
    let records = match outcome? {
        ChainOutcome::Respond(answer) => return Err(Failure::Answered(Box::new(answer))),
        ChainOutcome::Forward(records) => records,
    };
    let rest = Rest {
        request,
        key,
        value,
        topics_must_exist,
        deliver,
    };
    let (Some(uses), Some(fingerprint)) = (uses, fingerprint) else {
        return rest.run(with, records).await;
    };
    if records.is_empty() {
        return rest.run(with, records).await;
    }
    let keys = with.keys.clone().ok_or_else(|| RequestError::Idempotency {
        code: "idempotency_unavailable",
        status: 503,
        message: "[idempotency] was added after start: restart the gateway".into(),
    })?;
    // From the claim on, finished even when the client is gone: the retry of a lost answer
    // finds the key answered, never claimed by a request nobody finishes.
    let with = with.clone();
    let keyed = tokio::spawn(async move {
        super::keyed::produce(&with, &keys, &uses, fingerprint, rest, records).await
    });
    keyed
        .await
        .map_err(|e| RequestError::Internal(format!("producing a keyed request failed: {e}")))?
}

/// What producing does once the filters let the records through.
pub(super) struct Rest {
    pub request: Arc<RequestInfo>,
    key: Option<Schema>,
    value: Option<Schema>,
    topics_must_exist: bool,
    pub deliver: Deliver,
}

impl Rest {
    pub(super) async fn run(
        self,
        with: &Producing,
        records: Vec<Record>,
    ) -> Result<Produced, Failure> {
        let (ready, records) = Box::pin(self.prepare(with, records)).await?;
        Box::pin(ready.deliver(with, records)).await
    }

    /// Everything before delivery: the topics checked, schemas registered, fetched and
    /// encoded, the request id and trace context on every record.
    pub(super) async fn prepare(
        self,
        with: &Producing,
        mut records: Vec<Record>,
    ) -> Result<(Ready, Vec<Record>), Failure> {
        let Rest {
            request,
            key,
            value,
            topics_must_exist,
            deliver,
        } = self;
        if topics_must_exist {
            require_topics(&with.cluster, &records).await?;
        }
        let (mut key_schema_id, mut value_schema_id) = (None, None);
        if key.is_some() || value.is_some() {
            let span = with.step(&request, "schemas", SpanKind::Internal);
            let encoded = async {
                let registry = with.schemas.as_deref().ok_or_else(|| {
                    RequestError::NoSchemaRegistry("records with a schema".into())
                })?;
                key_schema_id = resolve(registry, key.as_ref(), "key").await?;
                value_schema_id = resolve(registry, value.as_ref(), "value").await?;
                let (k, v) = (using(&key, key_schema_id), using(&value, value_schema_id));
                crate::schemas::records::ready(registry, &records, k, v).await?;
                crate::schemas::records::encode(registry, &mut records, k, v)?;
                Ok::<(), Failure>(())
            }
            .await;
            with.end(span, &encoded);
            encoded?;
        }
        // Traceable from the HTTP answer to the Kafka record.
        let id = Bytes::copy_from_slice(request.id.as_bytes());
        for record in &mut records {
            record.headers.push((REQUEST_ID.to_owned(), id.clone()));
        }
        // A sync answer waits for Kafka: its own span, up to the acknowledgement. An async one
        // is answered once queued: the request's span stands for the send.
        let mut span = match deliver {
            Deliver::Sync { .. } => with.step(&request, "publish", SpanKind::Producer),
            Deliver::Async | Deliver::Pipelined => None,
        };
        if with.tracer.is_some() {
            let context = span.as_ref().map(|s| &s.context).or(request.trace.as_ref());
            if let Some(context) = context {
                crate::trace::stamp(context, &mut records);
            }
        }
        if let Some(span) = &mut span {
            crate::trace::sending(span, &records);
        }
        let first_sizes = records.first().map_or((None, None), |r| {
            (
                r.key.as_ref().map(Bytes::len),
                r.value.as_ref().map(Bytes::len),
            )
        });
        let ready = Ready {
            request,
            deliver,
            span,
            key_schema_id,
            value_schema_id,
            first_sizes,
        };
        Ok((ready, records))
    }
}

/// Records ready to deliver: how, and what their answer reports besides their results.
pub(super) struct Ready {
    pub request: Arc<RequestInfo>,
    pub deliver: Deliver,
    span: Option<Span>,
    key_schema_id: Option<u32>,
    value_schema_id: Option<u32>,
    first_sizes: (Option<usize>, Option<usize>),
}

impl Ready {
    pub(super) async fn deliver(
        mut self,
        with: &Producing,
        records: Vec<Record>,
    ) -> Result<Produced, Failure> {
        let count = records.len();
        let delivery = &with.delivery;
        let results = match self.deliver {
            Deliver::Sync { spool_when_down } => {
                let results = delivery.sync(records, spool_when_down).await;
                with.end(self.span.take(), &results);
                Delivered::Now(results?)
            }
            Deliver::Async => Delivered::Now(delivery.accept(records, &self.request.id).await?),
            Deliver::Pipelined => Delivered::Later(Box::pin(delivery.send_now(records)?)),
        };
        Ok(self.answer(count, results))
    }

    /// The answer of records delivered elsewhere (held, sent after the answer).
    pub(super) fn answered(self, results: Results) -> Produced {
        self.answer(results.len(), Delivered::Now(results))
    }

    fn answer(self, records: usize, results: Delivered) -> Produced {
        Produced {
            records,
            results,
            key_schema_id: self.key_schema_id,
            value_schema_id: self.value_schema_id,
            first_sizes: self.first_sizes,
            replayed: false,
        }
    }
}

impl Produced {
    /// An earlier request's answer, given again: nothing was written.
    pub(super) fn replay(results: Results) -> Produced {
        Produced {
            records: results.len(),
            results: Delivered::Now(results),
            key_schema_id: None,
            value_schema_id: None,
            first_sizes: (None, None),
            replayed: true,
        }
    }
}

impl Producing {
    /// A span for one step of `request`, under its span, when tracing.
    fn step(&self, request: &RequestInfo, name: &'static str, kind: SpanKind) -> Option<Span> {
        let (tracer, parent) = self.tracer.as_ref().zip(request.trace.as_ref())?;
        Some(tracer.child(parent, name, kind))
    }

    /// Ends a step's span, failed when the step failed.
    fn end<T, E>(&self, span: Option<Span>, result: &Result<T, E>) {
        if let (Some(mut span), Some(tracer)) = (span, &self.tracer) {
            if result.is_err() {
                span.fail("failed");
            }
            tracer.end(span);
        }
    }
}

/// How `encode` finds a key's or value's schema: a route's subject per record, else the id.
fn using(schema: &Option<Schema>, id: Option<u32>) -> Option<Using<'_>> {
    match schema {
        Some(Schema::Route(subject)) => Some(Using::Subject(subject)),
        _ => id.map(Using::Id),
    }
}

/// 404 unless each topic of `records` exists.
async fn require_topics(cluster: &Arc<Cluster>, records: &[Record]) -> Result<(), RequestError> {
    let mut topics: Vec<&str> = records.iter().map(|r| r.topic.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    for topic in topics {
        require_topic(cluster, topic).await?;
    }
    Ok(())
}

/// 404 unless `topic` exists (asked of Kafka only when not seen lately).
pub(crate) async fn require_topic(cluster: &Arc<Cluster>, topic: &str) -> Result<(), RequestError> {
    if cluster.known(topic) {
        return Ok(());
    }
    let (cluster, topic) = (cluster.clone(), topic.to_owned());
    blocking(move || cluster.require(&topic)).await
}

/// Runs a blocking Kafka call off the runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RequestError> + Send + 'static,
) -> Result<T, RequestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RequestError::Internal(format!("a Kafka call panicked: {e}")))?
}

/// The id of the schema `schema` names (a route's subject is looked up per record when
/// encoding: `None`), registered first when inline, fetched when the registry is external,
/// and of the kind the request named.
async fn resolve(
    registry: &Registry,
    schema: Option<&Schema>,
    which: &str,
) -> Result<Option<u32>, RequestError> {
    let (id, kind) = match schema {
        None | Some(Schema::Route(_)) => return Ok(None),
        Some(Schema::Id { id, kind }) => (*id, *kind),
        Some(Schema::Subject {
            subject,
            version,
            kind,
        }) => {
            unavailable(registry.prepare(std::slice::from_ref(subject), &[]).await)?;
            let (found, _) = registry
                .version(subject, *version)
                .map_err(|_| RequestError::SchemaNotFound(subject.clone()))?;
            (found.id, *kind)
        }
        Some(Schema::Inline {
            subject,
            kind,
            text,
        }) => {
            let schema = crate::schemas::Registration {
                kind: *kind,
                text: text.clone(),
                references: Vec::new(),
                id: None,
                version: None,
            };
            let id = registry.register(subject, &schema).await.map_err(|e| {
                let message = format!("{which}_schema: {}", e.message());
                match e {
                    crate::schemas::RegistryError::Store(_) => RequestError::Internal(message),
                    _ => RequestError::InvalidData(message),
                }
            })?;
            (id, Some(*kind))
        }
    };
    unavailable(registry.by_id(id).await.map(|_| ()))?;
    match registry.schema(id) {
        Some(stored) if kind.is_none_or(|k| k == stored.kind) => Ok(Some(id)),
        Some(stored) => Err(RequestError::InvalidData(format!(
            "{which}: schema {id} is {}, not {}",
            kind_name(stored.kind),
            kind.map_or("", kind_name)
        ))),
        None => Err(RequestError::SchemaIdNotFound(id)),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    kind.name().unwrap_or("AVRO")
}

fn unavailable(found: Result<(), Missing>) -> Result<(), RequestError> {
    match found {
        Err(Missing::Unavailable(why)) => Err(RequestError::SchemaRegistryUnavailable(why)),
        _ => Ok(()),
    }
}
