//! The one timestamp format TUF metadata uses: `YYYY-MM-DDTHH:MM:SSZ`.
//!
//! python-tuf refuses anything else (fractional seconds, offsets, lowercase
//! `t`/`z`), so fwsign reads and writes exactly this form. The conversion is
//! plain proleptic-Gregorian arithmetic, usable on the device.

/// Seconds since 1970-01-01T00:00:00Z, as carried by `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (years 1970 to 9999). Returns `None` for any
/// other spelling or an impossible date.
pub fn parse_expires(text: &[u8]) -> Option<UnixTime> {
    if text.len() != 20 {
        return None;
    }
    let sep = |i: usize, c: u8| text.get(i) == Some(&c);
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ];
    if !separators.iter().all(|&(i, c)| sep(i, c)) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let mut v: i64 = 0;
        for &b in text.get(from..to)? {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v
                .checked_mul(10)?
                .checked_add(i64::from(b.wrapping_sub(b'0')))?;
        }
        Some(v)
    };
    let year = num(0, 4)?;
    let month = num(5, 7)?;
    let day = num(8, 10)?;
    let hour = num(11, 13)?;
    let minute = num(14, 16)?;
    let second = num(17, 19)?;
    if year < 1970
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(hour.checked_mul(3600)?)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?;
    Some(UnixTime(secs))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`), for the
/// already range-checked years 1970..=9999.
fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y.checked_div(400)?;
    let yoe = y.checked_sub(era.checked_mul(400)?)?;
    let mp = if month > 2 {
        month.checked_sub(3)?
    } else {
        month.checked_add(9)?
    };
    let doy = mp
        .checked_mul(153)?
        .checked_add(2)?
        .checked_div(5)?
        .checked_add(day)?
        .checked_sub(1)?;
    let doe = yoe
        .checked_mul(365)?
        .checked_add(yoe.checked_div(4)?)?
        .checked_sub(yoe.checked_div(100)?)?
        .checked_add(doy)?;
    era.checked_mul(146_097)?
        .checked_add(doe)?
        .checked_sub(719_468)
}

#[cfg(feature = "std")]
#[allow(
    clippy::arithmetic_side_effects,
    reason = "host only, and `secs` is range-checked first, so no step can overflow"
)]
mod format {
    use super::UnixTime;

    impl UnixTime {
        /// Writes the time as `YYYY-MM-DDTHH:MM:SSZ`, or `None` before 1970
        /// or after 9999.
        pub fn to_expires(self) -> Option<String> {
            let secs = self.0;
            if !(0..=253_402_300_799).contains(&secs) {
                return None;
            }
            let days = secs.div_euclid(86_400);
            let rem = secs.rem_euclid(86_400);
            // Hinnant's civil_from_days.
            let z = days + 719_468;
            let era = z.div_euclid(146_097);
            let doe = z - era * 146_097;
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let day = doy - (153 * mp + 2) / 5 + 1;
            let month = if mp < 10 { mp + 3 } else { mp - 9 };
            let year = yoe + era * 400 + i64::from(month <= 2);
            Some(format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_expires(b"1970-01-01T00:00:00Z"), Some(UnixTime(0)));
        assert_eq!(
            parse_expires(b"2000-03-01T00:00:00Z"),
            Some(UnixTime(951_868_800))
        );
        assert_eq!(
            parse_expires(b"2099-01-01T00:00:00Z"),
            Some(UnixTime(4_070_908_800))
        );
        assert_eq!(
            parse_expires(b"2024-02-29T23:59:59Z"),
            Some(UnixTime(1_709_251_199))
        );
    }

    #[test]
    fn other_spellings_are_refused() {
        for bad in [
            &b"2024-02-30T00:00:00Z"[..],
            b"2023-02-29T00:00:00Z",
            b"2024-01-01T00:00:00",
            b"2024-01-01T00:00:00.5Z",
            b"2024-01-01t00:00:00z",
            b"2024-01-01T24:00:00Z",
            b"2024-01-01T00:00:00+00:00",
            b"1969-12-31T23:59:59Z",
            b"2024-1-01T00:00:00Z",
        ] {
            assert_eq!(parse_expires(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn round_trips() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2099-12-31T12:34:56Z",
            "9999-12-31T23:59:59Z",
        ] {
            let t = parse_expires(s.as_bytes()).unwrap();
            assert_eq!(t.to_expires().unwrap(), s);
        }
    }
}
