//! The "copy this command" block of empty states.

use maud::{html, Markup};
use ward_store::VerificationKey;

use crate::host::ConsoleHost;
use crate::http::PageError;
use crate::view::components;

/// Platform of install commands shown by default.
pub fn default_platform() -> &'static str {
    ward_proto::current_platform().unwrap_or("linux-x86_64")
}

/// The newest key that is not revoked (what `ward-server install-command`
/// uses by default).
pub fn newest_active(keys: &[VerificationKey]) -> Option<&VerificationKey> {
    keys.iter()
        .enumerate()
        .filter(|(_, k)| k.revoked_at.is_none())
        .max_by_key(|(i, k)| (k.created_at, *i))
        .map(|(_, k)| k)
}

/// The install command for this server's platform with the newest key.
pub async fn for_this_host(host: &dyn ConsoleHost) -> Result<Markup, PageError> {
    let keys = host
        .store()
        .list_keys()
        .await
        .map_err(|e| PageError::store("listing keys", e))?;
    Ok(match newest_active(&keys) {
        Some(k) => {
            let platform = default_platform();
            let cmd = host.install_command(&k.secret, platform);
            html! {
                (components::copy_block("install-hint", &cmd, "install command", html! {
                    (super::agents::platform_label(platform)) " · key " (k.label)
                }))
                p.muted.small {
                    "Append " code { "--prefix DIR" } " to install somewhere other than " code { "/usr/local/ward" } ". "
                    a href="/console/settings/agents" { "Other platforms and keys" }
                }
            }
        }
        None => html! {
            p { "There is no active verification key. "
                a.btn.btn-primary href="/console/settings/agents#keys" { "Create a key" } }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, created_at: i64, revoked: bool) -> VerificationKey {
        VerificationKey {
            id: id.into(),
            secret: format!("wk_{id}"),
            label: id.into(),
            default_group: None,
            created_at,
            revoked_at: revoked.then_some(created_at + 1),
        }
    }

    #[test]
    fn newest_active_key_skips_revoked_ones() {
        let keys = vec![key("a", 1, false), key("b", 3, true), key("c", 2, false)];
        assert_eq!(newest_active(&keys).map(|k| k.id.as_str()), Some("c"));
        assert!(newest_active(&[key("x", 1, true)]).is_none());
    }
}
