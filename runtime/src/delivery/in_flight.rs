//! The bound on memory held for records in flight: a count and a byte total, both checked
//! without waiting, so a full gateway answers 503 at once instead of queueing without end.

use std::sync::Arc;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::RequestError;
use crate::exchange::Record;
use crate::memory::{Action, Charge, Memory, Use};
use crate::metrics as m;

/// Capacity for records in flight.
#[derive(Clone)]
pub struct InFlight {
    records: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    max_records: usize,
    max_bytes: usize,
    /// Woken whenever a reservation is given back.
    released: Arc<Notify>,
    gauges: Gauges,
    /// The gateway's memory budget, which in-flight bytes count against too.
    memory: Arc<Memory>,
}

/// `wafka_in_flight_records` and `_bytes`, registered once.
#[derive(Clone)]
struct Gauges {
    records: metrics::Gauge,
    bytes: metrics::Gauge,
}

/// Records and bytes taken from the budget; given back when dropped.
pub struct Reservation {
    records_permit: Option<OwnedSemaphorePermit>,
    bytes_permit: Option<OwnedSemaphorePermit>,
    records: usize,
    bytes: usize,
    released: Arc<Notify>,
    gauges: Gauges,
    _memory: Option<Charge>,
}

impl InFlight {
    /// Room for `max_records` records and `max_bytes` bytes, within `memory`.
    pub fn new(max_records: usize, max_bytes: usize, memory: Arc<Memory>) -> Self {
        InFlight {
            records: Arc::new(Semaphore::new(max_records.min(Semaphore::MAX_PERMITS))),
            bytes: Arc::new(Semaphore::new(max_bytes.min(Semaphore::MAX_PERMITS))),
            max_records,
            max_bytes,
            released: Arc::new(Notify::new()),
            gauges: Gauges {
                records: metrics::gauge!(m::IN_FLIGHT_RECORDS),
                bytes: metrics::gauge!(m::IN_FLIGHT_BYTES),
            },
            memory,
        }
    }

    /// Waits until nothing is in flight, up to `timeout`; true if that happened.
    pub async fn wait_idle(&self, timeout: std::time::Duration) -> bool {
        let idle = async {
            loop {
                let released = self.released.notified();
                if self.records_in_flight() == 0 {
                    return;
                }
                released.await;
            }
        };
        tokio::time::timeout(timeout, idle).await.is_ok()
    }

    /// Takes room for `records`, or fails at once with 503 `queue_full`.
    pub fn reserve(&self, records: &[Record]) -> Result<Reservation, RequestError> {
        let count = records.len();
        let bytes: usize = records.iter().map(size).sum();
        let take = |sem: &Arc<Semaphore>, n: usize| match u32::try_from(n) {
            Ok(0) => Ok(None),
            Ok(n) => sem.clone().try_acquire_many_owned(n).map(Some),
            Err(_) => Err(TryAcquireError::NoPermits),
        };
        let full = |what: &str, limit: usize| {
            RequestError::QueueFull(format!(
                "{what} in flight would pass kafka.max_in_flight_{what} ({limit})"
            ))
        };
        let held_records =
            take(&self.records, count).map_err(|_| full("records", self.max_records))?;
        let held_bytes = take(&self.bytes, bytes).map_err(|_| full("bytes", self.max_bytes))?;
        let held = memory_held(bytes, count);
        let charge = self.memory.try_take(Use::InFlight, held).ok_or_else(|| {
            self.memory.took(Action::Refused);
            RequestError::Overloaded
        })?;
        self.gauges.records.increment(count as f64);
        self.gauges.bytes.increment(bytes as f64);
        Ok(Reservation {
            records_permit: held_records,
            bytes_permit: held_bytes,
            records: count,
            bytes,
            released: self.released.clone(),
            gauges: self.gauges.clone(),
            _memory: Some(charge),
        })
    }

    /// Records in flight now.
    pub fn records_in_flight(&self) -> usize {
        self.max_records
            .min(Semaphore::MAX_PERMITS)
            .saturating_sub(self.records.available_permits())
    }

    /// Bytes in flight now.
    pub fn bytes_in_flight(&self) -> usize {
        self.max_bytes
            .min(Semaphore::MAX_PERMITS)
            .saturating_sub(self.bytes.available_permits())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.gauges.records.decrement(self.records as f64);
        self.gauges.bytes.decrement(self.bytes as f64);
        // Give the permits back first, so woken waiters see them.
        self.records_permit.take();
        self.bytes_permit.take();
        self.released.notify_waiters();
    }
}

/// What `records` records of `bytes` bytes hold while in flight: our copy, kept until the
/// delivery report in case it must be spooled, librdkafka's copy, and each side's bookkeeping
/// (a message struct, a delivery future).
fn memory_held(bytes: usize, records: usize) -> usize {
    const PER_RECORD: usize = 512;
    2 * bytes + PER_RECORD * records
}

/// What a record costs in memory, roughly: its payload plus a fixed overhead.
pub fn size(record: &Record) -> usize {
    const OVERHEAD: usize = 64;
    let headers: usize = record.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    OVERHEAD
        + record.topic.len()
        + record.key.as_ref().map_or(0, |k| k.len())
        + record.value.as_ref().map_or(0, |v| v.len())
        + headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value_len: usize) -> Record {
        let mut r = Record::new("t");
        r.value = Some(vec![0; value_len].into());
        r
    }

    #[test]
    fn full_budget_refuses_at_once_and_frees_on_drop() {
        let in_flight = InFlight::new(3, 1 << 20, Memory::new(1 << 30));
        let held = in_flight.reserve(&[record(1), record(1)]).unwrap();
        assert_eq!(in_flight.records_in_flight(), 2);
        let err = in_flight.reserve(&[record(1), record(1)]).err().unwrap();
        assert_eq!(err.code(), "queue_full");
        assert!(
            err.to_string().contains("max_in_flight_records (3)"),
            "{err}"
        );
        drop(held);
        assert_eq!(in_flight.records_in_flight(), 0);
        assert!(
            in_flight
                .reserve(&[record(1), record(1), record(1)])
                .is_ok()
        );
    }

    #[test]
    fn bytes_are_bounded_too_and_a_refusal_keeps_nothing() {
        let in_flight = InFlight::new(100, 1000, Memory::new(1 << 30));
        let _held = in_flight.reserve(&[record(600)]).unwrap();
        let err = in_flight.reserve(&[record(600)]).err().unwrap();
        assert!(
            err.to_string().contains("max_in_flight_bytes (1000)"),
            "{err}"
        );
        // The refused request's record count was given back with its bytes.
        assert_eq!(in_flight.records_in_flight(), 1);
        assert_eq!(in_flight.bytes_in_flight(), size(&record(600)));
    }
}
