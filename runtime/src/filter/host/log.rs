use crate::filter::bindings::wafka::filter::log::{self, Level};
use crate::filter::store::StoreData;

/// Longest log message kept from a filter, in bytes; the rest is cut so a filter cannot flood
/// the log pipeline with one call.
const MAX_MESSAGE: usize = 4096;

impl log::Host for StoreData {
    fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let mut message = message;
        if message.len() > MAX_MESSAGE {
            let cut = message.floor_char_boundary(MAX_MESSAGE);
            message.truncate(cut);
            message.push('…');
        }
        let filter = self.filter_name();
        let (route, request_id) = (&*self.route, &*self.request_id);
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(target: "wafka::filter", filter, route, request_id, "{message}")
            };
        }
        match level {
            Level::Trace => emit!(trace),
            Level::Debug => emit!(debug),
            Level::Info => emit!(info),
            Level::Warn => emit!(warn),
            Level::Error => emit!(error),
        }
        Ok(())
    }
}
