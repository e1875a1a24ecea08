//! Mounting the web console (`ward-console`): the server's shared state is
//! the console's [`ConsoleHost`], so pages read the same store and live
//! status engine, and save keys and the policy through the same code as the
//! REST API.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use ward_console::{
    ActionError, ConsoleAuth, ConsoleHost, IssuedToken, LiveStatus, OutputCounters, OutputsForm,
    PolicySaveError, Rollout, RolloutSaveError, RuleSummary, TamperProtection, UninstallResult,
    WhitelistInput,
};
use ward_proto::Policy;
use ward_store::{
    AlertState, CommandRecord, StatusCount, Store, StoreError, VerificationKey, WhitelistEntry,
};

use crate::admin;
use crate::detect::actions::{self, ActionError as DetectError, WhitelistRequest};
use crate::detect::settings::{
    OutputSettings, SecretHeader, SyslogSettings, SyslogTransport, WebhookSettings,
};
use crate::lifecycle::commands::{self, IssueOptions};
use crate::lifecycle::tamper::{self, TamperSettings};
use crate::outputs::OutputStats;
use crate::state::AppState;

/// The console's routes (`/`, `/console/…`).
pub fn routes(st: Arc<AppState>) -> Router<Arc<AppState>> {
    ward_console::routes(st as Arc<dyn ConsoleHost>)
}

#[async_trait]
impl ConsoleHost for AppState {
    fn store(&self) -> &dyn Store {
        &*self.store
    }

    fn auth(&self) -> &ConsoleAuth {
        &self.console
    }

    fn live_status(&self, asset_id: &str) -> Option<LiveStatus> {
        AppState::live_status(self, asset_id).map(|(status, reason, since, last_seen)| LiveStatus {
            status,
            reason,
            since,
            last_seen,
        })
    }

    fn status_counts(&self) -> Vec<StatusCount> {
        AppState::status_counts(self)
            .into_iter()
            .map(|(status, reason, count)| StatusCount {
                status,
                reason,
                count,
            })
            .collect()
    }

    fn is_online(&self, asset_id: &str) -> bool {
        self.registry.is_online(asset_id)
    }

    fn online_count(&self) -> usize {
        self.registry.len()
    }

    fn policy(&self) -> Policy {
        AppState::policy(self)
    }

    async fn save_policy(&self, policy: Policy) -> Result<Policy, PolicySaveError> {
        crate::api::policy::apply(self, policy)
            .await
            .map_err(|e| match e.status {
                axum::http::StatusCode::BAD_REQUEST => PolicySaveError::Invalid(e.message),
                _ => PolicySaveError::Internal,
            })
    }

    async fn rollout(&self) -> Result<Rollout, StoreError> {
        crate::releases::rollout(&*self.store).await
    }

    async fn save_rollout(&self, rollout: Rollout) -> Result<(), RolloutSaveError> {
        crate::releases::set_rollout(&*self.store, &rollout)
            .await
            .map_err(|e| match e {
                crate::releases::RolloutError::Invalid(m) => RolloutSaveError::Invalid(m),
                crate::releases::RolloutError::Store(m) => {
                    tracing::error!(error = %m, "saving the rollout failed");
                    RolloutSaveError::Internal
                }
            })
    }

    fn release_key(&self) -> Option<String> {
        Some(self.releases.public_key().to_string())
    }

    async fn create_key(
        &self,
        label: &str,
        default_group: Option<String>,
    ) -> Result<VerificationKey, StoreError> {
        admin::create_key(&*self.store, label, default_group).await
    }

    fn install_command(&self, key_secret: &str, platform: &str) -> String {
        admin::install_command(&self.public.url, &self.public.pin, key_secret, platform)
    }

    fn server_url(&self) -> String {
        self.public.url.clone()
    }

    async fn set_alert_state(&self, id: i64, state: AlertState) -> Result<(), ActionError> {
        actions::set_alert_state(self, id, state)
            .await
            .map(|_| ())
            .map_err(console_error)
    }

    async fn add_whitelist(&self, e: WhitelistInput) -> Result<WhitelistEntry, ActionError> {
        actions::add_whitelist(
            self,
            WhitelistRequest {
                rule_id: e.rule_id,
                field: e.field,
                value: e.value,
                comment: e.comment,
                from_alert: e.from_alert,
            },
        )
        .await
        .map_err(console_error)
    }

    async fn delete_whitelist(&self, id: i64) -> Result<(), ActionError> {
        actions::delete_whitelist(self, id)
            .await
            .map_err(console_error)
    }

    fn rules(&self) -> Vec<RuleSummary> {
        // The running rule book, not a fresh compile per page.
        self.detect
            .rule_report()
            .iter()
            .filter_map(|r| {
                Some(RuleSummary {
                    id: r.id.clone(),
                    title: r.title.clone()?,
                    author: r.author.clone(),
                    alerts: r.alerts,
                })
            })
            .collect()
    }

    async fn outputs(&self) -> Result<OutputsForm, ActionError> {
        let s = actions::output_settings(self)
            .await
            .map_err(console_error)?;
        Ok(form_from_outputs(&s))
    }

    async fn save_outputs(&self, form: OutputsForm) -> Result<(), ActionError> {
        let s = outputs_from_form(&form).map_err(ActionError::Invalid)?;
        actions::save_outputs(self, s)
            .await
            .map(|_| ())
            .map_err(console_error)
    }

    fn output_counters(&self) -> Vec<OutputCounters> {
        let Some(o) = self.detect.outputs() else {
            return Vec::new();
        };
        [("Webhook", &o.webhook_stats), ("Syslog", &o.syslog_stats)]
            .into_iter()
            .map(|(name, s)| OutputCounters {
                name,
                sent: OutputStats::get(&s.sent),
                given_up: OutputStats::get(&s.given_up),
                dropped: OutputStats::get(&s.dropped),
            })
            .collect()
    }

    async fn uninstall(
        &self,
        ids: Vec<String>,
        queue: bool,
        expires_in_secs: u64,
    ) -> Result<Vec<UninstallResult>, StoreError> {
        let opts = IssueOptions {
            queue,
            expires_in_secs,
        };
        let done = crate::api::commands::issue_many(self, ids, opts, "console").await?;
        Ok(done
            .into_iter()
            .map(|i| UninstallResult {
                asset_id: i.asset_id,
                delivery: i.delivery.as_str().to_string(),
                message: i.message,
                command: i.command,
            })
            .collect())
    }

    async fn pending_commands(&self, ids: &[String]) -> Vec<CommandRecord> {
        commands::pending_of(self, ids).await
    }

    async fn commands_of(&self, id: &str) -> Result<Vec<CommandRecord>, StoreError> {
        commands::of_asset(self, id, 20).await
    }

    async fn cancel_command(&self, id: &str) -> Result<CommandRecord, StoreError> {
        commands::cancel(self, id).await
    }

    fn tamper_protection(&self) -> TamperProtection {
        let t = self.lifecycle.tamper();
        TamperProtection {
            default: t.default,
            groups: t.groups.clone(),
        }
    }

    async fn save_tamper_protection(&self, t: TamperProtection) -> Result<(), PolicySaveError> {
        let s = TamperSettings {
            default: t.default,
            groups: t.groups,
        };
        match tamper::save(self, s).await {
            Ok(_) => Ok(()),
            Err(tamper::SaveError::Invalid(m)) => Err(PolicySaveError::Invalid(m)),
            Err(e) => {
                tracing::error!(error = %e, "console: saving tamper protection failed");
                Err(PolicySaveError::Internal)
            }
        }
    }

    fn issue_uninstall_token(&self, asset_id: &str, secs: u64) -> Result<IssuedToken, String> {
        let t = tamper::issue_token(self, asset_id, Vec::new(), secs)?;
        Ok(IssuedToken {
            token: t.token,
            expires_at: t.expires_at,
            actions: t.actions.iter().map(|a| a.as_str().to_string()).collect(),
        })
    }

    fn uninstall_command(&self) -> String {
        admin::uninstall_command(&self.public.url, &self.public.pin)
    }
}

fn console_error(e: DetectError) -> ActionError {
    match e {
        DetectError::Invalid(m) => ActionError::Invalid(m),
        DetectError::NotFound(m) => ActionError::NotFound(m),
        DetectError::Conflict(m) => ActionError::Conflict(m),
        e @ DetectError::Store { .. } => {
            tracing::error!(error = %e, "console action failed");
            ActionError::Internal
        }
    }
}

/// The settings as the form shows them (no secret value).
pub fn form_from_outputs(s: &OutputSettings) -> OutputsForm {
    let header = s.webhook.as_ref().and_then(|w| w.secret_header.as_ref());
    OutputsForm {
        webhook_url: s.webhook.as_ref().map_or(String::new(), |w| w.url.clone()),
        webhook_header_name: header.map_or(String::new(), |h| h.name.clone()),
        webhook_header_value: String::new(),
        webhook_header_set: header.is_some_and(|h| h.value.is_some()),
        syslog_target: s
            .syslog
            .as_ref()
            .map_or(String::new(), |l| l.target.clone()),
        syslog_transport: match s.syslog.as_ref().map(|l| l.transport) {
            Some(SyslogTransport::Tcp) => "tcp".into(),
            _ => "udp".into(),
        },
        syslog_facility: s
            .syslog
            .as_ref()
            .map_or(String::new(), |l| l.facility.to_string()),
    }
}

/// The form as settings: an empty URL or target turns that output off; an
/// empty secret value keeps the stored one (see
/// [`OutputSettings::keep_secret_from`]). Validation happens when saving.
pub fn outputs_from_form(f: &OutputsForm) -> Result<OutputSettings, String> {
    let webhook = match f.webhook_url.trim() {
        "" => None,
        url => Some(WebhookSettings {
            url: url.to_string(),
            secret_header: match f.webhook_header_name.trim() {
                "" => None,
                name => Some(SecretHeader {
                    name: name.to_string(),
                    value: Some(f.webhook_header_value.clone()).filter(|v| !v.is_empty()),
                }),
            },
        }),
    };
    let syslog = match f.syslog_target.trim() {
        "" => None,
        target => Some(SyslogSettings {
            target: target.to_string(),
            transport: match f.syslog_transport.trim() {
                "" | "udp" => SyslogTransport::Udp,
                "tcp" => SyslogTransport::Tcp,
                other => {
                    return Err(format!(
                        "syslog transport must be udp or tcp, got {other:?}"
                    ))
                }
            },
            facility: match f.syslog_facility.trim() {
                "" => 4,
                v => v.parse().map_err(|_| {
                    format!("syslog facility must be a number from 0 to 23, got {v:?}")
                })?,
            },
        }),
    };
    Ok(OutputSettings { webhook, syslog })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outputs_form_round_trips_and_empty_fields_turn_outputs_off() {
        let s = OutputSettings {
            webhook: Some(WebhookSettings {
                url: "https://hooks.example/ward".into(),
                secret_header: Some(SecretHeader {
                    name: "X-Ward-Token".into(),
                    value: Some("s3cret".into()),
                }),
            }),
            syslog: Some(SyslogSettings {
                target: "[2001:db8::1]:6514".into(),
                transport: SyslogTransport::Tcp,
                facility: 10,
            }),
        };
        let f = form_from_outputs(&s);
        assert!(f.webhook_header_set);
        assert_eq!(f.webhook_header_value, "", "the secret is never shown");
        let back = outputs_from_form(&f).unwrap();
        // Without a new value the header keeps the stored secret when saved.
        assert_eq!(back.keep_secret_from(&s), s);
        let off = outputs_from_form(&OutputsForm::default()).unwrap();
        assert_eq!(off, OutputSettings::default());
        let bad = OutputsForm {
            syslog_target: "logs:514".into(),
            syslog_facility: "local0".into(),
            ..Default::default()
        };
        assert!(outputs_from_form(&bad).unwrap_err().contains("local0"));
        let bad = OutputsForm {
            syslog_target: "logs:514".into(),
            syslog_transport: "sctp".into(),
            ..Default::default()
        };
        assert!(outputs_from_form(&bad).is_err());
    }
}
