use crate::filter::bindings::wafka::filter::clock;
use crate::filter::state::FilterState;

impl clock::Host for FilterState {
    fn now_millis(&mut self) -> wasmtime::Result<u64> {
        Ok(crate::clock::now_millis())
    }
}
