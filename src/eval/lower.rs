//! IR -> polars lazy plans.
//!
//! Every aggregate of every KPI is assigned to a *pass*: one group-by over one source at one
//! grain and one set of dimensions (and one `at start`/`at end` mode). A pass computes all of
//! its aggregates together, so adding KPIs over a dataset adds expressions to a scan, not scans.
//! A KPI's frame is then its grid (periods x dimension values) left-joined with the passes it
//! uses, on which the value and the targets are computed as column expressions.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::data::Datasets;
use crate::compile::ir::{self, AggFunc, BinaryOp, CompareOp, Func, UnaryOp};
pub use crate::compile::plan::{window_pairs, LiveEdgeKey, Pass, PassKey, PassPlan};
use crate::period::Grain;

pub const PERIOD: &str = "__period";
const LIVE_FROM: &str = "__live_from";
const LIVE_TO: &str = "__live_to";
/// In a windowed pass: the period a row belongs to, before it is paired with the windows it is in.
const ROW_PERIOD: &str = "__row_period";
pub const VALUE: &str = "__value";

/// The polars expression of a period index on a grain, from a date or timestamp column.
///
/// Years and months are worked out from the day number with integer arithmetic (the civil
/// calendar algorithm of H. Hinnant's `civil_from_days`), which polars evaluates as a handful of
/// vectorised integer operations; `dt().year()` and `dt().month()` build a calendar date per row,
/// which was a tenth of the time of a run over ten million orders.
pub fn period_expr(time: Expr, grain: Grain) -> Expr {
    period_of_day(days(time), grain)
}

/// The period index on a grain of a day number (days since 1970-01-01, as Int64).
fn period_of_day(days: Expr, grain: Grain) -> Expr {
    match grain {
        Grain::Day => days,
        Grain::Week => (days + lit(3i64)).floor_div(lit(7i64)),
        Grain::Month => month_index(days),
        Grain::Quarter => month_index(days).floor_div(lit(3i64)),
        Grain::Year => month_index(days).floor_div(lit(12i64)),
    }
}

/// `year * 12 + month - 1` of a day number (days since 1970-01-01, any sign).
fn month_index(days: Expr) -> Expr {
    // Shifted so that eras of 400 years start on 0000-03-01: then every quantity below is
    // non-negative within an era and the divisions are plain.
    let z = days + lit(719_468i64);
    let era = z.clone().floor_div(lit(146_097i64));
    let doe = z - era.clone() * lit(146_097i64); // day of era, 0..=146096
    let yoe = (doe.clone() - doe.clone().floor_div(lit(1_460i64))
        + doe.clone().floor_div(lit(36_524i64))
        - doe.clone().floor_div(lit(146_096i64)))
    .floor_div(lit(365i64)); // year of era, 0..=399
    let doy = doe
        - (lit(365i64) * yoe.clone() + yoe.clone().floor_div(lit(4i64))
            - yoe.clone().floor_div(lit(100i64))); // day of the year from March 1st, 0..=365
    let mp = (lit(5i64) * doy + lit(2i64)).floor_div(lit(153i64)); // 0 = March .. 11 = February
                                                                   // Months counted from March of year `yoe + era * 400`: March is month index 2 of that year.
    (yoe + era * lit(400i64)) * lit(12i64) + mp + lit(2i64)
}

fn days(time: Expr) -> Expr {
    time.cast(DataType::Date).cast(DataType::Int64)
}

fn millis(time: Expr) -> Expr {
    time.cast(DataType::Datetime(TimeUnit::Milliseconds, None))
        .cast(DataType::Int64)
        .cast(DataType::Float64)
}

/// The rows of a source: its dataset with its lookups joined on.
pub fn source_frame(source: &ir::Source, datasets: &Datasets) -> Option<LazyFrame> {
    let mut frame = datasets.frames.get(&source.dataset)?.clone();
    let mut present: Vec<&str> = datasets.schemas.get(&source.dataset)?.names().collect();
    for (dataset, key) in &source.joins {
        let right = datasets.frames.get(dataset)?.clone();
        // The left side wins where both sides have a column: take only the new ones.
        let new: Vec<&str> = datasets
            .schemas
            .get(dataset)?
            .names()
            .filter(|n| n == key || !present.contains(n))
            .collect();
        let keep: Vec<Expr> = new.iter().map(|n| col(*n)).collect();
        present.extend(new.into_iter().filter(|n| n != key));
        frame = frame.left_join(right.select(keep), col(key.as_str()), col(key.as_str()));
    }
    Some(frame)
}

/// The rows a pass reads: for a time-bound KPI's period in progress, only those dated through
/// the evaluation day.
pub fn rows_through(pass: &Pass, source: &ir::Source, frame: LazyFrame) -> LazyFrame {
    match (pass.key.through, &source.time) {
        (Some(day), Some(time)) => frame.filter(
            col(time.as_str())
                .cast(DataType::Date)
                .lt_eq(lit(day))
                .fill_null(lit(false)),
        ),
        _ => frame,
    }
}

/// A plan waiting for the frame it reads (see [`RowColumns`]).
pub type Deferred = Box<dyn FnOnce(LazyFrame) -> LazyFrame>;

/// The plan of one pass: (period, dims) -> one column per aggregate, plus `n<column>` row counts.
/// The row-level columns it reads are registered in `rows`; the plan is built once `rows` has
/// been attached to the frame (so that the passes over one source share them).
pub fn pass_plan(pass: &Pass, source: &ir::Source, rows: &mut RowColumns) -> Deferred {
    let mut keys: Vec<Expr> = Vec::new();
    let per_entity = source.per.is_some();
    for dim in &pass.key.dims {
        if per_entity {
            // The entity rows hold the dimension values as text already.
            keys.push(col(dim.as_str()));
            continue;
        }
        let column = source.dimension_column(dim).unwrap_or_else(|| dim.clone());
        let ty = source.schema.get(&column);
        keys.push(rows.dimension(&column, ty).alias(dim.as_str()));
    }
    let time = source.time.clone().unwrap_or_default();
    let period = (!pass.timeless && !per_entity && pass.key.live.is_none())
        .then(|| rows.period(&time, pass.key.grain));
    // Distinct counts by period alone are counted apart (see `distinct_by_period`).
    let apart = period.is_some() && pass.key.window.is_none() && pass.key.dims.is_empty();
    let mut aggs = Vec::new();
    let mut distinct: Vec<(String, String)> = Vec::new();
    for (name, aggregate) in &pass.aggregates {
        let (value, count) = rows.aggregate(aggregate);
        match (&aggregate.arg, aggregate.func) {
            (Some(arg), AggFunc::CountDistinct) if apart => {
                distinct.push((name.clone(), rows.value_name(aggregate, arg, false)));
            }
            _ => aggs.push(value.alias(name.as_str())),
        }
        aggs.push(count.alias(format!("n{name}").as_str()));
    }
    let pass = pass.clone();
    let source_until = source.until.clone();
    Box::new(move |frame| match (&period, distinct.is_empty()) {
        (Some(period), false) => {
            with_distinct_counts(&pass, period.clone(), frame, aggs, &distinct)
        }
        _ => dated_pass(&pass, source_until, time, period, frame, keys, aggs),
    })
}

/// A plain dated pass without dimensions whose `count_distinct` aggregates (name, column of
/// values) are counted by [`distinct_by_period`] and joined to the other aggregates by period.
fn with_distinct_counts(
    pass: &Pass,
    period: Expr,
    frame: LazyFrame,
    aggs: Vec<Expr>,
    distinct: &[(String, String)],
) -> LazyFrame {
    let range = (pass.first, pass.last);
    let rows = frame.filter(
        period
            .clone()
            .gt_eq(lit(range.0))
            .and(period.clone().lt_eq(lit(range.1))),
    );
    let mut joined = rows
        .clone()
        .group_by([period.clone().alias(PERIOD)])
        .agg(aggs);
    for (name, column) in distinct {
        let counts = distinct_by_period(rows.clone(), period.clone(), range, column, name);
        joined = joined.join(
            counts,
            [col(PERIOD)],
            [col(PERIOD)],
            JoinArgs::new(JoinType::Left),
        );
    }
    // A period with rows but no value has none distinct: 0.
    joined.with_columns(
        distinct
            .iter()
            .map(|(name, _)| col(name.as_str()).fill_null(lit(0i64)))
            .collect::<Vec<_>>(),
    )
}

fn dated_pass(
    pass: &Pass,
    until: Option<String>,
    time: String,
    period: Option<Expr>,
    frame: LazyFrame,
    keys: Vec<Expr>,
    aggs: Vec<Expr>,
) -> LazyFrame {
    if pass.timeless {
        return frame.group_by(keys).agg(aggs);
    }
    if let Some(edge) = pass.key.live {
        return live_pass(pass, edge, until, time, frame, keys, aggs);
    }
    let Some(period) = period else {
        // Over entity rows: they are dated already, windows included.
        let mut all_keys = vec![col(PERIOD)];
        all_keys.extend(keys);
        return frame.group_by(all_keys).agg(aggs);
    };
    if let Some(window) = pass.key.window {
        return windowed_pass(pass, window, frame, period, keys, aggs);
    }
    let mut all_keys = vec![period.clone().alias(PERIOD)];
    all_keys.extend(keys);
    frame
        .filter(
            period
                .clone()
                .gt_eq(lit(pass.first))
                .and(period.lt_eq(lit(pass.last))),
        )
        .group_by(all_keys)
        .agg(aggs)
}

/// A pass `at start` or `at end`: each row is paired with the periods it is live at the edge of.
fn live_pass(
    pass: &Pass,
    edge: LiveEdgeKey,
    until: Option<String>,
    time: String,
    frame: LazyFrame,
    keys: Vec<Expr>,
    aggs: Vec<Expr>,
) -> LazyFrame {
    let grain = pass.key.grain;
    // A row is live at a period's start when time < start and (until is null or until >= start),
    // i.e. when period(time) < p <= period(until); `at end` is the same one period later.
    let until = until.unwrap_or_default();
    let born = period_expr(col(time.as_str()), grain);
    let ends = period_expr(col(until.as_str()), grain);
    let (from, to) = match edge {
        LiveEdgeKey::Start => (born + lit(1i64), ends),
        LiveEdgeKey::End => (born, ends - lit(1i64)),
    };
    let periods: Vec<i64> = (pass.first..=pass.last).collect();
    let grid = DataFrame::new_infer_height(vec![Column::new(PERIOD.into(), periods)])
        .map(|df| df.lazy())
        .unwrap_or_default();
    // Rows not live at any period of the pass are dropped before pairing rows with periods.
    let live = frame
        .with_columns([
            from.alias(LIVE_FROM),
            to.fill_null(lit(i64::MAX)).alias(LIVE_TO),
        ])
        .filter(
            col(LIVE_FROM)
                .lt_eq(lit(pass.last))
                .and(col(LIVE_TO).gt_eq(lit(pass.first))),
        );
    let in_period = col(LIVE_FROM)
        .lt_eq(col(PERIOD))
        .and(col(PERIOD).lt_eq(col(LIVE_TO)));
    let counts_only = pass
        .aggregates
        .iter()
        .all(|(_, a)| a.func == AggFunc::Count && a.arg.is_none());
    if counts_only {
        // Plain counts (the usual `count(customers at start)`) need no row values: count
        // the rows per life span and dimension values first, so that what is paired with
        // the periods is a few spans rather than every row.
        let mut span_keys = vec![col(LIVE_FROM), col(LIVE_TO)];
        span_keys.extend(keys.iter().cloned());
        let mut sums: Vec<Expr> = Vec::new();
        for (name, _) in &pass.aggregates {
            sums.push(col(name.as_str()).sum().alias(name.as_str()));
            let n = format!("n{name}");
            sums.push(col(n.as_str()).sum().alias(n.as_str()));
        }
        let mut all_keys = vec![col(PERIOD)];
        all_keys.extend(pass.key.dims.iter().map(|d| col(d.as_str())));
        return live
            .group_by(span_keys)
            .agg(aggs)
            .cross_join(grid, None)
            .filter(in_period)
            .group_by(all_keys)
            .agg(sums);
    }
    let dated = live.cross_join(grid, None).filter(in_period);
    let mut all_keys = vec![col(PERIOD)];
    all_keys.extend(keys);
    dated.group_by(all_keys).agg(aggs)
}

/// Whether a pass can be computed from partial aggregates by day ([`rollup`]): a plain dated
/// pass (no window, not `at start`/`at end`) over a dataset's rows whose aggregates are all
/// decomposable.
pub fn rolls_up(pass: &Pass, source: &ir::Source) -> bool {
    !pass.key.raw
        && !pass.timeless
        && pass.key.live.is_none()
        && pass.key.window.is_none()
        && source.per.is_none()
        && source.derived.is_none()
        && source.time.is_some()
}

/// The day number of each row, in the rolled-up partial aggregates.
pub const DAY: &str = "__day";

/// The plans of rolled-up passes, given their scan and how to share the partial rows.
pub type Rollup = Box<dyn FnOnce(LazyFrame, &dyn Fn(LazyFrame) -> LazyFrame) -> Vec<LazyFrame>>;

/// Plain dated passes over one scan, computed in two steps. First the rows are grouped by day
/// and by the raw values of every dimension any of the passes uses, into partial aggregates:
/// row counts per filter, counts of values, the integer parts of exact sums (see
/// [`RowColumns::exact_sum`]), minimums and maximums. That is the one step that reads every
/// row, and it is shared by all the passes, whatever their grain and dimensions. Then each pass
/// groups those few rows by its period and dimension values (as text) and adds the parts up.
/// Working out periods and dimension text per row, and grouping ten million rows once per
/// pass, were most of the time of a run.
///
/// The row-level columns it reads are registered in `rows` (shared with the other passes over
/// the scan); the returned plan builds each pass's plan, in the order of `passes`, once `rows`
/// has been attached to the scan, over the partial rows as `share` hands them on.
pub fn rollup(passes: &[&Pass], source: &ir::Source, rows: &mut RowColumns) -> Rollup {
    let time = source.time.clone().unwrap_or_default();
    let day = rows.column(format!("day{time}"), MASK, || days(col(time.as_str())));
    let mut raw_dims: Vec<String> = Vec::new();
    for pass in passes {
        for dim in &pass.key.dims {
            let column = source.dimension_column(dim).unwrap_or_else(|| dim.clone());
            if !raw_dims.contains(&column) {
                raw_dims.push(column);
            }
        }
    }
    // Partial aggregates: key -> (column name, expression), made once each.
    let mut partials: BTreeMap<String, (String, Expr)> = BTreeMap::new();
    let mut partial = |key: String, make: &mut dyn FnMut(&mut RowColumns) -> Expr| -> Expr {
        let len = partials.len();
        let (name, _) = partials
            .entry(key)
            .or_insert_with(|| (format!("__q{len}"), make(rows)));
        col(name.as_str())
    };
    // For each pass, its final aggregations over the partial rows.
    let mut finals: Vec<Vec<Expr>> = Vec::new();
    for pass in passes {
        let mut aggs = Vec::new();
        for (name, aggregate) in &pass.aggregates {
            let filter = format!("{:?}", aggregate.filter);
            let n = partial(format!("n{filter}"), &mut |rows| match rows
                .mask(aggregate.filter.as_ref())
            {
                Some(m) => m.sum().cast(DataType::Int64),
                None => len().cast(DataType::Int64),
            })
            .sum();
            let value = match (&aggregate.arg, aggregate.func) {
                (None, _) => n.clone(),
                (Some(arg), func) => {
                    let key = format!("{filter}{arg:?}");
                    let number = func != AggFunc::Count;
                    let v = |rows: &mut RowColumns| rows.value(aggregate, arg, number);
                    match func {
                        AggFunc::Count => partial(format!("c{key}"), &mut |rows| {
                            v(rows).count().cast(DataType::Int64)
                        })
                        .sum(),
                        AggFunc::Min => {
                            partial(format!("min{key}"), &mut |rows| v(rows).min()).min()
                        }
                        AggFunc::Max => {
                            partial(format!("max{key}"), &mut |rows| v(rows).max()).max()
                        }
                        _ => {
                            let parts = SUM_PARTS.map(|part| {
                                partial(format!("{part:?}{key}"), &mut |rows| {
                                    let value = v(rows);
                                    rows.exact_sum_part(&key, value, part)
                                })
                                .sum()
                            });
                            let sum = combine_sum(parts);
                            if func == AggFunc::Mean {
                                let values = partial(format!("c{key}"), &mut |rows| {
                                    v(rows).count().cast(DataType::Int64)
                                })
                                .sum();
                                mean_of(sum, values)
                            } else {
                                sum
                            }
                        }
                    }
                }
            };
            aggs.push(value.alias(name.as_str()));
            aggs.push(n.alias(format!("n{name}").as_str()));
        }
        finals.push(aggs);
    }
    let mut keys = vec![day.alias(DAY)];
    keys.extend(raw_dims.iter().map(|c| col(c.as_str())));
    let partial_aggs: Vec<Expr> = partials
        .into_values()
        .map(|(name, e)| e.alias(name.as_str()))
        .collect();
    let passes: Vec<Pass> = passes.iter().map(|p| (*p).clone()).collect();
    let source = source.clone();
    Box::new(move |frame, share| {
        // How the passes share the partial rows is the caller's choice (`share`): polars'
        // common-subplan elimination, a `cache()`, or rows collected beforehand.
        let parts = share(frame.group_by(keys).agg(partial_aggs));
        passes
            .iter()
            .zip(finals)
            .map(|(pass, aggs)| {
                // The period once per partial row, then filtered and grouped on as a column: the
                // expression is a few dozen nodes, which polars would otherwise plan three times.
                let period = period_of_day(col(DAY), pass.key.grain);
                let mut rows = parts.clone().with_column(period.alias(PERIOD)).filter(
                    col(PERIOD)
                        .gt_eq(lit(pass.first))
                        .and(col(PERIOD).lt_eq(lit(pass.last))),
                );
                if let Some(day) = pass.key.through {
                    // Only rows dated through the evaluation day (a period in progress).
                    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
                    rows = rows.filter(col(DAY).lt_eq(lit((day - epoch).num_days())));
                }
                let mut keys = vec![col(PERIOD)];
                for dim in &pass.key.dims {
                    let column = source.dimension_column(dim).unwrap_or_else(|| dim.clone());
                    let ty = source.schema.get(&column);
                    keys.push(dimension_text(col(column.as_str()), ty).alias(dim.as_str()));
                }
                rows.group_by(keys).agg(aggs)
            })
            .collect()
    })
}

/// The rows of a per-entity view for one pass: the base's rows, filtered by the view and by the
/// reading KPI's `where`, grouped by (period, dimension values, key) into one row per entity
/// with the view's columns. Under a window, the base's rows are paired with the windows first,
/// so an entity's columns are taken over the window (`orders` over the last 3 months).
pub fn entity_rows(
    pass: &Pass,
    source: &ir::Source,
    per: &ir::PerEntity,
    rows: &mut RowColumns,
) -> Deferred {
    let entity_filter = pass
        .aggregates
        .first()
        .and_then(|(_, a)| a.entity_filter.clone());
    let filters: Vec<ir::Expr> = per.filters.iter().cloned().chain(entity_filter).collect();
    let mask = filters
        .iter()
        .filter_map(|f| rows.mask(Some(f)))
        .reduce(|a, b| a.and(b));
    let mut keys: Vec<Expr> = Vec::new();
    for dim in &pass.key.dims {
        let column = per
            .base_dimensions
            .get(dim)
            .cloned()
            .unwrap_or_else(|| dim.clone());
        let ty = per.base_schema.get(&column);
        keys.push(rows.dimension(&column, ty).alias(dim.as_str()));
    }
    keys.extend(per.keys.iter().map(|k| col(k.as_str())));
    let fields: Vec<Expr> = per
        .fields
        .iter()
        .map(|(name, e)| {
            lower_entity_column(e, rows)
                .cast(DataType::Float64)
                .alias(name.as_str())
        })
        .collect();
    let period = (!pass.timeless)
        .then(|| rows.period(source.time.as_deref().unwrap_or_default(), pass.key.grain));
    let pass = pass.clone();
    let names: Vec<String> = per.fields.iter().map(|(name, _)| name.clone()).collect();
    let single_key = match per.keys.as_slice() {
        [key] => Some(key.clone()),
        _ => None,
    };
    Box::new(move |frame| {
        let rows = match mask {
            Some(m) => frame.filter(m),
            None => frame,
        };
        let Some(period) = period else {
            return rows.group_by(keys).agg(fields);
        };
        if let Some(window) = pass.key.window {
            return windowed_pass(&pass, window, rows, period, keys, fields);
        }
        let rows = rows.filter(
            period
                .clone()
                .gt_eq(lit(pass.first))
                .and(period.clone().lt_eq(lit(pass.last))),
        );
        if let (true, Some(key)) = (pass.key.dims.is_empty(), &single_key) {
            return by_period_and_key(rows, period, (pass.first, pass.last), key, fields, &names);
        }
        let mut all_keys = vec![period.alias(PERIOD)];
        all_keys.extend(keys);
        rows.group_by(all_keys).agg(fields)
    })
}

/// The column of packed (period, key) pairs (see [`Packing`]).
const PACKED: &str = "__packed";

/// (period, integer key) pairs packed into one integer, `key * periods + (period - first)`,
/// for the periods `first..=last` of a pass. polars groups one integer column on its fast path,
/// while a (period, key) pair is row-encoded into a byte map: at 10M orders, grouping 4.5M
/// (month, customer) pairs that way took twice the time and most of the run's memory. Only
/// keys that cannot overflow the product are packed ([`Packing::packs`]); the others (too
/// large, null, or of a type that is not a small enough integer) are grouped as pairs.
struct Packing {
    first: i64,
    periods: i64,
    /// |key| <= limit keeps key * periods + (periods - 1) within an i64.
    limit: i64,
}

impl Packing {
    /// How to pack keys of this type over these periods, if they can be.
    fn new(dtype: Option<&DataType>, (first, last): (i64, i64)) -> Option<Packing> {
        let integer = matches!(
            dtype?,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
        );
        let periods = last.checked_sub(first)?.checked_add(1)?;
        (integer && periods >= 1).then(|| Packing {
            first,
            periods,
            limit: i64::MAX / periods - 1,
        })
    }

    /// Whether a row's key is packed (false for a null key).
    fn packs(&self, key: Expr) -> Expr {
        let whole = key.cast(DataType::Int64);
        whole
            .clone()
            .gt_eq(lit(-self.limit))
            .and(whole.lt_eq(lit(self.limit)))
            .fill_null(lit(false))
    }

    fn pack(&self, key: Expr, period: Expr) -> Expr {
        (key.cast(DataType::Int64) * lit(self.periods) + (period - lit(self.first))).alias(PACKED)
    }

    fn period(&self) -> Expr {
        (col(PACKED) - self.key() * lit(self.periods) + lit(self.first)).alias(PERIOD)
    }

    fn key(&self) -> Expr {
        col(PACKED).floor_div(lit(self.periods))
    }
}

/// `rows` grouped by (period, key) into `aggs` (named `names`): the rows of a per-entity view
/// with one key and no dimensions, in the periods `range`, packed where they can be.
fn by_period_and_key(
    rows: LazyFrame,
    period: Expr,
    range: (i64, i64),
    key: &str,
    aggs: Vec<Expr>,
    names: &[String],
) -> LazyFrame {
    let pairs = |rows: LazyFrame, aggs: Vec<Expr>| {
        rows.group_by([period.clone().alias(PERIOD), col(key)])
            .agg(aggs)
    };
    let dtype = column_type(&rows, key);
    let Some(packing) = Packing::new(dtype.as_ref(), range) else {
        return pairs(rows, aggs);
    };
    let columns = [
        packing.period(),
        packing
            .key()
            .cast(dtype.unwrap_or(DataType::Int64))
            .alias(key),
    ];
    let packed = rows
        .clone()
        .filter(packing.packs(col(key)))
        .group_by([packing.pack(col(key), period.clone())])
        .agg(aggs.clone())
        .select(
            columns
                .into_iter()
                .chain(names.iter().map(|name| col(name.as_str())))
                .collect::<Vec<_>>(),
        );
    let rest = pairs(
        rows.clone().filter(packing.packs(col(key)).not()),
        aggs.clone(),
    );
    // Both have the same columns, so the union cannot fail; grouping by pairs is always right.
    concat([packed, rest], UnionArgs::default()).unwrap_or_else(|_| pairs(rows, aggs))
}

/// The number of distinct non-null values of column `value` in each period of `range` (the
/// rows are those periods' already): one column `name` by [`PERIOD`], for the periods that have
/// a value. Integer values are packed with their period; the others are counted per period.
fn distinct_by_period(
    rows: LazyFrame,
    period: Expr,
    range: (i64, i64),
    value: &str,
    name: &str,
) -> LazyFrame {
    let counted = |rows: LazyFrame| {
        rows.filter(col(value).is_not_null())
            .group_by([period.clone().alias(PERIOD)])
            .agg([col(value).n_unique().cast(DataType::Int64).alias(name)])
    };
    let Some(packing) = Packing::new(column_type(&rows, value).as_ref(), range) else {
        return counted(rows);
    };
    let packed = rows
        .clone()
        .filter(packing.packs(col(value)))
        .select([packing.pack(col(value), period.clone())])
        .unique(None, UniqueKeepStrategy::Any)
        .group_by([packing.period()])
        .agg([len().cast(DataType::Int64).alias(name)]);
    let rest = counted(rows.clone().filter(packing.packs(col(value)).not()));
    // A value is packed or not whatever its period, so no value is counted twice.
    match concat([packed, rest], UnionArgs::default()) {
        Ok(both) => both
            .group_by([col(PERIOD)])
            .agg([col(name).sum().cast(DataType::Int64)]),
        Err(_) => counted(rows),
    }
}

/// The type of a column of a plan's rows.
fn column_type(rows: &LazyFrame, column: &str) -> Option<DataType> {
    let schema = rows.clone().collect_schema().ok()?;
    schema.get(column).cloned()
}

/// A per-entity view's column: aggregates of one entity's rows, combined.
fn lower_entity_column(expr: &ir::Expr, rows: &mut RowColumns) -> Expr {
    let mut aggregates = Vec::new();
    expr.collect_aggregates(&mut aggregates);
    let lowered: BTreeMap<String, Expr> = aggregates
        .into_iter()
        .map(|a| (a.key(), rows.aggregate(a).0))
        .collect();
    lower_entity_expr(expr, &lowered)
}

fn lower_entity_expr(expr: &ir::Expr, aggregates: &BTreeMap<String, Expr>) -> Expr {
    match expr {
        ir::Expr::Agg(aggregate) => aggregates
            .get(&aggregate.key())
            .cloned()
            .unwrap_or_else(|| lit(NULL)),
        other => lower_with(other, &|e| lower_entity_expr(e, aggregates)),
    }
}

/// A pass over windows (`running`, `rolling`): each row is paired with every period whose
/// window holds it, so that every aggregate, `count_distinct` and `median` included, is computed
/// on the window's rows. Every row is paired, sums included: adding up per-period sums instead
/// gave float sums whose last digits changed from run to run (see ARCHITECTURE.md).
fn windowed_pass(
    pass: &Pass,
    window: ir::Window,
    frame: LazyFrame,
    period: Expr,
    keys: Vec<Expr>,
    aggs: Vec<Expr>,
) -> LazyFrame {
    let pairs = window_pairs(window, pass.key.grain, pass.first, pass.last);
    let first_read = pairs.iter().map(|(p, _)| *p).min().unwrap_or(pass.first);
    let (read, into): (Vec<i64>, Vec<i64>) = pairs.into_iter().unzip();
    let map = DataFrame::new_infer_height(vec![
        Column::new(ROW_PERIOD.into(), read),
        Column::new(PERIOD.into(), into),
    ])
    .map(|df| df.lazy())
    .unwrap_or_default();
    let rows = frame.with_column(period.alias(ROW_PERIOD)).filter(
        col(ROW_PERIOD)
            .gt_eq(lit(first_read))
            .and(col(ROW_PERIOD).lt_eq(lit(pass.last))),
    );
    // No order needs keeping: sums and means are exact whatever order the rows come in, and
    // a `stddev` pass runs in memory, in row order.
    let pairing = JoinArgs::new(JoinType::Inner);
    let mut row_keys = vec![col(PERIOD)];
    row_keys.extend(keys);
    rows.join(map, [col(ROW_PERIOD)], [col(ROW_PERIOD)], pairing)
        .group_by(row_keys)
        .agg(aggs)
}

/// A dimension value as text, the same for equal numbers of any type (`1`, never `1.0`), so
/// that the rows of datasets that store a key as an integer and as a float meet.
pub fn dimension_text(column: Expr, ty: Option<ir::Ty>) -> Expr {
    let text = match ty {
        Some(ir::Ty::Number) => {
            // Whole numbers as integers, exactly (an integer column is never taken through a
            // float, which would merge ids above 2^53); other numbers as they are.
            let whole = column.clone().cast(DataType::Int64);
            let is_whole = whole
                .clone()
                .cast(DataType::Float64)
                .eq(column.clone().cast(DataType::Float64));
            when(is_whole)
                .then(whole.cast(DataType::String))
                .otherwise(column.cast(DataType::String))
        }
        _ => column.cast(DataType::String),
    };
    text.fill_null(lit("(none)"))
}

/// The row-level columns that the aggregates of one group-by read, each computed once: a
/// boolean column per distinct filter, and a column per distinct (filter, argument) holding the
/// argument where the filter holds and null elsewhere. The aggregates are then plain column
/// aggregations (`sum`, `count`, `mean`, ...), which polars computes without splitting the rows
/// of each group (and in its streaming engine), rather than `arg.filter(mask).sum()` per
/// aggregate, which it evaluates group by group, with the filter evaluated again for every
/// aggregate and its row count.
#[derive(Default)]
pub struct RowColumns {
    /// IR key -> column name.
    names: BTreeMap<String, String>,
    /// The columns by stage: a column reads only columns of earlier stages (filters, then
    /// values, then the parts of exact sums).
    stages: [Vec<Expr>; STAGES],
}

const STAGES: usize = 4;
const MASK: usize = 0;
const VALUE_STAGE: usize = 1;
const WHOLE: usize = 2;
const LIMBS: usize = 3;

/// 2^32, the base of the parts of an exact sum.
const LIMB: f64 = 4_294_967_296.0;

/// The parts of an exact sum, each an aggregate that adds up across groups: the sums of the
/// four integer parts of the values, and the float sum of the values too large (2^63 and over)
/// or not finite, which cannot be cut into parts.
#[derive(Debug, Clone, Copy)]
enum SumPart {
    High,
    Low,
    First,
    Second,
    Uncut,
}

const SUM_PARTS: [SumPart; 5] = [
    SumPart::High,
    SumPart::Low,
    SumPart::First,
    SumPart::Second,
    SumPart::Uncut,
];

/// An exact sum from its parts (in the order of [`SUM_PARTS`]).
fn combine_sum(parts: [Expr; 5]) -> Expr {
    let [high, low, first, second, uncut] = parts;
    let f = |e: Expr| e.cast(DataType::Float64);
    // The whole parts first, exactly (integers below 2^53), then the fraction: a negative
    // value's low part is near 2^32, and adding the fraction to it first would round it there.
    let wholes = f(high) * lit(LIMB) + f(low);
    let fraction = (f(second) / lit(LIMB) + f(first)) / lit(LIMB);
    // The values that could not be cut are 0 in every group without one.
    (wholes + fraction) + uncut
}

/// A mean from an exact sum and the number of values: none when there is no value.
fn mean_of(sum: Expr, values: Expr) -> Expr {
    when(values.clone().gt(lit(0)))
        .then(sum / values.cast(DataType::Float64))
        .otherwise(lit(NULL).cast(DataType::Float64))
}

impl RowColumns {
    fn column(&mut self, key: String, stage: usize, make: impl FnOnce() -> Expr) -> Expr {
        if let Some(name) = self.names.get(&key) {
            return col(name.as_str());
        }
        let name = format!("__r{}", self.names.len());
        self.stages[stage].push(make().alias(name.as_str()));
        self.names.insert(key, name.clone());
        col(name.as_str())
    }

    /// The period index of each row on a grain, from its dating column.
    pub fn period(&mut self, time: &str, grain: Grain) -> Expr {
        self.column(format!("p{grain:?}{time}"), MASK, || {
            period_expr(col(time), grain)
        })
    }

    /// A dimension's value as text (see [`dimension_text`]).
    pub fn dimension(&mut self, column: &str, ty: Option<ir::Ty>) -> Expr {
        self.column(format!("d{column}"), MASK, || {
            dimension_text(col(column), ty)
        })
    }

    /// The filter's column, if the aggregate has one.
    fn mask(&mut self, filter: Option<&ir::Expr>) -> Option<Expr> {
        let filter = filter?;
        Some(self.column(format!("m{filter:?}"), MASK, || {
            lower_expr(filter).fill_null(lit(false))
        }))
    }

    /// The argument where the filter holds, null elsewhere; as a number for the aggregates
    /// of numbers.
    fn value(&mut self, aggregate: &ir::Aggregate, arg: &ir::Expr, number: bool) -> Expr {
        col(self.value_name(aggregate, arg, number).as_str())
    }

    /// The name of the column that [`RowColumns::value`] gives, registered if it is new.
    fn value_name(&mut self, aggregate: &ir::Aggregate, arg: &ir::Expr, number: bool) -> String {
        let mask = self.mask(aggregate.filter.as_ref());
        let key = format!("v{number}{:?}{arg:?}", aggregate.filter);
        let _ = self.column(key.clone(), VALUE_STAGE, || {
            let value = lower_expr(arg);
            let value = if number {
                value.cast(DataType::Float64)
            } else {
                value
            };
            match mask {
                Some(m) => when(m).then(value).otherwise(lit(NULL)),
                None => value,
            }
        });
        self.names.get(&key).cloned().unwrap_or_default()
    }

    /// The sum of a column of numbers `v` (named by `key`), exactly to 2^-64 and so the same
    /// whatever order the rows are added in. Each value is cut into four whole numbers below
    /// 2^32 in size — the high and low halves of its whole part, and two 32-bit slices of its
    /// fraction — whose sums are exact integer sums (for fewer than 2^31 rows a group), put
    /// together at the end. Float sums give last digits that depend on the order of the rows,
    /// which the streaming engine does not fix (a report must be the same bytes every run).
    /// A value too large for the parts (2^63 and over), or not finite, is added as a float, to
    /// a float sum of such values alone: no value is ever dropped.
    fn exact_sum(&mut self, key: &str, v: Expr) -> Expr {
        let parts = SUM_PARTS.map(|part| self.exact_sum_part(key, v.clone(), part));
        combine_sum(parts)
    }

    /// One part of an exact sum of `v`, as an aggregate over the rows of a group (see
    /// [`SUM_PARTS`]); adding up a part over several groups gives that part over them all.
    fn exact_sum_part(&mut self, key: &str, v: Expr, part: SumPart) -> Expr {
        let whole = self.column(format!("w{key}"), WHOLE, || v.clone().cast(DataType::Int64));
        let limb = lit(LIMB as i64);
        // The fraction, exact (a float minus its whole part), scaled by 2^32.
        let scaled = (v.clone() - whole.clone().cast(DataType::Float64)) * lit(LIMB);
        match part {
            SumPart::High => self
                .column(format!("h{key}"), LIMBS, || {
                    whole.clone().floor_div(limb.clone())
                })
                .sum(),
            SumPart::Low => self
                .column(format!("l{key}"), LIMBS, || {
                    whole.clone() - whole.clone().floor_div(limb.clone()) * limb.clone()
                })
                .sum(),
            SumPart::First => self
                .column(format!("f{key}"), LIMBS, || {
                    scaled.clone().cast(DataType::Int64)
                })
                .sum(),
            SumPart::Second => self
                .column(format!("s{key}"), LIMBS, || {
                    ((scaled.clone()
                        - scaled.clone().cast(DataType::Int64).cast(DataType::Float64))
                        * lit(LIMB))
                    .cast(DataType::Int64)
                })
                .sum(),
            SumPart::Uncut => self
                .column(format!("u{key}"), LIMBS, || {
                    when(whole.clone().is_null())
                        .then(v.clone())
                        .otherwise(lit(0.0))
                        .fill_null(lit(0.0))
                })
                .sum(),
        }
    }

    /// An aggregate and the count of the rows it reads, over the rows of one group.
    pub fn aggregate(&mut self, aggregate: &ir::Aggregate) -> (Expr, Expr) {
        let rows = match self.mask(aggregate.filter.as_ref()) {
            Some(m) => m.sum().cast(DataType::Int64),
            None => len().cast(DataType::Int64),
        };
        let Some(arg) = &aggregate.arg else {
            // `count()` of rows; resolution gives every other aggregate an argument.
            let value = match aggregate.func {
                AggFunc::Count => rows.clone(),
                _ => lit(NULL).cast(DataType::Float64),
            };
            return (value, rows);
        };
        let number = !matches!(aggregate.func, AggFunc::Count | AggFunc::CountDistinct);
        let v = self.value(aggregate, arg, number);
        let key = format!("{:?}{arg:?}", aggregate.filter);
        let value = match aggregate.func {
            AggFunc::Count => v.count().cast(DataType::Int64),
            // `n_unique` counts null as a value: the rows outside the filter are null.
            AggFunc::CountDistinct => (v.clone().n_unique().cast(DataType::Int64)
                - v.null_count().gt(lit(0)).cast(DataType::Int64))
            .cast(DataType::Int64),
            AggFunc::Sum => self.exact_sum(&key, v),
            AggFunc::Mean => {
                let sum = self.exact_sum(&key, v.clone());
                mean_of(sum, v.count().cast(DataType::Int64))
            }
            AggFunc::Median => v.median(),
            AggFunc::Min => v.min(),
            AggFunc::Max => v.max(),
            AggFunc::Quantile => v.quantile(lit(aggregate.quantile), QuantileMethod::Linear),
            AggFunc::Stddev => v.std(1),
        };
        (value, rows)
    }

    /// The frame with the row-level columns added, stage by stage.
    pub fn attach(self, frame: LazyFrame) -> LazyFrame {
        self.stages
            .into_iter()
            .filter(|exprs| !exprs.is_empty())
            .fold(frame, |frame, exprs| frame.with_columns(exprs))
    }
}

/// How the KPI-level and row-level IR becomes polars expressions. Aggregates become the
/// columns their pass computed (see [`PassPlan`]); `previous` shifts within each dimension group.
#[derive(Clone, Copy)]
pub struct ExprLowering<'a> {
    pub plan: &'a PassPlan,
    pub dims: &'a [String],
    /// The aggregates taken through this day (see [`ir::Aggregate::through`]).
    pub through: Option<chrono::NaiveDate>,
}

impl ExprLowering<'_> {
    pub fn lower(&self, expr: &ir::Expr) -> Expr {
        match expr {
            ir::Expr::Agg(aggregate) => match self
                .plan
                .columns
                .get(&through(aggregate, self.through).key())
            {
                Some((_, column)) => col(column.as_str()),
                None => lit(NULL).cast(DataType::Float64),
            },
            ir::Expr::SelfValue => col(VALUE),
            ir::Expr::Previous(inner, n) => shifted(self.lower(inner), i64::from(*n), self.dims),
            other => lower_with(other, &|e| self.lower(e)),
        }
    }
}

/// `e` n periods earlier with the same dimension values, on a grid sorted by dimension values
/// then period, which has every period.
pub fn shifted(e: Expr, n: i64, dims: &[String]) -> Expr {
    let shifted = e.shift(lit(n));
    if dims.is_empty() {
        shifted
    } else {
        let partition: Vec<Expr> = dims.iter().map(|d| col(d.as_str())).collect();
        shifted.over(partition).unwrap_or_else(|_| lit(NULL))
    }
}

/// The aggregate taken through a day (or as resolved, with `None`).
pub fn through(aggregate: &ir::Aggregate, day: Option<chrono::NaiveDate>) -> ir::Aggregate {
    ir::Aggregate {
        through: day,
        ..aggregate.clone()
    }
}

/// How many nodes polars will see for an expression once it is lowered. A lowered child that
/// is used more than once (the denominator of `/`, the arguments of `min` and `max`, the value
/// of `between` and `in`) is shared as one polars expression, but polars takes the shared parts
/// apart again when it plans, so nesting them multiplies: `min(min(min(...)))` grows threefold
/// at each level. Kept next to [`lower_with`], whose uses it counts.
pub fn lowered_size(expr: &ir::Expr) -> u64 {
    let size = |e: &ir::Expr| lowered_size(e);
    let children: u64 = match expr {
        ir::Expr::Binary(BinaryOp::Div, a, b) => size(a).saturating_add(size(b).saturating_mul(2)),
        ir::Expr::Func(Func::Least | Func::Greatest, args) => args
            .iter()
            .map(size)
            .fold(0u64, u64::saturating_add)
            .saturating_mul(3),
        ir::Expr::Between(e, low, high) => size(e)
            .saturating_mul(2)
            .saturating_add(size(low))
            .saturating_add(size(high)),
        ir::Expr::In(e, list, _) => list.iter().map(size).fold(
            size(e).saturating_mul(list.len().max(1) as u64),
            u64::saturating_add,
        ),
        ir::Expr::Agg(aggregate) => {
            let parts = aggregate.arg.iter().chain(&aggregate.filter);
            // The filter is used twice: in the aggregate and in its row count.
            parts
                .map(size)
                .fold(0u64, u64::saturating_add)
                .saturating_mul(2)
        }
        other => other
            .children()
            .into_iter()
            .map(size)
            .fold(0u64, u64::saturating_add),
    };
    children.saturating_add(1)
}

/// Lowers a row expression (inside an aggregate).
pub fn lower_expr(expr: &ir::Expr) -> Expr {
    lower_with(expr, &lower_expr)
}

/// The cases shared by both levels; `recurse` lowers children.
fn lower_with(expr: &ir::Expr, recurse: &dyn Fn(&ir::Expr) -> Expr) -> Expr {
    crate::deep(|| lower_one(expr, recurse))
}

fn lower_one(expr: &ir::Expr, recurse: &dyn Fn(&ir::Expr) -> Expr) -> Expr {
    let num = |e: &ir::Expr| recurse(e).cast(DataType::Float64);
    match expr {
        ir::Expr::Number(n) => lit(*n),
        ir::Expr::String(s) => lit(s.as_str()),
        ir::Expr::Bool(b) => lit(*b),
        ir::Expr::Date(d) => lit(*d),
        ir::Expr::Null => lit(NULL),
        ir::Expr::Column(c) => col(c.as_str()),
        // A dimension value in a target's `when`: as text, a null value (shown as "(none)")
        // is null again, so that `when region is null` holds for it.
        ir::Expr::Dim(c, ty) => {
            let text = when(col(c.as_str()).eq(lit("(none)")))
                .then(lit(NULL).cast(DataType::String))
                .otherwise(col(c.as_str()));
            match ty {
                ir::Ty::Number => text.cast(DataType::Float64),
                ir::Ty::Bool => text.eq(lit("true")),
                _ => text,
            }
        }
        ir::Expr::Agg(_) | ir::Expr::SelfValue | ir::Expr::Previous(..) => lit(NULL),
        ir::Expr::Unary(UnaryOp::Neg, e) => lit(0.0) - num(e),
        ir::Expr::Unary(UnaryOp::Not, e) => recurse(e).not(),
        ir::Expr::Binary(op, a, b) => match op {
            BinaryOp::Add => num(a) + num(b),
            BinaryOp::Sub => num(a) - num(b),
            BinaryOp::Mul => num(a) * num(b),
            // Division by zero gives null, never infinity.
            BinaryOp::Div => {
                let denominator = num(b);
                when(denominator.clone().eq(lit(0.0)))
                    .then(lit(NULL).cast(DataType::Float64))
                    .otherwise(num(a) / denominator)
            }
            BinaryOp::And => recurse(a).and(recurse(b)),
            BinaryOp::Or => recurse(a).or(recurse(b)),
            BinaryOp::Compare(op) => compare(recurse(a), *op, recurse(b)),
        },
        ir::Expr::IsNull(e, false) => recurse(e).is_null(),
        ir::Expr::IsNull(e, true) => recurse(e).is_not_null(),
        ir::Expr::In(e, list, negated) => {
            let value = recurse(e);
            let any = list
                .iter()
                .map(|item| value.clone().eq(recurse(item)))
                .reduce(|a, b| a.or(b))
                .unwrap_or(lit(false));
            if *negated {
                any.not()
            } else {
                any
            }
        }
        ir::Expr::Between(e, low, high) => {
            let value = recurse(e);
            value
                .clone()
                .gt_eq(recurse(low))
                .and(value.lt_eq(recurse(high)))
        }
        ir::Expr::If(c, t, o) => when(recurse(c)).then(recurse(t)).otherwise(recurse(o)),
        ir::Expr::Func(f, args) => function(*f, args, recurse),
    }
}

pub fn compare(a: Expr, op: CompareOp, b: Expr) -> Expr {
    match op {
        CompareOp::Eq => a.eq(b),
        CompareOp::Ne => a.neq(b),
        CompareOp::Lt => a.lt(b),
        CompareOp::Le => a.lt_eq(b),
        CompareOp::Gt => a.gt(b),
        CompareOp::Ge => a.gt_eq(b),
    }
}

fn function(f: Func, args: &[ir::Expr], recurse: &dyn Fn(&ir::Expr) -> Expr) -> Expr {
    let num = |i: usize| recurse(&args[i]).cast(DataType::Float64);
    let text_arg = |i: usize| match &args[i] {
        ir::Expr::String(s) => lit(s.as_str()),
        other => recurse(other),
    };
    let between =
        |unit_ms: f64| (millis(recurse(&args[1])) - millis(recurse(&args[0]))) / lit(unit_ms);
    match f {
        Func::Abs => num(0).abs(),
        Func::Round => {
            let decimals = match args.get(1) {
                Some(ir::Expr::Number(n)) => *n as u32,
                _ => 0,
            };
            num(0).round(decimals, RoundMode::HalfAwayFromZero)
        }
        Func::Floor => num(0).floor(),
        Func::Ceil => num(0).ceil(),
        // Null on either side gives null, as in arithmetic, whichever side it is on.
        Func::Least | Func::Greatest => {
            // Each argument is lowered once and shared: lowering it again for every use would
            // double the work at every level of `min(min(...), ...)`.
            let (a, b) = (num(0), num(1));
            let first_wins = if f == Func::Least {
                a.clone().lt_eq(b.clone())
            } else {
                a.clone().gt_eq(b.clone())
            };
            when(a.clone().is_null().or(b.clone().is_null()))
                .then(lit(NULL).cast(DataType::Float64))
                .when(first_wins)
                .then(a)
                .otherwise(b)
        }
        Func::Coalesce => coalesce(&args.iter().map(recurse).collect::<Vec<_>>()),
        Func::Sqrt => num(0).sqrt(),
        Func::Ln => num(0).log(lit(std::f64::consts::E)),
        Func::Exp => num(0).exp(),
        Func::Pow => num(0).pow(num(1)),
        Func::DaysBetween => between(86_400_000.0),
        Func::HoursBetween => between(3_600_000.0),
        Func::MinutesBetween => between(60_000.0),
        Func::Year => recurse(&args[0]).dt().year().cast(DataType::Float64),
        Func::Quarter => recurse(&args[0]).dt().quarter().cast(DataType::Float64),
        Func::Month => recurse(&args[0]).dt().month().cast(DataType::Float64),
        Func::Week => recurse(&args[0]).dt().week().cast(DataType::Float64),
        Func::Day => recurse(&args[0]).dt().day().cast(DataType::Float64),
        Func::Weekday => recurse(&args[0]).dt().weekday().cast(DataType::Float64),
        Func::Lower => recurse(&args[0]).str().to_lowercase(),
        Func::Upper => recurse(&args[0]).str().to_uppercase(),
        Func::Contains => recurse(&args[0]).str().contains_literal(text_arg(1)),
        Func::StartsWith => recurse(&args[0]).str().starts_with(text_arg(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_index_is_the_calendars_at_every_day() {
        // Days from 0739-12-27 to 4707-11-29, every 7th, and every day around 1970 and 2000.
        let mut days: Vec<i32> = (-900_000..=1_000_000).step_by(7).collect();
        days.extend(-800..=800);
        days.extend(10_900..=11_100);
        let df = df!("d" => &days).expect("frame");
        let out = df
            .lazy()
            .select([
                period_expr(col("d").cast(DataType::Date), Grain::Month).alias("m"),
                period_expr(col("d").cast(DataType::Date), Grain::Quarter).alias("q"),
                period_expr(col("d").cast(DataType::Date), Grain::Year).alias("y"),
            ])
            .collect()
            .expect("periods");
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        for (i, d) in days.iter().enumerate() {
            let date = epoch + chrono::Duration::days(i64::from(*d));
            for (column, grain) in [
                ("m", Grain::Month),
                ("q", Grain::Quarter),
                ("y", Grain::Year),
            ] {
                let got = out.column(column).unwrap().i64().unwrap().get(i);
                assert_eq!(got, Some(grain.index_of(date)), "{date} {column}");
            }
        }
    }

    fn sum_of(values: Vec<Option<f64>>, func: AggFunc) -> Option<f64> {
        let aggregate = ir::Aggregate {
            source: 0,
            func,
            arg: Some(ir::Expr::Column("x".into())),
            filter: None,
            grain: Grain::Month,
            dims: Vec::new(),
            live: None,
            quantile: 0.5,
            window: None,
            entity_filter: None,
            through: None,
        };
        let mut rows = RowColumns::default();
        let (value, _) = rows.aggregate(&aggregate);
        let df = df!("x" => &values).expect("frame");
        let out = rows
            .attach(df.lazy())
            .select([value.alias("v")])
            .collect()
            .expect("sum");
        out.column("v").unwrap().f64().unwrap().get(0)
    }

    #[test]
    fn sums_are_exact_and_do_not_depend_on_the_order_of_the_rows() {
        // Ten times 0.1 (0.1000000000000000055... as a float) is 1.0000000000000000555...,
        // whose nearest float is 1; added up in order as floats it is 0.9999999999999999.
        assert_eq!(sum_of(vec![Some(0.1); 10], AggFunc::Sum), Some(1.0));
        // 1e16 + 1 + 1 - 1e16 is 2; as floats, in this order, 0.
        let mixed = vec![Some(1e16), Some(1.0), Some(1.0), Some(-1e16)];
        assert_eq!(sum_of(mixed.clone(), AggFunc::Sum), Some(2.0));
        let mut reversed = mixed;
        reversed.reverse();
        assert_eq!(sum_of(reversed, AggFunc::Sum), Some(2.0));
        // Negative fractions, and nulls skipped.
        let values = vec![Some(-0.75), None, Some(2.5), Some(-1.25)];
        assert_eq!(sum_of(values.clone(), AggFunc::Sum), Some(0.5));
        assert_eq!(sum_of(values, AggFunc::Mean), Some(0.5 / 3.0));
        // No value: a sum of 0 and no mean.
        assert_eq!(sum_of(vec![None, None], AggFunc::Sum), Some(0.0));
        assert_eq!(sum_of(vec![None], AggFunc::Mean), None);
        // Too large for the exact parts: a float sum, never a dropped value.
        assert_eq!(
            sum_of(vec![Some(1e19), Some(1e19)], AggFunc::Sum),
            Some(2e19)
        );
        assert_eq!(
            sum_of(vec![Some(f64::INFINITY), Some(1.0)], AggFunc::Sum),
            Some(f64::INFINITY)
        );
    }
}
