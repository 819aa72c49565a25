//! Outcomes -> bytes, one file per format. Only this module and the CLI write output.

mod csv;
mod drawing;
mod format;
mod github;
mod html;
mod json;
mod junit;
pub mod lint;
mod markdown;
mod periods;
mod table;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use crate::diagnostic::Diagnostic;
use crate::eval::{KpiOutcome, Status};
use crate::source::SourceMap;

/// Everything a reporter may show.
pub struct Report<'a> {
    pub project: &'a str,
    pub as_of: NaiveDate,
    pub outcomes: &'a [KpiOutcome],
    pub diagnostics: &'a [Diagnostic],
    pub sources: &'a SourceMap,
    /// How files are named for the tools that open them (GitHub annotations, JUnit's `file`).
    pub paths: &'a FilePaths,
    /// How numbers are written for people: the project's locale and currency. JSON and CSV
    /// ignore it; their numbers are for machines.
    pub numbers: &'a crate::locale::Numbers,
}

/// The paths by which tools that open a definition file know it: from the root of the
/// repository (GitHub resolves an annotation's `file` against it), where the file is under that
/// root; else the file's display name, as in every other report.
#[derive(Debug, Clone, Default)]
pub struct FilePaths(BTreeMap<String, String>);

impl FilePaths {
    /// The path of each of `sources` from `root`, with `/` between folders.
    pub fn under(root: &Path, sources: &SourceMap) -> FilePaths {
        let mut paths = BTreeMap::new();
        let Ok(root) = root.canonicalize() else {
            return FilePaths(paths);
        };
        for (_, file) in sources.files() {
            let Ok(path) = file.path.canonicalize() else {
                continue;
            };
            if let Ok(relative) = path.strip_prefix(&root) {
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                paths.insert(file.name.clone(), parts.join("/"));
            }
        }
        FilePaths(paths)
    }

    /// The path of the file displayed as `name`.
    pub fn of(&self, name: &str) -> String {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
    Markdown,
    Junit,
    Github,
    Html,
}

/// Counts for the last line of the table and the `summary` of the JSON document.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub met: usize,
    pub warn: usize,
    pub missed: usize,
    pub no_data: usize,
    pub on_track: usize,
    pub at_risk: usize,
    pub without_target: usize,
    pub errors: usize,
    /// KPIs that could not be computed, in the order of their first error.
    pub failed: Vec<String>,
}

impl Report<'_> {
    pub fn summary(&self) -> Summary {
        let count = |s: Status| self.outcomes.iter().filter(|k| k.status == Some(s)).count();
        let mut failed: Vec<String> = Vec::new();
        for d in self.diagnostics.iter().filter(|d| d.is_error()) {
            if let Some(name) = &d.kpi {
                let computed = self.outcomes.iter().any(|k| &k.meta.name == name);
                if !computed && !failed.contains(name) {
                    failed.push(name.clone());
                }
            }
        }
        Summary {
            met: count(Status::Met),
            warn: count(Status::Warn),
            missed: count(Status::Missed),
            no_data: count(Status::NoData),
            on_track: count(Status::OnTrack),
            at_risk: count(Status::AtRisk),
            without_target: self.outcomes.iter().filter(|k| k.status.is_none()).count(),
            errors: self.diagnostics.iter().filter(|d| d.is_error()).count(),
            failed,
        }
    }
}

/// Options of the reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOptions {
    /// Colours in the human table.
    pub color: bool,
    /// Show targets and statuses (`kpi check`) or values only (`kpi eval`).
    pub judged: bool,
    /// Which statuses fail the run (JUnit reports them as failures).
    pub fail_on: FailOn,
    /// `kpi eval --from/--to`: the table shows every period, as rows, with the dimension values
    /// as columns; `pivot` turns it.
    pub periods: bool,
    pub pivot: bool,
}

/// The status from which a run fails (`--fail-on`). The order is missed > at risk > warn: each
/// level fails on itself and on everything worse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailOn {
    #[default]
    Missed,
    AtRisk,
    Warn,
}

impl FailOn {
    pub fn fails(self, status: Status) -> bool {
        match self {
            FailOn::Missed => status == Status::Missed,
            FailOn::AtRisk => matches!(status, Status::Missed | Status::AtRisk),
            FailOn::Warn => matches!(status, Status::Missed | Status::AtRisk | Status::Warn),
        }
    }
}

/// Renders a report. Diagnostics are part of the JSON document; for the table and CSV
/// they are rendered separately (to stderr) by the caller with [`crate::diagnostic::render_human`].
pub fn render(report: &Report<'_>, format: OutputFormat, options: TableOptions) -> String {
    match format {
        OutputFormat::Table if options.periods => periods::render(report, options.pivot),
        OutputFormat::Table => table::render(report, options),
        OutputFormat::Json => json::render(report),
        OutputFormat::Csv => csv::render(report),
        OutputFormat::Markdown => markdown::render(report),
        OutputFormat::Junit => junit::render(report, options.fail_on),
        OutputFormat::Github => github::render(report, options.fail_on),
        OutputFormat::Html => html::render(report),
    }
}

/// Writes a report file whole or not at all: into a temporary file next to it, then renamed over
/// it, so that a reader (a CI step, a browser) never sees half a report and a failed run leaves
/// the previous one in place. The error says why in words, without the temporary file's name.
pub fn write_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    if !folder.is_dir() {
        return Err(format!("the folder `{}` does not exist", folder.display()));
    }
    let why = |e: std::io::Error| e.kind().to_string();
    let mut file = tempfile::Builder::new()
        .prefix(".kpi-report")
        .tempfile_in(folder)
        .map_err(why)?;
    file.write_all(text.as_bytes()).map_err(why)?;
    // A temporary file is private to its owner; a report is read by others (CI, a web server).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let readable = std::fs::Permissions::from_mode(0o644);
        file.as_file().set_permissions(readable).map_err(why)?;
    }
    file.as_file().sync_all().map_err(why)?;
    file.persist(path).map_err(|e| why(e.error))?;
    Ok(())
}
