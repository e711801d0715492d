//! A produce request with an `Idempotency-Key` (`crate::idempotency`): claimed, kept in the
//! key's topic before any record is sent, produced, answered and its answer kept. An async
//! request with a new key is answered first: its claim and records follow the 202.

use crate::config::KeyUse;
use crate::delivery::{Accepted, Results};
use crate::exchange::Record;
use crate::idempotency::{Claim, Keys, Ticket};

use super::pipeline::{Deliver, Produced, Producing, Rest};
use super::rescue::Failure;

/// Produces a request whose key is `uses`'s header, once its filters let `records` through.
pub(super) async fn produce(
    with: &Producing,
    keys: &std::sync::Arc<Keys>,
    uses: &KeyUse,
    fingerprint: [u8; 32],
    rest: Rest,
    records: Vec<Record>,
) -> Result<Produced, Failure> {
    // Each way is boxed: this future is spawned per request, and a spawned future is copied
    // whole (its largest way) into its task.
    let ticket = match Box::pin(keys.claim(uses, &rest.request, fingerprint, &records)).await? {
        None => return Box::pin(rest.run(with, records)).await,
        Some(Claim::Replay(results)) => return Ok(Produced::replay(results)),
        Some(Claim::Go(ticket)) => ticket,
    };
    let records = marked(&ticket, records);
    if matches!(rest.deliver, Deliver::Async) && ticket.found.is_empty() {
        return Box::pin(answer_first(with, rest, ticket, records)).await;
    }
    let ticket = match ticket.keep().await? {
        Claim::Replay(results) => return Ok(Produced::replay(results)),
        Claim::Go(ticket) => ticket,
    };
    // Records an earlier attempt wrote were found in Kafka: not sent again.
    let mut i = 0;
    let mut records = records;
    records.retain(|_| {
        i += 1;
        !ticket.found.contains_key(&(i - 1))
    });
    finish(ticket, Box::pin(rest.run(with, records)).await).await
}

/// Each record names its key and its place in the request: where a settling retry finds it.
fn marked(ticket: &Ticket, mut records: Vec<Record>) -> Vec<Record> {
    for (i, record) in records.iter_mut().enumerate() {
        record.headers.push(ticket.header(i));
    }
    records
}

/// Keeps what producing answered as the key's answer.
async fn finish(ticket: Ticket, produced: Result<Produced, Failure>) -> Result<Produced, Failure> {
    match produced {
        Ok(mut produced) => {
            let results = produced.results.wait().await;
            produced.results = super::pipeline::Delivered::Now(ticket.finish(&results));
            Ok(produced)
        }
        Err(failure) => {
            ticket.finish(&Vec::new());
            Err(failure)
        }
    }
}

/// An async request with a new key, answered 202 once its records are ready and room for them
/// is held; the claim is then written and the records sent, so the answer waits for no round
/// trip to Kafka. A crash before the claim lands loses the records as it would any async
/// record just answered, and a retry then produces them. A rival claim of the key written
/// first (the same request sent to another gateway) stands, and these records are not sent.
async fn answer_first(
    with: &Producing,
    rest: Rest,
    ticket: Ticket,
    records: Vec<Record>,
) -> Result<Produced, Failure> {
    let (ready, records) = match Box::pin(rest.prepare(with, records)).await {
        Ok(prepared) => prepared,
        Err(failure) => return finish(ticket, Err(failure)).await,
    };
    let held = match with.delivery.hold(&records) {
        Ok(Some(held)) => held,
        // Kafka down or spooled records waiting: the ordinary way (claim, then spool or fail).
        Ok(None) => {
            let ticket = match ticket.keep().await? {
                Claim::Replay(results) => return Ok(Produced::replay(results)),
                Claim::Go(ticket) => ticket,
            };
            return finish(ticket, Box::pin(ready.deliver(with, records)).await).await;
        }
        Err(full) => return finish(ticket, Err(full.into())).await,
    };
    let topics: Vec<String> = records.iter().map(|r| r.topic.clone()).collect();
    let answer = queued(&topics);
    let (delivery, id) = (with.delivery.clone(), ready.request.id.clone());
    tokio::spawn(async move {
        match ticket.keep().await {
            Ok(Claim::Go(ticket)) => {
                Box::pin(delivery.send_held(held, records, &id)).await;
                ticket.finish(&queued(&topics));
            }
            // Another gateway claimed it first for the same request: it writes the records.
            Ok(Claim::Replay(_)) => {}
            Err(e) if e.code() == "idempotency_unavailable" => {
                tracing::warn!(request_id = %id, error = %e, "records answered 202 sent without their Idempotency-Key kept: a retry may write them again");
                Box::pin(delivery.send_held(held, records, &id)).await;
            }
            Err(e) if e.code() == "idempotency_key_in_flight" => {}
            Err(e) => {
                tracing::warn!(request_id = %id, code = e.code(), error = %e, "records answered 202 not sent: another gateway claimed their Idempotency-Key first for another request");
            }
        }
    });
    Ok(ready.answered(answer))
}

/// Each record queued: an async request's answer.
fn queued(topics: &[String]) -> Results {
    topics
        .iter()
        .map(|t| (t.clone(), Ok(Accepted::Queued)))
        .collect()
}
