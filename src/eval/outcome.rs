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
    Warn,
    Missed,
    NoData,
}

impl Status {
    /// Worse statuses rank higher: missed > warn > no_data > met.
    pub fn severity(self) -> u8 {
        match self {
            Status::Met => 0,
            Status::NoData => 1,
            Status::Warn => 2,
            Status::Missed => 3,
        }
    }

    /// The machine name, as in JSON and CSV: `met`, `warn`, `missed`, `no_data`.
    pub fn key(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Warn => "warn",
            Status::Missed => "missed",
            Status::NoData => "no_data",
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
}

/// One KPI: what it is, the period judged, and its rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiOutcome {
    #[serde(flatten)]
    pub meta: KpiMeta,
    pub grain: Grain,
    pub dimensions: Vec<String>,
    pub location: Location,
    /// The evaluated period, such as `2025-12`.
    pub period: String,
    pub previous_period: String,
    /// The periods of every row's `history`, oldest first.
    pub history_periods: Vec<String>,
    /// The worst status of the rows; null for a KPI without target.
    pub status: Option<Status>,
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
