//! Finds where one record ends in a stream of JSON records (v3 streaming produce), looking at
//! each byte once however the stream is cut into chunks. A record is a JSON object; its end is
//! the brace that closes it, strings and escapes accounted for. Anything between records that
//! is not an object is one bad record, up to the next line break or `{`. Only a found record is
//! parsed, once.

/// Scanning state of the record being read.
#[derive(Default)]
pub(super) struct Splitter {
    /// Bytes of the buffer already looked at.
    at: usize,
    /// Where the current piece starts, once one has started.
    start: Option<usize>,
    /// Braces and brackets open.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The current piece does not start with `{`.
    bad: bool,
}

/// What [`Splitter::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// A whole object at these bytes of the buffer: parse it.
    Record(std::ops::Range<usize>),
    /// Bytes that are no object: report one bad record.
    Garbage(std::ops::Range<usize>),
}

impl Splitter {
    /// The next piece in `buf`, or `None` when more bytes are needed (`end`: there are none,
    /// and an unfinished piece is returned as it is).
    pub(super) fn next(&mut self, buf: &[u8], end: bool) -> Option<Piece> {
        while self.at < buf.len() {
            let b = buf[self.at];
            self.at += 1;
            let Some(start) = self.start else {
                if !b.is_ascii_whitespace() {
                    self.start = Some(self.at - 1);
                    self.bad = b != b'{';
                    self.depth = usize::from(!self.bad);
                }
                continue;
            };
            if self.bad {
                if b == b'\n' || b == b'{' {
                    if b == b'{' {
                        self.at -= 1;
                    }
                    return Some(self.finish(Piece::Garbage(start..self.at)));
                }
                continue;
            }
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(self.finish(Piece::Record(start..self.at)));
                    }
                }
                _ => {}
            }
        }
        match self.start {
            Some(start) if end => {
                let piece = if self.bad {
                    Piece::Garbage(start..self.at)
                } else {
                    Piece::Record(start..self.at)
                };
                Some(self.finish(piece))
            }
            _ => None,
        }
    }

    /// Bytes of the current unfinished piece (0 between records).
    pub(super) fn pending(&self) -> usize {
        self.start.map_or(0, |s| self.at - s)
    }

    /// The buffer lost its first `n` bytes (all before the current piece).
    pub(super) fn consumed(&mut self, n: usize) {
        self.at -= n;
        if let Some(start) = &mut self.start {
            *start -= n;
        }
    }

    fn finish(&mut self, piece: Piece) -> Piece {
        *self = Splitter {
            at: self.at,
            ..Splitter::default()
        };
        piece
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(chunks: &[&str]) -> Vec<(bool, String)> {
        let mut buf = Vec::new();
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            buf.extend_from_slice(chunk.as_bytes());
            let end = i + 1 == chunks.len();
            while let Some(p) = s.next(&buf, end) {
                let (ok, range) = match p {
                    Piece::Record(r) => (true, r),
                    Piece::Garbage(r) => (false, r),
                };
                out.push((ok, String::from_utf8_lossy(&buf[range]).into_owned()));
            }
        }
        out
    }

    #[test]
    fn records_split_anywhere_are_found_whole() {
        let text = r#"{"a":"}{\"x"} {"b":[1,{"c":2}]}
{"d":"\\"}"#;
        let expected = vec![
            (true, r#"{"a":"}{\"x"}"#.to_owned()),
            (true, r#"{"b":[1,{"c":2}]}"#.to_owned()),
            (true, r#"{"d":"\\"}"#.to_owned()),
        ];
        for cut in 0..text.len() {
            assert_eq!(
                pieces(&[&text[..cut], &text[cut..]]),
                expected,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn garbage_is_one_piece_up_to_the_line_end_or_the_next_object() {
        let out = pieces(&["{\"a\":1}\nnot json\n{\"b\":2}12{\"c\":3}\n{\"d\":"]);
        let shown: Vec<_> = out.iter().map(|(ok, t)| (*ok, t.trim_end())).collect();
        assert_eq!(
            shown,
            vec![
                (true, "{\"a\":1}"),
                (false, "not json"),
                (true, "{\"b\":2}"),
                (false, "12"),
                (true, "{\"c\":3}"),
                (true, "{\"d\":")
            ]
        );
    }
}
