//! The `kube-devops` binary: parse arguments, set up logging, run the command, exit with its
//! status. Everything else lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use kube_devops::cli::{self, Cli, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The operator is a long-running service: its lifecycle belongs in the log.
    let level = match cli.command {
        cli::Command::Operator(_) | cli::Command::Webhook(cli::WebhookCommand::Serve(_)) => "info",
        _ => "warn",
    };
    init_logging(cli.log_format, level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(cli::Exit::Usage.code());
        }
    };
    let exit = runtime.block_on(cli::run(cli));
    ExitCode::from(exit.code())
}

/// Logs go to stderr: human-readable on a terminal, JSON in a cluster or when asked.
/// `RUST_LOG` sets the level (default `warn`, `info` for the operator; kube's client builder is quiet by default because
/// its connection errors come back to us and are reported once, with advice).
fn init_logging(format: Option<LogFormat>, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},kube_client::client::builder=off")));
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let format = format.unwrap_or(if in_cluster {
        LogFormat::Json
    } else {
        LogFormat::Text
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
