//! Real processes: the `wafka` binary as it is deployed (a config file, signals, restarts) and
//! HAProxy in front of several of them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::try_request;

/// The `wafka` binary next to the test binary (`target/release/wafka`); `scripts/test.sh`
/// builds it first.
pub fn wafka_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("wafka"))
        .expect("target directory");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release --workspace --bins --tests` (scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// `wafka run --config FILE` as a child process, its log in a file beside the config; killed
/// on drop.
pub struct Wafka {
    child: Option<Child>,
    config: PathBuf,
    log: PathBuf,
    /// The public listener.
    pub addr: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
}

impl Wafka {
    /// Writes `config` as `dir/NAME.toml` and starts the gateway on it; returns once
    /// `/healthz` answers. `addr` and `admin` are the listeners the config names.
    pub async fn start(
        dir: &Path,
        name: &str,
        config: &str,
        addr: SocketAddr,
        admin: SocketAddr,
    ) -> Wafka {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config).expect("write the config");
        let mut wafka = Wafka {
            child: None,
            log: dir.join(format!("{name}.log")),
            config: path,
            addr,
            admin,
        };
        wafka.restart().await;
        wafka
    }

    /// Starts the process again on the same config (after it exited or was killed).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the log");
        let child = Command::new(wafka_binary())
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start wafka");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while try_request(self.admin, "GET", "/healthz", &[], "")
            .await
            .is_err()
        {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none(),
                "wafka exited: {:?}\n{}",
                exited,
                self.log()
            );
            assert!(
                Instant::now() < deadline,
                "wafka did not start\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM: the gateway drains and exits.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// Waits up to `wait` for the process to exit and returns how it did.
    pub async fn exited(&mut self, wait: Duration) -> ExitStatus {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.as_mut().expect("started").try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {wait:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Wafka {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HAProxy process (Debian's `haproxy`; `scripts/deps.sh` installs it) with an admin socket
/// to read its view of the servers; killed on drop.
pub struct Haproxy {
    child: Child,
    socket: PathBuf,
}

impl Haproxy {
    /// Runs HAProxy on `config` (everything after the `global` section, which this writes:
    /// the admin socket). Panics with HAProxy's words when the config is refused.
    pub fn start(dir: &Path, config: &str) -> Haproxy {
        let socket = dir.join("haproxy.sock");
        let path = dir.join("haproxy.cfg");
        let text = format!(
            "global\n  stats socket {} level admin\n  log stderr format short local0 notice\n\n{config}",
            socket.display()
        );
        std::fs::write(&path, text).expect("write haproxy.cfg");
        let check = Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&path)
            .output()
            .expect("haproxy is installed (scripts/deps.sh installs it)");
        assert!(
            check.status.success(),
            "haproxy refused the config: {}",
            String::from_utf8_lossy(&check.stdout) + String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy");
        Haproxy { child, socket }
    }

    /// Each server's status as HAProxy sees it (`UP`, `DOWN`, `UP 1/2`, ...), by
    /// `backend/server`.
    pub async fn statuses(&self) -> Vec<(String, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = match tokio::net::UnixStream::connect(&self.socket).await {
            Ok(s) => s,
            Err(_) => return Vec::new(), // not listening yet
        };
        stream.write_all(b"show stat\n").await.expect("write");
        let mut csv = String::new();
        stream.read_to_string(&mut csv).await.expect("read");
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (Some(px), Some(sv), Some(status)) =
            (column("pxname"), column("svname"), column("status"))
        else {
            return Vec::new();
        };
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > status && f[sv] != "FRONTEND" && f[sv] != "BACKEND")
            .map(|f| (format!("{}/{}", f[px], f[sv]), f[status].to_owned()))
            .collect()
    }

    /// `backend/server`'s status.
    pub async fn status(&self, server: &str) -> String {
        self.statuses()
            .await
            .into_iter()
            .find(|(name, _)| name == server)
            .map(|(_, status)| status)
            .unwrap_or_default()
    }

    /// Waits until every listed `backend/server` is `want` (`UP` or `DOWN`).
    pub async fn wait_for(&self, servers: &[&str], want: &str, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            let statuses = self.statuses().await;
            let done = servers.iter().all(|server| {
                statuses
                    .iter()
                    .any(|(name, status)| name == server && status == want)
            });
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not all {want} after {wait:?}: {statuses:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
