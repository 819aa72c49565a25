//! The intermediate representation: KPIs whose names are resolved against the datasets'
//! schemas, ready to be lowered to polars plans. Built, printed and tested without polars.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::period::Grain;
use crate::source::{Location, Span};
pub use crate::syntax::ast::{BinaryOp, CompareOp, LiveEdge, UnaryOp};

/// The type of a column or expression, as far as the checks before reading data need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    Number,
    Bool,
    String,
    Date,
    /// A date with a time of day.
    Datetime,
    Null,
    /// Anything else polars can hold (lists, binary, ...): usable only in `count`.
    Other,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::Number => "number",
            Ty::Bool => "boolean",
            Ty::String => "text",
            Ty::Date => "date",
            Ty::Datetime => "timestamp",
            Ty::Null => "null",
            Ty::Other => "other",
        }
    }

    pub fn is_temporal(self) -> bool {
        matches!(self, Ty::Date | Ty::Datetime | Ty::Null)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Number | Ty::Bool | Ty::Null)
    }
}

/// The columns of one dataset, as read from its files' schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    pub columns: Vec<(String, Ty)>,
}

impl Schema {
    pub fn get(&self, name: &str) -> Option<Ty> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }
}

/// A resolved row source: a dataset, its lookups, and the column that dates its rows.
/// Views with the same dataset, joins and time column share one source, so their
/// aggregates share one scan; their filters travel with each aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The dataset or view name the source was first reached by, for messages.
    pub name: String,
    pub dataset: String,
    /// `(dataset, key)` lookups, applied in order.
    pub joins: Vec<(String, String)>,
    pub time: Option<String>,
    pub until: Option<String>,
    /// Conformed dimension name -> column.
    pub dimensions: BTreeMap<String, String>,
    /// Dimensions a lookup maps to a column it cannot bring in (the left side has a column of
    /// that name), with the reason: a KPI split by one is an error, never a wrong column read.
    pub unreadable_dimensions: BTreeMap<String, String>,
    pub schema: Schema,
    /// A per-entity view (`per KEY { ... }`): its rows are built from the base's rows, one per
    /// key, period and dimension values of the KPI that reads it.
    pub per: Option<PerEntity>,
    /// A funnel or a cohort: one row per entity, dated by its entry (see [`Derived`]).
    pub derived: Option<Derived>,
}

/// The column that dates the entities of a funnel or a cohort: when each entered.
pub const ENTERED: &str = "__entered";
/// In a funnel's entity rows: whether step i was reached, and the days it took.
pub fn reached_column(step: usize) -> String {
    format!("__reached_{step}")
}
pub fn days_column(step: usize) -> String {
    format!("__days_{step}")
}
/// In a cohort's rows: how many periods after the entity's start it was active (one row per
/// entity and age; null for an entity never active).
pub const AGE: &str = "__age";

/// Sources whose rows are entities followed through time (LANGUAGE 4.7, 4.8).
#[derive(Debug, Clone, PartialEq)]
pub enum Derived {
    Funnel(FunnelSpec),
    Cohort(CohortSpec),
}

/// A view as a step, a start or an activity: its source and its filters.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub source: SourceId,
    pub filters: Vec<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunnelSpec {
    pub name: String,
    /// The column that holds the entity's key in every step.
    pub entity: String,
    pub steps: Vec<Stage>,
    pub within_days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CohortSpec {
    pub name: String,
    pub entity: String,
    pub start: Stage,
    pub active: Stage,
    /// Ages 0 to `periods`.
    pub periods: u32,
}

impl Derived {
    /// The stage whose rows carry an entity's dimension values: the first step, the start.
    pub fn entry(&self) -> &Stage {
        match self {
            Derived::Funnel(f) => &f.steps[0],
            Derived::Cohort(c) => &c.start,
        }
    }

    pub fn stages(&self) -> Vec<&Stage> {
        match self {
            Derived::Funnel(f) => f.steps.iter().collect(),
            Derived::Cohort(c) => vec![&c.start, &c.active],
        }
    }
}

/// `view buyers = paid_orders per customer_id { orders = count(), spent = sum(amount) }`
/// (LANGUAGE 4.6). `dataset`, `joins` and `time` of the source are the base's.
#[derive(Debug, Clone, PartialEq)]
pub struct PerEntity {
    pub base: SourceId,
    /// The key columns of the base: one row per value (tuple).
    pub keys: Vec<String>,
    /// The named columns: expressions of aggregates over the base's rows of one entity.
    pub fields: Vec<(String, Expr)>,
    /// The base view's filters and the view's own `where`, on the base's rows.
    pub filters: Vec<Expr>,
    /// The base's dimensions and schema: a reading KPI's `by` groups the base's rows.
    pub base_dimensions: BTreeMap<String, String>,
    pub base_schema: Schema,
}

impl Source {
    /// The column that holds a dimension, by mapping or by name. The rows of a per-entity view
    /// carry each dimension of the base under the dimension's own name.
    pub fn dimension_column(&self, dimension: &str) -> Option<String> {
        if self.derived.is_some() {
            // The entry's dimensions, copied at resolution, under their own names.
            return self
                .dimensions
                .contains_key(dimension)
                .then(|| dimension.to_string());
        }
        if let Some(per) = &self.per {
            let known = per.base_dimensions.contains_key(dimension)
                || per.base_schema.get(dimension).is_some();
            return known.then(|| dimension.to_string());
        }
        if let Some(column) = self.dimensions.get(dimension) {
            return Some(column.clone());
        }
        self.schema.get(dimension).map(|_| dimension.to_string())
    }
}

pub type SourceId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Number,
    Percent,
    Currency,
    Days,
}

/// Every resolved KPI of a project, and the sources they read.
#[derive(Debug, Clone, Default)]
pub struct Program {
    pub sources: Vec<Source>,
    pub kpis: Vec<Kpi>,
}

/// What a KPI says about itself, carried unchanged from definition to report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KpiMeta {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub format: Format,
    pub decimals: Option<u32>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Kpi {
    pub meta: KpiMeta,
    pub grain: Grain,
    pub dims: Vec<String>,
    pub value: Expr,
    pub targets: Vec<Goal>,
    pub warns: Vec<Goal>,
    /// A time-bound target (`target ... by DATE`, LANGUAGE 5.2).
    pub deadline: Option<Deadline>,
    /// Over a funnel or a cohort: how long its cohorts take to mature.
    pub maturity: Maturity,
    /// Over a funnel or a cohort: the steps or the triangle the reports draw.
    pub drawing: Option<Drawing>,
    pub location: Location,
    pub span: Span,
}

impl Kpi {
    /// How many periods before the first reported one the expressions look back.
    pub fn max_lag(&self) -> u32 {
        let mut lag = self.value.max_lag();
        for goal in self.targets.iter().chain(&self.warns) {
            lag = lag.max(goal.max_lag());
        }
        lag
    }

    /// Every aggregate the KPI computes, in the order they appear.
    pub fn aggregates(&self) -> Vec<&Aggregate> {
        let mut out = Vec::new();
        self.value.collect_aggregates(&mut out);
        for goal in self.targets.iter().chain(&self.warns) {
            for e in goal.exprs() {
                e.collect_aggregates(&mut out);
            }
        }
        out
    }
}

/// How long a KPI's cohorts take to mature (LANGUAGE 4.7, 4.8): a period is judged once this
/// many days have passed after its last day and this many more periods have completed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Maturity {
    pub days: f64,
    pub periods: u32,
}

/// What the reports draw for a KPI over a funnel or a cohort, as expressions computed with it.
#[derive(Debug, Clone)]
pub enum Drawing {
    /// Each step: its name, the entities that reached it, and the mean days it took.
    Funnel {
        name: String,
        title: Option<String>,
        steps: Vec<(String, Expr, Expr)>,
    },
    /// The cohort's size and its active entities at each age.
    Cohort {
        name: String,
        title: Option<String>,
        size: Expr,
        active: Vec<Expr>,
    },
}

impl Drawing {
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Drawing::Funnel { steps, .. } => steps.iter().flat_map(|(_, n, d)| [n, d]).collect(),
            Drawing::Cohort { size, active, .. } => std::iter::once(size).chain(active).collect(),
        }
    }
}

/// `target >= 1_200_000 by 2025-12-31`: the target is for the period of the KPI's grain that
/// ends on `date`; before it ends, the period in progress is judged on its pace.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    pub date: NaiveDate,
    /// The period that ends on `date`.
    pub period: i64,
    pub pace: Pace,
    /// How the value accrues, if it does (None: a ratio or the like, judged as it stands).
    pub accrual: Option<Accrual>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// value x days in the period / days elapsed
    Linear,
    /// value / the share of last year's same period that had accrued by the same day
    Seasonal,
}

/// How an additive value accrues towards its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accrual {
    /// Over the deadline's period (a sum or a count).
    Period,
    /// From the start of the coarser period that holds the deadline's (a `running` sum).
    Running(Grain),
}

/// One `target` or `warn` line.
#[derive(Debug, Clone)]
pub struct Goal {
    pub test: GoalTest,
    /// Only rows whose dimension values satisfy this use the line.
    pub condition: Option<Expr>,
    /// The line as written after the keyword, for reports: `>= 15%`.
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum GoalTest {
    Compare(CompareOp, Expr),
    Between(Expr, Expr),
}

impl Goal {
    /// The bound expressions and the condition.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut out = match &self.test {
            GoalTest::Compare(_, e) => vec![e],
            GoalTest::Between(a, b) => vec![a, b],
        };
        out.extend(&self.condition);
        out
    }

    fn max_lag(&self) -> u32 {
        self.exprs().iter().map(|e| e.max_lag()).max().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// Rows (no argument) or non-null values.
    Count,
    CountDistinct,
    Sum,
    Mean,
    Median,
    Min,
    Max,
    Quantile,
    Stddev,
}

impl AggFunc {
    /// Whether the aggregate of no rows is 0 rather than null.
    pub fn zero_when_empty(self) -> bool {
        matches!(self, AggFunc::Count | AggFunc::CountDistinct | AggFunc::Sum)
    }

    /// Whether the aggregate of a set of rows can be worked out from the aggregates of its
    /// parts (a count from counts, a sum from sums): then a pass can be computed from partial
    /// aggregates by day and dimension values (`eval::lower::rollup`).
    pub fn decomposable(self) -> bool {
        matches!(
            self,
            AggFunc::Count | AggFunc::Sum | AggFunc::Mean | AggFunc::Min | AggFunc::Max
        )
    }
}

/// A window over periods (LANGUAGE 4.5): the aggregate of period q is computed on the rows of
/// every period of the window, not by adding up finished values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Window {
    /// `running(x, GRAIN)`: from the start of the coarser period that holds q, through q.
    Running(Grain),
    /// `rolling(x, n)`: the last n periods, q included.
    Rolling(u32),
}

impl Window {
    /// The periods (at `grain`) whose rows make up the window of period `q`.
    pub fn periods(self, grain: Grain, q: i64) -> std::ops::RangeInclusive<i64> {
        match self {
            Window::Rolling(n) => q - i64::from(n) + 1..=q,
            Window::Running(coarser) => {
                let anchor = grain.within(q, coarser);
                let mut first = q;
                while grain.within(first - 1, coarser) == anchor {
                    first -= 1;
                }
                first..=q
            }
        }
    }

    /// How it is written: `running(…, year)`, `rolling(…, 3)`.
    pub fn describe(self) -> String {
        match self {
            Window::Running(grain) => format!("running(…, {})", grain.name()),
            Window::Rolling(n) => format!("rolling(…, {n})"),
        }
    }
}

/// One aggregate: computed per (period, dims) on its source, then joined to the KPI's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub source: SourceId,
    pub func: AggFunc,
    /// `None` counts rows.
    pub arg: Option<Expr>,
    /// View filters, the KPI's `where` and the aggregate's own `where`, joined with `and`.
    pub filter: Option<Expr>,
    pub grain: Grain,
    /// The dimensions it is grouped by: the KPI's `by`, or none inside `total()`.
    pub dims: Vec<String>,
    pub live: Option<LiveEdge>,
    /// The probability of `quantile`.
    pub quantile: f64,
    /// `running`/`rolling`: the aggregate of each period is taken over the window's rows.
    pub window: Option<Window>,
    /// Over a per-entity view: the reading KPI's `where`, on the base's rows the entities are
    /// built from (`filter` is on the entities' rows).
    pub entity_filter: Option<Expr>,
    /// Only rows dated through this day: a time-bound KPI's period in progress is taken up to
    /// the evaluation day. Set when the program is planned, never by resolution.
    pub through: Option<NaiveDate>,
}

impl Aggregate {
    /// A key that is equal for aggregates that compute the same thing.
    pub fn key(&self) -> String {
        format!("{self:?}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Abs,
    Round,
    Floor,
    Ceil,
    Least,
    Greatest,
    Coalesce,
    Sqrt,
    Ln,
    Exp,
    Pow,
    DaysBetween,
    HoursBetween,
    MinutesBetween,
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Weekday,
    Lower,
    Upper,
    Contains,
    StartsWith,
}

/// An expression. At KPI level it combines aggregates; inside an aggregate it is a row
/// expression over the aggregate's source, where `Column` may appear and `Agg` may not.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    String(String),
    Bool(bool),
    Date(NaiveDate),
    Null,
    /// A column of the source (row expressions only).
    Column(String),
    /// A dimension value of the KPI's row (target conditions only), and the kind of value the
    /// datasets hold in it.
    Dim(String, Ty),
    /// An aggregate (KPI level only).
    Agg(Box<Aggregate>),
    /// The KPI's own value, as reached by a bare `previous` in a target.
    SelfValue,
    /// `previous(x, n)`: `x` n periods earlier with the same dimension values.
    Previous(Box<Expr>, u32),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Func(Func, Vec<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>, bool),
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
}

impl Expr {
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Number(_)
            | Expr::String(_)
            | Expr::Bool(_)
            | Expr::Date(_)
            | Expr::Null
            | Expr::Column(_)
            | Expr::Dim(..)
            | Expr::Agg(_)
            | Expr::SelfValue => vec![],
            Expr::Previous(e, _) | Expr::Unary(_, e) | Expr::IsNull(e, _) => vec![e],
            Expr::Binary(_, a, b) => vec![a, b],
            Expr::Func(_, args) => args.iter().collect(),
            Expr::If(a, b, c) | Expr::Between(a, b, c) => vec![a, b, c],
            Expr::In(e, list, _) => std::iter::once(&**e).chain(list).collect(),
        }
    }

    /// The same expression with `f` applied to each direct child (aggregates are leaves).
    pub fn map_children(self, mut f: impl FnMut(Expr) -> Expr) -> Expr {
        let mut b = |e: Box<Expr>| Box::new(f(*e));
        match self {
            Expr::Previous(e, n) => Expr::Previous(b(e), n),
            Expr::Unary(op, e) => Expr::Unary(op, b(e)),
            Expr::IsNull(e, negated) => Expr::IsNull(b(e), negated),
            Expr::Binary(op, l, r) => {
                let l = b(l);
                Expr::Binary(op, l, b(r))
            }
            Expr::If(c, t, o) => {
                let c = b(c);
                let t = b(t);
                Expr::If(c, t, b(o))
            }
            Expr::Between(e, l, h) => {
                let e = b(e);
                let l = b(l);
                Expr::Between(e, l, b(h))
            }
            Expr::In(e, list, negated) => {
                let e = b(e);
                Expr::In(
                    e,
                    list.into_iter().map(|x| *b(Box::new(x))).collect(),
                    negated,
                )
            }
            Expr::Func(func, args) => {
                Expr::Func(func, args.into_iter().map(|x| *b(Box::new(x))).collect())
            }
            leaf => leaf,
        }
    }

    /// How the expression accrues, if it is additive (LANGUAGE 5.2): a sum or a count, plain
    /// or `running`, or such values combined by `+`, `-` and multiplication or division by a
    /// constant. Parts that accrue differently (a running sum plus a plain one) are not additive.
    pub fn accrual(&self) -> Option<Accrual> {
        fn constant(e: &Expr) -> bool {
            let mut aggregates = Vec::new();
            e.collect_aggregates(&mut aggregates);
            aggregates.is_empty() && e.max_lag() == 0 && !matches!(e, Expr::SelfValue)
        }
        match self {
            Expr::Agg(a) => {
                let additive = matches!(a.func, AggFunc::Sum | AggFunc::Count) && a.live.is_none();
                match (additive, a.window) {
                    (true, None) => Some(Accrual::Period),
                    (true, Some(Window::Running(grain))) => Some(Accrual::Running(grain)),
                    _ => None,
                }
            }
            Expr::Unary(UnaryOp::Neg, e) => e.accrual(),
            Expr::Binary(BinaryOp::Add | BinaryOp::Sub, a, b) => {
                let (a, b) = (a.accrual()?, b.accrual()?);
                (a == b).then_some(a)
            }
            Expr::Binary(BinaryOp::Mul, a, b) if constant(a) => b.accrual(),
            Expr::Binary(BinaryOp::Mul | BinaryOp::Div, a, b) if constant(b) => a.accrual(),
            _ => None,
        }
    }

    /// Whether the expression is a quantity: counts and sums, of a period or of any window,
    /// combined by `+`, `-` and constant factors (a count of customers at the end of a month, a
    /// rolling sum); a chart of one starts at zero.
    pub fn is_quantity(&self) -> bool {
        fn constant(e: &Expr) -> bool {
            let mut aggregates = Vec::new();
            e.collect_aggregates(&mut aggregates);
            aggregates.is_empty() && !matches!(e, Expr::SelfValue)
        }
        match self {
            Expr::Agg(a) => matches!(a.func, AggFunc::Sum | AggFunc::Count),
            Expr::Unary(UnaryOp::Neg, e) => e.is_quantity(),
            Expr::Binary(BinaryOp::Add | BinaryOp::Sub, a, b) => a.is_quantity() && b.is_quantity(),
            Expr::Binary(BinaryOp::Mul, a, b) if constant(a) => b.is_quantity(),
            Expr::Binary(BinaryOp::Mul | BinaryOp::Div, a, b) if constant(b) => a.is_quantity(),
            _ => false,
        }
    }

    /// How many nodes the expression has, aggregates' arguments and filters included.
    pub fn size(&self) -> usize {
        let own = match self {
            Expr::Agg(a) => a.arg.iter().chain(&a.filter).map(Expr::size).sum(),
            _ => 0,
        };
        1 + own + self.children().iter().map(|c| c.size()).sum::<usize>()
    }

    pub fn max_lag(&self) -> u32 {
        let own = match self {
            Expr::Previous(_, n) => *n,
            _ => 0,
        };
        own + self
            .children()
            .iter()
            .map(|c| c.max_lag())
            .max()
            .unwrap_or(0)
    }

    pub fn collect_aggregates<'a>(&'a self, out: &mut Vec<&'a Aggregate>) {
        if let Expr::Agg(a) = self {
            out.push(a);
        }
        for child in self.children() {
            child.collect_aggregates(out);
        }
    }
}
