//! CSV in long form: one line per KPI, dimension values and period, with a column per dimension
//! (the union over the KPIs reported, in order of first appearance; empty where a KPI is not
//! split by it), which is what spreadsheets, pandas and DuckDB read directly.

use super::Report;

/// The columns after `kpi` and the dimensions.
const COLUMNS: [&str; 12] = [
    "period",
    "value",
    "evaluated",
    "target",
    "target_value",
    "target_high",
    "status",
    "reason",
    "deadline",
    "elapsed",
    "projection",
    "needed",
];

pub fn render(report: &Report<'_>) -> String {
    let mut dimensions: Vec<&str> = Vec::new();
    for kpi in report.outcomes {
        for name in &kpi.dimensions {
            if !dimensions.contains(&name.as_str()) {
                dimensions.push(name);
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["kpi".to_string()];
    header.extend(dimension_columns(&dimensions));
    header.extend(COLUMNS.iter().map(|c| c.to_string()));
    let _ = writer.write_record(&header);
    for kpi in report.outcomes {
        for row in &kpi.rows {
            // The KPI's name and a value per dimension column.
            let leading: Vec<String> = std::iter::once(kpi.meta.name.clone())
                .chain(dimensions.iter().map(|name| {
                    row.dimensions
                        .iter()
                        .find(|(k, _)| k == name)
                        .map_or(String::new(), |(_, v)| v.clone())
                }))
                .collect();
            for (period, value) in kpi.history_periods.iter().zip(&row.history) {
                let evaluated = *period == kpi.period;
                let number = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
                let reason = if evaluated {
                    row.reason.as_deref().unwrap_or("")
                } else {
                    ""
                };
                let (target, low, high, status) = match (&row.target, evaluated) {
                    (Some(t), true) => (
                        t.text.clone(),
                        number(t.value),
                        number(t.high),
                        row.status.map(|s| s.key().to_string()).unwrap_or_default(),
                    ),
                    _ => Default::default(),
                };
                let paced = |v: Option<f64>| if evaluated { number(v) } else { String::new() };
                let deadline = match (&row.deadline, evaluated) {
                    (Some(d), true) => d.as_str(),
                    _ => "",
                };
                let record = [
                    period.clone(),
                    number(*value),
                    evaluated.to_string(),
                    target,
                    low,
                    high,
                    status,
                    reason.to_string(),
                    deadline.to_string(),
                    paced(row.elapsed),
                    paced(row.projection),
                    paced(row.needed),
                ];
                let _ = writer.write_record(leading.iter().chain(&record));
            }
            // Younger cohorts of a funnel or a cohort: their values so far, never judged.
            for (period, value) in kpi.maturing.iter().zip(&row.maturing) {
                let mut record = vec![String::new(); COLUMNS.len()];
                record[0] = period.clone();
                record[1] = value.map(|x| x.to_string()).unwrap_or_default();
                record[2] = "false".into();
                record[7] = "maturing".into();
                let _ = writer.write_record(leading.iter().chain(&record));
            }
        }
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A column per dimension, named after it; a dimension named like one of the other columns
/// (`period`, `status`, ...) is `by_period`, `by_status`, so that every column has its own name.
fn dimension_columns(dimensions: &[&str]) -> Vec<String> {
    let mut taken: Vec<String> = std::iter::once("kpi")
        .chain(COLUMNS)
        .chain(dimensions.iter().copied())
        .map(String::from)
        .collect();
    let mut columns = Vec::new();
    for name in dimensions {
        let mut column = name.to_string();
        if std::iter::once("kpi").chain(COLUMNS).any(|c| c == column) {
            column = format!("by_{column}");
            while taken.contains(&column) {
                column = format!("by_{column}");
            }
            taken.push(column.clone());
        }
        columns.push(column);
    }
    columns
}
