use crate::filter::bindings::wafka::filter::config;
use crate::filter::state::FilterState;

impl config::Host for FilterState {
    fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self
            .step
            .as_ref()
            .map_or_else(|| "{}".to_owned(), |s| s.config_json.to_string()))
    }
}
