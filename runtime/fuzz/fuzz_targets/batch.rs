//! Any body as a JSON or NDJSON batch: records or an error, never a panic, never over the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wafka::config::BodyKind;

fuzz_target!(|body: &[u8]| {
    for kind in [BodyKind::Records, BodyKind::Ndjson] {
        let body = bytes::Bytes::copy_from_slice(body);
        if let Ok(records) = wafka::server::batch::parse(kind, body, "t", 100) {
            assert!(!records.is_empty() && records.len() <= 100);
        }
    }
});
