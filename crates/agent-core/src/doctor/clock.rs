//! Clock skew against the server, from the `Date` header of one pinned
//! HTTPS request (`GET /healthz`). The header has whole seconds, so the
//! server time is taken as the middle of that second and the local time as
//! the middle of the request.

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let f: Vec<&str> = s.split_whitespace().collect();
    let [_wday, day, mon, year, time, "GMT"] = f.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x == mon)? as u32 + 1;
    let d: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let y: i64 = year.parse().ok()?;
    let t: Vec<u32> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, se] = t.as_slice() else {
        return None;
    };
    if *h > 23 || *mi > 59 || *se > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + i64::from(h * 3600 + mi * 60 + se))
}

/// Local clock minus server clock, in milliseconds: positive when this host
/// is ahead. `sent_ms`/`received_ms` bracket the request on the local clock.
pub fn skew_ms(sent_ms: i64, received_ms: i64, server_date_secs: i64) -> i64 {
    let local_mid = sent_ms + (received_ms - sent_ms) / 2;
    let server_mid = server_date_secs * 1000 + 500;
    local_mid - server_mid
}

/// `"2 h 0 min ahead of"`-style wording for a skew. The measurement is
/// good to about half a second (the `Date` header has whole seconds), so
/// the amount is rounded to the nearest unit shown, not truncated: a skew of
/// 7,199.6 s reads "2 h 0 min", not "1 h 59 min".
pub fn describe(skew_ms: i64) -> String {
    let secs = skew_ms.unsigned_abs().saturating_add(500) / 1000;
    let dir = if skew_ms >= 0 { "ahead of" } else { "behind" };
    let amount = if secs >= 3600 {
        let mins = (secs + 30) / 60;
        format!("{} h {} min", mins / 60, mins % 60)
    } else if secs >= 60 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else {
        format!("{:.1} s", skew_ms.unsigned_abs() as f64 / 1000.0)
    };
    format!("{amount} {dir}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        // RFC 9110's example, 784111777 by the epoch's definition.
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        // 2000-03-01 is day 11017 (leap year 2000 has Feb 29).
        assert_eq!(
            parse_http_date("Wed, 01 Mar 2000 00:00:01 GMT"),
            Some(11_017 * 86_400 + 1)
        );
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn skew_uses_midpoints() {
        // Request from t=1000.000 to t=1000.200 local; server said 1000 s.
        assert_eq!(skew_ms(1_000_000, 1_000_200, 1000), -400);
        // Local clock two hours behind.
        let s = skew_ms(1_000_000, 1_000_000, 1000 + 7200);
        assert_eq!(s, -7_200_500);
        assert_eq!(describe(s), "2 h 0 min behind");
        assert_eq!(describe(90_000), "1 min 30 s ahead of");
        assert_eq!(describe(-400), "0.4 s behind");
        // Measured a little under two hours: rounded, not truncated.
        assert_eq!(describe(-7_199_600), "2 h 0 min behind");
        assert_eq!(describe(-7_169_000), "1 h 59 min behind");
        assert_eq!(describe(119_600), "2 min 0 s ahead of");
    }
}
