//! `ward-agent`: the Ward host agent. A thin command line over
//! `ward-agent-core`; see `ward-agent --help` for commands and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod replay;
use ward_agent_core::doctor::{self, DoctorOptions};
use ward_agent_core::install::{install, InstallArgs};
use ward_agent_core::layout::{Layout, DEFAULT_PREFIX};
use ward_agent_core::lifecycle::{protection, uninstall};
use ward_agent_core::net::plan::NetworkFlags;
use ward_agent_core::status_cmd::StatusReport;
use ward_agent_core::{config, daemon, exit_code, one_line, AgentError};

const EXIT_CODES: &str = "Exit codes:
  0  ok (status: connected)
  1  runtime failure (status: running but not connected)
  2  usage or configuration error
  3  not running (status)
  4  enrollment refused (unknown or revoked verification key)
  5  server unreachable, TLS failure or server key does not match pin
  7  refused by tamper protection (stop/uninstall without a valid uninstall token)";

#[derive(Parser)]
#[command(name = "ward-agent", version = ward_agent_core::version(), about = "Ward host agent", after_help = EXIT_CODES)]
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

#[derive(clap::Args)]
struct TokenArg {
    /// Uninstall token from the console or the API (needed when tamper protection is on).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "WARD_UNINSTALL_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
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
        /// The ward-update binary to install (default: the one next to this program, if any).
        #[arg(long, value_name = "FILE")]
        updater: Option<PathBuf>,
        #[command(flatten)]
        network: NetworkArgs,
    },
    /// Start the agent of the prefix (systemd unit for the default prefix under systemd, else a detached process).
    Start {
        #[command(flatten)]
        prefix: PrefixArg,
    },
    /// Stop the agent of the prefix (SIGTERM, SIGKILL after 10 s); it stays stopped (ward-update does not restart it) until `start`. With tamper protection on, needs --token.
    #[command(after_help = EXIT_CODES)]
    Stop {
        #[command(flatten)]
        prefix: PrefixArg,
        #[command(flatten)]
        token: TokenArg,
    },
    /// Remove the agent: stop it and the updater, remove its services, files and credentials, and tell the server. With tamper protection on, needs --token.
    #[command(after_help = EXIT_CODES)]
    Uninstall {
        #[command(flatten)]
        prefix: PrefixArg,
        #[command(flatten)]
        token: TokenArg,
    },
    /// Run the agent in the foreground.
    Run {
        #[command(flatten)]
        prefix: PrefixArg,
    },
    /// Show version, agent id, session state, endpoint and path in use, last keepalive and last error.
    #[command(after_help = "Exit codes: 0 connected, 1 running but not connected, 3 not running.")]
    Status {
        #[command(flatten)]
        prefix: PrefixArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check everything the agent needs (processes, DNS, TCP, TLS and pin of each endpoint, overrides, proxy, clock, firewall, CPU/memory, conflicting software) and print each finding with a fix.
    #[command(after_help = DOCTOR_EXIT_CODES)]
    Doctor {
        #[command(flatten)]
        prefix: PrefixArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Seconds allowed for each network step.
        #[arg(long, value_name = "SECS", default_value_t = 5)]
        timeout: u64,
        /// Largest clock difference to the server that is healthy, seconds.
        #[arg(
            long,
            value_name = "SECS",
            default_value_t = 60,
            env = "WARD_DOCTOR_MAX_CLOCK_SKEW_SECS"
        )]
        max_clock_skew: u64,
        /// How long CPU use is sampled, milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        cpu_sample_ms: u64,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
    /// Run the built-in (and --rules) rules over a log file offline; print alerts as JSON lines.
    Replay {
        /// What the file holds: `auth` (auth.log / secure / journal text).
        #[arg(long, value_name = "KIND", default_value = "auth")]
        source: String,
        /// The log file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Year of classic syslog timestamps (default: the file's modification year).
        #[arg(long, value_name = "Y")]
        year: Option<i32>,
        /// Directory of extra rule files (*.yml, *.yaml).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
}

/// Network flags of `install`; they write conf/network.toml.
#[derive(clap::Args)]
struct NetworkArgs {
    /// Session endpoint, https://host:port; repeat in order of preference (default: --server).
    #[arg(long = "endpoint", value_name = "URL")]
    endpoints: Vec<String>,
    /// Update/package endpoint, https://host:port; repeat in order of preference.
    #[arg(long = "update-endpoint", value_name = "URL")]
    update_endpoints: Vec<String>,
    /// Use IP for HOST instead of DNS (repeatable; /etc/hosts is not touched).
    #[arg(long = "override", value_name = "HOST=IP")]
    overrides: Vec<String>,
    /// HTTP CONNECT proxy, http://[user:password@]host:port (used for enrollment too).
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    proxy: Option<String>,
    /// Remove a configured proxy.
    #[arg(long)]
    no_proxy: bool,
}

const DOCTOR_EXIT_CODES: &str = "Exit codes:
  0  healthy (every finding ok, info or skip)
  1  at least one check failed
  2  usage error
  6  warnings, no failure";

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
            updater,
            network,
        } => {
            let outcome = install(&InstallArgs {
                server,
                pin,
                key,
                prefix: prefix.prefix,
                platform,
                no_start,
                wait_secs,
                updater,
                network: NetworkFlags {
                    endpoints: network.endpoints,
                    update_endpoints: network.update_endpoints,
                    overrides: network.overrides,
                    proxy: network.proxy,
                    no_proxy: network.no_proxy,
                },
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
        Cmd::Stop { prefix, token } => {
            let layout = Layout::new(prefix.prefix);
            match protection::stop(&layout, token.token.as_deref())? {
                Some(pid) => println!("ward-agent stopped (pid {pid})"),
                None => println!(
                    "ward-agent is not running for {}",
                    layout.prefix().display()
                ),
            }
            Ok(exit_code::OK)
        }
        Cmd::Uninstall { prefix, token } => {
            let layout = Layout::new(prefix.prefix);
            let outcome = uninstall::local(&layout, token.token.as_deref())?;
            let line = outcome.message(&layout);
            if outcome.removal.problems.is_empty() {
                println!("{line}");
                Ok(exit_code::OK)
            } else {
                eprintln!("ward-agent: {line}");
                Ok(exit_code::RUNTIME)
            }
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
        Cmd::Doctor {
            prefix,
            json,
            timeout,
            max_clock_skew,
            cpu_sample_ms,
        } => {
            let opts = DoctorOptions {
                timeout: Duration::from_secs(timeout.max(1)),
                max_clock_skew: Duration::from_secs(max_clock_skew),
                cpu_sample: Duration::from_millis(cpu_sample_ms.clamp(100, 10_000)),
                ..DoctorOptions::default()
            };
            let report = doctor::run(&Layout::new(prefix.prefix), &opts);
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            Ok(report.exit_code())
        }
        Cmd::Replay {
            source,
            file,
            year,
            rules,
        } => replay::replay(&source, &file, year, rules.as_deref()),
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
