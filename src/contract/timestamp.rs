//! Timestamps as the contract writes them (ISO 8601 with offset, or local Asia/Shanghai) and as stored (UTC microseconds).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Asia/Shanghai's offset from UTC in seconds; China has kept +08:00 without daylight saving since 1991.
pub const SHANGHAI_OFFSET_SECS: i64 = 8 * 3600;

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// Parses a contract timestamp into UTC microseconds since the epoch.
///
/// Accepts `2023-07-19T13:02:11+08:00`, `2023-07-19T05:02:11.250Z`, `+0800` offsets,
/// and `2023-07-19 13:02:11` (or with `T` and no offset), which mean Asia/Shanghai.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    if bytes.len() < 19 {
        return None;
    }
    let separator = bytes[10];
    if separator != b'T' && separator != b' ' && separator != b't' {
        return None;
    }
    if bytes[4] != b'-' || bytes[7] != b'-' || bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        bytes[range].iter().try_fold(0i64, |acc, b| b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0')))
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let local_secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let zone = &text[19..];
    // Optional fractional seconds.
    let (micros, zone) = match zone.strip_prefix('.') {
        Some(rest) => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 9 {
                return None;
            }
            let mut fraction: i64 = rest[..digits].parse().ok()?;
            for _ in digits..6 {
                fraction *= 10;
            }
            for _ in 6..digits {
                fraction /= 10;
            }
            (fraction, &rest[digits..])
        }
        None => (0, zone),
    };
    let offset_secs = match zone {
        "" => SHANGHAI_OFFSET_SECS,
        "Z" | "z" => 0,
        _ => parse_offset(zone)?,
    };
    Some((local_secs - offset_secs) * MICROS_PER_SEC + micros)
}

/// Days in a month of the proleptic Gregorian calendar.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Parses `+08:00`, `+0800` or `+08` into seconds east of UTC.
fn parse_offset(zone: &str) -> Option<i64> {
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &zone[1..];
    // Sliced by bytes below: anything but ASCII digits and a colon is no offset anyway.
    if !rest.is_ascii() {
        return None;
    }
    let (hours, minutes) = match rest.len() {
        2 => (rest, "00"),
        4 => (&rest[..2], &rest[2..]),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    if !hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Parses a contract date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// The instant as a chrono UTC date-time (`None` when out of chrono's range).
pub fn to_utc(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

/// The instant in Asia/Shanghai local time.
pub fn to_shanghai(micros: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_micros(micros + SHANGHAI_OFFSET_SECS * MICROS_PER_SEC).map(|t| t.naive_utc())
}

/// The Asia/Shanghai calendar day of an instant (UTC microseconds), counted from 1970-01-01: the
/// day a duty officer would write down. A call at 07:00 and one at 09:00 local time fall on one
/// day here, where UTC days would part them at 08:00.
pub fn shanghai_day(micros: i64) -> i64 {
    const DAY: i64 = 86_400 * MICROS_PER_SEC;
    (micros + SHANGHAI_OFFSET_SECS * MICROS_PER_SEC).div_euclid(DAY)
}

/// UTC microseconds of a Shanghai local date-time.
pub fn from_shanghai(local: NaiveDateTime) -> i64 {
    (local.and_utc().timestamp() - SHANGHAI_OFFSET_SECS) * MICROS_PER_SEC
        + i64::from(local.and_utc().timestamp_subsec_micros())
}

/// The styles in which exports write timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampStyle {
    /// `2023-07-19 13:02:11` (Asia/Shanghai local time).
    ShanghaiLocal,
    /// `2023-07-19T13:02:11+08:00`.
    IsoOffset,
    /// `2023-07-19T05:02:11.250Z`.
    IsoUtcMillis,
}

/// Formats UTC microseconds in one of the contract's styles (sub-second digits only in `IsoUtcMillis`).
pub fn format_timestamp(micros: i64, style: TimestampStyle) -> String {
    match style {
        TimestampStyle::ShanghaiLocal => match to_shanghai(micros) {
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => String::new(),
        },
        TimestampStyle::IsoOffset => match to_shanghai(micros) {
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S+08:00").to_string(),
            None => String::new(),
        },
        TimestampStyle::IsoUtcMillis => match to_utc(micros) {
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            None => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    const T: i64 = 1_689_742_931 * MICROS_PER_SEC; // 2023-07-19T05:02:11Z

    #[test]
    fn a_zone_with_a_character_of_several_bytes_is_no_timestamp() {
        // Found by tests/fuzz.rs: the offset was sliced by bytes inside `段`.
        assert_eq!(parse_timestamp("2023-07-19T13:02:11+0段"), None);
        assert_eq!(parse_timestamp("2023-07-19T13:02:11-段段"), None);
    }

    #[test]
    fn a_day_is_the_shanghai_calendar_day() {
        let at = |text: &str| shanghai_day(parse_timestamp(text).expect("a contract timestamp"));
        // 07:00 and 09:00 local are one day, though 08:00 local is midnight UTC.
        assert_eq!(at("2023-04-20 07:23:14"), at("2023-04-20 09:19:40"));
        // 23:59 and 00:01 local are two, though both are 15:xx / 16:xx UTC of one UTC day.
        assert_eq!(at("2023-04-19 23:59:00") + 1, at("2023-04-20 00:01:00"));
        assert_eq!(at("1970-01-01 00:00:00"), 0);
        assert_eq!(at("1969-12-31 23:59:59"), -1);
        assert_eq!(shanghai_day(T) as i32, to_shanghai(T).expect("in range").date().num_days_from_ce() - 719_163);
    }

    #[test]
    fn all_contract_forms_parse_to_the_same_instant() {
        assert_eq!(parse_timestamp("2023-07-19T13:02:11+08:00"), Some(T));
        assert_eq!(parse_timestamp("2023-07-19T05:02:11Z"), Some(T));
        assert_eq!(parse_timestamp("2023-07-19 13:02:11"), Some(T));
        assert_eq!(parse_timestamp("2023-07-19T13:02:11"), Some(T));
        assert_eq!(parse_timestamp("2023-07-19T13:02:11+0800"), Some(T));
        assert_eq!(parse_timestamp("2023-07-19T05:02:11.250Z"), Some(T + 250_000));
        assert_eq!(parse_timestamp("2023-07-19T05:02:11.123456789Z"), Some(T + 123_456));
        assert_eq!(parse_timestamp("2023-07-18T21:02:11-08:00"), Some(T));
    }

    #[test]
    fn impossible_or_garbled_timestamps_are_rejected() {
        for bad in [
            "",
            "2023-07-19",
            "2023-02-30 10:00:00",
            "2023-07-19 25:00:00",
            "2023/07/19 13:02:11",
            "2023-07-19T13:02:11+8",
            "2023-07-19T13:02:11.Z",
            "2023-07-19T13:02:11 extra",
            "昨天下午三点钟左右吧",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formatting_round_trips_in_every_style() {
        for style in [TimestampStyle::ShanghaiLocal, TimestampStyle::IsoOffset, TimestampStyle::IsoUtcMillis] {
            let text = format_timestamp(T + 250_000, style);
            let expected = if style == TimestampStyle::IsoUtcMillis { T + 250_000 } else { T };
            assert_eq!(parse_timestamp(&text), Some(expected), "{text}");
        }
        assert_eq!(format_timestamp(T, TimestampStyle::ShanghaiLocal), "2023-07-19 13:02:11");
        assert_eq!(format_timestamp(T, TimestampStyle::IsoOffset), "2023-07-19T13:02:11+08:00");
    }
}
