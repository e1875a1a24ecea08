//! What the agent tells the server about itself outside commands: refused
//! local stops and uninstalls (tamper attempts) and manual uninstalls.
//!
//! A notice is first written to `data/notices/<id>.json` (0600), then sent
//! straight to `POST /api/v1/agent/notice` with the agent's credential over
//! the pinned TLS (endpoints, overrides and proxy of `network.toml`). If
//! that fails, the running agent sends the queued file over its session
//! (`AgentMsg::Notice`) and deletes it when the server acknowledges it. The
//! server stores each notice id once.

use std::path::PathBuf;
use std::time::Duration;

use ward_proto::lifecycle::NOTICE_PATH;
use ward_proto::{AgentNotice, LocalAction, NoticeKind};

use crate::http::{connect_tls_via, post_json_auth, Endpoint};
use crate::identity::Identity;
use crate::layout::Layout;
use crate::net::reload::LoadedNetwork;

/// Time the direct report may take (per endpoint, connect and answer).
pub const DIRECT_TIMEOUT: Duration = Duration::from_secs(5);

fn parent_description() -> Option<String> {
    // SAFETY: getppid() has no preconditions.
    let ppid = unsafe { libc::getppid() };
    let cmdline = std::fs::read(format!("/proc/{ppid}/cmdline")).ok()?;
    let text: String = String::from_utf8_lossy(&cmdline)
        .split('\0')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(format!(
        "pid {ppid}: {}",
        text.chars().take(200).collect::<String>()
    ))
}

/// A tamper-attempt notice for `action`, made now by this process.
pub fn tamper_notice(action: LocalAction, reason: &str) -> AgentNotice {
    AgentNotice {
        id: ward_pki::secret::random_token("ntc", 12),
        kind: NoticeKind::TamperAttempt,
        action: Some(action),
        at_ms: crate::now_ms(),
        reason: reason.chars().take(400).collect(),
        // SAFETY: getuid() has no preconditions.
        uid: Some(unsafe { libc::getuid() }),
        parent: parent_description(),
    }
}

fn file(layout: &Layout, id: &str) -> PathBuf {
    layout.notices_dir().join(format!("{id}.json"))
}

/// Queues a notice for the running agent to send.
pub fn queue(layout: &Layout, n: &AgentNotice) -> Result<(), String> {
    let text = serde_json::to_string(n).map_err(|e| e.to_string())?;
    let path = file(layout, &n.id);
    ward_pki::secret::write_secret_file(&path, text.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Queued notices, oldest first (unreadable files are skipped and removed).
pub fn pending(layout: &Layout) -> Vec<AgentNotice> {
    let Ok(dir) = std::fs::read_dir(layout.notices_dir()) else {
        return Vec::new();
    };
    let mut out: Vec<(std::time::SystemTime, AgentNotice)> = Vec::new();
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let parsed = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<AgentNotice>(&t).ok())
            .filter(|n| n.validate().is_ok());
        match parsed {
            Some(n) => {
                let at = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                out.push((at, n));
            }
            None => {
                tracing::warn!(path = %path.display(), "dropping an unreadable queued notice");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    out.sort_by_key(|a| (a.0, a.1.at_ms));
    out.into_iter().map(|(_, n)| n).collect()
}

/// Removes a queued notice (the server has it).
pub fn remove(layout: &Layout, id: &str) {
    let _ = std::fs::remove_file(file(layout, id));
}

/// Sends a notice to the server now, trying each endpoint in order.
pub fn send_direct(layout: &Layout, n: &AgentNotice) -> Result<(), String> {
    let identity = Identity::load(&layout.identity())
        .map_err(|e| crate::one_line(&e))?
        .ok_or("not enrolled (no identity)")?;
    let net = LoadedNetwork::load(&layout.network_toml())?;
    let body = serde_json::to_string(n).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let mut last = String::from("no endpoint configured");
    for ep in &net.endpoints {
        let attempt = post(ep, &net, &identity.credential, &body);
        match rt.block_on(async { tokio::time::timeout(DIRECT_TIMEOUT, attempt).await }) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = e,
            Err(_) => {
                last = format!(
                    "{}: no answer within {} s",
                    ep.url,
                    DIRECT_TIMEOUT.as_secs()
                )
            }
        }
    }
    Err(last)
}

async fn post(
    ep: &Endpoint,
    net: &LoadedNetwork,
    credential: &str,
    body: &str,
) -> Result<(), String> {
    let (mut stream, _) = connect_tls_via(ep, net.tls.clone(), &net.options)
        .await
        .map_err(|e| e.to_string())?;
    let resp = post_json_auth(&mut stream, ep, NOTICE_PATH, credential, body)
        .await
        .map_err(|e| e.to_string())?;
    if (200..300).contains(&resp.status) {
        return Ok(());
    }
    let detail = serde_json::from_slice::<ward_proto::ApiError>(&resp.body)
        .map(|a| format!("{} ({})", a.error.message, a.error.code.as_str()))
        .unwrap_or_else(|_| "no details".into());
    Err(format!(
        "{} answered HTTP {}: {detail}",
        ep.url, resp.status
    ))
}

/// Queues and sends a tamper notice; returns the clause saying where it went.
pub fn report_tamper(layout: &Layout, action: LocalAction, reason: &str) -> String {
    let n = tamper_notice(action, reason);
    tracing::warn!(action = action.as_str(), %reason, "refused a local action: tamper protection");
    let queued = queue(layout, &n);
    match send_direct(layout, &n) {
        Ok(()) => {
            remove(layout, &n.id);
            "this attempt was reported to the server".into()
        }
        Err(e) => match queued {
            Ok(()) => {
                format!("this attempt will be reported when the agent reaches the server ({e})")
            }
            Err(q) => format!("this attempt could not be reported ({e}; {q})"),
        },
    }
}

/// Tells the server the agent was uninstalled by hand.
pub fn report_uninstalled(layout: &Layout, reason: &str) -> Result<(), String> {
    let n = AgentNotice {
        id: ward_pki::secret::random_token("ntc", 12),
        kind: NoticeKind::Uninstalled,
        action: Some(LocalAction::Uninstall),
        at_ms: crate::now_ms(),
        reason: reason.to_string(),
        // SAFETY: getuid() has no preconditions.
        uid: Some(unsafe { libc::getuid() }),
        parent: parent_description(),
    };
    send_direct(layout, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_lists_oldest_first_and_drops_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path());
        assert!(pending(&l).is_empty());
        let a = tamper_notice(LocalAction::Stop, "no uninstall token given");
        queue(&l, &a).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let b = tamper_notice(LocalAction::Uninstall, "the token expired 3 s ago");
        queue(&l, &b).unwrap();
        std::fs::write(l.notices_dir().join("junk.json"), "{").unwrap();
        let got = pending(&l);
        assert_eq!(got, vec![a.clone(), b.clone()]);
        assert!(!l.notices_dir().join("junk.json").exists());
        assert_eq!(a.uid, Some(unsafe { libc::getuid() }));
        assert!(a.parent.as_deref().is_some_and(|p| p.starts_with("pid ")));
        remove(&l, &a.id);
        assert_eq!(pending(&l), vec![b]);
    }

    #[test]
    fn direct_report_without_an_install_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path());
        let e = send_direct(&l, &tamper_notice(LocalAction::Stop, "x")).unwrap_err();
        assert!(e.contains("not enrolled"), "{e}");
    }
}
