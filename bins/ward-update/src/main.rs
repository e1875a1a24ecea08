//! `ward-update`: the Ward updater and guardian. A thin command line over
//! `ward-update-core`; see `ward-update --help` for commands and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ward_agent_core::layout::{Layout, DEFAULT_PREFIX};
use ward_agent_core::{exit_code, one_line, updater_ctl, AgentError};

const EXIT_CODES: &str = "Exit codes:
  0  ok (check: up to date, updated, or nothing to do)
  1  runtime failure (check: the server could not be asked, or installing failed)
  2  usage or configuration error
  3  check: the offered release was refused (signature, freshness, version or file hash)
  4  check: the new agent did not come online and was rolled back";

#[derive(Parser)]
#[command(name = "ward-update", version = ward_agent_core::version(), about = "Ward updater and guardian", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args)]
struct PrefixArg {
    /// Install prefix.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_PREFIX)]
    prefix: PathBuf,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run in the foreground: keep ward-agent running, check for releases every check_interval_secs and on SIGUSR1.
    Run {
        #[command(flatten)]
        prefix: PrefixArg,
    },
    /// Check for a release now and install it (asks the running updater when there is one).
    #[command(after_help = EXIT_CODES)]
    Check {
        #[command(flatten)]
        prefix: PrefixArg,
        /// Seconds to wait for a running updater's check.
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        wait_secs: u64,
    },
    /// Start ward-update of the prefix (detached, or its systemd unit).
    Start {
        #[command(flatten)]
        prefix: PrefixArg,
    },
    /// Stop ward-update of the prefix (SIGTERM, SIGKILL after 10 s); ward-agent restarts it unless the agent is stopped.
    Stop {
        #[command(flatten)]
        prefix: PrefixArg,
    },
}

fn run(cmd: Cmd) -> Result<i32, AgentError> {
    match cmd {
        Cmd::Run { prefix } => {
            ward_update_core::run::run(&Layout::new(prefix.prefix))?;
            Ok(exit_code::OK)
        }
        Cmd::Check { prefix, wait_secs } => {
            let o = ward_update_core::run::check(
                &Layout::new(prefix.prefix),
                Duration::from_secs(wait_secs),
            )?;
            match o.exit_code {
                0 => println!("{}", o.line),
                _ => eprintln!("ward-update: {}", o.line),
            }
            Ok(o.exit_code)
        }
        Cmd::Start { prefix } => {
            let layout = Layout::new(prefix.prefix);
            let pid = updater_ctl::start(&layout)?;
            println!(
                "ward-update running for {} (pid {pid})",
                layout.prefix().display()
            );
            Ok(exit_code::OK)
        }
        Cmd::Stop { prefix } => {
            let layout = Layout::new(prefix.prefix);
            match updater_ctl::stop(&layout)? {
                Some(pid) => println!("ward-update stopped (pid {pid})"),
                None => println!(
                    "ward-update is not running for {}",
                    layout.prefix().display()
                ),
            }
            Ok(exit_code::OK)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let line = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            eprintln!("ward-update: {line}");
            return ExitCode::from(exit_code::USAGE as u8);
        }
    };
    match run(cli.command) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("ward-update: {}", one_line(&e));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
