//! Any text as a config file: an error or a config, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let dir = std::path::Path::new("/nonexistent");
    let _ = wafka::config::Config::from_toml(text, &dir.join("fuzz.toml"), dir);
});
