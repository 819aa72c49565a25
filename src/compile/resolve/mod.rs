//! AST + dataset schemas -> IR: names, columns, dimensions, types and reference cycles,
//! all checked before any data is read. Every error of every KPI is collected; a KPI with
//! errors is left out of the program and the others go on.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::ir::{self, Schema, Source, SourceId, Ty};
use crate::diagnostic::Diagnostic;
use crate::manifest::Manifest;
use crate::period::Grain;
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast::{self, Ident};

mod aggregate;
mod entities;
mod expr;
mod functions;
mod hints;
mod kpi;
mod scope;
mod sources;

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
    resolver.check_views();
    resolver.check_followed();
    // A name defined twice is an error at the second definition (E0301, with the first's
    // place); that KPI is not evaluated, as no KPI with an error is. Names resolve to the first.
    let mut first: HashMap<&str, Span> = HashMap::new();
    for item in files.iter().flat_map(|f| &f.items) {
        first
            .entry(item.name().name.as_str())
            .or_insert(item.name().span);
    }
    let mut kpis = Vec::new();
    for file in files {
        for item in &file.items {
            if let ast::Item::Kpi(kpi) = item {
                if first.get(kpi.name.name.as_str()) == Some(&kpi.name.span) {
                    kpis.extend(resolver.kpi(kpi));
                }
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
    /// The items by name.
    items: ast::Items<'a>,
    /// Funnel or cohort name -> its source, once resolved (None: it has errors).
    resolved_entities: HashMap<String, Option<SourceId>>,
    /// Over funnels and cohorts: how long the KPI being resolved takes to mature, and what
    /// its reports draw.
    maturity: ir::Maturity,
    drawing: Option<ir::Drawing>,
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
    /// Inside a per-entity view's `{ ... }`: aggregates read these rows, one entity's at a time.
    entity: Option<Row<'a>>,
}

/// Inside an aggregate: the source whose columns bare names refer to.
#[derive(Clone, Copy)]
struct Row<'a> {
    source: SourceId,
    name: &'a str,
}

impl<'a> Resolver<'a> {
    fn new(files: &'a [ast::File], input: &'a ResolveInput<'a>) -> Self {
        let mut resolver = Resolver {
            input,
            items: ast::Items::default(),
            resolved_entities: HashMap::new(),
            maturity: ir::Maturity::default(),
            drawing: None,
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
                let name = item.name();
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
                resolver.items.add(item);
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

    /// Checks every view, read by a KPI or not, so that a broken view is reported even when no
    /// KPI reads it, as funnels and cohorts are. The views no other view is built on come
    /// first, in the order they are written: each chain of views is then resolved from its top,
    /// as a KPI reading it would, so that its depth is checked the same way whatever order the
    /// views are written in. Then any view left (one in a cycle).
    fn check_views(&mut self) {
        let bases: HashSet<&str> = self
            .items
            .views
            .values()
            .map(|v| v.source.name.as_str())
            .collect();
        let mut views: Vec<&'a ast::View> = self.items.views.values().copied().collect();
        views.sort_by_key(|v| {
            let base = bases.contains(v.name.name.as_str());
            (base, v.name.span.file, v.name.span.start)
        });
        for view in views {
            self.source_of(&view.name);
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
}
