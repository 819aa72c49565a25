//! CSV in long form: one line per KPI, dimension values and period.

use super::Report;

pub fn render(report: &Report<'_>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "kpi",
        "dimensions",
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
    ]);
    for kpi in report.outcomes {
        for row in &kpi.rows {
            let dims = row
                .dimensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";");
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
                let _ = writer.write_record([
                    kpi.meta.name.as_str(),
                    &dims,
                    period,
                    &number(*value),
                    if evaluated { "true" } else { "false" },
                    &target,
                    &low,
                    &high,
                    &status,
                    reason,
                    deadline,
                    &paced(row.elapsed),
                    &paced(row.projection),
                    &paced(row.needed),
                ]);
            }
            // Younger cohorts of a funnel or a cohort: their values so far, never judged.
            for (period, value) in kpi.maturing.iter().zip(&row.maturing) {
                let value = value.map(|x| x.to_string()).unwrap_or_default();
                let _ = writer.write_record([
                    kpi.meta.name.as_str(),
                    &dims,
                    period,
                    &value,
                    "false",
                    "",
                    "",
                    "",
                    "",
                    "maturing",
                    "",
                    "",
                    "",
                    "",
                ]);
            }
        }
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}
