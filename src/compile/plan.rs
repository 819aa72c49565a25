//! Planning: which aggregates share a pass. Every aggregate of every KPI is assigned to a
//! *pass*, one group-by over one source at one grain and one set of dimensions (and one
//! `at start`/`at end` mode), so that adding KPIs over a dataset adds expressions to a scan,
//! not scans. Pure data: the polars back end (`eval::lower`) runs the passes.

use std::collections::BTreeMap;

use super::ir::{self, LiveEdge};
use crate::period::Grain;

/// What makes two aggregates share a pass.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PassKey {
    pub source: ir::SourceId,
    pub grain: Grain,
    pub dims: Vec<String>,
    pub live: Option<LiveEdgeKey>,
    /// `running`/`rolling`: each period's aggregates are taken over the window's rows.
    pub window: Option<ir::Window>,
    /// Over a per-entity view: the reading KPI's `where` on the base's rows, as a key.
    pub entity_filter: Option<String>,
    /// Only rows dated through this day (a time-bound KPI's period in progress).
    pub through: Option<chrono::NaiveDate>,
    /// Its aggregates need the rows themselves (`count_distinct`, `median`, `quantile`,
    /// `stddev`); the others can be computed from partial aggregates, and are kept apart so
    /// that they can be.
    pub raw: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LiveEdgeKey {
    Start,
    End,
}

impl From<LiveEdge> for LiveEdgeKey {
    fn from(edge: LiveEdge) -> Self {
        match edge {
            LiveEdge::Start => LiveEdgeKey::Start,
            LiveEdge::End => LiveEdgeKey::End,
        }
    }
}

/// Pairs of (period whose rows are read, period whose window they fall in) for the periods
/// `first..=last` of a windowed pass, in period order.
pub fn window_pairs(window: ir::Window, grain: Grain, first: i64, last: i64) -> Vec<(i64, i64)> {
    let mut pairs = Vec::new();
    for q in first..=last {
        for p in window.periods(grain, q) {
            pairs.push((p, q));
        }
    }
    pairs
}

/// One group-by and the aggregates it computes.
#[derive(Debug, Clone)]
pub struct Pass {
    pub key: PassKey,
    /// (column name, aggregate)
    pub aggregates: Vec<(String, ir::Aggregate)>,
    /// The periods it must cover, inclusive.
    pub first: i64,
    pub last: i64,
    /// The source has no time column: values hold for every period.
    pub timeless: bool,
}

/// The passes of a program, and which column each aggregate landed in.
#[derive(Debug, Default)]
pub struct PassPlan {
    pub passes: Vec<Pass>,
    /// Aggregate key -> (pass index, column name).
    pub columns: BTreeMap<String, (usize, String)>,
}

impl PassPlan {
    /// Adds an aggregate needed for periods `first..=last`; equal aggregates share a column.
    pub fn add(&mut self, aggregate: &ir::Aggregate, timeless: bool, first: i64, last: i64) {
        let key = PassKey {
            source: aggregate.source,
            grain: aggregate.grain,
            dims: aggregate.dims.clone(),
            live: aggregate.live.map(Into::into),
            window: aggregate.window,
            entity_filter: aggregate.entity_filter.as_ref().map(|f| format!("{f:?}")),
            through: aggregate.through,
            raw: !aggregate.func.decomposable(),
        };
        let pass_index = match self.passes.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                self.passes.push(Pass {
                    key,
                    aggregates: Vec::new(),
                    first,
                    last,
                    timeless,
                });
                self.passes.len() - 1
            }
        };
        let pass = &mut self.passes[pass_index];
        pass.first = pass.first.min(first);
        pass.last = pass.last.max(last);
        let agg_key = aggregate.key();
        if !self.columns.contains_key(&agg_key) {
            let column = format!("a{}", self.columns.len());
            pass.aggregates.push((column.clone(), aggregate.clone()));
            self.columns.insert(agg_key, (pass_index, column));
        }
    }
}
