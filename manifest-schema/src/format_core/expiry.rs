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
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
        b'Z',
    ] = *text
    else {
        return None;
    };
    from_civil(
        decimal(&[y0, y1, y2, y3])?,
        decimal(&[m0, m1])?,
        decimal(&[d0, d1])?,
        decimal(&[h0, h1])?,
        decimal(&[i0, i1])?,
        decimal(&[s0, s1])?,
    )
}

/// The instant of a UTC calendar date and time of day (years 1970 to 9999);
/// `None` for an impossible date or time. 32-bit arithmetic throughout
/// (every field fits): on a Cortex-M each 64-bit division is a library
/// call, and this runs in the bootloader.
pub fn from_civil(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<UnixTime> {
    if !(1970..=9999).contains(&year)
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
    let secs_of_day = hour
        .checked_mul(3600)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?;
    let secs = i64::from(days)
        .checked_mul(86_400)?
        .checked_add(i64::from(secs_of_day))?;
    Some(UnixTime(secs))
}

/// The value of ASCII decimal digits (at most four here, so no overflow).
fn decimal(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |v, &b| {
        b.is_ascii_digit()
            .then(|| {
                v.checked_mul(10)?
                    .checked_add(u32::from(b.wrapping_sub(b'0')))
            })
            .flatten()
    })
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`), for the
/// already range-checked years 1970..=9999, months and days.
fn days_from_civil(year: u32, month: u32, day: u32) -> Option<u32> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y % 400;
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
        .checked_add(yoe / 4)?
        .checked_sub(yoe / 100)?
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
    fn agrees_with_the_writer_across_the_whole_range() {
        // The parser (32-bit, device) and the writer (64-bit, host) are
        // independent conversions; a stride that is not a whole number of
        // days walks every time of day and every month and leap rule.
        let last = parse_expires(b"9999-12-31T23:59:59Z").unwrap().0;
        let mut secs = 0;
        while secs <= last {
            let text = UnixTime(secs).to_expires().unwrap();
            assert_eq!(
                parse_expires(text.as_bytes()),
                Some(UnixTime(secs)),
                "{text}"
            );
            secs += 13 * 86_400 + 3_607;
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
