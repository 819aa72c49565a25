//! The table of `kpi eval --from/--to`, for exploring: every period of the range, as rows, and
//! the dimension values as columns (or the reverse, pivoted), with the outcome's totals where
//! the values add up (sums and counts of each period: [`crate::eval::KpiOutcome::totals`]).

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
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    let value_at = |row: &RowOutcome, i: usize| row.history.get(i).copied().flatten();
    // Totals where the values add up, and over more than one value.
    let totals = kpi.totals.as_ref();
    let by_period = totals.filter(|_| rows.len() > 1);
    let by_row = totals.filter(|_| periods.len() > 1 && !rows.is_empty());
    let period_total =
        |i: usize| number(by_period.and_then(|t| t.periods.get(i).copied().flatten()));
    let row_total = |r: usize| number(by_row.and_then(|t| t.rows.get(r).copied().flatten()));
    let all = || number(totals.and_then(|t| t.all));
    if !pivot {
        // Periods as rows, dimension values as columns.
        let mut header = vec![Cell::new(kpi.grain.name())];
        header.extend(rows.iter().map(|r| Cell::new(label(kpi, r))));
        if by_period.is_some() {
            header.push(Cell::new("total"));
        }
        table.set_header(header);
        for (i, period) in periods.iter().enumerate() {
            let mut cells = vec![Cell::new(period)];
            cells.extend(rows.iter().map(|r| number(value_at(r, i))));
            if by_period.is_some() {
                cells.push(period_total(i));
            }
            table.add_row(cells);
        }
        if by_row.is_some() {
            let mut cells = vec![Cell::new("total")];
            cells.extend((0..rows.len()).map(row_total));
            if by_period.is_some() {
                cells.push(all());
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
        if by_row.is_some() {
            header.push(Cell::new("total"));
        }
        table.set_header(header);
        for (r, row) in rows.iter().enumerate() {
            let mut cells = vec![Cell::new(label(kpi, row))];
            cells.extend((0..periods.len()).map(|i| number(value_at(row, i))));
            if by_row.is_some() {
                cells.push(row_total(r));
            }
            table.add_row(cells);
        }
        if by_period.is_some() {
            let mut cells = vec![Cell::new("total")];
            cells.extend((0..periods.len()).map(period_total));
            if by_row.is_some() {
                cells.push(all());
            }
            table.add_row(cells);
        }
    }
    table
}
