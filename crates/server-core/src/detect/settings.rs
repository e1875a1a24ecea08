//! Detection and output settings: typed, validated, stored as JSON
//! documents in the store (keys [`DETECTION_KEY`], [`OUTPUTS_KEY`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ward_rules::{RuleError, RuleOverride, RuleSet};

use super::rule_files::RuleFile;
use super::rulebook;
use ward_store::{Store, StoreError};

/// Store key of [`DetectionSettings`].
pub const DETECTION_KEY: &str = "detection";
/// Store key of [`OutputSettings`].
pub const OUTPUTS_KEY: &str = "outputs";

/// Thresholds and retention (`GET/PUT /api/v1/settings/detection`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionSettings {
    /// Per-rule overrides by rule id: `threshold`, `timespan`, `severity`,
    /// `enabled` (see `crates/rules/RULES.md`, "Settings").
    pub rules: BTreeMap<String, RuleOverride>,
    /// Stored events older than this many days are deleted.
    pub event_retention_days: u32,
    /// At most this many events are kept (the oldest go first).
    pub max_stored_events: u64,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        DetectionSettings {
            rules: BTreeMap::new(),
            event_retention_days: 30,
            max_stored_events: 20_000_000,
        }
    }
}

impl DetectionSettings {
    /// The rule set these settings give: the built-in rules plus the added
    /// rule files (of `rules_dir` and imported), with the overrides applied,
    /// as [`rulebook::build`] makes it. Errors in the built-in rules or the
    /// overrides fail it; a rule of an added file that does not compile is
    /// left out and returned as a warning.
    pub fn rule_set(&self, added: &[RuleFile]) -> Result<(RuleSet, Vec<RuleError>), String> {
        rulebook::build(added, &self.rules).map(|b| (b.set, b.errors))
    }

    /// Every problem, as one message (empty: usable).
    pub fn validate(&self, added: &[RuleFile]) -> Result<(), String> {
        if !(1..=3650).contains(&self.event_retention_days) {
            return Err(format!(
                "event_retention_days must be between 1 and 3650, got {}",
                self.event_retention_days
            ));
        }
        if self.max_stored_events < 1000 {
            return Err(format!(
                "max_stored_events must be at least 1000, got {}",
                self.max_stored_events
            ));
        }
        self.rule_set(added).map(|_| ())
    }
}

/// Where alerts go besides the console (`GET/PUT /api/v1/settings/outputs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputSettings {
    pub webhook: Option<WebhookSettings>,
    pub syslog: Option<SyslogSettings>,
}

/// `POST` of each alert as JSON to `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// `http://` or `https://` URL (https is verified against the system CAs).
    pub url: String,
    /// A header carrying a shared secret, e.g. `X-Ward-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_header: Option<SecretHeader>,
}

/// A secret header. Its value is never returned by the API nor logged; a
/// `PUT` without `value` keeps the stored value of a header of that name.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretHeader {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl std::fmt::Debug for SecretHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretHeader")
            .field("name", &self.name)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// RFC 5424 syslog with a JSON payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSettings {
    /// `host:port` of the collector.
    pub target: String,
    #[serde(default)]
    pub transport: SyslogTransport,
    /// Syslog facility number, 0..=23 (default 4, security/authorization).
    #[serde(default = "default_facility")]
    pub facility: u8,
}

fn default_facility() -> u8 {
    4
}

/// `udp` (one message per datagram) or `tcp` (RFC 6587 octet counting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    #[default]
    Udp,
    Tcp,
}

impl OutputSettings {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(w) = &self.webhook {
            crate::outputs::webhook::Target::parse(&w.url)?;
            if let Some(h) = &w.secret_header {
                check_header(h)?;
            }
        }
        if let Some(s) = &self.syslog {
            split_host_port(&s.target)?;
            if s.facility > 23 {
                return Err(format!(
                    "syslog.facility must be 0..=23, got {}",
                    s.facility
                ));
            }
        }
        Ok(())
    }

    /// `self` with a missing secret value taken from `stored` when the
    /// header name is the same (so a GET answer can be PUT back).
    pub fn keep_secret_from(mut self, stored: &OutputSettings) -> OutputSettings {
        let old = stored
            .webhook
            .as_ref()
            .and_then(|w| w.secret_header.as_ref());
        if let (Some(new), Some(old)) = (
            self.webhook.as_mut().and_then(|w| w.secret_header.as_mut()),
            old,
        ) {
            if new.value.is_none() && new.name.eq_ignore_ascii_case(&old.name) {
                new.value = old.value.clone();
            }
        }
        self
    }

    /// The settings as the API shows them: secret values removed.
    pub fn redacted(&self) -> OutputSettings {
        let mut s = self.clone();
        if let Some(h) = s.webhook.as_mut().and_then(|w| w.secret_header.as_mut()) {
            h.value = None;
        }
        s
    }
}

fn check_header(h: &SecretHeader) -> Result<(), String> {
    let name_ok = !h.name.is_empty()
        && h.name.len() <= 128
        && h.name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if !name_ok {
        return Err(format!(
            "webhook.secret_header.name must be letters, digits, '-' or '_', got {:?}",
            h.name
        ));
    }
    match &h.value {
        None => Err("webhook.secret_header.value is required".into()),
        Some(v) if v.is_empty() || v.len() > 4096 || v.bytes().any(|b| b < 0x20 || b == 0x7f) => {
            Err("webhook.secret_header.value must be 1..4096 printable characters".into())
        }
        Some(_) => Ok(()),
    }
}

/// Splits `host:port` (`[v6]:port` for IPv6 literals).
pub fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let bad = || format!("expected host:port, got {s:?}");
    let (host, port) = s.trim().rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(bad)?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Reads a settings document; a missing one is the default. A stored one
/// that no longer parses is logged and replaced by the default.
pub async fn load<T>(store: &dyn Store, key: &str) -> Result<T, StoreError>
where
    T: Default + for<'de> Deserialize<'de>,
{
    match store.get_setting(key).await? {
        None => Ok(T::default()),
        Some(v) => Ok(serde_json::from_value(v).unwrap_or_else(|e| {
            tracing::error!(key, error = %e, "stored settings are invalid; using defaults");
            T::default()
        })),
    }
}

/// Writes a settings document.
pub async fn save<T: Serialize>(store: &dyn Store, key: &str, value: &T) -> Result<(), StoreError> {
    let v = serde_json::to_value(value)
        .map_err(|e| StoreError::Backend(format!("encoding settings {key}: {e}")))?;
    store.set_setting(key, &v).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_thresholds_reach_the_rule_set() {
        assert!(DetectionSettings::default().validate(&[]).is_ok());
        let s: DetectionSettings =
            serde_json::from_str(r#"{"rules":{"ward-login-001":{"threshold":3}}}"#).unwrap();
        assert_eq!(s.event_retention_days, 30, "missing fields take defaults");
        assert!(s.validate(&[]).is_ok());
        let bad: DetectionSettings =
            serde_json::from_str(r#"{"rules":{"no-such-rule":{"threshold":3}}}"#).unwrap();
        let e = bad.validate(&[]).unwrap_err();
        assert!(e.contains("W1015"), "{e}");
        assert!(serde_json::from_str::<DetectionSettings>(r#"{"bogus":1}"#).is_err());
        let zero = DetectionSettings {
            event_retention_days: 0,
            ..Default::default()
        };
        assert!(zero.validate(&[]).is_err());
    }

    #[test]
    fn added_rule_files_compile_leniently_and_overrides_may_name_them() {
        let good = RuleFile {
            name: "/rules/probe.yml".into(),
            text: "title: Probe network\nid: site-probe\nlevel: high\ndetection:\n  sel:\n    kind: auth.ssh_failed\n  condition: sel\n".into(),
        };
        let broken = RuleFile {
            name: "/rules/broken.yml".into(),
            text:
                "title: x\nid: site-broken\ndetection:\n  sel:\n    a|nope: 1\n  condition: sel\n"
                    .into(),
        };
        let s: DetectionSettings =
            serde_json::from_str(r#"{"rules":{"site-probe":{"severity":"reminder"}}}"#).unwrap();
        let (set, warnings) = s.rule_set(&[good.clone(), broken.clone()]).unwrap();
        assert!(set.rule("site-probe").is_some());
        assert!(set.rule("ward-login-001").is_some(), "built-in rules stay");
        assert!(set.rule("site-broken").is_none());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].code, ward_rules::ErrorCode::UnknownModifier);
        // Without the file the override names an unknown rule: refused.
        let e = s.validate(&[broken]).unwrap_err();
        assert!(e.contains("W1015"), "{e}");
        assert!(s.validate(&[good]).is_ok());
    }

    #[test]
    fn output_settings_validate_and_keep_secrets() {
        let s: OutputSettings = serde_json::from_str(
            r#"{"webhook":{"url":"https://hooks.example/x","secret_header":{"name":"X-Token","value":"s3"}},
                "syslog":{"target":"[2001:db8::1]:514","transport":"tcp"}}"#,
        )
        .unwrap();
        assert!(s.validate().is_ok());
        assert_eq!(s.syslog.as_ref().unwrap().facility, 4);
        let shown = serde_json::to_string(&s.redacted()).unwrap();
        assert!(!shown.contains("s3"), "{shown}");
        assert!(!format!("{s:?}").contains("s3"));
        // The redacted form PUT back keeps the stored secret.
        let back: OutputSettings = serde_json::from_str(&shown).unwrap();
        assert_eq!(back.keep_secret_from(&s), s);
        for bad in [
            r#"{"webhook":{"url":"ftp://x/"}}"#,
            r#"{"webhook":{"url":"http://x/","secret_header":{"name":"X Y","value":"v"}}}"#,
            r#"{"webhook":{"url":"http://x/","secret_header":{"name":"X"}}}"#,
            r#"{"syslog":{"target":"nohost"}}"#,
            r#"{"syslog":{"target":"h:0"}}"#,
            r#"{"syslog":{"target":"h:514","facility":24}}"#,
        ] {
            let s: OutputSettings = serde_json::from_str(bad).unwrap();
            assert!(s.validate().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<OutputSettings>(
            r#"{"syslog":{"target":"h:1","transport":"sctp"}}"#
        )
        .is_err());
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("127.0.0.1:514").unwrap(),
            ("127.0.0.1".to_string(), 514)
        );
        assert_eq!(
            split_host_port("[::1]:6514").unwrap(),
            ("::1".to_string(), 6514)
        );
        assert_eq!(
            split_host_port("logs.example:10514").unwrap(),
            ("logs.example".to_string(), 10514)
        );
        for bad in ["", ":514", "h:", "h:65536", "a b:1"] {
            assert!(split_host_port(bad).is_err(), "{bad:?}");
        }
    }
}
