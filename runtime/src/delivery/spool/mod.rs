//! The durable spool: a write-ahead log on local disk for records accepted while Kafka is
//! unreachable. Records are appended in order, replayed in order once Kafka is back (see
//! [`super::replay`]), and survive a restart: the log and its replay position are files.

mod segments;
mod wal;
mod writer;

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use tokio::sync::{Notify, oneshot};

pub use segments::SegmentReader;

use crate::config::SpoolConfig;
use crate::error::RequestError;
use crate::exchange::Record;
use writer::{Command, Writer};

/// Positions the writer publishes for everyone else.
pub(crate) struct Counters {
    /// Sequence number of the next record appended: every entry below it is written.
    pub end: AtomicU64,
    /// Every record below this one is in Kafka.
    pub cursor: AtomicU64,
    /// Bytes of segment files.
    pub bytes: AtomicU64,
    /// Wakes the replayer after appends.
    pub appended: Notify,
}

/// Handle to the spool; the files are owned by its writer thread.
pub struct Spool {
    config: SpoolConfig,
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
}

/// The spool's state, for `/admin/kafka` and logs.
#[derive(Debug, serde::Serialize)]
pub struct SpoolStatus {
    /// Records waiting for replay.
    pub records: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// `spool.max_bytes`.
    pub max_bytes: u64,
}

impl Spool {
    /// Opens (creating if needed) the spool in `config.dir`, recovering what a previous run left.
    pub fn open(config: &SpoolConfig) -> io::Result<Spool> {
        std::fs::create_dir_all(&config.dir)?;
        let saved = writer::read_cursor(&config.dir)?;
        let recovered = segments::recover(&config.dir, saved.unwrap_or(0))?;
        let cursor = saved.unwrap_or_else(|| recovered.segments.first().map_or(0, |s| s.first));
        let counters = Arc::new(Counters {
            end: AtomicU64::new(recovered.next_seq),
            cursor: AtomicU64::new(cursor),
            bytes: AtomicU64::new(recovered.segments.iter().map(|s| s.len).sum()),
            appended: Notify::new(),
        });
        let waiting = recovered.next_seq.saturating_sub(cursor);
        if waiting > 0 || recovered.truncated_bytes > 0 {
            tracing::warn!(
                dir = %config.dir.display(),
                records = waiting,
                truncated_bytes = recovered.truncated_bytes,
                "spool holds records from a previous run: they are replayed once Kafka is reachable"
            );
        }
        let writer = Writer {
            config: config.clone(),
            segments: VecDeque::from(recovered.segments),
            active: None,
            next_seq: recovered.next_seq,
            cursor,
            counters: counters.clone(),
            dirty: false,
        };
        let (commands, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("wafka-spool".into())
            .spawn(move || writer.run(inbox))?;
        Ok(Spool {
            config: config.clone(),
            commands,
            counters,
        })
    }

    /// Appends `records` in order; returns once they are written (and fsynced, with
    /// `fsync = "always"`).
    pub async fn append(&self, mut records: Vec<Record>) -> Result<(), RequestError> {
        let count = records.len() as u64;
        // Stamped now, if the client set no time: the replay is written with the time the
        // record was taken, and the look for an earlier write (`written`) knows where to start.
        let now = crate::clock::now_millis() as i64;
        for record in &mut records {
            record.timestamp.get_or_insert(now);
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Append(records, reply))
            .map_err(|_| RequestError::SpoolFailed("the spool writer has stopped".into()))?;
        let result = answer
            .await
            .map_err(|_| RequestError::SpoolFailed("the spool writer has stopped".into()))?;
        if result.is_ok() {
            metrics::counter!(crate::metrics::SPOOL_APPENDED).increment(count);
        }
        result
    }

    /// Records appended but not yet in Kafka.
    pub fn backlog(&self) -> u64 {
        self.end().saturating_sub(self.cursor())
    }

    /// Sequence number of the next record appended.
    pub fn end(&self) -> u64 {
        self.counters.end.load(Ordering::Acquire)
    }

    /// Every record below this one is in Kafka.
    pub fn cursor(&self) -> u64 {
        self.counters.cursor.load(Ordering::Acquire)
    }

    /// Records that every record below `cursor` is in Kafka.
    pub fn commit(&self, cursor: u64) {
        // Seen at once by `backlog`; the writer makes it durable.
        self.counters.cursor.fetch_max(cursor, Ordering::AcqRel);
        let _ = self.commands.send(Command::Commit(cursor));
    }

    /// A reader starting anywhere in the log.
    pub fn reader(&self) -> SegmentReader {
        SegmentReader::new(self.config.dir.clone())
    }

    /// Resolves after the next append.
    pub async fn appended(&self) {
        self.counters.appended.notified().await;
    }

    /// Size and backlog.
    pub fn status(&self) -> SpoolStatus {
        SpoolStatus {
            records: self.backlog(),
            bytes: self.counters.bytes.load(Ordering::Acquire),
            max_bytes: self.config.max_bytes,
        }
    }

    /// Syncs everything to disk and stops the writer.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Close(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

#[cfg(test)]
mod tests;
