//! Any body as every REST Proxy request body (v2 produce, v3 records and streams, consumer
//! settings, commits, assignments, topic creation): an answer or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &[u8])| {
    let (chunk, body) = input;
    wafka::server::fuzz_bodies(body, usize::from(chunk));
});
