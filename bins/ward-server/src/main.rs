//! `ward-server`: a thin command line over `ward-server-core`.
//!
//! Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
//! Errors are printed as one line: `ward-server: <cause chain>`.

mod cli;
mod commands;
mod password;
mod rules;
mod rules_import;

use std::process::ExitCode;

use clap::Parser;

/// A failure and the exit status it maps to.
pub enum Failure {
    /// Bad usage or configuration (exit 2).
    Usage(anyhow::Error),
    /// Anything else (exit 1).
    Runtime(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Runtime(e.into())
    }
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ward-server: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("ward-server: {}", one_line(&e));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("ward-server: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}
