//! Signed commands on the agent: verification and the replay record.
//!
//! A command is executed only when, in this order: the agent holds the
//! server's command key; the signature over the payload is that key's (in
//! the command domain); the payload is for this agent id; it has not
//! expired and was not issued in the future (server clock, as measured at
//! `Welcome`, with [`CLOCK_SKEW_MS`] of slack); its kind is known; and its
//! id is not in `data/commands.json` (already executed: a replay is not
//! run again, the recorded answer is sent instead).

use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use ward_pki::signed::Verifier;
use ward_proto::lifecycle::{COMMAND_DOMAIN, PAYLOAD_VERSION};
use ward_proto::{CommandKind, CommandOutcome, CommandPayload, Signed};

use crate::layout::Layout;

/// Tolerated difference between the server clock estimate and a command's
/// issue time.
pub const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Executed command ids kept (beyond that, the oldest go; they have long
/// expired, so a replay of them fails the expiry check anyway).
const MAX_RECORDED: usize = 1000;

/// Why a command is refused. `Display` is the line logged and reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no command key of the server is stored yet")]
    NoKey,
    #[error("not signed by this server's command key ({0})")]
    BadSignature(String),
    #[error("malformed command: {0}")]
    Malformed(String),
    #[error("the command is for agent {0}, not this one")]
    OtherAgent(String),
    #[error("the command expired {0} s ago")]
    Expired(i64),
    #[error("the command is dated {0} s in the future")]
    FromTheFuture(i64),
    #[error("unknown command kind")]
    UnknownKind,
}

/// Checks `doc` as a command for `agent_id` at `server_now` (see the module docs).
pub fn verify(
    doc: &Signed,
    key: Option<&Verifier>,
    agent_id: &str,
    server_now: i64,
) -> Result<CommandPayload, Rejection> {
    let key = key.ok_or(Rejection::NoKey)?;
    key.verify(COMMAND_DOMAIN, doc)
        .map_err(|e| Rejection::BadSignature(e.to_string()))?;
    let p: CommandPayload = doc.decode_payload().map_err(Rejection::Malformed)?;
    if p.v != PAYLOAD_VERSION {
        return Err(Rejection::Malformed(format!("payload version {}", p.v)));
    }
    if p.agent_id != agent_id {
        return Err(Rejection::OtherAgent(p.agent_id));
    }
    if server_now >= p.expires_at_ms {
        return Err(Rejection::Expired((server_now - p.expires_at_ms) / 1000));
    }
    if p.issued_at_ms > server_now + CLOCK_SKEW_MS {
        return Err(Rejection::FromTheFuture(
            (p.issued_at_ms - server_now) / 1000,
        ));
    }
    if p.kind == CommandKind::Unknown {
        return Err(Rejection::UnknownKind);
    }
    Ok(p)
}

/// One executed command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executed {
    pub id: String,
    pub outcome: CommandOutcome,
    #[serde(default)]
    pub message: Option<String>,
    pub expires_at_ms: i64,
}

/// `data/commands.json`: the ids this agent executed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default)]
    pub executed: Vec<Executed>,
}

impl Record {
    /// The record (empty when missing or unreadable: a damaged record only
    /// weakens replay protection to the expiry check).
    pub fn load(path: &Path) -> Record {
        match std::fs::read_to_string(path) {
            Ok(t) => serde_json::from_str(&t).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "command record damaged; starting a new one");
                Record::default()
            }),
            Err(_) => Record::default(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Executed> {
        self.executed.iter().find(|e| e.id == id)
    }

    /// Adds (or updates) an entry, drops long-expired ones, and saves.
    pub fn record(&mut self, path: &Path, e: Executed, now: i64) {
        self.executed
            .retain(|x| x.id != e.id && x.expires_at_ms + 86_400_000 > now);
        self.executed.push(e);
        if self.executed.len() > MAX_RECORDED {
            let drop = self.executed.len() - MAX_RECORDED;
            self.executed.drain(..drop);
        }
        let text = serde_json::to_string(self).unwrap_or_default();
        if let Err(e) = ward_pki::secret::write_secret_file(path, text.as_bytes()) {
            tracing::warn!(path = %path.display(), error = %e, "cannot save the command record");
        }
    }
}

/// `update_check`: starts `bin/ward-update check --prefix PREFIX` detached.
pub fn update_check(layout: &Layout) -> (CommandOutcome, String) {
    let bin = layout.update_bin_link();
    if !bin.exists() {
        return (CommandOutcome::Failed, "updater not installed".into());
    }
    let mut cmd = Command::new(&bin);
    cmd.arg("check")
        .arg("--prefix")
        .arg(layout.prefix())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match crate::daemon::spawn_session_leader(&mut cmd) {
        Ok(pid) => (
            CommandOutcome::Done,
            format!("ward-update check started (pid {pid})"),
        ),
        Err(e) => (
            CommandOutcome::Failed,
            format!("starting {}: {e}", bin.display()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkeys::{key, sign, verifier};
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn payload(agent: &str, kind: CommandKind, issued: i64, expires: i64) -> CommandPayload {
        CommandPayload {
            v: PAYLOAD_VERSION,
            id: "cmd_1".into(),
            agent_id: agent.into(),
            kind,
            issued_at_ms: issued,
            expires_at_ms: expires,
        }
    }

    #[test]
    fn only_a_fresh_command_for_us_signed_by_the_server_key_passes() {
        let server = key(1);
        let v = verifier(&server);
        let good = payload("ag_1", CommandKind::Uninstall, NOW - 1000, NOW + 60_000);
        let doc = sign(&server, COMMAND_DOMAIN, &good);
        assert_eq!(verify(&doc, Some(&v), "ag_1", NOW), Ok(good.clone()));

        let forged = sign(&key(2), COMMAND_DOMAIN, &good);
        assert!(matches!(
            verify(&forged, Some(&v), "ag_1", NOW),
            Err(Rejection::BadSignature(_))
        ));
        // A protection statement's signature is not a command's.
        let other_domain = sign(&server, ward_proto::lifecycle::PROTECTION_DOMAIN, &good);
        assert!(matches!(
            verify(&other_domain, Some(&v), "ag_1", NOW),
            Err(Rejection::BadSignature(_))
        ));
        assert_eq!(verify(&doc, None, "ag_1", NOW), Err(Rejection::NoKey));
        assert_eq!(
            verify(&doc, Some(&v), "ag_2", NOW),
            Err(Rejection::OtherAgent("ag_1".into()))
        );
        assert_eq!(
            verify(&doc, Some(&v), "ag_1", NOW + 65_000),
            Err(Rejection::Expired(5))
        );
        let future = payload(
            "ag_1",
            CommandKind::Uninstall,
            NOW + CLOCK_SKEW_MS + 10_000,
            NOW + CLOCK_SKEW_MS + 60_000,
        );
        assert!(matches!(
            verify(
                &sign(&server, COMMAND_DOMAIN, &future),
                Some(&v),
                "ag_1",
                NOW
            ),
            Err(Rejection::FromTheFuture(_))
        ));
        let unknown = payload("ag_1", CommandKind::Unknown, NOW, NOW + 1000);
        assert_eq!(
            verify(
                &sign(&server, COMMAND_DOMAIN, &unknown),
                Some(&v),
                "ag_1",
                NOW
            ),
            Err(Rejection::UnknownKind)
        );
        let mut tampered = doc.clone();
        tampered.payload = tampered.payload.replace("ag_1", "ag_2");
        assert!(matches!(
            verify(&tampered, Some(&v), "ag_2", NOW),
            Err(Rejection::BadSignature(_))
        ));
    }

    #[test]
    fn the_record_remembers_executed_ids_and_forgets_long_expired_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commands.json");
        let mut r = Record::load(&path);
        assert!(r.get("a").is_none());
        let e = |id: &str, exp: i64| Executed {
            id: id.into(),
            outcome: CommandOutcome::Done,
            message: None,
            expires_at_ms: exp,
        };
        r.record(&path, e("a", NOW), NOW);
        r.record(&path, e("b", NOW + 10), NOW);
        let again = Record::load(&path);
        assert!(again.get("a").is_some() && again.get("b").is_some());
        // A day after "a" expired, it is dropped (expiry alone refuses it).
        let mut r = again;
        r.record(&path, e("c", NOW + 200_000_000), NOW + 86_400_000 + 20);
        assert!(r.get("a").is_none() && r.get("b").is_none() && r.get("c").is_some());
        std::fs::write(&path, "{").unwrap();
        assert_eq!(Record::load(&path), Record::default());
    }

    #[test]
    fn update_check_without_an_updater_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path());
        assert_eq!(
            update_check(&l),
            (CommandOutcome::Failed, "updater not installed".to_string())
        );
        // With one, it is started with `check --prefix PREFIX`.
        std::fs::create_dir_all(l.bin_dir()).unwrap();
        let out = dir.path().join("args");
        let script = l.bin_dir().join("ward-update");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$@\" > '{}'\n", out.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (outcome, msg) = update_check(&l);
        assert_eq!(outcome, CommandOutcome::Done, "{msg}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !out.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let args = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            args.trim(),
            format!("check --prefix {}", l.prefix().display())
        );
    }
}
