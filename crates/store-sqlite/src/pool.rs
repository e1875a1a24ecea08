//! Connections: one writer behind a mutex, a few readers (WAL lets them read
//! while the writer writes), and the file preparation (mode 0600).

use crate::error::{io, DbResult};
use crate::migrate;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use ward_store::StoreError;

/// How long a connection waits for another connection's (or process's) write lock.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection: every fixed statement plus the
/// filter combinations of `list_assets`.
const STATEMENT_CACHE: usize = 128;
/// Reader connections of a file database.
const READERS: usize = 4;

pub(crate) struct Pool {
    writer: Mutex<Connection>,
    /// Empty for an in-memory database (each connection would be its own
    /// database): reads then use the writer.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// The database file, for tightening the WAL files' mode.
    path: Option<PathBuf>,
    /// Set once both `-wal` and `-shm` were seen with mode 0600.
    sidecars_private: AtomicBool,
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock drops any open rusqlite Transaction,
    // which rolls it back, so the connection is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn configure(conn: &Connection, file: bool) -> DbResult<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if file {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "could not switch the database to WAL (journal_mode is {mode})"
            ))
            .into());
        }
        // See the crate docs: with WAL, NORMAL loses no committed
        // transaction when the process dies, only on an OS crash.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    Ok(())
}

/// The directory of the database file.
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates the parent directory (0700) if missing.
fn prepare_dir(path: &Path) -> Result<(), StoreError> {
    let parent = parent_dir(path);
    if !parent.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| io("cannot create directory", parent, e))?;
    }
    Ok(())
}

/// Held while a pool opens its database: an exclusive flock(2) on the
/// database's directory, released when dropped.
///
/// Opening switches the journal to WAL and applies migrations. SQLite may
/// answer `SQLITE_BUSY` at once, without the busy timeout, while another
/// connection changes the journal mode or recovers the WAL, so two opens of
/// a new file at the same time (a server starting while an admin command
/// runs) could fail. Opens are therefore serialized, between processes and
/// between threads alike (flock locks belong to the open file description).
/// The lock is taken on the directory, never on the database file: closing
/// another descriptor of that file would drop SQLite's own POSIX locks.
struct OpenLock {
    _dir: std::fs::File,
}

fn open_lock(path: &Path) -> Result<OpenLock, StoreError> {
    use std::os::fd::AsRawFd;
    let dir = parent_dir(path);
    let f = std::fs::File::open(dir).map_err(|e| io("cannot open directory", dir, e))?;
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(OpenLock { _dir: f });
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(io("cannot lock directory", dir, e));
        }
    }
}

/// Creates the file (0600) if missing, and sets its mode to 0600 whatever
/// the umask or its previous mode.
fn prepare_file(path: &Path) -> Result<(), StoreError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| io("cannot create database file", path, e))?;
    set_private(path)
}

fn set_private(path: &Path) -> Result<(), StoreError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io("cannot set mode 0600 on", path, e))
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Pool {
    /// Opens (creating if needed) and migrates a database file.
    pub(crate) fn open_file(path: &Path) -> Result<Pool, StoreError> {
        prepare_dir(path)?;
        let _opening = open_lock(path)?;
        prepare_file(path)?;
        let mut writer = Connection::open(path).map_err(crate::error::map_sql)?;
        configure(&writer, true)?;
        migrate::migrate(&mut writer, now_ms())?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open(path).map_err(crate::error::map_sql)?;
            configure(&r, true)?;
            r.pragma_update(None, "query_only", "ON")
                .map_err(crate::error::map_sql)?;
            readers.push(Mutex::new(r));
        }
        let pool = Pool {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            path: Some(path.to_path_buf()),
            sidecars_private: AtomicBool::new(false),
        };
        pool.tighten_sidecars()?;
        Ok(pool)
    }

    /// Opens and migrates a private in-memory database (tests, tools).
    pub(crate) fn open_in_memory() -> Result<Pool, StoreError> {
        let mut writer = Connection::open_in_memory().map_err(crate::error::map_sql)?;
        configure(&writer, false)?;
        migrate::migrate(&mut writer, now_ms())?;
        Ok(Pool {
            writer: Mutex::new(writer),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
            path: None,
            sidecars_private: AtomicBool::new(true),
        })
    }

    /// Sets mode 0600 on the `-wal` and `-shm` files if they exist, until
    /// both were seen. SQLite itself creates them with the database file's
    /// mode (0600), so they stay private when it recreates them later.
    pub(crate) fn tighten_sidecars(&self) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.sidecars_private.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut seen = 0;
        for suffix in ["-wal", "-shm"] {
            let p = sidecar(path, suffix);
            match std::fs::metadata(&p) {
                Ok(m) => {
                    if m.permissions().mode() & 0o777 != 0o600 {
                        set_private(&p)?;
                    }
                    seen += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("cannot inspect", &p, e)),
            }
        }
        if seen == 2 {
            self.sidecars_private.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer and commits
    /// it if `f` succeeds. Immediate: the write lock is taken up front, so a
    /// concurrent writer in another process makes us wait (busy timeout)
    /// instead of failing on a read-to-write upgrade.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> DbResult<T>) -> DbResult<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on a reader connection (the writer for in-memory databases).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> DbResult<T>) -> DbResult<T> {
        if self.readers.is_empty() {
            return f(&lock(&self.writer));
        }
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed) % n;
        // Take the first idle reader, else wait for the one round-robin chose.
        for i in 0..n {
            if let Ok(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        f(&lock(&self.readers[start]))
    }
}
