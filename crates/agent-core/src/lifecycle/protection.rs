//! Tamper protection on the host: the signed statement the server sends
//! (`data/protection.json`), uninstall tokens, and the gate in front of
//! `ward-agent stop` and `ward-agent uninstall`.
//!
//! * No statement yet (never connected since install): not protected.
//! * A valid statement for this agent: what it says.
//! * A statement that is damaged, not signed by the command key, or for
//!   another agent: **protected** (fails closed; someone edited it).
//!
//! With protection on, the gate needs an uninstall token (`--token`): signed
//! by the command key, for this agent, allowing the action, not expired
//! (local clock; checked offline). Without one the action is refused, the
//! attempt is reported to the server (urgent alert `ward.tamper.<action>`),
//! and the command exits with [`crate::exit_code::REFUSED`].

use ward_pki::signed::{decode_token, Verifier};
use ward_proto::lifecycle::{PROTECTION_DOMAIN, TOKEN_DOMAIN};
use ward_proto::{LocalAction, ProtectionPayload, Signed, UninstallTokenPayload};

use super::{keys, notices};
use crate::identity::Identity;
use crate::layout::Layout;
use crate::AgentError;

/// Whether this host is protected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No statement received yet.
    Unknown,
    Off,
    On,
    /// The stored statement is not acceptable (treated as on).
    Damaged(String),
}

impl State {
    pub fn protected(&self) -> bool {
        matches!(self, State::On | State::Damaged(_))
    }
}

fn check_statement(
    doc: &Signed,
    key: &Verifier,
    agent_id: &str,
) -> Result<ProtectionPayload, String> {
    key.verify(PROTECTION_DOMAIN, doc)
        .map_err(|e| e.to_string())?;
    let p: ProtectionPayload = doc.decode_payload()?;
    if p.agent_id != agent_id {
        return Err(format!("it is for agent {}", p.agent_id));
    }
    Ok(p)
}

/// The protection state of the install.
pub fn state(layout: &Layout) -> State {
    let path = layout.protection_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return State::Unknown,
        Err(e) => return State::Damaged(format!("{}: {e}", path.display())),
    };
    let damaged = |why: String| State::Damaged(format!("{}: {why}", path.display()));
    let Ok(doc) = serde_json::from_str::<Signed>(&text) else {
        return damaged("not a signed statement".into());
    };
    let key = match keys::load(layout) {
        Ok(Some(k)) => k,
        Ok(None) => return damaged("no command key to check it with".into()),
        Err(e) => return damaged(crate::one_line(&e)),
    };
    let agent_id = match Identity::load(&layout.identity()) {
        Ok(Some(id)) => id.agent_id,
        _ => return damaged("no identity to check it against".into()),
    };
    match check_statement(&doc, &key, &agent_id) {
        Ok(p) if p.tamper_protection => State::On,
        Ok(_) => State::Off,
        Err(e) => damaged(e),
    }
}

/// Stores a statement received over the session if it is valid, for this
/// agent, and not older than the stored one. Returns the new setting.
pub fn accept_statement(
    layout: &Layout,
    key: Option<&Verifier>,
    agent_id: &str,
    doc: &Signed,
) -> Result<bool, String> {
    let key = key.ok_or("no command key of the server is stored yet")?;
    let p = check_statement(doc, key, agent_id)?;
    let stored = std::fs::read_to_string(layout.protection_file())
        .ok()
        .and_then(|t| serde_json::from_str::<Signed>(&t).ok())
        .and_then(|d| check_statement(&d, key, agent_id).ok());
    if stored
        .as_ref()
        .is_some_and(|s| s.issued_at_ms > p.issued_at_ms)
    {
        return Err("older than the stored statement".into());
    }
    let text = serde_json::to_string(doc).map_err(|e| e.to_string())?;
    ward_pki::secret::write_file_atomic(&layout.protection_file(), text.as_bytes(), 0o644)
        .map_err(|e| format!("writing {}: {e}", layout.protection_file().display()))?;
    if stored.map(|s| s.tamper_protection) != Some(p.tamper_protection) {
        tracing::info!(
            on = p.tamper_protection,
            "tamper protection setting received"
        );
    }
    Ok(p.tamper_protection)
}

/// Checks an uninstall token for `action` on this agent at `now` (local clock).
pub fn check_token(
    text: &str,
    key: Option<&Verifier>,
    agent_id: &str,
    action: LocalAction,
    now: i64,
) -> Result<UninstallTokenPayload, String> {
    let doc = decode_token(text).map_err(|e| e.to_string())?;
    let key = key.ok_or("no command key of the server is stored to check the token with")?;
    key.verify(TOKEN_DOMAIN, &doc)
        .map_err(|_| "the token is not signed by this server's command key".to_string())?;
    let p: UninstallTokenPayload = doc.decode_payload()?;
    if p.agent_id != agent_id {
        return Err(format!(
            "the token is for agent {}, not {agent_id}",
            p.agent_id
        ));
    }
    if !p.actions.contains(&action) {
        return Err(format!("the token does not allow {}", action.as_str()));
    }
    if now >= p.expires_at_ms {
        return Err(format!(
            "the token expired {} s ago",
            (now - p.expires_at_ms) / 1000
        ));
    }
    Ok(p)
}

/// How an action was let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    NotProtected,
    /// The token (its id) allowed it.
    Token(String),
}

/// `ward-agent stop [--token T]`: through the gate, then `data/stopped`
/// (the guardians do not bring the agent back) and the stop itself.
/// Returns the pid that was stopped, `None` if none was running.
pub fn stop(layout: &Layout, token: Option<&str>) -> Result<Option<u32>, AgentError> {
    authorize(layout, LocalAction::Stop, token)?;
    crate::daemon::mark_stopped(layout)?;
    crate::daemon::stop(layout)
}

/// The gate: lets `action` through, or refuses it, reports the attempt and
/// returns [`AgentError::Refused`].
pub fn authorize(
    layout: &Layout,
    action: LocalAction,
    token: Option<&str>,
) -> Result<Pass, AgentError> {
    let st = state(layout);
    if !st.protected() {
        return Ok(Pass::NotProtected);
    }
    let agent_id = Identity::load(&layout.identity())
        .ok()
        .flatten()
        .map(|i| i.agent_id)
        .unwrap_or_default();
    let why = match token {
        None => "no uninstall token given".to_string(),
        Some(t) => {
            let key = keys::load(layout).ok().flatten();
            match check_token(t, key.as_ref(), &agent_id, action, crate::now_ms()) {
                Ok(p) => {
                    tracing::info!(token = %p.id, action = action.as_str(), "uninstall token accepted");
                    return Ok(Pass::Token(p.id));
                }
                Err(e) => e,
            }
        }
    };
    let why = match &st {
        State::Damaged(d) => format!("{why} (protection state damaged: {d})"),
        _ => why,
    };
    let reported = notices::report_tamper(layout, action, &why);
    Err(AgentError::Refused(format!(
        "{} refused: tamper protection is on for agent {agent_id} and {why}; get an uninstall \
         token from the console (the asset's page) or POST /api/v1/assets/{agent_id}/uninstall-token \
         and pass it with --token; {reported}",
        action.as_str()
    )))
}

#[cfg(test)]
mod tests {
    use super::super::testkeys::{key, sign, verifier};
    use super::*;
    use ward_proto::lifecycle::PAYLOAD_VERSION;

    const NOW: i64 = 1_700_000_000_000;

    fn enrolled(dir: &std::path::Path, seed: u8) -> Layout {
        let l = Layout::new(dir);
        l.create_dirs().unwrap();
        Identity {
            agent_id: "ag_1".into(),
            credential: "wa1.ag_1.secret".into(),
            fingerprint: "fp".into(),
        }
        .save(&l.identity())
        .unwrap();
        keys::save(&l, &verifier(&key(seed)).to_b64()).unwrap();
        l
    }

    fn statement(seed: u8, agent: &str, on: bool, at: i64) -> Signed {
        sign(
            &key(seed),
            PROTECTION_DOMAIN,
            &ProtectionPayload {
                v: PAYLOAD_VERSION,
                agent_id: agent.into(),
                tamper_protection: on,
                issued_at_ms: at,
            },
        )
    }

    #[test]
    fn statements_are_checked_kept_in_order_and_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        let l = enrolled(dir.path(), 1);
        let v = verifier(&key(1));
        assert_eq!(state(&l), State::Unknown);
        assert_eq!(
            accept_statement(&l, Some(&v), "ag_1", &statement(1, "ag_1", true, 10)),
            Ok(true)
        );
        assert_eq!(state(&l), State::On);
        // Older statements do not replace newer ones.
        assert!(accept_statement(&l, Some(&v), "ag_1", &statement(1, "ag_1", false, 5)).is_err());
        assert_eq!(state(&l), State::On);
        assert_eq!(
            accept_statement(&l, Some(&v), "ag_1", &statement(1, "ag_1", false, 20)),
            Ok(false)
        );
        assert_eq!(state(&l), State::Off);
        // Forged, or for another agent: refused over the session...
        assert!(accept_statement(&l, Some(&v), "ag_1", &statement(2, "ag_1", false, 30)).is_err());
        assert!(accept_statement(&l, Some(&v), "ag_1", &statement(1, "ag_2", false, 30)).is_err());
        // ...and a file edited on disk counts as protected.
        let forged = serde_json::to_string(&statement(2, "ag_1", false, 40)).unwrap();
        std::fs::write(l.protection_file(), forged).unwrap();
        assert!(matches!(state(&l), State::Damaged(_)));
        assert!(state(&l).protected());
        std::fs::write(l.protection_file(), "garbage").unwrap();
        assert!(state(&l).protected());
    }

    fn token(seed: u8, agent: &str, actions: Vec<LocalAction>, expires: i64) -> String {
        let doc = sign(
            &key(seed),
            TOKEN_DOMAIN,
            &UninstallTokenPayload {
                v: PAYLOAD_VERSION,
                id: "utk_1".into(),
                agent_id: agent.into(),
                actions,
                issued_at_ms: NOW - 1000,
                expires_at_ms: expires,
            },
        );
        ward_pki::signed::encode_token(&doc).unwrap()
    }

    #[test]
    fn tokens_must_be_ours_signed_allowing_the_action_and_unexpired() {
        let v = verifier(&key(1));
        let both = vec![LocalAction::Stop, LocalAction::Uninstall];
        let good = token(1, "ag_1", both.clone(), NOW + 60_000);
        assert!(check_token(&good, Some(&v), "ag_1", LocalAction::Stop, NOW).is_ok());
        assert!(check_token(&good, Some(&v), "ag_1", LocalAction::Uninstall, NOW).is_ok());
        let e = |t: &str, agent: &str, a: LocalAction, now: i64| {
            check_token(t, Some(&v), agent, a, now).unwrap_err()
        };
        assert!(e(&good, "ag_1", LocalAction::Stop, NOW + 61_000).contains("expired"));
        assert!(e(&good, "ag_2", LocalAction::Stop, NOW).contains("for agent ag_1"));
        let stop_only = token(1, "ag_1", vec![LocalAction::Stop], NOW + 60_000);
        assert!(
            e(&stop_only, "ag_1", LocalAction::Uninstall, NOW).contains("does not allow uninstall")
        );
        let forged = token(2, "ag_1", both, NOW + 60_000);
        assert!(e(&forged, "ag_1", LocalAction::Stop, NOW).contains("not signed"));
        assert!(
            e("wut1.garbage", "ag_1", LocalAction::Stop, NOW).contains("not an uninstall token")
        );
        assert!(check_token(&good, None, "ag_1", LocalAction::Stop, NOW).is_err());
    }

    #[test]
    fn the_gate_passes_unprotected_hosts_and_valid_tokens_only() {
        let dir = tempfile::tempdir().unwrap();
        let l = enrolled(dir.path(), 1);
        assert_eq!(
            authorize(&l, LocalAction::Stop, None).unwrap(),
            Pass::NotProtected
        );
        let v = verifier(&key(1));
        accept_statement(&l, Some(&v), "ag_1", &statement(1, "ag_1", true, 10)).unwrap();
        let now = crate::now_ms();
        let t = token(1, "ag_1", vec![LocalAction::Stop], now + 60_000);
        assert_eq!(
            authorize(&l, LocalAction::Stop, Some(&t)).unwrap(),
            Pass::Token("utk_1".into())
        );
        // Refused: with no network.toml the report cannot be sent, so it waits in the queue.
        let err = authorize(&l, LocalAction::Uninstall, Some(&t)).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::REFUSED);
        let line = err.to_string();
        assert!(
            line.contains("does not allow uninstall") && !line.contains('\n'),
            "{line}"
        );
        assert!(matches!(
            authorize(&l, LocalAction::Stop, None),
            Err(AgentError::Refused(_))
        ));
        let queued = notices::pending(&l);
        assert_eq!(queued.len(), 2);
        assert_eq!(queued[0].action, Some(LocalAction::Uninstall));
        assert_eq!(queued[1].reason, "no uninstall token given");
    }
}
