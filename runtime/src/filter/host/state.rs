use crate::filter::bindings::wafka::filter::state;
use crate::filter::store::StoreData;

impl state::Host for StoreData {
    fn take_tokens(
        &mut self,
        key: String,
        capacity: u64,
        refill_per_second: u64,
        cost: u64,
    ) -> wasmtime::Result<state::TakeResult> {
        check_key(&key)?;
        let now = crate::clock::now_millis();
        let taken = self
            .scope()?
            .take(&key, capacity, refill_per_second, cost, now);
        Ok(state::TakeResult {
            allowed: taken.allowed,
            remaining: taken.remaining,
            retry_after_ms: taken.retry_after_ms,
        })
    }

    fn add(&mut self, key: String, delta: i64, ttl_ms: u64) -> wasmtime::Result<i64> {
        check_key(&key)?;
        let now = crate::clock::now_millis();
        Ok(self.scope()?.add(&key, delta, ttl_ms, now))
    }
}

/// A key the rules refuse traps the instance (the SDK's native stand-in panics alike).
fn check_key(key: &str) -> wasmtime::Result<()> {
    wafka_sdk::host::check_state_key(key).map_err(wasmtime::Error::msg)
}
