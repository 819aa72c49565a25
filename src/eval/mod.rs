//! Datasets, running the plans, and judging targets: IR + data -> outcomes.

pub mod data;
pub mod lower;
pub mod outcome;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::compile::ir;
use crate::diagnostic::Diagnostic;
use data::{first_line, Datasets};
use lower::{ExprLowering, PassPlan, PERIOD, VALUE};
pub use outcome::{KpiOutcome, RowOutcome, Status, TargetOutcome};

/// Which periods to compute.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Data through this day is complete; each KPI judges its last complete period.
    pub as_of: NaiveDate,
    /// Periods reported before the evaluated one.
    pub history: u32,
    /// Instead of `as_of` and `history`: the days whose periods to report (`kpi eval --from/--to`).
    pub range: Option<(NaiveDate, NaiveDate)>,
}

/// The periods one KPI needs: computed from `first_computed` (to serve `previous`), reported
/// from `first_reported`, judged at `evaluated`.
#[derive(Debug, Clone, Copy)]
struct Window {
    first_computed: i64,
    first_reported: i64,
    evaluated: i64,
}

fn window(kpi: &ir::Kpi, options: &EvalOptions) -> Window {
    let (first_reported, evaluated) = match options.range {
        Some((from, to)) => (kpi.grain.index_of(from), kpi.grain.index_of(to)),
        None => {
            let evaluated = kpi.grain.last_complete(options.as_of);
            (evaluated - options.history as i64, evaluated)
        }
    };
    let first_reported = first_reported.min(evaluated);
    Window {
        // One more period than the deepest `previous` so that `change` has a previous value.
        first_computed: first_reported - kpi.max_lag() as i64 - 1,
        first_reported,
        evaluated,
    }
}

/// The lowered form of a program: the passes every KPI's aggregates were assigned to.
pub struct Lowered {
    pub plan: PassPlan,
    windows: Vec<Window>,
}

/// IR -> polars plans: assigns every aggregate to a pass (see [`lower`]).
pub fn lower(program: &ir::Program, options: &EvalOptions) -> Lowered {
    let mut plan = PassPlan::default();
    let mut windows = Vec::new();
    for kpi in &program.kpis {
        let w = window(kpi, options);
        for aggregate in kpi.aggregates() {
            let timeless = program.sources[aggregate.source].time.is_none();
            plan.add(aggregate, timeless, w.first_computed, w.evaluated);
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
    let lowered = lower(program, options);
    let mut diagnostics = Vec::new();
    let results = run_passes(program, datasets, &lowered.plan, &mut diagnostics);
    let mut outcomes = Vec::new();
    for (kpi, window) in program.kpis.iter().zip(&lowered.windows) {
        match evaluate_kpi(kpi, *window, &lowered.plan, &results) {
            Ok(outcome) => outcomes.push(outcome),
            Err(d) => diagnostics.push(d.for_kpi(&kpi.meta.name)),
        }
    }
    (outcomes, diagnostics)
}

/// Pass index -> its result, or the reason it has none.
type PassResults = Vec<Result<DataFrame, String>>;

fn run_passes(
    program: &ir::Program,
    datasets: &Datasets,
    plan: &PassPlan,
    diagnostics: &mut Vec<Diagnostic>,
) -> PassResults {
    // Every pass gets its result or its reason below; this one is never left standing.
    let mut results: PassResults =
        vec![Err("its data could not be read".to_string()); plan.passes.len()];
    let mut frames = Vec::new();
    let mut checked_joins: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    for (i, pass) in plan.passes.iter().enumerate() {
        let source = &program.sources[pass.key.source];
        let mut failure = None;
        for (dataset, key) in &source.joins {
            let verdict = checked_joins
                .entry((dataset.clone(), key.clone()))
                .or_insert_with(|| check_unique(datasets, dataset, key).err());
            if let Some(message) = verdict {
                failure = Some(message.clone());
            }
        }
        if let Some(message) = failure {
            results[i] = Err(message);
            continue;
        }
        match lower::source_frame(source, datasets) {
            Some(frame) => frames.push((i, lower::pass_plan(pass, source, frame))),
            None => {
                results[i] = Err(format!("dataset `{}` could not be opened", source.dataset));
            }
        }
    }
    // All passes in one go, so that polars can share scans; if that fails, run them one by
    // one to find which data is at fault and keep the rest.
    let plans: Vec<DslPlan> = frames.iter().map(|(_, f)| f.clone().logical_plan).collect();
    let all = LazyFrame::collect_all_with_engine(plans, Engine::Auto, OptFlags::default());
    match all {
        Ok(dfs) if dfs.len() == frames.len() => {
            for ((i, _), df) in frames.iter().zip(dfs) {
                results[*i] = Ok(df);
            }
        }
        _ => {
            for (i, frame) in frames {
                results[i] = frame.collect().map_err(|e| {
                    let source = &program.sources[plan.passes[i].key.source];
                    let files = datasets
                        .files
                        .get(&source.dataset)
                        .map(|f| f.join(", "))
                        .unwrap_or_default();
                    format!(
                        "dataset `{}` ({files}) could not be read: {}",
                        source.dataset,
                        first_line(&e)
                    )
                });
            }
        }
    }
    let mut reported = BTreeSet::new();
    for result in &results {
        if let Err(message) = result {
            if reported.insert(message.clone()) {
                diagnostics.push(Diagnostic::error("E0410", message.clone()));
            }
        }
    }
    results
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
        .map_err(|e| format!("dataset `{dataset}` could not be read: {}", first_line(&e)))?;
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
    plan: &PassPlan,
    results: &PassResults,
) -> Result<KpiOutcome, Diagnostic> {
    let fail = |message: String| Diagnostic::error("E0411", message);
    // The passes this KPI reads, with the columns it needs from each.
    let mut used: BTreeMap<usize, Vec<(String, bool)>> = BTreeMap::new();
    for aggregate in kpi.aggregates() {
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
    // History starts where the KPI's data starts: periods before the first row of any of its
    // dated aggregates would only show zeros that mean "no data yet".
    let window = match first_with_rows {
        Some(first) => Window {
            first_reported: window.first_reported.max(first).min(window.evaluated),
            ..window
        },
        None => window,
    };

    // The grid: every period x every dimension tuple, sorted by tuple then period so that
    // `previous` can shift within each tuple.
    let periods: Vec<i64> = (window.first_computed..=window.evaluated).collect();
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
        let fills: Vec<Expr> = needed
            .iter()
            .filter(|(_, zero)| *zero)
            .map(|(c, _)| col(c.as_str()).fill_null(lit(0)).alias(c.as_str()))
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
    };
    frame = frame.with_column(
        lowering
            .lower(&kpi.value)
            .cast(DataType::Float64)
            .alias(VALUE),
    );
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
    if !goal_columns.is_empty() {
        frame = frame.with_columns(goal_columns);
    }
    let df = frame.collect().map_err(polars_err)?;
    Ok(judge(kpi, window, &tuples, &df))
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

/// Reads the KPI frame back and judges the evaluated period of every row (section 5.1).
fn judge(
    kpi: &ir::Kpi,
    window: Window,
    tuples: &BTreeSet<Vec<String>>,
    df: &DataFrame,
) -> KpiOutcome {
    let values = f64_column(df, VALUE);
    let targets = goal_columns(df, "t", &kpi.targets);
    let warns = goal_columns(df, "w", &kpi.warns);
    let per_tuple = (window.evaluated - window.first_computed + 1) as usize;
    let offset = |p: i64| (p - window.first_computed) as usize;
    let mut rows = Vec::new();
    for (t, tuple) in tuples.iter().enumerate() {
        let base = t * per_tuple;
        let at = base + offset(window.evaluated);
        let value = values.get(at).copied().flatten();
        let previous = values.get(at.wrapping_sub(1)).copied().flatten();
        let history = (window.first_reported..=window.evaluated)
            .map(|p| values.get(base + offset(p)).copied().flatten())
            .collect();
        let target = targets
            .iter()
            .find(|g| g.applies.get(at).copied().unwrap_or(false));
        let warn = warns
            .iter()
            .find(|g| g.applies.get(at).copied().unwrap_or(false));
        let status = target.map(|target| match target.holds(at, value) {
            None => Status::NoData,
            Some(true) => Status::Met,
            Some(false) => match warn.and_then(|w| w.holds(at, value)) {
                Some(true) => Status::Warn,
                _ => Status::Missed,
            },
        });
        rows.push(RowOutcome {
            dimensions: kpi
                .dims
                .iter()
                .cloned()
                .zip(tuple.iter().cloned())
                .collect(),
            value,
            previous,
            change: value.zip(previous).map(|(v, p)| v - p),
            target: target.map(|g| g.outcome(at)),
            warn: warn.map(|g| g.outcome(at)),
            status,
            history,
        });
    }
    let status = if kpi.targets.is_empty() {
        None
    } else {
        Status::worst(rows.iter().filter_map(|r| r.status)).or(Some(Status::NoData))
    };
    KpiOutcome {
        meta: kpi.meta.clone(),
        grain: kpi.grain,
        dimensions: kpi.dims.clone(),
        location: kpi.location.clone(),
        period: kpi.grain.label(window.evaluated),
        previous_period: kpi.grain.label(window.evaluated - 1),
        history_periods: (window.first_reported..=window.evaluated)
            .map(|p| kpi.grain.label(p))
            .collect(),
        status,
        rows,
    }
}
