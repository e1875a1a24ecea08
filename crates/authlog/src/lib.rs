//! Auth-log parser: one syslog line in, zero or more typed login events out.
//!
//! This crate owns the text formats of `/var/log/auth.log` / `/var/log/secure`
//! (and journald rendered as syslog lines) and nothing else: no files, no
//! following, no clocks. The caller supplies the year (classic syslog
//! timestamps have none), the UTC offset of classic timestamps and the
//! source name in a [`ParseContext`].
//!
//! Understood:
//! * headers: classic `Dec 10 06:55:46 host prog[pid]: msg` (day padded with
//!   a space or not), RFC 3339 `2026-12-03T10:00:00.123456+00:00 host prog[pid]: msg`
//!   (rsyslog's high-precision format), with or without `[pid]`;
//! * programs `sshd`, `sshd-session`, `sshd-auth`, `su`, `sudo`, and PAM
//!   `pam_*(<service>:auth|session)` lines from any program;
//! * `message repeated N times: [ ... ]` (yields N events, at most [`MAX_REPEAT`]);
//! * IPv4 and IPv6 sources.
//!
//! Lines that are not login events return an empty [`Parsed`] without
//! allocating. Attacker-controlled text (user names) cannot move the source
//! address: `ip port P` is taken from the *end* of the message, where sshd
//! writes it, never from the first ` from ` found.

mod header;
mod pam;
mod sshd;
mod sudo_su;
mod time;

use ward_events::{Event, EventData};

/// Most events one line can yield (`message repeated N times`, sudo's
/// `N incorrect password attempts`); larger counts are capped.
pub const MAX_REPEAT: u32 = 1000;

/// What the caller knows that a line does not say.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// Year of classic syslog timestamps (`Dec 10 06:55:46` has none).
    pub year: i32,
    /// Offset of classic timestamps from UTC, in seconds (east positive).
    /// RFC 3339 timestamps carry their own offset.
    pub utc_offset_secs: i32,
    /// Copied into [`Event::source`] (file path, `journald`, ...).
    pub source: &'a str,
    /// Keep the line in [`Event::raw`] (cut to `ward_events::MAX_RAW_BYTES`).
    pub keep_raw: bool,
}

impl<'a> ParseContext<'a> {
    /// Context for `year`, UTC, no raw lines.
    pub fn new(year: i32, source: &'a str) -> Self {
        ParseContext {
            year,
            utc_offset_secs: 0,
            source,
            keep_raw: false,
        }
    }
}

/// The events of one line: usually none or one; `N` for repeated messages.
/// Event ids are 0: the owner of the sequence assigns them.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    event: Option<Event>,
    remaining: u32,
}

impl Parsed {
    fn one(event: Event, count: u32) -> Parsed {
        Parsed {
            event: Some(event),
            remaining: count.clamp(1, MAX_REPEAT),
        }
    }

    /// Host time of the line's events, if it held any.
    pub fn host_time_ms(&self) -> Option<i64> {
        self.event.as_ref().map(|e| e.host_time_ms)
    }

    /// True when the line held no login event.
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }
}

impl Iterator for Parsed {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        match self.remaining {
            0 => None,
            1 => {
                self.remaining = 0;
                self.event.take()
            }
            _ => {
                self.remaining -= 1;
                self.event.clone()
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Parsed {}

/// Parses one auth-log line (without its line terminator; a trailing `\r` or
/// `\n` is ignored).
pub fn parse_line(line: &str, ctx: &ParseContext<'_>) -> Parsed {
    let line = line.trim_end_matches(['\n', '\r']);
    let Some(h) = header::parse(line, ctx) else {
        return Parsed::default();
    };
    let Some((data, count)) = parse_message(h.program, h.msg, 0) else {
        return Parsed::default();
    };
    let mut event = Event::new(h.time_ms, ctx.source, data);
    event.host = h.host.to_string();
    if ctx.keep_raw {
        event.set_raw(line);
    }
    Parsed::one(event, count)
}

/// Parses the message part of a line from `program`; `depth` guards the
/// one level of `message repeated` nesting.
fn parse_message(program: &str, msg: &str, depth: u8) -> Option<(EventData, u32)> {
    if let Some(rest) = msg.strip_prefix("message repeated ") {
        if depth > 0 {
            return None;
        }
        let (n, inner) = repeated(rest)?;
        let (data, count) = parse_message(program, inner, depth + 1)?;
        return Some((data, n.saturating_mul(count).min(MAX_REPEAT)));
    }
    if msg.starts_with("pam_") {
        return pam::parse(msg).map(|d| (d, 1));
    }
    match program {
        "sshd" | "sshd-session" | "sshd-auth" => sshd::parse(msg).map(|d| (d, 1)),
        "su" => sudo_su::parse_su(msg).map(|d| (d, 1)),
        "sudo" => sudo_su::parse_sudo(msg),
        _ => None,
    }
}

/// `N times: [ inner]` → (N, inner).
fn repeated(rest: &str) -> Option<(u32, &str)> {
    let (n, rest) = rest.split_once(" times: [")?;
    let n = parse_u32(n)?;
    let inner = rest.strip_suffix(']')?;
    let inner = inner.strip_prefix(' ').unwrap_or(inner);
    Some((n.min(MAX_REPEAT), inner))
}

/// Decimal digits only (no sign, no spaces), at most 9 of them.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests;
