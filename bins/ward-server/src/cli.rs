//! Command-line syntax.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ward-server",
    version,
    about = "Ward server: console, REST API and agent gateway on one HTTPS port"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Data directory (store, keys, certificates); overrides the config file.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::enum_variant_names)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Address of the HTTPS port, e.g. 0.0.0.0:8443.
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
    },
    /// Manage verification keys (work while the server runs).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the one-line agent install command.
    InstallCommand {
        /// Platform, e.g. linux-x86_64.
        #[arg(long)]
        platform: String,
        /// Key id or secret (default: the newest non-revoked key).
        #[arg(long)]
        key: Option<String>,
        /// Server URL agents use (default: the advertised URL in server.json).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Session endpoint for the agent's network.toml, https://host:port; repeat in order of preference.
        #[arg(long = "endpoint", value_name = "URL")]
        endpoints: Vec<String>,
        /// Update/package endpoint, https://host:port; repeat in order of preference.
        #[arg(long = "update-endpoint", value_name = "URL")]
        update_endpoints: Vec<String>,
        /// Use IP for HOST instead of DNS, in the download and on the agent (repeatable).
        #[arg(long = "override", value_name = "HOST=IP")]
        overrides: Vec<String>,
        /// HTTP CONNECT proxy for the download and the agent, http://[user:password@]host:port.
        #[arg(long, value_name = "URL")]
        proxy: Option<String>,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Console administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Detection rules tools (offline).
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Publish and list agent releases (work while the server runs).
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Publish a release of ward-agent (and ward-update) for one platform; the server signs it into its release metadata and agents pick it up under the rollout controls.
    Add {
        /// Semantic version of the release, e.g. 0.2.0.
        #[arg(long)]
        version: String,
        /// Platform: linux-x86_64, linux-i686 or linux-aarch64.
        #[arg(long)]
        platform: String,
        /// The ward-agent binary.
        #[arg(long, value_name = "FILE")]
        agent: PathBuf,
        /// The ward-update binary (optional: updaters keep theirs without it).
        #[arg(long, value_name = "FILE")]
        updater: Option<PathBuf>,
        /// Release notes shown in the console.
        #[arg(long)]
        notes: Option<String>,
    },
    /// List published releases.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum RulesCommand {
    /// Run the built-in rules (and more) over an auth log; print alerts as JSON lines.
    Test {
        /// Auth log file (classic syslog or RFC 3339 timestamps).
        file: PathBuf,
        /// Directory of extra rule files (*.yml, *.yaml; searched recursively).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// Year of classic syslog timestamps (default: the current year).
        #[arg(long, value_name = "Y")]
        year: Option<i32>,
        /// Fail (exit 2) when any rule does not compile, instead of warning.
        #[arg(long)]
        strict: bool,
    },
    /// Import rule files (e.g. SigmaHQ's rules/linux) into the server's
    /// store; prints every rule, loaded or why not. A running server picks
    /// them up within seconds.
    Import {
        /// Directory of rule files (*.yml, *.yaml; searched recursively).
        dir: PathBuf,
        /// Remove imported files that are not in DIR.
        #[arg(long)]
        replace: bool,
        /// Report only; store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every rule of the server's rule book (built-in and imported).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only rules that did not load.
        #[arg(long)]
        not_loaded: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List verification keys.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a verification key.
    Create {
        #[arg(long, default_value = "key")]
        label: String,
        /// Group given to assets this key enrolls.
        #[arg(long)]
        group: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a verification key (enrolled agents are unaffected).
    Revoke {
        /// Key id (see `keys list`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it (shown once).
    Create {
        #[arg(long, default_value = "api")]
        label: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration (file, WARD_ environment, flags) and print it.
    Validate,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Set the console administrator password (read from standard input, or
    /// prompted for on a terminal). Signed-in console sessions end.
    SetPassword,
}
