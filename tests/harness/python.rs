//! The PyPI clients of `tests/python`, run unchanged: scripts/test.sh installs them into
//! `tests/python/.venv` from the pinned requirements.txt.

use std::path::PathBuf;
use std::process::Command;

/// `tests/python`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// The venv's `python`.
pub fn python() -> PathBuf {
    let python = dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "run `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt` in {} first (scripts/test.sh does)",
        dir().display()
    );
    python
}

/// Starts `tests/python/{script}` with `args`, its stdout read line by line (a server the test
/// talks to, as the OTLP receiver).
pub fn start(script: &str, args: &[&str]) -> crate::node::Script {
    let mut command = Command::new(python());
    command.arg(dir().join(script)).args(args);
    crate::node::Script::spawn(command)
}

/// Runs `tests/python/{script}` with `args` off the async runtime; its stdout, once it exited 0.
pub async fn run(script: &str, args: &[&str]) -> String {
    run_with(script, args, &[]).await
}

/// Like [`run`], with environment variables set for the script.
pub async fn run_with(script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let (python, path) = (python(), dir().join(script));
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(&path)
            .args(&args)
            .envs(env)
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
