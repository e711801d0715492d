//! The circuit breaker: after Kafka fails repeatedly, or stops acknowledging anything, requests
//! fail fast (or go to the spool) for a cool-down; then a metadata probe decides whether to
//! close again. A late acknowledgement closes it too: it proves Kafka is back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::config::BreakerConfig;
use crate::error::RequestError;
use crate::metrics as m;

/// The breaker's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Records go to Kafka.
    Closed,
    /// Kafka is considered down; records are refused or spooled.
    Open,
    /// Still refusing, while a probe asks Kafka for its metadata.
    Probing,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { since: Instant, reason: String },
    Probing { reason: String },
}

/// Shared by the request path, the producer's callbacks and the monitor task.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
    /// Records handed to the producer whose delivery report has not arrived.
    pending: AtomicUsize,
    /// When the last delivery report arrived (or pending went from 0 to 1), in ms since `epoch`.
    last_progress: AtomicU64,
    epoch: Instant,
}

/// What the monitor should do after a tick.
#[derive(Debug, PartialEq, Eq)]
pub enum Tick {
    /// Nothing.
    Idle,
    /// Send a metadata probe and report with [`Breaker::probed`].
    Probe,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        metrics::gauge!(m::BREAKER_STATE).set(0.0);
        Breaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
            pending: AtomicUsize::new(0),
            last_progress: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Fails fast with 503 while open.
    pub fn check(&self) -> Result<(), RequestError> {
        match &*self.lock() {
            State::Closed { .. } => Ok(()),
            State::Open { reason, .. } | State::Probing { reason } => {
                Err(RequestError::CircuitOpen {
                    reason: reason.clone(),
                    retry_after_secs: self.config.cooldown_ms.div_ceil(1000).max(1) as u32,
                })
            }
        }
    }

    /// Where the breaker is.
    pub fn position(&self) -> Position {
        match &*self.lock() {
            State::Closed { .. } => Position::Closed,
            State::Open { .. } => Position::Open,
            State::Probing { .. } => Position::Probing,
        }
    }

    /// Records handed to the producer whose delivery report has not arrived.
    pub fn awaiting(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Why it is open, if it is.
    pub fn reason(&self) -> Option<String> {
        match &*self.lock() {
            State::Closed { .. } => None,
            State::Open { reason, .. } | State::Probing { reason } => Some(reason.clone()),
        }
    }

    /// A record was handed to the producer.
    pub fn sent(&self) {
        if self.pending.fetch_add(1, Ordering::AcqRel) == 0 {
            self.progress();
        }
    }

    /// A delivery report arrived. `retriable_failure` is true for errors that say Kafka is
    /// unreachable or too slow; permanent refusals show Kafka is up.
    pub fn reported(&self, retriable_failure: bool) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
        self.progress();
        let mut state = self.lock();
        if !retriable_failure {
            if !matches!(*state, State::Closed { .. }) {
                tracing::info!("Kafka acknowledged a record: closing the circuit breaker");
            }
            self.set(&mut state, State::Closed { failures: 0 });
            return;
        }
        if let State::Closed { failures } = &mut *state {
            *failures += 1;
            if *failures >= self.config.failures {
                let reason = format!("{failures} records in a row failed to reach Kafka");
                self.open(&mut state, "failures", reason);
            }
        }
    }

    /// librdkafka reported that every broker connection is down.
    pub fn brokers_down(&self, detail: &str) {
        let mut state = self.lock();
        if matches!(*state, State::Closed { .. }) {
            let reason = format!("all brokers are down: {detail}");
            self.open(&mut state, "brokers_down", reason);
        }
    }

    /// Called periodically: notices stalls and decides when to probe.
    pub fn tick(&self, now: Instant) -> Tick {
        let mut state = self.lock();
        match &*state {
            State::Closed { .. } => {
                let stalled_for = self
                    .ms(now)
                    .saturating_sub(self.last_progress.load(Ordering::Acquire));
                if self.pending.load(Ordering::Acquire) > 0 && stalled_for >= self.config.stall_ms {
                    let reason = format!(
                        "no acknowledgement from Kafka for {stalled_for} ms with {} records waiting",
                        self.pending.load(Ordering::Acquire)
                    );
                    self.open(&mut state, "stall", reason);
                }
                Tick::Idle
            }
            State::Open { since, reason } => {
                if now.duration_since(*since) >= Duration::from_millis(self.config.cooldown_ms) {
                    let reason = reason.clone();
                    self.set(&mut state, State::Probing { reason });
                    Tick::Probe
                } else {
                    Tick::Idle
                }
            }
            State::Probing { .. } => Tick::Idle,
        }
    }

    /// The probe's answer: `Ok` closes the breaker, `Err` opens it for another cool-down.
    pub fn probed(&self, result: Result<(), String>) {
        let mut state = self.lock();
        let State::Probing { reason } = &*state else {
            return; // An acknowledgement closed it meanwhile.
        };
        match result {
            Ok(()) => {
                tracing::info!("Kafka answered the probe: closing the circuit breaker");
                self.progress();
                self.set(&mut state, State::Closed { failures: 0 });
            }
            Err(e) => {
                tracing::warn!(error = %e, "Kafka probe failed: the circuit breaker stays open");
                let reason = reason.clone();
                self.set(
                    &mut state,
                    State::Open {
                        since: Instant::now(),
                        reason,
                    },
                );
            }
        }
    }

    /// How long the probe may wait.
    pub fn probe_timeout(&self) -> Duration {
        Duration::from_millis(self.config.probe_timeout_ms)
    }

    fn open(&self, state: &mut State, label: &'static str, reason: String) {
        tracing::error!(%reason, cooldown_ms = self.config.cooldown_ms, "circuit breaker open: failing fast");
        metrics::counter!(m::BREAKER_OPENED, "reason" => label).increment(1);
        self.set(
            state,
            State::Open {
                since: Instant::now(),
                reason,
            },
        );
    }

    fn set(&self, state: &mut State, new: State) {
        let value = match new {
            State::Closed { .. } => 0.0,
            State::Open { .. } => 1.0,
            State::Probing { .. } => 2.0,
        };
        metrics::gauge!(m::BREAKER_STATE).set(value);
        *state = new;
    }

    fn progress(&self) {
        self.last_progress
            .store(self.ms(Instant::now()), Ordering::Release);
    }

    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is always whole: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            failures: 3,
            stall_ms: 1000,
            cooldown_ms: 500,
            probe_timeout_ms: 100,
        })
    }

    #[test]
    fn opens_after_consecutive_failures_and_a_success_resets_the_count() {
        let b = breaker();
        for _ in 0..2 {
            b.sent();
            b.reported(true);
        }
        b.sent();
        b.reported(false);
        for _ in 0..2 {
            b.sent();
            b.reported(true);
        }
        assert_eq!(b.position(), Position::Closed);
        b.sent();
        b.reported(true);
        assert_eq!(b.position(), Position::Open);
        let err = b.check().unwrap_err();
        assert_eq!(err.code(), "kafka_unavailable");
        assert_eq!(err.retry_after(), Some(1));
    }

    #[test]
    fn a_stall_opens_it_and_only_the_cooldown_leads_to_a_probe() {
        let b = breaker();
        let start = Instant::now();
        b.sent();
        assert_eq!(b.tick(start + Duration::from_millis(500)), Tick::Idle);
        assert_eq!(b.position(), Position::Closed);
        assert_eq!(b.tick(start + Duration::from_millis(1500)), Tick::Idle);
        assert_eq!(b.position(), Position::Open);
        assert!(b.reason().unwrap().contains("no acknowledgement"));
        // Open "since" is the real now; a tick before the cooldown does nothing.
        assert_eq!(b.tick(Instant::now()), Tick::Idle);
        assert_eq!(
            b.tick(Instant::now() + Duration::from_millis(600)),
            Tick::Probe
        );
        assert_eq!(b.position(), Position::Probing);
        assert!(b.check().is_err(), "still failing fast while probing");
        b.probed(Err("timed out".into()));
        assert_eq!(b.position(), Position::Open);
        assert_eq!(
            b.tick(Instant::now() + Duration::from_millis(600)),
            Tick::Probe
        );
        b.probed(Ok(()));
        assert_eq!(b.position(), Position::Closed);
        assert!(b.check().is_ok());
    }

    #[test]
    fn a_late_acknowledgement_closes_it() {
        let b = breaker();
        b.brokers_down("connection refused");
        assert_eq!(b.position(), Position::Open);
        b.sent();
        b.reported(false);
        assert_eq!(b.position(), Position::Closed);
    }

    #[test]
    fn idle_gateway_never_stalls() {
        let b = breaker();
        assert_eq!(b.tick(Instant::now() + Duration::from_secs(60)), Tick::Idle);
        assert_eq!(b.position(), Position::Closed);
    }
}
