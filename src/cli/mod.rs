//! The `devsim` subcommands.

mod bench;
mod broker;
mod cluster;
mod crd;
mod run;
mod setup;
mod verify;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::shutdown::Shutdown;

/// Exit code of a run that worked.
pub const EXIT_OK: u8 = 0;
/// Exit code of a run that failed (undelivered messages, a verification that found problems).
pub const EXIT_FAILED: u8 = 1;
/// Exit code of invalid input: a bad file, flag or field.
pub const EXIT_INVALID: u8 = 2;

/// Simulated industrial IoT devices streaming sensor readings into Kafka.
#[derive(Debug, Parser)]
#[command(name = "devsim", version, about)]
pub struct Cli {
    /// Logging options.
    #[command(flatten)]
    pub log: LogArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Logging flags shared by every subcommand.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "DEVSIM_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
}

/// Log line format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every shard of a simulation in this process.
    Run(run::RunArgs),
    /// Measure how fast one replica of a simulation can produce to given brokers.
    Bench(bench::BenchArgs),
    /// Run an embedded Kafka (librdkafka's mock cluster) until stopped.
    Broker(broker::BrokerArgs),
    /// Consume a topic and check every device's stream.
    Verify(verify::VerifyArgs),
    /// Print the DeviceSimulation CustomResourceDefinition as YAML.
    Crd(crd::CrdArgs),
    /// Run the Kubernetes operator (reconciles DeviceSimulations into worker StatefulSets).
    Operator(cluster::OperatorArgs),
    /// Run one shard of a simulation in a worker pod.
    Worker(cluster::WorkerArgs),
}

/// Sets up `tracing` from `RUST_LOG` (default `info`), as text or JSON, on standard error.
pub fn init_tracing(args: &LogArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the chosen subcommand and returns the process exit code.
pub fn dispatch(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Crd(args) => crd::print(&args),
        Command::Run(args) => with_runtime(|| run::run(args, Shutdown::on_signals())),
        Command::Broker(args) => with_runtime(|| broker::run(args, Shutdown::on_signals())),
        Command::Bench(args) => with_runtime(|| bench::run(args, Shutdown::on_signals())),
        // verify only reads: Ctrl-C ends it the ordinary way, with nothing to drain.
        Command::Verify(args) => with_runtime(|| verify::run(args)),
        Command::Operator(args) => {
            with_runtime(|| cluster::run_operator(args, Shutdown::on_signals()))
        }
        Command::Worker(args) => with_runtime(|| cluster::run_worker(args, Shutdown::on_signals())),
    };
    ExitCode::from(code)
}

/// A `--metrics-addr` value: an IP address and a port.
fn socket_address(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse().map_err(|_| {
        "expected an IP address and a port, such as 127.0.0.1:9400 or 0.0.0.0:9400 (a host \
         name is not accepted)"
            .to_owned()
    })
}

/// A `--secrets-dir` value: a directory that exists.
fn secrets_directory(text: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::PathBuf::from(text);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(
            "not a directory; expected DIR/<secret>/<key>, the layout of a Secret mounted \
             as a volume"
                .to_owned(),
        )
    }
}

/// Runs a command on a multi-threaded runtime; `command` is called inside it, so that it can
/// install signal handlers.
fn with_runtime<F: std::future::Future<Output = u8>>(command: impl FnOnce() -> F) -> u8 {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(async { command().await }),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            EXIT_FAILED
        }
    }
}
