//! Outcomes -> bytes, one file per format. Only this module and the CLI write output.

mod csv;
mod format;
mod json;
mod table;

use chrono::NaiveDate;

use crate::diagnostic::Diagnostic;
use crate::eval::KpiOutcome;
use crate::source::SourceMap;

pub use format::format_value;

/// Everything a reporter may show.
pub struct Report<'a> {
    pub project: &'a str,
    pub as_of: NaiveDate,
    pub outcomes: &'a [KpiOutcome],
    pub diagnostics: &'a [Diagnostic],
    pub sources: &'a SourceMap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// Options of the human table.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOptions {
    pub color: bool,
    /// Show targets and statuses (`kpi check`) or values only (`kpi eval`).
    pub judged: bool,
}

/// Renders a report. Diagnostics are part of the JSON document; for the table and CSV
/// they are rendered separately (to stderr) by the caller with [`crate::diagnostic::render_human`].
pub fn render(report: &Report<'_>, format: OutputFormat, options: TableOptions) -> String {
    match format {
        OutputFormat::Table => table::render(report, options),
        OutputFormat::Json => json::render(report),
        OutputFormat::Csv => csv::render(report),
    }
}
