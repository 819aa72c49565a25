//! The table of `kpi eval --from/--to`, for exploring: every period of the range, as rows, and
//! the dimension values as columns (or the reverse, pivoted), with the outcome's totals where
//! the values add up (sums and counts of each period: [`crate::eval::KpiOutcome::totals`]).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

use super::Report;
use crate::eval::{KpiOutcome, RowOutcome};
use crate::locale::Numbers;

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
        out.push_str(&matrix(report.numbers, kpi, pivot).to_string());
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

/// The numbers of a table: a value per line and column, with the totals of each line (a last
/// column) and of each column (a last line) where there are.
struct Grid {
    corner: String,
    lines: Vec<String>,
    columns: Vec<String>,
    /// `cells[line][column]`.
    cells: Vec<Vec<Option<f64>>>,
    line_totals: Option<Vec<Option<f64>>>,
    column_totals: Option<Vec<Option<f64>>>,
    all: Option<f64>,
}

impl Grid {
    /// Periods as lines, dimension values as columns.
    fn of(kpi: &KpiOutcome) -> Grid {
        let rows = &kpi.rows;
        let periods = &kpi.history_periods;
        // Totals where the values add up, and over more than one value.
        let totals = kpi.totals.as_ref();
        Grid {
            corner: kpi.grain.name().to_string(),
            lines: periods.clone(),
            columns: rows.iter().map(|r| label(kpi, r)).collect(),
            cells: (0..periods.len())
                .map(|i| {
                    rows.iter()
                        .map(|r| r.history.get(i).copied().flatten())
                        .collect()
                })
                .collect(),
            line_totals: totals.filter(|_| rows.len() > 1).map(|t| t.periods.clone()),
            column_totals: totals
                .filter(|_| periods.len() > 1 && !rows.is_empty())
                .map(|t| t.rows.clone()),
            all: totals.and_then(|t| t.all),
        }
    }

    /// Dimension values as lines, periods as columns.
    fn turned(self, corner: String) -> Grid {
        let cells = (0..self.columns.len())
            .map(|c| self.cells.iter().map(|line| line[c]).collect())
            .collect();
        Grid {
            corner,
            lines: self.columns,
            columns: self.lines,
            cells,
            line_totals: self.column_totals,
            column_totals: self.line_totals,
            all: self.all,
        }
    }
}

fn matrix(numbers: &Numbers, kpi: &KpiOutcome, pivot: bool) -> Table {
    let number = |v: Option<f64>| {
        let text = numbers.value(
            v,
            kpi.meta.format,
            kpi.meta.decimals,
            kpi.meta.unit.as_deref(),
        );
        Cell::new(text).set_alignment(CellAlignment::Right)
    };
    let mut grid = Grid::of(kpi);
    if pivot {
        let corner = if kpi.dimensions.is_empty() {
            "KPI".to_string()
        } else {
            kpi.dimensions.join(", ")
        };
        grid = grid.turned(corner);
    }
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    let mut header = vec![Cell::new(&grid.corner)];
    header.extend(grid.columns.iter().map(Cell::new));
    if grid.line_totals.is_some() {
        header.push(Cell::new("total"));
    }
    table.set_header(header);
    for (i, line) in grid.lines.iter().enumerate() {
        let mut cells = vec![Cell::new(line)];
        cells.extend(grid.cells[i].iter().map(|v| number(*v)));
        if let Some(totals) = &grid.line_totals {
            cells.push(number(totals.get(i).copied().flatten()));
        }
        table.add_row(cells);
    }
    if let Some(totals) = &grid.column_totals {
        let mut cells = vec![Cell::new("total")];
        cells.extend(totals.iter().map(|v| number(*v)));
        if grid.line_totals.is_some() {
            cells.push(number(grid.all));
        }
        table.add_row(cells);
    }
    table
}
