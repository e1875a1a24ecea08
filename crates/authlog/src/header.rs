//! Syslog line headers: timestamp, host, program tag.

use crate::time::{days_in_month, epoch_ms};
use crate::ParseContext;

/// The parts of a syslog line before the message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub time_ms: i64,
    pub host: &'a str,
    pub program: &'a str,
    pub msg: &'a str,
}

/// Splits `line` into header and message; `None` when it is not a syslog line.
pub(crate) fn parse<'a>(line: &'a str, ctx: &ParseContext<'_>) -> Option<Header<'a>> {
    let b = line.as_bytes();
    let (time_ms, rest) = if b.first()?.is_ascii_digit() {
        rfc3339(line)?
    } else {
        let t = classic(b, ctx)?;
        (t, line.get(16..)?)
    };
    let (host, rest) = rest.split_once(' ')?;
    if host.is_empty() {
        return None;
    }
    let (tag, msg) = rest.split_once(' ')?;
    let tag = tag.strip_suffix(':')?;
    let program = match tag.split_once('[') {
        Some((prog, pid)) => {
            let pid = pid.strip_suffix(']')?;
            if pid.is_empty() || !pid.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            prog
        }
        None => tag,
    };
    if program.is_empty() {
        return None;
    }
    Some(Header {
        time_ms,
        host,
        program,
        msg,
    })
}

fn two_digits(b: &[u8], at: usize) -> Option<u32> {
    let hi = *b.get(at)?;
    let lo = *b.get(at + 1)?;
    if hi.is_ascii_digit() && lo.is_ascii_digit() {
        Some(u32::from(hi - b'0') * 10 + u32::from(lo - b'0'))
    } else {
        None
    }
}

/// `HH:MM:SS` at `at`.
fn hms(b: &[u8], at: usize) -> Option<(u32, u32, u32)> {
    let h = two_digits(b, at)?;
    let m = two_digits(b, at + 3)?;
    let s = two_digits(b, at + 6)?;
    if b.get(at + 2) != Some(&b':') || b.get(at + 5) != Some(&b':') || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h, m, s.min(59)))
}

fn month(name: &[u8]) -> Option<u32> {
    let m = match name {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    Some(m)
}

/// `Mmm dd HH:MM:SS ` (day space-padded or not) → epoch ms; 16 bytes long.
fn classic(b: &[u8], ctx: &ParseContext<'_>) -> Option<i64> {
    if b.len() < 16 || b[3] != b' ' || b[6] != b' ' || b[15] != b' ' {
        return None;
    }
    let mon = month(&b[0..3])?;
    let day = if b[4] == b' ' {
        b[5].is_ascii_digit().then(|| u32::from(b[5] - b'0'))?
    } else {
        two_digits(b, 4)?
    };
    let year = i64::from(ctx.year);
    if day == 0 || day > days_in_month(year, mon) {
        return None;
    }
    let (h, m, s) = hms(b, 7)?;
    Some(epoch_ms(year, mon, day, h, m, s, 0) - i64::from(ctx.utc_offset_secs) * 1000)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM) ` → (epoch ms, rest after the space).
fn rfc3339(line: &str) -> Option<(i64, &str)> {
    let b = line.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b't') {
        return None;
    }
    let year = i64::from(two_digits(b, 0)? * 100 + two_digits(b, 2)?);
    let mon = two_digits(b, 5)?;
    let day = two_digits(b, 8)?;
    if !(1..=12).contains(&mon) || day == 0 || day > days_in_month(year, mon) {
        return None;
    }
    let (h, m, s) = hms(b, 11)?;
    let mut i = 19;
    let mut millis = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i)? {
        b'Z' | b'z' => {
            i += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let oh = two_digits(b, i + 1)?;
            let (om, len) = if b.get(i + 3) == Some(&b':') {
                (two_digits(b, i + 4)?, 6)
            } else {
                (two_digits(b, i + 3)?, 5)
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            i += len;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    if b.get(i) != Some(&b' ') {
        return None;
    }
    let t = epoch_ms(year, mon, day, h, m, s, millis) - offset_secs * 1000;
    Some((t, line.get(i + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext<'static> {
        ParseContext::new(2026, "test")
    }

    #[test]
    fn classic_and_padded_day() {
        // date -u -d '2026-12-10 06:55:46' +%s → 1796885746
        let h = parse("Dec 10 06:55:46 LabSZ sshd[24200]: hello", &ctx()).unwrap();
        assert_eq!(h.time_ms, 1_796_885_746_000);
        assert_eq!((h.host, h.program, h.msg), ("LabSZ", "sshd", "hello"));
        // date -u -d '2026-03-01 00:00:01' +%s → 1772323201
        let h = parse("Mar  1 00:00:01 h su: x", &ctx()).unwrap();
        assert_eq!(h.time_ms, 1_772_323_201_000);
        assert_eq!(h.program, "su");
    }

    #[test]
    fn classic_with_offset() {
        let mut c = ctx();
        c.utc_offset_secs = 3600;
        let h = parse("Dec 10 06:55:46 LabSZ sshd[1]: m", &c).unwrap();
        assert_eq!(h.time_ms, 1_796_885_746_000 - 3_600_000);
    }

    #[test]
    fn rfc3339_variants() {
        // date -u -d '2026-12-03T10:00:00Z' +%s → 1796292000
        let base = 1_796_292_000_000;
        let h = parse("2026-12-03T10:00:00.123456+00:00 h sshd[9]: m", &ctx()).unwrap();
        assert_eq!(h.time_ms, base + 123);
        let h = parse("2026-12-03T11:00:00.5+01:00 h sshd: m", &ctx()).unwrap();
        assert_eq!(h.time_ms, base + 500);
        let h = parse("2026-12-03T10:00:00Z h sshd-session[9]: m", &ctx()).unwrap();
        assert_eq!((h.time_ms, h.program), (base, "sshd-session"));
        let h = parse("2026-12-03T05:30:00-0430 h sshd[1]: m", &ctx()).unwrap();
        assert_eq!(h.time_ms, base);
    }

    #[test]
    fn rejects_malformed_headers() {
        for line in [
            "",
            "Dec 10 06:55:46",
            "Foo 10 06:55:46 h sshd[1]: m",
            "Dec 32 06:55:46 h sshd[1]: m",
            "Feb 30 06:55:46 h sshd[1]: m",
            "Dec 10 24:00:00 h sshd[1]: m",
            "Dec 10 06:55:46 h sshd[x]: m",
            "Dec 10 06:55:46 h sshd[1] m",
            "Dec 10 06:55:46 h sshd[]: m",
            "2026-13-03T10:00:00Z h sshd: m",
            "2026-12-03T10:00:00 h sshd: m",
            "2026-12-03T10:00:00.Z h sshd: m",
            "2026-12-03T10:00:00+25:00 h sshd: m",
            "Déc 10 06:55:46 h sshd[1]: m",
            "2026-12-03T10:00:00Zé h sshd: m",
        ] {
            assert_eq!(parse(line, &ctx()), None, "{line}");
        }
    }
}
