//! Tamper protection (SPEC L11): per-group settings, the signed statement
//! each agent keeps, uninstall tokens, and what agents report.
//!
//! Settings are the document `tamper_protection` in the store:
//! `{"default": bool, "groups": {"<group>": bool, ...}}`. An asset in a
//! listed group follows that group's value, every other asset `default`.
//!
//! Uninstall tokens are **time bound**: a token names one asset and the
//! local actions it allows (`stop`, `uninstall`), and works any number of
//! times until it expires (default 1 h, at most 7 days). The agent checks
//! it offline against the command key, so a host without a session can
//! still be stopped or uninstalled with one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ward_pki::secret::random_token;
use ward_proto::lifecycle::{PAYLOAD_VERSION, PROTECTION_DOMAIN, TOKEN_DOMAIN};
use ward_proto::{AgentNotice, LocalAction, NoticeKind, ProtectionPayload, Signed};
use ward_store::{AlertInsert, AlertSeverity, AlertState, NewAlert, Store, StoreError};

use crate::clock::now_ms;
use crate::detect::view::AlertView;
use crate::state::AppState;

/// Store key of the settings document.
pub const SETTINGS_KEY: &str = "tamper_protection";
/// Most groups the document may list.
pub const MAX_GROUPS: usize = 1000;
/// ATT&CK technique of tamper alerts: Impair Defenses: Disable or Modify Tools.
pub const TECHNIQUE: &str = "T1562.001";
/// Why a notice was not stored when its agent sent too many.
pub const RATE_LIMITED: &str = "too many notices from this agent in the last hour";
/// Default and longest lifetime of an uninstall token.
pub const TOKEN_DEFAULT_SECS: u64 = 3600;
pub const TOKEN_MAX_SECS: u64 = 7 * 86_400;

/// Which assets have tamper protection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TamperSettings {
    /// For assets in no listed group.
    #[serde(default)]
    pub default: bool,
    /// Per group; overrides `default`.
    #[serde(default)]
    pub groups: BTreeMap<String, bool>,
}

impl TamperSettings {
    /// Whether an asset in `group` is protected.
    pub fn protects(&self, group: Option<&str>) -> bool {
        group
            .and_then(|g| self.groups.get(g).copied())
            .unwrap_or(self.default)
    }

    /// Checks the document; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.groups.len() > MAX_GROUPS {
            return Err(format!("at most {MAX_GROUPS} groups may be listed"));
        }
        for g in self.groups.keys() {
            if g.trim().is_empty() || g.chars().count() > 100 || g.chars().any(char::is_control) {
                return Err(format!(
                    "group name {g:?} must be 1 to 100 printable characters"
                ));
            }
        }
        Ok(())
    }
}

/// The stored settings (defaults when never saved).
pub async fn load(store: &dyn Store) -> Result<TamperSettings, StoreError> {
    match store.get_setting(SETTINGS_KEY).await? {
        None => Ok(TamperSettings::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            StoreError::Backend(format!(
                "stored {SETTINGS_KEY} settings are unreadable: {e}"
            ))
        }),
    }
}

/// Validates, stores and applies new settings (live agents get new statements).
pub async fn save(st: &AppState, s: TamperSettings) -> Result<TamperSettings, SaveError> {
    s.validate().map_err(SaveError::Invalid)?;
    let value = serde_json::to_value(&s).map_err(|e| SaveError::Store(e.to_string()))?;
    st.store
        .set_setting(SETTINGS_KEY, &value)
        .await
        .map_err(|e| SaveError::Store(e.to_string()))?;
    tracing::info!(
        default = s.default,
        groups = s.groups.len(),
        "tamper protection settings changed"
    );
    st.lifecycle.set_tamper(s.clone());
    Ok(s)
}

/// Why saving settings failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("{0}")]
    Invalid(String),
    #[error("storing the settings failed: {0}")]
    Store(String),
}

/// The signed statement for one agent.
pub fn statement(st: &AppState, agent_id: &str, protected: bool) -> Option<Signed> {
    let p = ProtectionPayload {
        v: PAYLOAD_VERSION,
        agent_id: agent_id.to_string(),
        tamper_protection: protected,
        issued_at_ms: now_ms(),
    };
    st.lifecycle
        .key
        .sign_document(PROTECTION_DOMAIN, &p)
        .inspect_err(|e| tracing::error!(error = %e, "signing a protection statement failed"))
        .ok()
}

/// A freshly issued uninstall token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// `wut1.…`: shown once, never stored or logged.
    pub token: String,
    pub id: String,
    pub agent_id: String,
    pub actions: Vec<LocalAction>,
    pub expires_at: i64,
}

/// Signs an uninstall token for `agent_id`. `secs` is clamped to
/// 1..=[`TOKEN_MAX_SECS`]; empty `actions` means stop and uninstall.
pub fn issue_token(
    st: &AppState,
    agent_id: &str,
    mut actions: Vec<LocalAction>,
    secs: u64,
) -> Result<IssuedToken, String> {
    if actions.is_empty() {
        actions = vec![LocalAction::Stop, LocalAction::Uninstall];
    }
    if actions.contains(&LocalAction::Unknown) {
        return Err("actions may be stop and uninstall only".into());
    }
    actions.sort_by_key(|a| a.as_str());
    actions.dedup();
    let now = now_ms();
    let payload = ward_proto::UninstallTokenPayload {
        v: PAYLOAD_VERSION,
        id: random_token("utk", 9),
        agent_id: agent_id.to_string(),
        actions: actions.clone(),
        issued_at_ms: now,
        expires_at_ms: now + (secs.clamp(1, TOKEN_MAX_SECS) as i64) * 1000,
    };
    let doc = st
        .lifecycle
        .key
        .sign_document(TOKEN_DOMAIN, &payload)
        .map_err(|e| format!("signing the token failed: {e}"))?;
    let token = ward_pki::signed::encode_token(&doc).ok_or("encoding the token failed")?;
    tracing::info!(
        token = %payload.id,
        asset = %agent_id,
        expires_at = payload.expires_at_ms,
        "uninstall token issued"
    );
    Ok(IssuedToken {
        token,
        id: payload.id,
        agent_id: payload.agent_id,
        actions,
        expires_at: payload.expires_at_ms,
    })
}

/// What an agent notice led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeEffect {
    /// A tamper alert (its id), new or already stored.
    Alert(i64),
    /// The asset is `uninstalled` now.
    Uninstalled,
}

/// Records a notice of `agent_id` (the id comes from its credential).
pub async fn record_notice(
    st: &AppState,
    agent_id: &str,
    n: &AgentNotice,
) -> Result<NoticeEffect, String> {
    n.validate()?;
    if !st
        .lifecycle
        .notice_limiter
        .take(agent_id.to_string(), now_ms())
    {
        tracing::warn!(asset = %agent_id, "notice dropped: too many notices from this agent");
        return Err(RATE_LIMITED.into());
    }
    match n.kind {
        NoticeKind::Uninstalled => {
            tracing::info!(asset = %agent_id, reason = %n.reason, "agent reports it was uninstalled");
            st.asset_uninstalled(agent_id, now_ms());
            super::commands::cancel_pending(st, agent_id, "the agent was uninstalled locally")
                .await;
            Ok(NoticeEffect::Uninstalled)
        }
        NoticeKind::TamperAttempt => tamper_alert(st, agent_id, n).await.map(NoticeEffect::Alert),
        NoticeKind::Unknown => Err("unknown notice kind".into()),
    }
}

/// The stored form of a tamper attempt.
pub fn tamper_new_alert(agent_id: &str, n: &AgentNotice, now: i64) -> NewAlert {
    let action = n.action.unwrap_or(LocalAction::Unknown).as_str();
    let title = match n.action {
        Some(LocalAction::Stop) => "Agent stop attempted without a valid uninstall token",
        Some(LocalAction::Uninstall) => "Agent uninstall attempted without a valid uninstall token",
        _ => "Agent tampering attempted",
    };
    let mut group = BTreeMap::new();
    group.insert("action".to_string(), action.to_string());
    group.insert("reason".to_string(), n.reason.clone());
    if let Some(uid) = n.uid {
        group.insert("uid".to_string(), uid.to_string());
    }
    if let Some(p) = &n.parent {
        group.insert("parent".to_string(), p.clone());
    }
    NewAlert {
        rule_id: format!("ward.tamper.{action}"),
        rule_title: title.to_string(),
        author: Some("Ward".to_string()),
        severity: AlertSeverity::Urgent,
        technique: Some(TECHNIQUE.to_string()),
        asset_id: agent_id.to_string(),
        group_key: format!("action={action}"),
        group,
        first_ms: n.at_ms,
        last_ms: n.at_ms,
        evidence: Vec::new(),
        state: AlertState::Unhandled,
        created_at: now,
        // One alert per notice, however often the agent re-sends it.
        dedup_key: format!("ward.tamper\u{1f}{agent_id}\u{1f}{}", n.id),
        dedup_window_ms: i64::MAX / 4,
    }
}

async fn tamper_alert(st: &AppState, agent_id: &str, n: &AgentNotice) -> Result<i64, String> {
    let mut alert = tamper_new_alert(agent_id, n, now_ms());
    let list = st.detect.whitelist();
    let whitelisted = crate::detect::alerts::whitelisted_group(&list, &alert.rule_id, &alert.group);
    if whitelisted.is_some() {
        alert.state = AlertState::Whitelisted;
    }
    match st.store.insert_alert(&alert).await {
        Ok(AlertInsert::Created(rec)) => {
            tracing::warn!(
                alert = rec.id,
                asset = %agent_id,
                rule = %rec.rule_id,
                reason = %n.reason,
                "tamper attempt reported"
            );
            if whitelisted.is_none() {
                if let Some(out) = st.detect.outputs() {
                    let hostname = st
                        .store
                        .get_asset(agent_id)
                        .await
                        .ok()
                        .flatten()
                        .map(|a| a.hostname);
                    out.enqueue(AlertView::new(rec.clone(), hostname));
                }
            }
            Ok(rec.id)
        }
        Ok(AlertInsert::Merged(rec)) => Ok(rec.id),
        Err(e) => {
            tracing::error!(asset = %agent_id, error = %e, "storing a tamper alert failed");
            Err("the server could not store the notice".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_settings_override_the_default() {
        let mut s = TamperSettings::default();
        assert!(!s.protects(None) && !s.protects(Some("web")));
        s.groups.insert("web".into(), true);
        assert!(s.protects(Some("web")));
        assert!(!s.protects(Some("db")) && !s.protects(None));
        s.default = true;
        s.groups.insert("lab".into(), false);
        assert!(s.protects(None) && s.protects(Some("db")) && !s.protects(Some("lab")));
    }

    #[test]
    fn settings_validation_and_unknown_keys() {
        let mut s = TamperSettings::default();
        s.groups.insert(" ".into(), true);
        assert!(s.validate().is_err());
        assert!(serde_json::from_str::<TamperSettings>(r#"{"default":true,"x":1}"#).is_err());
        let s: TamperSettings = serde_json::from_str(r#"{"groups":{"web":true}}"#).unwrap();
        assert!(!s.default && s.protects(Some("web")));
    }

    #[test]
    fn tamper_alerts_are_urgent_t1562_001_one_per_notice() {
        let n = AgentNotice {
            id: "ntc_1".into(),
            kind: NoticeKind::TamperAttempt,
            action: Some(LocalAction::Uninstall),
            at_ms: 1_700_000_000_000,
            reason: "no uninstall token given".into(),
            uid: Some(0),
            parent: Some("bash".into()),
        };
        let a = tamper_new_alert("ag_1", &n, 5);
        assert_eq!(a.rule_id, "ward.tamper.uninstall");
        assert_eq!(a.severity, AlertSeverity::Urgent);
        assert_eq!(a.technique.as_deref(), Some("T1562.001"));
        assert_eq!((a.first_ms, a.last_ms), (n.at_ms, n.at_ms));
        assert_eq!(a.group["reason"], "no uninstall token given");
        assert_eq!(a.group["uid"], "0");
        let mut other = n.clone();
        other.id = "ntc_2".into();
        assert_ne!(a.dedup_key, tamper_new_alert("ag_1", &other, 5).dedup_key);
    }
}
