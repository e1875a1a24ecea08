//! Calendar arithmetic for log timestamps (no time-zone database: offsets
//! come from the line or from the caller).

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Number of days in a month, for validating timestamps.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Milliseconds since the epoch of a civil date-time given in UTC.
pub(crate) fn epoch_ms(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    millis: u32,
) -> i64 {
    let days = days_from_civil(year, month, day);
    ((days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec)) * 1000)
        + i64::from(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        // 2000-03-01 is day 11017 (date -d 2000-03-01 +%s / 86400).
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // date -u -d '2026-12-03T10:00:00Z' +%s → 1796292000
        assert_eq!(epoch_ms(2026, 12, 3, 10, 0, 0, 0), 1_796_292_000_000);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }
}
