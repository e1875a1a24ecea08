//! Mounting the web console (`ward-console`): the server's shared state is
//! the console's [`ConsoleHost`], so pages read the same store and live
//! status engine, and save keys and the policy through the same code as the
//! REST API.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use ward_console::{
    ConsoleAuth, ConsoleHost, LiveStatus, PolicySaveError, Rollout, RolloutSaveError,
};
use ward_proto::Policy;
use ward_store::{StatusCount, Store, StoreError, VerificationKey};

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
}
