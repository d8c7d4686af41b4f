//! `coordinator`: serve sweeps to workers, or talk to a running
//! coordinator. (The one-process run with local workers is `sweep-local`:
//! this binary never links the trainer.)

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(cli::dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            // The outermost message only: the text the commands gave when
            // their errors were strings.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
