//! Drives the circuit breaker: notices stalls and, once the cool-down is over, probes Kafka
//! with a metadata request off the async threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Delivery, Tick};

/// How often the breaker is checked; stalls are noticed within this of `stall_ms`.
const PERIOD: Duration = Duration::from_millis(100);

/// Runs until `stop` turns true.
pub async fn run(delivery: Arc<Delivery>, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticks.tick() => {}
        }
        if delivery.breaker.tick(Instant::now()) == Tick::Probe {
            let probe = delivery.clone();
            let result = tokio::task::spawn_blocking(move || {
                probe
                    .producer
                    .check_reachable(probe.breaker.probe_timeout())
                    .map(|_| ())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            delivery.breaker.probed(result);
        }
    }
}
