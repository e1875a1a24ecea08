//! What an operator does with alerts and detection settings, shared by the
//! REST API and the console so both validate, store, apply and log the
//! same way: alert state, whitelist entries, output and detection settings.

use ward_store::{AlertRecord, AlertState, NewWhitelistEntry, StoreError, WhitelistEntry};

use super::alerts::{entry_matches_alert, ANY_RULE};
use super::settings::{self, DetectionSettings, OutputSettings};
use crate::clock::now_ms;
use crate::state::AppState;

/// Why an action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The input is not usable; the message says why (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// No such alert or entry (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// It exists already (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The store failed (HTTP 500; `context` says what was being done).
    #[error("{context}: {source}")]
    Store {
        context: &'static str,
        #[source]
        source: StoreError,
    },
}

fn store(context: &'static str) -> impl FnOnce(StoreError) -> ActionError {
    move |source| ActionError::Store { context, source }
}

/// Sets an alert's state to `unhandled`, `handled` or `ignored`
/// (`whitelisted` comes only from a whitelist entry).
pub async fn set_alert_state(
    st: &AppState,
    id: i64,
    state: AlertState,
) -> Result<AlertRecord, ActionError> {
    if state == AlertState::Whitelisted {
        return Err(ActionError::Invalid(
            "state must be handled, ignored or unhandled (whitelist with /api/v1/whitelist)".into(),
        ));
    }
    let a = st
        .store
        .set_alert_state(id, state, now_ms())
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ActionError::NotFound(format!("no alert {id}")),
            e => store("updating an alert failed")(e),
        })?;
    tracing::info!(alert = id, state = state.as_str(), "alert state changed");
    Ok(a)
}

/// A whitelist entry as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhitelistRequest {
    /// A rule id, or `*` for every rule.
    pub rule_id: String,
    /// A field name (`SourceIp`, `User`, ...).
    pub field: String,
    pub value: String,
    pub comment: Option<String>,
    /// The alert the entry was made from: it must match it, and it becomes
    /// `whitelisted` too.
    pub from_alert: Option<i64>,
}

fn check_entry(st: &AppState, e: &WhitelistRequest) -> Result<(), ActionError> {
    let rule = e.rule_id.trim();
    if rule != ANY_RULE {
        // The running rule book (compiled rules have a title).
        let known = st
            .detect
            .rule_report()
            .iter()
            .any(|r| r.id == rule && r.title.is_some());
        if !known {
            return Err(ActionError::Invalid(format!(
                "rule_id must be a rule id or \"*\", got {rule:?}"
            )));
        }
    }
    let field = e.field.trim();
    if field.is_empty()
        || field.len() > 64
        || !field
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        return Err(ActionError::Invalid(format!(
            "field must be a field name (letters, digits, '_', '.'), got {field:?}"
        )));
    }
    if e.value.is_empty() || e.value.len() > 1024 {
        return Err(ActionError::Invalid("value must be 1 to 1024 bytes".into()));
    }
    if e.comment.as_ref().is_some_and(|c| c.len() > 1024) {
        return Err(ActionError::Invalid(
            "comment must be at most 1024 bytes".into(),
        ));
    }
    Ok(())
}

async fn reload_whitelist(st: &AppState) -> Result<(), ActionError> {
    let list = st
        .store
        .list_whitelist()
        .await
        .map_err(store("reloading the whitelist failed"))?;
    st.detect.set_whitelist(list);
    Ok(())
}

/// Adds a whitelist entry (applied to alerts raised from now on) and, when
/// it was made from an alert, marks that alert `whitelisted`.
pub async fn add_whitelist(
    st: &AppState,
    req: WhitelistRequest,
) -> Result<WhitelistEntry, ActionError> {
    check_entry(st, &req)?;
    let new = NewWhitelistEntry {
        rule_id: req.rule_id.trim().to_string(),
        field: req.field.trim().to_string(),
        value: req.value.clone(),
        comment: req.comment.clone().filter(|c| !c.trim().is_empty()),
        created_at: now_ms(),
    };
    let source = match req.from_alert {
        None => None,
        Some(id) => {
            let a = st
                .store
                .get_alert(id)
                .await
                .map_err(store("reading an alert failed"))?
                .ok_or_else(|| ActionError::NotFound(format!("no alert {id}")))?;
            let evidence = st
                .store
                .alert_evidence(id)
                .await
                .map_err(store("reading alert evidence failed"))?;
            if !entry_matches_alert(&new.rule_id, &new.field, &new.value, &a, &evidence) {
                return Err(ActionError::Invalid(format!(
                    "alert {id} has no {} = {:?} for rule {}",
                    new.field, new.value, new.rule_id
                )));
            }
            Some(id)
        }
    };
    let entry = st.store.add_whitelist(&new).await.map_err(|e| match e {
        StoreError::Conflict(_) => {
            ActionError::Conflict("this rule, field and value are whitelisted already".into())
        }
        e => store("adding a whitelist entry failed")(e),
    })?;
    reload_whitelist(st).await?;
    tracing::info!(id = entry.id, rule = %entry.rule_id, field = %entry.field, "whitelist entry added");
    if let Some(id) = source {
        st.store
            .set_alert_state(id, AlertState::Whitelisted, now_ms())
            .await
            .map_err(store("marking the alert whitelisted failed"))?;
        tracing::info!(alert = id, whitelist = entry.id, "alert whitelisted");
    }
    Ok(entry)
}

/// Deletes a whitelist entry.
pub async fn delete_whitelist(st: &AppState, id: i64) -> Result<(), ActionError> {
    st.store.delete_whitelist(id).await.map_err(|e| match e {
        StoreError::NotFound(_) => ActionError::NotFound(format!("no whitelist entry {id}")),
        e => store("deleting a whitelist entry failed")(e),
    })?;
    reload_whitelist(st).await?;
    tracing::info!(id, "whitelist entry deleted");
    Ok(())
}

/// The output settings as stored (secret values included: callers show
/// only [`OutputSettings::redacted`]).
pub async fn output_settings(st: &AppState) -> Result<OutputSettings, ActionError> {
    settings::load(&*st.store, settings::OUTPUTS_KEY)
        .await
        .map_err(store("reading output settings failed"))
}

/// Validates, stores and applies new output settings. A webhook secret
/// header given without a value keeps the stored value of that header.
pub async fn save_outputs(
    st: &AppState,
    new: OutputSettings,
) -> Result<OutputSettings, ActionError> {
    let stored = output_settings(st).await?;
    let s = new.keep_secret_from(&stored);
    s.validate().map_err(ActionError::Invalid)?;
    settings::save(&*st.store, settings::OUTPUTS_KEY, &s)
        .await
        .map_err(store("saving output settings failed"))?;
    st.detect.set_output_settings(s.clone());
    tracing::info!(
        webhook = s.webhook.is_some(),
        syslog = s.syslog.is_some(),
        "output settings changed"
    );
    Ok(s)
}

/// Validates, stores and applies new detection settings (the runtime
/// rebuilds its engine).
pub async fn save_detection(
    st: &AppState,
    s: DetectionSettings,
) -> Result<DetectionSettings, ActionError> {
    s.validate(&st.detect.added())
        .map_err(ActionError::Invalid)?;
    settings::save(&*st.store, settings::DETECTION_KEY, &s)
        .await
        .map_err(store("saving detection settings failed"))?;
    st.detect.set_settings(s.clone());
    tracing::info!(overrides = s.rules.len(), "detection settings changed");
    Ok(s)
}
