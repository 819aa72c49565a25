//! AST + dataset schemas -> IR: names, columns, dimensions, types and reference cycles,
//! all checked before any data is read. Every error of every KPI is collected; a KPI with
//! errors is left out of the program and the others go on.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::ir::{self, AggFunc, Func, Schema, Source, SourceId, Ty};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::manifest::Manifest;
use crate::period::{Grain, GRAINS};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast::{self, Ident};

/// What resolution needs besides the AST.
pub struct ResolveInput<'a> {
    pub manifest: &'a Manifest,
    /// Dataset name -> schema. A dataset missing here could not be opened; its error was
    /// already reported and the KPIs that read it fail quietly.
    pub schemas: &'a BTreeMap<String, Schema>,
    pub sources: &'a SourceMap,
    /// `kpi.toml` in `sources`, if it is there, so that dataset errors can point into it.
    pub manifest_file: Option<FileId>,
}

/// Resolves every KPI of the parsed files.
pub fn resolve(files: &[ast::File], input: &ResolveInput<'_>) -> (ir::Program, Vec<Diagnostic>) {
    let mut resolver = Resolver::new(files, input);
    resolver.check_datasets();
    let mut kpis = Vec::new();
    for file in files {
        for item in &file.items {
            if let ast::Item::Kpi(kpi) = item {
                kpis.extend(resolver.kpi(kpi));
            }
        }
    }
    resolver.finish(kpis)
}

/// Resolves one extra KPI (as built by `kpi eval`) in the context of the project's files.
pub fn resolve_one(
    files: &[ast::File],
    kpi: &ast::Kpi,
    input: &ResolveInput<'_>,
) -> (ir::Program, Vec<Diagnostic>) {
    let mut resolver = Resolver::new(files, input);
    let kpis = resolver.kpi(kpi).into_iter().collect();
    resolver.finish(kpis)
}

struct Resolver<'a> {
    input: &'a ResolveInput<'a>,
    views: HashMap<&'a str, &'a ast::View>,
    lets: HashMap<&'a str, &'a ast::Let>,
    kpis: HashMap<&'a str, &'a ast::Kpi>,
    /// Items left out for their own errors, by name: what uses them fails with a pointer there.
    broken: HashMap<&'a str, &'a ast::Broken>,
    sources: Vec<Source>,
    /// View or dataset name -> its source and filters, once resolved.
    resolved_views: HashMap<String, Option<(SourceId, Vec<ir::Expr>)>>,
    /// Views being resolved, to find views built on themselves.
    view_stack: Vec<String>,
    diagnostics: Vec<Diagnostic>,
    /// Errors so far, counting failures already reported elsewhere (a cycle is reported once).
    failures: usize,
    /// Set when a cycle was met, so that the KPIs on it do not also report "uses a KPI with errors".
    in_cycle: bool,
    reported_cycles: HashSet<Vec<String>>,
    /// The KPIs and lets being expanded, outermost first, to find cycles.
    expanding: Vec<String>,
    /// How deeply the expression being resolved nests, through the lets and KPIs it expands.
    depth: u32,
    /// How many parts the KPI being resolved has so far, lets and KPIs expanded.
    expanded_nodes: usize,
    /// The kind of value each dimension of the KPI being resolved holds, for its targets' `when`.
    dim_types: BTreeMap<String, Ty>,
    /// "Too deep" is reported once per KPI; its other places fail quietly.
    too_deep_reported: bool,
}

/// The deepest an expression may nest once lets and KPIs are expanded into it.
const MAX_EXPANDED_DEPTH: u32 = crate::syntax::scan::MAX_NESTING;

/// The most parts an expression may have once lets and KPIs are expanded into it.
const MAX_EXPANDED_NODES: usize = 100_000;

/// The longest chain of views built on views.
const MAX_VIEW_DEPTH: usize = 64;

/// Where an expression is being resolved.
#[derive(Clone)]
struct Ctx<'a> {
    /// The KPI whose value is being built (the one reported).
    kpi_name: &'a str,
    /// The `by` of the aggregates built here: the KPI's, or none inside `total()`.
    dims: Vec<String>,
    by_idents: &'a [Ident],
    grain: Grain,
    /// The `where` of the KPI whose aggregates these are.
    filter: Option<&'a ast::Expr>,
    locals: &'a [ast::Let],
    /// Inside `target`/`warn`: bare `previous` is the KPI's own previous value.
    in_goal: bool,
    /// Inside a goal's `when`: bare names are dimensions.
    dims_only: bool,
    /// Inside `total()`: every aggregate is taken whole, without dimensions.
    whole: bool,
}

/// Inside an aggregate: the source whose columns bare names refer to.
#[derive(Clone, Copy)]
struct Row<'a> {
    source: SourceId,
    name: &'a str,
}

/// Aggregate functions; `min` and `max` with two arguments are the scalar functions instead.
const AGGREGATES: [&str; 10] = [
    "count",
    "count_distinct",
    "sum",
    "mean",
    "avg",
    "median",
    "min",
    "max",
    "quantile",
    "stddev",
];

/// Functions of KPI values rather than of rows.
const KPI_FUNCTIONS: [&str; 5] = ["previous", "growth", "total", "running", "rolling"];

/// Scalar and row functions: name, function, fewest and most arguments, what the arguments
/// must be (`Ty::Null`: anything) and what the result is (`Ty::Null`: the first argument's type).
/// Those taking dates or text work on rows only, inside aggregates.
const FUNCTIONS: [(&str, Func, usize, usize, Ty, Ty); 24] = [
    ("abs", Func::Abs, 1, 1, Ty::Number, Ty::Number),
    ("round", Func::Round, 1, 2, Ty::Number, Ty::Number),
    ("floor", Func::Floor, 1, 1, Ty::Number, Ty::Number),
    ("ceil", Func::Ceil, 1, 1, Ty::Number, Ty::Number),
    ("min", Func::Least, 2, 2, Ty::Number, Ty::Number),
    ("max", Func::Greatest, 2, 2, Ty::Number, Ty::Number),
    ("coalesce", Func::Coalesce, 1, 64, Ty::Null, Ty::Null),
    ("sqrt", Func::Sqrt, 1, 1, Ty::Number, Ty::Number),
    ("ln", Func::Ln, 1, 1, Ty::Number, Ty::Number),
    ("exp", Func::Exp, 1, 1, Ty::Number, Ty::Number),
    ("pow", Func::Pow, 2, 2, Ty::Number, Ty::Number),
    (
        "days_between",
        Func::DaysBetween,
        2,
        2,
        Ty::Date,
        Ty::Number,
    ),
    (
        "hours_between",
        Func::HoursBetween,
        2,
        2,
        Ty::Date,
        Ty::Number,
    ),
    (
        "minutes_between",
        Func::MinutesBetween,
        2,
        2,
        Ty::Date,
        Ty::Number,
    ),
    ("year", Func::Year, 1, 1, Ty::Date, Ty::Number),
    ("quarter", Func::Quarter, 1, 1, Ty::Date, Ty::Number),
    ("month", Func::Month, 1, 1, Ty::Date, Ty::Number),
    ("week", Func::Week, 1, 1, Ty::Date, Ty::Number),
    ("day", Func::Day, 1, 1, Ty::Date, Ty::Number),
    ("weekday", Func::Weekday, 1, 1, Ty::Date, Ty::Number),
    ("lower", Func::Lower, 1, 1, Ty::String, Ty::String),
    ("upper", Func::Upper, 1, 1, Ty::String, Ty::String),
    ("contains", Func::Contains, 2, 2, Ty::String, Ty::Bool),
    ("starts_with", Func::StartsWith, 2, 2, Ty::String, Ty::Bool),
];

impl<'a> Resolver<'a> {
    fn new(files: &'a [ast::File], input: &'a ResolveInput<'a>) -> Self {
        let mut resolver = Resolver {
            input,
            views: HashMap::new(),
            lets: HashMap::new(),
            kpis: HashMap::new(),
            broken: HashMap::new(),
            sources: Vec::new(),
            resolved_views: HashMap::new(),
            view_stack: Vec::new(),
            diagnostics: Vec::new(),
            failures: 0,
            in_cycle: false,
            reported_cycles: HashSet::new(),
            expanding: Vec::new(),
            depth: 0,
            expanded_nodes: 0,
            dim_types: BTreeMap::new(),
            too_deep_reported: false,
        };
        let mut seen: HashMap<String, Span> = HashMap::new();
        for broken in files.iter().flat_map(|f| &f.broken) {
            if let Some(name) = &broken.name {
                resolver.broken.entry(&name.name).or_insert(broken);
            }
        }
        for file in files {
            for item in &file.items {
                let name = match item {
                    ast::Item::View(v) => &v.name,
                    ast::Item::Let(l) => &l.name,
                    ast::Item::Kpi(k) => &k.name,
                };
                if let Some(first) = seen.get(&name.name) {
                    let first = input.sources.location(*first);
                    resolver.error(
                        Diagnostic::error("E0301", format!("`{}` is defined twice", name.name))
                            .at(name.span)
                            .with_label("second definition")
                            .with_hint(format!("The first definition is at {first}.")),
                    );
                    continue;
                }
                if input.manifest.datasets.contains_key(&name.name)
                    && !matches!(item, ast::Item::Kpi(_))
                {
                    resolver.error(
                        Diagnostic::error(
                            "E0301",
                            format!("`{}` is already a dataset in kpi.toml", name.name),
                        )
                        .at(name.span),
                    );
                    continue;
                }
                seen.insert(name.name.clone(), name.span);
                match item {
                    ast::Item::View(v) => {
                        resolver.views.insert(&v.name.name, v);
                    }
                    ast::Item::Let(l) => {
                        resolver.lets.insert(&l.name.name, l);
                    }
                    ast::Item::Kpi(k) => {
                        resolver.kpis.insert(&k.name.name, k);
                    }
                }
            }
        }
        resolver
    }

    /// The program and every diagnostic, each once (a KPI's `where` is resolved once per
    /// aggregate, so its errors can repeat).
    fn finish(self, kpis: Vec<ir::Kpi>) -> (ir::Program, Vec<Diagnostic>) {
        let mut diagnostics = self.diagnostics;
        let mut seen = HashSet::new();
        diagnostics
            .retain(|d| seen.insert((d.span.map(|s| (s.file, s.start, s.end)), d.message.clone())));
        let program = ir::Program {
            sources: self.sources,
            kpis,
        };
        (program, diagnostics)
    }

    /// Checks every dataset's manifest entry against its schema, used by a KPI or not.
    fn check_datasets(&mut self) {
        for name in self.input.manifest.datasets.keys() {
            let ident = Ident {
                name: name.clone(),
                span: Span::default(),
            };
            self.source_of(&ident);
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        if diagnostic.is_error() {
            self.failures += 1;
        }
        self.diagnostics.push(diagnostic);
    }

    fn errors(&self) -> usize {
        self.failures
    }

    // ------------------------------------------------------------------ KPIs

    fn kpi(&mut self, kpi: &'a ast::Kpi) -> Option<ir::Kpi> {
        let before = self.errors();
        let first_new = self.diagnostics.len();
        self.in_cycle = false;
        self.too_deep_reported = false;
        self.expanded_nodes = 0;
        let grain = match &kpi.every {
            None => {
                if self.input.manifest.setting_is_broken("grain") {
                    self.error(
                        Diagnostic::error(
                            "E0214",
                            format!(
                                "KPI `{}` takes its grain from kpi.toml, whose `grain` cannot be read",
                                kpi.name.name
                            ),
                        )
                        .at(kpi.name.span)
                        .with_hint("Fix `grain` under [project] in kpi.toml, or give the KPI its own `every`."),
                    );
                }
                self.input.manifest.grain
            }
            Some(every) => Grain::parse(&every.name).unwrap_or_else(|| {
                let mut d = Diagnostic::error("E0302", format!("unknown grain `{}`", every.name))
                    .at(every.span)
                    .with_hint("Grains are day, week, month, quarter and year.");
                if let Some(hint) = did_you_mean(&every.name, GRAINS) {
                    d = d.with_hint(hint);
                }
                self.error(d);
                self.input.manifest.grain
            }),
        };
        let format = match kpi.format.as_ref().map(|f| f.name.as_str()) {
            None | Some("number") => ir::Format::Number,
            Some("percent") => ir::Format::Percent,
            Some("currency") => ir::Format::Currency,
            Some("days") => ir::Format::Days,
            Some(other) => {
                let span = kpi.format.as_ref().map(|f| f.span).unwrap_or(kpi.span);
                let mut d = Diagnostic::error("E0303", format!("unknown format `{other}`"))
                    .at(span)
                    .with_hint("Formats are number, percent, currency and days.");
                if let Some(hint) = did_you_mean(other, ["number", "percent", "currency", "days"]) {
                    d = d.with_hint(hint);
                }
                self.error(d);
                ir::Format::Number
            }
        };
        let decimals = kpi.decimals.as_ref().and_then(|d| {
            if d.node.fract() == 0.0 && (0.0..=12.0).contains(&d.node) {
                Some(d.node as u32)
            } else {
                self.error(
                    Diagnostic::error("E0304", "`decimals` must be a whole number from 0 to 12")
                        .at(d.span),
                );
                None
            }
        });
        let mut dims = Vec::new();
        for by in &kpi.by {
            if dims.contains(&by.name) {
                self.error(
                    Diagnostic::error("E0305", format!("dimension `{}` is listed twice", by.name))
                        .at(by.span),
                );
            } else {
                dims.push(by.name.clone());
            }
        }
        let ctx = Ctx {
            kpi_name: &kpi.name.name,
            dims: dims.clone(),
            by_idents: &kpi.by,
            grain,
            filter: kpi.filter.as_ref(),
            locals: &kpi.lets,
            in_goal: false,
            dims_only: false,
            whole: false,
        };
        self.expanding = vec![kpi.name.name.clone()];
        let mut value = ir::Expr::Null;
        if let Some(expr) = &kpi.value {
            let (resolved, ty) = self.expr(expr, &ctx, None);
            self.expect_number(ty, expr.span, "a KPI's value");
            value = resolved;
        }
        self.dim_types = self.dimension_types(&value);
        let goal_ctx = Ctx {
            in_goal: true,
            ..ctx.clone()
        };
        let targets: Vec<ir::Goal> = kpi
            .targets
            .iter()
            .map(|g| self.goal(g, &goal_ctx))
            .collect();
        let warns: Vec<ir::Goal> = kpi.warns.iter().map(|g| self.goal(g, &goal_ctx)).collect();
        for (keyword, goals) in [("target", &kpi.targets), ("warn", &kpi.warns)] {
            let defaults: Vec<&ast::Goal> =
                goals.iter().filter(|g| g.condition.is_none()).collect();
            if let [first, second, ..] = defaults[..] {
                let first = self.input.sources.location(first.span);
                self.error(
                    Diagnostic::error(
                        "E0307",
                        format!(
                            "KPI `{}` has two `{keyword}` lines without `when`",
                            kpi.name.name
                        ),
                    )
                    .at(second.span)
                    .with_label("second default")
                    .with_hint(format!("The line without `when` is the default, used where no `when` line holds; the first one is at {first}.")),
                );
            }
        }
        if self.errors() == before {
            self.check_dimension_types(kpi, &value, &targets, &warns);
        }
        if kpi.targets.is_empty() && !kpi.warns.is_empty() {
            self.error(
                Diagnostic::error(
                    "E0306",
                    format!("KPI `{}` has `warn` but no `target`", kpi.name.name),
                )
                .at(kpi.warns[0].span)
                .with_hint("`warn` sets the amber zone below a target; add a `target` line."),
            );
        }
        if self.errors() == before && !dims.is_empty() {
            let mut aggregates = Vec::new();
            value.collect_aggregates(&mut aggregates);
            if !aggregates.iter().any(|a| a.dims == dims) {
                self.error(
                    Diagnostic::error(
                        "E0347",
                        format!(
                            "KPI `{}` is split by {}, but none of its aggregates is",
                            kpi.name.name,
                            dims.join(", ")
                        ),
                    )
                    .at(kpi.by[0].span.to(kpi.by[kpi.by.len() - 1].span))
                    .with_hint("Its value comes only from KPIs without `by` or from `total()`, so every row would be the same; aggregate a dataset in the value itself."),
                );
            }
        }
        if self.errors() > before {
            if !self.diagnostics[first_new..].iter().any(|d| d.is_error()) {
                // Its only fault is a cycle already reported with another KPI: say so once here,
                // so that every KPI that cannot be computed has an error of its own.
                self.error(
                    Diagnostic::error(
                        "E0344",
                        format!("KPI `{}` is on a reference cycle", kpi.name.name),
                    )
                    .at(kpi.name.span)
                    .with_hint(
                        "The error that names the whole cycle is reported with another KPI on it.",
                    ),
                );
            }
            for d in &mut self.diagnostics[first_new..] {
                if d.kpi.is_none() && d.is_error() {
                    d.kpi = Some(kpi.name.name.clone());
                }
            }
            return None;
        }
        Some(ir::Kpi {
            meta: ir::KpiMeta {
                name: kpi.name.name.clone(),
                title: kpi.title.as_ref().map(|s| s.node.clone()),
                description: kpi.description.as_ref().map(|s| s.node.clone()),
                owner: kpi.owner.as_ref().map(|s| s.node.clone()),
                tags: kpi.tags.iter().map(|t| t.name.clone()).collect(),
                format,
                decimals,
                unit: kpi.unit.as_ref().map(|s| s.node.clone()),
            },
            grain,
            dims,
            value,
            targets,
            warns,
            location: self.input.sources.location(kpi.name.span),
            span: kpi.span,
        })
    }

    /// Every dataset a KPI splits by a dimension must hold the same kind of value in it, so that
    /// rows from different datasets meet: `1` in one and `"1"` or `1.0` in another would not.
    fn check_dimension_types(
        &mut self,
        kpi: &ast::Kpi,
        value: &ir::Expr,
        targets: &[ir::Goal],
        warns: &[ir::Goal],
    ) {
        let mut aggregates = Vec::new();
        value.collect_aggregates(&mut aggregates);
        for goal in targets.iter().chain(warns) {
            for e in goal.exprs() {
                e.collect_aggregates(&mut aggregates);
            }
        }
        let mut first: BTreeMap<&str, (&'static str, String)> = BTreeMap::new();
        for aggregate in aggregates {
            let source = &self.sources[aggregate.source];
            for dim in &aggregate.dims {
                let Some(ty) = source
                    .dimension_column(dim)
                    .and_then(|c| source.schema.get(&c))
                else {
                    continue;
                };
                let kind = match ty {
                    Ty::Number => "numbers",
                    Ty::Bool => "true/false values",
                    Ty::String => "text",
                    Ty::Date => "dates",
                    Ty::Datetime => "timestamps",
                    Ty::Null | Ty::Other => continue,
                };
                let (first_kind, first_dataset) = first
                    .entry(dim.as_str())
                    .or_insert_with(|| (kind, source.dataset.clone()))
                    .clone();
                if first_kind != kind {
                    let span = kpi
                        .by
                        .iter()
                        .find(|b| &b.name == dim)
                        .map_or(kpi.name.span, |b| b.span);
                    self.error(
                        Diagnostic::error(
                            "E0362",
                            format!(
                                "dimension `{dim}` holds {first_kind} in `{first_dataset}` but {kind} in `{}`",
                                source.dataset
                            ),
                        )
                        .at(span)
                        .with_hint("Rows of different datasets meet on their dimension values, which must be of one kind; set the column's type with `types = { ... }` in kpi.toml."),
                    );
                    return;
                }
            }
        }
    }

    /// The type of the column behind each dimension, in the first aggregate split by it.
    fn dimension_types(&self, value: &ir::Expr) -> BTreeMap<String, Ty> {
        let mut aggregates = Vec::new();
        value.collect_aggregates(&mut aggregates);
        let mut types = BTreeMap::new();
        for aggregate in aggregates {
            let source = &self.sources[aggregate.source];
            for dim in &aggregate.dims {
                if let Some(ty) = source
                    .dimension_column(dim)
                    .and_then(|c| source.schema.get(&c))
                {
                    types.entry(dim.clone()).or_insert(ty);
                }
            }
        }
        types
    }

    fn goal(&mut self, goal: &'a ast::Goal, ctx: &Ctx<'a>) -> ir::Goal {
        if let Some(deadline) = &goal.deadline {
            self.error(
                Diagnostic::unsupported("time-bound targets (`by DATE`) are not supported yet")
                    .at(deadline.span)
                    .with_hint(
                        "Pacing against a deadline is planned; judge the period instead for now.",
                    ),
            );
        }
        let test = match &goal.kind {
            ast::GoalKind::Compare(op, e) => {
                let (expr, ty) = self.expr(e, ctx, None);
                self.expect_number(ty, e.span, "a target");
                ir::GoalTest::Compare(*op, expr)
            }
            ast::GoalKind::Between(a, b) => {
                let (low, ty_low) = self.expr(a, ctx, None);
                self.expect_number(ty_low, a.span, "a target");
                let (high, ty_high) = self.expr(b, ctx, None);
                self.expect_number(ty_high, b.span, "a target");
                ir::GoalTest::Between(low, high)
            }
        };
        let condition = goal.condition.as_ref().map(|c| {
            let cond_ctx = Ctx {
                dims_only: true,
                ..ctx.clone()
            };
            let (expr, ty) = self.expr(c, &cond_ctx, None);
            self.expect_bool(ty, c.span, "the condition of a target");
            expr
        });
        let text = self.input.sources.one_line(goal.span);
        ir::Goal {
            test,
            condition,
            text,
            span: goal.span,
        }
    }

    fn expect_number(&mut self, ty: Ty, span: Span, what: &str) {
        if !ty.is_numeric() {
            self.error(
                Diagnostic::error(
                    "E0310",
                    format!("{what} must be a number, but this is {}", ty.name()),
                )
                .at(span),
            );
        }
    }

    fn expect_bool(&mut self, ty: Ty, span: Span, what: &str) {
        if !matches!(ty, Ty::Bool | Ty::Null) {
            self.error(
                Diagnostic::error(
                    "E0311",
                    format!("{what} must be true or false, but this is {}", ty.name()),
                )
                .at(span)
                .with_hint("Compare it with something, for example `status == \"paid\"`."),
            );
        }
    }

    // ------------------------------------------------------------------ sources

    /// The source and filters a dataset or view name stands for.
    fn source_of(&mut self, name: &Ident) -> Option<(SourceId, Vec<ir::Expr>)> {
        if let Some(done) = self.resolved_views.get(&name.name) {
            return done.clone();
        }
        if let Some(start) = self.view_stack.iter().position(|v| v == &name.name) {
            let mut cycle = self.view_stack[start..].to_vec();
            cycle.push(name.name.clone());
            self.error(
                Diagnostic::error("E0344", format!("view cycle: {}", cycle.join(" -> ")))
                    .at(name.span)
                    .with_label("this reference closes the cycle")
                    .with_hint(
                        "A view cannot be built on itself, directly or through other views.",
                    ),
            );
            return None;
        }
        if self.view_stack.len() >= MAX_VIEW_DEPTH {
            self.error(
                Diagnostic::error(
                    "E0349",
                    format!("views are built on one another more than {MAX_VIEW_DEPTH} deep here"),
                )
                .at(name.span)
                .with_hint("Build this view on a dataset or on a view nearer to one."),
            );
            return None;
        }
        self.view_stack.push(name.name.clone());
        let result = if let Some(config) = self.input.manifest.datasets.get(&name.name) {
            self.dataset_source(&name.name, config)
        } else if let Some(view) = self.views.get(name.name.as_str()).copied() {
            self.view_source(view)
        } else {
            None
        };
        self.view_stack.pop();
        self.resolved_views
            .insert(name.name.clone(), result.clone());
        result
    }

    /// A span in `kpi.toml`, when it is in the source map.
    fn manifest_span(&self, range: Option<&std::ops::Range<usize>>) -> Option<Span> {
        let file = self.input.manifest_file?;
        range.map(|r| Span::new(file, r.start, r.end))
    }

    fn intern(&mut self, source: Source) -> SourceId {
        if let Some(i) = self.sources.iter().position(|s| {
            s.dataset == source.dataset
                && s.joins == source.joins
                && s.time == source.time
                && s.until == source.until
        }) {
            return i;
        }
        self.sources.push(source);
        self.sources.len() - 1
    }

    fn dataset_source(
        &mut self,
        name: &str,
        config: &crate::manifest::DatasetConfig,
    ) -> Option<(SourceId, Vec<ir::Expr>)> {
        let schema = self.input.schemas.get(name)?.clone();
        let mut ok = true;
        let spans = &config.spans;
        for (what, column, range) in [
            ("time", &config.time, &spans.time),
            ("until", &config.until, &spans.until),
        ] {
            let Some(column) = column else { continue };
            let span = self.manifest_span(range.as_ref());
            match schema.get(column) {
                Some(ty) if ty.is_temporal() => {}
                Some(ty) => {
                    ok = false;
                    self.error(
                        Diagnostic::error(
                            "E0320",
                            format!(
                                "dataset `{name}`: its `{what}` column `{column}` holds {}, not dates",
                                ty.name()
                            ),
                        )
                        .at_opt(span)
                        .with_hint("Dates in CSV files must be written YYYY-MM-DD (optionally with a time)."),
                    );
                }
                None => {
                    ok = false;
                    let mut d = Diagnostic::error(
                        "E0321",
                        format!("dataset `{name}`: its `{what}` column `{column}` does not exist"),
                    )
                    .at_opt(span)
                    .with_hint(format!(
                        "Columns of `{name}`: {}.",
                        schema.names().collect::<Vec<_>>().join(", ")
                    ));
                    if let Some(hint) = did_you_mean(column, schema.names()) {
                        d = d.with_hint(hint);
                    }
                    self.error(d);
                }
            }
        }
        for (dimension, column) in &config.dimensions {
            if schema.get(column).is_none() {
                ok = false;
                let mut d = Diagnostic::error(
                    "E0325",
                    format!("dataset `{name}`: dimension `{dimension}` maps to `{column}`, which is not a column"),
                )
                .at_opt(self.manifest_span(spans.dimensions.get(dimension)))
                .with_hint(format!("Columns of `{name}`: {}.", schema.names().collect::<Vec<_>>().join(", ")));
                if let Some(hint) = did_you_mean(column, schema.names()) {
                    d = d.with_hint(hint);
                }
                self.error(d);
            }
        }
        if config.until.is_some() && config.time.is_none() {
            ok = false;
            self.error(
                Diagnostic::error(
                    "E0322",
                    format!("dataset `{name}`: `until` needs `time` as well"),
                )
                .at_opt(self.manifest_span(spans.until.as_ref())),
            );
        }
        if !ok {
            return None;
        }
        let id = self.intern(Source {
            name: name.to_string(),
            dataset: name.to_string(),
            joins: Vec::new(),
            time: config.time.clone(),
            until: config.until.clone(),
            dimensions: config.dimensions.clone(),
            unreadable_dimensions: BTreeMap::new(),
            schema,
        });
        Some((id, Vec::new()))
    }

    fn view_source(&mut self, view: &'a ast::View) -> Option<(SourceId, Vec<ir::Expr>)> {
        let Some((mut id, mut filters)) = self.source_of(&view.source) else {
            if !self.input.manifest.datasets.contains_key(&view.source.name)
                && !self.views.contains_key(view.source.name.as_str())
            {
                let d = self.unusable_source(&view.source, "");
                self.error(d);
            }
            return None;
        };
        if let Some(on) = &view.on {
            let source = self.sources[id].clone();
            match source.schema.get(&on.name) {
                Some(ty) if ty.is_temporal() => {
                    id = self.intern(Source {
                        name: view.name.name.clone(),
                        time: Some(on.name.clone()),
                        until: None,
                        ..source
                    });
                }
                Some(ty) => {
                    self.error(
                        Diagnostic::error(
                            "E0323",
                            format!(
                                "`on {}`: the column holds {}, not dates",
                                on.name,
                                ty.name()
                            ),
                        )
                        .at(on.span),
                    );
                    return None;
                }
                None => {
                    let d = self.unknown_column(&on.name, on.span, &source);
                    self.error(d);
                    return None;
                }
            }
        }
        for join in &view.joins {
            let Some(config) = self.input.manifest.datasets.get(&join.dataset.name) else {
                let d = if self.views.contains_key(join.dataset.name.as_str()) {
                    Diagnostic::unsupported("joining a view is not supported yet; join a dataset")
                        .at(join.dataset.span)
                } else {
                    self.unknown_dataset(&join.dataset)
                };
                self.error(d);
                return None;
            };
            let right = self.input.schemas.get(&join.dataset.name)?.clone();
            let left = self.sources[id].clone();
            let mut ok = true;
            for (schema, side_name) in [
                (&left.schema, left.name.as_str()),
                (&right, join.dataset.name.as_str()),
            ] {
                if schema.get(&join.key.name).is_none() {
                    ok = false;
                    let mut d = Diagnostic::error(
                        "E0324",
                        format!(
                            "join key `{}` is not a column of `{side_name}`",
                            join.key.name
                        ),
                    )
                    .at(join.key.span)
                    .with_hint(format!(
                        "Columns of `{side_name}`: {}.",
                        schema.names().collect::<Vec<_>>().join(", ")
                    ));
                    if let Some(hint) = did_you_mean(&join.key.name, schema.names()) {
                        d = d.with_hint(hint);
                    }
                    self.error(d);
                }
            }
            if !ok {
                return None;
            }
            let (left_ty, right_ty) = (left.schema.get(&join.key.name), right.get(&join.key.name));
            if let (Some(l), Some(r)) = (left_ty, right_ty) {
                let comparable = l == r
                    || (l.is_numeric() && r.is_numeric())
                    || (l.is_temporal() && r.is_temporal());
                if !comparable {
                    self.error(
                        Diagnostic::error(
                            "E0326",
                            format!(
                                "join key `{}` holds {} in `{}` but {} in `{}`",
                                join.key.name,
                                l.name(),
                                left.name,
                                r.name(),
                                join.dataset.name
                            ),
                        )
                        .at(join.key.span)
                        .with_hint("Both sides of a join must hold the same kind of values."),
                    );
                    return None;
                }
            }
            // The left side wins where both have a column of the same name.
            let mut schema = left.schema.clone();
            for (column, ty) in &right.columns {
                if schema.get(column).is_none() {
                    schema.columns.push((column.clone(), *ty));
                }
            }
            // The left side wins for dimensions as for columns: a mapping of the lookup applies
            // only to dimensions the left side has neither a mapping nor a column for.
            let mut dimensions = left.dimensions.clone();
            let mut unreadable = left.unreadable_dimensions.clone();
            for (dim, column) in &config.dimensions {
                if left.dimension_column(dim).is_some() {
                    continue;
                }
                if left.schema.get(column).is_some() {
                    // The lookup keeps the left side's column of that name, so the mapping
                    // would read the wrong dataset's values.
                    unreadable.insert(
                        dim.clone(),
                        format!(
                            "`{}` maps `{dim}` to its column `{column}`, but `{}` has a column `{column}` too, and the lookup keeps the left side's; rename one of them.",
                            join.dataset.name, left.name
                        ),
                    );
                    continue;
                }
                dimensions.insert(dim.clone(), column.clone());
            }
            let mut joins = left.joins.clone();
            joins.push((join.dataset.name.clone(), join.key.name.clone()));
            id = self.intern(Source {
                name: view.name.name.clone(),
                dataset: left.dataset,
                joins,
                time: left.time,
                until: left.until,
                dimensions,
                unreadable_dimensions: unreadable,
                schema,
            });
        }
        if let Some(per) = &view.per {
            self.error(
                Diagnostic::unsupported(
                    "per-entity views (`per KEY { ... }`) are not supported yet",
                )
                .at(per.span)
                .with_hint("They are planned; for now aggregate the dataset directly."),
            );
            return None;
        }
        if let Some(filter) = &view.filter {
            let before = self.errors();
            let row = Row {
                source: id,
                name: &view.name.name,
            };
            let ctx = self.detached_ctx();
            let (expr, ty) = self.row_expr(filter, &ctx, row);
            self.expect_bool(ty, filter.span, "a view's `where`");
            if self.errors() > before {
                return None;
            }
            filters.push(expr);
        }
        Some((id, filters))
    }

    /// A context for expressions outside any KPI (view filters).
    fn detached_ctx(&self) -> Ctx<'a> {
        Ctx {
            kpi_name: "",
            dims: Vec::new(),
            by_idents: &[],
            grain: self.input.manifest.grain,
            filter: None,
            locals: &[],
            in_goal: false,
            dims_only: false,
            whole: false,
        }
    }

    /// A use of an item that was left out for its own errors.
    fn broken_use(&self, ident: &Ident, broken: &ast::Broken, user: &str) -> Diagnostic {
        let what = match broken.keyword {
            Some("kpi") => "KPI",
            Some(other) => other,
            None => "item",
        };
        let at = self.input.sources.location(broken.span);
        let message = if user.is_empty() {
            format!("{what} `{}` has errors", ident.name)
        } else {
            format!("`{user}` uses {what} `{}`, which has errors", ident.name)
        };
        Diagnostic::error("E0346", message)
            .at(ident.span)
            .with_hint(format!("Its errors are reported at {at}."))
    }

    /// Why a dataset or view named in an expression gave no source.
    fn unusable_source(&self, name: &Ident, user: &str) -> Diagnostic {
        if !self.views.contains_key(name.name.as_str())
            && !self.input.manifest.datasets.contains_key(&name.name)
        {
            if let Some(broken) = self.broken.get(name.name.as_str()) {
                return self.broken_use(name, broken, user);
            }
        }
        let is_view = self.views.contains_key(name.name.as_str());
        let is_dataset = self.input.manifest.datasets.contains_key(&name.name);
        let message = if is_view {
            format!("view `{}` has errors", name.name)
        } else if !is_dataset {
            return self.unknown_dataset(name);
        } else if !self.input.schemas.contains_key(&name.name) {
            format!("dataset `{}` could not be opened", name.name)
        } else {
            format!("dataset `{}` has errors in kpi.toml", name.name)
        };
        Diagnostic::error("E0357", message)
            .at(name.span)
            .with_hint("Its own errors say why.")
    }

    fn unknown_dataset(&self, name: &Ident) -> Diagnostic {
        let known: Vec<&str> = self
            .input
            .manifest
            .datasets
            .keys()
            .map(|s| s.as_str())
            .chain(self.views.keys().copied())
            .collect();
        let mut d = Diagnostic::error("E0330", format!("unknown dataset or view `{}`", name.name))
            .at(name.span)
            .with_label("not a dataset or view");
        if let Some(hint) = did_you_mean(&name.name, known.iter().copied()) {
            d = d.with_hint(hint);
        }
        let mut sorted = known;
        sorted.sort();
        d.with_hint(format!("Datasets and views: {}.", sorted.join(", ")))
    }

    fn unknown_column(&self, column: &str, span: Span, source: &Source) -> Diagnostic {
        let mut d = Diagnostic::error(
            "E0331",
            format!("unknown column `{column}` in `{}`", source.name),
        )
        .at(span)
        .with_label(format!("not a column of `{}`", source.name));
        if let Some(hint) = did_you_mean(column, source.schema.names()) {
            d.message = format!("{}; {hint}", d.message);
        }
        d.with_hint(format!(
            "Columns of `{}`: {}.",
            source.name,
            source.schema.names().collect::<Vec<_>>().join(", ")
        ))
    }

    // ------------------------------------------------------------------ KPI-level expressions

    /// Resolves an expression at KPI level (`row` is `None`) or inside an aggregate.
    fn expr(&mut self, expr: &'a ast::Expr, ctx: &Ctx<'a>, row: Option<Row<'a>>) -> (ir::Expr, Ty) {
        // The parser bounds how deeply one item nests; lets, KPIs and views expanded into one
        // another can nest deeper still, and everything after resolution recurses on the result.
        // Lets and KPIs that use one another twice over (`let b = a + a`) double at each step.
        self.expanded_nodes += 1;
        let limit = if self.expanded_nodes > MAX_EXPANDED_NODES {
            Some((
                format!("grows past {MAX_EXPANDED_NODES} parts"),
                "one used twice by another that is used twice doubles at every step",
            ))
        } else if self.depth >= MAX_EXPANDED_DEPTH {
            Some((
                format!("nests more than {MAX_EXPANDED_DEPTH} levels deep"),
                "a long chain of them that build on one another nests as deep as all of them together",
            ))
        } else {
            None
        };
        if let Some((what, why)) = limit {
            // Said once per KPI; its other places past the limit fail quietly.
            if self.too_deep_reported {
                self.failures += 1;
            } else {
                self.too_deep_reported = true;
                self.error(
                    Diagnostic::error(
                        "E0348",
                        format!(
                            "this expression {what} once the lets and KPIs it uses are expanded"
                        ),
                    )
                    .at(expr.span)
                    .with_hint(format!(
                        "Each `let` and KPI is expanded where it is used; {why}."
                    )),
                );
            }
            return (ir::Expr::Null, Ty::Null);
        }
        self.depth += 1;
        let result = crate::deep(|| self.expr_at_depth(expr, ctx, row));
        self.depth -= 1;
        result
    }

    fn expr_at_depth(
        &mut self,
        expr: &'a ast::Expr,
        ctx: &Ctx<'a>,
        row: Option<Row<'a>>,
    ) -> (ir::Expr, Ty) {
        if let Some(row) = row {
            return self.row_expr(expr, ctx, row);
        }
        match &expr.kind {
            ast::ExprKind::Path { head, field: None } => self.name(head, ctx),
            ast::ExprKind::Path {
                head,
                field: Some(field),
            } => {
                self.error(
                    Diagnostic::error(
                        "E0340",
                        format!(
                            "`{}.{}` is a column; a KPI needs an aggregate of it",
                            head.name, field.name
                        ),
                    )
                    .at(expr.span)
                    .with_hint(format!(
                        "For example `sum({}.{})` or `count({}.{})`.",
                        head.name, field.name, head.name, field.name
                    )),
                );
                (ir::Expr::Null, Ty::Null)
            }
            ast::ExprKind::Call { func, args } => self.kpi_call(expr, func, args, ctx),
            _ => self.common(expr, ctx, None),
        }
    }

    /// A bare name at KPI level: a let, a KPI, a dimension, or `previous` in a target.
    fn name(&mut self, ident: &'a Ident, ctx: &Ctx<'a>) -> (ir::Expr, Ty) {
        let name = ident.name.as_str();
        if ctx.dims_only {
            if ctx.dims.iter().any(|d| d == name) {
                let ty = match self.dim_types.get(name) {
                    Some(ty @ (Ty::Number | Ty::Bool)) => *ty,
                    _ => Ty::String,
                };
                return (ir::Expr::Dim(name.to_string(), ty), ty);
            }
            let d = Diagnostic::error(
                "E0341",
                format!("`{name}` is not a dimension of KPI `{}`", ctx.kpi_name),
            )
            .at(ident.span)
            .with_hint(if ctx.dims.is_empty() {
                "A target's `when` chooses dimension values; this KPI has no `by`.".to_string()
            } else {
                format!(
                    "A target's `when` can use the KPI's dimensions: {}.",
                    ctx.dims.join(", ")
                )
            });
            self.error(d);
            return (ir::Expr::Null, Ty::Null);
        }
        if let Some(local) = ctx.locals.iter().find(|l| l.name.name == name) {
            return self.expand_let(local, ctx);
        }
        if let Some(global) = self.lets.get(name).copied() {
            // Scoping is lexical: a shared `let` sees shared names only, never the locals of
            // the KPI that uses it, and a bare `previous` in it is not that KPI's own value.
            let shared = Ctx {
                locals: &[],
                in_goal: false,
                ..ctx.clone()
            };
            return self.expand_let(global, &shared);
        }
        if let Some(kpi) = self.kpis.get(name).copied() {
            return self.inline_kpi(kpi, ident, ctx);
        }
        if ctx.in_goal && name == "previous" {
            return (
                ir::Expr::Previous(Box::new(ir::Expr::SelfValue), 1),
                Ty::Number,
            );
        }
        if let Some(broken) = self.broken.get(name).copied() {
            let d = self.broken_use(ident, broken, ctx.kpi_name);
            self.error(d);
            return (ir::Expr::Null, Ty::Null);
        }
        if self.input.manifest.datasets.contains_key(name) || self.views.contains_key(name) {
            self.error(
                Diagnostic::error(
                    "E0342",
                    format!("`{name}` is a dataset; a KPI needs an aggregate of it"),
                )
                .at(ident.span)
                .with_hint(format!("For example `count({name})`.")),
            );
            return (ir::Expr::Null, Ty::Null);
        }
        let mut candidates: Vec<&str> = ctx.locals.iter().map(|l| l.name.name.as_str()).collect();
        candidates.extend(self.lets.keys().copied());
        candidates.extend(self.kpis.keys().copied());
        let mut d = Diagnostic::error("E0343", format!("unknown name `{name}`"))
            .at(ident.span)
            .with_label("not a KPI, a `let` or a dimension");
        if let Some(hint) = did_you_mean(name, candidates) {
            d = d.with_hint(hint);
        }
        if ctx.dims.iter().any(|d| d == name) {
            d = d.with_hint("Dimensions can be used in a target's `when`, not in a value.");
        }
        self.error(d);
        (ir::Expr::Null, Ty::Null)
    }

    fn expand_let(&mut self, item: &'a ast::Let, ctx: &Ctx<'a>) -> (ir::Expr, Ty) {
        let key = format!("let {}", item.name.name);
        if !self.enter(&key, item.name.span) {
            return (ir::Expr::Null, Ty::Null);
        }
        self.expanding.push(key);
        let result = self.expr(&item.expr, ctx, None);
        self.expanding.pop();
        result
    }

    /// Checks for a cycle before expanding `key`; reports it once, naming the whole cycle.
    fn enter(&mut self, key: &str, span: Span) -> bool {
        let Some(start) = self.expanding.iter().position(|k| k == key) else {
            return true;
        };
        let mut cycle: Vec<String> = self.expanding[start..].to_vec();
        cycle.push(key.to_string());
        let mut canonical = cycle[..cycle.len() - 1].to_vec();
        canonical.sort();
        if self.reported_cycles.insert(canonical) {
            self.error(
                Diagnostic::error("E0344", format!("reference cycle: {}", cycle.join(" -> ")))
                    .at(span)
                    .with_label("this reference closes the cycle")
                    .with_hint(
                        "A KPI or `let` cannot depend on itself, directly or through others.",
                    ),
            );
        } else {
            // Already reported, naming the whole cycle: fail without repeating it.
            self.failures += 1;
        }
        self.in_cycle = true;
        false
    }

    /// A KPI used in another's expression: its value, with its own `by`, `where` and lets,
    /// at the using KPI's grain. A KPI without `by` is broadcast over the user's dimensions.
    fn inline_kpi(&mut self, kpi: &'a ast::Kpi, ident: &'a Ident, ctx: &Ctx<'a>) -> (ir::Expr, Ty) {
        let key = kpi.name.name.clone();
        if !self.enter(&key, ident.span) {
            return (ir::Expr::Null, Ty::Null);
        }
        let Some(value) = &kpi.value else {
            return (ir::Expr::Null, Ty::Null);
        };
        let own: Vec<String> = kpi.by.iter().map(|b| b.name.clone()).collect();
        let dims = if ctx.whole {
            // Inside `total()` or a KPI without `by`: take the KPI whole.
            Vec::new()
        } else {
            if let Some(extra) = own.iter().find(|d| !ctx.dims.contains(d)) {
                self.error(
                    Diagnostic::error(
                        "E0345",
                        format!(
                            "KPI `{}` is split by `{extra}`, which KPI `{}` is not",
                            kpi.name.name, ctx.kpi_name
                        ),
                    )
                    .at(ident.span)
                    .with_hint("A KPI can use KPIs split by the same or fewer dimensions; wrap it in `total()` to use its overall value."),
                );
                return (ir::Expr::Null, Ty::Null);
            }
            own
        };
        let inner = Ctx {
            kpi_name: ctx.kpi_name,
            dims,
            by_idents: &kpi.by,
            grain: ctx.grain,
            filter: kpi.filter.as_ref(),
            locals: &kpi.lets,
            in_goal: false,
            dims_only: false,
            whole: ctx.whole,
        };
        self.expanding.push(key);
        let before = self.errors();
        let result = self.expr(value, &inner, None);
        self.expanding.pop();
        // Said of a KPI's direct uses only: a KPI used further down reports its own errors.
        if self.errors() > before && !self.in_cycle && self.expanding.len() == 1 {
            self.error(
                Diagnostic::error(
                    "E0346",
                    format!(
                        "KPI `{}` uses KPI `{}`, which has errors",
                        ctx.kpi_name, kpi.name.name
                    ),
                )
                .at(ident.span),
            );
        }
        result
    }

    fn kpi_call(
        &mut self,
        expr: &'a ast::Expr,
        func: &'a Ident,
        args: &'a [ast::CallArg],
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
        let name = func.name.as_str();
        match name {
            "previous" => {
                if !(1..=2).contains(&args.len()) {
                    return self.arity(func, expr.span, "1 or 2");
                }
                let (x, ty) = self.plain_arg(&args[0], ctx);
                let n = match args.get(1) {
                    None => 1,
                    Some(arg) => match &arg.expr.kind {
                        ast::ExprKind::Number(n)
                            if n.fract() == 0.0 && *n >= 1.0 && *n <= 1000.0 =>
                        {
                            *n as u32
                        }
                        _ => {
                            self.error(
                                Diagnostic::error(
                                    "E0350",
                                    "the number of periods must be a whole number from 1",
                                )
                                .at(arg.span),
                            );
                            1
                        }
                    },
                };
                (ir::Expr::Previous(Box::new(x), n), ty)
            }
            "growth" => {
                if args.len() != 1 {
                    return self.arity(func, expr.span, "1");
                }
                let (x, _) = self.plain_arg(&args[0], ctx);
                // `x` is used twice below: its size counts twice towards the expansion budget.
                self.expanded_nodes = self.expanded_nodes.saturating_add(x.size());
                if self.expanded_nodes > MAX_EXPANDED_NODES {
                    return self.expr(expr, ctx, None);
                }
                let ratio = ir::Expr::Binary(
                    ir::BinaryOp::Div,
                    Box::new(x.clone()),
                    Box::new(ir::Expr::Previous(Box::new(x), 1)),
                );
                (
                    ir::Expr::Binary(
                        ir::BinaryOp::Sub,
                        Box::new(ratio),
                        Box::new(ir::Expr::Number(1.0)),
                    ),
                    Ty::Number,
                )
            }
            "total" => {
                if args.len() != 1 {
                    return self.arity(func, expr.span, "1");
                }
                let inner = Ctx {
                    dims: Vec::new(),
                    whole: true,
                    ..ctx.clone()
                };
                self.plain_arg(&args[0], &inner)
            }
            "running" | "rolling" => {
                self.error(
                    Diagnostic::unsupported(format!("`{name}()` is not supported yet"))
                        .at(func.span)
                        .with_hint("Year-to-date and rolling windows are planned."),
                );
                (ir::Expr::Null, Ty::Null)
            }
            "count" | "count_distinct" | "sum" | "mean" | "avg" | "median" | "quantile"
            | "stddev" => self.aggregate(expr, func, args, ctx),
            "min" | "max" if args.len() == 1 => self.aggregate(expr, func, args, ctx),
            _ => self.function(expr, func, args, ctx, None),
        }
    }

    fn arity(&mut self, func: &Ident, span: Span, expected: &str) -> (ir::Expr, Ty) {
        self.error(
            Diagnostic::error(
                "E0351",
                format!("`{}` takes {expected} argument(s)", func.name),
            )
            .at(span),
        );
        (ir::Expr::Null, Ty::Null)
    }

    /// An argument that may not carry `where` or `at`.
    fn plain_arg(&mut self, arg: &'a ast::CallArg, ctx: &Ctx<'a>) -> (ir::Expr, Ty) {
        if arg.filter.is_some() || arg.live.is_some() {
            self.error(
                Diagnostic::error(
                    "E0352",
                    "`where` and `at` belong inside an aggregate's argument",
                )
                .at(arg.span)
                .with_hint("For example `count(leads where won)`."),
            );
        }
        self.expr(&arg.expr, ctx, None)
    }

    fn aggregate(
        &mut self,
        expr: &'a ast::Expr,
        func: &'a Ident,
        args: &'a [ast::CallArg],
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
        let name = func.name.as_str();
        let agg = match name {
            "count" => AggFunc::Count,
            "count_distinct" => AggFunc::CountDistinct,
            "sum" => AggFunc::Sum,
            "mean" | "avg" => AggFunc::Mean,
            "median" => AggFunc::Median,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "quantile" => AggFunc::Quantile,
            _ => AggFunc::Stddev,
        };
        let expected = if agg == AggFunc::Quantile { 2 } else { 1 };
        if args.len() != expected {
            if args.is_empty() && agg == AggFunc::Count {
                self.error(
                    Diagnostic::error("E0353", "`count()` needs a dataset: `count(orders)`")
                        .at(expr.span)
                        .with_hint("`count()` without an argument is for per-entity views, which are not supported yet."),
                );
                return (ir::Expr::Null, Ty::Null);
            }
            return self.arity(func, expr.span, if expected == 2 { "2" } else { "1" });
        }
        let quantile = if agg == AggFunc::Quantile {
            match &args[1].expr.kind {
                ast::ExprKind::Number(q) if (0.0..=1.0).contains(q) => *q,
                _ => {
                    self.error(
                        Diagnostic::error(
                            "E0354",
                            "the quantile must be a number from 0 to 1, such as 0.9",
                        )
                        .at(args[1].span),
                    );
                    0.5
                }
            }
        } else {
            0.0
        };
        let arg = &args[0];
        // Which dataset does the argument read? A bare dataset name, or the `ds.` of its columns.
        let whole_dataset = match &arg.expr.kind {
            ast::ExprKind::Path { head, field: None }
                if self.input.manifest.datasets.contains_key(&head.name)
                    || self.views.contains_key(head.name.as_str())
                    || self.broken.contains_key(head.name.as_str()) =>
            {
                Some(head)
            }
            _ => None,
        };
        let head = match whole_dataset {
            Some(head) => head,
            None => {
                let mut heads = Vec::new();
                collect_heads(&arg.expr, &mut heads);
                let mut distinct: Vec<&Ident> = Vec::new();
                for h in heads {
                    if !distinct.iter().any(|d| d.name == h.name) {
                        distinct.push(h);
                    }
                }
                match distinct.len() {
                    1 => distinct[0],
                    0 => {
                        self.error(
                            Diagnostic::error("E0355", format!("`{name}` needs to know which dataset it reads"))
                                .at(arg.expr.span)
                                .with_hint(format!("Name the dataset with its columns, for example `{name}(orders.amount)`.")),
                        );
                        return (ir::Expr::Null, Ty::Null);
                    }
                    _ => {
                        self.error(
                            Diagnostic::error(
                                "E0356",
                                format!(
                                    "one aggregate reads one dataset, but this one reads `{}` and `{}`",
                                    distinct[0].name, distinct[1].name
                                ),
                            )
                            .at(arg.expr.span)
                            .with_hint("Aggregate each dataset on its own and combine the results, or join them in a view."),
                        );
                        return (ir::Expr::Null, Ty::Null);
                    }
                }
            }
        };
        let Some((source_id, mut filters)) = self.source_of(head) else {
            let d = self.unusable_source(head, ctx.kpi_name);
            self.error(d);
            return (ir::Expr::Null, Ty::Null);
        };
        let row = Row {
            source: source_id,
            name: &head.name,
        };
        let (arg_expr, arg_ty) = if whole_dataset.is_some() {
            if agg != AggFunc::Count {
                self.error(
                    Diagnostic::error(
                        "E0358",
                        format!("`{name}` of a whole dataset has no meaning"),
                    )
                    .at(arg.expr.span)
                    .with_hint(format!("Name a column: `{name}({}.amount)`.", head.name)),
                );
                return (ir::Expr::Null, Ty::Null);
            }
            (None, Ty::Number)
        } else {
            let (e, ty) = self.row_expr(&arg.expr, ctx, row);
            (Some(e), ty)
        };
        match agg {
            AggFunc::Count | AggFunc::CountDistinct => {}
            _ if !arg_ty.is_numeric() => {
                // Name the column, the dataset and its file: the fix is often in the data.
                let what = match &arg_expr {
                    Some(ir::Expr::Column(column)) => {
                        let dataset = &self.sources[source_id].dataset;
                        let file = self
                            .input
                            .manifest
                            .datasets
                            .get(dataset)
                            .map(|d| d.path.as_str())
                            .unwrap_or("");
                        format!(
                            "column `{column}` of `{dataset}` ({file}) holds {}",
                            arg_ty.name()
                        )
                    }
                    _ => format!("this is {}", arg_ty.name()),
                };
                self.error(
                    Diagnostic::error("E0359", format!("`{name}` needs numbers, but {what}"))
                        .at(arg.expr.span)
                        .with_hint("Use `count` or `count_distinct` for text and dates, or fix the column's values so that they read as numbers."),
                );
            }
            _ => {}
        }
        if let Some(f) = ctx.filter {
            let (e, ty) = self.row_expr(f, ctx, row);
            self.expect_bool(ty, f.span, "a KPI's `where`");
            filters.push(e);
        }
        if let Some(f) = &arg.filter {
            let (e, ty) = self.row_expr(f, ctx, row);
            self.expect_bool(ty, f.span, "an aggregate's `where`");
            filters.push(e);
        }
        let live = arg.live.as_ref().map(|l| l.node);
        if let Some(edge) = &arg.live {
            if self.sources[source_id].until.is_none() {
                self.error(
                    Diagnostic::error(
                        "E0360",
                        format!("`at start` and `at end` need a dataset with `until`, and `{}` has none", head.name),
                    )
                    .at(edge.span)
                    .with_hint(format!(
                        "Set `until` (the column that ends a row's life) for `{}` in kpi.toml.",
                        self.sources[source_id].dataset
                    )),
                );
            }
        }
        let source = &self.sources[source_id];
        let mut missing = Vec::new();
        for dim in &ctx.dims {
            if source.dimension_column(dim).is_none() {
                missing.push(dim.clone());
            }
        }
        for dim in missing {
            let span = ctx
                .by_idents
                .iter()
                .find(|b| b.name == dim)
                .map(|b| b.span)
                .unwrap_or(expr.span);
            let source = &self.sources[source_id];
            let d = Diagnostic::error(
                "E0361",
                format!("dataset `{}` has no dimension `{dim}`", source.name),
            )
            .at(span)
            .with_label(format!("`{}` reads `{}`", name, head.name))
            .with_hint(format!(
                "Columns of `{}`: {}.",
                source.name,
                source.schema.names().collect::<Vec<_>>().join(", ")
            ))
            .with_hint(format!(
                "Map a column to it in kpi.toml: `dimensions = {{ {dim} = \"column\" }}` under `[datasets.{}]`.",
                source.dataset
            ));
            let d = match source.unreadable_dimensions.get(&dim) {
                Some(why) => d.with_hint(why.clone()),
                None => d,
            };
            self.error(d);
        }
        let filter = filters
            .into_iter()
            .reduce(|a, b| ir::Expr::Binary(ir::BinaryOp::And, Box::new(a), Box::new(b)));
        (
            ir::Expr::Agg(Box::new(ir::Aggregate {
                source: source_id,
                func: agg,
                arg: arg_expr,
                filter,
                grain: ctx.grain,
                dims: ctx.dims.clone(),
                live,
                quantile,
            })),
            Ty::Number,
        )
    }

    // ------------------------------------------------------------------ row expressions

    fn row_expr(&mut self, expr: &'a ast::Expr, ctx: &Ctx<'a>, row: Row<'a>) -> (ir::Expr, Ty) {
        match &expr.kind {
            ast::ExprKind::Path { head, field } => {
                let column = match field {
                    None => head,
                    Some(field) => {
                        if head.name != row.name {
                            self.error(
                                Diagnostic::error(
                                    "E0370",
                                    format!("`{}` is not the dataset this aggregate reads (`{}`)", head.name, row.name),
                                )
                                .at(head.span)
                                .with_hint("Inside an aggregate every column comes from the one dataset it reads."),
                            );
                            return (ir::Expr::Null, Ty::Null);
                        }
                        field
                    }
                };
                let source = &self.sources[row.source];
                match source.schema.get(&column.name) {
                    Some(ty) => (ir::Expr::Column(column.name.clone()), ty),
                    None => {
                        let d = self.unknown_column(
                            &column.name,
                            column.span,
                            &self.sources[row.source].clone(),
                        );
                        self.error(d);
                        (ir::Expr::Null, Ty::Null)
                    }
                }
            }
            ast::ExprKind::Call { func, args } => {
                let name = func.name.as_str();
                let aggregate = AGGREGATES.contains(&name)
                    && !(matches!(name, "min" | "max") && args.len() == 2);
                if aggregate || KPI_FUNCTIONS.contains(&name) {
                    self.error(
                        Diagnostic::error("E0371", format!("`{}` inside an aggregate", func.name))
                            .at(func.span)
                            .with_hint("An aggregate's argument is computed per row; aggregates cannot nest."),
                    );
                    return (ir::Expr::Null, Ty::Null);
                }
                self.function(expr, func, args, ctx, Some(row))
            }
            _ => self.common(expr, ctx, Some(row)),
        }
    }

    /// Literals and operators, the same at KPI and row level.
    fn common(
        &mut self,
        expr: &'a ast::Expr,
        ctx: &Ctx<'a>,
        row: Option<Row<'a>>,
    ) -> (ir::Expr, Ty) {
        use ast::ExprKind as K;
        match &expr.kind {
            K::Number(n) => (ir::Expr::Number(*n), Ty::Number),
            K::String(s) => (ir::Expr::String(s.clone()), Ty::String),
            K::Date(d) => (ir::Expr::Date(*d), Ty::Date),
            K::Bool(b) => (ir::Expr::Bool(*b), Ty::Bool),
            K::Null => (ir::Expr::Null, Ty::Null),
            K::Path { .. } | K::Call { .. } => self.expr(expr, ctx, row),
            K::Unary { op, expr: inner } => {
                let (e, ty) = self.expr(inner, ctx, row);
                match op {
                    ast::UnaryOp::Neg => {
                        self.expect_number(ty, inner.span, "the operand of `-`");
                        (ir::Expr::Unary(*op, Box::new(e)), Ty::Number)
                    }
                    ast::UnaryOp::Not => {
                        self.expect_bool(ty, inner.span, "the operand of `not`");
                        (ir::Expr::Unary(*op, Box::new(e)), Ty::Bool)
                    }
                }
            }
            K::Binary { op, left, right } => {
                let (l, lt) = self.expr(left, ctx, row);
                let (r, rt) = self.expr(right, ctx, row);
                let ty = match op {
                    ast::BinaryOp::And | ast::BinaryOp::Or => {
                        self.expect_bool(lt, left.span, "an operand of `and`/`or`");
                        self.expect_bool(rt, right.span, "an operand of `and`/`or`");
                        Ty::Bool
                    }
                    ast::BinaryOp::Compare(_) => {
                        self.expect_comparable(lt, rt, expr.span);
                        Ty::Bool
                    }
                    _ => {
                        self.expect_number(lt, left.span, "an operand of arithmetic");
                        self.expect_number(rt, right.span, "an operand of arithmetic");
                        Ty::Number
                    }
                };
                (ir::Expr::Binary(*op, Box::new(l), Box::new(r)), ty)
            }
            K::IsNull {
                expr: inner,
                negated,
            } => {
                let (e, _) = self.expr(inner, ctx, row);
                (ir::Expr::IsNull(Box::new(e), *negated), Ty::Bool)
            }
            K::In {
                expr: inner,
                list,
                negated,
            } => {
                let (e, ty) = self.expr(inner, ctx, row);
                let mut items = Vec::new();
                for item in list {
                    let (i, it) = self.expr(item, ctx, row);
                    self.expect_comparable(ty, it, item.span);
                    items.push(i);
                }
                (ir::Expr::In(Box::new(e), items, *negated), Ty::Bool)
            }
            K::Between {
                expr: inner,
                low,
                high,
            } => {
                let (e, ty) = self.expr(inner, ctx, row);
                let (l, lt) = self.expr(low, ctx, row);
                let (h, ht) = self.expr(high, ctx, row);
                self.expect_comparable(ty, lt, low.span);
                self.expect_comparable(ty, ht, high.span);
                (
                    ir::Expr::Between(Box::new(e), Box::new(l), Box::new(h)),
                    Ty::Bool,
                )
            }
            K::If {
                cond,
                then,
                otherwise,
            } => {
                let (c, ct) = self.expr(cond, ctx, row);
                self.expect_bool(ct, cond.span, "the condition of `if`");
                let (t, tt) = self.expr(then, ctx, row);
                let (o, ot) = self.expr(otherwise, ctx, row);
                let ty = if tt == Ty::Null { ot } else { tt };
                if tt != Ty::Null && ot != Ty::Null && tt != ot {
                    self.error(
                        Diagnostic::error(
                            "E0372",
                            format!(
                                "the branches of `if` differ: {} and {}",
                                tt.name(),
                                ot.name()
                            ),
                        )
                        .at(expr.span),
                    );
                }
                (ir::Expr::If(Box::new(c), Box::new(t), Box::new(o)), ty)
            }
        }
    }

    fn expect_comparable(&mut self, a: Ty, b: Ty, span: Span) {
        let ok = a == Ty::Null
            || b == Ty::Null
            || a == b
            || (a.is_numeric() && b.is_numeric())
            || (a.is_temporal() && b.is_temporal());
        if !ok {
            self.error(
                Diagnostic::error(
                    "E0373",
                    format!("cannot compare {} with {}", a.name(), b.name()),
                )
                .at(span),
            );
        }
    }

    /// Scalar functions (any level) and row functions (inside aggregates only).
    fn function(
        &mut self,
        expr: &'a ast::Expr,
        func: &'a Ident,
        args: &'a [ast::CallArg],
        ctx: &Ctx<'a>,
        row: Option<Row<'a>>,
    ) -> (ir::Expr, Ty) {
        let name = func.name.as_str();
        // (function, arity range, argument kind, result)
        let Some(&(_, f, min, max, takes, result)) = FUNCTIONS.iter().find(|entry| entry.0 == name)
        else {
            let known = AGGREGATES
                .iter()
                .chain(&KPI_FUNCTIONS)
                .copied()
                .chain(FUNCTIONS.iter().map(|entry| entry.0));
            let mut d =
                Diagnostic::error("E0380", format!("unknown function `{name}`")).at(func.span);
            if let Some(hint) = did_you_mean(name, known) {
                d = d.with_hint(hint);
            }
            self.error(d);
            return (ir::Expr::Null, Ty::Null);
        };
        let row_only = matches!(takes, Ty::Date | Ty::String);
        if row_only && row.is_none() {
            self.error(
                Diagnostic::error(
                    "E0381",
                    format!("`{name}` works on rows; use it inside an aggregate"),
                )
                .at(func.span)
                .with_hint(format!(
                    "For example `mean({name}(...))` with columns of one dataset."
                )),
            );
            return (ir::Expr::Null, Ty::Null);
        }
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                min.to_string()
            } else if max == 64 {
                format!("at least {min}")
            } else {
                format!("{min} or {max}")
            };
            return self.arity(func, expr.span, &expected);
        }
        let mut resolved = Vec::new();
        let mut result_ty = result;
        for (i, arg) in args.iter().enumerate() {
            let (e, ty) = match row {
                Some(r) => {
                    if arg.filter.is_some() || arg.live.is_some() {
                        self.error(
                            Diagnostic::error(
                                "E0352",
                                "`where` and `at` belong inside an aggregate's argument",
                            )
                            .at(arg.span),
                        );
                    }
                    self.row_expr(&arg.expr, ctx, r)
                }
                None => self.plain_arg(arg, ctx),
            };
            // The second argument of contains/starts_with is the text looked for.
            let wanted = match (f, i) {
                (Func::Round, 1) => Ty::Number,
                _ => takes,
            };
            let ok = match wanted {
                Ty::Number => ty.is_numeric(),
                Ty::Date => ty.is_temporal(),
                Ty::String => matches!(ty, Ty::String | Ty::Null),
                _ => true,
            };
            if !ok {
                self.error(
                    Diagnostic::error(
                        "E0382",
                        format!(
                            "`{name}` needs {}, but this is {}",
                            plural(wanted),
                            ty.name()
                        ),
                    )
                    .at(arg.expr.span),
                );
            }
            if matches!(f, Func::Contains | Func::StartsWith)
                && i == 1
                && !matches!(e, ir::Expr::String(_))
            {
                self.error(
                    Diagnostic::error(
                        "E0383",
                        format!("the second argument of `{name}` must be a text literal"),
                    )
                    .at(arg.expr.span),
                );
            }
            if f == Func::Round
                && i == 1
                && !matches!(e, ir::Expr::Number(n) if n.fract() == 0.0 && n >= 0.0)
            {
                self.error(
                    Diagnostic::error("E0384", "`round` takes a whole number of decimals")
                        .at(arg.expr.span),
                );
            }
            if f == Func::Coalesce && result_ty == Ty::Null {
                result_ty = ty;
            }
            resolved.push(e);
        }
        (ir::Expr::Func(f, resolved), result_ty)
    }
}

fn plural(ty: Ty) -> &'static str {
    match ty {
        Ty::Number => "numbers",
        Ty::Date => "dates",
        Ty::String => "text",
        _ => "values",
    }
}

/// The `ds` of every `ds.col` in an expression.
fn collect_heads<'e>(expr: &'e ast::Expr, out: &mut Vec<&'e Ident>) {
    use ast::ExprKind as K;
    match &expr.kind {
        K::Path {
            head,
            field: Some(_),
        } => out.push(head),
        K::Path { .. } | K::Number(_) | K::String(_) | K::Date(_) | K::Bool(_) | K::Null => {}
        K::Call { args, .. } => {
            for a in args {
                collect_heads(&a.expr, out);
            }
        }
        K::Unary { expr, .. } | K::IsNull { expr, .. } => collect_heads(expr, out),
        K::Binary { left, right, .. } => {
            collect_heads(left, out);
            collect_heads(right, out);
        }
        K::In { expr, list, .. } => {
            collect_heads(expr, out);
            for i in list {
                collect_heads(i, out);
            }
        }
        K::Between { expr, low, high } => {
            collect_heads(expr, out);
            collect_heads(low, out);
            collect_heads(high, out);
        }
        K::If {
            cond,
            then,
            otherwise,
        } => {
            collect_heads(cond, out);
            collect_heads(then, out);
            collect_heads(otherwise, out);
        }
    }
}
