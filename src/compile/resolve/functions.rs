//! The function table: scalar and row functions, and the names of aggregates.

use super::{Ctx, Resolver, Row};
use crate::compile::ir::{self, Func, Ty};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::syntax::ast::{self, Ident};

/// Aggregate functions; `min` and `max` with two arguments are the scalar functions instead.
pub(super) const AGGREGATES: [&str; 10] = [
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
pub(super) const KPI_FUNCTIONS: [&str; 5] = ["previous", "growth", "total", "running", "rolling"];

/// Scalar and row functions: name, function, fewest and most arguments, what the arguments
/// must be (`Ty::Null`: anything) and what the result is (`Ty::Null`: the first argument's type).
/// Those taking dates or text work on rows only, inside aggregates.
pub(super) const FUNCTIONS: [(&str, Func, usize, usize, Ty, Ty); 24] = [
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
    /// Scalar functions (any level) and row functions (inside aggregates only).
    pub(super) fn function(
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

pub(super) fn plural(ty: Ty) -> &'static str {
    match ty {
        Ty::Number => "numbers",
        Ty::Date => "dates",
        Ty::String => "text",
        _ => "values",
    }
}

/// The `ds` of every `ds.col` in an expression.
pub(super) fn collect_heads<'e>(expr: &'e ast::Expr, out: &mut Vec<&'e Ident>) {
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
        // A funnel's or a cohort's numbers are aggregates of their own, not columns.
        K::Member { .. } => {}
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
