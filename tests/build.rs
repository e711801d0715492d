//! Builds the filter components in `filters/` (their own workspace, for wasm32-wasip2) so the
//! suite always runs the current source. Exposes their directory as `WAFKA_TEST_WASM_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let filters = root.join("filters");
    for dir in ["wit", "sdk/src", "sdk/Cargo.toml", "filters/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    watch_crates(&filters);

    // A clean environment: the outer build's flags and target must not leak into this one.
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.env_clear();
    for var in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
    ] {
        if let Ok(value) = std::env::var(var) {
            cargo.env(var, value);
        }
    }
    let status = cargo
        .current_dir(&filters)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .status()
        .expect("run cargo for the filters workspace");
    assert!(
        status.success(),
        "building filters/ for wasm32-wasip2 failed (is the target installed? \
         `rustup target add wasm32-wasip2`)"
    );
    let out = filters.join("target/wasm32-wasip2/release");
    println!("cargo:rustc-env=WAFKA_TEST_WASM_DIR={}", out.display());
}

/// Every filter crate's sources and manifest, but not `target/`.
fn watch_crates(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "target") || !path.is_dir() {
            continue;
        }
        if path.join("Cargo.toml").exists() {
            println!(
                "cargo:rerun-if-changed={}",
                path.join("Cargo.toml").display()
            );
            println!("cargo:rerun-if-changed={}", path.join("src").display());
        } else {
            watch_crates(&path);
        }
    }
}
