//! GitHub workflow commands: an annotation per row that needs attention, on the line of the KPI's
//! definition, and one per diagnostic, on its span, so that a pull request shows them in the
//! files it changes.
//!
//! - a status that `--fail-on` fails is an `::error`;
//! - `warn` and `at_risk` below the `--fail-on` level are a `::warning`;
//! - `no_data` is a `::notice` with the reason;
//! - `met`, `on_track` and rows without a target are not annotated;
//! - the rows of one KPI with one kind of annotation are one annotation, a line each;
//! - an error in the definitions, the manifest or the data is an `::error` on its span (a
//!   warning a `::warning`), titled with its code.
//!
//! File paths are the [`super::FilePaths`] of the report: from the repository's root. The
//! commands are written by `actions-rs`, which percent-encodes them as the runner's toolkit does.

use actions_rs::{Annotation, AnnotationKind, AnnotationSpan};

use super::format::{judged_text, row_name};
use super::{FailOn, Report};
use crate::diagnostic::{Diagnostic, Severity};
use crate::eval::{KpiOutcome, RowOutcome, Status};

pub fn render(report: &Report<'_>, fail_on: FailOn) -> String {
    let mut out = String::new();
    for kpi in report.outcomes {
        for (kind, rows) in kinds(kpi, fail_on) {
            out.push_str(&format!("{}\n", kpi_command(report, kpi, kind, &rows)));
        }
    }
    for diagnostic in report.diagnostics {
        out.push_str(&format!("{}\n", diagnostic_command(report, diagnostic)));
    }
    out
}

/// How a status is annotated, if it is: errors, then warnings, then notices.
fn kind_of(status: Status, fail_on: FailOn) -> Option<AnnotationKind> {
    if fail_on.fails(status) {
        return Some(AnnotationKind::Error);
    }
    match status {
        Status::Warn | Status::AtRisk => Some(AnnotationKind::Warning),
        Status::NoData => Some(AnnotationKind::Notice),
        Status::Met | Status::OnTrack | Status::Missed => None,
    }
}

/// A KPI's rows that need attention, by the kind of annotation, errors first: one annotation
/// each, on the KPI's line (GitHub shows ten errors and ten warnings a step; one per row of a
/// KPI split by dimensions would crowd out the other KPIs). A KPI without rows in the judged
/// period is a notice of its own.
fn kinds(kpi: &KpiOutcome, fail_on: FailOn) -> Vec<(AnnotationKind, Vec<&RowOutcome>)> {
    let order = [
        AnnotationKind::Error,
        AnnotationKind::Warning,
        AnnotationKind::Notice,
    ];
    let mut kinds: Vec<(AnnotationKind, Vec<&RowOutcome>)> = Vec::new();
    for kind in order {
        let rows: Vec<&RowOutcome> = kpi
            .rows
            .iter()
            .filter(|r| r.status.and_then(|s| kind_of(s, fail_on)) == Some(kind))
            .collect();
        let empty_kpi =
            kpi.rows.is_empty() && kpi.status.and_then(|s| kind_of(s, fail_on)) == Some(kind);
        if !rows.is_empty() || empty_kpi {
            kinds.push((kind, rows));
        }
    }
    kinds
}

/// `Cost per lead: 2 missed` and a line per row, `ads: 349.71 against <= 200.00 in 2026-01`.
fn kpi_command(
    report: &Report<'_>,
    kpi: &KpiOutcome,
    kind: AnnotationKind,
    rows: &[&RowOutcome],
) -> String {
    let name = kpi.meta.title.as_deref().unwrap_or(&kpi.meta.name);
    let mut counts: Vec<(Status, usize)> = Vec::new();
    for status in rows.iter().filter_map(|r| r.status) {
        match counts.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => counts.push((status, 1)),
        }
    }
    let (title, message) = match rows {
        [] => (
            format!("{name}: {}", Status::NoData.key()),
            format!("no rows in {}", kpi.period),
        ),
        [row] if row.dimensions.is_empty() => (
            format!(
                "{}: {}",
                row_name(kpi, row),
                row.status.map_or("", |s| s.key())
            ),
            row_message(report.numbers, kpi, row),
        ),
        _ => {
            let counted: Vec<String> = counts
                .iter()
                .map(|(s, n)| format!("{n} {}", s.key()))
                .collect();
            let lines: Vec<String> = rows
                .iter()
                .map(|row| {
                    let dims: Vec<&str> = row.dimensions.iter().map(|(_, v)| v.as_str()).collect();
                    format!(
                        "{}: {}",
                        dims.join(" · "),
                        row_message(report.numbers, kpi, row)
                    )
                })
                .collect();
            (
                format!("{name}: {} of {}", counted.join(", "), kpi.rows.len()),
                lines.join("\n"),
            )
        }
    };
    Annotation::new()
        .title(title)
        .file(report.paths.of(&kpi.location.file))
        .span(AnnotationSpan::Column {
            line: number(kpi.location.line),
            start: number(kpi.location.column),
            // The KPI's name, where the location points; the last column is in it.
            end: Some(number(
                kpi.location.column + kpi.meta.name.chars().count().max(1) - 1,
            )),
        })
        .command(kind, message)
        .to_string()
}

/// `1,200 against >= 1,000 in 2025-03`, with why there is no value, or where a time-bound target
/// is heading.
fn row_message(numbers: &crate::locale::Numbers, kpi: &KpiOutcome, row: &RowOutcome) -> String {
    let mut message = judged_text(numbers, kpi, row);
    if let Some(reason) = &row.reason {
        message.push_str(&format!(": {reason}"));
    }
    if let (true, Some(projection), Some(deadline)) =
        (kpi.in_progress, row.projection, &row.deadline)
    {
        let projected = numbers.value(
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
