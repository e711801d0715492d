//! Settings bound at start: the listeners, connection limits, the producer, the spool, the
//! filter engine. The gateway reads them from [`StartOnly`] alone, and a reload compares the
//! new file against it, so the list of settings that need a restart is this one list.

use std::net::SocketAddr;

use super::{
    Config, FiltersConfig, IdempotencyConfig, KafkaConfig, SchemaRegistryConfig, SpoolConfig,
    TlsConfig, TracingConfig,
};

macro_rules! start_only {
    ($($field:ident: $ty:ty = $($path:ident).+;)*) => {
        /// The settings of the config the gateway started with that only a restart changes.
        #[derive(Debug, Clone, PartialEq)]
        pub struct StartOnly {
            $(
                #[doc = concat!("`", stringify!($($path).+), "`")]
                pub $field: $ty,
            )*
            /// `[server.tls]` as at start: turning TLS on or off changes the listener; new
            /// certificate files only need a reload.
            pub tls: Option<TlsConfig>,
        }

        impl StartOnly {
            /// The start-only settings of `config`.
            pub fn of(config: &Config) -> Self {
                StartOnly {
                    $($field: config.$($path).+.clone(),)*
                    tls: config.server.tls.clone(),
                }
            }

            /// Puts every start-only setting of `new` back to the running value and names the
            /// ones that differed, e.g. `server.listen`.
            pub fn keep(&self, new: &mut Config) -> Vec<String> {
                let this = self.reloadable_from(new);
                let mut changed = Vec::new();
                $(
                    if new.$($path).+ != this.$field {
                        changed.push(stringify!($($path).+).replace(' ', ""));
                        new.$($path).+ = this.$field.clone();
                    }
                )*
                if new.server.tls.is_some() != self.tls.is_some() {
                    changed.push("server.tls".to_owned());
                    new.server.tls = self.tls.clone();
                }
                changed
            }
        }
    };
}

start_only! {
    listen: SocketAddr = server.listen;
    admin_listen: SocketAddr = server.admin_listen;
    shutdown_grace_ms: u64 = server.shutdown_grace_ms;
    drain_notice_ms: u64 = server.drain_notice_ms;
    metrics: bool = server.metrics;
    request_header_timeout_ms: u64 = server.request_header_timeout_ms;
    max_headers: usize = server.max_headers;
    max_header_bytes: usize = server.max_header_bytes;
    max_connections: usize = server.max_connections;
    max_h2_streams: u32 = server.max_h2_streams;
    max_filter_instances: usize = server.max_filter_instances;
    max_streams: usize = server.max_streams;
    max_fetches: usize = server.max_fetches;
    write_timeout_ms: u64 = server.write_timeout_ms;
    max_memory_bytes: Option<usize> = server.max_memory_bytes;
    kafka: KafkaConfig = kafka;
    spool: Option<SpoolConfig> = spool;
    filters: FiltersConfig = filters;
    schema_registry: Option<SchemaRegistryConfig> = schema_registry;
    idempotency: Option<IdempotencyConfig> = idempotency;
    tracing: Option<TracingConfig> = tracing;
}

impl StartOnly {
    /// These settings with the parts of start-only tables that do reload taken from `new`:
    /// the schema registry's filters and `error_details` (its listener and topic stay).
    fn reloadable_from(&self, new: &Config) -> StartOnly {
        let mut this = self.clone();
        if let (Some(running), Some(new)) = (&mut this.schema_registry, &new.schema_registry) {
            running.filters = new.filters.clone();
            running.error_details = new.error_details;
        }
        this
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn start_only_settings_are_kept_and_named() {
        let text = "[[routes]]\nname = \"a\"\npath = \"/a\"\ntopic = \"a\"\n";
        let live = Config::from_toml(text, Path::new("w.toml"), Path::new("/")).unwrap();
        let changed = format!("[server]\nlisten = \"127.0.0.1:1\"\nmax_body_bytes = 7\n{text}");
        let mut new = Config::from_toml(&changed, Path::new("w.toml"), Path::new("/")).unwrap();
        assert_eq!(StartOnly::of(&live).keep(&mut new), vec!["server.listen"]);
        assert_eq!(new.server.listen, live.server.listen);
        assert_eq!(new.server.max_body_bytes, 7, "live settings still change");
    }
}
