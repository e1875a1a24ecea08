//! The embedded SQLite backend of Ward's storage interface.
//!
//! This crate owns the SQLite schema, its migrations and [`SqliteStore`], an
//! implementation of [`ward_store::Store`] that passes the shared conformance
//! suite (`ward_store::testsuite`). Nothing outside this crate sees SQL.
//!
//! # Invariants
//!
//! * **File**: [`SqliteStore::open`] creates the parent directory (0700) and
//!   the database file if missing, and sets the file to mode 0600 on every
//!   open whatever the umask. SQLite creates `-wal`/`-shm` with the database
//!   file's mode; they are also set to 0600 if found otherwise.
//! * **Durability**: `journal_mode=WAL`, `synchronous=NORMAL`. In WAL mode a
//!   commit is appended to the `-wal` file before it returns, so every
//!   acknowledged transaction survives the process being killed (`kill -9`,
//!   panic, OOM kill); only an OS crash or power loss can lose the last
//!   transactions since the previous checkpoint/fsync (never corrupting the
//!   database). That is the right trade-off for keepalive-rate writes.
//! * **Several processes** (the running server plus CLI commands such as
//!   `ward-server keys create`) may open the same file at once. Nothing relies
//!   on process-local locks: every write is one `BEGIN IMMEDIATE`
//!   transaction, and each connection waits up to 5 s (`busy_timeout`) for
//!   another's write lock. Within a process there is one writer connection
//!   behind a mutex and four reader connections; WAL lets readers run while
//!   the writer writes. All database work runs on `spawn_blocking`.
//! * **Migrations** are forward-only: `migrations/NNNN_name.sql`, embedded
//!   with `include_str!`, each applied once in its own transaction and
//!   recorded in `schema_migrations(version, name, applied_at)`. A database
//!   whose newest migration is newer than [`SCHEMA_VERSION`] is refused with
//!   [`StoreError::SchemaTooNew`]. **Never edit a released migration**: add
//!   the next numbered file and append it to the list in `migrate.rs` (a unit
//!   test checks that every file is embedded and the numbering is contiguous).
//! * `foreign_keys=ON` on every connection. Uniqueness and foreign-key
//!   violations map to [`StoreError::Conflict`], other SQLite failures to
//!   [`StoreError::Backend`] (SQLite's message and code only: user values are
//!   always bound parameters, never part of SQL text).
//! * **Listing** is keyset pagination over `(hostname, id)` in byte order
//!   (SQLite's `BINARY` collation, the same as Rust's `str` ordering); every
//!   listing is an index-ordered scan (a unit test checks the query plans).
//!   Search is a case-insensitive plain substring match (no wildcards) on
//!   the hostname or any IP address.

mod alerts;
mod assets;
mod commands;
mod error;
mod events;
mod keys;
mod listing;
mod migrate;
mod overview;
mod pool;
mod releases;
mod rows;
mod rule_sources;
mod tokens;

pub use migrate::SCHEMA_VERSION;

use async_trait::async_trait;
use error::DbResult;
use pool::Pool;
use rusqlite::Connection;
use std::sync::Arc;
use ward_proto::{HostReport, Policy};
use ward_store::{
    AgentAuth, AlertCount, AlertInsert, AlertQuery, AlertRecord, AlertState, ApiToken, Asset,
    AssetLiveness, AssetQuery, Enrolled, Enrollment, IngestOutcome, NewAlert, NewKey,
    NewWhitelistEntry, Page, Result, RuleSource, SessionStart, SpoolStats, StatusChange,
    StatusCount, StatusEvent, Store, StoreError, StoredEvent, VerificationKey, WhitelistEntry,
};
use ward_store::{
    CommandQuery, CommandRecord, CommandUpdate, GroupCount, LifecycleEvent, NewCommand,
    NewLifecycleEvent, Reidentification, Release, VersionCount,
};

/// A Ward store in one SQLite database file (or in memory, for tests).
/// Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("database task failed: {e}")))?
}

impl SqliteStore {
    /// Opens the database at `path`, creating it (and its parent directory)
    /// if missing, and applies pending migrations.
    pub async fn open(path: &std::path::Path) -> Result<SqliteStore> {
        let path = path.to_path_buf();
        let pool = blocking(move || Pool::open_file(&path)).await?;
        Ok(SqliteStore {
            pool: Arc::new(pool),
        })
    }

    /// Opens a private, empty in-memory database (tests and tools).
    pub async fn open_in_memory() -> Result<SqliteStore> {
        let pool = blocking(Pool::open_in_memory).await?;
        Ok(SqliteStore {
            pool: Arc::new(pool),
        })
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        blocking(move || {
            // Normally done at open already; checked before writing so an
            // error here never follows a committed change.
            pool.tighten_sidecars()?;
            pool.write(|tx| f(tx)).map_err(StoreError::from)
        })
        .await
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        blocking(move || pool.read(f).map_err(StoreError::from)).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn create_key(&self, key: NewKey) -> Result<VerificationKey> {
        self.write(move |c| keys::create(c, &key)).await
    }

    async fn list_keys(&self) -> Result<Vec<VerificationKey>> {
        self.read(keys::list).await
    }

    async fn get_key(&self, id: &str) -> Result<Option<VerificationKey>> {
        let id = id.to_owned();
        self.read(move |c| keys::get(c, &id)).await
    }

    async fn find_key_by_secret(&self, secret: &str) -> Result<Option<VerificationKey>> {
        let secret = secret.to_owned();
        self.read(move |c| keys::find_by_secret(c, &secret)).await
    }

    async fn revoke_key(&self, id: &str, at: i64) -> Result<VerificationKey> {
        let id = id.to_owned();
        self.write(move |c| keys::revoke(c, &id, at)).await
    }

    async fn enroll(&self, e: Enrollment) -> Result<Enrolled> {
        self.write(move |c| assets::enroll(c, &e)).await
    }

    async fn agent_auth(&self, asset_id: &str) -> Result<Option<AgentAuth>> {
        let id = asset_id.to_owned();
        self.read(move |c| assets::agent_auth(c, &id)).await
    }

    async fn get_asset(&self, id: &str) -> Result<Option<Asset>> {
        let id = id.to_owned();
        self.read(move |c| assets::get(c, &id)).await
    }

    async fn list_assets(&self, q: &AssetQuery) -> Result<Page<Asset>> {
        let q = q.clone();
        self.read(move |c| listing::list(c, &q)).await
    }

    async fn count_by_status(&self) -> Result<Vec<StatusCount>> {
        self.read(assets::count_by_status).await
    }

    async fn count_by_agent_version(&self) -> Result<Vec<VersionCount>> {
        self.read(overview::count_by_agent_version).await
    }

    async fn list_groups(&self) -> Result<Vec<GroupCount>> {
        self.read(overview::list_groups).await
    }

    async fn record_session_start(&self, asset_id: &str, s: &SessionStart) -> Result<()> {
        let (id, s) = (asset_id.to_owned(), s.clone());
        self.write(move |c| assets::record_session_start(c, &id, &s))
            .await
    }

    async fn update_report(&self, asset_id: &str, report: &HostReport, at: i64) -> Result<()> {
        let (id, report) = (asset_id.to_owned(), report.clone());
        self.write(move |c| assets::update_report(c, &id, &report, at))
            .await
    }

    async fn touch_last_seen(&self, seen: &[(String, i64)]) -> Result<()> {
        if seen.is_empty() {
            return Ok(());
        }
        let seen = seen.to_vec();
        self.write(move |c| assets::touch_last_seen(c, &seen)).await
    }

    async fn set_status(&self, asset_id: &str, change: &StatusChange) -> Result<()> {
        let (id, change) = (asset_id.to_owned(), change.clone());
        self.write(move |c| assets::set_status(c, &id, &change))
            .await
    }

    async fn status_events(&self, asset_id: &str, limit: u32) -> Result<Vec<StatusEvent>> {
        let id = asset_id.to_owned();
        self.read(move |c| assets::status_events(c, &id, limit))
            .await
    }

    async fn load_liveness(&self) -> Result<Vec<AssetLiveness>> {
        self.read(assets::load_liveness).await
    }

    async fn create_api_token(&self, token: &ApiToken, hash: &str) -> Result<()> {
        let (token, hash) = (token.clone(), hash.to_owned());
        self.write(move |c| tokens::create(c, &token, &hash)).await
    }

    async fn use_api_token(&self, hash: &str, at: i64) -> Result<Option<ApiToken>> {
        let hash = hash.to_owned();
        self.write(move |c| tokens::use_token(c, &hash, at)).await
    }

    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        self.read(tokens::list).await
    }

    async fn revoke_api_token(&self, id: &str, at: i64) -> Result<ApiToken> {
        let id = id.to_owned();
        self.write(move |c| tokens::revoke(c, &id, at)).await
    }

    async fn get_policy(&self) -> Result<Option<Policy>> {
        self.read(tokens::get_policy).await
    }

    async fn set_policy(&self, policy: &Policy) -> Result<()> {
        let policy = *policy;
        self.write(move |c| tokens::set_policy(c, &policy)).await
    }

    async fn ingest_events(
        &self,
        asset_id: &str,
        events: &[ward_events::Event],
        received_at: i64,
    ) -> Result<IngestOutcome> {
        let (id, events) = (asset_id.to_owned(), events.to_vec());
        self.write(move |c| events::ingest(c, &id, &events, received_at))
            .await
    }

    async fn event_high_water(&self, asset_id: &str) -> Result<u64> {
        let id = asset_id.to_owned();
        self.read(move |c| events::get_high_water(c, &id)).await
    }

    async fn events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>> {
        self.read(move |c| events::after(c, after_seq, limit)).await
    }

    async fn count_events(&self, asset_id: Option<&str>) -> Result<u64> {
        let id = asset_id.map(str::to_owned);
        self.read(move |c| events::count(c, id.as_deref())).await
    }

    async fn asset_events(&self, asset_id: &str, ids: &[u64]) -> Result<Vec<StoredEvent>> {
        let (id, ids) = (asset_id.to_owned(), ids.to_vec());
        self.read(move |c| events::of_asset(c, &id, &ids)).await
    }

    async fn prune_events(
        &self,
        received_before: i64,
        keep_at_most: u64,
        keep_after_seq: i64,
    ) -> Result<u64> {
        self.write(move |c| events::prune(c, received_before, keep_at_most, keep_after_seq))
            .await
    }

    async fn set_spool_stats(&self, stats: &[(String, SpoolStats)]) -> Result<()> {
        if stats.is_empty() {
            return Ok(());
        }
        let stats = stats.to_vec();
        self.write(move |c| events::set_spool(c, &stats)).await
    }

    async fn insert_alert(&self, alert: &NewAlert) -> Result<AlertInsert> {
        let alert = alert.clone();
        self.write(move |c| alerts::insert(c, &alert)).await
    }

    async fn get_alert(&self, id: i64) -> Result<Option<AlertRecord>> {
        self.read(move |c| alerts::get(c, id)).await
    }

    async fn alert_evidence(&self, id: i64) -> Result<Vec<ward_events::Event>> {
        self.read(move |c| alerts::evidence(c, id)).await
    }

    async fn list_alerts(&self, q: &AlertQuery) -> Result<Page<AlertRecord>> {
        let q = q.clone();
        self.read(move |c| alerts::list(c, &q)).await
    }

    async fn set_alert_state(&self, id: i64, state: AlertState, at: i64) -> Result<AlertRecord> {
        self.write(move |c| alerts::set_state(c, id, state, at))
            .await
    }

    async fn count_alerts(&self) -> Result<Vec<AlertCount>> {
        self.read(alerts::counts).await
    }

    async fn add_whitelist(&self, entry: &NewWhitelistEntry) -> Result<WhitelistEntry> {
        let entry = entry.clone();
        self.write(move |c| alerts::add_whitelist(c, &entry)).await
    }

    async fn list_whitelist(&self) -> Result<Vec<WhitelistEntry>> {
        self.read(alerts::list_whitelist).await
    }

    async fn delete_whitelist(&self, id: i64) -> Result<()> {
        self.write(move |c| alerts::delete_whitelist(c, id)).await
    }

    async fn import_rule_sources(&self, sources: &[RuleSource], replace_all: bool) -> Result<i64> {
        let sources = sources.to_vec();
        self.write(move |c| rule_sources::import(c, &sources, replace_all))
            .await
    }

    async fn list_rule_sources(&self) -> Result<Vec<RuleSource>> {
        self.read(rule_sources::list).await
    }

    async fn rule_sources_revision(&self) -> Result<i64> {
        self.read(rule_sources::revision).await
    }

    async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let key = key.to_owned();
        self.read(move |c| alerts::get_setting(c, &key)).await
    }

    async fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<()> {
        let (key, value) = (key.to_owned(), value.clone());
        self.write(move |c| alerts::set_setting(c, &key, &value))
            .await
    }

    async fn add_release(&self, release: &Release) -> Result<()> {
        let release = release.clone();
        self.write(move |c| releases::add(c, &release)).await
    }

    async fn list_releases(&self) -> Result<Vec<Release>> {
        self.read(releases::list).await
    }

    async fn next_release_metadata_version(&self) -> Result<u64> {
        self.write(releases::next_metadata_version).await
    }

    async fn add_lifecycle_event(&self, event: &NewLifecycleEvent) -> Result<LifecycleEvent> {
        let event = event.clone();
        self.write(move |c| releases::add_event(c, &event)).await
    }

    async fn lifecycle_events(&self, asset_id: &str, limit: u32) -> Result<Vec<LifecycleEvent>> {
        let asset_id = asset_id.to_owned();
        self.read(move |c| releases::events(c, &asset_id, limit))
            .await
    }

    async fn create_command(&self, c: &NewCommand) -> Result<CommandRecord> {
        let n = c.clone();
        self.write(move |c| commands::create(c, &n)).await
    }

    async fn get_command(&self, id: &str) -> Result<Option<CommandRecord>> {
        let id = id.to_owned();
        self.read(move |c| commands::get(c, &id)).await
    }

    async fn list_commands(&self, q: &CommandQuery) -> Result<Page<CommandRecord>> {
        let q = q.clone();
        self.read(move |c| commands::list(c, &q)).await
    }

    async fn pending_commands(&self, asset_ids: &[String], now: i64) -> Result<Vec<CommandRecord>> {
        if asset_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = asset_ids.to_vec();
        self.read(move |c| commands::pending(c, &ids, now)).await
    }

    async fn update_command(&self, id: &str, u: &CommandUpdate) -> Result<CommandRecord> {
        let (id, u) = (id.to_owned(), u.clone());
        self.write(move |c| commands::update(c, &id, &u)).await
    }

    async fn expire_commands(&self, now: i64) -> Result<Vec<CommandRecord>> {
        self.write(move |c| commands::expire(c, now)).await
    }

    async fn reidentify(&self, r: &Reidentification) -> Result<Enrolled> {
        let r = r.clone();
        self.write(move |c| commands::reidentify(c, &r)).await
    }

    async fn clone_source(&self, id: &str) -> Result<Option<String>> {
        let id = id.to_owned();
        self.read(move |c| commands::clone_source(c, &id)).await
    }
}
