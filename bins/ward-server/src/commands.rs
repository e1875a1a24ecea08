//! What each command does (all logic lives in `ward-server-core`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use ward_config::{CliOverrides, LogFormat, ServerConfig};
use ward_server_core::admin::{self, KeyChoiceError};
use ward_server_core::api::keys::check_name;
use ward_server_core::api::views::KeyView;
use ward_server_core::clock::rfc3339;
use ward_server_core::install_opts::InstallOptions;
use ward_server_core::{install_command, ServerInfo, StartOptions};
use ward_store::Store;

use crate::cli::{
    AdminCommand, Cli, Command, ConfigCommand, KeysCommand, ReleaseCommand, RulesCommand,
    TokenCommand,
};
use crate::Failure;

pub async fn run(cli: Cli) -> Result<(), Failure> {
    // Offline rule tools need no configuration.
    let cli = match cli.command {
        Command::Rules {
            command:
                RulesCommand::Test {
                    file,
                    rules,
                    year,
                    strict,
                },
        } => return crate::rules::test(&file, rules.as_deref(), year, strict),
        command => Cli { command, ..cli },
    };
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let overrides = CliOverrides {
        listen,
        data_dir: cli.global.data_dir.clone(),
    };
    // `WARD_AGENT_*` belongs to a ward-agent on the same host, not to us.
    let env = std::env::vars().filter(|(k, _)| !k.starts_with("WARD_AGENT_"));
    let (config, origins) = ServerConfig::load(cli.global.config.as_deref(), env, &overrides)
        .map_err(|e| Failure::Usage(e.into()))?;

    match cli.command {
        Command::Config {
            command: ConfigCommand::Validate,
        } => {
            if let Err(e) = config.check(&origins) {
                for p in e.problems() {
                    eprintln!("ward-server: {p}");
                }
                return Err(Failure::Usage(anyhow!("the configuration is invalid")));
            }
            let text = toml::to_string_pretty(&config).context("printing the configuration")?;
            println!("# the configuration is valid; effective settings:\n{text}");
            Ok(())
        }
        Command::Serve { .. } => {
            config
                .check(&origins)
                .map_err(|e| Failure::Usage(e.into()))?;
            serve(config).await
        }
        Command::Keys { command } => keys(&config.data_dir, command).await,
        Command::Release { command } => release(&config.data_dir, command).await,
        Command::Admin {
            command: AdminCommand::SetPassword,
        } => crate::password::set_password(&config.data_dir),
        // Handled before the configuration is loaded (see the top).
        Command::Rules {
            command:
                RulesCommand::Import {
                    dir,
                    replace,
                    dry_run,
                    json,
                },
        } => crate::rules_import::import(&config, &dir, replace, dry_run, json).await,
        Command::Rules {
            command: RulesCommand::List { json, not_loaded },
        } => crate::rules_import::list(&config, json, not_loaded).await,
        // `rules test` is handled before the configuration is loaded (see the top).
        Command::Rules {
            command: RulesCommand::Test { .. },
        } => Ok(()),
        Command::InstallCommand {
            platform,
            key,
            server,
            endpoints,
            update_endpoints,
            overrides,
            proxy,
        } => {
            let opts = InstallOptions::build(endpoints, update_endpoints, &overrides, proxy)
                .map_err(|e| Failure::Usage(anyhow!(e)))?;
            print_install_command(&config.data_dir, &platform, key.as_deref(), server, &opts).await
        }
        Command::Token {
            command: TokenCommand::Create { label },
        } => {
            check_name("label", &label).map_err(|e| Failure::Usage(anyhow!(e.message)))?;
            let store = admin::open_existing_store(&config.data_dir).await?;
            let (token, secret) = admin::create_api_token(&*store, label.trim()).await?;
            println!("{secret}");
            eprintln!(
                "API token {} ({}) created; it is shown only once. Use it as: Authorization: Bearer <token>",
                token.id, token.label
            );
            Ok(())
        }
    }
}

fn init_logging(config: &ServerConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

async fn serve(config: ServerConfig) -> Result<(), Failure> {
    init_logging(&config);
    let next_to_me = |name: &str| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join(name)))
    };
    let (agent_source, update_source) = (next_to_me("ward-agent"), next_to_me("ward-update"));
    let data_dir = config.data_dir.clone();
    let server = ward_server_core::start(
        config,
        StartOptions {
            agent_source,
            update_source,
        },
    )
    .await
    .context("starting the server")?;

    let install = match admin::choose_key(&*server.store(), None).await {
        Ok(key) => install_command(server.url(), server.pin(), &key.secret, host_platform()),
        Err(e) => format!("(none: {e})"),
    };
    println!("Ward server is running.");
    println!("  Console: {}/console/", server.url());
    if let Some(pw) = &server.admin_password {
        println!("  Console password (shown only this once; user admin): {pw}");
        println!(
            "           change it with: ward-server admin set-password --data-dir {}",
            data_dir.display()
        );
    }
    println!("  API:     {}/api/v1", server.url());
    println!("  Pin:     {}", server.pin());
    println!("  Install: {install}");
    println!(
        "  Token:   ward-server token create --data-dir {}",
        data_dir.display()
    );

    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

fn host_platform() -> &'static str {
    admin::current_platform().unwrap_or("linux-x86_64")
}

async fn wait_for_signal() -> Result<(), Failure> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

async fn keys(data_dir: &Path, command: KeysCommand) -> Result<(), Failure> {
    let store: Arc<dyn Store> = admin::open_existing_store(data_dir).await?;
    match command {
        KeysCommand::List { json } => {
            let keys = store.list_keys().await?;
            if json {
                let views: Vec<KeyView> = keys.into_iter().map(KeyView::from).collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
                return Ok(());
            }
            println!("ID\tLABEL\tGROUP\tCREATED\tSTATE\tKEY");
            for k in keys {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.label,
                    k.default_group.as_deref().unwrap_or("-"),
                    rfc3339(k.created_at),
                    if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    k.secret
                );
            }
            Ok(())
        }
        KeysCommand::Create { label, group, json } => {
            check_name("label", &label).map_err(|e| Failure::Usage(anyhow!(e.message)))?;
            let group = group
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty());
            if let Some(g) = &group {
                check_name("group", g).map_err(|e| Failure::Usage(anyhow!(e.message)))?;
            }
            let key = admin::create_key(&*store, label.trim(), group).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&KeyView::from(key))?);
            } else {
                println!("id:     {}", key.id);
                println!("key:    {}", key.secret);
                println!("label:  {}", key.label);
                println!("group:  {}", key.default_group.as_deref().unwrap_or("-"));
            }
            Ok(())
        }
        KeysCommand::Revoke { id } => {
            let key = store
                .revoke_key(&id, ward_server_core::clock::now_ms())
                .await
                .map_err(|e| match e {
                    ward_store::StoreError::NotFound(_) => {
                        anyhow!("no verification key {id:?} (see `ward-server keys list`)")
                    }
                    other => other.into(),
                })?;
            println!("revoked {} ({})", key.id, key.label);
            Ok(())
        }
    }
}

async fn print_install_command(
    data_dir: &Path,
    platform: &str,
    key: Option<&str>,
    server: Option<String>,
    opts: &InstallOptions,
) -> Result<(), Failure> {
    if !admin::is_platform(platform) {
        return Err(Failure::Usage(anyhow!(
            "unknown platform {platform:?}; known: {}",
            admin::platforms().join(", ")
        )));
    }
    let info = ServerInfo::read(data_dir)?;
    let url = match server {
        Some(u) => {
            let u = u.trim().trim_end_matches('/').to_string();
            if !u.starts_with("https://") || u.len() <= "https://".len() || u.contains(['\'', ' '])
            {
                return Err(Failure::Usage(anyhow!(
                    "--server must be an https://host:port URL, got {u:?}"
                )));
            }
            u
        }
        None => info.url.clone(),
    };
    let store = admin::open_existing_store(data_dir).await?;
    let key = admin::choose_key(&*store, key).await.map_err(|e| match e {
        KeyChoiceError::Store(e) => Failure::Runtime(e.into()),
        other => Failure::Runtime(other.into()),
    })?;
    println!(
        "{}",
        admin::install_command_with(&url, &info.pin, &key.secret, platform, opts)
    );
    Ok(())
}

async fn release(data_dir: &Path, command: ReleaseCommand) -> Result<(), Failure> {
    use ward_server_core::releases::publish::{publish, PublishError, PublishRequest};
    let store: Arc<dyn Store> = admin::open_existing_store(data_dir).await?;
    match command {
        ReleaseCommand::Add {
            version,
            platform,
            agent,
            updater,
            notes,
        } => {
            let dir = data_dir.join(ward_server_core::bootstrap::RELEASES_DIR);
            let req = PublishRequest {
                version,
                platform,
                agent,
                update: updater,
                notes,
            };
            let r = publish(&*store, &dir, &req).await.map_err(|e| match e {
                PublishError::Invalid(_) | PublishError::Exists { .. } => Failure::Usage(e.into()),
                other => Failure::Runtime(other.into()),
            })?;
            println!(
                "release {} for {} published: ward-agent sha256 {} ({} bytes){}",
                r.version,
                r.platform,
                r.agent.sha256,
                r.agent.size,
                match &r.update {
                    Some(u) => format!(", ward-update sha256 {} ({} bytes)", u.sha256, u.size),
                    None => String::new(),
                }
            );
            Ok(())
        }
        ReleaseCommand::List { json } => {
            let releases = store.list_releases().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&releases)?);
                return Ok(());
            }
            println!("VERSION\tPLATFORM\tADDED\tAGENT_SHA256\tUPDATER");
            for r in releases {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    r.version,
                    r.platform,
                    rfc3339(r.added_at),
                    r.agent.sha256,
                    if r.update.is_some() { "yes" } else { "no" }
                );
            }
            Ok(())
        }
    }
}
