//! `kpi explain NAME`: where a KPI's number comes from. Its lineage as written (the KPI, the
//! lets and KPIs it reads, their aggregates, the views and datasets under them, each with its
//! file and line), every filter in effect and where it is written, how each dataset gives the
//! KPI's dimensions, and which pass computes each aggregate with the other KPIs that share it.
//! Plain data, serialisable; the lineage comes from the syntax tree (which has the places),
//! the passes from the resolved program and its plan (which have the computation).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::compile::ir;
use crate::compile::plan::PassPlan;
use crate::manifest::Manifest;
use crate::source::{Location, SourceMap};
use crate::syntax::ast;

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub name: String,
    pub title: Option<String>,
    pub location: Location,
    pub grain: String,
    /// The judged period on the evaluation day; none when the KPI could not be computed.
    pub period: Option<String>,
    pub as_of: String,
    /// The KPI and what it reads, as a tree.
    pub lineage: Node,
    /// Every `where` that applies to some of its rows, and where it is written.
    pub filters: Vec<Filter>,
    /// For each dimension of `by`, the column each dataset gives it from.
    pub dimensions: Vec<Dimension>,
    /// Each aggregate, the pass that computes it, and the other KPIs that read that pass.
    pub aggregates: Vec<Computed>,
    /// polars' optimised plan of those passes (`--plan`).
    pub plan: Option<String>,
}

/// One thing in the lineage: `kpi`, `let`, `aggregate`, `view`, `funnel`, `cohort` or
/// `dataset`.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub kind: &'static str,
    pub name: String,
    /// What it says: an aggregate or a let as written, a dataset's file and dating column.
    pub text: Option<String>,
    pub location: Option<Location>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filter {
    /// The condition as written.
    pub text: String,
    /// What it filters: `kpi cost_per_lead`, `view paid_orders`, `sum(orders.amount where ...)`.
    pub on: String,
    pub location: Location,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dimension {
    pub name: String,
    pub columns: Vec<DimensionColumn>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionColumn {
    /// The dataset or view read.
    pub source: String,
    pub column: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Computed {
    /// `sum(amount)` over `orders`, as resolved.
    pub aggregate: String,
    pub source: String,
    /// The pass's index, and what it groups: `orders by month, channel`.
    pub pass: Option<usize>,
    pub pass_text: String,
    /// The other KPIs with an aggregate in the same pass.
    pub shared_with: Vec<String>,
}

/// The aggregates of the language, and `min`/`max` with one argument.
fn is_aggregate(func: &str, args: usize) -> bool {
    matches!(
        func,
        "count" | "count_distinct" | "sum" | "mean" | "avg" | "median" | "quantile" | "stddev"
    ) || (matches!(func, "min" | "max") && args == 1)
}

/// Follows a KPI's names down to the datasets, collecting the filters on the way.
struct Walker<'a> {
    items: ast::Items<'a>,
    sources: &'a SourceMap,
    manifest: &'a Manifest,
    filters: Vec<Filter>,
    /// Items being followed: a cycle (an error resolve reports) stops here.
    open: BTreeSet<String>,
}

impl<'a> Walker<'a> {
    fn text(&self, span: crate::source::Span) -> String {
        self.sources.one_line(span)
    }

    fn filter(&mut self, expr: &ast::Expr, on: String) {
        let filter = Filter {
            text: self.text(expr.span),
            on,
            location: self.sources.location(expr.span),
        };
        if !self.filters.contains(&filter) {
            self.filters.push(filter);
        }
    }

    fn kpi(&mut self, kpi: &'a ast::Kpi) -> Node {
        let mut children = Vec::new();
        let key = format!("kpi {}", kpi.name.name);
        if self.open.insert(key.clone()) {
            if let Some(filter) = &kpi.filter {
                self.filter(filter, key.clone());
            }
            let locals: BTreeMap<&str, &ast::Let> =
                kpi.lets.iter().map(|l| (l.name.name.as_str(), l)).collect();
            if let Some(value) = &kpi.value {
                self.expr(value, &locals, &mut children);
            }
            for goal in kpi.targets.iter().chain(&kpi.warns) {
                match &goal.kind {
                    ast::GoalKind::Compare(_, e) => self.expr(e, &locals, &mut children),
                    ast::GoalKind::Between(a, b) => {
                        self.expr(a, &locals, &mut children);
                        self.expr(b, &locals, &mut children);
                    }
                }
            }
            self.open.remove(&key);
        }
        Node {
            kind: "kpi",
            name: kpi.name.name.clone(),
            text: kpi.value.as_ref().map(|v| self.text(v.span)),
            location: Some(self.sources.location(kpi.name.span)),
            children,
        }
    }

    fn expr(
        &mut self,
        expr: &'a ast::Expr,
        locals: &BTreeMap<&str, &'a ast::Let>,
        out: &mut Vec<Node>,
    ) {
        match &expr.kind {
            ast::ExprKind::Path { head, field: None } => {
                let name = head.name.as_str();
                if let Some(l) = locals
                    .get(name)
                    .copied()
                    .or(self.items.lets.get(name).copied())
                {
                    let key = format!("let {name}");
                    let mut children = Vec::new();
                    if self.open.insert(key.clone()) {
                        // A shared let sees shared names only; a local one sees the KPI's lets.
                        let scope = if locals.contains_key(name) {
                            locals.clone()
                        } else {
                            BTreeMap::new()
                        };
                        self.expr(&l.expr, &scope, &mut children);
                        self.open.remove(&key);
                    }
                    push_new(
                        out,
                        Node {
                            kind: "let",
                            name: name.to_string(),
                            text: Some(self.text(l.expr.span)),
                            location: Some(self.sources.location(l.name.span)),
                            children,
                        },
                    );
                } else if let Some(kpi) = self.items.kpis.get(name).copied() {
                    let node = self.kpi(kpi);
                    push_new(out, node);
                }
            }
            // `lead_funnel.won`, `signup_retention.size`: a funnel's or a cohort's numbers.
            ast::ExprKind::Path { head, .. } => {
                if let Some(node) = self.followed(&head.name) {
                    push_new(out, node);
                }
            }
            ast::ExprKind::Call { func, args } if is_aggregate(&func.name, args.len()) => {
                let text = self.text(expr.span);
                let mut children = Vec::new();
                if let Some(arg) = args.first() {
                    if let Some(filter) = &arg.filter {
                        self.filter(filter, text.clone());
                    }
                    if let ast::ExprKind::Path { head, .. } = &arg.expr.kind {
                        children.extend(self.source(&head.name));
                    }
                }
                out.push(Node {
                    kind: "aggregate",
                    name: func.name.clone(),
                    text: Some(text),
                    location: Some(self.sources.location(expr.span)),
                    children,
                });
            }
            ast::ExprKind::Call { args, .. } => {
                for arg in args {
                    self.expr(&arg.expr, locals, out);
                }
            }
            ast::ExprKind::Member { head, .. } => {
                if let Some(node) = self.followed(&head.name) {
                    push_new(out, node);
                }
            }
            ast::ExprKind::Unary { expr, .. } | ast::ExprKind::IsNull { expr, .. } => {
                self.expr(expr, locals, out)
            }
            ast::ExprKind::Binary { left, right, .. } => {
                self.expr(left, locals, out);
                self.expr(right, locals, out);
            }
            ast::ExprKind::In { expr, list, .. } => {
                self.expr(expr, locals, out);
                for e in list {
                    self.expr(e, locals, out);
                }
            }
            ast::ExprKind::Between { expr, low, high } => {
                for e in [expr, low, high] {
                    self.expr(e, locals, out);
                }
            }
            ast::ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                for e in [cond, then, otherwise] {
                    self.expr(e, locals, out);
                }
            }
            ast::ExprKind::Number(_)
            | ast::ExprKind::String(_)
            | ast::ExprKind::Date(_)
            | ast::ExprKind::Bool(_)
            | ast::ExprKind::Null => {}
        }
    }

    /// A view (with what it reads) or a dataset, by name.
    fn source(&mut self, name: &str) -> Option<Node> {
        if let Some(view) = self.items.views.get(name).copied() {
            return Some(self.view(view, "view"));
        }
        if let Some(followed) = self.followed(name) {
            return Some(followed);
        }
        let config = self.manifest.datasets.get(name)?;
        let mut text = config.path.clone();
        if let Some(time) = &config.time {
            text.push_str(&format!(", dated by `{time}`"));
        }
        Some(Node {
            kind: "dataset",
            name: name.to_string(),
            text: Some(text),
            location: None,
            children: Vec::new(),
        })
    }

    fn view(&mut self, view: &'a ast::View, kind: &'static str) -> Node {
        let key = format!("view {}", view.name.name);
        let mut children = Vec::new();
        if self.open.insert(key.clone()) {
            if let Some(filter) = &view.filter {
                self.filter(filter, format!("{kind} {}", view.name.name));
            }
            children.extend(self.source(&view.source.name));
            for join in &view.joins {
                children.extend(self.source(&join.dataset.name));
            }
            self.open.remove(&key);
        }
        Node {
            kind,
            name: view.name.name.clone(),
            text: Some(self.text(view.span)),
            location: Some(self.sources.location(view.name.span)),
            children,
        }
    }

    /// A funnel (its steps) or a cohort (its start and activity), by name.
    fn followed(&mut self, name: &str) -> Option<Node> {
        let (kind, item_name, stages): (&'static str, &ast::Ident, Vec<&'a ast::View>) =
            if let Some(f) = self.items.funnels.get(name).copied() {
                ("funnel", &f.name, f.steps.iter().collect())
            } else if let Some(c) = self.items.cohorts.get(name).copied() {
                (
                    "cohort",
                    &c.name,
                    c.start.iter().chain(c.active.iter()).collect(),
                )
            } else {
                return None;
            };
        let key = format!("{kind} {name}");
        let mut children = Vec::new();
        if self.open.insert(key.clone()) {
            for stage in stages {
                children.push(self.view(stage, "step"));
            }
            self.open.remove(&key);
        }
        Some(Node {
            kind,
            name: name.to_string(),
            text: None,
            location: Some(self.sources.location(item_name.span)),
            children,
        })
    }
}

/// Adds a node unless the same one (a name read twice, as `f.won / f.lead` reads `f`) is
/// there already.
fn push_new(out: &mut Vec<Node>, node: Node) {
    let same = |n: &&Node| {
        n.kind == node.kind
            && n.name == node.name
            && n.text == node.text
            && n.location == node.location
    };
    if !out.iter().any(|n| same(&n)) {
        out.push(node);
    }
}

/// What `explain` needs of a project: its definitions, the resolved program and its plan.
pub struct Input<'a> {
    pub files: &'a [ast::File],
    pub sources: &'a SourceMap,
    pub manifest: &'a Manifest,
    pub program: &'a ir::Program,
    pub plan: &'a PassPlan,
}

/// The explanation of the KPI `name`; none when there is no KPI by that name that resolved.
pub fn explain(input: &Input<'_>, name: &str) -> Option<Explanation> {
    let ir_kpi = input.program.kpis.iter().find(|k| k.meta.name == name)?;
    let items = ast::Items::of(input.files);
    let ast_kpi = *items.kpis.get(name)?;
    let mut walker = Walker {
        items,
        sources: input.sources,
        manifest: input.manifest,
        filters: Vec::new(),
        open: BTreeSet::new(),
    };
    let lineage = walker.kpi(ast_kpi);
    Some(Explanation {
        name: name.to_string(),
        title: ir_kpi.meta.title.clone(),
        location: ir_kpi.location.clone(),
        grain: ir_kpi.grain.name().to_string(),
        period: None,
        as_of: String::new(),
        lineage,
        filters: walker.filters,
        dimensions: dimensions(input.program, ir_kpi),
        aggregates: computed(input.program, input.plan, ir_kpi),
        plan: None,
    })
}

/// For each dimension of the KPI, the column each source it reads gives it from.
fn dimensions(program: &ir::Program, kpi: &ir::Kpi) -> Vec<Dimension> {
    // The sources of the aggregates split by the KPI's dimensions (not those in `total()`).
    let read: BTreeSet<ir::SourceId> = kpi
        .aggregates()
        .iter()
        .filter(|a| !a.dims.is_empty())
        .map(|a| a.source)
        .collect();
    kpi.dims
        .iter()
        .map(|dim| Dimension {
            name: dim.clone(),
            columns: read
                .iter()
                .map(|id| {
                    let source = &program.sources[*id];
                    DimensionColumn {
                        source: source.name.clone(),
                        column: source
                            .dimensions
                            .get(dim)
                            .cloned()
                            .unwrap_or_else(|| dim.clone()),
                    }
                })
                .collect(),
        })
        .collect()
}

fn agg_name(func: ir::AggFunc) -> &'static str {
    match func {
        ir::AggFunc::Count => "count",
        ir::AggFunc::CountDistinct => "count_distinct",
        ir::AggFunc::Sum => "sum",
        ir::AggFunc::Mean => "mean",
        ir::AggFunc::Median => "median",
        ir::AggFunc::Min => "min",
        ir::AggFunc::Max => "max",
        ir::AggFunc::Quantile => "quantile",
        ir::AggFunc::Stddev => "stddev",
    }
}

/// Each aggregate of the KPI with the pass that computes it.
fn computed(program: &ir::Program, plan: &PassPlan, kpi: &ir::Kpi) -> Vec<Computed> {
    // Which KPIs read each pass.
    let mut readers: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    for other in &program.kpis {
        for a in other.aggregates() {
            if let Some((pass, _)) = plan.columns.get(&a.key()) {
                readers.entry(*pass).or_default().insert(&other.meta.name);
            }
        }
    }
    let mut seen = BTreeSet::new();
    kpi.aggregates()
        .into_iter()
        .filter(|a| seen.insert(a.key()))
        .map(|a| {
            let source = &program.sources[a.source];
            let arg = match &a.arg {
                Some(ir::Expr::Column(c)) => c.clone(),
                Some(_) => "an expression".to_string(),
                None => String::new(),
            };
            let pass = plan.columns.get(&a.key()).map(|(p, _)| *p);
            let pass_text = match pass {
                Some(p) => {
                    let key = &plan.passes[p].key;
                    let mut text = format!("{} by {}", source.name, key.grain.name());
                    for dim in &key.dims {
                        text.push_str(&format!(", {dim}"));
                    }
                    match key.window {
                        Some(ir::Window::Running(grain)) => text.push_str(&format!(
                            ", running from the start of each {}",
                            grain.name()
                        )),
                        Some(ir::Window::Rolling(n)) => {
                            text.push_str(&format!(", rolling over {n} periods"))
                        }
                        None => {}
                    }
                    match key.live {
                        Some(crate::compile::plan::LiveEdgeKey::Start) => {
                            text.push_str(", the rows live at each period's start")
                        }
                        Some(crate::compile::plan::LiveEdgeKey::End) => {
                            text.push_str(", the rows live at each period's end")
                        }
                        None => {}
                    }
                    text
                }
                None => "computed with the KPI's own rows".to_string(),
            };
            let filtered = if a.filter.is_some() { " where …" } else { "" };
            Computed {
                aggregate: format!("{}({arg}{filtered})", agg_name(a.func)),
                source: source.name.clone(),
                pass,
                pass_text,
                shared_with: pass
                    .and_then(|p| readers.get(&p))
                    .map(|names| {
                        names
                            .iter()
                            .filter(|n| **n != kpi.meta.name)
                            .map(|n| n.to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The explanation as a tree for a terminal.
pub fn render_text(e: &Explanation) -> String {
    let mut out = format!(
        "{}{} · {}:{}\n",
        e.name,
        e.title
            .as_ref()
            .map_or(String::new(), |t| format!(" \"{t}\"")),
        e.location.file,
        e.location.line
    );
    let dims: Vec<&str> = e.dimensions.iter().map(|d| d.name.as_str()).collect();
    out.push_str(&format!(
        "every {}{}; judged {} as of {}\n",
        e.grain,
        if dims.is_empty() {
            String::new()
        } else {
            format!(", by {}", dims.join(", "))
        },
        e.period.as_deref().unwrap_or("— (not computed)"),
        e.as_of
    ));
    out.push_str("\nlineage\n");
    for (i, child) in e.lineage.children.iter().enumerate() {
        tree(child, "", i + 1 == e.lineage.children.len(), &mut out);
    }
    out.push_str("\nfilters\n");
    if e.filters.is_empty() {
        out.push_str("  none: every row counts\n");
    }
    for f in &e.filters {
        out.push_str(&format!(
            "  {}  on {}  ({}:{})\n",
            f.text, f.on, f.location.file, f.location.line
        ));
    }
    if !e.dimensions.is_empty() {
        out.push_str("\ndimensions\n");
        for d in &e.dimensions {
            let columns: Vec<String> = d
                .columns
                .iter()
                .map(|c| format!("{}.{}", c.source, c.column))
                .collect();
            out.push_str(&format!("  {} ← {}\n", d.name, columns.join(", ")));
        }
    }
    out.push_str("\npasses\n");
    for c in &e.aggregates {
        let pass = c.pass.map_or("—".to_string(), |p| format!("pass {p}"));
        let shared = if c.shared_with.is_empty() {
            "read by this KPI alone".to_string()
        } else {
            format!("shared with {}", c.shared_with.join(", "))
        };
        out.push_str(&format!(
            "  {} of {}: {pass}, {}; {shared}\n",
            c.aggregate, c.source, c.pass_text
        ));
    }
    if let Some(plan) = &e.plan {
        out.push_str("\nplan\n");
        out.push_str(plan);
        if !plan.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn tree(node: &Node, prefix: &str, last: bool, out: &mut String) {
    let branch = if last { "└─ " } else { "├─ " };
    let mut line = format!("{prefix}{branch}{} {}", node.kind, node.name);
    if let Some(text) = &node.text {
        if node.kind != "aggregate" || text != &node.name {
            line.push_str(&format!(": {text}"));
        }
    }
    if let Some(l) = &node.location {
        line.push_str(&format!("  ({}:{})", l.file, l.line));
    }
    out.push_str(&line);
    out.push('\n');
    let deeper = format!("{prefix}{}", if last { "   " } else { "│  " });
    for (i, child) in node.children.iter().enumerate() {
        tree(child, &deeper, i + 1 == node.children.len(), out);
    }
}
