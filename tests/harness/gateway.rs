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
    edit: Vec<ConfigEdit>,
    watch: bool,
    tls: Option<wafka::config::TlsConfig>,
    schema_registry: bool,
}

/// A change to the parsed config, applied before start.
type ConfigEdit = Box<dyn FnOnce(&mut Config)>;

/// A running gateway and everything it needs; stopped and cleaned up on drop.
pub struct TestGateway {
    gateway: Option<Gateway>,
    /// Holds the filters directory and config file.
    pub dir: tempfile::TempDir,
    /// The bootstrap servers records go to.
    pub bootstrap: String,
    /// For watched gateways: the config file's fixed head ([server], [kafka], [filters]).
    head: String,
    /// The config it started with, for `restart`.
    config: Config,
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
            watch: false,
            tls: None,
            schema_registry: false,
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

    /// Sends a request to the schema registry listener (`[schema_registry]`).
    pub async fn registry(&self, method: &str, path: &str, body: impl Into<Bytes>) -> Response {
        self.registry_as(None, method, path, body).await
    }

    /// Like [`Self::registry`], with `Authorization: Bearer {token}` when given.
    pub async fn registry_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: impl Into<Bytes>,
    ) -> Response {
        let addr = self.registry_addr();
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/vnd.schemaregistry.v1+json")];
        headers.extend(bearer.as_deref().map(|b| ("authorization", b)));
        request(addr, method, path, &headers, body).await
    }

    /// The schema registry listener's address.
    pub fn registry_addr(&self) -> std::net::SocketAddr {
        self.gateway()
            .schema_registry_addr()
            .expect("the gateway runs a schema registry")
    }

    /// The schema registry's URL, as registry clients take it.
    pub fn registry_url(&self) -> String {
        format!("http://{}", self.registry_addr())
    }

    /// GETs a path on the admin listener.
    pub async fn admin(&self, path: &str) -> Response {
        request(self.gateway().admin_addr(), "GET", path, &[], Bytes::new()).await
    }

    /// The filters directory.
    pub fn filters_dir(&self) -> PathBuf {
        self.dir.path().join("filters.d")
    }

    /// Replaces the `[[routes]]` part of the config file (watched gateways).
    pub fn write_routes(&self, routes: &str) {
        let path = self.dir.path().join("wafka.toml");
        std::fs::write(path, format!("{}{routes}", self.head)).expect("write config");
    }

    /// Writes the config file as given, head included.
    pub fn write_config_text(&self, text: &str) {
        std::fs::write(self.dir.path().join("wafka.toml"), text).expect("write config");
    }

    /// `GET /admin/reloads`.
    pub async fn reloads(&self) -> serde_json::Value {
        self.admin("/admin/reloads").await.json()
    }

    /// Waits until a reload after `before` (a `reloads()` value) has finished, and returns
    /// the new status. `ok` says which outcome is expected.
    pub async fn reloaded(&self, before: &serde_json::Value, ok: bool) -> serde_json::Value {
        let field = if ok { "generation" } else { "failures" };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let now = self.reloads().await;
            if now[field].as_u64() > before[field].as_u64() {
                return now;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {} reload within 20 s; status {now}",
                if ok { "successful" } else { "failed" }
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// `GET /admin/filters` as name → sha256.
    pub async fn live_filters(&self) -> std::collections::BTreeMap<String, String> {
        let filters = self.admin("/admin/filters").await.json();
        filters["filters"]
            .as_array()
            .expect("filters array")
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_owned(),
                    f["sha256"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Shuts the gateway down gracefully.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Shuts the gateway down gracefully, keeping the broker (tansu) running so what was
    /// produced can still be read.
    pub async fn stop(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await;
        }
    }

    /// Stops the gateway gracefully and starts it again from the same config (same filters
    /// directory, spool and broker), as a process restart would. Ports change.
    pub async fn restart(&mut self) {
        self.stop().await;
        let gateway = Gateway::start(self.config.clone())
            .await
            .expect("gateway restarts");
        self.bootstrap = gateway.bootstrap_servers().to_owned();
        self.gateway = Some(gateway);
    }

    /// The tansu broker, when the test runs against one.
    pub fn tansu(&self) -> Option<&Tansu> {
        self._tansu.as_ref()
    }

    /// Scrapes and parses `/metrics`.
    pub async fn metrics(&self) -> Vec<crate::prometheus::Sample> {
        let res = self.admin("/metrics").await;
        assert_eq!(res.status, 200);
        crate::prometheus::parse(std::str::from_utf8(&res.body).expect("metrics are UTF-8"))
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

    /// Starts from a config file and follows changes to it and to the filters directory, as
    /// `wafka run` does. `configure` edits are written into that file.
    pub fn watched(mut self) -> Self {
        self.watch = true;
        self
    }

    /// Runs the embedded schema registry on a free port.
    pub fn schema_registry(mut self) -> Self {
        self.schema_registry = true;
        self
    }

    /// Serves TLS with these files (written into the config file, so they reload).
    pub fn tls(mut self, tls: wafka::config::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Changes the parsed config before start (limits, producer properties...).
    pub fn configure(mut self, edit: impl FnOnce(&mut Config) + 'static) -> Self {
        self.edit.push(Box::new(edit));
        self
    }

    /// Starts the broker (for tansu), the gateway, and creates the topics.
    pub async fn start(self) -> TestGateway {
        self.start_with(|_| {}).await
    }

    /// Like `start`, running `prepare` on the filters directory before the gateway starts.
    pub async fn start_with(self, prepare: impl FnOnce(&Path)) -> TestGateway {
        crate::logs::capture();
        let dir = tempfile::tempdir().expect("temp dir");
        let filters_dir = dir.path().join("filters.d");
        std::fs::create_dir(&filters_dir).expect("create filters dir");
        for name in &self.filters {
            install_filter(&filters_dir, name);
        }
        prepare(&filters_dir);
        let tansu = (self.broker == Broker::Tansu).then(Tansu::start);
        let brokers = tansu.as_ref().map_or("embedded", |t| t.bootstrap.as_str());
        let tls = self.tls.as_ref().map_or(String::new(), |t| {
            let ca = t
                .client_ca
                .as_ref()
                .map_or(String::new(), |ca| format!("client_ca = {ca:?}\n"));
            format!("[server.tls]\ncert = {:?}\nkey = {:?}\n{ca}", t.cert, t.key)
        });
        let mut head = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n{tls}\
             [kafka]\nbrokers = {brokers:?}\n[kafka.embedded]\ntopics = {:?}\n\
             [filters]\ndir = \"filters.d\"\n{}",
            self.topics,
            if self.schema_registry {
                "[schema_registry]\nlisten = \"127.0.0.1:0\"\n"
            } else {
                ""
            },
        );
        let config_text = format!("{head}{}", self.routes);
        let config_path = dir.path().join("wafka.toml");
        std::fs::write(&config_path, &config_text).expect("write config");
        let mut config = Config::from_toml(&config_text, &config_path, dir.path())
            .expect("test config is valid");
        let edited = !self.edit.is_empty();
        for edit in self.edit {
            edit(&mut config);
        }
        if edited && self.watch {
            // The file is what a watched gateway reads: write the edits into it.
            let head_only = Config {
                routes: Vec::new(),
                ..config.clone()
            };
            head = toml::to_string(&head_only)
                .expect("config as TOML")
                .lines()
                .filter(|l| *l != "routes = []")
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&config_path, format!("{head}{}", self.routes)).expect("write config");
        }
        let mut topics: Vec<String> = config
            .routes
            .iter()
            .filter(|r| r.read.is_none())
            .map(|r| r.topic.clone())
            .collect();
        topics.extend(self.topics);
        topics.sort();
        topics.dedup();
        if let Some(t) = &tansu {
            for topic in &topics {
                t.create_topic(topic, 3);
            }
        }
        let gateway = if self.watch {
            Gateway::start_watching(&config_path).await
        } else {
            Gateway::start(config.clone()).await
        };
        let gateway = gateway.expect("gateway starts");
        let bootstrap = gateway.bootstrap_servers().to_owned();
        TestGateway {
            gateway: Some(gateway),
            dir,
            bootstrap,
            head,
            config,
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
