//! Time, once: the real now, the reports' now (`$SOURCE_DATE_EPOCH` for reproducible
//! output), RFC 3339 timestamps, and calendar dates (`YYYY-MM-DD`, as exemptions expire).

use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The time reports are stamped with: `$SOURCE_DATE_EPOCH` when set (reproducible
/// output), else now.
pub fn report_time() -> i64 {
    source_date_epoch(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref()).unwrap_or_else(now)
}

fn source_date_epoch(value: Option<&str>) -> Option<i64> {
    value?.trim().parse().ok()
}

/// The reports' time in RFC 3339 (see [`report_time`]).
pub fn timestamp() -> String {
    rfc3339(report_time())
}

/// Seconds since 1970-01-01T00:00:00Z in RFC 3339 (UTC).
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let date = Date(days);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Today (UTC).
pub fn today() -> Date {
    Date(now().div_euclid(86_400))
}

/// A calendar date, as days since 1970-01-01; written and read as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i64);

impl Date {
    /// The date of `year`-`month`-`day`, if the calendar has it.
    pub fn new(year: i64, month: i64, day: i64) -> Option<Date> {
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        // Days from civil (Howard Hinnant's algorithm).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Date(era * 146_097 + doe - 719_468))
    }

    /// (year, month, day).
    pub fn civil(self) -> (i64, i64, i64) {
        // Civil from days (Howard Hinnant's algorithm).
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl std::str::FromStr for Date {
    type Err = String;

    fn from_str(s: &str) -> Result<Date, String> {
        let bad = || format!("'{s}' is not a date (YYYY-MM-DD)");
        let mut parts = s.trim().split('-');
        let mut next = || -> Result<i64, String> {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (y, m, d) = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Date::new(y, m, d).ok_or_else(bad)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!("1970-01-01".parse(), Ok(Date(0)));
        assert_eq!("2026-01-01".parse(), Ok(Date(20454)));
        assert_eq!(
            "2024-02-29".parse::<Date>().map(|d| d.to_string()),
            Ok("2024-02-29".into())
        );
        for bad in [
            "2026-02-31",
            "2025-02-29",
            "1900-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "tomorrow",
            "2026-1-1-1",
            "+2026-01-01",
            "2026--01",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert!("2000-02-29".parse::<Date>().is_ok());
        // Every day of four centuries reads back as itself.
        for days in -1000..150_000 {
            assert_eq!(Date(days).to_string().parse(), Ok(Date(days)));
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_633_600 + 3_723), "2025-12-02T01:02:03Z");
        assert_eq!(source_date_epoch(Some(" 1767225600 ")), Some(1_767_225_600));
        assert_eq!(source_date_epoch(Some("soon")), None);
        assert_eq!(source_date_epoch(None), None);
    }
}
