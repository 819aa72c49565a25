//! A project on disk: `kpi.toml`, its `.kpi` files and its datasets, run through the stages.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::compile::{self, ir};
use crate::diagnostic::Diagnostic;
use crate::error::IoError;
use crate::eval::{self, data, EvalOptions, KpiOutcome};
use crate::manifest::{Manifest, MANIFEST_NAME};
use crate::period::PeriodSpec;
use crate::source::{FileId, SourceFile, SourceMap};
use crate::syntax::{self, ast};

/// A loaded project: the manifest and every parsed definition file.
pub struct Project {
    pub manifest: Manifest,
    /// `kpi.toml` in `sources`, for errors about datasets.
    pub manifest_file: FileId,
    pub sources: SourceMap,
    pub files: Vec<ast::File>,
    /// Parse errors; the items that parsed are still in `files`.
    pub diagnostics: Vec<Diagnostic>,
}

/// A project that cannot be loaded at all: `kpi.toml` cannot be read or is not TOML. `sources`
/// holds `kpi.toml` when it could be read, so that the error shows where it is.
#[derive(Debug, thiserror::Error)]
#[error("{}", diagnostic.message)]
pub struct LoadError {
    pub diagnostic: Diagnostic,
    pub sources: SourceMap,
}

/// What to evaluate.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--as-of`: overrides the manifest's `as_of`.
    pub as_of: Option<NaiveDate>,
    /// `--period`: judge this period (each KPI at its own grain, as of the period's last day).
    pub period: Option<PeriodSpec>,
    /// KPI names to evaluate; all when empty.
    pub names: Vec<String>,
    /// Only KPIs with one of these tags; all when empty.
    pub tags: Vec<String>,
    /// `kpi eval --from/--to`: the days whose periods to report.
    pub range: Option<(NaiveDate, Option<NaiveDate>)>,
}

/// The result of a run: every outcome that could be computed and every problem found.
pub struct Run {
    pub project: String,
    pub as_of: NaiveDate,
    pub outcomes: Vec<KpiOutcome>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Project {
    /// Reads `kpi.toml` in `dir` and parses every `.kpi` file its globs name. Fails only when
    /// `kpi.toml` cannot be read or is not TOML; every other problem is in `diagnostics` (a
    /// dataset's own problems are reported when the datasets are opened).
    pub fn load(dir: &Path) -> Result<Project, LoadError> {
        let path = dir.join(MANIFEST_NAME);
        let text = std::fs::read_to_string(&path).map_err(|e| LoadError {
            diagnostic: IoError::Manifest {
                path: path.clone(),
                reason: e.to_string(),
            }
            .diagnostic(),
            sources: SourceMap::new(),
        })?;
        let text = crate::source::strip_bom(&text).to_string();
        match Manifest::from_str(&text, dir) {
            Ok(manifest) => Project::from_manifest(manifest),
            Err(error) => {
                let mut sources = SourceMap::new();
                let file = sources.add(SourceFile::new(MANIFEST_NAME, path, text));
                Err(LoadError {
                    diagnostic: error.diagnostic(Some(file)),
                    sources,
                })
            }
        }
    }

    /// Parses every `.kpi` file the manifest's globs name. The manifest's own errors become
    /// diagnostics that point into `kpi.toml`.
    pub fn from_manifest(manifest: Manifest) -> Result<Project, LoadError> {
        let (paths, glob_errors) = manifest.kpi_files();
        let files = paths
            .into_iter()
            .map(|(name, path)| {
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string());
                (name, path, text)
            })
            .collect();
        Ok(Project::with_definitions(manifest, files, glob_errors))
    }

    /// A project whose definition files are given, as (display name, path, text or why it
    /// could not be read): the files on disk, or those of a git revision (`kpi diff`).
    pub fn with_definitions(
        manifest: Manifest,
        definitions: Vec<(String, PathBuf, Result<String, String>)>,
        glob_errors: Vec<crate::error::ManifestError>,
    ) -> Project {
        let mut sources = SourceMap::new();
        let manifest_file = sources.add(SourceFile::new(
            MANIFEST_NAME,
            manifest.root.join(MANIFEST_NAME),
            manifest.text.clone(),
        ));
        let mut files = Vec::new();
        let mut diagnostics: Vec<Diagnostic> = manifest
            .errors
            .iter()
            .map(|e| e.diagnostic(Some(manifest_file)))
            .collect();
        if definitions.is_empty() && glob_errors.is_empty() {
            let span = manifest.kpi_glob_spans.first().cloned().flatten();
            diagnostics.push(
                Diagnostic::warning(
                    "W0201",
                    format!("no .kpi file matches {:?} in kpi.toml", manifest.kpi_globs),
                )
                .at_opt(span.map(|s| crate::source::Span::new(manifest_file, s.start, s.end)))
                .with_hint("Set `kpis = [\"kpis/*.kpi\"]` under [project]."),
            );
        }
        diagnostics.extend(
            glob_errors
                .iter()
                .map(|e| e.diagnostic(Some(manifest_file))),
        );
        for (name, path, text) in definitions {
            let text = match text {
                Ok(t) => t,
                Err(reason) => {
                    diagnostics.push(IoError::Definition { name, reason }.diagnostic());
                    continue;
                }
            };
            let id = sources.add(SourceFile::new(name, path, text));
            let (file, errors) = syntax::parse(&sources.get(id).text, id);
            files.push(file);
            diagnostics.extend(errors);
        }
        Project {
            manifest,
            manifest_file,
            sources,
            files,
            diagnostics,
        }
    }

    /// Parses and resolves against the datasets' schemas and checks the data files, computing nothing (`kpi validate`).
    pub fn validate(&self) -> (ir::Program, Vec<Diagnostic>) {
        let (_, program, diagnostics) = self.resolve();
        (program, diagnostics)
    }

    /// Opens the datasets and resolves every definition: parse, data and resolve errors in order.
    fn resolve(&self) -> (data::Datasets, ir::Program, Vec<Diagnostic>) {
        let (datasets, mut diagnostics) = self.open();
        diagnostics.splice(0..0, self.diagnostics.iter().cloned());
        let (program, errors) = crate::timed("resolve", || {
            compile::resolve(&self.files, &self.resolve_input(&datasets))
        });
        diagnostics.extend(errors);
        (datasets, program, diagnostics)
    }

    /// Opens the datasets lazily; their errors point into `kpi.toml`.
    fn open(&self) -> (data::Datasets, Vec<Diagnostic>) {
        crate::timed("open datasets", || {
            data::open(&self.manifest, Some(self.manifest_file))
        })
    }

    fn resolve_input<'a>(&'a self, datasets: &'a data::Datasets) -> compile::ResolveInput<'a> {
        compile::ResolveInput {
            manifest: &self.manifest,
            schemas: &datasets.schemas,
            sources: &self.sources,
            manifest_file: Some(self.manifest_file),
        }
    }

    /// The evaluation date: `--period`, then `--as-of`, then the manifest, then yesterday.
    pub fn as_of(&self, options: &RunOptions) -> NaiveDate {
        if let Some(period) = options.period {
            return period.last_day();
        }
        options
            .as_of
            .or(self.manifest.as_of)
            .unwrap_or_else(|| chrono::Local::now().date_naive() - chrono::Duration::days(1))
    }

    /// Evaluates and judges the selected KPIs.
    pub fn run(&self, options: &RunOptions) -> Run {
        let (datasets, mut program, mut diagnostics) = self.resolve();
        self.select(&mut program, options, &mut diagnostics);
        self.evaluate(program, datasets, options, diagnostics)
    }

    /// Like [`Project::run`], and also returns the selected KPIs as resolved: `kpi lint` reads
    /// their targets' operators and finds a bare `previous` however it was reached (a `let`).
    pub fn run_resolved(&self, options: &RunOptions) -> (Run, Vec<ir::Kpi>) {
        let (datasets, mut program, mut diagnostics) = self.resolve();
        self.select(&mut program, options, &mut diagnostics);
        let kpis = program.kpis.clone();
        (self.evaluate(program, datasets, options, diagnostics), kpis)
    }

    /// The KPI `kpi eval` evaluates: a KPI of the project by name, or an expression, with
    /// `by` and `every` overridden when given and no targets. The expression is added to the
    /// source map as `<eval>`, so that its errors point into it.
    pub fn adhoc_kpi(
        &mut self,
        expr_or_name: &str,
        by: &[String],
        every: Option<&str>,
    ) -> Result<ast::Kpi, Vec<Diagnostic>> {
        let existing = self.kpis().find(|k| k.name.name == expr_or_name).cloned();
        let id = self.sources.add_text("<eval>", expr_or_name);
        let whole = crate::source::Span::new(id, 0, expr_or_name.len());
        let mut kpi = match existing {
            Some(kpi) => kpi,
            None => {
                let expr = syntax::parse_expr(expr_or_name, id)?;
                let name = ast::Ident {
                    name: "eval".into(),
                    span: whole,
                };
                let mut kpi = ast::Kpi::new(name, whole);
                kpi.title = Some(ast::Spanned {
                    node: expr_or_name.to_string(),
                    span: whole,
                });
                kpi.value = Some(expr);
                kpi
            }
        };
        // `--by` and `--every` name no place in a file: their errors point at the argument.
        let ident = |name: &str| ast::Ident {
            name: name.trim().to_string(),
            span: whole,
        };
        if let Some(every) = every {
            kpi.every = Some(ident(every));
        }
        if !by.is_empty() {
            kpi.by = by.iter().map(|b| ident(b)).collect();
        }
        kpi.targets.clear();
        kpi.warns.clear();
        Ok(kpi)
    }

    /// Evaluates one ad hoc KPI built by the caller (`kpi eval`).
    pub fn run_adhoc(&self, kpi: &ast::Kpi, options: &RunOptions) -> Run {
        let (datasets, mut diagnostics) = self.open();
        let (program, errors) =
            compile::resolve_one(&self.files, kpi, &self.resolve_input(&datasets));
        diagnostics.extend(errors);
        self.evaluate(program, datasets, options, diagnostics)
    }

    fn evaluate(
        &self,
        program: ir::Program,
        datasets: data::Datasets,
        options: &RunOptions,
        mut diagnostics: Vec<Diagnostic>,
    ) -> Run {
        let as_of = self.as_of(options);
        let told = options.as_of.is_some() || options.period.is_some();
        if !told && self.manifest.setting_is_broken("as_of") {
            // The day to judge on is unknown: nothing is computed for a day nobody chose.
            diagnostics.push(
                Diagnostic::error(
                    "E0215",
                    "no KPI is evaluated: `as_of` in kpi.toml cannot be read, so the day to judge on is unknown",
                )
                .with_hint("Fix `as_of` under [project] in kpi.toml, or pass `--as-of YYYY-MM-DD`."),
            );
            return Run {
                project: self.manifest.name.clone(),
                as_of,
                outcomes: Vec::new(),
                diagnostics,
            };
        }
        let eval_options = self.eval_options(as_of, options);
        let (outcomes, errors) = eval::evaluate(&program, &datasets, &eval_options);
        diagnostics.extend(errors);
        Run {
            project: self.manifest.name.clone(),
            as_of,
            outcomes,
            diagnostics,
        }
    }

    /// What evaluation needs of the manifest and the options, on the day `as_of`.
    fn eval_options(&self, as_of: NaiveDate, options: &RunOptions) -> EvalOptions {
        let freshness = self
            .manifest
            .datasets
            .iter()
            .filter_map(|(name, config)| {
                let time = config.time.clone()?;
                Some((
                    name.clone(),
                    eval::Freshness {
                        time,
                        lateness: config.fresh,
                    },
                ))
            })
            .collect();
        EvalOptions {
            as_of,
            history: self.manifest.history,
            range: options.range,
            freshness,
        }
    }

    /// `kpi explain`: where the KPI `name` comes from, with polars' plans of its passes when
    /// `plan` is asked for. Its judged period is that of a run of it alone. None, with the
    /// reason among the diagnostics, when there is no KPI by that name or it did not resolve.
    pub fn explain(
        &self,
        name: &str,
        options: &RunOptions,
        plan: bool,
    ) -> (Option<crate::explain::Explanation>, Vec<Diagnostic>) {
        let (datasets, program, mut diagnostics) = self.resolve();
        let mut select = program.clone();
        let asked = RunOptions {
            names: vec![name.to_string()],
            ..options.clone()
        };
        self.select(&mut select, &asked, &mut diagnostics);
        let as_of = self.as_of(options);
        let eval_options = self.eval_options(as_of, options);
        let lowered = eval::lower(&program, &eval_options);
        let input = crate::explain::Input {
            files: &self.files,
            sources: &self.sources,
            manifest: &self.manifest,
            program: &program,
            plan: &lowered.plan,
        };
        let Some(mut explanation) = crate::explain::explain(&input, name) else {
            // Only the diagnostics that say why this KPI is missing.
            diagnostics.retain(|d| d.kpi.as_deref() == Some(name) || d.code == "E0209");
            return (None, diagnostics);
        };
        explanation.as_of = as_of.to_string();
        let run = self.evaluate(select, datasets, options, Vec::new());
        explanation.period = run
            .outcomes
            .iter()
            .find(|o| o.meta.name == name)
            .map(|o| o.period.clone());
        if plan {
            let passes = explanation
                .aggregates
                .iter()
                .filter_map(|c| c.pass)
                .collect();
            let (datasets, _) = self.open();
            explanation.plan = Some(eval::explain_passes(
                &program,
                &datasets,
                &eval_options,
                &passes,
            ));
        }
        diagnostics.extend(run.diagnostics);
        diagnostics.retain(|d| d.kpi.is_none() || d.kpi.as_deref() == Some(name));
        (Some(explanation), diagnostics)
    }

    fn select(
        &self,
        program: &mut ir::Program,
        options: &RunOptions,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        for name in &options.names {
            if self.kpi_names().all(|k| k != name) {
                let mut d = Diagnostic::error("E0209", format!("no KPI named `{name}`"));
                let defined = self.kpi_names();
                if let Some(hint) = crate::diagnostic::did_you_mean(name, defined) {
                    d = d.with_hint(hint);
                }
                diagnostics.push(d);
            }
        }
        let wanted = |name: &str| self.selects(options, name);
        program.kpis.retain(|k| wanted(&k.meta.name));
        diagnostics.retain(|d| d.kpi.as_deref().is_none_or(wanted));
    }

    /// Whether the options choose a KPI. One rule for the KPIs to evaluate, for the errors that
    /// concern a run and for the KPIs `kpi lint` reviews: chosen by name (when names are given)
    /// and by tag (when tags are given). A KPI whose text did not parse has no tags to read: it
    /// is kept under any tag, so that its error is never hidden by a filter.
    pub fn selects(&self, options: &RunOptions, name: &str) -> bool {
        let tags: Option<Vec<&str>> = self
            .kpis()
            .find(|k| k.name.name == name)
            .map(|k| k.tags.iter().map(|t| t.name.as_str()).collect());
        (options.names.is_empty() || options.names.iter().any(|n| n == name))
            && (options.tags.is_empty()
                || tags.is_none_or(|tags| tags.iter().any(|t| options.tags.iter().any(|o| o == t))))
    }

    /// The names of every KPI defined, including those left out for errors in their text.
    pub fn kpi_names(&self) -> impl Iterator<Item = &str> {
        let broken = self.files.iter().flat_map(|f| &f.broken).filter_map(|b| {
            (b.keyword == Some("kpi"))
                .then_some(b.name.as_ref())
                .flatten()
                .map(|n| n.name.as_str())
        });
        self.kpis().map(|k| k.name.name.as_str()).chain(broken)
    }

    /// Every KPI definition that parsed, for `kpi list`.
    pub fn kpis(&self) -> impl Iterator<Item = &ast::Kpi> {
        self.files
            .iter()
            .flat_map(|f| f.items.iter())
            .filter_map(|i| match i {
                ast::Item::Kpi(k) => Some(k),
                _ => None,
            })
    }
}
