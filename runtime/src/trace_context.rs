//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): `traceparent` and `tracestate`
//! as requests carry them and as records carry them on. A foundation: the request a filter sees
//! holds one; spans and their export are `trace`.

use std::cell::Cell;
use std::sync::Arc;

/// `traceparent` (and `tracestate`) on requests and on records.
pub const TRACEPARENT: &str = "traceparent";
/// Vendor data passed along unchanged.
pub const TRACESTATE: &str = "tracestate";
/// Longest `tracestate` passed on; the W3C asks to propagate at least 512 characters.
const MAX_STATE: usize = 512;

/// Where a span sits in its trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace's id, shared by every span in it.
    pub trace_id: [u8; 16],
    /// This span's id.
    pub span_id: [u8; 8],
    /// The `sampled` flag: whether spans of this trace are recorded.
    pub sampled: bool,
    /// `tracestate`, passed on as received (when printable and at most 512 bytes).
    pub state: Option<Arc<str>>,
}

impl SpanContext {
    /// Parses a `traceparent` header; `None` when it is not a valid one, which starts a new
    /// trace, as the W3C asks. A `tracestate` comes along only with a valid parent.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<SpanContext> {
        let t = traceparent.trim().as_bytes();
        if t.len() < 55 || t[2] != b'-' || t[35] != b'-' || t[52] != b'-' {
            return None;
        }
        let version = hex::<1>(&t[..2])?[0];
        // Version 00 is exactly 55 characters; later versions may add fields after a dash.
        if version == 0xff || (version == 0 && t.len() != 55) || (t.len() > 55 && t[55] != b'-') {
            return None;
        }
        let trace_id = hex::<16>(&t[3..35])?;
        let span_id = hex::<8>(&t[36..52])?;
        let flags = hex::<1>(&t[53..55])?[0];
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        let state = tracestate
            .map(str::trim)
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= MAX_STATE
                    && s.bytes().all(|b| (0x20..0x7f).contains(&b))
            })
            .map(Arc::from);
        Some(SpanContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
            state,
        })
    }

    /// The first span of a new trace.
    pub fn root(sampled: bool) -> SpanContext {
        let trace_id = loop {
            let id = (u128::from(random()) << 64 | u128::from(random())).to_be_bytes();
            if id != [0; 16] {
                break id;
            }
        };
        SpanContext {
            trace_id,
            span_id: span_id(),
            sampled,
            state: None,
        }
    }

    /// A new span in the same trace.
    pub fn child(&self) -> SpanContext {
        SpanContext {
            span_id: span_id(),
            ..self.clone()
        }
    }

    /// As a `traceparent` value: `00-{trace id}-{span id}-{flags}`.
    pub fn traceparent(&self) -> String {
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        push_hex(&mut out, &self.trace_id);
        out.push('-');
        push_hex(&mut out, &self.span_id);
        out.push_str(if self.sampled { "-01" } else { "-00" });
        out
    }
}

/// Lowercase hex of `bytes` (OTLP's JSON writes ids this way too).
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
}

/// `N` bytes from `2N` lowercase hex digits (the W3C allows no uppercase).
fn hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    fn value(d: u8) -> Option<u8> {
        match d {
            b'0'..=b'9' => Some(d - b'0'),
            b'a'..=b'f' => Some(d - b'a' + 10),
            _ => None,
        }
    }
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (i, pair) in digits.chunks(2).enumerate() {
        out[i] = value(pair[0])? << 4 | value(pair[1])?;
    }
    Some(out)
}

fn span_id() -> [u8; 8] {
    loop {
        let id = random();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

/// A random `u64`: SplitMix64 per thread, seeded from the OS's randomness (std's hash keys).
/// Ids need to be unique and spread for sampling, not secret.
pub fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            h.finish()
        });
    }
    STATE.with(|s| {
        let mut z = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::SpanContext;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specs_example_round_trips() {
        let c = SpanContext::parse(VALID, Some("congo=t61rcWkgMzE")).unwrap();
        assert!(c.sampled);
        assert_eq!(c.traceparent(), VALID);
        assert_eq!(c.state.as_deref(), Some("congo=t61rcWkgMzE"));
        let child = c.child();
        assert_eq!(child.trace_id, c.trace_id);
        assert_ne!(child.span_id, c.span_id);
    }

    #[test]
    fn invalid_parents_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(SpanContext::parse(bad, None), None, "{bad}");
        }
        // A later version may carry more fields; what this version knows is read.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes";
        assert!(!SpanContext::parse(later, None).unwrap().sampled);
    }

    #[test]
    fn new_traces_have_distinct_nonzero_ids() {
        let (a, b) = (SpanContext::root(true), SpanContext::root(true));
        assert_ne!(a.trace_id, b.trace_id);
        assert_ne!(a.trace_id, [0; 16]);
        assert_eq!(a.traceparent().len(), 55);
    }
}
