use std::path::Path;

use bytes::Bytes;

use super::*;
use crate::config::Fsync;

fn config(name: &str) -> SpoolConfig {
    let dir = std::env::temp_dir().join(format!("wafka-spool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    SpoolConfig {
        dir,
        fsync: Fsync::Always,
        fsync_interval_ms: 100,
        max_bytes: 4 << 20,
        segment_bytes: 1 << 20,
    }
}

fn records(from: usize, n: usize, size: usize) -> Vec<Record> {
    (from..from + n)
        .map(|i| {
            let mut r = Record::new("t");
            r.key = Some(Bytes::from(i.to_string()));
            r.value = Some(Bytes::from(vec![b'x'; size]));
            r
        })
        .collect()
}

fn keys(read: &[(u64, Record)]) -> Vec<String> {
    read.iter()
        .map(|(_, r)| String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap())
        .collect()
}

fn segment_files(dir: &Path) -> usize {
    segments::list(dir).unwrap().len()
}

#[tokio::test]
async fn appended_records_are_read_back_in_order_across_segments() {
    let config = config("order");
    let spool = Spool::open(&config).unwrap();
    // 300 records of ~10 KiB in appends of 10 span three 1 MiB segments.
    for chunk in 0..30 {
        spool.append(records(chunk * 10, 10, 10_000)).await.unwrap();
    }
    assert_eq!(spool.backlog(), 300);
    assert!(segment_files(&config.dir) >= 3);
    let mut reader = spool.reader();
    let first = reader.read(0, spool.end(), 250).unwrap();
    let rest = reader.read(250, spool.end(), 250).unwrap();
    let all: Vec<String> = keys(&first).into_iter().chain(keys(&rest)).collect();
    assert_eq!(all, (0..300).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(first[0].0, 0);
    assert_eq!(rest.last().unwrap().0, 299);
    spool.close().await;
}

#[tokio::test]
async fn a_restart_resumes_at_the_committed_cursor_and_replayed_segments_go() {
    let config = config("restart");
    let spool = Spool::open(&config).unwrap();
    for chunk in 0..3 {
        spool
            .append(records(chunk * 100, 100, 10_000))
            .await
            .unwrap();
    }
    spool.commit(250);
    spool.close().await;

    let spool = Spool::open(&config).unwrap();
    assert_eq!(spool.cursor(), 250);
    assert_eq!(spool.backlog(), 50);
    let read = spool
        .reader()
        .read(spool.cursor(), spool.end(), 1000)
        .unwrap();
    assert_eq!(keys(&read).first().map(String::as_str), Some("250"));
    assert_eq!(read.len(), 50);
    // New records continue the sequence.
    spool.append(records(300, 1, 10)).await.unwrap();
    assert_eq!(spool.end(), 301);
    spool.commit(301);
    spool.append(records(301, 1, 10)).await.unwrap();
    spool.close().await;
    // Everything before 301 is replayed: only the segment holding 301 is left.
    let left = segments::list(&config.dir).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].first, 301);
}

#[tokio::test]
async fn a_torn_tail_is_cut_off_and_the_rest_kept() {
    let config = config("torn");
    let spool = Spool::open(&config).unwrap();
    spool.append(records(0, 10, 100)).await.unwrap();
    spool.close().await;
    let segment = segments::list(&config.dir).unwrap().pop().unwrap();
    // A crash mid-write: half an entry at the end.
    let mut data = std::fs::read(&segment.path).unwrap();
    let whole = data.len();
    let torn = data[..40].to_vec();
    data.extend_from_slice(&torn);
    std::fs::write(&segment.path, &data).unwrap();

    let spool = Spool::open(&config).unwrap();
    assert_eq!(spool.backlog(), 10);
    assert_eq!(
        std::fs::metadata(&segment.path).unwrap().len(),
        whole as u64
    );
    spool.append(records(10, 1, 100)).await.unwrap();
    let read = spool.reader().read(0, spool.end(), 100).unwrap();
    assert_eq!(read.len(), 11);
    spool.close().await;
}

#[tokio::test]
async fn a_full_spool_refuses_with_spool_full_and_keeps_what_it_has() {
    let config = config("full");
    let spool = Spool::open(&config).unwrap();
    let mut written = 0;
    let err = loop {
        match spool.append(records(written, 10, 50_000)).await {
            Ok(()) => written += 10,
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), "spool_full");
    assert!(spool.status().bytes <= config.max_bytes);
    assert_eq!(spool.backlog(), written as u64);
    spool.close().await;
}
