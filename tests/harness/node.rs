//! Third-party programs on Node.js, run unchanged from `tests/node/` (`npm ci` there;
//! `scripts/test.sh` does): a script's stdout is read line by line, and commands can be written
//! to its stdin.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running script and the lines it prints.
pub struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Script {
    /// Runs `node SCRIPT ARGS…` in `tests/node/`.
    pub fn start(script: &str, args: &[&str]) -> Script {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
        assert!(
            dir.join("node_modules").exists(),
            "run `npm ci` in {} first (scripts/test.sh does)",
            dir.display()
        );
        let mut command = Command::new("node");
        command.arg(script).args(args).current_dir(&dir);
        Script::spawn(command)
    }

    /// Runs `command`, its stdout read line by line.
    pub fn spawn(mut command: Command) -> Script {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{command:?}: {e} (scripts/test.sh installs what it needs)")
            });
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Script {
            child,
            stdin,
            lines,
        }
    }

    /// The next line the script prints, within `wait`.
    pub async fn line(&self, wait: Duration) -> String {
        let lines = &self.lines;
        tokio::task::block_in_place(|| lines.recv_timeout(wait))
            .unwrap_or_else(|e| panic!("the script printed nothing more: {e}"))
    }

    /// Writes `command` as one line to the script's stdin and returns the line it answers.
    pub async fn ask(&mut self, command: &str) -> String {
        let stdin = self.stdin.as_mut().expect("the script is running");
        writeln!(stdin, "{command}").expect("write to the script");
        stdin.flush().expect("write to the script");
        self.line(Duration::from_secs(30)).await
    }

    /// Stops the script now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        self.kill();
    }
}
