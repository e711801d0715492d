//! Delivery settings: how much the gateway holds in flight, when it stops trying Kafka for a
//! while (the circuit breaker), where permanently failed records go, and the disk spool.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[kafka.breaker]`: fail fast while Kafka is down instead of letting every request wait for
/// the delivery timeout.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive records failing with a retriable Kafka error (unavailable, timed out) that
    /// open the breaker. Default 5.
    #[serde(default = "defaults::failures")]
    pub failures: u32,
    /// Milliseconds records may wait with no acknowledgement at all arriving before the breaker
    /// opens: how a paused or partitioned broker is noticed long before `message.timeout.ms`.
    /// Default 5000.
    #[serde(default = "defaults::stall_ms")]
    pub stall_ms: u64,
    /// Milliseconds the breaker stays open before probing Kafka with a metadata request; also
    /// the `Retry-After` of answers given while open. Default 2000.
    #[serde(default = "defaults::cooldown_ms")]
    pub cooldown_ms: u64,
    /// How long the probe waits for the metadata answer, in milliseconds. Default 1000.
    #[serde(default = "defaults::probe_timeout_ms")]
    pub probe_timeout_ms: u64,
}

/// `[spool]`: a write-ahead log on local disk for records accepted while Kafka is unreachable.
/// Without this section nothing is spooled and such requests are answered 503.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of the log; created if missing. Relative paths are resolved against the config
    /// file's directory. One gateway per directory.
    pub dir: PathBuf,
    /// When spooled records reach the disk: `always` (fsync before answering, default) or
    /// `interval` (written before answering, fsync every `fsync_interval_ms`: a power loss
    /// can lose that window, a process crash cannot).
    #[serde(default)]
    pub fsync: Fsync,
    /// Milliseconds between fsyncs with `fsync = "interval"`. Default 100.
    #[serde(default = "defaults::fsync_interval_ms")]
    pub fsync_interval_ms: u64,
    /// Most bytes on disk; past it requests that need the spool get 503 `spool_full`.
    /// Default 1073741824 (1 GiB).
    #[serde(default = "defaults::spool_max_bytes")]
    pub max_bytes: u64,
    /// Size at which the log starts a new segment file; consumed segments are deleted.
    /// Default 67108864 (64 MiB).
    #[serde(default = "defaults::segment_bytes")]
    pub segment_bytes: u64,
}

/// When spooled records are forced to disk.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Before each answer (appends arriving together share one fsync).
    #[default]
    Always,
    /// Every `fsync_interval_ms`.
    Interval,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: defaults::failures(),
            stall_ms: defaults::stall_ms(),
            cooldown_ms: defaults::cooldown_ms(),
            probe_timeout_ms: defaults::probe_timeout_ms(),
        }
    }
}

pub(super) mod defaults {
    pub fn failures() -> u32 {
        5
    }
    pub fn stall_ms() -> u64 {
        5_000
    }
    pub fn cooldown_ms() -> u64 {
        2_000
    }
    pub fn probe_timeout_ms() -> u64 {
        1_000
    }
    pub fn fsync_interval_ms() -> u64 {
        100
    }
    pub fn spool_max_bytes() -> u64 {
        1 << 30
    }
    pub fn segment_bytes() -> u64 {
        64 << 20
    }
    pub fn max_in_flight_records() -> usize {
        50_000
    }
    pub fn max_in_flight_bytes() -> usize {
        64 << 20
    }
}
