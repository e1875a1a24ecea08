//! sshd messages. Every address is read from the END of the message, where
//! sshd writes it after the (attacker-chosen) user name.

use std::net::IpAddr;
use ward_events::{EventData, SshAccepted, SshFailed, SshInvalidUser, SshPreauthDisconnect};

pub(crate) fn parse(msg: &str) -> Option<EventData> {
    match msg.as_bytes().first()? {
        b'F' => failed(msg.strip_prefix("Failed ")?),
        b'A' => accepted(msg.strip_prefix("Accepted ")?),
        b'I' => invalid_user(msg.strip_prefix("Invalid user ")?),
        b'C' => preauth(msg.strip_prefix("Connection closed by ")?),
        b'D' => preauth(msg.strip_prefix("Disconnected from ")?),
        _ => None,
    }
}

/// The address part sshd writes last: `IP`, `IP port P`, `IP port P ssh2`,
/// `IP port P ssh2: <key info>`.
struct Tail<'a> {
    ip: IpAddr,
    port: Option<u16>,
    info: Option<&'a str>,
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    // Cheap shape check before the std parser: digits, hex, '.', ':'.
    if s.is_empty()
        || s.len() > 45
        || !s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
    {
        return None;
    }
    s.parse().ok()
}

fn tail(s: &str) -> Option<Tail<'_>> {
    let (ip, rest) = match s.split_once(' ') {
        Some((ip, rest)) => (ip, Some(rest)),
        None => (s, None),
    };
    let ip = parse_ip(ip)?;
    let Some(rest) = rest else {
        return Some(Tail {
            ip,
            port: None,
            info: None,
        });
    };
    let rest = rest.strip_prefix("port ")?;
    let (port, rest) = match rest.split_once(' ') {
        Some((p, r)) => (p, Some(r)),
        None => (rest, None),
    };
    let port = Some(parse_port(port)?);
    let info = match rest {
        None => None,
        Some(r) => {
            let r = r.strip_prefix("ssh2").or_else(|| r.strip_prefix("ssh1"))?;
            if r.is_empty() {
                None
            } else {
                Some(r.strip_prefix(": ")?).filter(|i| !i.is_empty())
            }
        }
    };
    Some(Tail { ip, port, info })
}

/// Byte offset of the last ` from ` (a plain reverse scan: cheaper than the
/// generic substring searcher on short lines).
fn rfind_from(s: &str) -> Option<usize> {
    const PAT: &[u8] = b" from ";
    let b = s.as_bytes();
    (0..=b.len().checked_sub(PAT.len())?)
        .rev()
        .find(|&i| b[i] == b' ' && &b[i..i + PAT.len()] == PAT)
}

/// `<head> from <tail>` split at the LAST ` from `; the tail must be a
/// well-formed address part, otherwise the line is not trusted at all.
fn split_from(s: &str) -> Option<(&str, Tail<'_>)> {
    let at = rfind_from(s)?;
    let t = tail(&s[at + 6..])?;
    Some((&s[..at], t))
}

/// `<method> for [invalid user ]<user> from <ip> port <port> ssh2[: info]`.
fn method_user_tail(s: &str) -> Option<(&str, &str, bool, Tail<'_>)> {
    let (method, rest) = s.split_once(' ')?;
    let rest = rest.strip_prefix("for ")?;
    if method.is_empty() {
        return None;
    }
    let (head, t) = split_from(rest)?;
    t.port?;
    let (user, invalid) = match head.strip_prefix("invalid user ") {
        Some(u) => (u, true),
        None => (head, false),
    };
    Some((method, user, invalid, t))
}

fn failed(s: &str) -> Option<EventData> {
    let (method, user, invalid_user, t) = method_user_tail(s)?;
    Some(EventData::SshFailed(SshFailed {
        user: user.to_string(),
        src_ip: t.ip,
        src_port: t.port?,
        method: method.to_string(),
        invalid_user,
    }))
}

fn accepted(s: &str) -> Option<EventData> {
    let (method, user, invalid, t) = method_user_tail(s)?;
    if invalid {
        return None;
    }
    Some(EventData::SshAccepted(SshAccepted {
        user: user.to_string(),
        src_ip: t.ip,
        src_port: t.port?,
        method: method.to_string(),
        key: t.info.map(str::to_string),
    }))
}

/// `<user> from <ip>[ port <port>]`.
fn invalid_user(s: &str) -> Option<EventData> {
    // An empty user name gives "Invalid user  from ...": s starts with " from ".
    let (user, t) = split_from(s)?;
    if t.info.is_some() {
        return None;
    }
    Some(EventData::SshInvalidUser(SshInvalidUser {
        user: user.to_string(),
        src_ip: t.ip,
        src_port: t.port,
    }))
}

/// `(invalid|authenticating) user <user> <ip> port <port> [preauth]`.
fn preauth(s: &str) -> Option<EventData> {
    let s = s.strip_suffix(" [preauth]")?;
    let (rest, port) = s.rsplit_once(" port ")?;
    let port = parse_port(port)?;
    let (rest, ip) = rest.rsplit_once(' ')?;
    let ip = parse_ip(ip)?;
    let (user, invalid_user) = if let Some(u) = rest.strip_prefix("invalid user ") {
        (u, true)
    } else if let Some(u) = rest.strip_prefix("authenticating user ") {
        (u, false)
    } else {
        return None;
    };
    Some(EventData::SshPreauthDisconnect(SshPreauthDisconnect {
        user: user.to_string(),
        src_ip: ip,
        src_port: port,
        invalid_user,
    }))
}
