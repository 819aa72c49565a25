//! Datasets, running the plans, and judging targets: IR + data -> outcomes.

pub mod data;
mod followed;
pub mod lower;
pub mod outcome;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::compile::ir;
use crate::diagnostic::Diagnostic;
use crate::manifest::Lateness;
use crate::period::Grain;
use data::{first_line, Datasets};
use lower::{ExprLowering, PassPlan, PERIOD, VALUE};
pub use outcome::{
    CohortTable, DrawnItem, FunnelStep, KpiOutcome, RowOutcome, Status, TargetOutcome, Totals,
};

/// Which periods to compute.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Data through this day is complete; each KPI judges its last complete period.
    pub as_of: NaiveDate,
    /// Periods reported before the evaluated one.
    pub history: u32,
    /// Instead of `as_of` and `history`: the days whose periods to report (`kpi eval --from/--to`).
    pub range: Option<(NaiveDate, Option<NaiveDate>)>,
    /// Dated datasets: the column that dates their rows and how late their data may be
    /// (LANGUAGE 5.4). A period is judged only when every dataset a KPI reads covers it.
    pub freshness: BTreeMap<String, Freshness>,
}

/// How to tell how far a dataset's data reaches.
#[derive(Debug, Clone)]
pub struct Freshness {
    /// The dataset's own `time` column (not a view's `on`): the date of its latest row is how
    /// far the extract reaches.
    pub time: String,
    pub lateness: Option<Lateness>,
}

/// The periods one KPI needs: computed from `first_computed` (to serve `previous`), reported
/// from `first_reported`, judged at `evaluated`.
#[derive(Debug, Clone, Copy)]
struct Window {
    first_computed: i64,
    first_reported: i64,
    evaluated: i64,
    /// The last period computed: after `evaluated` when younger cohorts are still maturing, or
    /// the deadline's period while a time-bound period is in progress (its target is read there).
    last_computed: i64,
    /// The last of the younger cohorts reported as maturing (`evaluated` when there are none).
    maturing_until: i64,
    /// The periods were named by the user (`kpi eval --from/--to`), not derived from history.
    explicit: bool,
    /// A time-bound KPI: where the evaluation day stands against its deadline.
    pacing: Option<Pacing>,
}

/// A time-bound KPI seen from the evaluation day (LANGUAGE 5.2).
#[derive(Debug, Clone, Copy)]
struct Pacing {
    deadline: NaiveDate,
    as_of: NaiveDate,
    /// The deadline is after the evaluation day: the period is judged on its pace.
    in_progress: bool,
    /// Days from the start of the accrual (the period, or the `running` window) to the
    /// deadline, and those elapsed on the evaluation day, that day included.
    total_days: i64,
    elapsed_days: i64,
    pace: ir::Pace,
    additive: bool,
    /// `pace seasonal`: the same period a year earlier is this many periods back, and the
    /// evaluation day a year earlier.
    year_back: Option<(i64, NaiveDate)>,
    /// The period that ends on the deadline.
    period: i64,
}

impl Pacing {
    fn new(kpi: &ir::Kpi, deadline: &ir::Deadline, as_of: NaiveDate) -> Pacing {
        let grain = kpi.grain;
        // A `running` value accrues from the first period of its window (for weeks, the
        // first ISO week of the year or quarter, which may start in December).
        let first = match deadline.accrual {
            Some(ir::Accrual::Running(coarser)) => *ir::Window::Running(coarser)
                .periods(grain, deadline.period)
                .start(),
            _ => deadline.period,
        };
        let start = grain.start(first);
        let total_days = (deadline.date - start).num_days() + 1;
        let elapsed_days = ((as_of - start).num_days() + 1).clamp(0, total_days);
        let periods_a_year = match grain {
            Grain::Day => 364,
            Grain::Week => 52,
            Grain::Month => 12,
            Grain::Quarter => 4,
            Grain::Year => 1,
        };
        let year_back = (deadline.pace == ir::Pace::Seasonal).then(|| {
            // The same day of the period a year back: 52 weeks (364 days) for days and weeks,
            // so that weekdays line up; 12 months otherwise.
            let day = match grain {
                Grain::Day | Grain::Week => as_of - chrono::Duration::days(364),
                _ => as_of
                    .checked_sub_months(chrono::Months::new(12))
                    .unwrap_or(as_of),
            };
            (periods_a_year, day)
        });
        Pacing {
            deadline: deadline.date,
            as_of,
            in_progress: as_of < deadline.date,
            total_days,
            elapsed_days,
            pace: deadline.pace,
            additive: deadline.accrual.is_some(),
            year_back,
            period: deadline.period,
        }
    }

    /// The period judged: the deadline's once it is over or before it has begun, else the one
    /// in progress on the evaluation day.
    fn judged(&self, grain: Grain) -> i64 {
        if self.in_progress && self.elapsed_days > 0 {
            grain.index_of(self.as_of).min(self.period)
        } else {
            self.period
        }
    }

    /// The day through which the value's rows are read, while the period is in progress.
    fn value_through(&self) -> Option<NaiveDate> {
        self.in_progress.then_some(self.as_of)
    }
}

fn window(kpi: &ir::Kpi, options: &EvalOptions) -> Window {
    let pacing = match (&kpi.deadline, options.range) {
        (Some(deadline), None) => Some(Pacing::new(kpi, deadline, options.as_of)),
        _ => None,
    };
    let (first_reported, evaluated) = match options.range {
        Some((from, to)) => {
            let last = match to {
                Some(to) => kpi.grain.index_of(to),
                // Without an end, through the last complete period, as without a range.
                None => last_mature(kpi, options.as_of),
            };
            (kpi.grain.index_of(from), last)
        }
        None => {
            let evaluated = match &pacing {
                Some(p) => p.judged(kpi.grain),
                None => last_mature(kpi, options.as_of),
            };
            (evaluated - options.history as i64, evaluated)
        }
    };
    let first_reported = first_reported.min(evaluated);
    let lag = kpi.max_lag() as i64;
    let year_back = pacing.and_then(|p| p.year_back).map_or(0, |(k, _)| k);
    let maturing_until = if options.range.is_none() && pacing.is_none() {
        evaluated.max(kpi.grain.last_complete(options.as_of))
    } else {
        evaluated
    };
    let last_computed = match pacing {
        Some(p) => evaluated.max(p.period),
        None => maturing_until,
    };
    Window {
        // One more period than the deepest `previous` so that `change` has a previous value.
        first_computed: first_reported - lag.max(year_back) - 1,
        first_reported,
        evaluated,
        last_computed,
        maturing_until,
        explicit: options.range.is_some(),
        pacing,
    }
}

/// The last period whose cohorts are mature on `as_of` (LANGUAGE 4.7, 4.8): complete, and
/// complete for the largest age read, and with the funnel's window closed (its last day plus
/// `within` days is on or before `as_of`). Without funnels or cohorts, the last complete period.
fn last_mature(kpi: &ir::Kpi, as_of: NaiveDate) -> i64 {
    let grain = kpi.grain;
    let mut period = grain.last_complete(as_of) - i64::from(kpi.maturity.periods);
    let days = chrono::Duration::days(kpi.maturity.days.ceil() as i64);
    if kpi.maturity.days > 0.0 {
        // Bounded: `within` is at most 3,660 days, so this steps back at most that many periods.
        while grain.end(period).pred_opt().unwrap_or(NaiveDate::MIN) + days > as_of {
            period -= 1;
        }
    }
    period
}

/// The aggregates a KPI reads, as planned: while a time-bound period is in progress its value's
/// are taken through the evaluation day (and through the same day a year earlier, for
/// `pace seasonal`); its targets' are taken whole, since a target is for the whole period.
fn planned_aggregates(kpi: &ir::Kpi, window: &Window) -> Vec<ir::Aggregate> {
    let mut value = Vec::new();
    kpi.value.collect_aggregates(&mut value);
    let mut goals = Vec::new();
    for goal in kpi.targets.iter().chain(&kpi.warns) {
        for e in goal.exprs() {
            e.collect_aggregates(&mut goals);
        }
    }
    let pacing = window.pacing.filter(|p| p.in_progress);
    let mut out = Vec::new();
    for a in value {
        out.push(lower::through(a, pacing.and_then(|p| p.value_through())));
        if let Some((_, day)) = pacing.and_then(|p| p.year_back) {
            out.push(lower::through(a, Some(day)));
        }
    }
    out.extend(goals.into_iter().cloned());
    if let Some(drawing) = &kpi.drawing {
        let mut drawn = Vec::new();
        for e in drawing.exprs() {
            e.collect_aggregates(&mut drawn);
        }
        out.extend(drawn.into_iter().cloned());
    }
    out
}

/// The lowered form of a program: the passes every KPI's aggregates were assigned to.
pub struct Lowered {
    pub plan: PassPlan,
    windows: Vec<Window>,
}

/// The most nodes polars is given for one KPI (see [`lower::lowered_size`]).
const MAX_LOWERED_SIZE: u64 = 1_000_000;

/// Why a KPI is too large to hand to polars, if it is.
fn too_large(kpi: &ir::Kpi) -> Option<Diagnostic> {
    let size = kpi
        .targets
        .iter()
        .chain(&kpi.warns)
        .flat_map(|g| g.exprs())
        .chain([&kpi.value])
        .map(lower::lowered_size)
        .fold(0u64, u64::saturating_add);
    (size > MAX_LOWERED_SIZE).then(|| {
        Diagnostic::error(
            "E0418",
            format!(
                "KPI `{}` is too large to compute: it would take more than {MAX_LOWERED_SIZE} steps",
                kpi.meta.name
            ),
        )
        .at(kpi.span)
        .with_hint("Nested `min`, `max`, `/`, `between` and `in` repeat their parts at each level; name the inner parts with a `let` in a KPI of their own.")
    })
}

/// IR -> polars plans: assigns every aggregate to a pass (see [`lower`]). A KPI too large to
/// compute gets no pass; [`evaluate`] reports it.
pub fn lower(program: &ir::Program, options: &EvalOptions) -> Lowered {
    let mut plan = PassPlan::default();
    let mut windows = Vec::new();
    for kpi in &program.kpis {
        let w = window(kpi, options);
        if too_large(kpi).is_some() {
            windows.push(w);
            continue;
        }
        for aggregate in planned_aggregates(kpi, &w) {
            let timeless = program.sources[aggregate.source].time.is_none();
            plan.add(&aggregate, timeless, w.first_computed, w.last_computed);
        }
        windows.push(w);
    }
    Lowered { plan, windows }
}

/// Runs the passes together, then computes and judges every KPI. A KPI whose data fails is
/// reported as an error and the others are still evaluated.
pub fn evaluate(
    program: &ir::Program,
    datasets: &Datasets,
    options: &EvalOptions,
) -> (Vec<KpiOutcome>, Vec<Diagnostic>) {
    let lowered = crate::timed("plan passes", || lower(program, options));
    let mut diagnostics = Vec::new();
    let (results, extents) = crate::timed("run passes", || {
        run_passes(program, datasets, options, &lowered.plan, &mut diagnostics)
    });
    crate::timed("compute and judge KPIs", || {
        let mut outcomes = Vec::new();
        for (kpi, window) in program.kpis.iter().zip(&lowered.windows) {
            if let Some(d) = too_large(kpi) {
                diagnostics.push(d.for_kpi(&kpi.meta.name));
                continue;
            }
            let coverage = coverage(program, kpi, options, &extents);
            match evaluate_kpi(kpi, *window, &coverage, &lowered.plan, &results) {
                Ok(mut outcome) => {
                    outcome.additive = additive(program, kpi);
                    outcome.quantity = kpi.value.is_quantity();
                    outcome.totals = outcome
                        .additive
                        .then(|| Totals::of(&outcome.rows, outcome.history_periods.len()));
                    outcomes.push(outcome);
                }
                Err(d) => diagnostics.push(d.for_kpi(&kpi.meta.name)),
            }
        }
        (outcomes, diagnostics)
    })
}

/// Whether a KPI's values add up over periods and over dimension values: a sum or a count of
/// each period ([`ir::Expr::accrual`]), split by the KPI's own dimensions (not a `total()` nor
/// a KPI without them repeated on every row), and not a count of a per-entity view's rows,
/// which counts an entity again in every period (and every dimension value) it has rows in.
fn additive(program: &ir::Program, kpi: &ir::Kpi) -> bool {
    kpi.value.accrual() == Some(ir::Accrual::Period)
        && kpi.aggregates().iter().all(|a| {
            a.dims == kpi.dims
                && (a.func != ir::AggFunc::Count || program.sources[a.source].per.is_none())
        })
}

/// How far the data a KPI reads reaches: for each dated dataset it reads, the last day its
/// data covers (its latest row's date plus the lateness allowed), earliest first; and the day
/// of the earliest row of any of them, where the KPI's data starts.
struct Coverage {
    limits: Vec<(NaiveDate, String)>,
    starts: Option<NaiveDate>,
}

impl Coverage {
    /// Whether the data reach a period ending on `last_day`.
    fn covers(&self, last_day: NaiveDate) -> bool {
        // Sorted: the first limit is the earliest.
        self.limits
            .first()
            .is_none_or(|(through, _)| *through >= last_day)
    }

    /// Why a period ending on `last_day` cannot be judged, if it cannot.
    fn gap(&self, last_day: NaiveDate) -> Option<String> {
        let short: Vec<&str> = self
            .limits
            .iter()
            .filter(|(through, _)| *through < last_day)
            .map(|(_, why)| why.as_str())
            .collect();
        (!short.is_empty()).then(|| short.join("; "))
    }
}

fn coverage(
    program: &ir::Program,
    kpi: &ir::Kpi,
    options: &EvalOptions,
    extents: &Extents,
) -> Coverage {
    let datasets: BTreeSet<&str> = kpi
        .aggregates()
        .iter()
        .flat_map(|a| datasets_read(program, a.source))
        .collect();
    let mut limits = Vec::new();
    let mut starts: Option<NaiveDate> = None;
    for dataset in datasets {
        let Some(freshness) = options.freshness.get(dataset) else {
            continue;
        };
        let Some(extent) = extents.get(dataset) else {
            continue;
        };
        if let Some(first) = extent.first {
            starts = Some(starts.map_or(first, |s| s.min(first)));
        }
        let (through, why) = match extent.last {
            Some(day) => {
                let through = freshness.lateness.map_or(day, |l| l.covers_through(day));
                (through, format!("`{dataset}` has data only through {day}"))
            }
            None => (NaiveDate::MIN, format!("`{dataset}` has no dated rows")),
        };
        limits.push((through, why));
    }
    limits.sort();
    Coverage { limits, starts }
}

/// The columns of what a KPI over a funnel or a cohort draws (`ir::Drawing::exprs`).
const DRAWN: &str = "__drawn";

/// `pace seasonal`: last year's value through the same day, and over its whole period.
const YEAR_AGO_TO_DATE: &str = "__year_ago_to_date";
const YEAR_AGO_WHOLE: &str = "__year_ago_whole";

/// The datasets a source reads: its own, and for a funnel or a cohort those of every stage, so
/// that a funnel's later steps count for freshness as its first does.
fn datasets_read(program: &ir::Program, source: ir::SourceId) -> Vec<&str> {
    let source = &program.sources[source];
    let mut out = vec![source.dataset.as_str()];
    if let Some(derived) = &source.derived {
        out.extend(
            derived
                .stages()
                .iter()
                .map(|s| program.sources[s.source].dataset.as_str()),
        );
    }
    out
}

/// The entity rows of a funnel or a cohort for a pass, cut at the evaluation day for a period in
/// progress. `None` when a dataset could not be opened.
fn followed_pass_rows(
    program: &ir::Program,
    pass: &lower::Pass,
    derived: &ir::Derived,
    datasets: &Datasets,
    as_of: NaiveDate,
) -> Option<PolarsResult<LazyFrame>> {
    let source = &program.sources[pass.key.source];
    let entity_filter = pass
        .aggregates
        .first()
        .and_then(|(_, a)| a.entity_filter.as_ref());
    let rows = followed::followed_rows(
        pass,
        derived,
        entity_filter,
        &program.sources,
        datasets,
        as_of,
    )?;
    Some(rows.map(|frame| lower::rows_through(pass, source, frame)))
}

/// The passes that read one scan of a dataset (its lookups joined on, dated by one column):
/// they share the rows read, the row-level columns computed on them (periods, dimension values,
/// filters, values; [`lower::RowColumns`]) and one filter on the dating column that keeps the
/// days any of them needs, which polars pushes into the scan (Parquet row groups outside it are
/// skipped). The scan is cached, so the streaming engine reads it once for all of them.
struct SharedScan {
    /// A source with this scan: the dataset, lookups and dating column to read.
    source: ir::SourceId,
    rows: lower::RowColumns,
    /// The days needed, `[from, until)`; `None` on a side: unbounded.
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
    /// (pass index, its plan over the shared rows)
    passes: Vec<(usize, lower::Deferred)>,
    /// The passes computed from partial aggregates by day ([`lower::rollup`]).
    rolled: Vec<usize>,
}

/// What identifies a scan: dataset, lookups and dating column.
type ScanKey = (String, Vec<(String, String)>, Option<String>);

/// The days a pass reads, `[from, until)`, `None` when unbounded on that side.
fn days_read(pass: &lower::Pass) -> (Option<NaiveDate>, Option<NaiveDate>) {
    if pass.timeless {
        return (None, None);
    }
    let grain = pass.key.grain;
    let until = Some(grain.end(pass.last));
    if pass.key.live.is_some() {
        // Anything born before the last period may still be live in it.
        return (None, until);
    }
    let first = match pass.key.window {
        Some(window) => lower::window_pairs(window, grain, pass.first, pass.last)
            .iter()
            .map(|(p, _)| *p)
            .min()
            .unwrap_or(pass.first),
        None => pass.first,
    };
    (Some(grain.start(first)), until)
}

/// Keeps the rows dated in `[from, until)`; written on the raw dating column, with bounds of
/// its own type (polars' `lit(NaiveDate)` is a nanosecond timestamp, which would cast the
/// column), so that polars can push it into the reader.
fn date_range_filter(
    frame: LazyFrame,
    time: &str,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> LazyFrame {
    let Ok(schema) = frame.clone().collect_schema() else {
        return frame;
    };
    let Some(dtype) = schema.get(time).cloned() else {
        return frame;
    };
    let bound = |day: NaiveDate| -> Option<Expr> {
        let days = (day - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days();
        let value = match &dtype {
            DataType::Date => AnyValue::Date(i32::try_from(days).ok()?),
            DataType::Datetime(unit, zone) => {
                let per_day: i64 = match unit {
                    TimeUnit::Milliseconds => 86_400_000,
                    TimeUnit::Microseconds => 86_400_000_000,
                    TimeUnit::Nanoseconds => 86_400_000_000_000,
                };
                AnyValue::DatetimeOwned(
                    days.checked_mul(per_day)?,
                    *unit,
                    zone.clone().map(std::sync::Arc::new),
                )
            }
            _ => return None,
        };
        Some(lit(Scalar::new(dtype.clone(), value)))
    };
    if matches!(dtype, DataType::Datetime(..)) {
        // Not for timestamps: polars 0.55's Parquet reader evaluates a predicate it is handed
        // on a timestamp column in the unit its file's Arrow schema names, which is not the
        // unit of the data when pyarrow wrote it with `coerce_timestamps` (common from pandas):
        // it kept no row at all. Each pass keeps its own periods, so this filter only saves
        // reading; without it, every row group of a timestamp-dated file is read.
        return frame;
    }
    let conditions: Vec<Expr> = [
        from.and_then(bound).map(|b| col(time).gt_eq(b)),
        until.and_then(bound).map(|b| col(time).lt(b)),
    ]
    .into_iter()
    .flatten()
    .collect();
    match conditions.into_iter().reduce(|a, b| a.and(b)) {
        Some(condition) => frame.filter(condition),
        None => frame,
    }
}

/// Pass index -> its result, or the reason it has none.
type PassResults = Vec<Result<DataFrame, String>>;

/// The dates of a dated dataset's earliest and latest rows (None: it has no dated rows).
#[derive(Debug, Clone, Copy, Default)]
struct Extent {
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
}

/// Each dated dataset's extent.
type Extents = BTreeMap<String, Extent>;

/// The polars plan of each pass that can be read, by pass index; a pass that cannot (its
/// lookup is not unique, its dataset could not be opened) gets its reason in `results`.
fn pass_frames(
    program: &ir::Program,
    datasets: &Datasets,
    options: &EvalOptions,
    plan: &PassPlan,
    results: &mut PassResults,
    diagnostics: &mut Vec<Diagnostic>,
    mut collected: Option<&mut BTreeSet<usize>>,
) -> Vec<(usize, LazyFrame)> {
    let mut frames = Vec::new();
    let mut checked_joins: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    let mut scans: BTreeMap<ScanKey, SharedScan> = BTreeMap::new();
    for (i, pass) in plan.passes.iter().enumerate() {
        let source = &program.sources[pass.key.source];
        let mut failure = None;
        for (dataset, key) in &source.joins {
            let verdict = checked_joins
                .entry((dataset.clone(), key.clone()))
                .or_insert_with(|| {
                    crate::timed("check lookup", || {
                        check_unique(datasets, dataset, key).err()
                    })
                });
            if let Some(message) = verdict {
                failure = Some(message.clone());
            }
        }
        if let Some(message) = failure {
            results[i] = Err(message);
            continue;
        }
        if let Some(derived) = &source.derived {
            let rows = crate::timed(&format!("pass {i} rows ({:?})", pass.key), || {
                followed_pass_rows(program, pass, derived, datasets, options.as_of)
            });
            match rows {
                Some(Ok(frame)) => {
                    let mut rows = lower::RowColumns::default();
                    let plan = lower::pass_plan(pass, source, &mut rows);
                    frames.push((i, plan(rows.attach(frame))));
                }
                Some(Err(e)) => {
                    let joined = source.joins.iter().map(|(d, _)| d.as_str());
                    let diagnostic = datasets.read_failure(&source.dataset, joined, &e);
                    results[i] = Err(diagnostic.message.clone());
                    if !diagnostics.contains(&diagnostic) {
                        diagnostics.push(diagnostic);
                    }
                }
                None => {
                    results[i] = Err(format!("dataset `{}` could not be opened", source.dataset));
                }
            }
            continue;
        }
        let key: ScanKey = (
            source.dataset.clone(),
            source.joins.clone(),
            source.time.clone(),
        );
        let scan = scans.entry(key).or_insert_with(|| SharedScan {
            source: pass.key.source,
            rows: lower::RowColumns::default(),
            from: Some(NaiveDate::MAX),
            until: Some(NaiveDate::MIN),
            passes: Vec::new(),
            rolled: Vec::new(),
        });
        let (from, until) = days_read(pass);
        scan.from = scan.from.zip(from).map(|(a, b)| a.min(b));
        scan.until = scan.until.zip(until).map(|(a, b)| a.max(b));
        if lower::rolls_up(pass, source) {
            scan.rolled.push(i);
            continue;
        }
        let plan: lower::Deferred = match &source.per {
            // The entity rows are part of the pass's plan: their columns are aggregates, exact
            // whatever order the rows come in, so nothing needs to put them in order first.
            Some(per) => {
                let entities = lower::entity_rows(pass, source, per, &mut scan.rows);
                let mut outer = lower::RowColumns::default();
                let plan = lower::pass_plan(pass, source, &mut outer);
                Box::new(move |frame| plan(outer.attach(entities(frame))))
            }
            None => lower::pass_plan(pass, source, &mut scan.rows),
        };
        let (pass, source) = (pass.clone(), source.clone());
        scan.passes.push((
            i,
            Box::new(move |frame| plan(lower::rows_through(&pass, &source, frame))),
        ));
    }
    for scan in scans.into_values() {
        let source = &program.sources[scan.source];
        let Some(frame) = lower::source_frame(source, datasets) else {
            for i in scan.passes.iter().map(|(i, _)| *i).chain(scan.rolled) {
                results[i] = Err(format!("dataset `{}` could not be opened", source.dataset));
            }
            continue;
        };
        // The rows as read, before the date range, for `rollup_groups` to sample: a filter
        // above a slice would keep polars from reading only the first rows.
        let unfiltered = frame.clone();
        let frame = match &source.time {
            Some(time) => date_range_filter(frame, time, scan.from, scan.until),
            None => frame,
        };
        // One rollup per set of dimensions: partial aggregates by every dimension of every
        // pass would be nearly as many rows as the data when dimensions multiply (day x
        // channel x rep x region), while by one pass's dimensions they are a few thousand.
        let mut by_dims: BTreeMap<&[String], Vec<usize>> = BTreeMap::new();
        for i in &scan.rolled {
            by_dims
                .entry(&plan.passes[*i].key.dims)
                .or_default()
                .push(*i);
        }
        let mut scan = scan;
        let large = files_bytes(program, datasets, scan.source) > wave_bytes();
        let groups: Vec<Vec<usize>> = if large && by_dims.len() > 1 {
            let sets: Vec<&[String]> = by_dims.keys().copied().collect();
            rollup_groups(&unfiltered, source, &sets)
                .into_iter()
                .map(|group| {
                    group
                        .iter()
                        .flat_map(|s| by_dims[sets[*s]].clone())
                        .collect()
                })
                .collect()
        } else {
            by_dims.into_values().collect()
        };
        let rollups: Vec<_> = groups
            .into_iter()
            .map(|indices| {
                let rolled: Vec<&lower::Pass> = indices.iter().map(|i| &plan.passes[*i]).collect();
                (
                    indices.clone(),
                    lower::rollup(&rolled, source, &mut scan.rows),
                )
            })
            .collect();
        // The row-level columns of every pass over the scan are worked out once, then cached
        // for the rollups: the streaming engine reads the scan once and hands each batch to each
        // of them. The other passes (per-entity rows, distinct counts, windows, live rows) read
        // the scan on their own: some group ten million rows into millions of groups, and a
        // cache shared with them holds batches until the slowest has taken them (at 10M orders:
        // 2.5 GiB and no quicker).
        let shared = scan.rows.attach(frame);
        // Over files larger than a wave, each plan is collected alone (`waves`), so a cache
        // would share nothing; without one, polars pushes the date range (of a `Date` column,
        // see `date_range_filter`) into the Parquet reader, which skips the row groups outside
        // it (through a cache it cannot, in 0.55).
        let rolled_up = if large {
            shared.clone()
        } else {
            shared.clone().cache()
        };
        for (indices, build) in rollups {
            let built = if !large || indices.len() == 1 {
                // polars' common-subplan elimination shares the partial rows within a wave.
                build(rolled_up.clone(), &|parts| parts)
            } else if let Some(collected) = collected.as_deref_mut() {
                // Passes over a large scan by different dimensions, or on different grains:
                // their partial rows are worked out first, once, in the streaming engine, with
                // the date range pushed into the reader; each pass then reads them from memory
                // (`collected`: it reads no file). A `cache()` would share them too, but polars
                // 0.55 pushes no filter below one, so the reader would read every row group;
                // and plans collected in different waves share nothing. If that fails, each
                // pass reads the scan itself, and the failure is reported with its file.
                let in_memory = std::cell::Cell::new(false);
                let built = build(rolled_up.clone(), &|parts| {
                    crate::timed("collect partial rows", || {
                        parts.clone().collect_with_engine(Engine::Streaming)
                    })
                    .map_or(parts, |rows| {
                        in_memory.set(true);
                        rows.unwrap_single().lazy()
                    })
                });
                if in_memory.get() {
                    collected.extend(indices.iter().copied());
                }
                built
            } else {
                // Explained, not run: the plan as it would run, the partial rows cached.
                build(rolled_up.clone(), &|parts| parts.cache())
            };
            frames.extend(indices.into_iter().zip(built));
        }
        for (i, plan) in scan.passes {
            frames.push((i, plan(shared.clone())));
        }
    }
    frames
}

/// polars' optimised plans of the passes `wanted` (`kpi explain --plan`), built as a run
/// builds them, without running them. They read the files: a run first reads small CSV and
/// NDJSON files into memory (`Datasets::read_ahead`), and its plans over them read
/// that instead.
pub fn explain_passes(
    program: &ir::Program,
    datasets: &Datasets,
    options: &EvalOptions,
    wanted: &BTreeSet<usize>,
) -> String {
    let lowered = lower(program, options);
    let mut results: PassResults = vec![Err(String::new()); lowered.plan.passes.len()];
    let mut diagnostics = Vec::new();
    let frames = pass_frames(
        program,
        datasets,
        options,
        &lowered.plan,
        &mut results,
        &mut diagnostics,
        None,
    );
    let mut out = String::new();
    for (i, frame) in frames.into_iter().filter(|(i, _)| wanted.contains(i)) {
        let plan = frame.explain(true).unwrap_or_else(|e| e.to_string());
        out.push_str(&format!("pass {i}:\n{plan}\n"));
    }
    for i in wanted {
        if let Err(reason) = &results[*i] {
            if !reason.is_empty() {
                out.push_str(&format!("pass {i}: not planned: {reason}\n"));
            }
        }
    }
    out
}

fn run_passes(
    program: &ir::Program,
    datasets: &Datasets,
    options: &EvalOptions,
    plan: &PassPlan,
    diagnostics: &mut Vec<Diagnostic>,
) -> (PassResults, Extents) {
    // Text files (CSV, NDJSON) are parsed once, not once per plan: the small ones into memory,
    // up to a wave's worth, the others read by several plans into Parquet files for the run
    // (`Datasets::read_ahead`). Plans over a few MiB in memory run in the in-memory engine
    // ([`SMALL_MEMORY`]); both engines give the same numbers. Parquet files are decoded cheaply
    // and read column by column, so each plan still reads only what it needs.
    let mut plans_reading: BTreeMap<&str, usize> = BTreeMap::new();
    for pass in &plan.passes {
        for dataset in files_read(program, pass.key.source) {
            *plans_reading.entry(dataset).or_default() += 1;
        }
    }
    let datasets = &datasets.read_ahead(&plans_reading, wave_bytes());
    // Every pass gets its result or its reason below; this one is never left standing.
    let mut results: PassResults =
        vec![Err("its data could not be read".to_string()); plan.passes.len()];
    // Passes built over partial rows already collected: they read no file.
    let mut collected = BTreeSet::new();
    let frames = pass_frames(
        program,
        datasets,
        options,
        plan,
        &mut results,
        diagnostics,
        Some(&mut collected),
    );
    // Where each dataset that a pass reads starts and how far it reaches: its earliest and
    // latest `time`.
    let mut extent_frames = Vec::new();
    let read: BTreeSet<&str> = plan
        .passes
        .iter()
        .flat_map(|p| datasets_read(program, p.key.source))
        .collect();
    for dataset in read {
        if let (Some(freshness), Some(frame)) =
            (options.freshness.get(dataset), datasets.frames.get(dataset))
        {
            let time = col(freshness.time.as_str()).cast(DataType::Date);
            let extent = frame
                .clone()
                .select([time.clone().min().alias("first"), time.max().alias("last")]);
            extent_frames.push((dataset.to_string(), extent));
        }
    }
    // The streaming engine reads the data in batches, so that memory holds the groups rather
    // than the rows; its float sums would depend on the order batches arrive in, but sums and
    // means are exact (`lower::RowColumns::exact_sum`), so the numbers are the same as the
    // in-memory engine's, bit for bit. A standard deviation is still a float computation over
    // the rows in whatever order they come, so passes with one run in memory, in row order.
    // A per-entity view's own columns count too (`view v = x per k { s = stddev(amount) }`).
    let in_row_order = |i: usize| {
        let pass = &plan.passes[i];
        let mut aggregates: Vec<&ir::Aggregate> = pass.aggregates.iter().map(|(_, a)| a).collect();
        if let Some(per) = &program.sources[pass.key.source].per {
            for (_, field) in &per.fields {
                field.collect_aggregates(&mut aggregates);
            }
        }
        aggregates.iter().any(|a| a.func == ir::AggFunc::Stddev)
    };
    // The bytes of memory the datasets a pass reads take, when they are all in memory already.
    let memory_read = |i: usize| {
        files_read(program, plan.passes[i].key.source)
            .iter()
            .map(|d| datasets.memory_bytes(d))
            .try_fold(0u64, |total, bytes| Some(total.saturating_add(bytes?)))
    };
    let mut jobs: Vec<Job> = frames
        .into_iter()
        .map(|(i, frame)| {
            let held = memory_read(i);
            Job {
                what: Collected::Pass(i),
                frame,
                bytes: if collected.contains(&i) || held.is_some() {
                    0
                } else {
                    files_bytes(program, datasets, plan.passes[i].key.source)
                },
                engine: if in_row_order(i) || held.is_some_and(|bytes| bytes <= SMALL_MEMORY) {
                    Engine::InMemory
                } else {
                    Engine::Streaming
                },
            }
        })
        .collect();
    // An extent is the least and greatest of one column: it holds nothing while it runs.
    jobs.extend(extent_frames.into_iter().map(|(dataset, frame)| Job {
        what: Collected::Extent(dataset),
        frame,
        bytes: 0,
        engine: Engine::Streaming,
    }));
    let mut extents = Extents::new();
    let mut keep = |what: &Collected, result: PolarsResult<DataFrame>| match what {
        Collected::Pass(i) => {
            results[*i] = result.map_err(|e| {
                // Located at the dataset's path in kpi.toml, naming the file and line.
                let source = &program.sources[plan.passes[*i].key.source];
                let joined = source.joins.iter().map(|(d, _)| d.as_str());
                let diagnostic = datasets.read_failure(&source.dataset, joined, &e);
                let message = diagnostic.message.clone();
                if !diagnostics.contains(&diagnostic) {
                    diagnostics.push(diagnostic);
                }
                message
            });
        }
        Collected::Extent(dataset) => {
            if let Ok(df) = result {
                extents.insert(dataset.clone(), extent(&df));
            }
        }
    };
    // Each wave is collected in one go, so that polars shares the scans within it; if that
    // fails, its plans run one by one to find which data is at fault, and the rest is kept.
    for wave in waves(jobs, wave_bytes()) {
        let engine = wave[0].engine;
        let plans: Vec<DslPlan> = wave.iter().map(|j| j.frame.clone().logical_plan).collect();
        if std::env::var_os("KPI_EXPLAIN").is_some() {
            // polars' optimised plan of the wave: where filters and projections landed.
            let explained = LazyFrame::explain_all(plans.clone(), OptFlags::default())
                .unwrap_or_else(|e| e.to_string());
            #[allow(clippy::print_stderr)]
            {
                eprintln!("wave of {} plans ({engine:?}):\n{explained}", wave.len());
            }
        }
        let collected = crate::timed(&format!("collect {} plans", wave.len()), || {
            LazyFrame::collect_all_with_engine(plans, engine, OptFlags::default())
        });
        match collected {
            Ok(dfs) if dfs.len() == wave.len() => {
                for (job, df) in wave.iter().zip(dfs) {
                    keep(&job.what, Ok(df));
                }
            }
            _ => {
                for job in wave {
                    let result = job
                        .frame
                        .collect_with_engine(engine)
                        .map(|q| q.unwrap_single());
                    keep(&job.what, result);
                }
            }
        }
    }
    // Read failures were reported above, located; the rest are reported here once each.
    let mut reported: BTreeSet<String> = diagnostics.iter().map(|d| d.message.clone()).collect();
    for result in &results {
        if let Err(message) = result {
            if reported.insert(message.clone()) {
                diagnostics.push(Diagnostic::error("E0410", message.clone()));
            }
        }
    }
    (results, extents)
}

/// Which sets of dimensions of the rolled-up passes over a large scan share one group-by by day
/// and every dimension of the set ([`lower::rollup`] of them together), as indices into `sets`.
/// Each aggregate over every row then runs once per group-by rather than once per set, and that
/// is most of a rollup's time; but the more groups, the more memory a group-by holds (polars'
/// streaming group-by holds about 2 KiB per group of a rollup like the benchmark's), and
/// dimensions that multiply (a channel by a rep by a region) give many. So sets join a group-by
/// while its day and dimensions take at most one distinct value per [`ROWS_PER_GROUP`] rows
/// among the first [`SAMPLE_ROWS`] rows of the scan; a scan with fewer rows may have up to
/// [`MIN_GROUPS`] groups. Either way gives the same numbers; only time and memory differ.
/// `frame` is the scan before its date range: polars then reads only the first rows (a slice
/// above a filter made it read the whole file, 1.6 GiB at 30M orders).
fn rollup_groups(frame: &LazyFrame, source: &ir::Source, sets: &[&[String]]) -> Vec<Vec<usize>> {
    let alone = || (0..sets.len()).map(|s| vec![s]).collect();
    let Some(time) = &source.time else {
        return alone();
    };
    let column = |dim: &String| source.dimension_column(dim).unwrap_or_else(|| dim.clone());
    let mut columns: Vec<String> = Vec::new();
    for dim in sets.iter().flat_map(|s| s.iter()) {
        if !columns.contains(&column(dim)) {
            columns.push(column(dim));
        }
    }
    let mut keys = vec![col(time.as_str()).cast(DataType::Date).alias(lower::DAY)];
    keys.extend(columns.iter().map(|c| col(c.as_str())));
    let sample = crate::timed("sample groups", || {
        frame.clone().limit(SAMPLE_ROWS).select(keys).collect()
    });
    let Ok(sample) = sample else {
        return alone();
    };
    // The distinct (day, dimension values) of a group-by by these sets, in the sample.
    let tuples = |group: &[usize]| -> Option<usize> {
        let mut names = vec![lower::DAY.to_string()];
        for dim in group.iter().flat_map(|s| sets[*s].iter()) {
            if !names.contains(&column(dim)) {
                names.push(column(dim));
            }
        }
        let distinct = sample
            .select(names)
            .ok()?
            .unique_stable(None, UniqueKeepStrategy::Any, None)
            .ok()?;
        Some(distinct.height())
    };
    // A sample that holds every row counts the groups themselves.
    let whole = sample.height() < SAMPLE_ROWS as usize;
    let most = if whole {
        MIN_GROUPS
    } else {
        sample.height() / ROWS_PER_GROUP
    };
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for s in 0..sets.len() {
        let joins = groups.iter_mut().find(|group| {
            let mut with = group.to_vec();
            with.push(s);
            tuples(&with).is_some_and(|n| n <= most)
        });
        match joins {
            Some(group) => group.push(s),
            None => groups.push(vec![s]),
        }
    }
    groups
}

/// As many bytes of data in memory as a pass may read to run in polars' in-memory engine. Over
/// a few MiB it is quicker than the streaming engine (the example: 0.26 s against 0.35 s); over
/// tens of MiB no quicker, and it holds every intermediate column of every plan it runs at once.
const SMALL_MEMORY: u64 = 16 << 20;

/// How many rows of a large scan are read to judge how many groups a rollup would have.
const SAMPLE_ROWS: u32 = 100_000;

/// The fewest rows per group at which rolled-up passes by different dimensions share one
/// group-by ([`rollup_groups`]).
const ROWS_PER_GROUP: usize = 256;

/// As many groups as a rollup over fewer than [`SAMPLE_ROWS`] rows may have: a few MiB.
const MIN_GROUPS: usize = 4096;

/// The size of the files a source reads ([`files_read`]). What the waves are measured in.
fn files_bytes(program: &ir::Program, datasets: &Datasets, source: ir::SourceId) -> u64 {
    files_read(program, source)
        .into_iter()
        .map(|d| datasets.bytes(d))
        .fold(0, u64::saturating_add)
}

/// The datasets whose files a source reads: its own (a funnel's or cohort's included) and the
/// lookups joined to it.
fn files_read(program: &ir::Program, source: ir::SourceId) -> Vec<&str> {
    let joins = program.sources[source]
        .joins
        .iter()
        .map(|(d, _)| d.as_str());
    datasets_read(program, source)
        .into_iter()
        .chain(joins)
        .collect()
}

/// A plan to collect, and what its result is for.
struct Job {
    what: Collected,
    frame: LazyFrame,
    /// The size of the files it reads.
    bytes: u64,
    engine: Engine,
}

enum Collected {
    /// A pass, by index.
    Pass(usize),
    /// The extent of a dataset.
    Extent(String),
}

/// The most bytes of files that the plans of one wave read between them.
const WAVE_BYTES: u64 = 64 << 20;

/// [`WAVE_BYTES`], or the number of bytes in `KPI_WAVE_BYTES`: less for less memory, more for
/// more plans side by side. `0` collects every plan over data on its own.
fn wave_bytes() -> u64 {
    std::env::var("KPI_WAVE_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(WAVE_BYTES)
}

/// The plans, in waves that are collected one after the other. polars runs the plans of one
/// collect side by side, each holding its batches in flight (a few hundred MiB for a plan over
/// millions of rows), so collecting every plan at once made memory grow with the number of
/// passes over large data. A wave holds plans of one engine that read at most [`WAVE_BYTES`]
/// between them (`limit`, see [`wave_bytes`]); a plan that reads more runs alone. Plans over
/// data already in memory count no bytes: what they read is held already, within its own budget
/// (`Datasets::read_ahead`). A small project is one wave per engine.
fn waves(jobs: Vec<Job>, limit: u64) -> Vec<Vec<Job>> {
    let mut waves: Vec<(u64, Vec<Job>)> = Vec::new();
    for job in jobs {
        let fits = waves.iter_mut().find(|(bytes, wave)| {
            wave[0].engine == job.engine && bytes.saturating_add(job.bytes) <= limit
        });
        match fits {
            Some((bytes, wave)) => {
                *bytes = bytes.saturating_add(job.bytes);
                wave.push(job);
            }
            None => waves.push((job.bytes, vec![job])),
        }
    }
    waves.into_iter().map(|(_, wave)| wave).collect()
}

/// A dataset's extent, from the one-row frame of its earliest and latest dates.
fn extent(df: &DataFrame) -> Extent {
    let date = |name: &str| {
        let column = df.column(name).ok()?;
        let days = column.cast(&DataType::Int32).ok()?.i32().ok()?.get(0)?;
        NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days.into()))
    };
    Extent {
        first: date("first"),
        last: date("last"),
    }
}

/// A lookup must not fan out: every key appears at most once on the right side.
fn check_unique(datasets: &Datasets, dataset: &str, key: &str) -> Result<(), String> {
    let frame = datasets
        .frames
        .get(dataset)
        .ok_or_else(|| format!("dataset `{dataset}` could not be opened"))?;
    let duplicates = frame
        .clone()
        .filter(col(key).is_not_null())
        .group_by([col(key)])
        .agg([len().alias("__n")])
        .filter(col("__n").gt(lit(1)))
        .sort([key], SortMultipleOptions::default())
        .limit(1)
        .select([
            col(key).cast(DataType::String),
            col("__n").cast(DataType::Int64),
        ])
        .collect()
        .map_err(|e| datasets.read_failure(dataset, [], &e).message)?;
    if duplicates.height() == 0 {
        return Ok(());
    }
    let value = string_at(&duplicates, key, 0).unwrap_or_default();
    let count = duplicates
        .column("__n")
        .ok()
        .and_then(|c| c.i64().ok().and_then(|c| c.get(0)))
        .unwrap_or(2);
    Err(format!(
        "cannot join `{dataset}` on `{key}`: the key is not unique there (`{value}` appears {count} times), so the join would count rows twice"
    ))
}

fn string_at(df: &DataFrame, column: &str, row: usize) -> Option<String> {
    let c = df.column(column).ok()?;
    let c = c.str().ok()?;
    c.get(row).map(|s| s.to_string())
}

fn evaluate_kpi(
    kpi: &ir::Kpi,
    window: Window,
    coverage: &Coverage,
    plan: &PassPlan,
    results: &PassResults,
) -> Result<KpiOutcome, Diagnostic> {
    let fail = |message: String| Diagnostic::error("E0411", message);
    // The passes this KPI reads, with the columns it needs from each.
    let mut used: BTreeMap<usize, Vec<(String, bool)>> = BTreeMap::new();
    for aggregate in planned_aggregates(kpi, &window) {
        let Some((pass, column)) = plan.columns.get(&aggregate.key()) else {
            return Err(Diagnostic::internal(format!(
                "aggregate of `{}` has no pass",
                kpi.meta.name
            )));
        };
        let entry = used.entry(*pass).or_default();
        if !entry.iter().any(|(c, _)| c == column) {
            entry.push((column.clone(), aggregate.func.zero_when_empty()));
        }
    }
    for pass in used.keys() {
        if let Err(message) = &results[*pass] {
            return Err(fail(format!(
                "KPI `{}` could not be computed: {message}",
                kpi.meta.name
            )));
        }
    }
    let polars_err = |e: PolarsError| {
        fail(format!(
            "KPI `{}` could not be computed: {}",
            kpi.meta.name,
            first_line(&e)
        ))
    };

    let (tuples, first_with_rows) =
        rows_seen(kpi, window, &used, plan, results).map_err(polars_err)?;
    // History starts where the KPI's data starts: the period of the earliest row of the dated
    // datasets it reads (or, for data dated otherwise, the first period any of its aggregates
    // has rows). Periods before it would only show zeros that mean "no data yet"; from it on,
    // a count of no rows is a 0 (no customer live at the start of the first month, no order
    // in a channel yet). Periods asked for by name (`kpi eval --from`) are all reported: a
    // count of 0 there is a value.
    let dataset_start = coverage.starts.map(|day| kpi.grain.index_of(day));
    let first_with_rows = match (first_with_rows, dataset_start) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let data_starts = first_with_rows.filter(|_| !window.explicit);
    let window = match first_with_rows {
        Some(first) if !window.explicit => Window {
            first_reported: window.first_reported.max(first).min(window.evaluated),
            ..window
        },
        _ => window,
    };

    // The grid: every period x every dimension tuple, sorted by tuple then period so that
    // `previous` can shift within each tuple.
    let periods: Vec<i64> = (window.first_computed..=window.last_computed).collect();
    let mut period_column = Vec::new();
    let mut dim_columns: Vec<Vec<String>> = vec![Vec::new(); kpi.dims.len()];
    for tuple in &tuples {
        for p in &periods {
            period_column.push(*p);
            for (i, v) in tuple.iter().enumerate() {
                dim_columns[i].push(v.clone());
            }
        }
    }
    let mut columns = vec![Column::new(PERIOD.into(), period_column)];
    for (dim, values) in kpi.dims.iter().zip(dim_columns) {
        columns.push(Column::new(dim.as_str().into(), values));
    }
    let mut frame = DataFrame::new_infer_height(columns)
        .map_err(polars_err)?
        .lazy();
    for (pass_index, needed) in &used {
        let pass = &plan.passes[*pass_index];
        let df = results[*pass_index].as_ref().expect("checked above");
        let mut keys: Vec<Expr> = Vec::new();
        if !pass.timeless {
            keys.push(col(PERIOD));
        }
        keys.extend(pass.key.dims.iter().map(|d| col(d.as_str())));
        let mut select = keys.clone();
        select.extend(needed.iter().map(|(c, _)| col(c.as_str())));
        let right = df.clone().lazy().select(select);
        frame = if keys.is_empty() {
            // A timeless pass without dimensions is one row that holds for every period.
            frame.cross_join(right, None)
        } else {
            frame.join(right, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        };
        // A count or sum of no rows is 0 from the first period the KPI's data has rows; before
        // that there is no data yet, not a zero, so that `previous` of the first period (and a
        // growth target built on it) has no value rather than 0.
        let zero = |c: &str| match data_starts {
            Some(first) => when(col(PERIOD).gt_eq(lit(first)))
                .then(col(c).fill_null(lit(0)))
                .otherwise(col(c)),
            None => col(c).fill_null(lit(0)),
        };
        let fills: Vec<Expr> = needed
            .iter()
            .filter(|(_, zero)| *zero)
            .map(|(c, _)| zero(c.as_str()).alias(c.as_str()))
            .collect();
        if !fills.is_empty() {
            frame = frame.with_columns(fills);
        }
    }
    let mut order: Vec<String> = kpi.dims.clone();
    order.push(PERIOD.to_string());
    frame = frame.sort(
        order,
        SortMultipleOptions::default().with_maintain_order(true),
    );

    let lowering = ExprLowering {
        plan,
        dims: &kpi.dims,
        through: None,
    };
    let pacing = window.pacing.filter(|p| p.in_progress);
    let value_lowering = ExprLowering {
        through: pacing.and_then(|p| p.value_through()),
        ..lowering
    };
    frame = frame.with_column(
        value_lowering
            .lower(&kpi.value)
            .cast(DataType::Float64)
            .alias(VALUE),
    );
    if let Some((periods, day)) = pacing.and_then(|p| p.year_back) {
        // `pace seasonal`: last year's value through the same day, and its whole period.
        let year_ago = ExprLowering {
            through: Some(day),
            ..lowering
        };
        let to_deadline = pacing.map_or(0, |p| p.period - window.evaluated);
        frame = frame.with_columns([
            lower::shifted(
                year_ago.lower(&kpi.value).cast(DataType::Float64),
                periods.max(1),
                &kpi.dims,
            )
            .alias(YEAR_AGO_TO_DATE),
            lower::shifted(col(VALUE), (periods - to_deadline).max(1), &kpi.dims)
                .alias(YEAR_AGO_WHOLE),
        ]);
    }
    let mut goal_columns = Vec::new();
    for (prefix, goals) in [("t", &kpi.targets), ("w", &kpi.warns)] {
        for (i, goal) in goals.iter().enumerate() {
            let (low, high) = match &goal.test {
                ir::GoalTest::Compare(_, e) => (lowering.lower(e), lit(NULL)),
                ir::GoalTest::Between(a, b) => (lowering.lower(a), lowering.lower(b)),
            };
            goal_columns.push(
                low.cast(DataType::Float64)
                    .alias(format!("{prefix}{i}_low").as_str()),
            );
            goal_columns.push(
                high.cast(DataType::Float64)
                    .alias(format!("{prefix}{i}_high").as_str()),
            );
            let condition = match &goal.condition {
                Some(c) => lowering.lower(c).fill_null(lit(false)),
                None => lit(true),
            };
            goal_columns.push(condition.alias(format!("{prefix}{i}_if").as_str()));
        }
    }
    if let Some(drawing) = &kpi.drawing {
        for (i, e) in drawing.exprs().into_iter().enumerate() {
            goal_columns.push(
                lowering
                    .lower(e)
                    .cast(DataType::Float64)
                    .alias(format!("{DRAWN}{i}").as_str()),
            );
        }
    }
    if !goal_columns.is_empty() {
        frame = frame.with_columns(goal_columns);
    }
    let df = frame.collect().map_err(polars_err)?;
    judge(kpi, window, coverage, &tuples, &df).map_err(polars_err)
}

/// What the pass results say about a KPI's rows: the dimension tuples with rows in the reported
/// periods (from the aggregates split by all the KPI's dimensions), and the first period in
/// which any of its dated aggregates has a row.
fn rows_seen(
    kpi: &ir::Kpi,
    window: Window,
    used: &BTreeMap<usize, Vec<(String, bool)>>,
    plan: &PassPlan,
    results: &PassResults,
) -> PolarsResult<(BTreeSet<Vec<String>>, Option<i64>)> {
    let mut tuples = BTreeSet::new();
    if kpi.dims.is_empty() {
        tuples.insert(Vec::new());
    }
    let mut first_with_rows: Option<i64> = None;
    for (pass_index, columns) in used {
        let pass = &plan.passes[*pass_index];
        let full_dims = !kpi.dims.is_empty() && pass.key.dims == kpi.dims;
        if pass.timeless && !full_dims {
            continue;
        }
        let Ok(df) = &results[*pass_index] else {
            continue;
        };
        let mut keep: Vec<Expr> = Vec::new();
        if !pass.timeless {
            keep.push(col(PERIOD));
        }
        if full_dims {
            keep.extend(kpi.dims.iter().map(|d| col(d.as_str())));
        }
        let seen = df
            .clone()
            .lazy()
            .filter(has_rows(columns))
            .select(keep)
            .collect()?;
        let periods: Vec<Option<i64>> = match seen.column(PERIOD) {
            Ok(c) => c.i64()?.iter().collect(),
            Err(_) => vec![None; seen.height()],
        };
        for (row, period) in periods.iter().enumerate() {
            if let Some(p) = period {
                first_with_rows = Some(first_with_rows.map_or(*p, |f| f.min(*p)));
            }
            let in_window =
                period.is_none_or(|p| window.first_reported <= p && p <= window.evaluated);
            if full_dims && in_window {
                let tuple = kpi
                    .dims
                    .iter()
                    .map(|d| string_at(&seen, d, row).unwrap_or_default())
                    .collect();
                tuples.insert(tuple);
            }
        }
    }
    Ok((tuples, first_with_rows))
}

/// True on the pass rows where any of these aggregates read at least one row.
fn has_rows(columns: &[(String, bool)]) -> Expr {
    columns
        .iter()
        .map(|(c, _)| col(format!("n{c}").as_str()).gt(lit(0)))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(true))
}

fn f64_column(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    match df.column(name).ok().and_then(|c| c.f64().ok().cloned()) {
        // Non-finite results (sqrt of a negative, ln of 0) are reported as no value.
        Some(c) => c.iter().map(|v| v.filter(|x| x.is_finite())).collect(),
        None => vec![None; df.height()],
    }
}

fn bool_column(df: &DataFrame, name: &str) -> Vec<bool> {
    match df.column(name).ok().and_then(|c| c.bool().ok().cloned()) {
        Some(c) => c.iter().map(|v| v.unwrap_or(false)).collect(),
        None => vec![false; df.height()],
    }
}

/// One `target`/`warn` line, read back from the KPI frame.
struct GoalColumns<'a> {
    goal: &'a ir::Goal,
    low: Vec<Option<f64>>,
    high: Vec<Option<f64>>,
    applies: Vec<bool>,
}

impl GoalColumns<'_> {
    fn outcome(&self, row: usize) -> TargetOutcome {
        let op = match &self.goal.test {
            ir::GoalTest::Compare(op, _) => op.symbol().to_string(),
            ir::GoalTest::Between(..) => "between".to_string(),
        };
        TargetOutcome {
            text: self.goal.text.clone(),
            op,
            value: self.low[row],
            high: self.high[row],
        }
    }

    /// Whether the value satisfies the line; `None` when either side is null.
    fn holds(&self, row: usize, value: Option<f64>) -> Option<bool> {
        let v = value?;
        let low = self.low[row]?;
        Some(match &self.goal.test {
            ir::GoalTest::Compare(op, _) => match op {
                ir::CompareOp::Eq => v == low,
                ir::CompareOp::Ne => v != low,
                ir::CompareOp::Lt => v < low,
                ir::CompareOp::Le => v <= low,
                ir::CompareOp::Gt => v > low,
                ir::CompareOp::Ge => v >= low,
            },
            ir::GoalTest::Between(..) => {
                let high = self.high[row]?;
                low <= v && v <= high
            }
        })
    }
}

fn goal_columns<'a>(df: &DataFrame, prefix: &str, goals: &'a [ir::Goal]) -> Vec<GoalColumns<'a>> {
    goals
        .iter()
        .enumerate()
        .map(|(i, goal)| GoalColumns {
            goal,
            low: f64_column(df, &format!("{prefix}{i}_low")),
            high: f64_column(df, &format!("{prefix}{i}_high")),
            applies: bool_column(df, &format!("{prefix}{i}_if")),
        })
        .collect()
}

/// The line that applies to a row (section 5): the first `when` line whose condition holds,
/// else the default line (the one without `when`), wherever it is written.
fn applicable<'g, 'a>(goals: &'g [GoalColumns<'a>], row: usize) -> Option<&'g GoalColumns<'a>> {
    goals
        .iter()
        .find(|g| g.goal.condition.is_some() && g.applies.get(row).copied().unwrap_or(false))
        .or_else(|| goals.iter().find(|g| g.goal.condition.is_none()))
}

/// Where each (dimension values, period) landed in the KPI frame, read from the frame's own
/// key columns rather than from the order its rows are expected to be in.
type RowIndex = BTreeMap<Vec<String>, BTreeMap<i64, usize>>;

fn row_index(kpi: &ir::Kpi, df: &DataFrame) -> PolarsResult<RowIndex> {
    let periods = df.column(PERIOD)?.i64()?.clone();
    let dims = kpi
        .dims
        .iter()
        .map(|d| Ok(df.column(d)?.str()?.clone()))
        .collect::<PolarsResult<Vec<_>>>()?;
    let mut index = RowIndex::new();
    for row in 0..df.height() {
        let Some(period) = periods.get(row) else {
            continue;
        };
        let tuple = dims
            .iter()
            .map(|c| c.get(row).unwrap_or_default().to_string())
            .collect();
        index.entry(tuple).or_default().insert(period, row);
    }
    Ok(index)
}

/// Reads the KPI frame back and judges the evaluated period of every row (section 5.1).
fn judge(
    kpi: &ir::Kpi,
    window: Window,
    coverage: &Coverage,
    tuples: &BTreeSet<Vec<String>>,
    df: &DataFrame,
) -> PolarsResult<KpiOutcome> {
    // A period that the data does not cover yet has no value: never a partial month that
    // looks like a drop, nor a zero that misses a target.
    // A period in progress is read through the evaluation day, and judged when the data reach it.
    let pacing = window.pacing.filter(|p| p.in_progress);
    let last_day = |p: i64| match pacing {
        Some(pace) if p == window.evaluated => pace.as_of,
        _ => kpi.grain.end(p).pred_opt().unwrap_or(NaiveDate::MIN),
    };
    let not_begun = pacing.is_some_and(|p| p.elapsed_days == 0);
    let reason = if not_begun {
        pacing.map(|p| {
            format!(
                "the period that ends on {} has not begun on {}",
                p.deadline, p.as_of
            )
        })
    } else {
        coverage.gap(last_day(window.evaluated))
    };
    let values = f64_column(df, VALUE);
    let drawn_columns: Vec<Vec<Option<f64>>> = match &kpi.drawing {
        Some(drawing) => (0..drawing.exprs().len())
            .map(|i| f64_column(df, &format!("{DRAWN}{i}")))
            .collect(),
        None => Vec::new(),
    };
    let year_ago_to_date = f64_column(df, YEAR_AGO_TO_DATE);
    let year_ago_whole = f64_column(df, YEAR_AGO_WHOLE);
    let targets = goal_columns(df, "t", &kpi.targets);
    let warns = goal_columns(df, "w", &kpi.warns);
    let index = row_index(kpi, df)?;
    let mut rows = Vec::new();
    for tuple in tuples {
        let periods = index.get(tuple);
        let row_of = |p: i64| periods.and_then(|r| r.get(&p)).copied();
        let value_of = |p: i64| {
            if !coverage.covers(last_day(p)) {
                return None;
            }
            row_of(p).and_then(|r| values.get(r).copied().flatten())
        };
        let value = value_of(window.evaluated);
        let previous = value_of(window.evaluated - 1);
        let history = (window.first_reported..=window.evaluated)
            .map(value_of)
            .collect();
        // The status of any period: the line that applies there, judged on that period's value.
        let judge_at = |p: i64| -> (Option<Status>, Option<usize>) {
            let at = row_of(p);
            let target = at.and_then(|at| applicable(&targets, at));
            let warn = at.and_then(|at| applicable(&warns, at));
            // A row that no target line applies to (only `when` lines, none holding) has no status.
            let status = match (target, at) {
                (Some(target), Some(at)) => Some(match target.holds(at, value_of(p)) {
                    None => Status::NoData,
                    Some(true) => Status::Met,
                    Some(false) => match warn.and_then(|w| w.holds(at, value_of(p))) {
                        Some(true) => Status::Warn,
                        _ => Status::Missed,
                    },
                }),
                (Some(_), None) => Some(Status::NoData),
                (None, _) => None,
            };
            (status, at)
        };
        let mut row_reason = reason.clone();
        let value = value.filter(|_| !not_begun);
        let (mut status, at) = judge_at(window.evaluated);
        // A time-bound target is for the deadline's period: while an earlier one is judged (the
        // month in progress of a `running` year), the target is read at the deadline's.
        let goal_at = match pacing {
            Some(p) => row_of(p.period),
            None => at,
        };
        let target = goal_at.and_then(|at| applicable(&targets, at));
        let warn = goal_at.and_then(|at| applicable(&warns, at));
        // Before its deadline a time-bound target is judged on its pace (LANGUAGE 5.2): an
        // additive value on its projection to the period's end, any other on its value so far.
        let mut projection = None;
        let mut needed = None;
        let mut on_pace = None;
        if let (Some(pace), Some(at), Some(goal_at)) = (pacing, at, goal_at) {
            if pace.additive && !not_begun {
                let share = match pace.pace {
                    ir::Pace::Linear => Some(pace.elapsed_days as f64 / pace.total_days as f64),
                    ir::Pace::Seasonal => year_ago_to_date[at]
                        .zip(year_ago_whole[at])
                        .and_then(|(part, whole)| (whole != 0.0).then(|| part / whole)),
                };
                projection = value
                    .zip(share.filter(|s| *s > 0.0))
                    .map(|(v, s)| v / s)
                    .filter(|p| p.is_finite());
                on_pace = target
                    .and_then(|t| t.low[goal_at])
                    .zip(share)
                    .map(|(goal, s)| goal * s);
                if share.is_none() && pace.pace == ir::Pace::Seasonal && row_reason.is_none() {
                    row_reason = Some(
                        "`pace seasonal` needs the same period a year earlier, which has no value"
                            .to_string(),
                    );
                }
            }
            let judged = if pace.additive { projection } else { value };
            status = target.map(|t| match t.holds(goal_at, judged) {
                _ if not_begun => Status::NoData,
                None => Status::NoData,
                Some(true) => Status::OnTrack,
                Some(false) => Status::AtRisk,
            });
            needed = target
                .and_then(|t| t.low[goal_at])
                .zip(value)
                .map(|(goal, v)| goal - v)
                .filter(|_| pace.additive && !not_begun);
        }
        // A time-bound target is for its deadline's period alone: the history has no status
        // but the judged period's.
        let time_bound = window.pacing.is_some();
        let mut history_status: Vec<Option<Status>> = (window.first_reported..=window.evaluated)
            .map(|p| if time_bound { None } else { judge_at(p).0 })
            .collect();
        if let Some(last) = history_status.last_mut() {
            *last = status;
        }
        // The bounds of the target and warn lines that applied in each period, for the charts;
        // the judged period's are those it was judged against.
        let bounds = |goals: &[GoalColumns<'_>], judged: Option<&GoalColumns<'_>>, high: bool| {
            let side = |g: &GoalColumns<'_>, at: usize| if high { g.high[at] } else { g.low[at] };
            let mut bounds: Vec<Option<f64>> = (window.first_reported..=window.evaluated)
                .map(|p| {
                    let at = row_of(p).filter(|_| !time_bound)?;
                    side(applicable(goals, at)?, at)
                })
                .collect();
            if let Some(last) = bounds.last_mut() {
                *last = judged.zip(goal_at).and_then(|(g, at)| side(g, at));
            }
            bounds
        };
        let history_target = bounds(&targets, target, false);
        let history_target_high = bounds(&targets, target, true);
        let history_warn = bounds(&warns, warn, false);
        let history_warn_high = bounds(&warns, warn, true);
        let maturing = (window.evaluated + 1..=window.maturing_until)
            .map(value_of)
            .collect();
        let (funnel, cohort) = match &kpi.drawing {
            Some(drawing) => drawn(drawing, kpi.grain, window, &drawn_columns, row_of),
            None => (None, None),
        };
        rows.push(RowOutcome {
            dimensions: kpi
                .dims
                .iter()
                .cloned()
                .zip(tuple.iter().cloned())
                .collect(),
            value,
            previous,
            // A period in progress against a whole one would look like a collapse: the pace
            // (`projection`, `elapsed`) says how it is going instead.
            change: value
                .zip(previous)
                .map(|(v, p)| v - p)
                .filter(|_| pacing.is_none()),
            target: target.zip(goal_at).map(|(g, at)| g.outcome(at)),
            warn: warn.zip(goal_at).map(|(g, at)| g.outcome(at)),
            status,
            reason: row_reason,
            history,
            history_status,
            history_target,
            history_target_high,
            history_warn,
            history_warn_high,
            deadline: window.pacing.map(|p| p.deadline.to_string()),
            elapsed: window
                .pacing
                .map(|p| p.elapsed_days as f64 / p.total_days as f64),
            projection,
            needed,
            on_pace,
            maturing,
            funnel,
            cohort,
        });
    }
    let status = if kpi.targets.is_empty() {
        None
    } else {
        Status::worst(rows.iter().filter_map(|r| r.status)).or(Some(Status::NoData))
    };
    Ok(KpiOutcome {
        meta: kpi.meta.clone(),
        grain: kpi.grain,
        dimensions: kpi.dims.clone(),
        location: kpi.location.clone(),
        // Set by the caller, which knows the sources.
        additive: false,
        quantity: false,
        totals: None,
        period: kpi.grain.label(window.evaluated),
        previous_period: kpi.grain.label(window.evaluated - 1),
        history_periods: (window.first_reported..=window.evaluated)
            .map(|p| kpi.grain.label(p))
            .collect(),
        status,
        deadline: window.pacing.map(|p| p.deadline.to_string()),
        pace: window.pacing.map(|p| p.pace),
        in_progress: pacing.is_some(),
        maturing: (window.evaluated + 1..=window.maturing_until)
            .map(|p| kpi.grain.label(p))
            .collect(),
        drawing: kpi.drawing.as_ref().map(|d| match d {
            ir::Drawing::Funnel { name, title, .. } => DrawnItem {
                kind: "funnel",
                name: name.clone(),
                title: title.clone(),
            },
            ir::Drawing::Cohort { name, title, .. } => DrawnItem {
                kind: "cohort",
                name: name.clone(),
                title: title.clone(),
            },
        }),
        rows,
    })
}

/// A row's funnel (its judged cohort's steps) or cohort triangle, from the drawn columns.
fn drawn(
    drawing: &ir::Drawing,
    grain: Grain,
    window: Window,
    columns: &[Vec<Option<f64>>],
    row_of: impl Fn(i64) -> Option<usize>,
) -> (Option<Vec<FunnelStep>>, Option<CohortTable>) {
    let at = |column: usize, period: i64| {
        row_of(period).and_then(|r| {
            columns
                .get(column)
                .and_then(|c| c.get(r).copied().flatten())
        })
    };
    let ratio =
        |a: Option<f64>, b: Option<f64>| a.zip(b).and_then(|(a, b)| (b != 0.0).then(|| a / b));
    match drawing {
        ir::Drawing::Funnel { steps, .. } => {
            let mut out = Vec::new();
            let first = at(0, window.evaluated);
            let mut previous = None;
            for (i, (name, _, _)) in steps.iter().enumerate() {
                let count = at(2 * i, window.evaluated);
                out.push(FunnelStep {
                    step: name.clone(),
                    count,
                    from_previous: if i == 0 { None } else { ratio(count, previous) },
                    from_first: if i == 0 { None } else { ratio(count, first) },
                    // The first step is reached on entering.
                    days: if i == 0 {
                        None
                    } else {
                        at(2 * i + 1, window.evaluated)
                    },
                });
                previous = count;
            }
            (Some(out), None)
        }
        ir::Drawing::Cohort { active, .. } => {
            let complete = window.maturing_until;
            let cohorts: Vec<i64> = (window.first_reported..=window.maturing_until).collect();
            let sizes: Vec<Option<f64>> = cohorts.iter().map(|c| at(0, *c)).collect();
            let shares = cohorts
                .iter()
                .zip(&sizes)
                .map(|(c, size)| {
                    (0..active.len())
                        .map(|k| {
                            let done = c + k as i64 <= complete;
                            if done {
                                ratio(at(1 + k, *c), *size)
                            } else {
                                None
                            }
                        })
                        .collect()
                })
                .collect();
            let table = CohortTable {
                cohorts: cohorts.iter().map(|c| grain.label(*c)).collect(),
                sizes,
                shares,
            };
            (None, Some(table))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(i: usize, bytes: u64, engine: Engine) -> Job {
        Job {
            what: Collected::Pass(i),
            frame: LazyFrame::default(),
            bytes,
            engine,
        }
    }

    fn passes(waves: &[Vec<Job>]) -> Vec<Vec<usize>> {
        waves
            .iter()
            .map(|wave| {
                wave.iter()
                    .map(|j| match j.what {
                        Collected::Pass(i) => i,
                        Collected::Extent(_) => usize::MAX,
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn plans_over_large_files_are_collected_one_wave_at_a_time() {
        let mib = 1 << 20;
        let jobs = vec![
            job(0, 10 * mib, Engine::Streaming),
            job(1, 300 * mib, Engine::Streaming),
            job(2, 50 * mib, Engine::Streaming),
            job(3, 10 * mib, Engine::InMemory),
            job(4, 4 * mib, Engine::Streaming),
            job(5, 300 * mib, Engine::Streaming),
            job(6, 1, Engine::InMemory),
        ];
        // 10 + 50 + 4 MiB fit one wave; each 300 MiB plan is alone; engines never mix.
        assert_eq!(
            passes(&waves(jobs, WAVE_BYTES)),
            vec![vec![0, 2, 4], vec![1], vec![3, 6], vec![5]]
        );
        // A small project is one wave.
        let small = (0..50).map(|i| job(i, mib, Engine::Streaming)).collect();
        assert_eq!(waves(small, WAVE_BYTES).len(), 1);
    }

    #[test]
    fn rollups_share_a_group_by_unless_their_dimensions_multiply() {
        let n = 200_000i32;
        let text = |f: &dyn Fn(i32) -> String| (0..n).map(f).collect::<Vec<String>>();
        let frame = DataFrame::new_infer_height(vec![
            Column::new(
                "day".into(),
                (0..n).map(|i| 20_000 + i / 10_000).collect::<Vec<_>>(),
            ),
            Column::new("channel".into(), text(&|i| format!("c{}", i % 5))),
            Column::new("region".into(), text(&|i| format!("r{}", i % 3))),
            Column::new("customer".into(), text(&|i| format!("k{}", i % 50_000))),
        ])
        .unwrap()
        .lazy()
        .with_column(col("day").cast(DataType::Date));
        let source = ir::Source {
            name: "sales".into(),
            dataset: "sales".into(),
            joins: Vec::new(),
            time: Some("day".into()),
            until: None,
            dimensions: BTreeMap::new(),
            unreadable_dimensions: BTreeMap::new(),
            schema: ir::Schema::default(),
            per: None,
            derived: None,
        };
        let dims = |names: &[&str]| names.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        let (none, channel, customer, region) = (
            dims(&[]),
            dims(&["channel"]),
            dims(&["customer"]),
            dims(&["region"]),
        );
        let sets: Vec<&[String]> = vec![&none, &channel, &customer, &region];
        // Among the first 100,000 rows (10 days), day x channel x region is 150 groups, one per
        // 667 rows: one group-by. With the customer, 10,000 a day: that set goes alone.
        assert_eq!(
            rollup_groups(&frame, &source, &sets),
            vec![vec![0, 1, 3], vec![2]]
        );
        // Fewer rows than the sample: at most 4,096 groups share one group-by, whatever the
        // rows per group (1,000 rows of one day, 1,000 customers).
        let few = frame.limit(1_000);
        assert_eq!(rollup_groups(&few, &source, &sets), vec![vec![0, 1, 2, 3]]);
    }
}
