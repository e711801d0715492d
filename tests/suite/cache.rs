//! The compiled-filter cache: a hit skips compilation, a bad entry is recompiled, not trusted.

use std::sync::Arc;

use wafka::filter::{DiskCache, FilterEngine, LoadedFilter, sha256_hex};

#[test]
fn cache_entries_are_reused_and_bad_ones_recompiled() {
    let engine = Arc::new(FilterEngine::new(Default::default(), 64).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path());
    let path = wafka_tests::wasm("json-enrich");
    let bytes = std::fs::read(&path).unwrap();
    let entries = || -> Vec<_> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };

    let first = LoadedFilter::compile(&engine, "json-enrich", &path, &bytes, Some(&cache)).unwrap();
    assert_eq!(first.sha256, sha256_hex(&bytes));
    let written = entries();
    assert_eq!(written.len(), 1, "one entry per content and engine");
    let name = written[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with(&first.sha256), "{name}");

    // A hit: the entry is read, not rewritten.
    let modified = std::fs::metadata(&written[0]).unwrap().modified().unwrap();
    LoadedFilter::compile(&engine, "json-enrich", &path, &bytes, Some(&cache)).unwrap();
    assert_eq!(
        std::fs::metadata(&written[0]).unwrap().modified().unwrap(),
        modified
    );

    // A corrupt entry (one flipped byte) is detected, recompiled and replaced.
    let mut entry = std::fs::read(&written[0]).unwrap();
    let middle = entry.len() / 2;
    entry[middle] ^= 0xff;
    std::fs::write(&written[0], &entry).unwrap();
    LoadedFilter::compile(&engine, "json-enrich", &path, &bytes, Some(&cache)).unwrap();
    let repaired = std::fs::read(&written[0]).unwrap();
    assert_ne!(repaired, entry, "the corrupt entry was replaced");

    // A truncated entry too; the rewritten entry is sound: the next load is a hit.
    std::fs::write(&written[0], &repaired[..100]).unwrap();
    LoadedFilter::compile(&engine, "json-enrich", &path, &bytes, Some(&cache)).unwrap();
    assert!(std::fs::read(&written[0]).unwrap().len() > 100);
    let modified = std::fs::metadata(&written[0]).unwrap().modified().unwrap();
    LoadedFilter::compile(&engine, "json-enrich", &path, &bytes, Some(&cache)).unwrap();
    assert_eq!(
        std::fs::metadata(&written[0]).unwrap().modified().unwrap(),
        modified
    );
}
