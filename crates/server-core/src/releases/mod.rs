//! Agent releases: publishing (`ward-server release add`), the signed
//! release metadata, the per-agent offer and rollout controls, release file
//! downloads, and the lifecycle reports agents send back.
//!
//! The metadata is signed with the release key (`keys/release.ed25519`,
//! created at first start, 0600, never served). Each signed document gets a
//! new version from the store ([`ward_store::Store::next_release_metadata_version`],
//! monotonic across processes); the document is re-signed when the set of
//! releases changes or less than half of its validity
//! (`release.metadata_expiry_secs`) is left. Which release an agent is
//! offered (pin, percentage, groups) is decided here per request; the
//! updater only installs what the signed metadata lists, never older than
//! what it runs.

pub mod agent_api;
pub mod api;
pub mod publish;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ward_pki::issue::ReleaseKey;
use ward_release::{FileInfo, Metadata, PlatformFiles, ReleaseEntry, Rollout};
use ward_store::{Release, Store, StoreError};

/// Settings document holding the rollout controls.
pub const ROLLOUT_SETTING: &str = ward_release::rollout::SETTING_KEY;

/// A signed metadata document.
#[derive(Debug, Clone)]
pub struct SignedMetadata {
    pub version: u64,
    pub issued_ms: i64,
    pub expires_ms: i64,
    /// The envelope's JSON text.
    pub envelope: String,
    /// The releases it lists (to tell when they changed).
    releases: Vec<ReleaseEntry>,
}

impl SignedMetadata {
    /// The versions it lists with a package for `platform`.
    pub fn versions_for(&self, platform: &str) -> Vec<&str> {
        self.releases
            .iter()
            .filter(|r| r.platforms.contains_key(platform))
            .map(|r| r.version.as_str())
            .collect()
    }
}

/// The release key, the signed metadata cache and the release files dir.
pub struct Releases {
    key: ReleaseKey,
    public: String,
    expiry_ms: i64,
    dir: PathBuf,
    cache: tokio::sync::Mutex<Option<Arc<SignedMetadata>>>,
}

impl Releases {
    pub fn new(key: ReleaseKey, expiry_secs: u64, dir: PathBuf) -> Self {
        Releases {
            public: key.public_b64(),
            key,
            expiry_ms: i64::try_from(expiry_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            dir,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The release public key, standard base64.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// Where a release file lives: `<data_dir>/releases/<version>/<platform>/<file>`.
    pub fn file_path(&self, version: &str, platform: &str, file: &str) -> PathBuf {
        file_path(&self.dir, version, platform, file)
    }

    /// The current signed metadata, signing a new document when the
    /// releases changed or the current one is past half of its validity.
    pub async fn metadata(
        &self,
        store: &dyn Store,
        now_ms: i64,
    ) -> Result<Arc<SignedMetadata>, StoreError> {
        // The release list is read every time (one small query): a release
        // published by `ward-server release add` in another process is in
        // the next answer.
        let mut cache = self.cache.lock().await;
        let releases = entries(&store.list_releases().await?);
        if let Some(c) = cache.as_ref() {
            if c.releases == releases && now_ms < self.refresh_at(c) {
                return Ok(c.clone());
            }
        }
        let version = store.next_release_metadata_version().await?;
        let meta = Metadata::new(
            version,
            now_ms,
            now_ms.saturating_add(self.expiry_ms),
            releases.clone(),
        );
        let envelope = ward_release::sign_envelope(&meta, &self.public, |m| self.key.sign(m))
            .map_err(|e| StoreError::Backend(format!("signing release metadata: {e}")))?;
        tracing::info!(
            version,
            releases = releases.len(),
            expires_ms = meta.expires_ms,
            "release metadata signed"
        );
        let signed = Arc::new(SignedMetadata {
            version,
            issued_ms: meta.issued_ms,
            expires_ms: meta.expires_ms,
            envelope,
            releases,
        });
        *cache = Some(signed.clone());
        Ok(signed)
    }

    fn refresh_at(&self, c: &SignedMetadata) -> i64 {
        c.issued_ms.saturating_add(self.expiry_ms / 2)
    }
}

/// `<dir>/<version>/<platform>/<file>`.
pub fn file_path(dir: &Path, version: &str, platform: &str, file: &str) -> PathBuf {
    dir.join(version).join(platform).join(file)
}

/// Store rows (one per version and platform) as metadata entries, one per
/// version in publication order.
pub fn entries(releases: &[Release]) -> Vec<ReleaseEntry> {
    let mut out: Vec<ReleaseEntry> = Vec::new();
    for r in releases {
        let files = PlatformFiles {
            agent: FileInfo {
                sha256: r.agent.sha256.clone(),
                size: r.agent.size,
            },
            update: r.update.as_ref().map(|u| FileInfo {
                sha256: u.sha256.clone(),
                size: u.size,
            }),
        };
        match out.iter_mut().find(|e| e.version == r.version) {
            Some(e) => {
                e.platforms.insert(r.platform.clone(), files);
            }
            None => out.push(ReleaseEntry {
                version: r.version.clone(),
                platforms: [(r.platform.clone(), files)].into_iter().collect(),
            }),
        }
    }
    out
}

/// The rollout controls in force (defaults when never set).
pub async fn rollout(store: &dyn Store) -> Result<Rollout, StoreError> {
    match store.get_setting(ROLLOUT_SETTING).await? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Backend(format!("stored rollout settings: {e}"))),
        None => Ok(Rollout::default()),
    }
}

/// Validates and stores new rollout controls (the API and the console).
pub async fn set_rollout(store: &dyn Store, r: &Rollout) -> Result<(), RolloutError> {
    let problems = r.problems();
    if !problems.is_empty() {
        return Err(RolloutError::Invalid(problems.join("; ")));
    }
    let value = serde_json::to_value(r).map_err(|e| RolloutError::Store(e.to_string()))?;
    store
        .set_setting(ROLLOUT_SETTING, &value)
        .await
        .map_err(|e| RolloutError::Store(e.to_string()))?;
    tracing::info!(
        pinned = r.pinned_version.as_deref().unwrap_or("none"),
        percentage = r.percentage,
        groups = %r.groups.join(","),
        "rollout changed"
    );
    Ok(())
}

/// Why rollout controls were not saved.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("{0}")]
    Invalid(String),
    #[error("saving the rollout failed: {0}")]
    Store(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_store::ReleaseFile;

    fn row(v: &str, p: &str, with_update: bool) -> Release {
        Release {
            version: v.into(),
            platform: p.into(),
            agent: ReleaseFile {
                sha256: "a".repeat(64),
                size: 10,
            },
            update: with_update.then(|| ReleaseFile {
                sha256: "b".repeat(64),
                size: 5,
            }),
            added_at: 1,
            notes: None,
        }
    }

    #[test]
    fn rows_group_into_one_entry_per_version() {
        let e = entries(&[
            row("0.2.0", "linux-x86_64", true),
            row("0.3.0", "linux-x86_64", false),
            row("0.2.0", "linux-aarch64", false),
        ]);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].version, "0.2.0");
        assert_eq!(
            e[0].platforms.keys().collect::<Vec<_>>(),
            ["linux-aarch64", "linux-x86_64"]
        );
        assert_eq!(
            e[0].platforms["linux-x86_64"].update.as_ref().unwrap().size,
            5
        );
        assert!(e[0].platforms["linux-aarch64"].update.is_none());
        assert_eq!(e[1].version, "0.3.0");
    }

    #[tokio::test]
    async fn metadata_is_signed_verifiable_and_re_signed_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = ward_store_sqlite::SqliteStore::open_in_memory()
            .await
            .unwrap();
        let key = ReleaseKey::load_or_create(&dir.path().join("k")).unwrap();
        let r = Releases::new(key, 3600, dir.path().join("releases"));
        let trusted = ward_release::TrustedKey::parse(r.public_key()).unwrap();
        let now = 1_700_000_000_000;
        let first = r.metadata(&store, now).await.unwrap();
        let m = ward_release::verify(&first.envelope, &trusted).unwrap();
        assert_eq!((m.version, m.releases.len()), (1, 0));
        assert_eq!(m.expires_ms, now + 3_600_000);
        // Unchanged and fresh: the same document.
        let again = r.metadata(&store, now + 1000).await.unwrap();
        assert_eq!(again.version, 1);
        // A new release: re-signed at once with a higher version.
        store
            .add_release(&row("0.2.0", "linux-x86_64", false))
            .await
            .unwrap();
        let changed = r.metadata(&store, now + 3000).await.unwrap();
        let m = ward_release::verify(&changed.envelope, &trusted).unwrap();
        assert_eq!(m.version, 2);
        assert_eq!(m.releases[0].version, "0.2.0");
        // Unchanged but at half of its validity: re-signed, new version.
        let later = r.metadata(&store, now + 3000 + 1_800_000).await.unwrap();
        let m = ward_release::verify(&later.envelope, &trusted).unwrap();
        assert_eq!(m.version, 3);
        assert_eq!(m.issued_ms, now + 3000 + 1_800_000);
    }
}
