//! KPIs and their targets: grain, format, dimensions, goals and the checks across them.

use std::collections::BTreeMap;

use super::{Ctx, Resolver};
use crate::compile::ir::{self, Ty};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::period::{Grain, GRAINS};
use crate::syntax::ast;

impl<'a> Resolver<'a> {
    pub(super) fn kpi(&mut self, kpi: &'a ast::Kpi) -> Option<ir::Kpi> {
        let before = self.errors();
        let first_new = self.diagnostics.len();
        self.in_cycle = false;
        self.too_deep_reported = false;
        self.expanded_nodes = 0;
        self.maturity = ir::Maturity::default();
        self.drawing = None;
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
            entity: None,
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
        let deadline = self.deadline(kpi, grain, &value);
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
            deadline,
            maturity: self.maturity,
            drawing: self.drawing.take(),
            location: self.input.sources.location(kpi.name.span),
            span: kpi.span,
        })
    }

    /// The deadline of a time-bound KPI (`target ... by DATE`) and how it is paced (LANGUAGE 5.2).
    fn deadline(&mut self, kpi: &ast::Kpi, grain: Grain, value: &ir::Expr) -> Option<ir::Deadline> {
        let dated: Vec<&ast::Spanned<chrono::NaiveDate>> = kpi
            .targets
            .iter()
            .chain(&kpi.warns)
            .filter_map(|g| g.deadline.as_ref())
            .collect();
        let Some(first) = dated.first() else {
            if let Some(pace) = &kpi.pace {
                self.error(
                    Diagnostic::error("E0308", "`pace` needs a target with a deadline")
                        .at(pace.span)
                        .with_hint("`pace` says how a time-bound target projects the period in progress: `target >= 1_200_000 by 2025-12-31`."),
                );
            }
            return None;
        };
        if let Some(other) = dated.iter().find(|d| d.node != first.node) {
            self.error(
                Diagnostic::error(
                    "E0309",
                    format!(
                        "KPI `{}` has two deadlines: {} and {}",
                        kpi.name.name, first.node, other.node
                    ),
                )
                .at(other.span)
                .with_hint("The target and warn lines of one KPI are for one period; give them one deadline."),
            );
            return None;
        }
        let date = first.node;
        let period = grain.index_of(date);
        if grain.end(period).pred_opt() != Some(date) {
            let before = grain.start(period).pred_opt().unwrap_or(date);
            let after = grain.end(period).pred_opt().unwrap_or(date);
            self.error(
                Diagnostic::error(
                    "E0312",
                    format!("the deadline {date} does not end a {} of the KPI", grain.name()),
                )
                .at(first.span)
                .with_hint(format!(
                    "A deadline is the last day of the period it is for; the {}s around it end on {before} and {after}.",
                    grain.name()
                )),
            );
            return None;
        }
        let pace = match kpi.pace.as_ref().map(|p| p.name.as_str()) {
            None | Some("linear") => ir::Pace::Linear,
            Some("seasonal") => ir::Pace::Seasonal,
            Some(other) => {
                let span = kpi.pace.as_ref().map_or(kpi.span, |p| p.span);
                let mut d = Diagnostic::error("E0313", format!("unknown pace `{other}`"))
                    .at(span)
                    .with_hint("Paces are linear (the default) and seasonal.");
                if let Some(hint) = did_you_mean(other, ["linear", "seasonal"]) {
                    d = d.with_hint(hint);
                }
                self.error(d);
                ir::Pace::Linear
            }
        };
        // Entities of a per-entity view counted in a period do not add up over its days (the
        // same customer buys on the 3rd and the 20th): such a value is judged, not projected.
        let mut aggregates = Vec::new();
        value.collect_aggregates(&mut aggregates);
        let per_entity = aggregates
            .iter()
            .any(|a| self.sources[a.source].per.is_some());
        let accrual = value.accrual().filter(|_| !per_entity);
        if pace == ir::Pace::Seasonal && accrual.is_none() {
            let span = kpi.pace.as_ref().map_or(kpi.span, |p| p.span);
            self.error(
                Diagnostic::error(
                    "E0313",
                    "`pace seasonal` projects a value that adds up over the period, and this one does not",
                )
                .at(span)
                .with_hint("Sums and counts (and `running` sums) are projected; a ratio is judged on its value so far, so drop `pace`."),
            );
        }
        Some(ir::Deadline {
            date,
            period,
            pace,
            accrual,
        })
    }

    /// Every dataset a KPI splits by a dimension must hold the same kind of value in it, so that
    /// rows from different datasets meet: `1` in one and `"1"` or `1.0` in another would not.
    pub(super) fn check_dimension_types(
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
    pub(super) fn dimension_types(&self, value: &ir::Expr) -> BTreeMap<String, Ty> {
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

    pub(super) fn goal(&mut self, goal: &'a ast::Goal, ctx: &Ctx<'a>) -> ir::Goal {
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
}
