//! A client's place in a topic: the next offset to read in every partition, as an opaque,
//! URL-safe token. The client keeps it, so any gateway, before or after a restart, continues
//! exactly where the last answer ended: no server-side consumer to stick to.
//!
//! Token: base64url (no padding) of a version byte, a 32-bit hash of the topic name (a token
//! of another topic is refused), then each partition and offset as unsigned LEB128.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: u8 = 1;

/// The next offset to read, by partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position(pub BTreeMap<i32, i64>);

/// Why a token cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPosition {
    /// Not a token this gateway writes.
    #[error("not a position token: {0}")]
    Malformed(&'static str),
    /// A token of another topic.
    #[error("the position belongs to another topic than {0:?}")]
    OtherTopic(String),
}

impl Position {
    /// The token for `topic`.
    pub fn encode(&self, topic: &str) -> String {
        let mut bytes = Vec::with_capacity(5 + self.0.len() * 6);
        bytes.push(VERSION);
        bytes.extend_from_slice(&topic_hash(topic).to_be_bytes());
        for (&partition, &offset) in &self.0 {
            leb128(&mut bytes, partition as u64);
            leb128(&mut bytes, offset as u64);
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a token that must belong to `topic`.
    pub fn decode(token: &str, topic: &str) -> Result<Position, BadPosition> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| BadPosition::Malformed("not base64url"))?;
        let (&version, rest) = bytes.split_first().ok_or(BadPosition::Malformed("empty"))?;
        if version != VERSION {
            return Err(BadPosition::Malformed("unknown version"));
        }
        let (hash, mut rest) = rest
            .split_at_checked(4)
            .ok_or(BadPosition::Malformed("too short"))?;
        if hash != topic_hash(topic).to_be_bytes() {
            return Err(BadPosition::OtherTopic(topic.to_owned()));
        }
        let mut offsets = BTreeMap::new();
        while !rest.is_empty() {
            let partition = read_leb128(&mut rest)?;
            let offset = read_leb128(&mut rest)?;
            let partition =
                i32::try_from(partition).map_err(|_| BadPosition::Malformed("partition"))?;
            let offset = i64::try_from(offset).map_err(|_| BadPosition::Malformed("offset"))?;
            if offsets.insert(partition, offset).is_some() {
                return Err(BadPosition::Malformed("a partition twice"));
            }
        }
        Ok(Position(offsets))
    }
}

/// FNV-1a: stable across versions and processes, unlike std's hasher.
fn topic_hash(topic: &str) -> u32 {
    topic.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb128(input: &mut &[u8]) -> Result<u64, BadPosition> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input
            .split_first()
            .ok_or(BadPosition::Malformed("truncated"))?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(BadPosition::Malformed("number too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_url_safe() {
        let position = Position(BTreeMap::from([(0, 0), (1, 127), (2, 1 << 40)]));
        let token = position.encode("events.web");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{token}"
        );
        assert_eq!(Position::decode(&token, "events.web"), Ok(position));
    }

    #[test]
    fn bad_tokens_say_why() {
        let token = Position(BTreeMap::from([(0, 5)])).encode("a");
        assert_eq!(
            Position::decode(&token, "b"),
            Err(BadPosition::OtherTopic("b".into()))
        );
        assert!(matches!(
            Position::decode("%%%", "a"),
            Err(BadPosition::Malformed(_))
        ));
        assert!(matches!(
            Position::decode(&token[..token.len() - 1], "a"),
            Err(BadPosition::Malformed(_))
        ));
        assert!(matches!(
            Position::decode("", "a"),
            Err(BadPosition::Malformed(_))
        ));
    }
}
