//! `su` and `sudo` failure messages.

use crate::parse_u32;
use ward_events::{EventData, SuFailed, SudoFailed, SudoFailure};

/// `FAILED SU (to root) alice on pts/0` (util-linux) or
/// `FAILED su for root by alice` (shadow).
pub(crate) fn parse_su(msg: &str) -> Option<EventData> {
    if let Some(r) = msg.strip_prefix("FAILED SU (to ") {
        let (target, r) = r.split_once(") ")?;
        let (user, tty) = match r.rsplit_once(" on ") {
            Some((u, t)) => (u, Some(t)),
            None => (r, None),
        };
        return su_failed(user, target, tty);
    }
    let r = msg.strip_prefix("FAILED su for ")?;
    let (target, user) = r.split_once(" by ")?;
    su_failed(user, target, None)
}

fn su_failed(user: &str, target: &str, tty: Option<&str>) -> Option<EventData> {
    if user.is_empty() || target.is_empty() {
        return None;
    }
    Some(EventData::SuFailed(SuFailed {
        user: user.to_string(),
        target_user: target.to_string(),
        tty: tty.filter(|t| !t.is_empty()).map(str::to_string),
    }))
}

/// `alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id`
/// → 3 events; `alice : user NOT in sudoers ; ...` and
/// `alice : command not allowed ; ...` → 1 event.
pub(crate) fn parse_sudo(msg: &str) -> Option<(EventData, u32)> {
    let msg = msg.trim_start_matches(' ');
    let (user, rest) = msg.split_once(" : ")?;
    if user.is_empty() || user.contains(' ') {
        return None;
    }
    let (what, fields) = rest.split_once(" ; ").unwrap_or((rest, ""));
    let (reason, count) = if let Some(n) = what
        .strip_suffix(" incorrect password attempts")
        .or_else(|| what.strip_suffix(" incorrect password attempt"))
    {
        (SudoFailure::IncorrectPassword, parse_u32(n)?)
    } else if what == "user NOT in sudoers" {
        (SudoFailure::NotInSudoers, 1)
    } else if what == "command not allowed" {
        (SudoFailure::CommandNotAllowed, 1)
    } else {
        return None;
    };
    if count == 0 {
        return None;
    }
    let mut ev = SudoFailed {
        user: user.to_string(),
        reason,
        target_user: None,
        tty: None,
        pwd: None,
        command: None,
    };
    // Left to right; COMMAND= is last and takes the rest. PWD and COMMAND are
    // user-controlled, so these fields are informational only.
    let mut rest = fields;
    while !rest.is_empty() {
        if let Some(cmd) = rest.strip_prefix("COMMAND=") {
            ev.command = Some(cmd.to_string());
            break;
        }
        let (seg, next) = rest.split_once(" ; ").unwrap_or((rest, ""));
        rest = next;
        if let Some(v) = seg.strip_prefix("TTY=") {
            ev.tty = Some(v.to_string());
        } else if let Some(v) = seg.strip_prefix("PWD=") {
            ev.pwd = Some(v.to_string());
        } else if let Some(v) = seg.strip_prefix("USER=") {
            ev.target_user = Some(v.to_string());
        }
    }
    Some((EventData::SudoFailed(ev), count))
}
