//! Any pattern and path: parsing and matching never panic, and a match has one value per
//! parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str)| {
    let (pattern, path) = input;
    if let Ok(p) = wafka::router::PathPattern::parse(pattern) {
        if let Some(Ok(params)) = p.matches(path) {
            assert_eq!(params.len(), pattern.matches('{').count());
        }
    }
});
