//! A [`ConsoleHost`] over a real SQLite store, for the console's own tests
//! and the Assets page benchmark. No gateway; with [`TestHost::load_engine`]
//! the live view comes from the real status engine (`ward-status`), as in
//! `ward-server`, otherwise from the store.

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use tower::ServiceExt;
use ward_console::auth::password::PasswordCost;
use ward_console::auth::ratelimit::SignInLimits;
use ward_console::auth::session::SessionLimits;
use ward_console::auth::AuthOptions;
use ward_console::{
    ActionError, ConsoleAuth, ConsoleHost, IssuedToken, LiveStatus, OutputCounters, OutputsForm,
    PolicySaveError, Rollout, RolloutSaveError, RuleSummary, TamperProtection, UninstallResult,
    WhitelistInput,
};
use ward_pki::secret::random_token;
use ward_proto::Policy;
use ward_status::Engine;
use ward_store::{
    AlertState, CommandRecord, CommandState, CommandUpdate, NewCommand, NewKey, NewWhitelistEntry,
    StatusCount, Store, StoreError, VerificationKey, WhitelistEntry,
};
use ward_store_sqlite::SqliteStore;

pub struct TestHost {
    pub store: Arc<dyn Store>,
    pub auth: ConsoleAuth,
    pub policy: Mutex<Policy>,
    pub counts: Mutex<Vec<StatusCount>>,
    pub online: Mutex<HashSet<String>>,
    pub engine: Mutex<Option<Engine>>,
    /// What `save_outputs` stored (the real server validates and applies).
    pub outputs: Mutex<OutputsForm>,
    pub tamper: Mutex<TamperProtection>,
}

impl TestHost {
    /// A host on the SQLite store at `db` whose console password is `password`
    /// (hashed with minimal argon2 cost: these tests are not about hashing speed).
    pub async fn open(dir: &Path, db: &Path, password: &str) -> Arc<TestHost> {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(db).await.expect("open store"));
        let auth = ConsoleAuth::with_options(
            dir,
            AuthOptions {
                sessions: SessionLimits::default(),
                sign_in: SignInLimits::default(),
                password_cost: PasswordCost::MINIMAL,
            },
        );
        auth.password_file().set(password).expect("set password");
        let host = Arc::new(TestHost {
            store,
            auth,
            policy: Mutex::new(Policy::default()),
            counts: Mutex::new(Vec::new()),
            online: Mutex::new(HashSet::new()),
            engine: Mutex::new(None),
            outputs: Mutex::new(OutputsForm::default()),
            tamper: Mutex::new(TamperProtection::default()),
        });
        host.refresh().await;
        host
    }

    /// Loads every asset's liveness into a status engine, as `ward-server`
    /// does at start; live status and counts then come from it.
    pub async fn load_engine(&self) {
        let mut e = Engine::new(Policy::default(), 1_700_000_000_000);
        e.load(self.store.load_liveness().await.expect("load_liveness"));
        *self.engine.lock().unwrap() = Some(e);
    }

    /// Re-reads the status counts from the store (the real server keeps them live).
    pub async fn refresh(&self) {
        let c = self.store.count_by_status().await.expect("count_by_status");
        *self.counts.lock().unwrap() = c;
    }
}

#[async_trait]
impl ConsoleHost for TestHost {
    fn store(&self) -> &dyn Store {
        &*self.store
    }
    fn auth(&self) -> &ConsoleAuth {
        &self.auth
    }
    fn live_status(&self, asset_id: &str) -> Option<LiveStatus> {
        let engine = self.engine.lock().unwrap();
        let a = engine.as_ref()?.get(asset_id)?;
        Some(LiveStatus {
            status: a.status,
            reason: a.reason,
            since: a.since,
            last_seen: a.last_seen,
        })
    }
    fn status_counts(&self) -> Vec<StatusCount> {
        if let Some(e) = self.engine.lock().unwrap().as_ref() {
            return e
                .counts()
                .into_iter()
                .map(|(status, reason, count)| StatusCount {
                    status,
                    reason,
                    count,
                })
                .collect();
        }
        self.counts.lock().unwrap().clone()
    }
    fn is_online(&self, asset_id: &str) -> bool {
        self.online.lock().unwrap().contains(asset_id)
    }
    fn online_count(&self) -> usize {
        self.online.lock().unwrap().len()
    }
    fn policy(&self) -> Policy {
        *self.policy.lock().unwrap()
    }
    async fn save_policy(&self, policy: Policy) -> Result<Policy, PolicySaveError> {
        policy.validate().map_err(PolicySaveError::Invalid)?;
        self.store
            .set_policy(&policy)
            .await
            .map_err(|_| PolicySaveError::Internal)?;
        *self.policy.lock().unwrap() = policy;
        Ok(policy)
    }
    async fn create_key(
        &self,
        label: &str,
        default_group: Option<String>,
    ) -> Result<VerificationKey, StoreError> {
        self.store
            .create_key(NewKey {
                id: random_token("key", 9),
                secret: random_token("wk", 24),
                label: label.to_string(),
                default_group,
                created_at: 1_700_000_000_000,
            })
            .await
    }
    fn install_command(&self, key_secret: &str, platform: &str) -> String {
        format!("install --key '{key_secret}' --platform {platform}")
    }
    fn server_url(&self) -> String {
        "https://ward.test:8443".to_string()
    }
    async fn set_alert_state(&self, id: i64, state: AlertState) -> Result<(), ActionError> {
        match self
            .store
            .set_alert_state(id, state, 1_700_000_000_000)
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound(m)) => Err(ActionError::NotFound(m)),
            Err(_) => Err(ActionError::Internal),
        }
    }
    async fn add_whitelist(&self, e: WhitelistInput) -> Result<WhitelistEntry, ActionError> {
        if e.field.trim().is_empty() {
            return Err(ActionError::Invalid("field must be a field name".into()));
        }
        let entry = self
            .store
            .add_whitelist(&NewWhitelistEntry {
                rule_id: e.rule_id,
                field: e.field,
                value: e.value,
                comment: e.comment,
                created_at: 1_700_000_000_000,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => ActionError::Conflict(m),
                _ => ActionError::Internal,
            })?;
        if let Some(id) = e.from_alert {
            self.set_alert_state(id, AlertState::Whitelisted).await?;
        }
        Ok(entry)
    }
    async fn delete_whitelist(&self, id: i64) -> Result<(), ActionError> {
        self.store.delete_whitelist(id).await.map_err(|e| match e {
            StoreError::NotFound(m) => ActionError::NotFound(m),
            _ => ActionError::Internal,
        })
    }
    fn rules(&self) -> Vec<RuleSummary> {
        vec![
            RuleSummary {
                id: "ward-login-001".into(),
                title: "SSH brute force from one source".into(),
                author: Some("Ward".into()),
                alerts: true,
            },
            RuleSummary {
                id: "ward-login-base-ssh-failed".into(),
                title: "SSH authentication failure".into(),
                author: Some("Ward".into()),
                alerts: false,
            },
        ]
    }
    async fn outputs(&self) -> Result<OutputsForm, ActionError> {
        Ok(self.outputs.lock().unwrap().clone())
    }
    async fn save_outputs(&self, form: OutputsForm) -> Result<(), ActionError> {
        let url = form.webhook_url.trim();
        if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(ActionError::Invalid(format!(
                "webhook url must start with http:// or https://, got {url:?}"
            )));
        }
        *self.outputs.lock().unwrap() = form;
        Ok(())
    }
    fn output_counters(&self) -> Vec<OutputCounters> {
        Vec::new()
    }
    async fn rollout(&self) -> Result<Rollout, StoreError> {
        Ok(self
            .store
            .get_setting(ward_release::rollout::SETTING_KEY)
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default())
    }
    async fn save_rollout(&self, r: Rollout) -> Result<(), RolloutSaveError> {
        if !r.problems().is_empty() {
            return Err(RolloutSaveError::Invalid(r.problems().join("; ")));
        }
        let v = serde_json::to_value(&r).map_err(|_| RolloutSaveError::Internal)?;
        self.store
            .set_setting(ward_release::rollout::SETTING_KEY, &v)
            .await
            .map_err(|_| RolloutSaveError::Internal)
    }
    fn release_key(&self) -> Option<String> {
        Some("TESTKEY+release/public=".to_string())
    }

    /// Stores a (fake-signed) command per asset, like the server does;
    /// online assets count as sent, offline ones as queued or offline.
    async fn uninstall(
        &self,
        ids: Vec<String>,
        queue: bool,
        expires_in_secs: u64,
    ) -> Result<Vec<UninstallResult>, StoreError> {
        let now = ward_console::view::fmt::now_ms();
        let mut out = Vec::new();
        for id in ids {
            let online = self.is_online(&id);
            if !online && !queue {
                out.push(UninstallResult {
                    asset_id: id.clone(),
                    delivery: "offline".into(),
                    message: format!("{id} is offline"),
                    command: None,
                });
                continue;
            }
            let c = self
                .store
                .create_command(&NewCommand {
                    id: random_token("cmd", 8),
                    asset_id: id.clone(),
                    kind: ward_proto::CommandKind::Uninstall,
                    envelope: ward_proto::Signed {
                        payload: "{}".into(),
                        signature: "test".into(),
                    },
                    created_at: now,
                    expires_at: now + expires_in_secs as i64 * 1000,
                    created_by: "console".into(),
                })
                .await?;
            out.push(UninstallResult {
                asset_id: id,
                delivery: if online { "sent" } else { "queued" }.into(),
                message: String::new(),
                command: Some(c),
            });
        }
        Ok(out)
    }
    async fn pending_commands(&self, ids: &[String]) -> Vec<CommandRecord> {
        let now = ward_console::view::fmt::now_ms();
        self.store
            .pending_commands(ids, now)
            .await
            .unwrap_or_default()
    }
    async fn commands_of(&self, id: &str) -> Result<Vec<CommandRecord>, StoreError> {
        let q = ward_store::CommandQuery {
            asset_id: Some(id.to_string()),
            ..Default::default()
        };
        Ok(self.store.list_commands(&q).await?.items)
    }
    async fn cancel_command(&self, id: &str) -> Result<CommandRecord, StoreError> {
        let u = CommandUpdate {
            state: CommandState::Cancelled,
            at: ward_console::view::fmt::now_ms(),
            result: None,
        };
        self.store.update_command(id, &u).await
    }
    fn tamper_protection(&self) -> TamperProtection {
        self.tamper.lock().unwrap().clone()
    }
    async fn save_tamper_protection(&self, t: TamperProtection) -> Result<(), PolicySaveError> {
        *self.tamper.lock().unwrap() = t;
        Ok(())
    }
    fn issue_uninstall_token(&self, asset_id: &str, secs: u64) -> Result<IssuedToken, String> {
        Ok(IssuedToken {
            token: format!("wut1.test-token-for-{asset_id}"),
            expires_at: ward_console::view::fmt::now_ms() + secs as i64 * 1000,
            actions: vec!["stop".into(), "uninstall".into()],
        })
    }
    fn uninstall_command(&self) -> String {
        "uninstall --server 'https://ward.test:8443'".to_string()
    }
}

/// The console router over a host.
pub fn router(host: Arc<TestHost>) -> axum::Router {
    ward_console::routes(host as Arc<dyn ConsoleHost>)
}

/// An answer with its body as text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The session cookie value set by this answer.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("__Host-ward_session="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_string())
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> Option<String> {
        let i = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        Some(self.body[i..].split('"').next()?.to_string())
    }
}

async fn collect(res: Response<Body>) -> Answer {
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn get(app: &axum::Router, path: &str, cookie: Option<&str>) -> Answer {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("__Host-ward_session={c}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    collect(res).await
}

pub async fn post(
    app: &axum::Router,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> Answer {
    let body = serde_urlencoded::to_string(form).unwrap();
    let mut req =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("__Host-ward_session={c}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    collect(res).await
}

/// Signs in through the form; returns (session cookie, CSRF token).
pub async fn sign_in(app: &axum::Router, password: &str) -> (String, String) {
    let page = get(app, "/console/signin", None).await;
    let anon = page.session_cookie().expect("anonymous session cookie");
    let csrf = page.csrf().expect("csrf on the sign-in form");
    let res = post(
        app,
        "/console/signin",
        Some(&anon),
        &[
            ("csrf", &csrf),
            ("password", password),
            ("next", "/console/"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let cookie = res.session_cookie().expect("signed-in cookie");
    let page = get(app, "/console/settings/policy", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    (cookie, page.csrf().expect("csrf"))
}
