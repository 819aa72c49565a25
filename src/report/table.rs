//! The table for people: one line per KPI and dimension values.

use crate::compile::ir::Format;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::format::{
    row_name, rows_without_value, sparkline, status_mark, target_text, trend_history,
};
use super::{Report, Summary, TableOptions};
use crate::eval::Status;

pub fn render(report: &Report<'_>, options: TableOptions) -> String {
    let n = report.numbers;
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if !options.color {
        table.force_no_tty();
    } else {
        table.enforce_styling();
    }
    let mut header = vec!["KPI", "period", "value"];
    if options.judged {
        header.extend(["target", "status"]);
    }
    header.extend(["change", "trend"]);
    table.set_header(header);
    for kpi in report.outcomes {
        let title = kpi
            .meta
            .title
            .clone()
            .unwrap_or_else(|| kpi.meta.name.clone());
        if kpi.rows.is_empty() {
            let mut cells = vec![Cell::new(&title), Cell::new(&kpi.period), Cell::new("—")];
            if options.judged {
                cells.push(Cell::new(""));
                cells.push(status_cell(kpi.status, options.color));
            }
            table.add_row(cells);
        }
        for row in &kpi.rows {
            let mut cells = vec![
                Cell::new(row_name(kpi, row)),
                Cell::new(&kpi.period),
                Cell::new(n.value(
                    row.value,
                    kpi.meta.format,
                    kpi.meta.decimals,
                    kpi.meta.unit.as_deref(),
                )),
            ];
            if options.judged {
                let target = row
                    .target
                    .as_ref()
                    .map(|t| target_text(n, t, kpi))
                    .unwrap_or_default();
                cells.push(Cell::new(target));
                cells.push(status_cell(row.status, options.color));
            }
            // No change for a period in progress: its value so far against a whole period.
            let previous = row.previous.filter(|_| !kpi.in_progress);
            cells.push(Cell::new(n.change(row.value, previous, kpi.meta.format)));
            cells.push(Cell::new(sparkline(trend_history(kpi, row))));
            table.add_row(cells);
        }
    }
    let summary = report.summary();
    for name in &summary.failed {
        let mut cells = vec![Cell::new(name), Cell::new(""), Cell::new("—")];
        if options.judged {
            cells.push(Cell::new(""));
            let cell = Cell::new("‼ error");
            cells.push(if options.color {
                cell.fg(Color::Magenta)
            } else {
                cell
            });
        }
        table.add_row(cells);
    }
    let mut out = format!(
        "{} · as of {} · {} KPI{}\n",
        report.project,
        report.as_of,
        report.outcomes.len(),
        if report.outcomes.len() == 1 { "" } else { "s" }
    );
    out.push_str(&table.to_string());
    out.push('\n');
    out.push_str(&reasons(report));
    if options.judged {
        out.push_str(&pacing(report));
        out.push_str(&super::drawing::render(report));
        out.push_str(&self::summary(&summary));
    }
    out
}

/// One line per reason that rows have no value, naming the rows: `? `orders` has data only
/// through 2025-12-20: Revenue, AOV · EU`.
fn reasons(report: &Report<'_>) -> String {
    let grouped = rows_without_value(report);
    if grouped.is_empty() {
        return String::new();
    }
    let mut out: String = grouped
        .iter()
        .map(|(reason, names)| {
            format!(
                "? {reason}, so these have no value yet: {}\n",
                names.join(", ")
            )
        })
        .collect();
    let stale = grouped.iter().any(|(reason, _)| {
        reason.contains("has data only through") || reason.contains("has no dated rows")
    });
    if stale {
        out.push_str(
            "  (if such data are complete, say how late they may be with `fresh` in kpi.toml)\n",
        );
    }
    out
}

fn status_cell(status: Option<Status>, color: bool) -> Cell {
    let Some(status) = status else {
        return Cell::new("");
    };
    let tint = match status {
        Status::Met | Status::OnTrack => Color::Green,
        Status::Warn => Color::Yellow,
        Status::Missed | Status::AtRisk => Color::Red,
        Status::NoData => Color::DarkGrey,
    };
    let cell = Cell::new(status_mark(status));
    if color {
        cell.fg(tint)
    } else {
        cell
    }
}

fn summary(summary: &Summary) -> String {
    // On track and at risk are counted only where there are time-bound targets in progress.
    let paced = if summary.on_track + summary.at_risk > 0 {
        format!(
            " · {} on track · {} at risk",
            summary.on_track, summary.at_risk
        )
    } else {
        String::new()
    };
    format!(
        "{} met · {} warn · {} missed{paced} · {} no data · {} without target · {} error{}\n",
        summary.met,
        summary.warn,
        summary.missed,
        summary.no_data,
        summary.without_target,
        summary.errors,
        if summary.errors == 1 { "" } else { "s" }
    )
}

/// One line per row of a time-bound target, in words: how far the period has gone, where the
/// value stands and where it is heading, and what the rest of the period must bring.
fn pacing(report: &Report<'_>) -> String {
    let n = report.numbers;
    let mut out = String::new();
    for kpi in report.outcomes {
        let Some(deadline) = &kpi.deadline else {
            continue;
        };
        let f = |v: Option<f64>| {
            n.value(
                v,
                kpi.meta.format,
                kpi.meta.decimals,
                kpi.meta.unit.as_deref(),
            )
        };
        for row in &kpi.rows {
            let name = row_name(kpi, row);
            let target = row.target.as_ref().map(|t| target_text(n, t, kpi));
            let line = if !kpi.in_progress {
                format!(
                    "{name}: the period to {deadline} is over; {} against {}",
                    f(row.value),
                    target.unwrap_or_default()
                )
            } else if row.elapsed == Some(0.0) {
                format!("{name}: the period to {deadline} has not begun")
            } else {
                let elapsed = row.elapsed.map_or(String::new(), |e| {
                    let share = n.value(Some(e), Format::Percent, Some(0), None);
                    format!("{share} of the time to {deadline} gone")
                });
                let mut line = format!("{name}: {} so far, {elapsed}", f(row.value));
                if let Some(projection) = row.projection {
                    line.push_str(&format!(
                        "; heading for {} against {}",
                        f(Some(projection)),
                        target.unwrap_or_default()
                    ));
                } else if let Some(target) = target {
                    line.push_str(&format!("; judged as it stands against {target}"));
                }
                // `needed` is the target less the value so far: what is still to bring for a
                // floor (`>=`), what is left before a ceiling (`<=`) is reached.
                let ceiling = row.target.as_ref().is_some_and(|t| t.op.starts_with('<'));
                match row.needed {
                    Some(n) if n > 0.0 && ceiling => {
                        line.push_str(&format!("; {} left before the limit", f(Some(n))));
                    }
                    Some(n) if n < 0.0 && ceiling => {
                        line.push_str(&format!("; over the limit by {}", f(Some(-n))));
                    }
                    Some(n) if n > 0.0 => {
                        line.push_str(&format!("; {} still to go", f(Some(n))));
                    }
                    _ => {}
                }
                line
            };
            out.push_str(&format!("⏱ {line}\n"));
        }
    }
    out
}
