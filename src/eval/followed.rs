//! The rows of funnels and cohorts (LANGUAGE 4.7, 4.8): one per entity (a cohort: per entity
//! and age it was active at), dated by when the entity entered, with the dimension values of
//! the row it entered by. A pass over them then counts and averages like over any source.

use chrono::NaiveDate;
use polars::prelude::*;

use super::data::Datasets;
use super::lower::{dimension_text, lower_expr, period_expr, source_frame, Pass};
use crate::compile::ir;

/// The entity's key, as text, so that steps from datasets that store it differently meet.
const KEY: &str = "__key";
/// When a stage's row happened, as a timestamp.
const AT: &str = "__at";
const START_PERIOD: &str = "__start_period";
const ACTIVE_PERIOD: &str = "__active_period";
const MS_PER_DAY: f64 = 86_400_000.0;

/// The entity rows of a funnel or a cohort for one pass, collected (on the in-memory engine:
/// their joins and first-row choices ran slower inside the streamed plan of all passes).
/// Nothing in them depends on the order rows are read in: entering is the earliest time, ties
/// are broken by dimension values, and sums and means over them are exact. `None` when a
/// dataset could not be opened.
pub fn followed_rows(
    pass: &Pass,
    derived: &ir::Derived,
    entity_filter: Option<&ir::Expr>,
    sources: &[ir::Source],
    datasets: &Datasets,
    as_of: NaiveDate,
) -> Option<PolarsResult<LazyFrame>> {
    // Steps and activity are followed only up to the evaluation day: a row dated after it has
    // not happened yet, whatever the files hold (a run `--as-of` a past day sees that day's view).
    let read = Read {
        sources,
        datasets,
        as_of,
    };
    let rows = match derived {
        ir::Derived::Funnel(spec) => funnel_rows(pass, spec, entity_filter, &read)?,
        ir::Derived::Cohort(spec) => cohort_rows(pass, spec, entity_filter, &read)?,
    };
    Some(rows.collect().map(DataFrame::lazy))
}

/// Where the stages' rows come from, and the day they are read through.
struct Read<'a> {
    sources: &'a [ir::Source],
    datasets: &'a Datasets,
    as_of: NaiveDate,
}

/// Milliseconds since 1970 of a timestamp.
fn millis(e: Expr) -> Expr {
    e.cast(DataType::Int64)
}

/// A stage's rows: its source filtered by its view, with the key and the time of each row.
fn stage_rows(
    stage: &ir::Stage,
    entity: &str,
    extra: Option<&ir::Expr>,
    read: &Read<'_>,
) -> Option<LazyFrame> {
    let source = &read.sources[stage.source];
    let time = source.time.clone()?;
    let frame = source_frame(source, read.datasets)?;
    let mask = stage
        .filters
        .iter()
        .chain(extra)
        .map(|f| lower_expr(f).fill_null(lit(false)))
        .reduce(|a, b| a.and(b));
    let frame = match mask {
        Some(m) => frame.filter(m),
        None => frame,
    };
    let key_type = source.schema.get(entity);
    Some(
        frame
            .filter(
                col(entity)
                    .is_not_null()
                    .and(col(time.as_str()).is_not_null())
                    .and(
                        col(time.as_str())
                            .cast(DataType::Date)
                            .lt_eq(lit(read.as_of)),
                    ),
            )
            .with_columns([
                dimension_text(col(entity), key_type).alias(KEY),
                col(time.as_str())
                    .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
                    .alias(AT),
            ]),
    )
}

/// One row per entity: when it entered (its earliest row of the entry stage) and the
/// dimension values of that row; of several rows at that same time, the one whose dimension
/// values come first (as text), so that the choice does not depend on the order of the rows.
fn entities(
    pass: &Pass,
    entry: &ir::Stage,
    entity: &str,
    entity_filter: Option<&ir::Expr>,
    read: &Read<'_>,
) -> Option<LazyFrame> {
    let source = &read.sources[entry.source];
    let rows = stage_rows(entry, entity, entity_filter, read)?;
    let mut dims = Vec::new();
    let mut firsts = Vec::new();
    let mut order = vec![col(AT)];
    order.extend(pass.key.dims.iter().map(|d| col(d.as_str())));
    for dim in &pass.key.dims {
        let column = source.dimension_column(dim).unwrap_or_else(|| dim.clone());
        let ty = source.schema.get(&column);
        dims.push(dimension_text(col(column.as_str()), ty).alias(dim.as_str()));
        firsts.push(
            col(dim.as_str())
                .sort_by(order.clone(), SortMultipleOptions::default())
                .first()
                .alias(dim.as_str()),
        );
    }
    let mut keep = vec![col(KEY), col(AT)];
    keep.extend(dims);
    let mut aggs = vec![col(AT).min().alias(ir::ENTERED)];
    aggs.extend(firsts);
    Some(rows.select(keep).group_by([col(KEY)]).agg(aggs))
}

/// A funnel's entities with, for each step, whether and when it was reached: a row of step k
/// dated no earlier than the time step k-1 was reached and, with `within`, no later than that
/// many days after entering.
fn funnel_rows(
    pass: &Pass,
    spec: &ir::FunnelSpec,
    entity_filter: Option<&ir::Expr>,
    read: &Read<'_>,
) -> Option<LazyFrame> {
    let first = spec.steps.first()?;
    let at = |i: usize| format!("__at_{i}");
    let mut frame = entities(pass, first, &spec.entity, entity_filter, read)?.with_columns([
        col(ir::ENTERED).alias(at(0).as_str()),
        lit(true).alias(ir::reached_column(0).as_str()),
        lit(0.0).alias(ir::days_column(0).as_str()),
    ]);
    for (i, step) in spec.steps.iter().enumerate().skip(1) {
        let rows = stage_rows(step, &spec.entity, None, read)?.select([col(KEY), col(AT)]);
        let previous = at(i - 1);
        let mut in_order = col(AT).gt_eq(col(previous.as_str()));
        if let Some(days) = spec.within_days {
            in_order = in_order.and(
                millis(col(AT)).lt_eq(millis(col(ir::ENTERED)) + lit((days * MS_PER_DAY) as i64)),
            );
        }
        let reached = frame
            .clone()
            .select([col(KEY), col(ir::ENTERED), col(previous.as_str())])
            .join(rows, [col(KEY)], [col(KEY)], JoinArgs::new(JoinType::Inner))
            .filter(in_order.fill_null(lit(false)))
            .group_by([col(KEY)])
            .agg([col(AT).min().alias(at(i).as_str())]);
        frame = frame
            .join(
                reached,
                [col(KEY)],
                [col(KEY)],
                JoinArgs::new(JoinType::Left),
            )
            .with_columns([
                col(at(i).as_str())
                    .is_not_null()
                    .alias(ir::reached_column(i).as_str()),
                ((millis(col(at(i).as_str())) - millis(col(ir::ENTERED))).cast(DataType::Float64)
                    / lit(MS_PER_DAY))
                .alias(ir::days_column(i).as_str()),
            ]);
    }
    Some(frame)
}

/// A cohort's entities, each with one row per age (0 to `periods`) at which it was active at
/// the pass's grain, or one row without an age when it never was: so `size` counts distinct
/// entities and `active(k)` distinct entities at age k.
fn cohort_rows(
    pass: &Pass,
    spec: &ir::CohortSpec,
    entity_filter: Option<&ir::Expr>,
    read: &Read<'_>,
) -> Option<LazyFrame> {
    let grain = pass.key.grain;
    let starts = entities(pass, &spec.start, &spec.entity, entity_filter, read)?
        .with_column(period_expr(col(ir::ENTERED), grain).alias(START_PERIOD));
    let active = stage_rows(&spec.active, &spec.entity, None, read)?
        .select([col(KEY), period_expr(col(AT), grain).alias(ACTIVE_PERIOD)])
        .group_by([col(KEY), col(ACTIVE_PERIOD)])
        .agg([len().alias("__rows")]);
    let age = col(ACTIVE_PERIOD) - col(START_PERIOD);
    let in_range = age
        .clone()
        .gt_eq(lit(0i64))
        .and(age.clone().lt_eq(lit(i64::from(spec.periods))));
    Some(
        starts
            .join(
                active,
                [col(KEY)],
                [col(KEY)],
                JoinArgs::new(JoinType::Left),
            )
            .with_columns([
                when(in_range.fill_null(lit(false)))
                    .then(age.cast(DataType::Float64))
                    .otherwise(lit(NULL).cast(DataType::Float64))
                    .alias(ir::AGE),
                col(KEY).alias(spec.entity.as_str()),
            ]),
    )
}
