//! Builds a running gateway from a validated config: Kafka, the filter engine, the first
//! snapshot, both listeners. The binary, the tests and the benches all start it this way.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::build::{BuildError, Builder};
use crate::config::{Config, ConfigError, StartOnly};
use crate::delivery::{Breaker, Delivery, Spool};
use crate::filter::{DiskCache, FilterEngine};
use crate::kafka::cluster::Cluster;
use crate::kafka::{EmbeddedCluster, Producer};
use crate::memory::Memory;
use crate::metrics::RouteMetrics;
use crate::read::Reading;
use crate::reload::{Reloader, Reloads};
use crate::request_id::RequestIds;
use crate::server::{self, Admin, Filters, Producing, Services};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The embedded cluster or the producer could not be created.
    #[error("kafka: {0}")]
    Kafka(String),
    /// The wasmtime engine could not be created.
    #[error("filter engine: {0}")]
    Engine(String),
    /// The config file could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The filters directory or the config file cannot be watched.
    #[error("cannot watch for changes: {0}")]
    Watch(String),
    /// The config could not become a snapshot: a filter, a property, a certificate.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The spool directory could not be opened or recovered.
    #[error("spool: {0}")]
    Spool(String),
    /// The schema registry's topic could not be created or read.
    #[error("schema registry: {0}")]
    SchemaRegistry(String),
    /// The idempotency keys' topic could not be created or read.
    #[error("idempotency: {0}")]
    Idempotency(String),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

impl StartError {
    /// The error as `wafka run` prints it: naming the config file where it is about the file.
    pub fn in_file(&self, path: &Path) -> String {
        match self {
            StartError::Config(e) => e.to_string(),
            StartError::Build(e) => e.in_file(path),
            other => format!("{}: {other}", path.display()),
        }
    }
}

/// A running gateway. Dropping it without [`Gateway::shutdown`] aborts its listeners.
pub struct Gateway {
    /// What the request path runs on.
    services: Arc<Services>,
    /// What reloads replace.
    reloader: Arc<Reloader>,
    addr: SocketAddr,
    admin_addr: SocketAddr,
    schema_registry_addr: Option<SocketAddr>,
    bootstrap: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The embedded cluster, if any; last, so it stops after the producer and the registry's
    /// follower.
    embedded: Option<Arc<EmbeddedCluster>>,
}

impl Gateway {
    /// Starts from a config file and follows it: changes to the file or to the filters
    /// directory are loaded without a restart (see [`crate::reload`]).
    pub async fn start_watching(path: &Path) -> Result<Gateway, StartError> {
        let config = crate::config::load(path)?;
        let filters_dir = config.filters.dir.clone();
        let tls_files = config.server.tls.iter().flat_map(|t| {
            [
                Some(t.cert.clone()),
                Some(t.key.clone()),
                t.client_ca.clone(),
            ]
        });
        let tls_files: Vec<_> = tls_files.flatten().collect();
        let mut gateway = Self::start(config).await?;
        let watcher = crate::watcher::spawn(
            gateway.reloader.clone(),
            path.to_owned(),
            filters_dir,
            tls_files,
            gateway.stop.subscribe(),
        )
        .map_err(|e| StartError::Watch(e.to_string()))?;
        gateway.tasks.push(watcher);
        Ok(gateway)
    }

    /// Starts everything `config` describes and returns once its listeners accept. The config
    /// is fixed: nothing is watched.
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        let start = StartOnly::of(&config);
        let prometheus = start.metrics.then(crate::metrics::install);
        let memory = Memory::new(
            start
                .max_memory_bytes
                .unwrap_or_else(crate::memory::default_limit),
        );
        tracing::info!(
            max_memory_bytes = memory.limit(),
            "memory budget: large bodies wait and accepting slows past 80 %, new requests are refused past 95 %"
        );
        let engine = FilterEngine::new(start.filters.memory_reset, start.max_filter_instances)
            .map_err(StartError::Engine)?;
        let embedded = if start.kafka.is_embedded() {
            let cluster = EmbeddedCluster::start(start.kafka.embedded.brokers)
                .map_err(|e| StartError::Kafka(format!("embedded cluster: {e}")))?;
            tracing::warn!(
                bootstrap_servers = cluster.bootstrap_servers(),
                "embedded Kafka (librdkafka mock cluster) started: it keeps nothing after exit; \
                 set [kafka] brokers for real brokers"
            );
            Some(Arc::new(cluster))
        } else {
            None
        };
        let mut builder = Builder {
            engine: Arc::new(engine),
            cache: Some(DiskCache::new(start.filters.cache_dir())),
            previous: None,
            embedded: embedded.clone(),
            schemas: None,
        };
        // Before anything talks to librdkafka: its property check masks secrets.
        let prepared = {
            let builder = builder.clone();
            tokio::task::spawn_blocking(move || builder.prepare(config))
                .await
                .map_err(|e| StartError::Engine(format!("loading filters panicked: {e}")))??
        };
        let bootstrap = embedded.as_ref().map_or_else(
            || start.kafka.brokers.clone(),
            |c| c.bootstrap_servers().to_owned(),
        );
        let cluster = Arc::new(Cluster::new(&start.kafka, &bootstrap, embedded.clone()));
        // Before the filters' configs are checked: they may use it.
        builder.schemas = match &start.schema_registry {
            Some(settings) => Some(Arc::new(
                crate::schemas::Registry::open(settings, &start.kafka, &bootstrap, &cluster)
                    .await
                    .map_err(StartError::SchemaRegistry)?,
            )),
            None => None,
        };
        let (snapshot, acceptor) = builder.finish(prepared).await?;
        snapshot.identity.start();
        let breaker = Arc::new(Breaker::new(start.kafka.breaker.clone()));
        let hears = breaker.clone();
        let brokers_down = Arc::new(move |reason: &str| hears.brokers_down(reason));
        let producer = Producer::new(&start.kafka, &bootstrap, brokers_down)
            .map_err(|e| StartError::Kafka(e.to_string()))?;
        let spool = match &start.spool {
            Some(spool) => Some(
                Spool::open(spool)
                    .map_err(|e| StartError::Spool(format!("{}: {e}", spool.dir.display())))?,
            ),
            None => None,
        };
        let delivery = Arc::new(Delivery::new(
            producer,
            breaker,
            spool,
            &start.kafka,
            memory.clone(),
        ));
        let keys = match &start.idempotency {
            Some(settings) => Some(
                crate::idempotency::Keys::open(settings, &start.kafka, &bootstrap, &cluster)
                    .await
                    .map_err(StartError::Idempotency)?,
            ),
            None => None,
        };
        let tracer = start.tracing.as_ref().map(|settings| {
            tracing::info!(
                otlp_endpoint = settings
                    .otlp_endpoint
                    .as_deref()
                    .unwrap_or("none: traceparent only"),
                sample_ratio = settings.sample_ratio,
                "tracing"
            );
            Arc::new(crate::trace::Tracer::start(settings))
        });
        snapshot.publish_versions(None);
        tracing::info!(
            routes = snapshot.config.routes.len(),
            filters = snapshot.filters.len(),
            "filters loaded"
        );

        let conn_limits = server::ConnLimits::from_start(&start);
        let reading = Arc::new(Reading::new(
            &start.kafka,
            &bootstrap,
            start.max_streams,
            start.max_fetches,
            memory.clone(),
        ));
        if snapshot.config.routes.iter().any(|r| r.read.is_some()) {
            reading.warm();
        }
        let consumers = Arc::new(crate::rest_proxy::instances::Instances::new(
            &start.kafka,
            &bootstrap,
            memory.clone(),
        ));
        let tls = acceptor.map(|a| Arc::new(ArcSwap::from_pointee(a)));
        let live = Arc::new(ArcSwap::from_pointee(snapshot));
        let (stop, stopped) = watch::channel(false);
        let services = Arc::new(Services {
            live: live.clone(),
            ids: RequestIds::new(),
            producing: Producing {
                filters: Arc::new(Filters {
                    engine: builder.engine.clone(),
                    slots: Arc::new(tokio::sync::Semaphore::new(start.max_filter_instances)),
                    memory: memory.clone(),
                }),
                cluster,
                schemas: builder.schemas.clone(),
                delivery,
                keys,
                tracer,
            },
            reading,
            consumers,
            memory: memory.clone(),
            stop: stopped.clone(),
            draining: Default::default(),
            unmatched: RouteMetrics::new("unmatched"),
            public: (start.listen, tls.is_some()),
        });

        let public = bind(start.listen).await?;
        let admin = bind(start.admin_listen).await?;
        let (addr, admin_addr) = (local_addr(&public)?, local_addr(&admin)?);
        // The embedded registry's own listener (an external one is served elsewhere).
        let registry = services.producing.schemas.as_deref();
        let registry_listener = match (registry, &start.schema_registry) {
            (Some(r), Some(settings)) if r.remote_url().is_none() => {
                Some(bind(settings.listen).await?)
            }
            _ => None,
        };
        let schema_registry_addr = registry_listener.as_ref().map(local_addr).transpose()?;
        let admin_state = Arc::new(Admin {
            services: services.clone(),
            reloads: Arc::new(Reloads::default()),
            prometheus,
            kafka: (bootstrap.clone(), embedded.is_some()),
            listening: server::Listening {
                public: addr,
                admin: admin_addr,
                registry: schema_registry_addr,
                tls: tls.is_some(),
            },
        });
        let handler = {
            let services = services.clone();
            move |req, peer| server::handle(services.clone(), req, peer)
        };
        let admin_handler = {
            let admin = admin_state.clone();
            move |req, peer| server::admin(admin.clone(), req, peer)
        };
        let mut tasks = vec![
            tokio::spawn(server::serve(
                public,
                handler,
                stopped.clone(),
                conn_limits,
                tls.clone(),
                Some(memory.clone()),
            )),
            // The admin listener always accepts: it is how an operator sees the overload.
            tokio::spawn(server::serve(
                admin,
                admin_handler,
                stopped,
                conn_limits,
                None,
                None,
            )),
        ];
        if let Some(url) = registry.and_then(|r| r.remote_url()) {
            tracing::info!(
                url,
                "schema registry: external, asked once per schema and kept"
            );
        } else if let (Some(listener), Some(settings)) = (registry_listener, &start.schema_registry)
        {
            let handler = {
                let services = services.clone();
                move |req, peer| server::handle_registry(services.clone(), req, peer)
            };
            // The public listener's TLS, so one certificate serves both doors.
            tasks.push(tokio::spawn(server::serve(
                listener,
                handler,
                stop.subscribe(),
                conn_limits,
                tls.clone(),
                Some(memory.clone()),
            )));
            tracing::info!(addr = %schema_registry_addr.unwrap_or(settings.listen), topic = %settings.topic, tls = tls.is_some(), "schema registry is serving");
        }
        if let Some(handle) = admin_state.prometheus.clone() {
            tasks.push(tokio::spawn(crate::metrics::upkeep(
                handle,
                stop.subscribe(),
            )));
        }
        let delivery = &services.producing.delivery;
        tasks.push(tokio::spawn(crate::delivery::monitor(
            delivery.clone(),
            stop.subscribe(),
        )));
        let lookup = crate::delivery::Lookup {
            kafka: start.kafka.clone(),
            bootstrap: bootstrap.clone(),
        };
        tasks.push(tokio::spawn(crate::delivery::replay(
            delivery.clone(),
            lookup,
            stop.subscribe(),
        )));
        tasks.push(tokio::spawn(
            services.reading.clone().reap(stop.subscribe()),
        ));
        tasks.push(tokio::spawn(memory.clone().shed_stalled(stop.subscribe())));
        let idle = {
            let live = Arc::downgrade(&live);
            move || {
                let live = live.upgrade()?;
                let config = live.load();
                let ms = config.config.rest_proxy.as_ref()?.consumer_idle_ms;
                Some(std::time::Duration::from_millis(ms))
            }
        };
        tasks.push(tokio::spawn(
            services.consumers.clone().reap(idle, stop.subscribe()),
        ));
        tracing::info!(%addr, %admin_addr, bootstrap_servers = %bootstrap, "wafka is serving");
        let reloader = Arc::new(Reloader {
            live,
            builder,
            reloads: admin_state.reloads.clone(),
            tls,
            start,
            panic_next: Default::default(),
        });
        Ok(Gateway {
            services,
            reloader,
            addr,
            admin_addr,
            schema_registry_addr,
            bootstrap,
            stop,
            tasks,
            embedded,
        })
    }

    /// Makes the next reload panic while it reads the files, to test how that is reported.
    #[doc(hidden)]
    pub fn panic_in_next_reload(&self) {
        self.reloader
            .panic_next
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Address of the public listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Address of the admin listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Address of the schema registry listener, when `[schema_registry]` is on.
    pub fn schema_registry_addr(&self) -> Option<SocketAddr> {
        self.schema_registry_addr
    }

    /// The `bootstrap.servers` the producer uses (the embedded cluster's when embedded).
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// The embedded cluster, when the gateway runs one: for fault injection in tests.
    pub fn embedded(&self) -> Option<&EmbeddedCluster> {
        self.embedded.as_deref()
    }

    /// Tells load balancers to move away: `/readyz` answers 503 from now on, and everything else
    /// is served as before for `server.drain_notice_ms`, long enough for their health checks
    /// to see it. Returns at once when the notice is 0.
    pub async fn give_notice(&self) {
        let notice = Duration::from_millis(self.reloader.start.drain_notice_ms);
        if notice.is_zero() {
            return;
        }
        self.services
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            notice_ms = notice.as_millis() as u64,
            "draining: /readyz answers 503; still serving until the notice ends"
        );
        tokio::time::sleep(notice).await;
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace period), then flushes
    /// the producer so every record answered 202 is sent, or spooled, before returning.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        let grace = self.reloader.start.shutdown_grace_ms;
        let flush = Duration::from_millis(grace).max(Duration::from_secs(1));
        self.services.producing.delivery.shutdown(flush).await;
        if let Some(tracer) = &self.services.producing.tracer {
            tracer.flush().await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Bind {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })
}
