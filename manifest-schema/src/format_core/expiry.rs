//! The one timestamp format TUF metadata uses: `YYYY-MM-DDTHH:MM:SSZ`.
//!
//! python-tuf refuses anything else (fractional seconds, offsets, lowercase
//! `t`/`z`), so fwsign reads and writes exactly this form. The conversion is
//! plain proleptic-Gregorian arithmetic, usable on the device.

// Flash: some steps here are shaped for size; see docs/performance.md, "Flash size: where the core is shaped for it".

/// Seconds since 1970-01-01T00:00:00Z, as carried by `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (years 1970 to 9999). Returns `None` for any
/// other spelling or an impossible date.
pub fn parse_expires(text: &[u8]) -> Option<UnixTime> {
    // One walk over a template (flash: see the module note): `9` is a digit
    // of the current field, any other byte must stand as it is and ends the
    // field.
    const TEMPLATE: &[u8; 20] = b"9999-99-99T99:99:99Z";
    if text.len() != TEMPLATE.len() {
        return None;
    }
    let mut fields = [0u32; 6];
    let mut field: usize = 0;
    for (&b, &t) in text.iter().zip(TEMPLATE) {
        if t == b'9' {
            if !b.is_ascii_digit() {
                return None;
            }
            let f = fields.get_mut(field)?;
            // At most four digits: no overflow, but checked all the same.
            *f = f
                .checked_mul(10)?
                .checked_add(u32::from(b.wrapping_sub(b'0')))?;
        } else if b == t {
            field = field.saturating_add(1);
        } else {
            return None;
        }
    }
    let [year, month, day, hour, minute, second] = fields;
    from_civil(year, month, day, hour, minute, second)
}

/// Days before each month in a common year.
const DAYS_BEFORE_MONTH: [u16; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
/// Leap days in the years before 1970 (1969/4 - 1969/100 + 1969/400).
const LEAP_DAYS_BEFORE_1970: u32 = 477;

/// The instant of a UTC calendar date and time of day (years 1970 to 9999);
/// `None` for an impossible date or time. 32-bit arithmetic throughout
/// (every field fits; flash: see the module note).
pub fn from_civil(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<UnixTime> {
    let leap = is_leap(year);
    let month_len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1970..=9999).contains(&year)
        || !(1..=month_len).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // `get` refuses a month outside 1..=12.
    let before_month =
        u32::from(*DAYS_BEFORE_MONTH.get(usize::try_from(month).ok()?.checked_sub(1)?)?);
    let past = year.checked_sub(1)?;
    let leap_days = (past / 4)
        .checked_sub(past / 100)?
        .checked_add(past / 400)?
        .checked_sub(LEAP_DAYS_BEFORE_1970)?;
    let days = year
        .checked_sub(1970)?
        .checked_mul(365)?
        .checked_add(leap_days)?
        .checked_add(before_month)?
        .checked_add(u32::from(leap && month > 2))?
        .checked_add(day.checked_sub(1)?)?;
    let secs_of_day = hour
        .checked_mul(3600)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?;
    let secs = i64::from(days)
        .checked_mul(86_400)?
        .checked_add(i64::from(secs_of_day))?;
    Some(UnixTime(secs))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
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
