//! Report periods: an ISO week (`2023-W30`), a month (`2023-07`), a day (`2023-07-19`), or one
//! relative to today in Asia/Shanghai (`last-week`, `last-month`, `yesterday`).

use std::fmt;

use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};

/// How long a period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    /// One calendar day.
    Day,
    /// One ISO week, Monday to Sunday.
    Week,
    /// One calendar month.
    Month,
}

/// A reporting period: whole local days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Day, week or month.
    pub kind: PeriodKind,
    /// First day.
    pub first: NaiveDate,
    /// Last day.
    pub last: NaiveDate,
}

/// Why a period was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--period {text}: {reason}")]
pub struct PeriodError {
    text: String,
    reason: &'static str,
}

impl Period {
    /// Parses a period; relative ones count from `today` (the local date).
    pub fn parse(text: &str, today: NaiveDate) -> Result<Period, PeriodError> {
        let refuse = |reason| PeriodError { text: text.to_owned(), reason };
        match text {
            "yesterday" => return Ok(Period::day(today - Duration::days(1))),
            "last-week" => return Ok(Period::week_of(today - Duration::days(7))),
            "last-month" => {
                let first = today.with_day(1).and_then(|d| d.checked_sub_months(Months::new(1)));
                return first.map(Period::month_of).ok_or_else(|| refuse("no such month"));
            }
            _ => {}
        }
        if let Some((year, week)) = text.split_once("-W") {
            let (year, week) = (year.parse::<i32>(), week.parse::<u32>());
            let (Ok(year), Ok(week)) = (year, week) else { return Err(refuse("give a week as 2023-W30")) };
            let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(|| refuse("no such week"))?;
            return Ok(Period::week_of(monday));
        }
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Period::day(day));
        }
        if let Ok(first) = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d") {
            return Ok(Period::month_of(first));
        }
        Err(refuse("give 2023-W30, 2023-07, 2023-07-19, last-week, last-month or yesterday"))
    }

    /// One day.
    pub fn day(day: NaiveDate) -> Period {
        Period { kind: PeriodKind::Day, first: day, last: day }
    }

    /// The ISO week holding a day.
    pub fn week_of(day: NaiveDate) -> Period {
        let first = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        Period { kind: PeriodKind::Week, first, last: first + Duration::days(6) }
    }

    /// The month holding a day.
    pub fn month_of(day: NaiveDate) -> Period {
        let first = day.with_day(1).unwrap_or(day);
        let last = first.checked_add_months(Months::new(1)).map_or(first, |d| d - Duration::days(1));
        Period { kind: PeriodKind::Month, first, last }
    }

    /// The period of the same kind just before.
    pub fn previous(&self) -> Period {
        let before = self.first - Duration::days(1);
        match self.kind {
            PeriodKind::Day => Period::day(before),
            PeriodKind::Week => Period::week_of(before),
            PeriodKind::Month => Period::month_of(before),
        }
    }

    /// The months it touches, as the named queries' `from_month` and `to_month`.
    pub fn months(&self) -> (String, String) {
        (self.first.format("%Y-%m").to_string(), self.last.format("%Y-%m").to_string())
    }

    /// Days in it.
    pub fn days(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }
}

impl fmt::Display for Period {
    /// `2023-W30`, `2023-07` or `2023-07-19`: the form `--period` takes, and the file names'.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Day => write!(f, "{}", self.first.format("%Y-%m-%d")),
            PeriodKind::Week => {
                let week = self.first.iso_week();
                write!(f, "{}-W{:02}", week.year(), week.week())
            }
            PeriodKind::Month => write!(f, "{}", self.first.format("%Y-%m")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn every_form_parses_to_whole_days_and_prints_back() {
        let today = date(2023, 8, 2);
        let week = Period::parse("2023-W30", today).unwrap();
        assert_eq!((week.first, week.last), (date(2023, 7, 24), date(2023, 7, 30)));
        assert_eq!(week.to_string(), "2023-W30");
        let month = Period::parse("2023-02", today).unwrap();
        assert_eq!((month.first, month.last, month.days()), (date(2023, 2, 1), date(2023, 2, 28), 28));
        assert_eq!(Period::parse("2023-07-19", today).unwrap().to_string(), "2023-07-19");
        assert_eq!(Period::parse("last-week", today).unwrap().to_string(), "2023-W30");
        assert_eq!(Period::parse("last-month", today).unwrap().to_string(), "2023-07");
        assert_eq!(Period::parse("yesterday", today).unwrap().to_string(), "2023-08-01");
        // ISO weeks cross years: 2021-01-01 is in 2020-W53.
        assert_eq!(Period::week_of(date(2021, 1, 1)).to_string(), "2020-W53");
        for bad in ["2023-W54", "2023-13", "July", "2023-02-30", ""] {
            assert!(Period::parse(bad, today).unwrap_err().to_string().starts_with(&format!("--period {bad}:")));
        }
    }

    #[test]
    fn the_previous_period_is_the_same_kind_just_before() {
        let today = date(2023, 8, 2);
        assert_eq!(Period::parse("2023-W01", today).unwrap().previous().to_string(), "2022-W52");
        assert_eq!(Period::parse("2023-03", today).unwrap().previous().to_string(), "2023-02");
        assert_eq!(Period::parse("2023-03-01", today).unwrap().previous().to_string(), "2023-02-28");
        assert_eq!(Period::parse("2023-W30", today).unwrap().months(), ("2023-07".to_owned(), "2023-07".to_owned()));
        assert_eq!(Period::parse("2023-W31", today).unwrap().months(), ("2023-07".to_owned(), "2023-08".to_owned()));
    }
}
