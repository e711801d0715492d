use crate::filter::bindings::wafka::filter::clock;
use crate::filter::store::StoreData;

impl clock::Host for StoreData {
    fn now_millis(&mut self) -> wasmtime::Result<u64> {
        Ok(crate::clock::now_millis())
    }
}
