//! `TestGateway`: the real gateway on loopback ports, with filters copied from the build into
//! a temporary filters directory, against the chosen broker.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use wafka::Gateway;
use wafka::config::Config;

use crate::broker::{Broker, Tansu};
use crate::http::{Response, request};

/// Builder for a test gateway.
pub struct TestGatewayBuilder {
    broker: Broker,
    filters: Vec<String>,
    routes: String,
    topics: Vec<String>,
    edit: Vec<Box<dyn FnOnce(&mut Config)>>,
}

/// A running gateway and everything it needs; stopped and cleaned up on drop.
pub struct TestGateway {
    gateway: Option<Gateway>,
    /// Holds the filters directory and config file.
    pub dir: tempfile::TempDir,
    /// The bootstrap servers records go to.
    pub bootstrap: String,
    // Dropped after the gateway.
    _tansu: Option<Tansu>,
}

impl TestGateway {
    /// Starts building a gateway against `broker`.
    pub fn builder(broker: Broker) -> TestGatewayBuilder {
        TestGatewayBuilder {
            broker,
            filters: Vec::new(),
            routes: String::new(),
            topics: Vec::new(),
            edit: Vec::new(),
        }
    }

    /// The running gateway.
    pub fn gateway(&self) -> &Gateway {
        self.gateway.as_ref().expect("gateway running")
    }

    /// POSTs `body` to `path` with a JSON content type.
    pub async fn post(&self, path: &str, body: impl Into<Bytes>) -> Response {
        self.send("POST", path, &[("content-type", "application/json")], body)
            .await
    }

    /// Sends any request to the public listener.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Response {
        request(self.gateway().addr(), method, path, headers, body).await
    }

    /// GETs a path on the admin listener.
    pub async fn admin(&self, path: &str) -> Response {
        request(self.gateway().admin_addr(), "GET", path, &[], Bytes::new()).await
    }

    /// Shuts the gateway down gracefully.
    pub async fn shutdown(mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await;
        }
    }
}

impl TestGatewayBuilder {
    /// Installs the compiled filter `name` (e.g. `json-enrich`) in the filters directory.
    pub fn filter(mut self, name: &str) -> Self {
        self.filters.push(name.to_owned());
        self
    }

    /// The `[[routes]]` part of the config, as TOML.
    pub fn routes(mut self, toml: &str) -> Self {
        self.routes = toml.to_owned();
        self
    }

    /// Topics that must exist besides the routes' own (e.g. a router's targets).
    pub fn topics(mut self, topics: &[&str]) -> Self {
        self.topics.extend(topics.iter().map(|t| t.to_string()));
        self
    }

    /// Changes the parsed config before start (limits, producer properties...).
    pub fn configure(mut self, edit: impl FnOnce(&mut Config) + 'static) -> Self {
        self.edit.push(Box::new(edit));
        self
    }

    /// Starts the broker (for tansu), the gateway, and creates the topics.
    pub async fn start(self) -> TestGateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let filters_dir = dir.path().join("filters.d");
        std::fs::create_dir(&filters_dir).expect("create filters dir");
        for name in &self.filters {
            install_filter(&filters_dir, name);
        }
        let tansu = (self.broker == Broker::Tansu).then(Tansu::start);
        let mut config = Config::from_toml(&self.routes, Path::new("test.toml"), dir.path())
            .expect("test config is valid");
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.server.admin_listen = "127.0.0.1:0".parse().unwrap();
        config.filters.dir = filters_dir;
        if let Some(t) = &tansu {
            config.kafka.brokers = t.bootstrap.clone();
        }
        config
            .kafka
            .embedded
            .topics
            .extend(self.topics.iter().cloned());
        for edit in self.edit {
            edit(&mut config);
        }
        let mut topics: Vec<String> = config.routes.iter().map(|r| r.topic.clone()).collect();
        topics.extend(self.topics);
        topics.sort();
        topics.dedup();
        if let Some(t) = &tansu {
            for topic in &topics {
                t.create_topic(topic, 3);
            }
        }
        let gateway = Gateway::start(config).await.expect("gateway starts");
        let bootstrap = gateway.bootstrap_servers().to_owned();
        TestGateway {
            gateway: Some(gateway),
            dir,
            bootstrap,
            _tansu: tansu,
        }
    }
}

/// Copies the built `name` filter into `dir` as `name.wasm`.
pub fn install_filter(dir: &Path, name: &str) -> PathBuf {
    let from = crate::wasm(name);
    let to = dir.join(format!("{name}.wasm"));
    std::fs::copy(&from, &to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    to
}
