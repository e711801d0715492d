//! The log's on-disk format. A segment file `NNNNNNNNNNNNNNNNNNNN.wal` (its first sequence
//! number) holds entries back to back:
//!
//! ```text
//! u32 body length | u32 CRC-32 of body | body
//! body: u64 seq | i64 timestamp (i64::MIN: none) | i32 partition (-1: none)
//!       | u16 topic length, topic | u32 key length (u32::MAX: null), key
//!       | u32 value length (u32::MAX: null), value | u16 header count,
//!       each: u16 name length, name, u32 value length, value
//! ```
//!
//! All integers little-endian. A torn or corrupt entry fails its CRC and ends the segment.

use bytes::Bytes;

use crate::exchange::Record;

/// Bytes before each entry's body.
pub const FRAME: usize = 8;
/// Largest body accepted when reading: anything larger is corruption.
const MAX_BODY: usize = 1 << 30;
const NULL: u32 = u32::MAX;

/// Appends one entry for `record` to `out`.
pub fn encode(seq: u64, record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&record.timestamp.unwrap_or(i64::MIN).to_le_bytes());
    out.extend_from_slice(&record.partition.unwrap_or(-1).to_le_bytes());
    put_short(out, record.topic.as_bytes());
    put_long(out, record.key.as_deref());
    put_long(out, record.value.as_deref());
    out.extend_from_slice(&(record.headers.len().min(u16::MAX as usize) as u16).to_le_bytes());
    for (name, value) in record.headers.iter().take(u16::MAX as usize) {
        put_short(out, name.as_bytes());
        put_long(out, Some(value));
    }
    let body = &out[start + FRAME..];
    let (len, crc) = (body.len() as u32, crc32fast::hash(body));
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the entry at the start of `buf`: its sequence number, record and total length.
/// `None` when `buf` holds no whole, intact entry.
pub fn decode(buf: &[u8]) -> Option<(u64, Record, usize)> {
    let len = u32::from_le_bytes(buf.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(buf.get(4..8)?.try_into().ok()?);
    if len > MAX_BODY {
        return None;
    }
    let body = buf.get(FRAME..FRAME + len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let mut r = Reader { buf: body };
    let seq = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let timestamp = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let partition = i32::from_le_bytes(r.take(4)?.try_into().ok()?);
    let topic = String::from_utf8(r.short()?.to_vec()).ok()?;
    let key = r.long()?;
    let value = r.long()?;
    let count = u16::from_le_bytes(r.take(2)?.try_into().ok()?);
    let mut headers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let name = String::from_utf8(r.short()?.to_vec()).ok()?;
        headers.push((name, r.long()?.unwrap_or_default()));
    }
    let record = Record {
        topic,
        key,
        value,
        headers,
        partition: (partition >= 0).then_some(partition),
        timestamp: (timestamp != i64::MIN).then_some(timestamp),
        offset: None,
    };
    Some((seq, record, FRAME + len))
}

fn put_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_long(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.extend_from_slice(&NULL.to_le_bytes()),
        Some(b) => {
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.buf.split_at_checked(n)?;
        self.buf = tail;
        Some(head)
    }

    fn short(&mut self) -> Option<&'a [u8]> {
        let n = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        self.take(n as usize)
    }

    fn long(&mut self) -> Option<Option<Bytes>> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        if n == NULL {
            return Some(None);
        }
        Some(Some(Bytes::copy_from_slice(self.take(n as usize)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            topic: "events.web".into(),
            key: Some(Bytes::from_static(b"k")),
            value: None,
            headers: vec![
                ("a".into(), Bytes::from_static(b"1")),
                ("a".into(), Bytes::new()),
            ],
            partition: Some(2),
            offset: None,
            timestamp: Some(1_700_000_000_000),
        }
    }

    #[test]
    fn entries_round_trip_back_to_back() {
        let mut buf = Vec::new();
        encode(7, &record(), &mut buf);
        let mut bare = Record::new("t");
        bare.value = Some(Bytes::from_static(b"{}"));
        encode(8, &bare, &mut buf);
        let (seq, first, used) = decode(&buf).unwrap();
        assert_eq!((seq, first), (7, record()));
        let (seq, second, rest) = decode(&buf[used..]).unwrap();
        assert_eq!((seq, second), (8, bare));
        assert_eq!(used + rest, buf.len());
    }

    #[test]
    fn torn_and_corrupt_entries_are_refused() {
        let mut buf = Vec::new();
        encode(1, &record(), &mut buf);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_none(), "cut at {cut}");
        }
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert!(decode(&buf).is_none());
    }
}
