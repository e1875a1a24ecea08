//! Mounting the web console (`ward-console`): the server's shared state is
//! the console's [`ConsoleHost`], so pages read the same store and live
//! status engine, and save keys and the policy through the same code as the
//! REST API.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use ward_console::{
    ConsoleAuth, ConsoleHost, IssuedToken, LiveStatus, PolicySaveError, TamperProtection,
    UninstallResult,
};
use ward_proto::Policy;
use ward_store::{CommandRecord, StatusCount, Store, StoreError, VerificationKey};

use crate::lifecycle::commands::{self, IssueOptions};
use crate::lifecycle::tamper::{self, TamperSettings};

use crate::admin;
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
