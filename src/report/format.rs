//! Numbers as people read them: by the KPI's `format` and `decimals`.

use crate::compile::ir::Format;

/// `12.3%`, `1,234.50`, `4.2 d`, `1,200,000`.
pub fn format_value(
    value: Option<f64>,
    format: Format,
    decimals: Option<u32>,
    unit: Option<&str>,
) -> String {
    let Some(v) = value else {
        return "—".to_string();
    };
    let text = match format {
        Format::Percent => format!("{}%", group(v * 100.0, decimals.unwrap_or(1))),
        Format::Currency => group(v, decimals.unwrap_or(2)),
        Format::Days => format!("{} d", group(v, decimals.unwrap_or(1))),
        Format::Number => {
            let default = if v.fract() == 0.0 { 0 } else { 2 };
            group(v, decimals.unwrap_or(default))
        }
    };
    match unit {
        Some(u) if !u.is_empty() => format!("{text} {u}"),
        _ => text,
    }
}

/// A change against the previous period: percentage points for percentages, else relative.
pub fn format_change(value: Option<f64>, previous: Option<f64>, format: Format) -> String {
    let (Some(v), Some(p)) = (value, previous) else {
        return String::new();
    };
    if format == Format::Percent {
        let pp = (v - p) * 100.0;
        return format!("{}{} pp", if pp >= 0.0 { "+" } else { "" }, group(pp, 1));
    }
    if p == 0.0 {
        return String::new();
    }
    let rel = (v - p) / p.abs() * 100.0;
    format!("{}{}%", if rel >= 0.0 { "+" } else { "" }, group(rel, 1))
}

/// Fixed decimals with thousands separated by commas.
fn group(v: f64, decimals: u32) -> String {
    let text = format!("{:.*}", decimals as usize, v);
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text.as_str()),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    // `-0.0` prints as `0.0`.
    let sign = if grouped.chars().all(|c| c == '0' || c == ',')
        && frac.is_none_or(|f| f.chars().all(|c| c == '0'))
    {
        ""
    } else {
        sign
    };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

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
pub fn target_text(target: &crate::eval::TargetOutcome, kpi: &crate::eval::KpiOutcome) -> String {
    let f = |v| {
        format_value(
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
pub fn judged_text(kpi: &crate::eval::KpiOutcome, row: &crate::eval::RowOutcome) -> String {
    let value = format_value(
        row.value,
        kpi.meta.format,
        kpi.meta.decimals,
        kpi.meta.unit.as_deref(),
    );
    match &row.target {
        Some(target) => format!(
            "{value} against {} in {}",
            target_text(target, kpi),
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
    fn values_are_formatted_by_format() {
        assert_eq!(
            format_value(Some(0.1534), Format::Percent, None, None),
            "15.3%"
        );
        assert_eq!(
            format_value(Some(1234567.0), Format::Number, None, None),
            "1,234,567"
        );
        assert_eq!(
            format_value(Some(-1234.5), Format::Currency, None, Some("EUR")),
            "-1,234.50 EUR"
        );
        assert_eq!(format_value(Some(4.25), Format::Days, Some(0), None), "4 d");
        assert_eq!(format_value(None, Format::Number, None, None), "—");
        assert_eq!(
            format_change(Some(0.16), Some(0.15), Format::Percent),
            "+1.0 pp"
        );
        assert_eq!(
            format_change(Some(90.0), Some(100.0), Format::Number),
            "-10.0%"
        );
        assert_eq!(sparkline(&[Some(1.0), None, Some(8.0)]), "▁ █");
    }
}
