//! `coordinator`: serve sweeps to workers, or talk to a running
//! coordinator. (The one-process run with local workers is `sweep-local`:
//! this binary never links the trainer.)

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    sweep_shared::logging::init(cli.log_format, "info");
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
