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
