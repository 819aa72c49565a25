//! Aggregates and the functions of KPI values: `previous`, `growth`, `total`, windows.

use super::functions::{collect_heads, KPI_FUNCTIONS};
use super::MAX_EXPANDED_NODES;
use super::{Ctx, Resolver, Row};
use crate::compile::ir::{self, AggFunc, Ty};
use crate::diagnostic::did_you_mean;
use crate::diagnostic::Diagnostic;
use crate::period::{Grain, GRAINS};
use crate::source::Span;
use crate::syntax::ast::{self, Ident};

impl<'a> Resolver<'a> {
    pub(super) fn kpi_call(
        &mut self,
        expr: &'a ast::Expr,
        func: &'a Ident,
        args: &'a [ast::CallArg],
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
        let name = func.name.as_str();
        if ctx.entity.is_some() && KPI_FUNCTIONS.contains(&name) {
            self.error(
                Diagnostic::error(
                    "E0368",
                    format!("`{name}` inside a per-entity view's columns"),
                )
                .at(func.span)
                .with_hint("A per-entity column aggregates one entity's rows in one period; use `previous` and windows in the KPI that reads the view."),
            );
            return (ir::Expr::Null, Ty::Null);
        }
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
            "running" | "rolling" => self.window_call(expr, func, args, ctx),
            "count" | "count_distinct" | "sum" | "mean" | "avg" | "median" | "quantile"
            | "stddev" => self.aggregate(expr, func, args, ctx),
            "min" | "max" if args.len() == 1 => self.aggregate(expr, func, args, ctx),
            _ => self.function(expr, func, args, ctx, None),
        }
    }

    /// The probability of `quantile(x, q)`; 0 for other aggregates.
    fn quantile_of(&mut self, agg: AggFunc, args: &'a [ast::CallArg]) -> f64 {
        if agg != AggFunc::Quantile {
            return 0.0;
        }
        match args.get(1).map(|a| &a.expr.kind) {
            Some(ast::ExprKind::Number(q)) if (0.0..=1.0).contains(q) => *q,
            _ => {
                if let Some(arg) = args.get(1) {
                    self.error(
                        Diagnostic::error(
                            "E0354",
                            "the quantile must be a number from 0 to 1, such as 0.9",
                        )
                        .at(arg.span),
                    );
                }
                0.5
            }
        }
    }

    /// An aggregate inside a per-entity view's `{ ... }`: over the rows of one entity, whose
    /// bare names are the base's columns. `count()` counts them.
    fn entity_aggregate(
        &mut self,
        agg: AggFunc,
        arg: Option<&'a ast::CallArg>,
        quantile: f64,
        base: Row<'a>,
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
        let mut filter = None;
        let mut value = None;
        if let Some(arg) = arg {
            let whole = matches!(&arg.expr.kind, ast::ExprKind::Path { head, field: None } if head.name == base.name);
            if !whole {
                let (e, ty) = self.row_expr(&arg.expr, ctx, base);
                if !matches!(agg, AggFunc::Count | AggFunc::CountDistinct) && !ty.is_numeric() {
                    self.error(
                        Diagnostic::error(
                            "E0359",
                            format!("this aggregate needs numbers, but this is {}", ty.name()),
                        )
                        .at(arg.expr.span),
                    );
                }
                value = Some(e);
            } else if agg != AggFunc::Count {
                self.error(
                    Diagnostic::error("E0358", "only `count` takes a whole dataset")
                        .at(arg.expr.span),
                );
            }
            if let Some(live) = &arg.live {
                self.error(
                    Diagnostic::error(
                        "E0360",
                        "`at start` and `at end` have no meaning inside a per-entity view",
                    )
                    .at(live.span),
                );
            }
            if let Some(f) = &arg.filter {
                let (e, ty) = self.row_expr(f, ctx, base);
                self.expect_bool(ty, f.span, "an aggregate's `where`");
                filter = Some(e);
            }
        }
        (
            ir::Expr::Agg(Box::new(ir::Aggregate {
                source: base.source,
                func: agg,
                arg: value,
                filter,
                grain: ctx.grain,
                dims: Vec::new(),
                live: None,
                quantile,
                window: None,
                entity_filter: None,
                through: None,
            })),
            Ty::Number,
        )
    }

    /// `running(x)`, `running(x, GRAIN)`, `rolling(x, n)`: the window is pushed down to every
    /// aggregate of `x`, so that a ratio is the ratio of the windowed parts (LANGUAGE 4.5).
    fn window_call(
        &mut self,
        expr: &'a ast::Expr,
        func: &'a Ident,
        args: &'a [ast::CallArg],
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
        let running = func.name == "running";
        if running && !(1..=2).contains(&args.len()) {
            return self.arity(func, expr.span, "1 or 2");
        }
        if !running && args.len() != 2 {
            return self.arity(func, expr.span, "2");
        }
        let window = if running {
            match args.get(1) {
                None => Some(ir::Window::Running(Grain::Year)),
                Some(arg) => self.running_grain(arg, ctx.grain),
            }
        } else {
            self.rolling_length(&args[1])
        };
        let (x, ty) = self.plain_arg(&args[0], ctx);
        let Some(window) = window else {
            return (ir::Expr::Null, Ty::Null);
        };
        let before = self.errors();
        let mut found = false;
        let windowed = self.push_window(x, window, &mut found, args[0].expr.span);
        if self.errors() > before {
            return (ir::Expr::Null, Ty::Null);
        }
        if !found {
            self.error(
                Diagnostic::error(
                    "E0366",
                    format!("`{}` needs an aggregate to accumulate", func.name),
                )
                .at(args[0].expr.span)
                .with_hint(format!(
                    "A window adds up the rows of several periods; give it an aggregate such as `{}(sum(orders.amount){})`.",
                    func.name,
                    if running { "" } else { ", 3" }
                )),
            );
            return (ir::Expr::Null, Ty::Null);
        }
        (windowed, ty)
    }

    /// The coarser grain of `running(x, GRAIN)`.
    fn running_grain(&mut self, arg: &'a ast::CallArg, grain: Grain) -> Option<ir::Window> {
        let name = match &arg.expr.kind {
            ast::ExprKind::Path { head, field: None } => Some(head.name.as_str()),
            _ => None,
        };
        let coarser = name.and_then(Grain::parse);
        match coarser {
            Some(coarser) if coarser > grain => Some(ir::Window::Running(coarser)),
            Some(coarser) => {
                self.error(
                    Diagnostic::error(
                        "E0367",
                        format!(
                            "`running` to date of a {} needs a KPI whose grain is finer, but this one is every {}",
                            coarser.name(),
                            grain.name()
                        ),
                    )
                    .at(arg.span)
                    .with_hint("`running(x)` is year to date; `running(x, quarter)` quarter to date, for a KPI every month, week or day."),
                );
                None
            }
            None => {
                let mut d = Diagnostic::error(
                    "E0367",
                    "the second argument of `running` is a grain: week, month, quarter or year",
                )
                .at(arg.span)
                .with_hint("`running(x, quarter)` accumulates from the start of each quarter.");
                if let Some(hint) = name.and_then(|n| did_you_mean(n, GRAINS)) {
                    d = d.with_hint(hint);
                }
                self.error(d);
                None
            }
        }
    }

    /// The n of `rolling(x, n)`.
    fn rolling_length(&mut self, arg: &'a ast::CallArg) -> Option<ir::Window> {
        match &arg.expr.kind {
            ast::ExprKind::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= 1000.0 => {
                Some(ir::Window::Rolling(*n as u32))
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        "E0350",
                        "the number of periods must be a whole number from 1 to 1000",
                    )
                    .at(arg.span)
                    .with_hint("`rolling(x, 3)` is over the last 3 periods, this one included; `rolling(x, 1)` is `x` itself."),
                );
                None
            }
        }
    }

    /// Sets the window on every aggregate of `expr`; says why an aggregate cannot take one.
    fn push_window(
        &mut self,
        expr: ir::Expr,
        window: ir::Window,
        found: &mut bool,
        span: Span,
    ) -> ir::Expr {
        match expr {
            ir::Expr::Agg(mut aggregate) => {
                *found = true;
                let source = &self.sources[aggregate.source];
                let problem = if let Some(inner) = aggregate.window {
                    Some((
                        "E0364",
                        format!("this has a window already: {}", inner.describe()),
                        "Windows do not nest; write one window over the aggregates.".to_string(),
                    ))
                } else if aggregate.live.is_some() {
                    Some((
                        "E0363",
                        format!("a window over `{}` counted `at start`/`at end` adds up the same rows period after period", source.name),
                        "Live rows are a stock, already a running total: count them without a window (the stock when a 3-period window began is `previous(count(customers at start), 2)`), or put the rows dated in each period (`count(customers)`) inside the window.".to_string(),
                    ))
                } else if source.time.is_none() {
                    Some((
                        "E0363",
                        format!("`{}` has no `time` column, so its rows belong to no period and a window over them has no meaning", source.name),
                        format!("Set `time` for `{}` in kpi.toml, or take it without a window.", source.dataset),
                    ))
                } else {
                    None
                };
                if let Some((code, message, hint)) = problem {
                    self.error(Diagnostic::error(code, message).at(span).with_hint(hint));
                }
                aggregate.window = Some(window);
                ir::Expr::Agg(aggregate)
            }
            ir::Expr::SelfValue => {
                self.error(
                    Diagnostic::error("E0366", "a window over the KPI's own `previous` value")
                        .at(span)
                        .with_hint("Windows are computed on aggregates; put the window in the KPI's value."),
                );
                ir::Expr::Null
            }
            other => other
                .map_children(|child| crate::deep(|| self.push_window(child, window, found, span))),
        }
    }

    pub(super) fn arity(&mut self, func: &Ident, span: Span, expected: &str) -> (ir::Expr, Ty) {
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
    pub(super) fn plain_arg(&mut self, arg: &'a ast::CallArg, ctx: &Ctx<'a>) -> (ir::Expr, Ty) {
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

    pub(super) fn aggregate(
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
        if let Some(base) = ctx.entity {
            if !(args.is_empty() && agg == AggFunc::Count) && args.len() != expected {
                return self.arity(func, expr.span, if expected == 2 { "2" } else { "1" });
            }
            let quantile = self.quantile_of(agg, args);
            return self.entity_aggregate(agg, args.first(), quantile, base, ctx);
        }
        if args.len() != expected {
            if args.is_empty() && agg == AggFunc::Count {
                self.error(
                    Diagnostic::error("E0353", "`count()` needs a dataset: `count(orders)`")
                        .at(expr.span)
                        .with_hint("`count()` without an argument counts the rows of one entity, inside a per-entity view's `{ ... }`."),
                );
                return (ir::Expr::Null, Ty::Null);
            }
            return self.arity(func, expr.span, if expected == 2 { "2" } else { "1" });
        }
        let quantile = self.quantile_of(agg, args);
        let arg = &args[0];
        // Which dataset does the argument read? A bare dataset name, or the `ds.` of its columns.
        let whole_dataset = match &arg.expr.kind {
            ast::ExprKind::Path { head, field: None }
                if self.input.manifest.datasets.contains_key(&head.name)
                    || self.items.views.contains_key(head.name.as_str())
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
        let mut entity_filter = None;
        if let Some(f) = ctx.filter {
            // Over a per-entity view, the KPI's `where` chooses the rows the entities are built
            // from (`where region == "EU"`: EU orders), not the entities.
            let target = match &self.sources[source_id].per {
                Some(per) => Row {
                    source: per.base,
                    name: &head.name,
                },
                None => row,
            };
            let before = self.diagnostics.len();
            let (e, ty) = self.row_expr(f, ctx, target);
            self.expect_bool(ty, f.span, "a KPI's `where`");
            if target.source != source_id && self.diagnostics.len() > before {
                let base = self.sources[target.source].name.clone();
                let hint = format!("Over the per-entity view `{}`, a KPI's `where` chooses the rows of `{base}` its entities are built from; filter the entities in the aggregate instead: `count({} where ...)`.", head.name, head.name);
                if let Some(last) = self.diagnostics.last_mut() {
                    last.hints.push(hint);
                }
            }
            if target.source == source_id {
                filters.push(e);
            } else {
                entity_filter = Some(e);
            }
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
                window: None,
                entity_filter,
                through: None,
            })),
            Ty::Number,
        )
    }
}
