//! Publishing a release: `ward-server release add` (works while the server
//! runs; the server re-signs its metadata within seconds).
//!
//! The files are checked (an ELF executable for the platform's CPU, within
//! the size limit), copied to `<data_dir>/releases/<version>/<platform>/`
//! and recorded with their SHA-256 and size. Nothing is left behind when a
//! step fails, and a published version is never replaced.

use std::path::{Path, PathBuf};

use ward_pki::secret::{sha256_hex, write_file_atomic};
use ward_release::{AGENT_FILE, MAX_FILE_BYTES, UPDATE_FILE};
use ward_store::{Release, ReleaseFile, Store, StoreError};

use crate::clock::now_ms;

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub version: String,
    pub platform: String,
    /// The `ward-agent` binary.
    pub agent: PathBuf,
    /// The `ward-update` binary, if the release carries one.
    pub update: Option<PathBuf>,
    pub notes: Option<String>,
}

/// Why a release was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Invalid(String),
    #[error("release {version} for {platform} is already published (releases are immutable; publish a new version)")]
    Exists { version: String, platform: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The ELF machine number of a platform's executables.
fn elf_machine(platform: &str) -> Option<(u16, u8, &'static str)> {
    // (e_machine, EI_CLASS, name)
    match platform {
        "linux-x86_64" => Some((62, 2, "x86-64")),
        "linux-i686" => Some((3, 1, "i386")),
        "linux-aarch64" => Some((183, 2, "AArch64")),
        _ => None,
    }
}

/// Checks that `bytes` is a little-endian ELF executable for `platform`.
pub fn check_executable(bytes: &[u8], platform: &str, what: &str) -> Result<(), String> {
    let (machine, class, name) =
        elf_machine(platform).ok_or_else(|| format!("unknown platform {platform:?}"))?;
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return Err(format!("{what} is not an ELF executable"));
    }
    if bytes[5] != 1 {
        return Err(format!("{what} is not a little-endian ELF file"));
    }
    let got = u16::from_le_bytes([bytes[18], bytes[19]]);
    if got != machine || bytes[4] != class {
        return Err(format!(
            "{what} is an ELF file for another CPU (e_machine {got}); {platform} needs {name}"
        ));
    }
    let kind = u16::from_le_bytes([bytes[16], bytes[17]]);
    if kind != 2 && kind != 3 {
        return Err(format!("{what} is an ELF file but not an executable"));
    }
    Ok(())
}

fn read_binary(path: &Path, platform: &str, what: &str) -> Result<Vec<u8>, PublishError> {
    let meta = std::fs::metadata(path).map_err(|source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() || meta.len() == 0 || meta.len() > MAX_FILE_BYTES {
        return Err(PublishError::Invalid(format!(
            "{what} {} must be a file of 1 byte to {} MiB",
            path.display(),
            MAX_FILE_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(path).map_err(|source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    check_executable(&bytes, platform, &format!("{what} {}", path.display()))
        .map_err(PublishError::Invalid)?;
    Ok(bytes)
}

/// Publishes a release: checks, copies the files under `dir`, records it.
pub async fn publish(
    store: &dyn Store,
    dir: &Path,
    req: &PublishRequest,
) -> Result<Release, PublishError> {
    ward_release::version::parse(&req.version)
        .map_err(|e| PublishError::Invalid(format!("--version: {e}")))?;
    if !ward_proto::PLATFORMS.contains(&req.platform.as_str()) {
        return Err(PublishError::Invalid(format!(
            "--platform: unknown platform {:?} (known: {})",
            req.platform,
            ward_proto::PLATFORMS.join(", ")
        )));
    }
    if let Some(n) = &req.notes {
        if n.len() > 4096 {
            return Err(PublishError::Invalid("--notes: at most 4096 bytes".into()));
        }
    }
    let exists = |r: &Release| r.version == req.version && r.platform == req.platform;
    if store.list_releases().await?.iter().any(exists) {
        return Err(PublishError::Exists {
            version: req.version.clone(),
            platform: req.platform.clone(),
        });
    }
    let agent = read_binary(&req.agent, &req.platform, "--agent")?;
    let update = match &req.update {
        Some(p) => Some(read_binary(p, &req.platform, "--updater")?),
        None => None,
    };
    let release = Release {
        version: req.version.clone(),
        platform: req.platform.clone(),
        agent: ReleaseFile {
            sha256: sha256_hex(&agent),
            size: agent.len() as u64,
        },
        update: update.as_ref().map(|u| ReleaseFile {
            sha256: sha256_hex(u),
            size: u.len() as u64,
        }),
        added_at: now_ms(),
        notes: req.notes.clone(),
    };

    let platform_dir = dir.join(&req.version).join(&req.platform);
    let mut written = Vec::new();
    let result = async {
        for (name, bytes) in [(AGENT_FILE, Some(&agent)), (UPDATE_FILE, update.as_ref())] {
            let Some(bytes) = bytes else { continue };
            let path = platform_dir.join(name);
            write_file_atomic(&path, bytes, 0o755).map_err(|source| PublishError::Io {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        store.add_release(&release).await.map_err(|e| match e {
            StoreError::Conflict(_) => PublishError::Exists {
                version: req.version.clone(),
                platform: req.platform.clone(),
            },
            other => other.into(),
        })
    }
    .await;
    if let Err(e) = result {
        // A concurrent publish of the same release owns the files it wrote.
        if !matches!(e, PublishError::Exists { .. }) {
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            let _ = std::fs::remove_dir(&platform_dir);
            let _ = std::fs::remove_dir(dir.join(&req.version));
        }
        return Err(e);
    }
    tracing::info!(
        version = %release.version,
        platform = %release.platform,
        agent_sha256 = %release.agent.sha256,
        "release published"
    );
    Ok(release)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(machine: u16, class: u8, kind: u16) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = class;
        b[5] = 1;
        b[16..18].copy_from_slice(&kind.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b
    }

    #[test]
    fn executables_must_match_the_platform() {
        assert!(check_executable(&elf(62, 2, 2), "linux-x86_64", "f").is_ok());
        assert!(
            check_executable(&elf(62, 2, 3), "linux-x86_64", "f").is_ok(),
            "PIE"
        );
        assert!(check_executable(&elf(3, 1, 2), "linux-i686", "f").is_ok());
        assert!(check_executable(&elf(183, 2, 3), "linux-aarch64", "f").is_ok());
        let e = check_executable(&elf(183, 2, 2), "linux-x86_64", "f").unwrap_err();
        assert!(e.contains("another CPU") && e.contains("x86-64"), "{e}");
        assert!(
            check_executable(&elf(62, 1, 2), "linux-x86_64", "f").is_err(),
            "32-bit"
        );
        assert!(
            check_executable(&elf(62, 2, 1), "linux-x86_64", "f").is_err(),
            "object"
        );
        assert!(
            check_executable(b"#!/bin/sh\nexit 0\n", "linux-x86_64", "f")
                .unwrap_err()
                .contains("not an ELF")
        );
        assert!(check_executable(b"", "linux-x86_64", "f").is_err());
        // The test binary itself is a real x86-64 executable.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if ward_proto::current_platform() == Some("linux-x86_64") {
            assert!(check_executable(&me, "linux-x86_64", "f").is_ok());
            assert!(check_executable(&me, "linux-aarch64", "f").is_err());
        }
    }

    #[tokio::test]
    async fn publish_copies_records_and_refuses_duplicates_and_junk() {
        let dir = tempfile::tempdir().unwrap();
        let store = ward_store_sqlite::SqliteStore::open_in_memory()
            .await
            .unwrap();
        let bin = dir.path().join("ward-agent");
        let bytes = elf(62, 2, 2);
        std::fs::write(&bin, &bytes).unwrap();
        let rel = dir.path().join("releases");
        let req = PublishRequest {
            version: "0.2.0".into(),
            platform: "linux-x86_64".into(),
            agent: bin.clone(),
            update: None,
            notes: Some("n".into()),
        };
        let r = publish(&store, &rel, &req).await.unwrap();
        assert_eq!(r.agent.sha256, sha256_hex(&bytes));
        assert_eq!(r.agent.size, 64);
        let copied = rel.join("0.2.0/linux-x86_64/ward-agent");
        assert_eq!(std::fs::read(&copied).unwrap(), bytes);
        assert_eq!(store.list_releases().await.unwrap(), vec![r]);
        // Again: refused, nothing changed.
        assert!(matches!(
            publish(&store, &rel, &req).await,
            Err(PublishError::Exists { .. })
        ));
        // Bad inputs: nothing written, nothing recorded.
        for (version, platform, agent) in [
            ("latest", "linux-x86_64", bin.clone()),
            ("0.3.0", "plan9", bin.clone()),
            ("0.3.0", "linux-aarch64", bin.clone()),
            ("0.3.0", "linux-x86_64", dir.path().join("missing")),
        ] {
            let req = PublishRequest {
                version: version.into(),
                platform: platform.into(),
                agent,
                update: None,
                notes: None,
            };
            assert!(
                publish(&store, &rel, &req).await.is_err(),
                "{version} {platform}"
            );
        }
        assert!(!rel.join("0.3.0").exists());
        assert_eq!(store.list_releases().await.unwrap().len(), 1);
    }
}
