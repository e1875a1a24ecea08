//! Clock helpers: the local UTC offset, the year of classic syslog
//! timestamps, and RFC 3339 text for journald entries.

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The local offset from UTC at `unix_secs`, in seconds (east positive),
/// from the C library's time zone (TZ, /etc/localtime); 0 when unknown.
pub fn local_offset_secs(unix_secs: i64) -> i32 {
    let t = unix_secs as libc::time_t;
    // SAFETY: localtime_r writes into the zeroed `tm` we own; both pointers
    // are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        i32::try_from(tm.tm_gmtoff).unwrap_or(0)
    } else {
        0
    }
}

/// Civil date (year, month, day) of days since 1970-01-01 (H. Hinnant).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The calendar year of a Unix-ms time shifted by `offset_secs`.
pub fn year_of(ms: i64, offset_secs: i32) -> i32 {
    let secs = ms.div_euclid(1000) + i64::from(offset_secs);
    civil_from_days(secs.div_euclid(86_400)).0 as i32
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` of a Unix time in microseconds (UTC).
pub fn rfc3339_utc_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}+00:00",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // date -u -d @1796292000 → 2026-12-03 10:00:00
        assert_eq!(civil_from_days(1_796_292_000 / 86_400), (2026, 12, 3));
        // 2000-02-29 is day 11016.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn rfc3339_text() {
        assert_eq!(
            rfc3339_utc_micros(1_796_292_000_123_456),
            "2026-12-03T10:00:00.123456+00:00"
        );
        assert_eq!(
            rfc3339_utc_micros(59_000_000),
            "1970-01-01T00:00:59.000000+00:00"
        );
    }

    #[test]
    fn year_with_offset() {
        // 2026-12-31T23:30:00Z is already 2027 at +01:00.
        let ms = 1_798_759_800 * 1000;
        assert_eq!(year_of(ms, 0), 2026);
        assert_eq!(year_of(ms, 3600), 2027);
    }
}
