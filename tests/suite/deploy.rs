//! The deployment files in `deploy/`, kept working: the Kubernetes manifests against Kubernetes'
//! own schemas (kubernetes-validate, PyPI, pinned in tests/python), the ConfigMap's config
//! through `wafka check`, the rules that tie the files' numbers together, the runtime stage's
//! packages against what the binary links, and the gateway run the way the container runs it:
//! uid 65532 without capabilities, a read-only root where only the Deployment's writable
//! volumes can be written, the ConfigMap's config, a record produced and read back, a drain on
//! SIGTERM and exit 0. The image itself is not built: no container registry is reachable here
//! to pull its base images (deploy/README.md).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wafka_tests::broker::{Tansu, free_port};
use wafka_tests::kafka::read_all;
use wafka_tests::{Response, prometheus, python, try_request};

use crate::shutdown::wafka_binary;

/// The Kubernetes versions the manifests are validated against: 1.30, the oldest they are
/// written for (the preStop `sleep` action is on by default from there), and the newest
/// kubernetes-validate ships.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

/// The topics the ConfigMap's routes write (its comment says to create them first).
const TOPICS: [&str; 3] = ["events.web", "events.mobile", "logs"];

const MIB: u64 = 1 << 20;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `deploy/kubernetes/*.yaml` but the kustomization, sorted.
fn manifest_files() -> Vec<PathBuf> {
    let dir = repo().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "manifests missing in {}", dir.display());
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The YAML documents of `files` as JSON, by file name (tests/python/yaml_json.py: the suite
/// has no YAML parser of its own).
async fn documents(files: &[PathBuf]) -> BTreeMap<String, Vec<Value>> {
    let args: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = python::run("yaml_json.py", &args).await;
    let by_path: BTreeMap<String, Vec<Value>> =
        serde_json::from_str(&out).expect("yaml_json.py prints JSON");
    by_path
        .into_iter()
        .map(|(path, docs)| (file_name(Path::new(&path)), docs))
        .collect()
}

/// The filters the image ships and the init container copies: scripts/build-filters.sh's list.
fn shipped_filters() -> Vec<String> {
    let script = std::fs::read_to_string(repo().join("scripts/build-filters.sh")).unwrap();
    let list = script
        .lines()
        .find_map(|l| l.trim().strip_prefix("shipped=("))
        .expect("scripts/build-filters.sh lists the shipped filters in `shipped=(...)`");
    list.trim_end_matches(')')
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A volume mounted into the gateway's container.
struct Mount {
    path: String,
    read_only: bool,
    sub_path: Option<String>,
    /// The pod's volume entry (`configMap`, `emptyDir`...).
    volume: Value,
}

impl Mount {
    fn is_empty_dir(&self) -> bool {
        self.volume.get("emptyDir").is_some()
    }

    /// Whether `path` is this mount's path or below it.
    fn holds(&self, path: &str) -> bool {
        path == self.path || path.starts_with(&format!("{}/", self.path.trim_end_matches('/')))
    }
}

/// The manifests, each found by its kind, and the config the ConfigMap gives the gateway.
struct Deploy {
    deployment: Value,
    service: Value,
    pdb: Value,
    hpa: Value,
    /// Where the gateway reads its config: the image's `ENTRYPOINT ... --config PATH`.
    config_path: String,
    config: toml::Table,
}

impl Deploy {
    async fn load() -> Deploy {
        let docs: Vec<Value> = documents(&manifest_files())
            .await
            .into_values()
            .flatten()
            .collect();
        let one = |kind: &str| -> Value {
            let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
            assert_eq!(found.len(), 1, "expected one {kind} in deploy/kubernetes");
            found[0].clone()
        };
        let configmap = one("ConfigMap");
        let mut deploy = Deploy {
            deployment: one("Deployment"),
            service: one("Service"),
            pdb: one("PodDisruptionBudget"),
            hpa: one("HorizontalPodAutoscaler"),
            config_path: image().config_path(),
            config: toml::Table::new(),
        };
        let container = deploy.container();
        assert!(
            container["command"].is_null() && container["args"].is_null(),
            "the gateway's container runs the image's ENTRYPOINT as it is"
        );
        // The ConfigMap entry mounted where the ENTRYPOINT reads the config.
        let mount = deploy
            .mounts()
            .into_iter()
            .find(|m| m.holds(&deploy.config_path))
            .unwrap_or_else(|| panic!("nothing is mounted at {}", deploy.config_path));
        let key = match &mount.sub_path {
            Some(key) => {
                assert_eq!(
                    mount.path, deploy.config_path,
                    "subPath mount of the config"
                );
                key.clone()
            }
            None => deploy.config_path[mount.path.trim_end_matches('/').len() + 1..].to_owned(),
        };
        let volume = &mount.volume["configMap"];
        assert_eq!(
            volume["name"], configmap["metadata"]["name"],
            "the config comes from the ConfigMap"
        );
        assert!(
            volume["items"].is_null(),
            "no items: the keys are the file names"
        );
        let text = configmap["data"][key.as_str()]
            .as_str()
            .unwrap_or_else(|| panic!("the ConfigMap has no {key}"));
        deploy.config = text
            .parse()
            .unwrap_or_else(|e| panic!("the ConfigMap's {key} is not TOML: {e}"));
        deploy
    }

    fn pod(&self) -> &Value {
        &self.deployment["spec"]["template"]["spec"]
    }

    /// The gateway's container.
    fn container(&self) -> &Value {
        self.pod()["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|c| c["name"] == "wafka")
            .expect("a container named wafka")
    }

    fn mounts_of(&self, container: &Value) -> Vec<Mount> {
        let volumes = self.pod()["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mounts = container["volumeMounts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        mounts
            .into_iter()
            .map(|m| {
                let name = m["name"].as_str().expect("volumeMount name").to_owned();
                let volume = volumes
                    .iter()
                    .find(|v| v["name"] == name.as_str())
                    .unwrap_or_else(|| panic!("no volume named {name}"))
                    .clone();
                Mount {
                    path: m["mountPath"].as_str().expect("mountPath").to_owned(),
                    read_only: m["readOnly"] == true,
                    sub_path: m["subPath"].as_str().map(str::to_owned),
                    volume,
                }
            })
            .collect()
    }

    /// The gateway container's mounts.
    fn mounts(&self) -> Vec<Mount> {
        self.mounts_of(self.container())
    }

    fn setting(&self, table: &str, key: &str) -> Option<&toml::Value> {
        self.config.get(table)?.as_table()?.get(key)
    }

    fn integer(&self, table: &str, key: &str) -> Option<u64> {
        self.setting(table, key).map(|v| {
            let n = v
                .as_integer()
                .unwrap_or_else(|| panic!("{table}.{key} is an integer"));
            u64::try_from(n).unwrap_or_else(|_| panic!("{table}.{key} is negative"))
        })
    }

    fn string(&self, table: &str, key: &str) -> Option<&str> {
        self.setting(table, key).map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{table}.{key} is a string"))
        })
    }

    fn addr(&self, key: &str) -> SocketAddr {
        let text = self
            .string("server", key)
            .unwrap_or_else(|| panic!("server.{key} is set in the ConfigMap"));
        text.parse()
            .unwrap_or_else(|e| panic!("server.{key} = {text:?}: {e}"))
    }

    /// `server.drain_notice_ms` and `server.shutdown_grace_ms`, with their defaults.
    fn notice_and_grace_ms(&self) -> (u64, u64) {
        (
            self.integer("server", "drain_notice_ms").unwrap_or(0),
            self.integer("server", "shutdown_grace_ms")
                .unwrap_or(10_000),
        )
    }

    /// The filters the routes name.
    fn filter_names(&self) -> BTreeSet<String> {
        self.config
            .get("routes")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|route| route.get("filters")?.as_array())
            .flatten()
            .filter_map(|f| Some(f.get("name")?.as_str()?.to_owned()))
            .collect()
    }

    /// The HPA's `Pods` metrics: name and target.
    fn pods_metrics(&self) -> Vec<(String, Value)> {
        self.hpa["spec"]["metrics"]
            .as_array()
            .expect("HPA metrics")
            .iter()
            .filter(|m| m["type"] == "Pods")
            .map(|m| {
                let name = m["pods"]["metric"]["name"].as_str().expect("metric name");
                (name.to_owned(), m["pods"]["target"].clone())
            })
            .collect()
    }
}

/// The preStop sleep, in seconds (0 without a preStop hook).
fn pre_stop_seconds(container: &Value) -> u64 {
    let pre_stop = &container["lifecycle"]["preStop"];
    if pre_stop.is_null() {
        return 0;
    }
    pre_stop["sleep"]["seconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("deploy.rs reads a preStop `sleep` action, not {pre_stop}"))
}

/// A Kubernetes memory quantity in bytes: `640Mi`, `1Gi`, `500M`, `1048576`.
fn bytes(quantity: &Value) -> u64 {
    let text = match quantity {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a quantity: {other}"),
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("quantity {text}: only whole numbers are read here"));
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => panic!("quantity {text}: unit {unit:?} is not read here"),
    };
    n * scale
}

/// A probe's or a Service's port: a number, or the name of one of `container`'s ports.
fn port_of(container: &Value, port: &Value) -> u16 {
    let number = match port {
        Value::Number(n) => n.as_u64(),
        Value::String(name) => container["ports"]
            .as_array()
            .expect("container ports")
            .iter()
            .find(|p| p["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no container port named {name}"))["containerPort"]
            .as_u64(),
        other => panic!("not a port: {other}"),
    };
    u16::try_from(number.expect("a port number")).expect("a port number")
}

/// A security setting of `container`, or the pod's when the container leaves it out.
fn security<'a>(pod: &'a Value, container: &'a Value, key: &str) -> &'a Value {
    let own = &container["securityContext"][key];
    if own.is_null() {
        &pod["securityContext"][key]
    } else {
        own
    }
}

/// The Containerfile's instructions, continuation lines joined and comments dropped:
/// (KEYWORD, arguments).
fn containerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/Containerfile")).unwrap();
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let instruction = std::mem::take(&mut current);
        let instruction = instruction.trim();
        let (keyword, args) = instruction
            .split_once(char::is_whitespace)
            .unwrap_or((instruction, ""));
        instructions.push((keyword.to_ascii_uppercase(), args.trim().to_owned()));
    }
    instructions
}

/// What the Containerfile says about the image it builds.
struct Image {
    stages: usize,
    /// The runtime stage's `USER`: uid and gid.
    user: (u64, u64),
    entrypoint: Vec<String>,
    exposed: BTreeSet<u16>,
    volumes: BTreeSet<String>,
}

impl Image {
    fn config_path(&self) -> String {
        let at = self
            .entrypoint
            .iter()
            .position(|a| a == "--config")
            .expect("the ENTRYPOINT names --config");
        self.entrypoint[at + 1].clone()
    }
}

fn image() -> Image {
    let instructions = containerfile();
    let stages: Vec<usize> = instructions
        .iter()
        .enumerate()
        .filter(|(_, (keyword, _))| keyword == "FROM")
        .map(|(i, _)| i)
        .collect();
    let runtime = &instructions[*stages.last().expect("a FROM")..];
    let last = |keyword: &str| {
        runtime
            .iter()
            .rev()
            .find(|(k, _)| k == keyword)
            .map(|(_, args)| args.clone())
            .unwrap_or_else(|| panic!("the runtime stage has no {keyword}"))
    };
    let user = last("USER");
    let numeric = |id: &str| {
        id.parse::<u64>()
            .unwrap_or_else(|_| panic!("USER {user}: numeric ids, so runAsNonRoot can check them"))
    };
    let user = match user.split_once(':') {
        Some((uid, gid)) => (numeric(uid), numeric(gid)),
        None => panic!("USER {user}: name the group too, or the process runs with gid 0"),
    };
    let entrypoint: Vec<String> = serde_json::from_str(&last("ENTRYPOINT"))
        .expect("ENTRYPOINT in exec (JSON) form: signals reach the gateway, not a shell");
    let exposed = runtime
        .iter()
        .filter(|(k, _)| k == "EXPOSE")
        .flat_map(|(_, args)| args.split_whitespace())
        .map(|p| {
            p.trim_end_matches("/tcp")
                .parse::<u16>()
                .unwrap_or_else(|_| panic!("EXPOSE {p}"))
        })
        .collect();
    let volumes = runtime
        .iter()
        .filter(|(k, _)| k == "VOLUME")
        .flat_map(|(_, args)| {
            if args.starts_with('[') {
                serde_json::from_str::<Vec<String>>(args).expect("VOLUME [\"...\"]")
            } else {
                args.split_whitespace().map(str::to_owned).collect()
            }
        })
        .collect();
    Image {
        stages: stages.len(),
        user,
        entrypoint,
        exposed,
        volumes,
    }
}

fn kubernetes_validate(files: &[PathBuf]) -> std::process::Output {
    // Asserts the venv is there, saying how to make it.
    let _ = python::python();
    let program = python::dir().join(".venv/bin/kubernetes-validate");
    let mut command = Command::new(&program);
    command.arg("--strict");
    for version in KUBERNETES_VERSIONS {
        command.args(["-k", version]);
    }
    command.args(files).output().unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/test.sh installs tests/python/requirements.txt)",
            program.display()
        )
    })
}

#[test]
fn the_manifests_pass_kubernetes_schemas() {
    let files = manifest_files();
    let output = kubernetes_validate(&files);
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubernetes-validate:\n{text}");
    // It only warns, and exits 0, on a kind or an apiVersion it has no schema for: every file
    // must have passed, against every version.
    let passed = |l: &&str| l.starts_with("INFO ") && l.contains(" passed for resource ");
    let other: Vec<&str> = text.lines().filter(|l| !passed(l)).collect();
    assert!(other.is_empty(), "kubernetes-validate:\n{text}");
    assert_eq!(
        text.lines().filter(passed).count(),
        files.len() * KUBERNETES_VERSIONS.len(),
        "one resource per file, each passed against {KUBERNETES_VERSIONS:?}:\n{text}"
    );

    // And it does refuse: a misspelt field (--strict) and a value of the wrong type.
    let dir = tempfile::tempdir().unwrap();
    let deployment =
        std::fs::read_to_string(repo().join("deploy/kubernetes/deployment.yaml")).unwrap();
    for (name, from, to) in [
        (
            "misspelt",
            "readOnlyRootFilesystem:",
            "readOnlyRootFilesytem:",
        ),
        (
            "mistyped",
            "terminationGracePeriodSeconds: ",
            "terminationGracePeriodSeconds: soon # ",
        ),
    ] {
        assert!(deployment.contains(from), "{from} is in deployment.yaml");
        let broken = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&broken, deployment.replacen(from, to, 1)).unwrap();
        let output = kubernetes_validate(&[broken]);
        assert!(
            !output.status.success(),
            "kubernetes-validate accepted the {name} Deployment:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kustomization_applies_every_manifest() {
    let path = repo().join("deploy/kubernetes/kustomization.yaml");
    let docs = documents(&[path]).await;
    let kustomization = &docs["kustomization.yaml"][0];
    assert_eq!(kustomization["kind"], "Kustomization");
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().expect("a file name").to_owned())
        .collect();
    let present: BTreeSet<String> = manifest_files().iter().map(|p| file_name(p)).collect();
    assert_eq!(
        listed, present,
        "kustomization.yaml's resources are the files in deploy/kubernetes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configmaps_config_passes_wafka_check() {
    let deploy = Deploy::load().await;
    let dir = tempfile::tempdir().unwrap();
    // The one change: the filters directory, filled as the init container fills it.
    let filters = dir.path().join("filters.d");
    std::fs::create_dir(&filters).unwrap();
    for name in shipped_filters() {
        wafka_tests::gateway::install_filter(&filters, &name);
    }
    let mut config = deploy.config.clone();
    let table = config
        .get_mut("filters")
        .and_then(toml::Value::as_table_mut)
        .expect("[filters]");
    table.insert("dir".into(), filters.display().to_string().into());
    table.insert(
        "cache_dir".into(),
        dir.path().join("cache").display().to_string().into(),
    );
    let path = dir.path().join("wafka.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let output = Command::new(wafka_binary())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "wafka check on the ConfigMap's config: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(": ok ("), "{stdout}");
}

/// The Debian packages of the libraries the binary may link, by file name prefix. libc6 and
/// libgcc-s1 are in every Debian image; the runtime stage installs the others.
const PACKAGES: [(&str, &str); 7] = [
    ("libc.so.", "libc6"),
    ("libm.so.", "libc6"),
    ("ld-linux", "libc6"),
    ("libgcc_s.so.", "libgcc-s1"),
    ("libz.so.", "zlib1g"),
    ("libssl.so.3", "libssl3"),
    ("libcrypto.so.3", "libssl3"),
];

#[test]
fn the_image_installs_what_the_binary_links() {
    let output = Command::new("ldd")
        .arg(wafka_binary())
        .output()
        .expect("run ldd");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "ldd: {text}");
    let instructions = containerfile();
    let runtime = instructions
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .expect("a FROM");
    let installed: Vec<&str> = instructions[runtime..]
        .iter()
        .filter(|(k, args)| k == "RUN" && args.contains("apt-get install"))
        .flat_map(|(_, args)| args.split_whitespace())
        .collect();
    assert!(
        installed.contains(&"ca-certificates"),
        "TLS to brokers and identity providers needs CA certificates"
    );
    let mut linked = Vec::new();
    for line in text.lines() {
        let Some(first) = line.split_whitespace().next() else {
            continue;
        };
        let library = first.rsplit('/').next().unwrap_or(first);
        if library.starts_with("linux-vdso") {
            continue;
        }
        let package = PACKAGES
            .iter()
            .find(|(prefix, _)| library.starts_with(prefix))
            .map(|(_, package)| *package)
            .unwrap_or_else(|| {
                panic!(
                    "the binary links {library}: install its Debian package in the \
                     Containerfile's runtime stage, and name it in PACKAGES here\n{text}"
                )
            });
        if !matches!(package, "libc6" | "libgcc-s1") {
            assert!(
                installed.contains(&package),
                "the binary links {library}, from {package}: the Containerfile's runtime stage \
                 installs it"
            );
        }
        linked.push(library.to_owned());
    }
    assert!(
        linked.iter().any(|l| l.starts_with("libc.so.")),
        "ldd said: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_agree_on_memory_drain_probes_ports_and_users() {
    let deploy = Deploy::load().await;
    let image = image();
    let pod = deploy.pod();
    let wafka = deploy.container();

    // Memory: the budget rule of docs/operations.md, from the budget the ConfigMap sets.
    let budget = deploy.integer("server", "max_memory_bytes").expect(
        "server.max_memory_bytes is set in the ConfigMap: the memory limit is sized from it",
    );
    let limit = bytes(&wafka["resources"]["limits"]["memory"]);
    assert!(
        limit >= 2 * budget + 64 * MIB,
        "memory limit {limit} must be over 2 × server.max_memory_bytes ({budget}) + 64 MiB"
    );
    let request = bytes(&wafka["resources"]["requests"]["memory"]);
    assert!(
        request <= limit,
        "memory request {request} over the limit {limit}"
    );

    // Stopping: the kubelet runs the preStop hook, then sends SIGTERM; the gateway gives notice
    // (/readyz 503), lets requests finish within shutdown_grace_ms, then flushes the producer
    // for up to max(shutdown_grace_ms, 1 s) and waits at least 1 s more for the last delivery
    // reports (Gateway::shutdown). All of it within terminationGracePeriodSeconds, or SIGKILL.
    let pre_stop = pre_stop_seconds(wafka);
    let (notice, grace) = deploy.notice_and_grace_ms();
    let stopping_ms = pre_stop * 1000 + notice + grace + grace.max(1000) + 1000;
    let termination = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds is set");
    assert!(
        termination * 1000 >= stopping_ms,
        "terminationGracePeriodSeconds {termination} s < preStop {pre_stop} s + drain_notice_ms \
         {notice} + shutdown_grace_ms {grace} + flush {} ms",
        grace.max(1000) + 1000
    );

    // Probes: on the admin listener, which must listen beyond the pod's loopback, as the
    // public one must for the Service.
    let (public, admin) = (deploy.addr("listen"), deploy.addr("admin_listen"));
    assert!(
        public.ip().is_unspecified() && admin.ip().is_unspecified(),
        "the kubelet and the Service reach the pod's address: listen on 0.0.0.0 ({public}, {admin})"
    );
    for (probe, path) in [
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ] {
        if probe == "startupProbe" && wafka[probe].is_null() {
            continue;
        }
        let get = &wafka[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(
            port_of(wafka, &get["port"]),
            admin.port(),
            "{probe} asks the admin listener"
        );
    }
    let readiness = &wafka["readinessProbe"];
    let period = readiness["periodSeconds"].as_u64().unwrap_or(10);
    let failures = readiness["failureThreshold"].as_u64().unwrap_or(3);
    assert!(
        period * failures * 1000 <= notice,
        "the readiness probe must see a draining gateway's 503 before its listeners close: \
         periodSeconds × failureThreshold = {} s, server.drain_notice_ms = {notice} ms",
        period * failures
    );
    assert!(
        readiness["timeoutSeconds"].as_u64().unwrap_or(1) > 2,
        "/readyz may take 2 s asking Kafka: the probe's timeoutSeconds must be longer"
    );

    // Ports: the container declares what the config listens on, the image exposes them, the
    // Service targets them.
    let declared: BTreeSet<u16> = wafka["ports"]
        .as_array()
        .expect("container ports")
        .iter()
        .map(|p| u16::try_from(p["containerPort"].as_u64().unwrap()).unwrap())
        .collect();
    let listening = BTreeSet::from([public.port(), admin.port()]);
    assert!(
        declared.is_superset(&listening),
        "{declared:?} ⊉ {listening:?}"
    );
    assert!(
        image.exposed.is_superset(&declared),
        "EXPOSE {:?} ⊉ {declared:?}",
        image.exposed
    );
    for port in deploy.service["spec"]["ports"]
        .as_array()
        .expect("Service ports")
    {
        let target = port_of(wafka, &port["targetPort"]);
        assert!(
            listening.contains(&target),
            "the Service targets {target}, not listened on"
        );
    }

    // Selectors: the Deployment's, the Service's and the PDB's all pick the pods.
    let labels = &deploy.deployment["spec"]["template"]["metadata"]["labels"];
    for (what, selector) in [
        (
            "Deployment",
            &deploy.deployment["spec"]["selector"]["matchLabels"],
        ),
        ("Service", &deploy.service["spec"]["selector"]),
        (
            "PodDisruptionBudget",
            &deploy.pdb["spec"]["selector"]["matchLabels"],
        ),
    ] {
        let selector = selector.as_object().expect("a selector");
        assert!(!selector.is_empty(), "{what}: an empty selector");
        for (key, value) in selector {
            assert_eq!(&labels[key.as_str()], value, "{what} selects {key}={value}");
        }
    }

    // Disruptions and scaling: one gateway drains at a time, and there is always another.
    assert_eq!(deploy.pdb["spec"]["maxUnavailable"], 1);
    let target = &deploy.hpa["spec"]["scaleTargetRef"];
    assert_eq!(target["kind"], "Deployment");
    assert_eq!(target["name"], deploy.deployment["metadata"]["name"]);
    assert!(deploy.hpa["spec"]["minReplicas"].as_u64().unwrap_or(1) >= 2);
    let metrics = deploy.hpa["spec"]["metrics"]
        .as_array()
        .expect("HPA metrics");
    assert!(
        metrics
            .iter()
            .any(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu"),
        "CPU: the metric every cluster has"
    );
    let pods_metrics = deploy.pods_metrics();
    assert!(!pods_metrics.is_empty(), "a metric of the gateway's own");
    for (name, target) in pods_metrics {
        // Whether the gateway exports it: the_gateway_runs_as_the_container_runs_it.
        assert!(name.starts_with("wafka_"), "{name}");
        if name == "wafka_memory_used_bytes" {
            let average = bytes(&target["averageValue"]);
            assert!(
                average * 10 < budget * 8,
                "scale out before the gateway slows clients at 80 % of its budget: {average}"
            );
        }
    }

    // Users and file systems: a numeric non-root user, the image's, in every container, on a
    // read-only root, no privileges.
    assert!(image.stages >= 2, "a build stage and a runtime stage");
    let (uid, gid) = image.user;
    assert!(uid != 0 && gid != 0, "USER {uid}:{gid}");
    assert_eq!(pod["securityContext"]["runAsGroup"].as_u64(), Some(gid));
    let init = pod["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for container in init.iter().chain([wafka]) {
        let name = container["name"].as_str().unwrap_or("?");
        assert_eq!(
            security(pod, container, "runAsNonRoot"),
            &Value::Bool(true),
            "{name}"
        );
        assert_eq!(
            security(pod, container, "runAsUser").as_u64(),
            Some(uid),
            "{name}"
        );
        let own = &container["securityContext"];
        assert_eq!(own["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(own["allowPrivilegeEscalation"], false, "{name}");
        let dropped = own["capabilities"]["drop"].as_array();
        assert!(
            dropped.is_some_and(|d| d.iter().any(|c| c == "ALL")),
            "{name}: capabilities drop ALL"
        );
    }

    // Volumes: the filters directory is read-only for the gateway and filled by an init
    // container from the same image; everything the gateway writes is on a writable volume,
    // which the image declares too (so `podman run --read-only` works alike).
    let mounts = deploy.mounts();
    let filters_dir = deploy
        .string("filters", "dir")
        .expect("[filters] dir is set");
    let filters = mounts
        .iter()
        .find(|m| m.path == filters_dir)
        .unwrap_or_else(|| panic!("no volume at filters.dir {filters_dir}"));
    assert!(
        filters.read_only && filters.is_empty_dir(),
        "filters: a read-only emptyDir"
    );
    let fillers: Vec<&Value> = init
        .iter()
        .filter(|c| {
            deploy
                .mounts_of(c)
                .iter()
                .any(|m| m.volume == filters.volume && !m.read_only)
        })
        .collect();
    assert_eq!(
        fillers.len(),
        1,
        "one init container fills the filters volume"
    );
    assert_eq!(
        fillers[0]["image"], wafka["image"],
        "with the image's filters"
    );
    let writable: Vec<&Mount> = mounts
        .iter()
        .filter(|m| m.is_empty_dir() && !m.read_only)
        .collect();
    let written = [
        deploy.string("filters", "cache_dir"),
        deploy.string("spool", "dir"),
    ];
    let cache_dir = written[0].expect(
        "[filters] cache_dir is set: by default it is inside the read-only filters directory",
    );
    assert!(cache_dir.starts_with('/'), "an absolute cache_dir");
    for path in written.into_iter().flatten() {
        assert!(
            writable.iter().any(|m| m.holds(path)),
            "the gateway writes {path}: mount a writable volume there"
        );
    }
    for m in &writable {
        assert!(
            image.volumes.contains(&m.path),
            "the Containerfile declares VOLUME {} too",
            m.path
        );
    }
}

/// Kills the process on drop, so a failed assertion leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn assert_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_owned();
    assert_eq!(
        euid, "0",
        "this test runs the gateway as its container does: in a mount namespace of its own (a \
         read-only root, the manifests' volumes) as uid 65532, and making that takes root, as \
         in CI. Run the suite as root (`sudo -E ./scripts/test.sh`), or this test alone: \
         `sudo -E cargo test --release -p wafka-tests --test suite deploy::`"
    );
}

/// `text` in single quotes for sh.
fn quote(text: &str) -> String {
    assert!(!text.contains('\''), "a path with a quote: {text}");
    format!("'{text}'")
}

/// GETs `path` until it answers `status`, for up to `wait`.
async fn wait_for_status(
    addr: SocketAddr,
    path: &str,
    status: u16,
    wait: Duration,
    log: &Path,
) -> Response {
    let deadline = Instant::now() + wait;
    loop {
        match try_request(addr, "GET", path, &[], "").await {
            Ok(res) if res.status == status => return res,
            last => assert!(
                Instant::now() < deadline,
                "GET {path} did not answer {status} within {wait:?}; last: {last:?}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_runs_as_the_container_runs_it() {
    assert_root();
    let deploy = Deploy::load().await;
    let image = image();
    let (uid, gid) = image.user;
    assert!(uid != 0 && gid != 0, "USER {uid}:{gid}");
    let wafka = deploy.container();
    let liveness = wafka["livenessProbe"]["httpGet"]["path"].as_str().unwrap();
    let readiness = wafka["readinessProbe"]["httpGet"]["path"].as_str().unwrap();

    let tansu = Tansu::start();
    for topic in TOPICS {
        tansu.create_topic(topic, 1);
    }
    // The ConfigMap's config, with loopback ports and the test's broker.
    let (port, admin_port) = (free_port(), free_port());
    let mut config = deploy.config.clone();
    let server = config
        .get_mut("server")
        .and_then(toml::Value::as_table_mut)
        .expect("[server]");
    server.insert("listen".into(), format!("127.0.0.1:{port}").into());
    server.insert(
        "admin_listen".into(),
        format!("127.0.0.1:{admin_port}").into(),
    );
    let kafka = config
        .get_mut("kafka")
        .and_then(toml::Value::as_table_mut)
        .expect("[kafka]");
    kafka.insert("brokers".into(), tansu.bootstrap.clone().into());

    // The container's file system, under `root`: the image's files (the binary, and the host's
    // Debian /usr standing in for the runtime stage's), and the Deployment's volumes.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for path in ["usr/local/bin", "proc", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(root.join(path)).unwrap();
    }
    std::fs::write(root.join("usr/local/bin/wafka"), "").unwrap();
    let mut binds: Vec<(PathBuf, String)> = Vec::new();
    for mount in deploy.mounts() {
        let inside = root.join(mount.path.trim_start_matches('/'));
        if mount.volume.get("configMap").is_some() {
            let file = root.join(deploy.config_path.trim_start_matches('/'));
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
        } else if mount.is_empty_dir() && mount.read_only {
            // Filled by the init container with the image's filters: the same here.
            assert_eq!(Some(mount.path.as_str()), deploy.string("filters", "dir"));
            std::fs::create_dir_all(&inside).unwrap();
            for name in shipped_filters() {
                wafka_tests::gateway::install_filter(&inside, &name);
            }
        } else if mount.is_empty_dir() {
            // Writable: a directory of the host's, mode 0777 as an emptyDir's.
            std::fs::create_dir_all(&inside).unwrap();
            let name = mount.volume["name"].as_str().unwrap();
            let host = dir.path().join("volumes").join(name);
            std::fs::create_dir_all(&host).unwrap();
            let chmod = Command::new("chmod")
                .arg("0777")
                .arg(&host)
                .status()
                .unwrap();
            assert!(chmod.success());
            binds.push((host, mount.path.clone()));
        } else {
            panic!("deploy.rs cannot provide the volume {}", mount.volume);
        }
    }
    let chmod = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(chmod.success());

    // In a mount namespace of its own: the system read-only, the writable volumes bound in,
    // then the whole root read-only; chroot into it and drop to the image's user with no
    // capabilities and no_new_privs (allowPrivilegeEscalation: false), with the image's
    // ENTRYPOINT and an environment as bare as a container's.
    let mut script = String::from("set -eu\n");
    script += &format!("root={}\n", quote(&root.display().to_string()));
    script += r#"mount --bind "$root" "$root"
for d in usr/bin usr/sbin usr/lib usr/lib64 usr/libexec usr/share; do
  [ -d "/$d" ] || continue
  mkdir -p "$root/$d"
  mount --rbind "/$d" "$root/$d"
  mount -o remount,bind,ro "$root/$d"
done
for d in bin sbin lib lib64; do
  if [ -L "/$d" ]; then
    ln -s "$(readlink "/$d")" "$root/$d"
  elif [ -d "/$d" ]; then
    mkdir -p "$root/$d"
    mount --rbind "/$d" "$root/$d"
    mount -o remount,bind,ro "$root/$d"
  fi
done
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -o remount,bind,ro "$root/sys"
"#;
    script += &format!(
        "mount --bind {} \"$root/usr/local/bin/wafka\"\n",
        quote(&wafka_binary().display().to_string())
    );
    for (host, inside) in &binds {
        script += &format!(
            "mount --bind {} \"$root\"{}\n",
            quote(&host.display().to_string()),
            quote(inside)
        );
    }
    script += "mount -o remount,bind,ro \"$root\"\n";
    let entrypoint: Vec<String> = image.entrypoint.iter().map(|a| quote(a)).collect();
    script += &format!(
        "exec chroot \"$root\" \
         env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/ \
         setpriv --reuid={uid} --regid={gid} --clear-groups --no-new-privs \
         --inh-caps=-all --bounding-set=-all -- {}\n",
        entrypoint.join(" ")
    );
    let log_path = dir.path().join("wafka.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // unshare, sh, chroot, env and setpriv each exec the next: the child is the gateway.
    let child = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-ec",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("run unshare (util-linux)");
    let mut child = Running(child);
    let pid = child.0.id();
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while try_request(admin, "GET", liveness, &[], "").await.is_err() {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("the gateway exited: {status}\n{}", read_log());
        }
        assert!(
            Instant::now() < deadline,
            "no answer at {liveness} within 60 s\n{}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The process is the image's user, without capabilities or a way to gain them.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(field("Uid:"), format!("{uid} {uid} {uid} {uid}"));
    assert_eq!(field("Gid:"), format!("{gid} {gid} {gid} {gid}"));
    assert_eq!(field("CapEff:"), "0000000000000000");
    assert_eq!(field("CapBnd:"), "0000000000000000");
    assert_eq!(field("NoNewPrivs:"), "1");

    // Ready once Kafka answers; a record through the ConfigMap's filters, read back.
    wait_for_status(admin, readiness, 200, Duration::from_secs(30), &log_path).await;
    let res = try_request(
        addr,
        "POST",
        "/v1/events/web",
        &[("content-type", "application/json")],
        r#"{"action":"click","user":"u-42"}"#,
    )
    .await
    .expect("POST /v1/events/web is answered");
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["records"][0]["topic"], "events.web");
    let request_id = res.header("x-request-id").expect("x-request-id").to_owned();
    let bootstrap = tansu.bootstrap.clone();
    let records = tokio::task::spawn_blocking(move || read_all(&bootstrap, "events.web"))
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let value = records[0].json();
    assert_eq!(value["action"], "click");
    // json-enrich, loaded from the read-only filters volume, stamped it.
    assert_eq!(value["request_id"], request_id.as_str(), "{value}");

    // The HPA's metrics are ones the gateway exports; the budget is the ConfigMap's.
    let metrics = try_request(admin, "GET", "/metrics", &[], "")
        .await
        .expect("GET /metrics");
    let samples = prometheus::parse(&String::from_utf8_lossy(&metrics.body));
    for (name, _) in deploy.pods_metrics() {
        assert!(
            samples.iter().any(|s| s.name == name),
            "the HPA scales on {name}, which the gateway does not export"
        );
    }
    let budget = deploy.integer("server", "max_memory_bytes").unwrap();
    assert_eq!(
        prometheus::value(&samples, "wafka_memory_budget_bytes", &[]),
        budget as f64
    );

    // SIGTERM, as the kubelet sends after the preStop hook: /readyz fails at once while
    // requests are still served, then the gateway drains and exits 0 before the kubelet's
    // SIGKILL would come.
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (notice, grace) = deploy.notice_and_grace_ms();
    if notice > 0 {
        let draining =
            wait_for_status(admin, readiness, 503, Duration::from_secs(5), &log_path).await;
        assert!(
            !draining.json()["not_ready"]["draining"].is_null(),
            "{}",
            draining.json()
        );
        let res = try_request(addr, "POST", "/v1/logs", &[], "during the notice")
            .await
            .expect("requests are served during the notice");
        assert_eq!(res.status, 202);
        let alive = try_request(admin, "GET", liveness, &[], "")
            .await
            .expect("the liveness probe is answered during the notice");
        assert_eq!(alive.status, 200);
        assert!(
            signalled.elapsed() < Duration::from_millis(notice),
            "the checks above outlasted the notice"
        );
    }
    let pre_stop = pre_stop_seconds(wafka);
    let termination = deploy.pod()["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    let kill_after = Duration::from_secs(termination - pre_stop);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < kill_after,
            "still running {kill_after:?} after SIGTERM: the kubelet would SIGKILL it \
             (shutdown_grace_ms {grace})\n{}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = read_log();
    assert!(status.success(), "exit status {status}\n{log}");

    // It wrote only where the manifests let it: no write failed, and its compiled filters are
    // in the cache volume, one per filter the routes name.
    for refused in [
        "Read-only file system",
        "Permission denied",
        "os error 30",
        "os error 13",
        "cannot write",
    ] {
        assert!(!log.contains(refused), "{refused}:\n{log}");
    }
    let cache_dir = deploy.string("filters", "cache_dir").unwrap();
    let (host, inside) = binds
        .iter()
        .find(|(_, inside)| cache_dir == inside || cache_dir.starts_with(&format!("{inside}/")))
        .expect("the cache directory is on a writable volume");
    let cache = host.join(cache_dir[inside.len()..].trim_start_matches('/'));
    let compiled = std::fs::read_dir(&cache)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(
        compiled,
        deploy.filter_names().len(),
        "compiled filters in {}\n{log}",
        cache.display()
    );
    // The record taken during the notice was flushed before the exit.
    let bootstrap = tansu.bootstrap.clone();
    let logs = tokio::task::spawn_blocking(move || read_all(&bootstrap, "logs"))
        .await
        .unwrap();
    assert!(
        logs.iter()
            .any(|r| r.value.as_deref() == Some(b"during the notice".as_slice())),
        "{logs:?}"
    );
}
