//! Replays the spool into Kafka, oldest first, whenever the breaker is closed. The cursor only
//! moves past records Kafka acknowledged (or refused for good, which go to the dead-letter
//! topic), so a restart resumes where replay stopped. Each replay first looks for the
//! backlog's records in Kafka (`written`): one sent before it was spooled, that landed all
//! the same, is not written twice.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Delivery;
use super::written::{Lookup, Written};
use crate::kafka::is_retriable;
use crate::metrics as m;

/// Records sent per round; each round waits for all of them.
const BATCH: usize = 200;
/// How often an idle replayer looks again (appends and breaker changes wake it sooner).
const IDLE: Duration = Duration::from_millis(250);
/// How long a replay waits once Kafka is back before it looks for the backlog there: a broker
/// that stalled still holds produce requests it received before, and writes them as it
/// resumes; looking too soon would miss them and write them twice.
const SETTLE: Duration = Duration::from_secs(2);
/// How long the broker has to answer the metadata request that starts a replay.
const REACHABLE: Duration = Duration::from_secs(2);

/// Runs until `stop` turns true. Does nothing without a spool.
pub async fn run(delivery: Arc<Delivery>, lookup: Lookup, mut stop: watch::Receiver<bool>) {
    let Some(spool) = &delivery.spool else {
        return;
    };
    let mut reader = Some(spool.reader());
    // Sent and done in an earlier round that stopped at a failure before them.
    let mut done = BTreeSet::new();
    // What of the backlog Kafka has, looked up once per replay (reset when it pauses).
    let mut written: Option<Written> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if spool.backlog() == 0 || delivery.breaker.check().is_err() {
            written = None;
            tokio::select! {
                _ = stop.changed() => {}
                _ = spool.appended() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
            continue;
        }
        if written.is_none() {
            match look(&delivery, &lookup, &mut stop).await {
                Some(found) => written = Some(found),
                None => continue,
            }
        }
        let (from, end) = (spool.cursor(), spool.end());
        let Some(mut r) = reader.take() else { return };
        let read = tokio::task::spawn_blocking(move || {
            let batch = r.read(from, end, BATCH);
            (r, batch)
        })
        .await;
        let batch = match read {
            Ok((r, Ok(batch))) => {
                reader = Some(r);
                batch
            }
            Ok((r, Err(e))) => {
                reader = Some(r);
                tracing::error!(error = %e, "cannot read the spool; retrying");
                wait(&mut stop, IDLE).await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "spool reader panicked; replay stops");
                return;
            }
        };
        if batch.is_empty() {
            // Nothing intact between the cursor and the end (a corrupt stretch was cut off).
            tracing::error!(from, end, "spool entries missing: skipping them");
            spool.commit(end);
            continue;
        }

        let mut waiting = Vec::new();
        let todo: Vec<_> = batch
            .iter()
            .filter(|(seq, _)| !done.contains(seq))
            .collect();
        for (seq, record) in todo {
            if written.as_mut().is_some_and(|w| w.take(record)) {
                metrics::counter!(m::SPOOL_ALREADY_WRITTEN).increment(1);
                done.insert(*seq);
                continue;
            }
            match delivery.queue(record) {
                Ok(pending) => waiting.push((*seq, record, pending)),
                Err(e) if is_retriable(&e) => break,
                Err(e) => {
                    delivery
                        .dead_letter_or_drop(record.clone(), e, "spool")
                        .await;
                    done.insert(*seq);
                }
            }
        }
        let mut failed = false;
        for (seq, record, pending) in waiting {
            match delivery.report(pending).await {
                Ok(_) => {
                    metrics::counter!(m::SPOOL_REPLAYED).increment(1);
                    done.insert(seq);
                }
                Err(e) if is_retriable(&e) => failed = true,
                Err(e) => {
                    delivery
                        .dead_letter_or_drop(record.clone(), e, "spool")
                        .await;
                    done.insert(seq);
                }
            }
        }
        // The cursor moves over the leading run of finished records.
        let mut cursor = from;
        for (seq, _) in &batch {
            if !done.remove(seq) {
                break;
            }
            cursor = seq + 1;
        }
        if cursor > from {
            spool.commit(cursor);
        }
        if failed || cursor == from {
            // Kafka is failing again: the breaker hears of it; wait before the next try.
            wait(&mut stop, IDLE).await;
        }
    }
}

/// What of the backlog Kafka already has, once the broker answers and has had `SETTLE` to
/// write what it held; `None` when it is not back yet (or the gateway is stopping).
async fn look(
    delivery: &Arc<Delivery>,
    lookup: &Lookup,
    stop: &mut watch::Receiver<bool>,
) -> Option<Written> {
    // The breaker starts closed: first make sure the broker answers now.
    let d = delivery.clone();
    let answered = tokio::task::spawn_blocking(move || d.producer.check_reachable(REACHABLE)).await;
    if !matches!(answered, Ok(Ok(_))) {
        wait(stop, IDLE).await;
        return None;
    }
    wait(stop, SETTLE).await;
    if *stop.borrow() || delivery.breaker.check().is_err() {
        return None;
    }
    let (d, l) = (delivery.clone(), lookup.clone());
    let looked = tokio::task::spawn_blocking(move || {
        let spool = d.spool.as_ref().expect("a spool");
        Written::find(&l, spool, spool.cursor(), spool.end())
    })
    .await;
    Some(match looked {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            // Replaying anyway: a duplicate is better than a loss.
            tracing::warn!(error = %e, "cannot look for spooled records in Kafka: replaying every one");
            Written::default()
        }
        Err(e) => {
            tracing::error!(error = %e, "looking for spooled records in Kafka panicked");
            Written::default()
        }
    })
}

async fn wait(stop: &mut watch::Receiver<bool>, period: Duration) {
    tokio::select! {
        _ = stop.changed() => {}
        _ = tokio::time::sleep(period) => {}
    }
}
