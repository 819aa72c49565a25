//! GitHub workflow commands: an annotation per row that needs attention, on the line of the KPI's
//! definition, and one per diagnostic, on its span, so that a pull request shows them in the
//! files it changes.
//!
//! - a status that `--fail-on` fails is an `::error`;
//! - `warn` and `at_risk` below the `--fail-on` level are a `::warning`;
//! - `no_data` is a `::notice` with the reason;
//! - `met`, `on_track` and rows without a target are not annotated;
//! - an error in the definitions, the manifest or the data is an `::error` on its span (a
//!   warning a `::warning`), titled with its code.
//!
//! File paths are the [`super::FilePaths`] of the report: from the repository's root. The
//! commands are written by `actions-rs`, which percent-encodes them as the runner's toolkit does.

use actions_rs::{Annotation, AnnotationKind, AnnotationSpan};

use super::format::{format_value, judged_text, row_name};
use super::{FailOn, Report};
use crate::diagnostic::{Diagnostic, Severity};
use crate::eval::{KpiOutcome, RowOutcome, Status};

pub fn render(report: &Report<'_>, fail_on: FailOn) -> String {
    let mut out = String::new();
    for kpi in report.outcomes {
        for row in &kpi.rows {
            let Some(status) = row.status else {
                continue;
            };
            let kind = if fail_on.fails(status) {
                AnnotationKind::Error
            } else {
                match status {
                    Status::Warn | Status::AtRisk => AnnotationKind::Warning,
                    Status::NoData => AnnotationKind::Notice,
                    Status::Met | Status::OnTrack | Status::Missed => continue,
                }
            };
            let command = Annotation::new()
                .title(format!("{}: {}", row_name(kpi, row), status.key()))
                .file(report.paths.of(&kpi.location.file))
                .span(AnnotationSpan::Column {
                    line: number(kpi.location.line),
                    start: number(kpi.location.column),
                    // The KPI's name, where the location points; the last column is in it.
                    end: Some(number(
                        kpi.location.column + kpi.meta.name.chars().count().max(1) - 1,
                    )),
                })
                .command(kind, row_message(kpi, row));
            out.push_str(&format!("{command}\n"));
        }
    }
    for diagnostic in report.diagnostics {
        out.push_str(&format!("{}\n", diagnostic_command(report, diagnostic)));
    }
    out
}

/// `1,200 against >= 1,000 in 2025-03`, with why there is no value, or where a time-bound target
/// is heading.
fn row_message(kpi: &KpiOutcome, row: &RowOutcome) -> String {
    let mut message = judged_text(kpi, row);
    if let Some(reason) = &row.reason {
        message.push_str(&format!(": {reason}"));
    }
    if let (true, Some(projection), Some(deadline)) =
        (kpi.in_progress, row.projection, &row.deadline)
    {
        let projected = format_value(
            Some(projection),
            kpi.meta.format,
            kpi.meta.decimals,
            kpi.meta.unit.as_deref(),
        );
        message.push_str(&format!(" so far, heading for {projected} by {deadline}"));
    }
    message
}

fn diagnostic_command(report: &Report<'_>, diagnostic: &Diagnostic) -> String {
    let kind = match diagnostic.severity {
        Severity::Error => AnnotationKind::Error,
        Severity::Warning => AnnotationKind::Warning,
    };
    let mut message = diagnostic.message.clone();
    for hint in &diagnostic.hints {
        message.push_str(&format!("\nhelp: {hint}"));
    }
    let mut annotation = Annotation::new().title(diagnostic.code);
    if let Some(span) = diagnostic.span {
        let start = report.sources.location(span);
        let (end_line, end_column) = report.sources.get(span.file).line_col(span.end);
        annotation = annotation.file(report.paths.of(&start.file));
        annotation = if end_line == start.line {
            annotation.span(AnnotationSpan::Column {
                line: number(start.line),
                start: number(start.column),
                // The span ends before `end_column`; the annotation's last column is in it.
                end: Some(number(end_column.saturating_sub(1).max(start.column))),
            })
        } else {
            annotation.span(AnnotationSpan::Line {
                start: number(start.line),
                end: Some(number(end_line)),
            })
        };
    }
    annotation.command(kind, message).to_string()
}

/// Lines and columns as the commands take them; a file of four billion lines is not a concern.
fn number(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
