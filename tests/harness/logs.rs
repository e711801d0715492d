//! The gateway's log, captured: tests run the gateway in-process, so a global subscriber keeps
//! every line for tests to look for a request's lines by its id. Of the access log, only the
//! lines of streams are kept (one per stream, at its end); a line per request would grow
//! without bound over the suite.

use std::io::Write;
use std::sync::{Mutex, Once};

use tracing_subscriber::EnvFilter;

static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Starts capturing; later calls do nothing.
pub fn capture() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
    });
}

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        if line.contains(" wafka::access: ") && !line.contains(" wafka::access: stream ") {
            return Ok(buf.len());
        }
        LINES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captured log events that mention `needle` (a request id, say). An event is a line that
/// starts with its timestamp and the lines of its message that follow.
pub fn lines_with(needle: &str) -> Vec<String> {
    let text = LINES.lock().unwrap_or_else(|e| e.into_inner());
    let text = String::from_utf8_lossy(&text);
    let mut events: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts_event = line.len() > 11 && line.as_bytes()[10] == b'T' && line.starts_with("20");
        match events.last_mut() {
            Some(event) if !starts_event => {
                event.push('\n');
                event.push_str(line);
            }
            _ => events.push(line.to_owned()),
        }
    }
    events.retain(|e| e.contains(needle));
    events
}
