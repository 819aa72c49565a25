//! The report of `kpi lint`: a table for people, and JSON (schema in README.md).

use chrono::NaiveDate;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};
use serde::Serialize;

use crate::lint::{percent, KpiLint, Letter};

/// Everything the lint report shows.
pub struct LintReport<'a> {
    pub project: &'a str,
    pub as_of: NaiveDate,
    pub kpis: &'a [KpiLint],
    /// The letters that `--deny` turns from warnings into failures.
    pub deny: &'a [Letter],
}

/// One line per KPI with a mark per letter (`✓` passes, `!` a finding, `✗` a finding of a
/// denied letter), then the reasons of every finding, then the counts.
pub fn render_table(report: &LintReport<'_>, color: bool) -> String {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    let mut header = vec!["KPI".to_string()];
    header.extend(Letter::ALL.iter().map(|l| l.symbol().to_string()));
    header.push("hit rate".to_string());
    table.set_header(header);
    for kpi in report.kpis {
        let mut cells = vec![Cell::new(&kpi.name)];
        for letter in Letter::ALL {
            cells.push(mark(
                kpi.check(letter).0,
                report.deny.contains(&letter),
                color,
            ));
        }
        let hit_rate = kpi.checks.achievable.hit_rate;
        cells.push(Cell::new(hit_rate.map_or("—".to_string(), percent)));
        table.add_row(cells);
    }
    let mut out = format!(
        "{} · as of {} · SMART review of {} KPI{}\n",
        report.project,
        report.as_of,
        report.kpis.len(),
        if report.kpis.len() == 1 { "" } else { "s" }
    );
    out.push_str(&table.to_string());
    out.push('\n');
    if report.kpis.iter().any(|k| !k.failed().is_empty()) {
        out.push_str(
            "✓ passes · ! a finding (a warning) · ✗ a finding of a letter `--deny` names\n",
        );
    }
    out.push_str(&findings(report));
    out.push_str(&summary(report));
    out
}

fn mark(pass: bool, denied: bool, color: bool) -> Cell {
    let (text, tint) = match (pass, denied) {
        (true, _) => ("✓", Color::Green),
        (false, false) => ("!", Color::Yellow),
        (false, true) => ("✗", Color::Red),
    };
    let cell = Cell::new(text);
    if color {
        cell.fg(tint)
    } else {
        cell
    }
}

/// The reasons of every letter that does not pass, KPI by KPI.
fn findings(report: &LintReport<'_>) -> String {
    let mut out = String::new();
    for kpi in report.kpis {
        let failed = kpi.failed();
        if failed.is_empty() {
            continue;
        }
        out.push_str(&format!("{} ({})\n", kpi.name, kpi.location));
        for letter in failed {
            let mark = if report.deny.contains(&letter) {
                '✗'
            } else {
                '!'
            };
            out.push_str(&format!(
                "  {mark} {} {}\n",
                letter.symbol(),
                kpi.check(letter).1
            ));
        }
    }
    out
}

/// `3 of 5 KPIs pass every letter · findings: S 1, M 2, A 3 · denied: A fails for 1 KPI`.
fn summary(report: &LintReport<'_>) -> String {
    let clean = report.kpis.iter().filter(|k| k.failed().is_empty()).count();
    let count = |letter: Letter| report.kpis.iter().filter(|k| !k.check(letter).0).count();
    let counts: Vec<String> = Letter::ALL
        .into_iter()
        .map(|l| (l, count(l)))
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| format!("{} {n}", l.symbol()))
        .collect();
    let mut out = format!(
        "{clean} of {} KPI{} pass every letter",
        report.kpis.len(),
        if report.kpis.len() == 1 { "" } else { "s" }
    );
    if !counts.is_empty() {
        out.push_str(&format!(" · findings: {}", counts.join(", ")));
    }
    if !report.deny.is_empty() {
        let letters: String = report.deny.iter().map(|l| l.symbol()).collect();
        let failing = report
            .kpis
            .iter()
            .filter(|k| k.failed().iter().any(|l| report.deny.contains(l)))
            .count();
        out.push_str(&format!(
            " · denied {letters}: {failing} KPI{} fail{}",
            if failing == 1 { "" } else { "s" },
            if failing == 1 { "s" } else { "" }
        ));
    }
    out.push('\n');
    out
}

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    kpis: &'a [KpiLint],
}

/// `{"schema_version": 1, "kpis": [{"name", "location", "checks": {…}}]}`.
pub fn render_json(report: &LintReport<'_>) -> String {
    let document = Document {
        schema_version: 1,
        kpis: report.kpis,
    };
    let mut text = serde_json::to_string_pretty(&document)
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
