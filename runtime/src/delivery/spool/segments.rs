//! Segment files on disk: finding them, recovering after a crash, reading entries in order.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::wal::{self, FRAME};
use crate::exchange::Record;

/// One segment file.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Sequence number of its first entry (its file name).
    pub first: u64,
    pub path: PathBuf,
    /// Bytes of whole entries in it.
    pub len: u64,
}

/// File name of the segment starting at `first`.
pub fn file_name(first: u64) -> String {
    format!("{first:020}.wal")
}

/// Segments in `dir`, oldest first, with their lengths on disk.
pub fn list(dir: &Path) -> io::Result<Vec<Segment>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        segments.push(Segment {
            first,
            path: entry.path(),
            len: entry.metadata()?.len(),
        });
    }
    segments.sort_by_key(|s| s.first);
    Ok(segments)
}

/// What was on disk at start.
#[derive(Debug)]
pub struct Recovered {
    pub segments: Vec<Segment>,
    /// The sequence number the next appended record gets.
    pub next_seq: u64,
    /// Entries cut off because they were torn or corrupt.
    pub truncated_bytes: u64,
}

/// Checks every entry of every segment and cuts each segment after its last intact entry
/// (a crash mid-write leaves a torn tail; nothing after it can be trusted).
pub fn recover(dir: &Path, cursor: u64) -> io::Result<Recovered> {
    let mut segments = list(dir)?;
    let mut next_seq = cursor;
    let mut truncated_bytes = 0;
    for segment in &mut segments {
        let data = std::fs::read(&segment.path)?;
        let mut at = 0;
        while let Some((seq, _, used)) = wal::decode(&data[at..]) {
            next_seq = next_seq.max(seq + 1);
            at += used;
        }
        if at < data.len() {
            tracing::warn!(
                segment = %segment.path.display(),
                bytes = data.len() - at,
                "spool segment has a torn or corrupt tail: cutting it off"
            );
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&segment.path)?;
            file.set_len(at as u64)?;
            file.sync_all()?;
            truncated_bytes += (data.len() - at) as u64;
        }
        segment.len = at as u64;
    }
    Ok(Recovered {
        segments,
        next_seq,
        truncated_bytes,
    })
}

/// Reads entries in sequence order across segments.
pub struct SegmentReader {
    dir: PathBuf,
    open: Option<(u64, BufReader<File>)>,
    /// Sequence number the reader expects next; entries below it were read or skipped.
    next: u64,
}

impl SegmentReader {
    /// A reader of the segments in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        SegmentReader {
            dir,
            open: None,
            next: 0,
        }
    }

    /// Up to `max` entries with `from <= seq < end`, in order.
    pub fn read(&mut self, from: u64, end: u64, max: usize) -> io::Result<Vec<(u64, Record)>> {
        if self.open.is_none() || self.next > from {
            self.seek(from)?;
        }
        let mut out = Vec::new();
        while out.len() < max && self.next < end {
            match self.next_entry()? {
                Some((seq, record)) => {
                    self.next = seq + 1;
                    if seq >= from {
                        out.push((seq, record));
                    }
                }
                None => break,
            }
        }
        Ok(out)
    }

    fn seek(&mut self, from: u64) -> io::Result<()> {
        let segments = list(&self.dir)?;
        let start = segments
            .iter()
            .rev()
            .find(|s| s.first <= from)
            .or(segments.first());
        self.open = match start {
            Some(s) => Some((s.first, BufReader::new(File::open(&s.path)?))),
            None => None,
        };
        self.next = start.map_or(from, |s| s.first);
        Ok(())
    }

    /// The next entry, moving on to the following segment at the end of one.
    fn next_entry(&mut self) -> io::Result<Option<(u64, Record)>> {
        loop {
            let Some((first, file)) = &mut self.open else {
                return Ok(None);
            };
            let mut frame = [0u8; FRAME];
            match file.read_exact(&mut frame) {
                Ok(()) => {
                    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
                    let mut entry = frame.to_vec();
                    entry.resize(FRAME + len as usize, 0);
                    file.read_exact(&mut entry[FRAME..])?;
                    return wal::decode(&entry)
                        .map(|(seq, record, _)| Some((seq, record)))
                        .ok_or_else(|| io::Error::other("corrupt spool entry"));
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    let current = *first;
                    let following = list(&self.dir)?.into_iter().find(|s| s.first > current);
                    match following {
                        Some(s) => {
                            self.open = Some((s.first, BufReader::new(File::open(&s.path)?)))
                        }
                        None => return Ok(None),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}
