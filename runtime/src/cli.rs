//! The `wafka` command line: `run`, `check` and `new-filter`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::build::Builder;
use crate::config;
use crate::filter::FilterEngine;
use crate::gateway::Gateway;
use crate::logging::LogFormat;

/// An HTTP gateway to Apache Kafka, programmable with WebAssembly filters.
#[derive(Debug, Parser)]
#[command(name = "wafka", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway until SIGINT or SIGTERM.
    Run {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config file and load every filter it names, then exit.
    Check {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Create a filter crate NAME that builds as it is (see docs/filters.md).
    NewFilter {
        /// Crate and filter name: a-z, 0-9 and '-'.
        name: String,
        /// Where to create it. Default: the current directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The Wafka SDK to depend on. Default: the repository's `sdk/` this binary was built
        /// from.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

/// `wafka run`
pub async fn run(path: &Path) -> ExitCode {
    let gateway = match Gateway::start_watching(path).await {
        Ok(g) => g,
        Err(e) => return fail(e.in_file(path)),
    };
    wait_for_signal().await;
    // A second signal means "now".
    tokio::spawn(async {
        wait_for_signal().await;
        tracing::warn!("second signal: exiting without draining");
        std::process::exit(130);
    });
    gateway.give_notice().await;
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    gateway.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// `wafka new-filter`
pub fn new_filter(name: &str, dir: &Path, sdk: Option<&Path>) -> ExitCode {
    match crate::scaffold::new_filter(name, dir, sdk) {
        Ok(created) => {
            let file = name.replace('-', "_");
            println!("created {}", created.display());
            println!("next:");
            println!("  cd {}", created.display());
            println!("  cargo test                                   # native unit tests");
            println!("  cargo build --release --target wasm32-wasip2");
            println!("  cp target/wasm32-wasip2/release/{file}.wasm <filters.dir>/{name}.wasm");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `wafka check`
pub async fn check(path: &Path) -> ExitCode {
    match check_report(path).await {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// What `wafka check` says about a config file: the success line, or the error naming the
/// file, the field and the reason. Built as the gateway builds its state, without a cache, so
/// it finds what a cold start would.
pub async fn check_report(path: &Path) -> Result<String, String> {
    let config = config::load(path).map_err(|e| e.to_string())?;
    let engine = FilterEngine::new(
        config.filters.memory_reset,
        config.server.max_filter_instances,
    )
    .map_err(|e| format!("filter engine: {e}"))?;
    let builder = Builder {
        engine: Arc::new(engine),
        cache: None,
        previous: None,
        embedded: None,
        schemas: None,
    };
    let prepared = builder.prepare(config).map_err(|e| e.in_file(path))?;
    let (snapshot, _) = builder
        .finish(prepared)
        .await
        .map_err(|e| e.in_file(path))?;
    Ok(format!(
        "{}: ok ({} routes, {} filters)",
        path.display(),
        snapshot.config.routes.len(),
        snapshot.filters.len()
    ))
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
