//! Names at KPI level: lets, KPIs (inlined) and dimensions; reference cycles.

use super::{Ctx, Resolver};
use crate::compile::ir::{self, Ty};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, Ident};

impl<'a> Resolver<'a> {
    /// A bare name at KPI level: a let, a KPI, a dimension, or `previous` in a target.
    pub(super) fn name(&mut self, ident: &'a Ident, ctx: &Ctx<'a>) -> (ir::Expr, Ty) {
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
        if let Some(base) = ctx.entity {
            self.error(
                Diagnostic::error(
                    "E0369",
                    format!("`{name}` in a per-entity view's columns is neither an aggregate nor a number"),
                )
                .at(ident.span)
                .with_hint(format!("Each column aggregates one entity's rows of `{}`: `sum({name})`, `count()`, `max({name})`.", base.name)),
            );
            return (ir::Expr::Null, Ty::Null);
        }
        if let Some(local) = ctx.locals.iter().find(|l| l.name.name == name) {
            return self.expand_let(local, ctx);
        }
        if let Some(global) = self.items.lets.get(name).copied() {
            // Scoping is lexical: a shared `let` sees shared names only, never the locals of
            // the KPI that uses it, and a bare `previous` in it is not that KPI's own value.
            let shared = Ctx {
                locals: &[],
                in_goal: false,
                ..ctx.clone()
            };
            return self.expand_let(global, &shared);
        }
        if let Some(kpi) = self.items.kpis.get(name).copied() {
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
        if self.input.manifest.datasets.contains_key(name) || self.items.views.contains_key(name) {
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
        candidates.extend(self.items.lets.keys().copied());
        candidates.extend(self.items.kpis.keys().copied());
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

    pub(super) fn expand_let(&mut self, item: &'a ast::Let, ctx: &Ctx<'a>) -> (ir::Expr, Ty) {
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
    pub(super) fn enter(&mut self, key: &str, span: Span) -> bool {
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
    pub(super) fn inline_kpi(
        &mut self,
        kpi: &'a ast::Kpi,
        ident: &'a Ident,
        ctx: &Ctx<'a>,
    ) -> (ir::Expr, Ty) {
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
            entity: None,
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
}
