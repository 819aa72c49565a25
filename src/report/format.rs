//! Text for people shared by the reports: targets, statuses, row names, sparklines. Numbers
//! are written by [`Numbers`], in the report's locale.

use crate::locale::Numbers;

/// A sparkline of a series; gaps for missing values.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let (Some(min), Some(max)) = (
        present.iter().copied().reduce(f64::min),
        present.iter().copied().reduce(f64::max),
    ) else {
        return String::new();
    };
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(x) if max > min => BARS[(((x - min) / (max - min)) * 7.0).round() as usize],
            Some(_) => BARS[3],
        })
        .collect()
}

/// `>= 15.0%`: the operator with the bound formatted like the value.
pub fn target_text(
    numbers: &Numbers,
    target: &crate::eval::TargetOutcome,
    kpi: &crate::eval::KpiOutcome,
) -> String {
    let f = |v| {
        numbers.value(
            v,
            kpi.meta.format,
            kpi.meta.decimals,
            kpi.meta.unit.as_deref(),
        )
    };
    if target.op == "between" {
        format!("{} – {}", f(target.value), f(target.high))
    } else {
        format!("{} {}", target.op, f(target.value))
    }
}

/// A row's value against its target in the judged period: `1,200 against >= 1,000 in 2025-03`.
pub fn judged_text(
    numbers: &Numbers,
    kpi: &crate::eval::KpiOutcome,
    row: &crate::eval::RowOutcome,
) -> String {
    let value = numbers.value(
        row.value,
        kpi.meta.format,
        kpi.meta.decimals,
        kpi.meta.unit.as_deref(),
    );
    match &row.target {
        Some(target) => format!(
            "{value} against {} in {}",
            target_text(numbers, target, kpi),
            kpi.period
        ),
        None => format!("{value} in {}", kpi.period),
    }
}

/// A status as a mark and words, so that it reads without colour: `✗ missed`.
pub fn status_mark(status: crate::eval::Status) -> &'static str {
    use crate::eval::Status;
    match status {
        Status::Met => "✓ met",
        Status::Warn => "! warn",
        Status::Missed => "✗ missed",
        Status::NoData => "? no data",
        Status::OnTrack => "→ on track",
        Status::AtRisk => "⚠ at risk",
    }
}

/// A row's name: the KPI's title (or name), then its dimension values: `Revenue · EU`.
pub fn row_name(kpi: &crate::eval::KpiOutcome, row: &crate::eval::RowOutcome) -> String {
    with_dimensions(kpi.meta.title.as_deref().unwrap_or(&kpi.meta.name), row)
}

/// A name followed by the row's dimension values: `cac · EU`.
pub fn with_dimensions(name: &str, row: &crate::eval::RowOutcome) -> String {
    let mut name = name.to_string();
    for (_, value) in &row.dimensions {
        name = format!("{name} · {value}");
    }
    name
}

/// The history a trend is drawn from: without a period in progress, whose part of a period
/// drawn next to whole ones would look like a drop.
pub fn trend_history<'a>(
    kpi: &crate::eval::KpiOutcome,
    row: &'a crate::eval::RowOutcome,
) -> &'a [Option<f64>] {
    match (kpi.in_progress, row.history.split_last()) {
        (true, Some((_, done))) => done,
        _ => &row.history[..],
    }
}

/// The rows without a value, by the reason why, reasons in order of first appearance: each
/// reason with the names of its rows ([`row_name`]).
pub fn rows_without_value<'a>(report: &'a super::Report<'_>) -> Vec<(&'a str, Vec<String>)> {
    let mut grouped: Vec<(&str, Vec<String>)> = Vec::new();
    for kpi in report.outcomes {
        for row in &kpi.rows {
            let Some(reason) = row.reason.as_deref() else {
                continue;
            };
            let name = row_name(kpi, row);
            match grouped.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, names)) => names.push(name),
                None => grouped.push((reason, vec![name])),
            }
        }
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_leave_gaps() {
        assert_eq!(sparkline(&[Some(1.0), None, Some(8.0)]), "▁ █");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
    }
}
