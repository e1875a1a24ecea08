//! `GET /api/v1/install-command?platform=&key=[&endpoint=…][&update_endpoint=…][&override=HOST=IP][&proxy=…]`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Serialize;
use ward_proto::PLATFORMS;

use crate::admin::{self, KeyChoiceError};
use crate::http_error::HttpError;
use crate::install_opts::InstallOptions;
use crate::state::AppState;

/// The query: `platform`, `key` (id or secret; default: the newest
/// non-revoked key), and the network options of [`crate::install_opts`]:
/// `endpoint` and `update_endpoint` (repeatable, in order), `override`
/// (`HOST=IP`, repeatable) and `proxy`.
#[derive(Debug, Default)]
pub struct Params {
    pub platform: Option<String>,
    pub key: Option<String>,
    pub options: InstallOptions,
}

impl Params {
    /// Reads the query pairs; unknown or repeated single parameters are errors.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, String> {
        let mut p = Params::default();
        let (mut endpoints, mut updates, mut overrides, mut proxy) =
            (Vec::new(), Vec::new(), Vec::new(), None);
        for (k, v) in pairs {
            let once = |slot: &mut Option<String>, v: String| {
                if slot.replace(v).is_some() {
                    Err(format!("query parameter {k:?} is given twice"))
                } else {
                    Ok(())
                }
            };
            match k.as_str() {
                "platform" => once(&mut p.platform, v)?,
                "key" => once(&mut p.key, v)?,
                "proxy" => once(&mut proxy, v)?,
                "endpoint" => endpoints.push(v),
                "update_endpoint" => updates.push(v),
                "override" => overrides.push(v),
                other => {
                    return Err(format!(
                        "unknown query parameter {other:?} (known: platform, key, endpoint, \
                         update_endpoint, override, proxy)"
                    ))
                }
            }
        }
        p.options = InstallOptions::build(endpoints, updates, &overrides, proxy)?;
        Ok(p)
    }
}

#[derive(Debug, Serialize)]
pub struct InstallCommand {
    pub platform: String,
    pub key_id: String,
    pub command: String,
}

pub async fn install_command(
    State(st): State<Arc<AppState>>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<InstallCommand>, HttpError> {
    let Query(pairs) = params.map_err(|r| HttpError::bad_request(r.body_text()))?;
    let p = Params::from_pairs(pairs).map_err(HttpError::bad_request)?;
    let platform = p.platform.unwrap_or_default();
    if !admin::is_platform(&platform) {
        return Err(HttpError::bad_request(format!(
            "platform must be one of {}",
            PLATFORMS.join(", ")
        )));
    }
    let key = admin::choose_key(&*st.store, p.key.as_deref())
        .await
        .map_err(|e| match e {
            KeyChoiceError::Store(e) => HttpError::store("choosing a key failed", e),
            KeyChoiceError::NotFound(_) => HttpError::not_found(e.to_string()),
            other => HttpError::bad_request(other.to_string()),
        })?;
    let command = admin::install_command_with(
        &st.public.url,
        &st.public.pin,
        &key.secret,
        &platform,
        &p.options,
    );
    Ok(Json(InstallCommand {
        platform,
        key_id: key.id,
        command,
    }))
}

/// `GET /api/v1/uninstall-command`: `{"command": "..."}`, the one-line
/// uninstall command (append `--prefix DIR`, `--token TOKEN`).
pub async fn uninstall_command(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "command": admin::uninstall_command(&st.public.url, &st.public.pin),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn query_pairs() {
        let p = Params::from_pairs(pairs(&[
            ("platform", "linux-x86_64"),
            ("endpoint", "https://a:1"),
            ("endpoint", "https://b:2"),
            ("override", "a=10.0.0.1"),
            ("proxy", "http://p:3128"),
        ]))
        .unwrap();
        assert_eq!(p.platform.as_deref(), Some("linux-x86_64"));
        assert_eq!(p.options.endpoints, vec!["https://a:1", "https://b:2"]);
        assert_eq!(p.options.overrides.len(), 1);
        assert!(Params::from_pairs(pairs(&[("platfrom", "x")])).is_err());
        assert!(Params::from_pairs(pairs(&[("key", "a"), ("key", "b")])).is_err());
        assert!(Params::from_pairs(pairs(&[("override", "nope")])).is_err());
        assert!(Params::from_pairs(pairs(&[("endpoint", "http://a:1")])).is_err());
    }
}
