//! The abstract syntax tree: what a `.kpi` file says, with spans, before any name is resolved.
//! It holds no pest types and no lifetimes.

use std::collections::HashMap;

use crate::source::Span;
use chrono::NaiveDate;

/// A name with its span: `paid_orders`, or a backticked `` `Order Date` `` (stored unquoted).
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

/// One parsed file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    /// The items that parsed without any error.
    pub items: Vec<Item>,
    /// The items with an error: left out whole, never evaluated on a guess. Their names are kept
    /// so that what uses them can say so, and a broken KPI is reported as failed.
    pub broken: Vec<Broken>,
}

/// An item that did not parse, or parsed with an error in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    /// `kpi`, `view`, `let`, `funnel` or `cohort`; `None` when the text did not start with one.
    pub keyword: Option<&'static str>,
    /// Its name, when the text got that far.
    pub name: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    View(View),
    Let(Let),
    Kpi(Kpi),
    Funnel(Funnel),
    Cohort(Cohort),
}

impl Item {
    pub fn name(&self) -> &Ident {
        match self {
            Item::View(v) => &v.name,
            Item::Let(l) => &l.name,
            Item::Kpi(k) => &k.name,
            Item::Funnel(f) => &f.name,
            Item::Cohort(c) => &c.name,
        }
    }

    /// The keyword that starts it: `view`, `let`, `kpi`, `funnel` or `cohort`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Item::View(_) => "view",
            Item::Let(_) => "let",
            Item::Kpi(_) => "kpi",
            Item::Funnel(_) => "funnel",
            Item::Cohort(_) => "cohort",
        }
    }
}

/// The items of a program's files by name, one map per kind; the first item of a name is
/// the one kept (a second is an error that resolution reports).
#[derive(Debug, Default)]
pub struct Items<'a> {
    pub views: HashMap<&'a str, &'a View>,
    pub lets: HashMap<&'a str, &'a Let>,
    pub kpis: HashMap<&'a str, &'a Kpi>,
    pub funnels: HashMap<&'a str, &'a Funnel>,
    pub cohorts: HashMap<&'a str, &'a Cohort>,
}

impl<'a> Items<'a> {
    /// Every item of the files, the first of each name kept.
    pub fn of(files: &'a [File]) -> Items<'a> {
        let mut items = Items::default();
        for item in files.iter().flat_map(|f| &f.items) {
            items.add(item);
        }
        items
    }

    /// Adds an item under its name, unless one of its kind has that name already.
    pub fn add(&mut self, item: &'a Item) {
        match item {
            Item::View(v) => {
                self.views.entry(&v.name.name).or_insert(v);
            }
            Item::Let(l) => {
                self.lets.entry(&l.name.name).or_insert(l);
            }
            Item::Kpi(k) => {
                self.kpis.entry(&k.name.name).or_insert(k);
            }
            Item::Funnel(f) => {
                self.funnels.entry(&f.name.name).or_insert(f);
            }
            Item::Cohort(c) => {
                self.cohorts.entry(&c.name.name).or_insert(c);
            }
        }
    }
}

/// What a funnel or a cohort says about itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct About {
    pub title: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub owner: Option<Spanned<String>>,
}

/// `funnel NAME { entity KEY  step NAME = VIEW...  within N days }` (LANGUAGE 4.7)
#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    pub name: Ident,
    pub about: About,
    pub entity: Option<Ident>,
    /// Each step is a view of its own, named after the step.
    pub steps: Vec<View>,
    /// `within 90 days`
    pub within: Option<Spanned<f64>>,
    pub span: Span,
}

/// `cohort NAME { entity KEY  start VIEW  active VIEW  periods N }` (LANGUAGE 4.8)
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    pub name: Ident,
    pub about: About,
    pub entity: Option<Ident>,
    pub start: Option<View>,
    pub active: Option<View>,
    pub periods: Option<Spanned<f64>>,
    pub span: Span,
}

/// `view NAME = SOURCE [on COLUMN] [join OTHER on KEY]... [where COND] [per KEYS { NAME = AGG, ... }]`
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub name: Ident,
    pub source: Ident,
    /// `on won_at`: the column that dates the view's rows instead of the dataset's `time`.
    pub on: Option<Ident>,
    /// `join customers on customer_id`: many-to-one lookups, in order.
    pub joins: Vec<Join>,
    /// `where status == "paid"`
    pub filter: Option<Expr>,
    /// `per customer_id { orders = count() }` (section 4.6 of the design; not evaluated yet).
    pub per: Option<Per>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub dataset: Ident,
    pub key: Ident,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Per {
    pub keys: Vec<Ident>,
    pub columns: Vec<(Ident, Expr)>,
    pub span: Span,
}

/// `let NAME = EXPR`, at the top level (shared) or inside a KPI (local).
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: Ident,
    pub expr: Expr,
    pub span: Span,
}

/// `kpi NAME { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct Kpi {
    pub name: Ident,
    pub title: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub owner: Option<Spanned<String>>,
    pub tags: Vec<Ident>,
    /// `format percent`: number | percent | currency | days.
    pub format: Option<Ident>,
    pub decimals: Option<Spanned<f64>>,
    pub unit: Option<Spanned<String>>,
    /// `every month`
    pub every: Option<Ident>,
    /// `pace seasonal`: how a time-bound target projects (linear | seasonal).
    pub pace: Option<Ident>,
    /// `by channel, rep`
    pub by: Vec<Ident>,
    /// `where region != "LATAM"`
    pub filter: Option<Expr>,
    pub lets: Vec<Let>,
    pub value: Option<Expr>,
    pub targets: Vec<Goal>,
    pub warns: Vec<Goal>,
    pub span: Span,
}

impl Kpi {
    /// A KPI with only a name and a span; the parser and `kpi eval` fill in the rest.
    pub fn new(name: Ident, span: Span) -> Kpi {
        Kpi {
            name,
            title: None,
            description: None,
            owner: None,
            tags: Vec::new(),
            format: None,
            decimals: None,
            unit: None,
            every: None,
            pace: None,
            by: Vec::new(),
            filter: None,
            lets: Vec::new(),
            value: None,
            targets: Vec::new(),
            warns: Vec::new(),
            span,
        }
    }
}

/// The condition of a `target` or `warn` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub kind: GoalKind,
    /// `by 2025-12-31`: a time-bound target (section 5.2 of the design; not evaluated yet).
    pub deadline: Option<Spanned<NaiveDate>>,
    /// `when region == "EU"`: the line applies to these dimension values only.
    pub condition: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GoalKind {
    /// `>= EXPR`
    Compare(CompareOp, Expr),
    /// `between A and B`
    Between(Expr, Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    And,
    Or,
    Compare(CompareOp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Not,
}

/// `at start` or `at end` after a dataset with `until` (section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveEdge {
    Start,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `1_200_000`, `3.5`, `25%` (stored as 0.25)
    Number(f64),
    /// `"paid"`
    String(String),
    /// `2025-12-31`
    Date(NaiveDate),
    /// `true`, `false`
    Bool(bool),
    /// `null`
    Null,
    /// `name` or `dataset.column`
    Path { head: Ident, field: Option<Ident> },
    /// `func(arg, ...)`: aggregates, row and scalar functions, `previous`, `growth`, `total`
    Call { func: Ident, args: Vec<CallArg> },
    /// A funnel's or a cohort's numbers: `lead_funnel.won.days` (`member` is `days`),
    /// `signup_retention.active(3)` (`args` are given).
    Member {
        head: Ident,
        field: Ident,
        member: Option<Ident>,
        args: Option<Vec<CallArg>>,
    },
    /// `-x`, `not x`
    Unary { op: UnaryOp, expr: Box<Expr> },
    /// `a + b`, `a and b`, `a >= b`
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `x is null`, `x is not null`
    IsNull { expr: Box<Expr>, negated: bool },
    /// `x in [a, b]`, `x not in [a, b]`
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `x between a and b` (both ends included)
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    /// `if c then a else b`
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
}

/// One argument of a call: `leads where won`, `customers at start`, `orders.amount`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallArg {
    pub expr: Expr,
    pub live: Option<Spanned<LiveEdge>>,
    pub filter: Option<Expr>,
    pub span: Span,
}
