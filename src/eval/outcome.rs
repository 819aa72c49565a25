//! Outcomes: what evaluating and judging KPIs produced, for the reporters. Plain data, no polars.

use serde::Serialize;

use crate::compile::ir::KpiMeta;
use crate::period::Grain;
use crate::source::Location;

/// The judgement of one row (period x dimension values) or of a whole KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Met,
    /// Before its deadline, a time-bound target whose projection meets it.
    OnTrack,
    NoData,
    Warn,
    /// Before its deadline, a time-bound target whose projection does not meet it.
    AtRisk,
    Missed,
}

impl Status {
    /// Worse statuses rank higher: missed > at_risk > warn > no_data > on_track > met.
    pub fn severity(self) -> u8 {
        match self {
            Status::Met => 0,
            Status::OnTrack => 1,
            Status::NoData => 2,
            Status::Warn => 3,
            Status::AtRisk => 4,
            Status::Missed => 5,
        }
    }

    /// The machine name, as in JSON and CSV: `met`, `on_track`, `no_data`, `warn`, `at_risk`,
    /// `missed`.
    pub fn key(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::OnTrack => "on_track",
            Status::NoData => "no_data",
            Status::Warn => "warn",
            Status::AtRisk => "at_risk",
            Status::Missed => "missed",
        }
    }

    pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Option<Status> {
        statuses.into_iter().max_by_key(|s| s.severity())
    }
}

/// The target that applied to a row, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetOutcome {
    /// The line as written: `>= 15%`, `between 1% and 20%`.
    pub text: String,
    /// `>=`, `>`, `<=`, `<`, `==`, `!=` or `between`.
    pub op: String,
    /// The bound (the low one for `between`); null when it could not be computed.
    pub value: Option<f64>,
    /// The high bound of `between`.
    pub high: Option<f64>,
}

/// One row of a KPI: its dimension values and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowOutcome {
    /// Dimension name -> value, in the KPI's `by` order (a JSON object).
    #[serde(serialize_with = "ordered_map")]
    pub dimensions: Vec<(String, String)>,
    pub value: Option<f64>,
    pub previous: Option<f64>,
    /// `value - previous`.
    pub change: Option<f64>,
    pub target: Option<TargetOutcome>,
    pub warn: Option<TargetOutcome>,
    pub status: Option<Status>,
    /// Why the row has no value or status although it has a target: the data it reads does not
    /// cover the evaluated period (`` `orders` has data only through 2025-12-20 ``).
    pub reason: Option<String>,
    /// Values of the history periods, oldest first, ending with the evaluated period.
    pub history: Vec<Option<f64>>,
    /// The status of each history period, judged as the evaluated one is (null: no target
    /// applies there).
    pub history_status: Vec<Option<Status>>,
    /// The target that applied in each history period (the low bound of `between`).
    pub history_target: Vec<Option<f64>>,
    /// The high bound of a `between` target in each history period.
    pub history_target_high: Vec<Option<f64>>,
    /// The warn line that applied in each history period (the low bound of `between`), and the
    /// high bound of a `between` one.
    pub history_warn: Vec<Option<f64>>,
    pub history_warn_high: Vec<Option<f64>>,
    /// A time-bound target (`by DATE`): the last day of the period it is for.
    pub deadline: Option<String>,
    /// The share of the period elapsed, 0 to 1, counting the evaluation day (time-bound only).
    pub elapsed: Option<f64>,
    /// Before the deadline, an additive value projected to the period's end.
    pub projection: Option<f64>,
    /// Before the deadline, what the rest of the period must add to meet the target (the target
    /// less the value so far; negative when it is met already).
    pub needed: Option<f64>,
    /// Before the deadline, an additive value: where the target's pace would have it by now
    /// (the target times the share of the period elapsed, or of last year's same period done
    /// by this day for `pace seasonal`).
    pub on_pace: Option<f64>,
    /// Over a funnel or a cohort: the values of the younger cohorts, still maturing (the
    /// KPI's `maturing` periods), never judged.
    pub maturing: Vec<Option<f64>>,
    /// Over a funnel: each step of the judged cohort.
    pub funnel: Option<Vec<FunnelStep>>,
    /// Over a cohort: the triangle, cohort by age.
    pub cohort: Option<CohortTable>,
}

/// One step of a funnel, for the judged cohort and the row's dimension values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    pub step: String,
    /// Entities that reached it.
    pub count: Option<f64>,
    /// Its count over the step before's, and over the first step's.
    pub from_previous: Option<f64>,
    pub from_first: Option<f64>,
    /// Mean days from entering to reaching it.
    pub days: Option<f64>,
}

/// A cohort triangle: one line per cohort (the KPI's `history_periods` then its `maturing`
/// ones), one column per age from 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortTable {
    pub cohorts: Vec<String>,
    /// Entities in each cohort.
    pub sizes: Vec<Option<f64>>,
    /// `shares[c][k]`: the share of cohort c active k periods after its start; null where that
    /// period has not completed yet.
    pub shares: Vec<Vec<Option<f64>>>,
}

/// A funnel or a cohort a KPI reads, which its report draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrawnItem {
    /// `funnel` or `cohort`.
    pub kind: &'static str,
    pub name: String,
    pub title: Option<String>,
}

/// One KPI: what it is, the period judged, and its rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiOutcome {
    #[serde(flatten)]
    pub meta: KpiMeta,
    pub grain: Grain,
    pub dimensions: Vec<String>,
    pub location: Location,
    /// Whether the values add up: a sum or a count of each period (or such values combined by
    /// `+`, `-` and constant factors), so that the values of periods or of dimension values
    /// may be totalled, and a chart of them starts at zero.
    pub additive: bool,
    /// Whether the values are quantities: counts or sums, of a period or of a window (a count at
    /// the end of a period, a rolling sum), so that a chart of them starts at zero.
    pub quantity: bool,
    /// Where the values add up: their totals over the history periods and the rows.
    pub totals: Option<Totals>,
    /// The evaluated period, such as `2025-12`.
    pub period: String,
    pub previous_period: String,
    /// The periods of every row's `history`, oldest first.
    pub history_periods: Vec<String>,
    /// The worst status of the rows; null for a KPI without target.
    pub status: Option<Status>,
    /// A time-bound target: its deadline, and whether the period is still in progress.
    pub deadline: Option<String>,
    pub pace: Option<crate::compile::ir::Pace>,
    pub in_progress: bool,
    /// Over a funnel or a cohort: the periods after the judged one whose cohorts are still
    /// maturing, reported with their values so far and never judged.
    pub maturing: Vec<String>,
    /// The funnel or cohort drawn with the rows.
    pub drawing: Option<DrawnItem>,
    pub rows: Vec<RowOutcome>,
}

fn ordered_map<S: serde::Serializer>(
    pairs: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// The totals of an additive KPI's history (its `history_periods` by its rows); a total is null
/// where none of its values is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    /// Each history period's total over the rows.
    pub periods: Vec<Option<f64>>,
    /// Each row's total over the history periods.
    pub rows: Vec<Option<f64>>,
    /// The total of every row and period.
    pub all: Option<f64>,
}

impl Totals {
    /// The totals of the rows' history; a total is null unless every value it adds is known
    /// (a period the data do not cover yet has no total, and makes its rows' totals null).
    pub fn of(rows: &[RowOutcome], periods: usize) -> Totals {
        let at = |row: &RowOutcome, i: usize| row.history.get(i).copied().flatten();
        Totals {
            periods: (0..periods)
                .map(|i| total(rows.iter().map(|r| at(r, i))))
                .collect(),
            rows: rows
                .iter()
                .map(|r| total((0..periods).map(|i| at(r, i))))
                .collect(),
            all: total(
                rows.iter()
                    .flat_map(|r| (0..periods).map(move |i| at(r, i))),
            ),
        }
    }
}

/// The sum of values that are all known, and at least one; rounded to the most decimals any
/// of them has (at most 12), so that 0.1 + 0.2 is 0.3 as a person adds it, not
/// 0.30000000000000004.
fn total(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let values: Vec<f64> = values.collect::<Option<Vec<f64>>>()?;
    if values.is_empty() {
        return None;
    }
    let sum: f64 = values.iter().sum();
    let decimals = values.iter().map(|v| decimals_of(*v)).max().unwrap_or(0);
    if decimals > 12 {
        return Some(sum);
    }
    let scale = 10f64.powi(decimals as i32);
    let rounded = (sum * scale).round() / scale;
    Some(if rounded.is_finite() { rounded } else { sum })
}

/// The decimals of a number's shortest form: 2 for 286906.92, 0 for 1e20, 13 or more for one
/// whose sum is best left as it is.
fn decimals_of(v: f64) -> usize {
    let text = format!("{v}");
    text.split_once('.')
        .map_or(0, |(_, fraction)| fraction.len())
}
