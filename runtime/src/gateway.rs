//! Builds a running gateway from a validated config: Kafka, the filter engine, the first
//! snapshot, both listeners. The binary, the tests and the benches all start it this way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::filter::FilterEngine;
use crate::kafka::{EmbeddedCluster, Producer};
use crate::request_id::RequestIds;
use crate::server;
use crate::snapshot::{Snapshot, SnapshotError};

/// What the request handlers share.
pub(crate) struct Shared {
    pub snapshot: ArcSwap<Snapshot>,
    pub engine: Arc<FilterEngine>,
    pub producer: Producer,
    pub ids: RequestIds,
    pub max_body_bytes: u64,
    pub filter_timeout: Duration,
    pub kafka: KafkaInfo,
    pub prometheus: PrometheusHandle,
}

/// Which Kafka the gateway talks to.
pub(crate) struct KafkaInfo {
    pub bootstrap: String,
    pub embedded: bool,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The embedded cluster or the producer could not be created.
    #[error("kafka: {0}")]
    Kafka(String),
    /// The wasmtime engine could not be created.
    #[error("filter engine: {0}")]
    Engine(String),
    /// A filter could not be loaded or refused its config.
    #[error(transparent)]
    Filter(#[from] SnapshotError),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running gateway. Dropping it without [`Gateway::shutdown`] aborts its listeners.
pub struct Gateway {
    shared: Arc<Shared>,
    addr: SocketAddr,
    admin_addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    // Declared last: dropped after everything that talks to it.
    embedded: Option<EmbeddedCluster>,
}

impl Gateway {
    /// Starts everything `config` describes and returns once both listeners accept.
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        let prometheus = crate::metrics::install();

        let embedded = if config.kafka.is_embedded() {
            let cluster = EmbeddedCluster::start(config.kafka.embedded.brokers)
                .map_err(|e| StartError::Kafka(format!("embedded cluster: {e}")))?;
            let routes = config.routes.iter().map(|r| &r.topic);
            for topic in routes.chain(&config.kafka.embedded.topics) {
                cluster
                    .create_topic(topic, config.kafka.embedded.partitions)
                    .map_err(|e| StartError::Kafka(format!("create topic {topic}: {e}")))?;
            }
            tracing::warn!(
                bootstrap_servers = cluster.bootstrap_servers(),
                "embedded Kafka (librdkafka mock cluster) started: it keeps nothing after exit; \
                 set [kafka] brokers for real brokers"
            );
            Some(cluster)
        } else {
            None
        };
        let bootstrap = embedded.as_ref().map_or_else(
            || config.kafka.brokers.clone(),
            |c| c.bootstrap_servers().to_owned(),
        );
        let producer = Producer::new(&config.kafka, &bootstrap)
            .map_err(|e| StartError::Kafka(e.to_string()))?;

        let engine =
            Arc::new(FilterEngine::new().map_err(|e| StartError::Engine(format!("{e:#}")))?);
        let filter_timeout = Duration::from_millis(config.server.filter_timeout_ms);
        let snapshot = Snapshot::build(&config, &engine, filter_timeout).await?;
        tracing::info!(
            routes = config.routes.len(),
            filters = snapshot.filters.len(),
            "filters loaded"
        );

        let shared = Arc::new(Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            engine,
            producer,
            ids: RequestIds::new(),
            max_body_bytes: config.server.max_body_bytes,
            filter_timeout,
            kafka: KafkaInfo {
                bootstrap,
                embedded: embedded.is_some(),
            },
            prometheus,
        });

        let public = bind(config.server.listen).await?;
        let admin = bind(config.server.admin_listen).await?;
        let (addr, admin_addr) = (local_addr(&public)?, local_addr(&admin)?);
        let grace = Duration::from_millis(config.server.shutdown_grace_ms);
        let (stop, stopped) = watch::channel(false);
        let handler = {
            let shared = shared.clone();
            move |req, peer| server::handle(shared.clone(), req, peer)
        };
        let admin_handler = {
            let shared = shared.clone();
            move |req, peer| server::admin(shared.clone(), req, peer)
        };
        let tasks = vec![
            tokio::spawn(server::serve(public, handler, stopped.clone(), grace)),
            tokio::spawn(server::serve(admin, admin_handler, stopped, grace)),
        ];
        tracing::info!(%addr, %admin_addr, bootstrap_servers = %shared.kafka.bootstrap, "wafka is serving");
        Ok(Gateway {
            shared,
            addr,
            admin_addr,
            stop,
            tasks,
            embedded,
        })
    }

    /// Address of the public listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Address of the admin listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The `bootstrap.servers` the producer uses (the embedded cluster's when embedded).
    pub fn bootstrap_servers(&self) -> &str {
        &self.shared.kafka.bootstrap
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace period), then flushes
    /// the producer so every record answered 202 is sent before returning.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        let shared = self.shared.clone();
        let flushed =
            tokio::task::spawn_blocking(move || shared.producer.flush(Duration::from_secs(30)))
                .await;
        match flushed {
            Ok(Ok(())) => tracing::info!("producer flushed"),
            Ok(Err(e)) => {
                tracing::error!(error = %e, in_flight = self.shared.producer.in_flight(), "producer flush incomplete: records may be lost")
            }
            Err(e) => tracing::error!(error = %e, "producer flush panicked"),
        }
        drop(self.embedded.take());
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
