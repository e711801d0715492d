//! The spool's writer thread: appends entries (appends that arrive together share one fsync),
//! records how far replay got, and deletes segments replay has finished.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::segments::{self, Segment};
use super::{Counters, wal};
use crate::config::{Fsync, SpoolConfig};
use crate::error::RequestError;
use crate::exchange::Record;

pub(super) enum Command {
    Append(Vec<Record>, oneshot::Sender<Result<(), RequestError>>),
    Commit(u64),
    Close(oneshot::Sender<()>),
}

pub(super) struct Writer {
    pub config: SpoolConfig,
    pub segments: VecDeque<Segment>,
    pub active: Option<File>,
    pub next_seq: u64,
    pub cursor: u64,
    pub counters: Arc<Counters>,
    pub dirty: bool,
}

/// Name of the file holding the cursor: the sequence number replay continues from.
pub(super) const CURSOR: &str = "cursor";

impl Writer {
    pub fn run(mut self, inbox: Receiver<Command>) {
        let tick = Duration::from_millis(self.config.fsync_interval_ms);
        loop {
            let first = match inbox.recv_timeout(tick) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    self.sync_if_dirty();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // Take everything already waiting, so one fsync covers all of it.
            let mut batch = vec![first];
            batch.extend(inbox.try_iter());
            let mut replies = Vec::new();
            let mut close = None;
            for command in batch {
                match command {
                    Command::Append(records, reply) => {
                        let result = self.append(&records);
                        replies.push((reply, result));
                    }
                    Command::Commit(cursor) => self.commit(cursor),
                    Command::Close(reply) => close = Some(reply),
                }
            }
            if (self.config.fsync == Fsync::Always || close.is_some())
                && let Err(e) = self.sync()
            {
                for (_, result) in &mut replies {
                    if result.is_ok() {
                        *result = Err(RequestError::SpoolFailed(format!("fsync: {e}")));
                    }
                }
            }
            self.publish();
            for (reply, result) in replies {
                let _ = reply.send(result);
            }
            if let Some(reply) = close {
                let _ = reply.send(());
                return;
            }
        }
        self.sync_if_dirty();
    }

    fn append(&mut self, records: &[Record]) -> Result<(), RequestError> {
        let mut buf = Vec::new();
        for (i, record) in records.iter().enumerate() {
            wal::encode(self.next_seq + i as u64, record, &mut buf);
        }
        let used: u64 = self.segments.iter().map(|s| s.len).sum();
        if used + buf.len() as u64 > self.config.max_bytes {
            return Err(RequestError::SpoolFull(format!(
                "{used} bytes on disk; spool.max_bytes is {}",
                self.config.max_bytes
            )));
        }
        let write = |w: &mut Self| -> io::Result<()> {
            let needs_segment = w
                .segments
                .back()
                .is_none_or(|s| s.len >= w.config.segment_bytes)
                || w.active.is_none();
            if needs_segment {
                w.roll()?;
            }
            let file = w
                .active
                .as_mut()
                .ok_or_else(|| io::Error::other("no segment"))?;
            file.write_all(&buf)
        };
        if let Err(e) = write(self) {
            // The segment may now end in a torn entry: start a fresh one for the next append.
            self.active = None;
            return Err(RequestError::SpoolFailed(format!("write: {e}")));
        }
        if let Some(active) = self.segments.back_mut() {
            active.len += buf.len() as u64;
        }
        self.next_seq += records.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Starts a new segment named after the next sequence number.
    fn roll(&mut self) -> io::Result<()> {
        if self.active.is_some() {
            self.sync()?;
        }
        let path = self.config.dir.join(segments::file_name(self.next_seq));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let len = file.metadata()?.len();
        sync_dir(&self.config.dir)?;
        if self
            .segments
            .back()
            .is_none_or(|s| s.first != self.next_seq)
        {
            self.segments.push_back(Segment {
                first: self.next_seq,
                path,
                len,
            });
        }
        self.active = Some(file);
        Ok(())
    }

    fn commit(&mut self, cursor: u64) {
        if cursor <= self.cursor {
            return;
        }
        self.cursor = cursor;
        if let Err(e) = write_cursor(&self.config.dir, cursor, self.config.fsync == Fsync::Always) {
            tracing::error!(error = %e, "cannot record the spool's replay position: records may be replayed twice after a restart");
        }
        // When everything is replayed, start afresh so the old segment can go.
        let drained = cursor >= self.next_seq;
        if drained && self.segments.back().is_some_and(|s| s.len > 0) {
            self.active = None;
            if let Err(e) = self.roll() {
                tracing::error!(error = %e, "cannot start a new spool segment");
            }
        }
        // A segment is finished when the one after it starts at or below the cursor.
        while self.segments.len() > 1 && self.segments[1].first <= cursor {
            let Some(done) = self.segments.pop_front() else {
                break;
            };
            if let Err(e) = std::fs::remove_file(&done.path) {
                tracing::warn!(segment = %done.path.display(), error = %e, "cannot delete a replayed spool segment");
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        if let Some(file) = &self.active {
            file.sync_data()?;
        }
        self.dirty = false;
        Ok(())
    }

    fn sync_if_dirty(&mut self) {
        if self.dirty
            && let Err(e) = self.sync()
        {
            tracing::error!(error = %e, "spool fsync failed");
        }
    }

    fn publish(&self) {
        let bytes: u64 = self.segments.iter().map(|s| s.len).sum();
        self.counters.bytes.store(bytes, Ordering::Release);
        self.counters
            .cursor
            .fetch_max(self.cursor, Ordering::AcqRel);
        self.counters.end.store(self.next_seq, Ordering::Release);
        self.counters.appended.notify_one();
        metrics::gauge!(crate::metrics::SPOOL_BYTES).set(bytes as f64);
        metrics::gauge!(crate::metrics::SPOOL_RECORDS)
            .set(self.next_seq.saturating_sub(self.cursor) as f64);
    }
}

/// Replaces the cursor file atomically: a crash leaves the old or the new value, never half.
pub(super) fn write_cursor(dir: &std::path::Path, cursor: u64, fsync: bool) -> io::Result<()> {
    let tmp = dir.join(".cursor.tmp");
    let mut file = File::create(&tmp)?;
    writeln!(file, "{cursor}")?;
    if fsync {
        file.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(CURSOR))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Makes a new or renamed file's directory entry durable.
fn sync_dir(dir: &std::path::Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub(super) fn read_cursor(dir: &std::path::Path) -> io::Result<Option<u64>> {
    match std::fs::read_to_string(dir.join(CURSOR)) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| io::Error::other(format!("{CURSOR} file holds {:?}", text.trim()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
