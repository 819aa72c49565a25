//! Grains and periods. A period is an integer index on its grain, so "n periods earlier"
//! is subtraction and the same numbering is computed from dates in polars (see `eval::frames`).
//!
//! - day: days since 1970-01-01
//! - week: ISO weeks (Monday to Sunday) since the week of 1970-01-01
//! - month: `year * 12 + month - 1`
//! - quarter: `year * 4 + quarter - 1`
//! - year: the year

use chrono::{Datelike, Duration, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

pub const GRAINS: [&str; 5] = ["day", "week", "month", "quarter", "year"];

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

impl Grain {
    pub fn parse(text: &str) -> Option<Grain> {
        match text {
            "day" => Some(Grain::Day),
            "week" => Some(Grain::Week),
            "month" => Some(Grain::Month),
            "quarter" => Some(Grain::Quarter),
            "year" => Some(Grain::Year),
            _ => None,
        }
    }

    /// How it is written: `day`, `week`, `month`, `quarter`, `year`.
    pub fn name(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    /// The index of the period that contains `date`.
    pub fn index_of(self, date: NaiveDate) -> i64 {
        let days = (date - epoch()).num_days();
        match self {
            Grain::Day => days,
            Grain::Week => (days + 3).div_euclid(7),
            Grain::Month => date.year() as i64 * 12 + date.month0() as i64,
            Grain::Quarter => date.year() as i64 * 4 + (date.month0() / 3) as i64,
            Grain::Year => date.year() as i64,
        }
    }

    /// The first day of period `index`.
    pub fn start(self, index: i64) -> NaiveDate {
        match self {
            Grain::Day => epoch() + Duration::days(index),
            Grain::Week => epoch() + Duration::days(index * 7 - 3),
            Grain::Month => ymd(index.div_euclid(12), index.rem_euclid(12) as u32 + 1),
            Grain::Quarter => ymd(index.div_euclid(4), index.rem_euclid(4) as u32 * 3 + 1),
            Grain::Year => ymd(index, 1),
        }
    }

    /// The first day after period `index`.
    pub fn end(self, index: i64) -> NaiveDate {
        self.start(index + 1)
    }

    /// `2025-10-05`, `2025-W07`, `2025-10`, `2025-Q3`, `2025`.
    pub fn label(self, index: i64) -> String {
        let start = self.start(index);
        match self {
            Grain::Day => start.format("%Y-%m-%d").to_string(),
            Grain::Week => {
                let iso = start.iso_week();
                format!("{}-W{:02}", iso.year(), iso.week())
            }
            Grain::Month => start.format("%Y-%m").to_string(),
            Grain::Quarter => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
            Grain::Year => format!("{}", start.year()),
        }
    }

    /// The period of a coarser grain that period `index` belongs to. A week belongs to the one
    /// that holds its Thursday, as ISO weeks belong to years.
    pub fn within(self, index: i64, coarser: Grain) -> i64 {
        let day = match self {
            Grain::Week => self.start(index) + Duration::days(3),
            _ => self.start(index),
        };
        coarser.index_of(day)
    }

    /// The last period that is complete on `as_of` (data through `as_of` is in).
    pub fn last_complete(self, as_of: NaiveDate) -> i64 {
        let current = self.index_of(as_of);
        if self.end(current) == as_of + Duration::days(1) {
            current
        } else {
            current - 1
        }
    }
}

fn ymd(year: i64, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year as i32, month, 1).unwrap_or_default()
}

/// A period named on the command line: `2025-10`, `2025-Q3`, `2025-W07`, `2025`, `2025-10-05`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodSpec {
    pub grain: Grain,
    pub index: i64,
}

impl PeriodSpec {
    pub fn parse(text: &str) -> Result<PeriodSpec, String> {
        let bad = || {
            format!(
                "`{text}` is not a period; write 2025-10, 2025-Q3, 2025-W07, 2025 or 2025-10-05"
            )
        };
        let t = text.trim();
        if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Ok(PeriodSpec {
                grain: Grain::Day,
                index: Grain::Day.index_of(date),
            });
        }
        if let Some((year, rest)) = t.split_once('-') {
            let year: i32 = year.parse().map_err(|_| bad())?;
            if !(1..=9999).contains(&year) {
                return Err(bad());
            }
            if let Some(q) = rest.strip_prefix('Q').or_else(|| rest.strip_prefix('q')) {
                let q: u32 = q.parse().map_err(|_| bad())?;
                if !(1..=4).contains(&q) {
                    return Err(bad());
                }
                return Ok(PeriodSpec {
                    grain: Grain::Quarter,
                    index: year as i64 * 4 + q as i64 - 1,
                });
            }
            if let Some(w) = rest.strip_prefix('W').or_else(|| rest.strip_prefix('w')) {
                let w: u32 = w.parse().map_err(|_| bad())?;
                let monday =
                    NaiveDate::from_isoywd_opt(year, w, chrono::Weekday::Mon).ok_or_else(bad)?;
                return Ok(PeriodSpec {
                    grain: Grain::Week,
                    index: Grain::Week.index_of(monday),
                });
            }
            let m: u32 = rest.parse().map_err(|_| bad())?;
            if !(1..=12).contains(&m) {
                return Err(bad());
            }
            return Ok(PeriodSpec {
                grain: Grain::Month,
                index: year as i64 * 12 + m as i64 - 1,
            });
        }
        let year: i64 = t.parse().map_err(|_| bad())?;
        if !(1..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(PeriodSpec {
            grain: Grain::Year,
            index: year,
        })
    }

    /// The last day of the named period: evaluating "as of" it judges this period at its own grain.
    pub fn last_day(self) -> NaiveDate {
        self.grain.end(self.index) - Duration::days(1)
    }
}

/// The days from the start of `from` to the end of `to` (`kpi eval --from/--to`): a missing
/// start is the start of `to`; a missing end (`None`) is each KPI's last complete period, as
/// without a range. A range that ends before it starts is an error.
pub fn day_range(
    from: Option<PeriodSpec>,
    to: Option<PeriodSpec>,
) -> Result<Option<(NaiveDate, Option<NaiveDate>)>, String> {
    let Some(start) = from.or(to) else {
        return Ok(None);
    };
    let first = start.grain.start(start.index);
    let last = to.map(|p| p.last_day());
    if let Some(last) = last.filter(|last| *last < first) {
        return Err(format!(
            "the range ends ({last}) before it starts ({first}): `--from` must not be after `--to`"
        ));
    }
    Ok(Some((first, last)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn labels_and_bounds_round_trip() {
        for (grain, date, label, start) in [
            (Grain::Day, "2025-03-07", "2025-03-07", "2025-03-07"),
            (Grain::Week, "2025-02-12", "2025-W07", "2025-02-10"),
            (Grain::Week, "2024-12-31", "2025-W01", "2024-12-30"),
            (Grain::Month, "2025-10-31", "2025-10", "2025-10-01"),
            (Grain::Quarter, "2025-08-15", "2025-Q3", "2025-07-01"),
            (Grain::Year, "2025-08-15", "2025", "2025-01-01"),
        ] {
            let index = grain.index_of(d(date));
            assert_eq!(grain.label(index), label);
            assert_eq!(grain.start(index), d(start));
            assert_eq!(grain.index_of(grain.start(index)), index);
            assert_eq!(grain.index_of(grain.end(index)), index + 1);
        }
    }

    #[test]
    fn last_complete_period_counts_the_as_of_day_as_done() {
        for (grain, as_of, judged) in [
            (Grain::Month, "2025-12-31", "2025-12"),
            (Grain::Month, "2025-12-30", "2025-11"),
            (Grain::Year, "2025-12-31", "2025"),
            (Grain::Quarter, "2025-11-30", "2025-Q3"),
            (Grain::Week, "2025-02-16", "2025-W07"),
            (Grain::Day, "2025-02-16", "2025-02-16"),
        ] {
            assert_eq!(
                grain.label(grain.last_complete(d(as_of))),
                judged,
                "{grain:?} as of {as_of}"
            );
        }
    }

    #[test]
    fn eval_ranges() {
        let p = |s| Some(PeriodSpec::parse(s).unwrap());
        assert_eq!(day_range(None, None), Ok(None));
        assert_eq!(
            day_range(p("2025-Q1"), p("2025-02")),
            Ok(Some((d("2025-01-01"), Some(d("2025-02-28")))))
        );
        assert_eq!(
            day_range(p("2025-11"), None),
            Ok(Some((d("2025-11-01"), None)))
        );
        assert_eq!(
            day_range(None, p("2025-W07")),
            Ok(Some((d("2025-02-10"), Some(d("2025-02-16")))))
        );
        assert!(day_range(p("2025-03"), p("2025-01")).is_err());
    }

    #[test]
    fn period_specs() {
        assert_eq!(
            PeriodSpec::parse("2025-Q3").unwrap().last_day(),
            d("2025-09-30")
        );
        assert_eq!(
            PeriodSpec::parse("2025-10").unwrap().last_day(),
            d("2025-10-31")
        );
        assert_eq!(
            PeriodSpec::parse("2025-W07").unwrap().last_day(),
            d("2025-02-16")
        );
        assert_eq!(
            PeriodSpec::parse("2025").unwrap().last_day(),
            d("2025-12-31")
        );
        assert!(PeriodSpec::parse("2025-13").is_err());
        assert!(PeriodSpec::parse("soon").is_err());
        assert!(PeriodSpec::parse("99999999").is_err());
        assert!(PeriodSpec::parse("2025-W60").is_err());
    }
}
