//! `ward-agent`: the Ward host agent. A thin command line over
//! `ward-agent-core`; see `ward-agent --help` for commands and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ward_agent_core::install::{install, InstallArgs};
use ward_agent_core::layout::{Layout, DEFAULT_PREFIX};
use ward_agent_core::status_cmd::StatusReport;
use ward_agent_core::{config, daemon, exit_code, one_line, AgentError};

const EXIT_CODES: &str = "Exit codes:
  0  ok (status: connected)
  1  runtime failure (status: running but not connected)
  2  usage or configuration error
  3  not running (status)
  4  enrollment refused (unknown or revoked verification key)
  5  server unreachable, TLS failure or server key does not match pin";

#[derive(Parser)]
#[command(name = "ward-agent", version, about = "Ward host agent", after_help = EXIT_CODES)]
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
    /// Enroll with a verification key (or repair an existing install), install into the prefix and start the agent.
    #[command(after_help = EXIT_CODES)]
    Install {
        /// Server URL, https://host:port.
        #[arg(long, value_name = "URL")]
        server: String,
        /// Server key pin, sha256//BASE64 (curl --pinnedpubkey form).
        #[arg(long, value_name = "PIN")]
        pin: String,
        /// Verification key; presented once, never stored.
        #[arg(long, value_name = "KEY")]
        key: String,
        #[command(flatten)]
        prefix: PrefixArg,
        /// Platform name (linux-x86_64, linux-i686, linux-aarch64); default: this binary's.
        #[arg(long, value_name = "P")]
        platform: Option<String>,
        /// Install and enroll, but do not start the agent.
        #[arg(long)]
        no_start: bool,
        /// Seconds to wait for the agent to connect.
        #[arg(long, value_name = "N", default_value_t = 15)]
        wait_secs: u64,
    },
    /// Start the agent of the prefix (systemd unit for the default prefix under systemd, else a detached process).
    Start {
        #[command(flatten)]
        prefix: PrefixArg,
    },
    /// Stop the agent of the prefix (SIGTERM, SIGKILL after 10 s).
    Stop {
        #[command(flatten)]
        prefix: PrefixArg,
    },
    /// Run the agent in the foreground.
    Run {
        #[command(flatten)]
        prefix: PrefixArg,
    },
    /// Show version, agent id, session state, endpoint, last keepalive and last error.
    #[command(after_help = "Exit codes: 0 connected, 1 running but not connected, 3 not running.")]
    Status {
        #[command(flatten)]
        prefix: PrefixArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Check conf/agent.toml and conf/network.toml; print each problem on one line.
    Validate {
        #[command(flatten)]
        prefix: PrefixArg,
    },
}

fn run(cmd: Cmd) -> Result<i32, AgentError> {
    match cmd {
        Cmd::Install {
            server,
            pin,
            key,
            prefix,
            platform,
            no_start,
            wait_secs,
        } => {
            let outcome = install(&InstallArgs {
                server,
                pin,
                key,
                prefix: prefix.prefix,
                platform,
                no_start,
                wait_secs,
            })?;
            match outcome.message(wait_secs) {
                Ok(line) => println!("{line}"),
                Err(warning) => eprintln!("ward-agent: {warning}"),
            }
            Ok(exit_code::OK)
        }
        Cmd::Start { prefix } => {
            let layout = Layout::new(prefix.prefix);
            let pid = daemon::start(&layout)?;
            println!(
                "ward-agent running for {} (pid {pid})",
                layout.prefix().display()
            );
            Ok(exit_code::OK)
        }
        Cmd::Stop { prefix } => {
            let layout = Layout::new(prefix.prefix);
            match daemon::stop(&layout)? {
                Some(pid) => println!("ward-agent stopped (pid {pid})"),
                None => println!(
                    "ward-agent is not running for {}",
                    layout.prefix().display()
                ),
            }
            Ok(exit_code::OK)
        }
        Cmd::Run { prefix } => {
            daemon::run(&Layout::new(prefix.prefix))?;
            Ok(exit_code::OK)
        }
        Cmd::Status { prefix, json } => {
            let report = StatusReport::gather(&Layout::new(prefix.prefix))?;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text(ward_agent_core::now_ms()));
            }
            Ok(report.exit_code())
        }
        Cmd::Config {
            command: ConfigCmd::Validate { prefix },
        } => {
            let problems = config::validate_files(&Layout::new(prefix.prefix));
            if problems.is_empty() {
                println!("configuration OK");
                return Ok(exit_code::OK);
            }
            for p in &problems {
                println!("{p}");
            }
            Ok(exit_code::USAGE)
        }
    }
}

/// A clap error on one line (without the usage block).
fn clap_one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ").trim_start_matches("error: ").to_string()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ward-agent: {}", clap_one_line(&e));
            return ExitCode::from(exit_code::USAGE as u8);
        }
    };
    match run(cli.command) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("ward-agent: {}", one_line(&e));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
