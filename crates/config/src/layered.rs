//! The generic layered loader: defaults ← TOML file ← environment ← overrides.
//!
//! The overlay is done on [`toml::Value`] trees; the merged tree is then
//! deserialized once into the target type. Unknown keys are detected both by
//! `#[serde(deny_unknown_fields)]` and by watching which keys deserialization
//! ignores (for foreign types without that attribute), so they fail whichever
//! layer they came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use toml::Value;

use crate::error::ConfigError;

/// One command-line value: a dotted key path, its value, and the flag that set it.
#[derive(Debug, Clone)]
pub struct Override {
    /// Dotted key path, e.g. `listen` or `policy.keepalive_secs`.
    pub key: String,
    pub value: Value,
    /// How the user set it, e.g. `command line --listen`.
    pub origin: String,
}

impl Override {
    pub fn new(key: impl Into<String>, value: impl Into<Value>, origin: impl Into<String>) -> Self {
        Override {
            key: key.into(),
            value: value.into(),
            origin: origin.into(),
        }
    }
}

/// Where each key of a loaded configuration came from.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    map: BTreeMap<Vec<String>, String>,
}

impl Origins {
    fn set(&mut self, path: &[String], origin: &str) {
        self.map.insert(path.to_vec(), origin.to_string());
    }

    /// The layer that set `key` (dotted) or its nearest parent, `None` when the
    /// value is a built-in default.
    pub fn of(&self, key: &str) -> Option<&str> {
        let mut path: Vec<String> = key.split('.').map(str::to_string).collect();
        loop {
            if let Some(o) = self.map.get(&path) {
                return Some(o.as_str());
            }
            path.pop()?;
        }
    }

    fn describe(&self, key: &str) -> String {
        self.of(key).unwrap_or("defaults").to_string()
    }
}

/// Loads `T` from its defaults, an optional TOML file and the environment
/// variables in `env` that start with `env_prefix` (e.g. `WARD_`).
pub fn load_layered<T>(
    file: Option<&Path>,
    env_prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    load_layered_with(file, env_prefix, env, &[]).map(|(t, _)| t)
}

/// [`load_layered`] plus command-line overrides applied last; also returns
/// where each value came from (for validation messages).
pub fn load_layered_with<T>(
    file: Option<&Path>,
    env_prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &[Override],
) -> Result<(T, Origins), ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let mut origins = Origins::default();
    let mut merged = Value::try_from(T::default()).map_err(|e| ConfigError::Key {
        origin: "defaults".into(),
        key: String::new(),
        cause: e.to_string(),
    })?;

    if let Some(path) = file {
        let table = read_file(path)?;
        let origin = path.display().to_string();
        merge(
            &mut merged,
            Value::Table(table),
            &mut Vec::new(),
            &origin,
            &mut origins,
        );
    }

    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(env_prefix) && k.len() > env_prefix.len())
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let path = env_key_path(&var, env_prefix)?;
        let value = typed_env_value(lookup(&merged, &path), &raw);
        let origin = format!("environment variable {var}");
        set_path(&mut merged, &path, value, &origin, &mut origins);
    }

    for o in overrides {
        let path: Vec<String> = o.key.split('.').map(str::to_string).collect();
        set_path(&mut merged, &path, o.value.clone(), &o.origin, &mut origins);
    }

    let value = deserialize::<T>(merged, &origins)?;
    Ok((value, origins))
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| syntax_error(path.to_path_buf(), &text, &e))
}

fn syntax_error(path: PathBuf, text: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            (line, column)
        }
        None => (0, 0),
    };
    ConfigError::Syntax {
        path,
        line,
        column,
        message: e.message().trim().replace('\n', " "),
    }
}

/// `WARD_POLICY__KEEPALIVE_SECS` → `["policy", "keepalive_secs"]`.
fn env_key_path(var: &str, prefix: &str) -> Result<Vec<String>, ConfigError> {
    let rest = &var[prefix.len()..];
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::EnvName {
            var: var.to_string(),
            message: "empty key segment (use a double underscore only between keys)".into(),
        });
    }
    Ok(path)
}

/// Types an environment string after the default it replaces: strings stay
/// strings, lists may be comma-separated, anything else is parsed as a TOML
/// value (falling back to a string, which then fails with a type error
/// naming the key).
fn typed_env_value(current: Option<&Value>, raw: &str) -> Value {
    match current {
        Some(Value::String(_)) => Value::String(raw.to_string()),
        Some(Value::Array(_)) if !raw.trim_start().starts_with('[') => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        _ => parse_toml_value(raw).unwrap_or_else(|| Value::String(raw.to_string())),
    }
}

fn parse_toml_value(raw: &str) -> Option<Value> {
    let mut table = format!("v = {raw}").parse::<toml::Table>().ok()?;
    table.remove("v")
}

fn lookup<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |v, k| v.as_table()?.get(k))
}

/// Overlays `overlay` onto `base`: tables merge key by key, anything else replaces.
fn merge(
    base: &mut Value,
    overlay: Value,
    path: &mut Vec<String>,
    origin: &str,
    origins: &mut Origins,
) {
    match (base, overlay) {
        (Value::Table(base), Value::Table(over)) => {
            for (k, v) in over {
                path.push(k.clone());
                origins.set(path, origin);
                match base.get_mut(&k) {
                    Some(slot) => merge(slot, v, path, origin, origins),
                    None => {
                        base.insert(k, v);
                    }
                }
                path.pop();
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Sets one key path to a value, creating intermediate tables.
fn set_path(root: &mut Value, path: &[String], value: Value, origin: &str, origins: &mut Origins) {
    let mut nested = value;
    for k in path.iter().rev() {
        let mut t = toml::Table::new();
        t.insert(k.clone(), nested);
        nested = Value::Table(t);
    }
    merge(root, nested, &mut Vec::new(), origin, origins);
    origins.set(path, origin);
}

fn deserialize<T: DeserializeOwned>(merged: Value, origins: &Origins) -> Result<T, ConfigError> {
    let mut ignored: Vec<String> = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let result = {
        let mut on_ignored = |p: serde_ignored::Path<'_>| ignored.push(p.to_string());
        let inner = serde_ignored::Deserializer::new(merged, &mut on_ignored);
        T::deserialize(serde_path_to_error::Deserializer::new(inner, &mut track))
    };
    match result {
        Ok(value) => {
            if let Some(key) = ignored.into_iter().next() {
                return Err(ConfigError::Key {
                    origin: origins.describe(&key),
                    cause: "unknown key".into(),
                    key,
                });
            }
            Ok(value)
        }
        Err(e) => {
            let parent = track.path().to_string();
            let parent = if parent == "." { String::new() } else { parent };
            let cause = e.to_string();
            let key = match unknown_field_name(&cause) {
                Some(name) if parent.is_empty() => name.to_string(),
                Some(name) => format!("{parent}.{name}"),
                None => parent,
            };
            let cause = if unknown_field_name(&cause).is_some() {
                format!("unknown key ({cause})")
            } else {
                cause
            };
            Err(ConfigError::Key {
                origin: origins.describe(&key),
                key,
                cause: cause.replace('\n', " "),
            })
        }
    }
}

/// `unknown field `x`, expected …` → `x`.
fn unknown_field_name(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_map_to_key_paths() {
        assert_eq!(
            env_key_path("WARD_POLICY__KEEPALIVE_SECS", "WARD_").unwrap(),
            vec!["policy".to_string(), "keepalive_secs".to_string()]
        );
        assert_eq!(
            env_key_path("WARD_DATA_DIR", "WARD_").unwrap(),
            vec!["data_dir".to_string()]
        );
        assert!(env_key_path("WARD_POLICY____X", "WARD_").is_err());
    }

    #[test]
    fn env_values_are_typed_after_the_default() {
        let s = Value::String("x".into());
        assert_eq!(typed_env_value(Some(&s), "42"), Value::String("42".into()));
        let n = Value::Integer(1);
        assert_eq!(typed_env_value(Some(&n), "42"), Value::Integer(42));
        assert_eq!(
            typed_env_value(Some(&n), "abc"),
            Value::String("abc".into())
        );
        let a = Value::Array(vec![]);
        assert_eq!(
            typed_env_value(Some(&a), "https://a:1, https://b:2"),
            Value::Array(vec![
                Value::String("https://a:1".into()),
                Value::String("https://b:2".into())
            ])
        );
        assert_eq!(
            typed_env_value(None, "/etc/x.pem"),
            Value::String("/etc/x.pem".into())
        );
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, "a = 1\nb = = 2\n").unwrap();
        let e = read_file(&p).unwrap_err();
        match &e {
            ConfigError::Syntax { line, .. } => assert_eq!(*line, 2),
            other => panic!("expected a syntax error, got {other:?}"),
        }
        let text = e.to_string();
        assert!(text.starts_with(&p.display().to_string()), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }
}
