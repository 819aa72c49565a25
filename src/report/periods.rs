//! The table of `kpi eval --from/--to`, for exploring: every period of the range, as rows, and
//! the dimension values as columns (or the reverse, pivoted), with totals where the values add
//! up (sums and counts of each period: [`crate::eval::KpiOutcome::additive`]).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

use super::format::format_value;
use super::Report;
use crate::eval::{KpiOutcome, RowOutcome};

pub fn render(report: &Report<'_>, pivot: bool) -> String {
    let mut out = String::new();
    for kpi in report.outcomes {
        let name = kpi.meta.title.as_deref().unwrap_or(&kpi.meta.name);
        let split = if kpi.dimensions.is_empty() {
            String::new()
        } else {
            format!(" by {}", kpi.dimensions.join(", "))
        };
        let range = match (kpi.history_periods.first(), kpi.history_periods.last()) {
            (Some(first), Some(last)) if first != last => format!(", {first} to {last}"),
            (Some(only), _) => format!(", {only}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{} · as of {} · {name}{split}{range}\n",
            report.project, report.as_of
        ));
        out.push_str(&matrix(kpi, pivot).to_string());
        out.push('\n');
        for row in kpi.rows.iter().filter(|r| r.reason.is_some()) {
            out.push_str(&format!(
                "? {}: {}\n",
                label(kpi, row),
                row.reason.as_deref().unwrap_or("")
            ));
        }
    }
    out
}

/// A row's dimension values, `ads · EU`, or the KPI's title (else name) without dimensions.
fn label(kpi: &KpiOutcome, row: &RowOutcome) -> String {
    if row.dimensions.is_empty() {
        return kpi
            .meta
            .title
            .clone()
            .unwrap_or_else(|| kpi.meta.name.clone());
    }
    row.dimensions
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The sum of the values present; none when none is.
fn total(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    values
        .into_iter()
        .flatten()
        .fold(None, |sum, v| Some(sum.unwrap_or(0.0) + v))
}

fn matrix(kpi: &KpiOutcome, pivot: bool) -> Table {
    let f = |v: Option<f64>| {
        format_value(
            v,
            kpi.meta.format,
            kpi.meta.decimals,
            kpi.meta.unit.as_deref(),
        )
    };
    let number = |v: Option<f64>| Cell::new(f(v)).set_alignment(CellAlignment::Right);
    let periods = &kpi.history_periods;
    let rows = &kpi.rows;
    // Totals only where values add up, and across more than one value.
    let totals = kpi.additive;
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    let value_at = |row: &RowOutcome, i: usize| row.history.get(i).copied().flatten();
    if !pivot {
        // Periods as rows, dimension values as columns.
        let mut header = vec![Cell::new(kpi.grain.name())];
        header.extend(rows.iter().map(|r| Cell::new(label(kpi, r))));
        let across = totals && rows.len() > 1;
        if across {
            header.push(Cell::new("total"));
        }
        table.set_header(header);
        for (i, period) in periods.iter().enumerate() {
            let mut cells = vec![Cell::new(period)];
            cells.extend(rows.iter().map(|r| number(value_at(r, i))));
            if across {
                cells.push(number(total(rows.iter().map(|r| value_at(r, i)))));
            }
            table.add_row(cells);
        }
        if totals && periods.len() > 1 {
            let mut cells = vec![Cell::new("total")];
            cells.extend(
                rows.iter()
                    .map(|r| number(total(r.history.iter().copied()))),
            );
            if across {
                cells.push(number(total(
                    rows.iter().flat_map(|r| r.history.iter().copied()),
                )));
            }
            table.add_row(cells);
        }
    } else {
        // Dimension values as rows, periods as columns.
        let corner = if kpi.dimensions.is_empty() {
            "KPI".to_string()
        } else {
            kpi.dimensions.join(", ")
        };
        let mut header = vec![Cell::new(corner)];
        header.extend(periods.iter().map(Cell::new));
        let across = totals && periods.len() > 1;
        if across {
            header.push(Cell::new("total"));
        }
        table.set_header(header);
        for row in rows {
            let mut cells = vec![Cell::new(label(kpi, row))];
            cells.extend((0..periods.len()).map(|i| number(value_at(row, i))));
            if across {
                cells.push(number(total(row.history.iter().copied())));
            }
            table.add_row(cells);
        }
        if totals && rows.len() > 1 {
            let mut cells = vec![Cell::new("total")];
            cells.extend(
                (0..periods.len()).map(|i| number(total(rows.iter().map(|r| value_at(r, i))))),
            );
            if across {
                cells.push(number(total(
                    rows.iter().flat_map(|r| r.history.iter().copied()),
                )));
            }
            table.add_row(cells);
        }
    }
    table
}
