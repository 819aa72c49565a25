//! What the table draws under the KPIs that read a funnel or a cohort: the funnel of the judged
//! cohort step by step, the cohort triangle as shares, and which younger cohorts are maturing.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use super::Report;
use crate::compile::ir::Format;
use crate::eval::{KpiOutcome, RowOutcome};
use crate::locale::Numbers;

/// Every funnel, triangle and maturing note of a report, in KPI order.
pub fn render(report: &Report<'_>) -> String {
    let n = report.numbers;
    let mut out = String::new();
    for kpi in report.outcomes {
        let Some(drawing) = &kpi.drawing else {
            continue;
        };
        let title = kpi.meta.title.as_deref().unwrap_or(&kpi.meta.name);
        let item = match &drawing.title {
            Some(t) => format!(" ({t})"),
            None => String::new(),
        };
        out.push('\n');
        if drawing.kind == "funnel" {
            out.push_str(&format!(
                "{title}: funnel `{}`{item}, the cohort of {}\n",
                drawing.name, kpi.period
            ));
            out.push_str(&funnel_table(n, kpi));
        } else {
            out.push_str(&format!(
                "{title}: cohort `{}`{item}, share active by age\n",
                drawing.name
            ));
            for row in &kpi.rows {
                if !row.dimensions.is_empty() {
                    out.push_str(&format!("{}\n", dims(row)));
                }
                out.push_str(&triangle(n, row));
            }
        }
        if let Some(note) = maturing(n, kpi, title) {
            out.push_str(&note);
        }
    }
    out
}

fn dims(row: &RowOutcome) -> String {
    row.dimensions
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" · ")
}

fn table() -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    table
}

fn percent(n: &Numbers, v: Option<f64>) -> String {
    match v {
        Some(_) => n.value(v, Format::Percent, Some(1), None),
        None => String::new(),
    }
}

/// One line per step (and dimension values): entities, conversion from the step before and
/// from the first, mean days to reach it.
fn funnel_table(n: &Numbers, kpi: &KpiOutcome) -> String {
    let mut t = table();
    let mut header: Vec<String> = kpi.dimensions.clone();
    header.extend(
        [
            "step",
            "entities",
            "from previous",
            "from first",
            "mean days",
        ]
        .map(String::from),
    );
    t.set_header(header);
    for row in &kpi.rows {
        let Some(steps) = &row.funnel else {
            continue;
        };
        for step in steps {
            let mut cells: Vec<String> = row.dimensions.iter().map(|(_, v)| v.clone()).collect();
            cells.push(step.step.clone());
            cells.push(n.value(step.count, Format::Number, Some(0), None));
            cells.push(percent(n, step.from_previous));
            cells.push(percent(n, step.from_first));
            cells.push(match step.days {
                Some(_) => n.value(step.days, Format::Number, Some(1), None),
                None => String::new(),
            });
            t.add_row(cells);
        }
    }
    right_align(&mut t, kpi.dimensions.len() + 1);
    format!("{t}\n")
}

/// The triangle of one row: a line per cohort, its size, then the share active at each age;
/// blank where that age has not completed yet.
fn triangle(n: &Numbers, row: &RowOutcome) -> String {
    let Some(table) = &row.cohort else {
        return String::new();
    };
    let ages = table.shares.first().map_or(0, Vec::len);
    let mut t = table_header(ages);
    for ((cohort, size), shares) in table.cohorts.iter().zip(&table.sizes).zip(&table.shares) {
        let mut cells = vec![
            cohort.clone(),
            n.value(*size, Format::Number, Some(0), None),
        ];
        cells.extend(shares.iter().map(|s| match s {
            Some(v) => n.value(Some(*v), Format::Percent, Some(0), None),
            None => String::new(),
        }));
        t.add_row(cells);
    }
    right_align(&mut t, 1);
    format!("{t}\n")
}

fn table_header(ages: usize) -> Table {
    let mut t = table();
    let mut header = vec!["cohort".to_string(), "size".to_string()];
    header.extend((0..ages).map(|k| k.to_string()));
    t.set_header(header);
    t
}

fn right_align(t: &mut Table, from: usize) {
    let columns = t.column_count();
    for i in from..columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// `⧗ Lead to deal: judged on the cohort of 2025-09; 2025-10, 2025-11, 2025-12 are still maturing`.
fn maturing(n: &Numbers, kpi: &KpiOutcome, title: &str) -> Option<String> {
    if kpi.maturing.is_empty() {
        return None;
    }
    let mut line = format!(
        "⧗ {title}: judged on the cohort of {}; {} still maturing, not judged",
        kpi.period,
        kpi.maturing.join(", ")
    );
    // A funnel's younger cohorts have values so far; a cohort's have none at the age read yet.
    let funnel = kpi.drawing.as_ref().is_some_and(|d| d.kind == "funnel");
    if let ([row], true) = (&kpi.rows[..], funnel) {
        let values: Vec<String> = row
            .maturing
            .iter()
            .map(|v| {
                n.value(
                    *v,
                    kpi.meta.format,
                    kpi.meta.decimals,
                    kpi.meta.unit.as_deref(),
                )
            })
            .collect();
        line.push_str(&format!(" (so far: {})", values.join(", ")));
    }
    line.push('\n');
    Some(line)
}
