//! The `wafka` binary: parse arguments, start logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use wafka::cli::{self, Cli, Command};

// Requests allocate from many threads at once; glibc's malloc spent a tenth of the gateway's
// time in contention and consolidation under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Cli::parse();
    wafka::logging::init(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // After an overload, each worker hands its freed memory back when it goes idle.
        .on_thread_park(wafka::memory::on_park)
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match &args.command {
            Command::Run { config } => cli::run(config).await,
            Command::Check { config } => cli::check(config).await,
            Command::NewFilter { name, dir, sdk } => cli::new_filter(name, dir, sdk.as_deref()),
        }
    })
}
