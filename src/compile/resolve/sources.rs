//! Datasets, views and lookups: what a name in `count(name)` reads.

use std::collections::BTreeMap;

use super::MAX_VIEW_DEPTH;
use super::{Ctx, Resolver, Row};
use crate::compile::ir::{self, Schema, Source, SourceId, Ty};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, Ident};

impl<'a> Resolver<'a> {
    /// The source and filters a dataset or view name stands for.
    pub(super) fn source_of(&mut self, name: &Ident) -> Option<(SourceId, Vec<ir::Expr>)> {
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
        } else if let Some(view) = self.items.views.get(name.name.as_str()).copied() {
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
    pub(super) fn manifest_span(&self, range: Option<&std::ops::Range<usize>>) -> Option<Span> {
        let file = self.input.manifest_file?;
        range.map(|r| Span::new(file, r.start, r.end))
    }

    pub(super) fn intern(&mut self, source: Source) -> SourceId {
        if let Some(i) = self.sources.iter().position(|s| {
            s.dataset == source.dataset
                && s.joins == source.joins
                && s.time == source.time
                && s.until == source.until
                && s.per == source.per
                && s.derived == source.derived
        }) {
            return i;
        }
        self.sources.push(source);
        self.sources.len() - 1
    }

    pub(super) fn dataset_source(
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
            per: None,
            derived: None,
        });
        Some((id, Vec::new()))
    }

    pub(super) fn view_source(&mut self, view: &'a ast::View) -> Option<(SourceId, Vec<ir::Expr>)> {
        let Some((mut id, mut filters)) = self.source_of(&view.source) else {
            if !self.input.manifest.datasets.contains_key(&view.source.name)
                && !self.items.views.contains_key(view.source.name.as_str())
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
                let d = if self.items.views.contains_key(join.dataset.name.as_str()) {
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
                per: None,
                derived: None,
            });
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
        if let Some(per) = &view.per {
            return self.entity_source(view, per, id, filters);
        }
        Some((id, filters))
    }

    /// A per-entity view: the base's rows grouped by the key (LANGUAGE 4.6). Its columns are
    /// the key and the named aggregates; the reading KPI's grain and `by` complete the grouping.
    fn entity_source(
        &mut self,
        view: &'a ast::View,
        per: &'a ast::Per,
        base: SourceId,
        filters: Vec<ir::Expr>,
    ) -> Option<(SourceId, Vec<ir::Expr>)> {
        let before = self.errors();
        let base_source = self.sources[base].clone();
        if base_source.per.is_some() {
            self.error(
                Diagnostic::unsupported(
                    "a per-entity view of a per-entity view is not supported yet",
                )
                .at(per.span)
                .with_hint("Build both views on the dataset (or on a view of it without `per`)."),
            );
            return None;
        }
        let mut schema = Schema::default();
        for key in &per.keys {
            match base_source.schema.get(&key.name) {
                Some(ty) if schema.get(&key.name).is_none() => {
                    schema.columns.push((key.name.clone(), ty));
                }
                Some(_) => self.error(
                    Diagnostic::error("E0305", format!("key `{}` is listed twice", key.name))
                        .at(key.span),
                ),
                None => {
                    let d = self.unknown_column(&key.name, key.span, &base_source);
                    self.error(d);
                }
            }
        }
        let row = Row {
            source: base,
            name: &view.source.name,
        };
        let ctx = Ctx {
            entity: Some(row),
            ..self.detached_ctx()
        };
        let mut fields = Vec::new();
        for (name, expr) in &per.columns {
            if schema.get(&name.name).is_some() {
                self.error(
                    Diagnostic::error(
                        "E0301",
                        format!(
                            "`{}` is defined twice in view `{}`",
                            name.name, view.name.name
                        ),
                    )
                    .at(name.span),
                );
                continue;
            }
            let (resolved, ty) = self.expr(expr, &ctx, None);
            self.expect_number(ty, expr.span, "a column of a per-entity view");
            schema.columns.push((name.name.clone(), Ty::Number));
            fields.push((name.name.clone(), resolved));
        }
        if self.errors() > before {
            return None;
        }
        let id = self.intern(Source {
            name: view.name.name.clone(),
            dataset: base_source.dataset.clone(),
            joins: base_source.joins.clone(),
            time: base_source.time.clone(),
            until: None,
            dimensions: BTreeMap::new(),
            unreadable_dimensions: base_source.unreadable_dimensions.clone(),
            schema,
            derived: None,
            per: Some(ir::PerEntity {
                base,
                keys: per.keys.iter().map(|k| k.name.clone()).collect(),
                fields,
                filters,
                base_dimensions: base_source.dimensions.clone(),
                base_schema: base_source.schema.clone(),
            }),
        });
        Some((id, Vec::new()))
    }

    /// A context for expressions outside any KPI (view filters).
    pub(super) fn detached_ctx(&self) -> Ctx<'a> {
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
            entity: None,
        }
    }
}
