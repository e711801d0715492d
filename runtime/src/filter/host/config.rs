use crate::filter::bindings::wafka::filter::config;
use crate::filter::store::StoreData;

impl config::Host for StoreData {
    fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self
            .step
            .as_ref()
            .map_or_else(|| "{}".to_owned(), |s| s.config_json.to_string()))
    }
}
