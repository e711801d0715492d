//! Replays the spool into Kafka, oldest first, whenever the breaker is closed. The cursor only
//! moves past records Kafka acknowledged (or refused for good, which go to the dead-letter
//! topic), so a restart resumes where replay stopped.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Delivery;
use crate::kafka::is_retriable;
use crate::metrics as m;

/// Records sent per round; each round waits for all of them.
const BATCH: usize = 200;
/// How often an idle replayer looks again (appends and breaker changes wake it sooner).
const IDLE: Duration = Duration::from_millis(250);

/// Runs until `stop` turns true. Does nothing without a spool.
pub async fn run(delivery: Arc<Delivery>, mut stop: watch::Receiver<bool>) {
    let Some(spool) = &delivery.spool else {
        return;
    };
    let mut reader = Some(spool.reader());
    // Sent and done in an earlier round that stopped at a failure before them.
    let mut done = BTreeSet::new();
    loop {
        if *stop.borrow() {
            return;
        }
        if spool.backlog() == 0 || delivery.breaker.check().is_err() {
            tokio::select! {
                _ = stop.changed() => {}
                _ = spool.appended() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
            continue;
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

async fn wait(stop: &mut watch::Receiver<bool>, period: Duration) {
    tokio::select! {
        _ = stop.changed() => {}
        _ = tokio::time::sleep(period) => {}
    }
}
