//! Command-line syntax.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ward-bench",
    version,
    about = "Load generator for ward-server: many simulated agents, real TLS, real protocol"
)]
pub struct Cli {
    /// Runtime worker threads (default: one per CPU).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enroll N simulated agents, open N sessions, hold them and measure.
    Agents(AgentsArgs),
}

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Server URL, e.g. https://127.0.0.1:8443.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Server key pin, `sha256//BASE64` (server.json's `pin`).
    #[arg(long)]
    pub pin: String,
    /// Verification key (needed only when agents must be enrolled).
    #[arg(long, env = "WARD_BENCH_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Number of simulated agents.
    #[arg(long, value_name = "N")]
    pub count: usize,
    /// Skip the first K agents of the credentials file (to split a run over
    /// several bench processes, each under its own open-files limit).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub offset: usize,
    /// Protected assets (in `/metrics` and the API) that mean "all
    /// protected" (default: those protected before the run + N; pass the
    /// total when several bench processes share one server).
    #[arg(long, value_name = "TOTAL")]
    pub expect_protected: Option<u64>,
    /// Sessions being opened (connect + TLS + upgrade + welcome) at once.
    #[arg(long, value_name = "C", default_value_t = 256)]
    pub concurrency: usize,
    /// Enrollments in flight at once.
    #[arg(long, value_name = "C", default_value_t = 64)]
    pub enroll_concurrency: usize,
    /// Source addresses to spread sessions over (`A-B` IPv4 ranges, commas,
    /// or `none`).
    #[arg(long, value_name = "SPEC", default_value = "127.0.0.2-127.0.0.9")]
    pub source_ips: String,
    /// Seconds to hold all sessions after the last one opened.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub duration: u64,
    /// Send keepalives at the interval the server's Welcome/Policy says (the default).
    #[arg(long, conflicts_with = "keepalive_secs")]
    pub keepalive_from_server: bool,
    /// Send keepalives every SECS instead of the server's interval.
    #[arg(long, value_name = "SECS")]
    pub keepalive_secs: Option<u64>,
    /// Credentials file (JSON, 0600): reused when it holds enough agents,
    /// extended (and saved) when it holds fewer.
    #[arg(long, value_name = "FILE")]
    pub enrolled_file: Option<PathBuf>,
    /// Enroll (and save) the agents, then stop.
    #[arg(long)]
    pub enroll_only: bool,
    /// Pid of the ward-server process to measure (default: the only running
    /// `ward-server … serve`).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// API token: also counts protected assets through `GET /api/v1/assets`.
    #[arg(long, env = "WARD_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Give up waiting for all sessions after SECS (then hold what is open).
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub ramp_timeout: u64,
    /// Time allowed for one session open (connect to Welcome).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub open_timeout: u64,
    /// Do not reconnect a failed session (real agents do).
    #[arg(long)]
    pub no_reconnect: bool,
    /// Allow TLS session resumption (default: every handshake is a full one).
    #[arg(long)]
    pub tls_resume: bool,
    /// Seconds between progress lines on stderr (0: none).
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub progress: u32,
    /// Print the result as JSON on stdout instead of the text summary.
    #[arg(long)]
    pub json: bool,
}
