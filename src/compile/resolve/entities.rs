//! Funnels and cohorts (LANGUAGE 4.7, 4.8): entities followed through time, and the numbers
//! a KPI reads of them (`lead_funnel.won`, `lead_funnel.won.days`, `signup_retention.size`,
//! `signup_retention.active(3)`), which are aggregates over one row per entity dated by entry.

use std::collections::BTreeMap;

use super::{Ctx, Resolver, Row};
use crate::compile::ir::{self, AggFunc, Schema, Source, SourceId, Ty};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::syntax::ast::{self, Ident};

/// The longest a funnel's window may be, and the most ages a cohort may follow.
const MAX_WITHIN_DAYS: f64 = 3660.0;
const MAX_PERIODS: f64 = 120.0;

impl<'a> Resolver<'a> {
    /// `NAME.FIELD`, `NAME.FIELD.MEMBER` or `NAME.FIELD(ARGS)` at KPI level.
    pub(super) fn member(
        &mut self,
        expr: &'a ast::Expr,
        head: &'a Ident,
        field: &'a Ident,
        member: Option<&'a Ident>,
        args: Option<&'a [ast::CallArg]>,
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
        if let Some(funnel) = self.items.funnels.get(head.name.as_str()).copied() {
            return self.funnel_member(expr, funnel, head, field, member, args, ctx);
        }
        if let Some(cohort) = self.items.cohorts.get(head.name.as_str()).copied() {
            return self.cohort_member(expr, cohort, head, field, member, args, ctx);
        }
        if let Some(broken) = self.broken.get(head.name.as_str()).copied() {
            let d = self.broken_use(head, broken, ctx.kpi_name);
            self.error(d);
            return (ir::Expr::Null, Ty::Null);
        }
        let mut known: Vec<&str> = self.items.funnels.keys().copied().collect();
        known.extend(self.items.cohorts.keys().copied());
        let mut d = Diagnostic::error(
            "E0375",
            format!("`{}` is not a funnel or a cohort", head.name),
        )
        .at(head.span)
        .with_hint("`NAME.STEP`, `NAME.STEP.days`, `NAME.size` and `NAME.active(k)` read funnels and cohorts.");
        if let Some(hint) = did_you_mean(&head.name, known) {
            d = d.with_hint(hint);
        }
        self.error(d);
        (ir::Expr::Null, Ty::Null)
    }

    #[allow(clippy::too_many_arguments)]
    fn funnel_member(
        &mut self,
        expr: &'a ast::Expr,
        funnel: &'a ast::Funnel,
        head: &'a Ident,
        field: &'a Ident,
        member: Option<&'a Ident>,
        args: Option<&'a [ast::CallArg]>,
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
        let Some(source) = self.funnel_source(funnel) else {
            return self.uses_broken(head, "funnel", ctx);
        };
        let Some(step) = funnel.steps.iter().position(|s| s.name.name == field.name) else {
            let steps: Vec<&str> = funnel.steps.iter().map(|s| s.name.name.as_str()).collect();
            let mut d = Diagnostic::error(
                "E0376",
                format!("funnel `{}` has no step `{}`", head.name, field.name),
            )
            .at(field.span)
            .with_hint(format!("Its steps: {}.", steps.join(", ")));
            if let Some(hint) = did_you_mean(&field.name, steps) {
                d = d.with_hint(hint);
            }
            self.error(d);
            return (ir::Expr::Null, Ty::Null);
        };
        let days = match (member, args) {
            (None, None) => false,
            (Some(m), None) if m.name == "days" => true,
            _ => {
                self.error(
                    Diagnostic::error(
                        "E0377",
                        format!("a funnel step is read as `{0}.{1}` (entities that reached it) or `{0}.{1}.days` (mean days to reach it)", head.name, field.name),
                    )
                    .at(expr.span),
                );
                return (ir::Expr::Null, Ty::Null);
            }
        };
        let within = funnel.within.as_ref().map_or(0.0, |w| w.node);
        self.maturity.days = self.maturity.days.max(within);
        let Some(entity_filter) = self.entity_filter(source, ctx) else {
            return (ir::Expr::Null, Ty::Null);
        };
        if !self.entity_dimensions(source, ctx, expr) {
            return (ir::Expr::Null, Ty::Null);
        }
        let count = |s: usize| {
            (
                AggFunc::Count,
                None,
                ir::Expr::Column(ir::reached_column(s)),
            )
        };
        let mean_days = |s: usize| {
            (
                AggFunc::Mean,
                Some(ir::Expr::Column(ir::days_column(s))),
                ir::Expr::Column(ir::reached_column(s)),
            )
        };
        if self.drawing.is_none() && !ctx.whole {
            let steps = funnel
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        s.name.name.clone(),
                        entity_aggregate(source, count(i), ctx, &entity_filter),
                        entity_aggregate(source, mean_days(i), ctx, &entity_filter),
                    )
                })
                .collect();
            self.drawing = Some(ir::Drawing::Funnel {
                name: funnel.name.name.clone(),
                title: funnel.about.title.as_ref().map(|t| t.node.clone()),
                steps,
            });
        }
        let what = if days { mean_days(step) } else { count(step) };
        (
            entity_aggregate(source, what, ctx, &entity_filter),
            Ty::Number,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn cohort_member(
        &mut self,
        expr: &'a ast::Expr,
        cohort: &'a ast::Cohort,
        head: &'a Ident,
        field: &'a Ident,
        member: Option<&'a Ident>,
        args: Option<&'a [ast::CallArg]>,
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
        let Some(source) = self.cohort_source(cohort) else {
            return self.uses_broken(head, "cohort", ctx);
        };
        let Some(ir::Derived::Cohort(spec)) = self.sources[source].derived.clone() else {
            return (ir::Expr::Null, Ty::Null);
        };
        let usage = || {
            Diagnostic::error(
                "E0378",
                format!(
                    "a cohort is read as `{0}.size` (entities in it) or `{0}.active(k)` (those active k periods after their start, k from 0 to {1})",
                    head.name, spec.periods
                ),
            )
            .at(expr.span)
        };
        let age = match (field.name.as_str(), member, args) {
            ("size", None, None) => None,
            ("active", None, Some([arg])) => match &arg.expr.kind {
                ast::ExprKind::Number(k)
                    if k.fract() == 0.0 && *k >= 0.0 && *k <= f64::from(spec.periods) =>
                {
                    Some(*k as u32)
                }
                _ => {
                    self.error(usage());
                    return (ir::Expr::Null, Ty::Null);
                }
            },
            _ => {
                self.error(usage());
                return (ir::Expr::Null, Ty::Null);
            }
        };
        self.maturity.periods = self.maturity.periods.max(age.unwrap_or(0));
        let Some(entity_filter) = self.entity_filter(source, ctx) else {
            return (ir::Expr::Null, Ty::Null);
        };
        if !self.entity_dimensions(source, ctx, expr) {
            return (ir::Expr::Null, Ty::Null);
        }
        let entities = Some(ir::Expr::Column(spec.entity.clone()));
        let at_age = |k: u32| {
            ir::Expr::Binary(
                ir::BinaryOp::Compare(ir::CompareOp::Eq),
                Box::new(ir::Expr::Column(ir::AGE.to_string())),
                Box::new(ir::Expr::Number(f64::from(k))),
            )
        };
        let size = (
            AggFunc::CountDistinct,
            entities.clone(),
            ir::Expr::Bool(true),
        );
        let active = |k: u32| (AggFunc::CountDistinct, entities.clone(), at_age(k));
        if self.drawing.is_none() && !ctx.whole {
            self.drawing = Some(ir::Drawing::Cohort {
                name: cohort.name.name.clone(),
                title: cohort.about.title.as_ref().map(|t| t.node.clone()),
                size: entity_aggregate(source, size.clone(), ctx, &entity_filter),
                active: (0..=spec.periods)
                    .map(|k| entity_aggregate(source, active(k), ctx, &entity_filter))
                    .collect(),
            });
        }
        let what = match age {
            None => size,
            Some(k) => active(k),
        };
        (
            entity_aggregate(source, what, ctx, &entity_filter),
            Ty::Number,
        )
    }

    /// Checks every funnel and cohort, read by a KPI or not, in the order they are written, so
    /// that their errors are reported even before a KPI uses them.
    pub(super) fn check_followed(&mut self) {
        let mut funnels: Vec<&'a ast::Funnel> = self.items.funnels.values().copied().collect();
        funnels.sort_by_key(|f| (f.span.file, f.span.start));
        for funnel in funnels {
            self.funnel_source(funnel);
        }
        let mut cohorts: Vec<&'a ast::Cohort> = self.items.cohorts.values().copied().collect();
        cohorts.sort_by_key(|c| (c.span.file, c.span.start));
        for cohort in cohorts {
            self.cohort_source(cohort);
        }
    }

    /// A KPI that reads a funnel or cohort with errors fails with a pointer to them.
    fn uses_broken(&mut self, head: &Ident, what: &str, ctx: &Ctx<'a>) -> (ir::Expr, Ty) {
        self.error(
            Diagnostic::error(
                "E0346",
                format!(
                    "`{}` uses {what} `{}`, which has errors",
                    ctx.kpi_name, head.name
                ),
            )
            .at(head.span)
            .with_hint(format!("The {what}'s own errors say why.")),
        );
        (ir::Expr::Null, Ty::Null)
    }

    /// The KPI's `where`, on the rows the entities enter by (the first step, the start).
    /// `None` when it has errors; `Some(None)` when there is none.
    fn entity_filter(&mut self, source: SourceId, ctx: &Ctx<'a>) -> Option<Option<ir::Expr>> {
        let Some(filter) = ctx.filter else {
            return Some(None);
        };
        let entry = self.sources[source].derived.as_ref()?.entry().clone();
        let name = self.sources[entry.source].name.clone();
        let before = self.errors();
        let row = Row {
            source: entry.source,
            name: "",
        };
        let (e, ty) = self.row_expr(filter, ctx, row);
        self.expect_bool(ty, filter.span, "a KPI's `where`");
        if self.errors() > before {
            if let Some(last) = self.diagnostics.last_mut() {
                last.hints.push(format!(
                    "Over a funnel or a cohort, a KPI's `where` chooses the rows of `{name}` its entities enter by."
                ));
            }
            return None;
        }
        Some(Some(e))
    }

    /// Every dimension of the KPI must be one of the entry's.
    fn entity_dimensions(&mut self, source: SourceId, ctx: &Ctx<'a>, expr: &ast::Expr) -> bool {
        let mut ok = true;
        for dim in &ctx.dims {
            if self.sources[source].dimension_column(dim).is_none() {
                ok = false;
                let span = ctx
                    .by_idents
                    .iter()
                    .find(|b| &b.name == dim)
                    .map_or(expr.span, |b| b.span);
                let name = self.sources[source].name.clone();
                self.error(
                    Diagnostic::error(
                        "E0361",
                        format!("`{name}` has no dimension `{dim}`"),
                    )
                    .at(span)
                    .with_hint("An entity's dimension values are those of the row it entered by (the first step, the start): map the dimension for that dataset in kpi.toml."),
                );
            }
        }
        ok
    }

    /// The source of a funnel's entities, resolved once.
    fn funnel_source(&mut self, funnel: &'a ast::Funnel) -> Option<SourceId> {
        if let Some(done) = self.resolved_entities.get(&funnel.name.name) {
            return *done;
        }
        let before = self.errors();
        let entity = self.entity_key(funnel.entity.as_ref(), &funnel.name, "funnel");
        if funnel.steps.is_empty() {
            self.error(
                Diagnostic::error(
                    "E0391",
                    format!("funnel `{}` has no steps", funnel.name.name),
                )
                .at(funnel.name.span)
                .with_hint("Add a step per stage: `step lead = leads`, `step won = leads on won_at where won`."),
            );
        }
        if let Some(within) = &funnel.within {
            if !(within.node > 0.0 && within.node <= MAX_WITHIN_DAYS) {
                self.error(
                    Diagnostic::error(
                        "E0394",
                        format!(
                            "`within` takes a number of days above 0 and up to {MAX_WITHIN_DAYS}"
                        ),
                    )
                    .at(within.span),
                );
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut steps = Vec::new();
        for step in &funnel.steps {
            if seen.contains(&step.name.name.as_str()) {
                self.error(
                    Diagnostic::error(
                        "E0301",
                        format!(
                            "step `{}` is defined twice in funnel `{}`",
                            step.name.name, funnel.name.name
                        ),
                    )
                    .at(step.name.span),
                );
            }
            seen.push(&step.name.name);
            if let Some(stage) = self.stage(step, entity.as_deref(), &funnel.name, "step") {
                steps.push(stage);
            }
        }
        let result = if self.errors() > before || steps.is_empty() {
            None
        } else {
            let entity = entity.unwrap_or_default();
            let mut schema = Schema::default();
            schema.columns.push((ir::ENTERED.to_string(), Ty::Datetime));
            for i in 0..steps.len() {
                schema.columns.push((ir::reached_column(i), Ty::Bool));
                schema.columns.push((ir::days_column(i), Ty::Number));
            }
            let spec = ir::FunnelSpec {
                name: funnel.name.name.clone(),
                entity,
                steps,
                within_days: funnel.within.as_ref().map(|w| w.node),
            };
            Some(self.followed_source(&funnel.name.name, ir::Derived::Funnel(spec), schema))
        };
        self.resolved_entities
            .insert(funnel.name.name.clone(), result);
        result
    }

    /// The source of a cohort's entities, resolved once.
    fn cohort_source(&mut self, cohort: &'a ast::Cohort) -> Option<SourceId> {
        if let Some(done) = self.resolved_entities.get(&cohort.name.name) {
            return *done;
        }
        let before = self.errors();
        let entity = self.entity_key(cohort.entity.as_ref(), &cohort.name, "cohort");
        let mut stages = Vec::new();
        for (what, view) in [("start", &cohort.start), ("active", &cohort.active)] {
            match view {
                Some(view) => stages.extend(self.stage(view, entity.as_deref(), &cohort.name, what)),
                None => self.error(
                    Diagnostic::error(
                        "E0391",
                        format!("cohort `{}` has no `{what}`", cohort.name.name),
                    )
                    .at(cohort.name.span)
                    .with_hint("A cohort needs `start` (the rows that start an entity's life) and `active` (the rows that show it active)."),
                ),
            }
        }
        let periods = match &cohort.periods {
            Some(p) if p.node.fract() == 0.0 && p.node >= 1.0 && p.node <= MAX_PERIODS => {
                p.node as u32
            }
            Some(p) => {
                self.error(
                    Diagnostic::error(
                        "E0394",
                        format!("`periods` takes a whole number from 1 to {MAX_PERIODS}"),
                    )
                    .at(p.span),
                );
                0
            }
            None => {
                self.error(
                    Diagnostic::error(
                        "E0391",
                        format!("cohort `{}` has no `periods`", cohort.name.name),
                    )
                    .at(cohort.name.span)
                    .with_hint("`periods 12` follows each cohort for ages 0 to 12."),
                );
                0
            }
        };
        let result = if self.errors() > before || stages.len() != 2 {
            None
        } else {
            let active = stages.pop().expect("two stages");
            let start = stages.pop().expect("two stages");
            let entity = entity.unwrap_or_default();
            let key_ty = self.sources[start.source]
                .schema
                .get(&entity)
                .unwrap_or(Ty::Other);
            let mut schema = Schema::default();
            schema.columns.push((ir::ENTERED.to_string(), Ty::Datetime));
            schema.columns.push((entity.clone(), key_ty));
            schema.columns.push((ir::AGE.to_string(), Ty::Number));
            let spec = ir::CohortSpec {
                name: cohort.name.name.clone(),
                entity,
                start,
                active,
                periods,
            };
            Some(self.followed_source(&cohort.name.name, ir::Derived::Cohort(spec), schema))
        };
        self.resolved_entities
            .insert(cohort.name.name.clone(), result);
        result
    }

    fn entity_key(&mut self, entity: Option<&Ident>, item: &Ident, what: &str) -> Option<String> {
        match entity {
            Some(e) => Some(e.name.clone()),
            None => {
                self.error(
                    Diagnostic::error(
                        "E0390",
                        format!("{what} `{}` has no `entity`", item.name),
                    )
                    .at(item.span)
                    .with_hint("`entity lead_id` names the column that follows one entity through its rows."),
                );
                None
            }
        }
    }

    /// A step, start or activity: a view whose rows are dated and carry the entity's key.
    fn stage(
        &mut self,
        view: &'a ast::View,
        entity: Option<&str>,
        item: &Ident,
        what: &str,
    ) -> Option<ir::Stage> {
        let before = self.errors();
        let resolved = self.view_source(view);
        let Some((source, filters)) = resolved else {
            if self.errors() == before {
                let d = self.unusable_source(&view.source, "");
                self.error(d);
            }
            return None;
        };
        let src = &self.sources[source];
        if src.per.is_some() || src.derived.is_some() {
            self.error(
                Diagnostic::unsupported(
                    "a funnel's or a cohort's rows from a per-entity view are not supported yet",
                )
                .at(view.source.span),
            );
            return None;
        }
        let label = if what == "step" {
            format!("step `{}`", view.name.name)
        } else {
            format!("`{what}`")
        };
        if let Some(entity) = entity {
            if src.schema.get(entity).is_none() {
                let columns = src.schema.names().collect::<Vec<_>>().join(", ");
                let mut d = Diagnostic::error(
                    "E0392",
                    format!(
                        "{label} of `{}` reads `{}`, which has no entity column `{entity}`",
                        item.name, src.name
                    ),
                )
                .at(view.source.span)
                .with_hint(format!("Columns of `{}`: {columns}.", src.name))
                .with_hint("Every step reads rows that carry the entity's key; join a dataset that has it, or name another `entity`.");
                if let Some(hint) = did_you_mean(entity, src.schema.names()) {
                    d = d.with_hint(hint);
                }
                self.error(d);
                return None;
            }
        }
        if src.time.is_none() {
            self.error(
                Diagnostic::error(
                    "E0393",
                    format!(
                        "{label} of `{}` reads `{}`, whose rows have no date",
                        item.name, src.name
                    ),
                )
                .at(view.source.span)
                .with_hint(
                    "Set `time` for the dataset in kpi.toml, or date the rows with `on COLUMN`.",
                ),
            );
            return None;
        }
        Some(ir::Stage {
            name: view.name.name.clone(),
            source,
            filters,
        })
    }

    /// A source of entities: the entry's dataset and lookups, dated by entry, with the entry's
    /// dimensions under their own names.
    fn followed_source(&mut self, name: &str, derived: ir::Derived, schema: Schema) -> SourceId {
        let entry = self.sources[derived.entry().source].clone();
        let mut dimensions: BTreeMap<String, String> = entry.dimensions.clone();
        for column in entry.schema.names() {
            dimensions
                .entry(column.to_string())
                .or_insert_with(|| column.to_string());
        }
        self.intern(Source {
            name: name.to_string(),
            dataset: entry.dataset.clone(),
            joins: entry.joins.clone(),
            time: Some(ir::ENTERED.to_string()),
            until: None,
            dimensions,
            unreadable_dimensions: entry.unreadable_dimensions.clone(),
            schema,
            per: None,
            derived: Some(derived),
        })
    }
}

/// An aggregate over a funnel's or a cohort's entities, split and dated like the KPI's.
fn entity_aggregate(
    source: SourceId,
    (func, arg, filter): (AggFunc, Option<ir::Expr>, ir::Expr),
    ctx: &Ctx<'_>,
    entity_filter: &Option<ir::Expr>,
) -> ir::Expr {
    ir::Expr::Agg(Box::new(ir::Aggregate {
        source,
        func,
        arg,
        filter: Some(filter),
        grain: ctx.grain,
        dims: ctx.dims.clone(),
        live: None,
        quantile: 0.0,
        window: None,
        entity_filter: entity_filter.clone(),
        through: None,
    }))
}
