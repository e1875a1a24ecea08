//! PAM messages: `pam_<module>(<service>:<type>): ...`.

use ward_events::{EventData, PamFailed, SessionClosed, SessionOpened};

pub(crate) fn parse(msg: &str) -> Option<EventData> {
    let (module, rest) = msg.split_once('(')?;
    if module.len() > 32 || module.contains(' ') {
        return None;
    }
    let (service, rest) = rest.split_once(':')?;
    let (kind, rest) = rest.split_once(')')?;
    let rest = rest.strip_prefix(": ")?;
    if service.is_empty() || service.contains(' ') {
        return None;
    }
    match kind {
        "auth" => auth_failure(service, rest.strip_prefix("authentication failure; ")?),
        "session" => session(service, rest),
        _ => None,
    }
}

/// `logname=X uid=N euid=N tty=T ruser=R rhost=H  user=U`. Keys before
/// `user=` are single tokens (system-written); `user=` is last and takes
/// the rest of the line, so a crafted user name cannot fake earlier keys.
fn auth_failure(service: &str, kv: &str) -> Option<EventData> {
    let mut ev = PamFailed {
        service: service.to_string(),
        user: None,
        ruser: None,
        rhost: None,
        src_ip: None,
        tty: None,
    };
    let mut rest = kv;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(user) = rest.strip_prefix("user=") {
            let user = user.trim_end();
            ev.user = (!user.is_empty()).then(|| user.to_string());
            break;
        }
        let (tok, next) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = next;
        let (key, value) = tok.split_once('=')?;
        if value.is_empty() {
            continue;
        }
        match key {
            "ruser" => ev.ruser = Some(value.to_string()),
            "rhost" => {
                ev.src_ip = value.parse().ok();
                ev.rhost = Some(value.to_string());
            }
            "tty" => ev.tty = Some(value.to_string()),
            _ => {}
        }
    }
    Some(EventData::PamFailed(ev))
}

/// `alice(uid=1000)` → `alice`; `(uid=0)` → empty.
fn strip_uid(s: &str) -> &str {
    match s.rfind("(uid=") {
        Some(at) if s.ends_with(')') => &s[..at],
        _ => s,
    }
}

fn session(service: &str, rest: &str) -> Option<EventData> {
    if let Some(r) = rest.strip_prefix("session opened for user ") {
        let (user, by) = match r.rsplit_once(" by ") {
            Some((u, b)) => (u, Some(strip_uid(b))),
            None => (r, None),
        };
        let user = strip_uid(user);
        if user.is_empty() {
            return None;
        }
        return Some(EventData::SessionOpened(SessionOpened {
            service: service.to_string(),
            user: user.to_string(),
            by_user: by.filter(|b| !b.is_empty()).map(str::to_string),
        }));
    }
    let user = strip_uid(rest.strip_prefix("session closed for user ")?.trim_end());
    if user.is_empty() {
        return None;
    }
    Some(EventData::SessionClosed(SessionClosed {
        service: service.to_string(),
        user: user.to_string(),
    }))
}
