//! The JSON report. Its schema is documented in README.md and versioned by `schema_version`.

use serde::Serialize;

use super::{Report, Summary};
use crate::diagnostic::DiagnosticJson;
use crate::eval::{KpiOutcome, Status};

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    project: &'a str,
    as_of: String,
    status: Option<Status>,
    summary: Summary,
    kpis: &'a [KpiOutcome],
    diagnostics: Vec<DiagnosticJson>,
}

pub fn render(report: &Report<'_>) -> String {
    let document = Document {
        schema_version: 1,
        project: report.project,
        as_of: report.as_of.to_string(),
        status: Status::worst(report.outcomes.iter().filter_map(|k| k.status)),
        summary: report.summary(),
        kpis: report.outcomes,
        diagnostics: report
            .diagnostics
            .iter()
            .map(|d| DiagnosticJson::new(d, report.sources))
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&document)
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
