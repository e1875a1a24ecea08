//! Starting and stopping a server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ward_config::{ConfigError, ServerConfig};
use ward_pki::issue::{CommandKey, ReleaseKey};
use ward_status::Engine;
use ward_store::Store;

use crate::admin::{ServerInfo, STORE_FILE};
use crate::bootstrap;
use crate::clock::now_ms;
use crate::download::PackageCache;
use crate::error::ServerError;
use crate::listener::{self, ListenLimits};
use crate::net::advertise_urls;
use crate::router::router;
use crate::runtime;
use crate::state::{AppState, PublicInfo, StateParts};

/// Options that are not configuration.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// A `ward-agent` binary to copy into the packages dir for this host's
    /// platform when none is there (the one next to `ward-server`).
    pub agent_source: Option<PathBuf>,
    /// The same for `ward-update`.
    pub update_source: Option<PathBuf>,
}

/// A started server.
pub struct RunningServer {
    /// The address actually bound (useful with port 0).
    pub local_addr: SocketAddr,
    /// What `server.json` says.
    pub info: ServerInfo,
    /// The console administrator password, only on the start that created
    /// it (printed once by `ward-server serve`; stored only as a hash).
    pub admin_password: Option<String>,
    state: Arc<AppState>,
    shutdown_tx: watch::Sender<bool>,
    accept: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    pub fn url(&self) -> &str {
        &self.info.url
    }

    pub fn pin(&self) -> &str {
        &self.info.pin
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting, closes sessions, writes pending status changes and
    /// `last_seen` values, and returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let _ = self.accept.await;
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// Prepares the data dir and starts serving.
pub async fn start(config: ServerConfig, opts: StartOptions) -> Result<RunningServer, ServerError> {
    let problems = config.validate();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems).into());
    }
    let started_at = now_ms();
    match listener::raise_nofile_limit() {
        Ok(n) => tracing::debug!(limit = n, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
    let data_dir = config.data_dir.clone();
    bootstrap::create_data_dir(&data_dir)?;
    let store: Arc<dyn Store> =
        Arc::new(ward_store_sqlite::SqliteStore::open(&data_dir.join(STORE_FILE)).await?);

    let tcp = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = tcp.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let urls = advertise_urls(&config.advertise, local_addr);
    let tls = bootstrap::server_tls(&config, &urls)?;
    let tls_config = tls.rustls_server_config()?;
    let command_key = CommandKey::load_or_create(&data_dir.join(bootstrap::COMMAND_KEY_FILE))?;
    bootstrap::ensure_first_key(&*store).await?;
    let packages_dir = config.packages_dir();
    bootstrap::install_local_packages(
        &packages_dir,
        opts.agent_source.as_deref(),
        opts.update_source.as_deref(),
    );
    let release_key = ReleaseKey::load_or_create(&data_dir.join(bootstrap::RELEASE_KEY_FILE))?;

    let policy = match store.get_policy().await? {
        Some(p) if p.validate().is_ok() => p,
        _ => config.policy,
    };
    let mut engine = Engine::new(policy, started_at);
    engine.load(store.load_liveness().await?);
    tracing::info!(assets = engine.len(), "status engine loaded");

    let info = ServerInfo {
        url: urls[0].clone(),
        urls: urls.clone(),
        pin: tls.pin.clone(),
        listen: local_addr.to_string(),
        command_key: command_key.public_b64(),
        release_key: release_key.public_b64(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    info.write(&data_dir)?;

    // Console password: created (and handed back to be printed once) at first start.
    let console_dir = data_dir.clone();
    let (console, admin_password) =
        tokio::task::spawn_blocking(move || ward_console::ConsoleAuth::open(&console_dir))
            .await
            .map_err(|e| ServerError::Other(format!("console password task: {e}")))?
            .map_err(|e| ServerError::Other(format!("console password: {e}")))?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let tamper = crate::lifecycle::tamper::load(&*store).await?;
    let (state, channels) = AppState::new(StateParts {
        store,
        engine,
        limits: config.limits.clone(),
        public: PublicInfo {
            url: info.url.clone(),
            urls,
            pin: info.pin.clone(),
        },
        packages: PackageCache::new(packages_dir),
        releases: crate::releases::Releases::new(
            release_key,
            config.release.metadata_expiry_secs,
            data_dir.join(bootstrap::RELEASES_DIR),
        ),
        shutdown: shutdown_rx.clone(),
        console,
        lifecycle: crate::lifecycle::Lifecycle::new(Arc::new(command_key), tamper),
    });
    let rules_dir = config.rules_dir();
    let added_rules = crate::detect::rule_files::read_dir(&rules_dir, config.rules_dir.is_none())
        .map_err(|e| ServerError::Other(format!("detection rules: {e}")))?;
    let mut tasks = runtime::spawn(state.clone(), channels.status_rx, shutdown_rx.clone());
    tasks.push(tokio::spawn(crate::lifecycle::commands::expiry_task(
        state.clone(),
        shutdown_rx.clone(),
    )));
    tasks.extend(
        crate::detect::spawn(
            state.clone(),
            crate::outputs::Tuning::default(),
            added_rules,
            shutdown_rx.clone(),
        )
        .await?,
    );
    let limits = ListenLimits {
        handshake_timeout: Duration::from_secs(u64::from(config.limits.tls_handshake_timeout_secs)),
        max_concurrent_handshakes: config.limits.max_concurrent_handshakes as usize,
    };
    let accept = tokio::spawn(listener::serve(
        tcp,
        tls_config,
        router(state.clone()),
        limits,
        shutdown_rx,
    ));
    tracing::info!(listen = %local_addr, url = %info.url, "ward-server listening");
    Ok(RunningServer {
        local_addr,
        info,
        admin_password,
        state,
        shutdown_tx,
        accept,
        tasks,
    })
}
