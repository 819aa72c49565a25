//! outcomes -> bytes: the same outcomes rendered in every format, one snapshot each.

use kpi::project::Project;
use kpi::report::{render, OutputFormat, Report, TableOptions};

use super::{TempProject, SALES_CSV, SALES_MANIFEST, TARGETS_CSV};

const DEFS: &str = r#"
kpi revenue {
    title  "Выручка"
    format currency
    value  sum(sales.amount)
    target >= 90
}
kpi by_region {
    title  "Revenue by region"
    by     region
    value  sum(sales.amount)
    target >= sum(targets.goal)
    warn   >= 0.8 * sum(targets.goal)
}
kpi paid_share {
    format percent
    value  sum(sales.amount where status == "paid") / sum(sales.amount)
    target between 50% and 90%
}
kpi nothing {
    value  mean(sales.amount where region == "XX")
    target >= 1
}
kpi count_only {
    value count(sales)
}
kpi broken {
    value sum(sales.nope)
}
"#;

fn rendered(format: OutputFormat) -> String {
    let project = TempProject::new(
        SALES_MANIFEST,
        &[
            ("defs.kpi", DEFS),
            ("sales.csv", SALES_CSV),
            ("targets.csv", TARGETS_CSV),
        ],
    );
    let run = project.run("2025-03-31");
    let loaded = Project::load(project.path()).unwrap();
    let report = Report {
        project: &run.project,
        as_of: run.as_of,
        outcomes: &run.outcomes,
        diagnostics: &run.diagnostics,
        sources: &loaded.sources,
    };
    render(
        &report,
        format,
        TableOptions {
            color: false,
            judged: true,
        },
    )
}

#[test]
fn table() {
    let text = rendered(OutputFormat::Table);
    // March: 100 against >= 90 is met; NA 40 against 45 is above 0.8 * 45 = 36: warn.
    assert!(text.contains("✓ met"), "{text}");
    assert!(text.contains("! warn"), "{text}");
    assert!(text.contains("? no data"), "{text}");
    // The KPI that could not be computed still has its line.
    assert!(
        text.contains("broken") && text.contains("‼ error"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes without a terminal"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn json() {
    let text = rendered(OutputFormat::Json);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["status"], "missed");
    assert_eq!(
        value["summary"],
        serde_json::json!({"met": 1, "warn": 1, "missed": 1, "no_data": 1, "without_target": 1, "errors": 1, "failed": ["broken"]})
    );
    let revenue = &value["kpis"][0];
    assert_eq!(revenue["name"], "revenue");
    assert_eq!(revenue["location"]["line"], 2);
    assert_eq!(
        revenue["rows"][0]["history"],
        serde_json::json!([150.0, 100.0, 100.0])
    );
    assert_eq!(value["diagnostics"][0]["location"]["line"], 28);
    insta::assert_snapshot!(text);
}

#[test]
fn csv() {
    let text = rendered(OutputFormat::Csv);
    assert!(text.starts_with(
        "kpi,dimensions,period,value,evaluated,target,target_value,target_high,status,reason\n"
    ));
    assert!(
        text.contains("by_region,region=NA,2025-03,40,true,>= sum(targets.goal),45,,warn,\n"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}
