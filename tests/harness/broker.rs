//! Which Kafka a test runs against: the gateway's embedded mock cluster, or a real
//! Kafka-protocol broker (tansu) started for the test on a free loopback port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Kafka behind a test gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    /// `brokers = "embedded"`: librdkafka's in-process mock cluster.
    Embedded,
    /// A tansu broker process with in-memory storage.
    Tansu,
}

/// A running tansu broker, killed on drop.
pub struct Tansu {
    child: Child,
    /// `host:port` to bootstrap from.
    pub bootstrap: String,
}

impl Tansu {
    /// Starts tansu and waits until it accepts connections. The binary is `$TANSU`, or `tansu`
    /// on PATH or in `~/.cargo/bin`.
    pub fn start() -> Tansu {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let binary = tansu_binary();
        let child = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {binary}: {e}. Install it with \
                     `cargo install tansu --features dynostore` or set TANSU=/path/to/tansu"
                )
            });
        let mut tansu = Tansu {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
        };
        tansu.wait_until_listening(SocketAddr::from(([127, 0, 0, 1], port)));
        tansu
    }

    fn wait_until_listening(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("tansu exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {addr} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Creates a topic with tansu's own CLI (its CreateTopics answer is one librdkafka's admin
    /// client cannot parse).
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        let output = Command::new(tansu_binary())
            .args([
                "topic",
                "create",
                topic,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://{}", self.bootstrap)])
            .output()
            .expect("run tansu topic create");
        assert!(
            output.status.success(),
            "tansu topic create {topic}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Pauses the broker process (SIGSTOP): it keeps its sockets but answers nothing. Returns
    /// once the kernel reports the process stopped (`kill` only queues the signal).
    pub fn pause(&self) {
        let pid = self.child.id();
        signal(pid, "STOP");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The state follows the command name, which is in parentheses.
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            if state == Some('T') {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tansu {pid} not stopped 5 s after SIGSTOP: state {state:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the broker (SIGKILL): its connections are reset, and new ones refused.
    pub fn kill(&self) {
        signal(self.child.id(), "KILL");
    }

    /// Resumes a paused broker (SIGCONT).
    pub fn resume(&self) {
        signal(self.child.id(), "CONT");
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {pid} failed");
}

fn tansu_binary() -> String {
    if let Ok(path) = std::env::var("TANSU") {
        return path;
    }
    let in_cargo_home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))
        .map(|d| d.join("bin/tansu"));
    match in_cargo_home {
        Ok(path) if path.exists() => path.display().to_string(),
        _ => "tansu".to_owned(),
    }
}

/// A loopback port no other caller in this process has been given, free when handed out.
///
/// Taken below the kernel's ephemeral range, so the gateway's own `:0` listeners and outgoing
/// connections cannot grab it between now and the child process binding it (that race once let
/// two tests share one tansu, and a test paused a broker its gateway did not use).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    let (low, high) = unreserved_range();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Start somewhere different in each process, so parallel test binaries rarely meet.
    let start = std::process::id() % (high - low);
    for _ in low..high {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % (high - low);
        let port = (low + offset) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}

/// Ports from 20000 up to the start of the kernel's ephemeral range.
fn unreserved_range() -> (u32, u32) {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    (20000, ephemeral_start.max(20000 + 1000))
}
