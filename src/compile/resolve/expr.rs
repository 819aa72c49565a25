//! Expressions: the depth and size bounds, operators and literals, row expressions, type checks.

use super::functions::{AGGREGATES, KPI_FUNCTIONS};
use super::{Ctx, Resolver, Row};
use super::{MAX_EXPANDED_DEPTH, MAX_EXPANDED_NODES};
use crate::compile::ir::{self, Ty};
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::syntax::ast;

impl<'a> Resolver<'a> {
    /// Resolves an expression at KPI level (`row` is `None`) or inside an aggregate.
    pub(super) fn expr(
        &mut self,
        expr: &'a ast::Expr,
        ctx: &Ctx<'a>,
        row: Option<Row<'a>>,
    ) -> (ir::Expr, Ty) {
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

    pub(super) fn expr_at_depth(
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
            } if self.items.funnels.contains_key(head.name.as_str())
                || self.items.cohorts.contains_key(head.name.as_str())
                || self
                    .broken
                    .get(head.name.as_str())
                    .is_some_and(|b| matches!(b.keyword, Some("funnel" | "cohort")))
                || !(self.input.manifest.datasets.contains_key(&head.name)
                    || self.items.views.contains_key(head.name.as_str())
                    || self.broken.contains_key(head.name.as_str())) =>
            {
                self.member(expr, head, field, None, None, ctx)
            }
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
            ast::ExprKind::Member {
                head,
                field,
                member,
                args,
            } => self.member(expr, head, field, member.as_ref(), args.as_deref(), ctx),
            _ => self.common(expr, ctx, None),
        }
    }

    // ------------------------------------------------------------------ row expressions

    pub(super) fn row_expr(
        &mut self,
        expr: &'a ast::Expr,
        ctx: &Ctx<'a>,
        row: Row<'a>,
    ) -> (ir::Expr, Ty) {
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
    pub(super) fn common(
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
            K::Member { head, .. } => match row {
                None => self.expr(expr, ctx, row),
                Some(_) => {
                    self.error(
                        Diagnostic::error(
                            "E0374",
                            format!("`{}`'s numbers inside an aggregate", head.name),
                        )
                        .at(expr.span)
                        .with_hint("A funnel's or a cohort's numbers are aggregates already; use them in the KPI's value."),
                    );
                    (ir::Expr::Null, Ty::Null)
                }
            },
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

    pub(super) fn expect_comparable(&mut self, a: Ty, b: Ty, span: Span) {
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

    pub(super) fn expect_number(&mut self, ty: Ty, span: Span, what: &str) {
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

    pub(super) fn expect_bool(&mut self, ty: Ty, span: Span, what: &str) {
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
}
