//! Markdown for a pull request or `$GITHUB_STEP_SUMMARY`: a headline with the counts by status,
//! one table per owner with failures first, and the errors in a collapsible section. GitHub
//! Flavored Markdown (tables, `<details>`); every text from definitions or data is escaped.

use std::collections::BTreeMap;

use super::format::{
    row_name, rows_without_value, sparkline, status_mark, target_text, trend_history,
};
use super::{Report, Summary};
use crate::diagnostic::Severity;
use crate::eval::{KpiOutcome, RowOutcome};
use crate::locale::Numbers;

/// The heading of the KPIs without an owner.
const NO_OWNER: &str = "No owner";

pub fn render(report: &Report<'_>) -> String {
    let summary = report.summary();
    let mut out = format!(
        "## {} · as of {}\n\n{}\n",
        escape(report.project),
        report.as_of,
        headline(&summary, report.outcomes.len())
    );
    if !summary.failed.is_empty() {
        let names: Vec<String> = summary.failed.iter().map(|n| code(n)).collect();
        out.push_str(&format!(
            "\n‼ Could not be computed: {}.\n",
            names.join(", ")
        ));
    }
    for (owner, rows) in groups(report.outcomes) {
        out.push_str(&format!("\n### {}\n\n", escape(owner)));
        out.push_str("| status | KPI | period | value | target | change | trend |\n");
        out.push_str("|---|---|---|--:|---|--:|---|\n");
        for (kpi, row) in rows {
            out.push_str(&table_row(report.numbers, kpi, row));
        }
    }
    out.push_str(&reasons(report));
    out.push_str(&errors(report));
    out
}

/// `**✗ 2 missed** · ! 1 warn · ✓ 10 met · 3 without target · 12 KPIs`: the statuses that occur,
/// worst first, the failing ones in bold.
fn headline(summary: &Summary, kpis: usize) -> String {
    let counts = [
        (summary.missed, "✗ ", "missed", true),
        (summary.at_risk, "⚠ ", "at risk", true),
        (summary.warn, "! ", "warn", false),
        (summary.no_data, "? ", "no data", false),
        (summary.on_track, "→ ", "on track", false),
        (summary.met, "✓ ", "met", false),
        (summary.without_target, "", "without target", false),
    ];
    let mut parts: Vec<String> = counts
        .iter()
        .filter(|(n, ..)| *n > 0)
        .map(|(n, mark, words, bold)| {
            let text = format!("{mark}{n} {words}");
            if *bold {
                format!("**{text}**")
            } else {
                text
            }
        })
        .collect();
    if summary.errors > 0 {
        let s = if summary.errors == 1 { "" } else { "s" };
        parts.push(format!("**‼ {} error{s}**", summary.errors));
    }
    parts.push(format!("{kpis} KPI{}", if kpis == 1 { "" } else { "s" }));
    parts.join(" · ")
}

/// The rows by owner: the owners whose worst row is worst first, then by name, the KPIs without
/// an owner last among equals; in each, the rows worst first, in report order among equals.
fn groups(outcomes: &[KpiOutcome]) -> Vec<(&str, Vec<(&KpiOutcome, &RowOutcome)>)> {
    let mut by_owner: BTreeMap<(bool, &str), Vec<(&KpiOutcome, &RowOutcome)>> = BTreeMap::new();
    for kpi in outcomes {
        let owner = kpi.meta.owner.as_deref();
        let key = (owner.is_none(), owner.unwrap_or(NO_OWNER));
        by_owner
            .entry(key)
            .or_default()
            .extend(kpi.rows.iter().map(|row| (kpi, row)));
    }
    let severity = |row: &RowOutcome| row.status.map_or(-1, |s| i16::from(s.severity()));
    let mut groups: Vec<(&str, Vec<(&KpiOutcome, &RowOutcome)>)> = by_owner
        .into_iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|((_, owner), mut rows)| {
            rows.sort_by_key(|(_, row)| std::cmp::Reverse(severity(row)));
            (owner, rows)
        })
        .collect();
    let worst = |rows: &[(&KpiOutcome, &RowOutcome)]| {
        rows.iter()
            .map(|(_, row)| severity(row))
            .max()
            .unwrap_or(-1)
    };
    groups.sort_by_key(|(_, rows)| std::cmp::Reverse(worst(rows)));
    groups
}

fn table_row(n: &Numbers, kpi: &KpiOutcome, row: &RowOutcome) -> String {
    let f = |v| {
        n.value(
            v,
            kpi.meta.format,
            kpi.meta.decimals,
            kpi.meta.unit.as_deref(),
        )
    };
    let status = row.status.map(status_mark).unwrap_or_default();
    let status = match row.status.map(|s| s.severity()) {
        Some(severity) if severity >= 4 => format!("**{status}**"),
        _ => status.to_string(),
    };
    let target = row
        .target
        .as_ref()
        .map(|t| target_text(n, t, kpi))
        .unwrap_or_default();
    // No change for a period in progress: its value so far against a whole period.
    let previous = row.previous.filter(|_| !kpi.in_progress);
    let cells = [
        status,
        format!(
            "{} ({})",
            escape(&row_name(kpi, row)),
            code(&kpi.location.to_string())
        ),
        escape(&kpi.period),
        escape(&f(row.value)),
        escape(&target),
        escape(&n.change(row.value, previous, kpi.meta.format)),
        sparkline(trend_history(kpi, row)),
    ];
    format!("| {} |\n", cells.join(" | "))
}

/// Why rows have no value, one line per reason.
fn reasons(report: &Report<'_>) -> String {
    let grouped = rows_without_value(report);
    if grouped.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = grouped
        .iter()
        .map(|(reason, names)| {
            let names: Vec<String> = names.iter().map(|n| escape(n)).collect();
            format!("- ? {}: {}\n", escape(reason), names.join(", "))
        })
        .collect();
    format!("\n{}", lines.concat())
}

/// The errors and warnings, collapsed: each with its code, where it is and its hints.
fn errors(report: &Report<'_>) -> String {
    if report.diagnostics.is_empty() {
        return String::new();
    }
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = report.diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let title = match (errors, warnings) {
        (0, w) => plural(w, "warning"),
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    };
    let mut out = format!("\n<details><summary>{title}</summary>\n\n");
    for d in report.diagnostics {
        let severity = match d.severity {
            Severity::Error => "error",
            _ => "warning",
        };
        let place = d
            .span
            .map(|span| format!(" {}", code(&report.sources.location(span).to_string())))
            .unwrap_or_default();
        out.push_str(&format!(
            "- **{severity} {}**{place}: {}\n",
            d.code,
            escape(&d.message)
        ));
        for hint in &d.hints {
            out.push_str(&format!("  - {}\n", escape(hint)));
        }
    }
    out.push_str("\n</details>\n");
    out
}

/// Text as it reads: CommonMark's ASCII punctuation that could start markup is backslash-escaped
/// (so `*`, `_`, `<b>` or `[x](y)` in a title stay text), `|` so that it does not end a table
/// cell, and line breaks become spaces.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text in a code span, with a fence longer than any run of backticks in it; `|` escaped, which
/// GitHub's tables need even inside code.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let text = text.replace(['\n', '\r'], " ").replace('|', "\\|");
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_definitions_stays_text() {
        assert_eq!(escape("a*b_c|d"), "a\\*b\\_c\\|d");
        assert_eq!(escape("<b>x</b>"), "\\<b\\>x\\</b\\>");
        assert_eq!(escape("Выручка · EU"), "Выручка · EU");
        assert_eq!(escape("two\nlines"), "two lines");
        assert_eq!(code("defs.kpi:3:5"), "`defs.kpi:3:5`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }
}
