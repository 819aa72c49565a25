//! `kpi lint`: every SMART letter on small projects over the `sales` rows, with the hit rates
//! worked out by hand, and the command's exit codes and JSON shape.
//!
//! The sales rows (tests/suite/mod.rs), as of 2025-03-31 with `history = 2`, so the judged
//! periods are 2025-01, 2025-02 and 2025-03:
//! - January: EU 100, NA 50: sum 150, 2 sales.
//! - February: EU 30 + 70 (refunded): sum 100 (EU 100, NA 0), 2 sales.
//! - March: NA 40, EU 60, EU with no amount: sum 100 (EU 60, NA 40), 3 sales.
//!
//! December 2024 has no rows: its sum and count are 0, so a growth target's bound in January
//! (`previous * 1.2`) is 0, which January meets.

use assert_cmd::Command;

use kpi::lint::{lint, KpiLint, Letter};
use kpi::project::{Project, RunOptions};
use kpi::report::lint::{render_json, render_table, LintReport};

use super::{date, sales_project, TempProject};

/// A KPI that passes every letter but A, whose target the tests vary.
fn with_target(name: &str, value: &str, target: &str) -> String {
    format!(
        r#"
kpi {name} {{
    title       "{name}"
    description "A KPI of the tests"
    owner       "sales"
    every       month
    value       {value}
    target      {target}
}}
"#
    )
}

fn reviewed(project: &TempProject, options: &RunOptions) -> Vec<KpiLint> {
    let loaded = Project::load(project.path()).unwrap();
    let (run, resolved) = loaded.run_resolved(options);
    lint(&loaded, options, &run, &resolved)
}

fn as_of_march() -> RunOptions {
    RunOptions {
        as_of: Some(date("2025-03-31")),
        ..RunOptions::default()
    }
}

/// Lints these definitions over the sales rows as of 2025-03-31.
fn lint_defs(defs: &str) -> Vec<KpiLint> {
    reviewed(&sales_project(defs, "", &[]), &as_of_march())
}

fn find<'a>(kpis: &'a [KpiLint], name: &str) -> &'a KpiLint {
    kpis.iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("`{name}` was not reviewed: {kpis:#?}"))
}

#[track_caller]
fn assert_hit_rate(kpi: &KpiLint, expected: f64) {
    let actual = kpi
        .checks
        .achievable
        .hit_rate
        .unwrap_or_else(|| panic!("`{}` has no hit rate: {kpi:#?}", kpi.name));
    assert!(
        (actual - expected).abs() < 1e-12,
        "`{}`: hit rate {actual}, expected {expected}",
        kpi.name
    );
}

#[test]
fn a_target_met_some_of_the_time_is_achievable() {
    let kpis = lint_defs(&with_target("revenue", "sum(sales.amount)", ">= 120"));
    let kpi = find(&kpis, "revenue");
    // 150 >= 120 in January; 100 misses in February and March: 1 of 3.
    assert_hit_rate(kpi, 1.0 / 3.0);
    assert!(kpi.checks.achievable.pass, "{kpi:#?}");
    assert_eq!(
        kpi.checks.achievable.reason,
        "met in 1 of 3 judged periods (hit rate 33.3%)"
    );
    assert!(kpi.failed().is_empty(), "{kpi:#?}");
}

#[test]
fn a_target_never_met_is_likely_out_of_reach() {
    let kpis = lint_defs(&with_target("revenue", "sum(sales.amount)", ">= 1_000"));
    let kpi = find(&kpis, "revenue");
    // 150, 100, 100: never 1,000.
    assert_hit_rate(kpi, 0.0);
    assert!(!kpi.checks.achievable.pass);
    assert_eq!(
        kpi.checks.achievable.reason,
        "likely out of reach: met in none of 3 judged periods"
    );
    assert_eq!(kpi.failed(), vec![Letter::A]);
}

#[test]
fn a_target_always_met_by_a_wide_margin_is_not_a_stretch() {
    // 150, 100 and 100 are each at least 50 * 1.2 = 60.
    let kpis = lint_defs(&with_target("revenue", "sum(sales.amount)", ">= 50"));
    let kpi = find(&kpis, "revenue");
    assert_hit_rate(kpi, 1.0);
    assert!(!kpi.checks.achievable.pass);
    assert!(
        kpi.checks
            .achievable
            .reason
            .starts_with("not a stretch: met in all 3 judged periods"),
        "{kpi:#?}"
    );
    // 100 is not 90 * 1.2 = 108: always met, but not by a wide margin.
    let kpis = lint_defs(&with_target("revenue", "sum(sales.amount)", ">= 90"));
    let kpi = find(&kpis, "revenue");
    assert_hit_rate(kpi, 1.0);
    assert!(kpi.checks.achievable.pass, "{kpi:#?}");
    // For `<=` the margin is below the target: 2, 2 and 3 sales are each at most 10 * 0.8 = 8.
    let kpis = lint_defs(&with_target("few_sales", "count(sales)", "<= 10"));
    let kpi = find(&kpis, "few_sales");
    assert!(
        kpi.checks.achievable.reason.starts_with("not a stretch"),
        "{kpi:#?}"
    );
    // A band has no margin to speak of: always met, never "not a stretch".
    let kpis = lint_defs(&with_target(
        "band",
        "sum(sales.amount)",
        "between 10 and 1_000",
    ));
    let kpi = find(&kpis, "band");
    assert_hit_rate(kpi, 1.0);
    assert!(kpi.checks.achievable.pass, "{kpi:#?}");
}

#[test]
fn the_hit_rate_counts_every_row() {
    let defs = r#"
kpi by_region {
    title       "Revenue by region"
    description "A KPI of the tests"
    owner       "sales"
    every       month
    by          region
    value       sum(sales.amount)
    target      >= 60
}
"#;
    let kpis = lint_defs(defs);
    let kpi = find(&kpis, "by_region");
    // EU 100, 100, 60: met three times; NA 50, 0, 40: never. 3 of 6.
    assert_hit_rate(kpi, 0.5);
    assert_eq!(
        kpi.checks.achievable.reason,
        "met in 3 of 6 judged periods (over 2 rows) (hit rate 50%)"
    );
}

#[test]
fn a_growth_target_is_checked_against_the_growth_seen() {
    let defs = format!(
        "{}{}",
        with_target("sales_count", "count(sales)", ">= previous * 1.2"),
        with_target("revenue", "sum(sales.amount)", ">= previous * 1.2")
    );
    let kpis = lint_defs(&defs);
    // Sales: 2, 2, 3. January has no target (December, before the data starts, has no value,
    // not 0); February misses 2 * 1.2 = 2.4; March meets 2.4. Growth seen: 0% then +50%, so
    // +20% is within reach, but two judged periods are too few to say more.
    let count = find(&kpis, "sales_count");
    assert_hit_rate(count, 1.0 / 2.0);
    assert!(!count.checks.achievable.pass, "{count:#?}");
    assert_eq!(
        count.checks.achievable.reason,
        "too little history to judge: met in 1 of 2 judged periods; 3 are needed"
    );
    // Revenue: 150, 100, 100. February misses 180, March misses 120. It asks for +20% a
    // period and never grew: -33.3%, then 0%.
    let revenue = find(&kpis, "revenue");
    assert_hit_rate(revenue, 0.0);
    assert!(!revenue.checks.achievable.pass);
    assert_eq!(
        revenue.checks.achievable.reason,
        "likely out of reach: the target asks for +20.0% a period; in its history the KPI grew at most +0.0% (median -16.7%)"
    );
    // A fall asked for: halve the sales each month, which never fell (0%, +50%).
    let kpis = lint_defs(&with_target("halving", "count(sales)", "<= previous * 0.5"));
    let halving = find(&kpis, "halving");
    assert!(!halving.checks.achievable.pass);
    assert_eq!(
        halving.checks.achievable.reason,
        "likely out of reach: the target asks for -50.0% a period; in its history its lowest change in a period was +0.0% (median +25.0%)"
    );
}

#[test]
fn a_growth_target_through_a_let_is_still_a_growth_target() {
    let defs = r#"
kpi revenue {
    title       "Revenue"
    description "A KPI of the tests"
    owner       "sales"
    every       month
    let goal    = previous * 1.2
    value       sum(sales.amount)
    target      >= goal
}
"#;
    let kpis = lint_defs(defs);
    let kpi = find(&kpis, "revenue");
    assert!(
        kpi.checks
            .achievable
            .reason
            .contains("the target asks for +20.0% a period"),
        "{kpi:#?}"
    );
}

#[test]
fn too_little_history_is_not_judged() {
    // As of January only January is judged: one period says nothing either way.
    let p = sales_project(
        &with_target("revenue", "sum(sales.amount)", ">= 1_000"),
        "",
        &[],
    );
    let options = RunOptions {
        as_of: Some(date("2025-01-31")),
        ..RunOptions::default()
    };
    let kpis = reviewed(&p, &options);
    let kpi = find(&kpis, "revenue");
    assert_hit_rate(kpi, 0.0);
    assert!(!kpi.checks.achievable.pass);
    assert_eq!(
        kpi.checks.achievable.reason,
        "too little history to judge: met in 0 of 1 judged period; 3 are needed"
    );
}

#[test]
fn specific_names_what_is_missing() {
    let defs = r#"
kpi nothing_said { value count(sales) }
kpi titled {
    title "Titled"
    value count(sales)
}
kpi complete {
    title       "Complete"
    description "Says what it is"
    owner       "sales"
    value       count(sales)
}
"#;
    let kpis = lint_defs(defs);
    let check = |name: &str| find(&kpis, name).checks.specific.clone();
    assert!(!check("nothing_said").pass);
    assert_eq!(
        check("nothing_said").reason,
        "missing a title, a description and an owner"
    );
    assert_eq!(check("titled").reason, "missing a description and an owner");
    assert!(check("complete").pass);
}

#[test]
fn measurable_needs_a_target_and_a_value_that_computes() {
    let defs = r#"
kpi no_target { value count(sales) }
kpi does_not_compute {
    value  sum(sales.amonut)
    target >= 1
}
kpi fine {
    value  count(sales)
    target >= 1
}
"#;
    let kpis = lint_defs(defs);
    let no_target = &find(&kpis, "no_target").checks;
    assert!(!no_target.measurable.pass);
    assert_eq!(no_target.measurable.reason, "no target");
    // Nothing to judge against: A fails too, with no hit rate.
    assert!(!no_target.achievable.pass);
    assert_eq!(no_target.achievable.hit_rate, None);
    let broken = &find(&kpis, "does_not_compute").checks;
    assert!(!broken.measurable.pass);
    assert_eq!(
        broken.measurable.reason,
        "does not compute: [E0331] unknown column `amonut` in `sales`; did you mean `amount`?"
    );
    assert_eq!(broken.achievable.hit_rate, None);
    assert!(find(&kpis, "fine").checks.measurable.pass);
}

#[test]
fn a_kpi_whose_text_is_broken_is_reviewed_as_far_as_it_can_be() {
    let kpis = lint_defs("kpi fine { value count(sales) }\nkpi typo {\n value count(sales\n}\n");
    assert_eq!(
        kpis.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["fine", "typo"]
    );
    let typo = find(&kpis, "typo");
    assert_eq!(typo.failed(), Letter::ALL.to_vec());
    assert!(
        typo.checks
            .measurable
            .reason
            .starts_with("does not compute: [E0001] expected"),
        "{typo:#?}"
    );
    assert_eq!(typo.location.line, 2);
}

#[test]
fn relevant_needs_an_owner_tags_or_a_user() {
    let defs = r#"
kpi owned { owner "sales"
    value count(sales) }
kpi tagged { tags [finance]
    value count(sales) }
kpi paid { value sum(sales.amount where status == "paid") }
kpi paid_share { tags [finance]
    value paid / sum(sales.amount) }
kpi orphan { value count(sales) }
"#;
    let kpis = lint_defs(defs);
    let check = |name: &str| find(&kpis, name).checks.relevant.clone();
    assert_eq!(check("owned").reason, "owned by sales");
    assert_eq!(check("tagged").reason, "tagged finance");
    assert!(check("paid").pass);
    assert_eq!(
        check("paid").reason,
        "no owner or tags, but used by `paid_share`"
    );
    assert!(!check("orphan").pass);
    assert_eq!(
        check("orphan").reason,
        "no owner or tags tie it to a team, and no other KPI uses it"
    );
}

#[test]
fn time_bound_needs_every_or_a_deadline() {
    let defs = r#"
kpi recurring { every month
    value count(sales) }
kpi dated {
    value count(sales)
    target >= 10 by 2025-12-31
}
kpi whenever { value count(sales) }
"#;
    let kpis = lint_defs(defs);
    let check = |name: &str| find(&kpis, name).checks.time_bound.clone();
    assert_eq!(check("recurring").reason, "recurring: every month");
    assert!(check("dated").pass);
    assert_eq!(check("dated").reason, "deadline: by 2025-12-31");
    assert!(!check("whenever").pass);
    assert_eq!(
        check("whenever").reason,
        "no `every` and no deadline (`target … by DATE`)"
    );
}

#[test]
fn names_and_tags_choose_the_kpis_reviewed() {
    let defs = "kpi a { tags [x]\n value count(sales) }\nkpi b { tags [y]\n value count(sales) }\nkpi c { value count(sales) }";
    let p = sales_project(defs, "", &[]);
    let names = |options: RunOptions| -> Vec<String> {
        reviewed(&p, &options).into_iter().map(|k| k.name).collect()
    };
    assert_eq!(
        names(RunOptions {
            tags: vec!["y".into()],
            ..as_of_march()
        }),
        ["b"]
    );
    assert_eq!(
        names(RunOptions {
            names: vec!["c".into(), "a".into()],
            ..as_of_march()
        }),
        ["a", "c"]
    );
}

#[test]
fn deny_letters_are_parsed_strictly() {
    assert_eq!(
        Letter::parse_list(&["A,t".into(), "s".into()]),
        Ok(vec![Letter::S, Letter::A, Letter::T])
    );
    let error = Letter::parse_list(&["A,X".into()]).unwrap_err();
    assert!(error.contains("`X` is not a SMART letter"), "{error}");
    assert!(Letter::parse_list(&["AT".into()]).is_err());
}

/// One small project for the snapshots: a KPI for each kind of finding.
const SNAPSHOT_DEFS: &str = r#"
kpi revenue {
    title       "Revenue"
    description "Money in, refunds included"
    owner       "sales"
    every       month
    value       sum(sales.amount)
    target      >= 120
}
kpi revenue_growth {
    title       "Revenue growth"
    description "Twenty per cent a month"
    owner       "sales"
    every       month
    value       sum(sales.amount)
    target      >= previous * 1.2
}
kpi easy {
    title       "Easy"
    description "Any month does it"
    owner       "sales"
    tags        [sales]
    every       month
    value       sum(sales.amount)
    target      >= 50
}
kpi bare { value count(sales) }
kpi broken {
    title  "Broken"
    value  sum(sales.nope)
    target >= 1
}
"#;

fn snapshot_report(deny: &[Letter], json: bool) -> String {
    let p = sales_project(SNAPSHOT_DEFS, "", &[]);
    let loaded = Project::load(p.path()).unwrap();
    let options = as_of_march();
    let (run, resolved) = loaded.run_resolved(&options);
    let kpis = lint(&loaded, &options, &run, &resolved);
    let report = LintReport {
        project: &run.project,
        as_of: run.as_of,
        kpis: &kpis,
        deny,
    };
    if json {
        render_json(&report)
    } else {
        render_table(&report, false)
    }
}

#[test]
fn lint_table() {
    let text = snapshot_report(&[Letter::A], false);
    assert!(!text.contains('\u{1b}'), "no colour codes: {text}");
    insta::assert_snapshot!(text);
}

#[test]
fn lint_json() {
    let text = snapshot_report(&[], true);
    insta::assert_snapshot!(text);
}

// The command.

fn project(defs: &str) -> TempProject {
    let manifest =
        super::SALES_MANIFEST.replace("history = 2", "history = 2\nas_of = \"2025-03-31\"");
    TempProject::new(
        &manifest,
        &[
            ("defs.kpi", defs),
            ("sales.csv", super::SALES_CSV),
            ("targets.csv", super::TARGETS_CSV),
        ],
    )
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn kpi_lint(project: &TempProject, args: &[&str]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpi"));
    cmd.arg("-p").arg(project.path()).arg("lint").args(args);
    let output = cmd.output().unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn findings_are_warnings_until_denied() {
    let p = project(SNAPSHOT_DEFS);
    let out = kpi_lint(&p, &[]);
    assert_eq!(
        out.code, 0,
        "findings alone exit 0: {}{}",
        out.stdout, out.stderr
    );
    assert!(out.stdout.contains("likely out of reach"), "{}", out.stdout);
    // `broken`'s own error fails its M, and is shown with its span, but does not exit 2.
    assert!(out.stderr.contains("defs.kpi:30:22"), "{}", out.stderr);
    let out = kpi_lint(&p, &["--deny", "A"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("✗ A likely out of reach"),
        "{}",
        out.stdout
    );
    // Only `revenue` is asked for, and it passes every letter.
    let out = kpi_lint(&p, &["revenue", "--deny", "S,M,A,R,T"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = kpi_lint(&p, &["bare", "--deny", "r", "--deny", "t"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
}

#[test]
fn bad_arguments_exit_2() {
    let p = project(SNAPSHOT_DEFS);
    let out = kpi_lint(&p, &["--deny", "X"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`X` is not a SMART letter"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "nothing is reviewed on bad arguments");
    let out = kpi_lint(&p, &["nope"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no KPI named `nope`"), "{}", out.stderr);
    let out = kpi_lint(&p, &["--period", "2025-13"]);
    assert_eq!(out.code, 2);
}

#[test]
fn an_error_that_belongs_to_no_kpi_exits_2() {
    // A dataset whose file is missing fails the KPIs that read it (their M) and is itself an
    // error of the project: the review is not whole.
    let manifest = format!(
        "{}\n[datasets.gone]\npath = \"gone.csv\"\n",
        super::SALES_MANIFEST.replace("history = 2", "history = 2\nas_of = \"2025-03-31\"")
    );
    let p = TempProject::new(
        &manifest,
        &[
            ("defs.kpi", "kpi a { value count(gone)\n target >= 1 }"),
            ("sales.csv", super::SALES_CSV),
            ("targets.csv", super::TARGETS_CSV),
        ],
    );
    let out = kpi_lint(&p, &["--format", "json"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["kpis"][0]["checks"]["measurable"]["pass"], false);
}

#[test]
fn json_has_the_documented_shape() {
    let p = project(SNAPSHOT_DEFS);
    let out = kpi_lint(&p, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = v
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"))
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&json), ["kpis", "schema_version"]);
    assert_eq!(json["schema_version"], 1);
    let kpis = json["kpis"].as_array().unwrap();
    assert_eq!(kpis.len(), 5);
    for kpi in kpis {
        assert_eq!(keys(kpi), ["checks", "location", "name"]);
        assert_eq!(keys(&kpi["location"]), ["column", "file", "line"]);
        assert_eq!(
            keys(&kpi["checks"]),
            [
                "achievable",
                "measurable",
                "relevant",
                "specific",
                "time_bound"
            ]
        );
        for letter in ["specific", "measurable", "relevant", "time_bound"] {
            assert_eq!(keys(&kpi["checks"][letter]), ["pass", "reason"]);
            assert!(kpi["checks"][letter]["pass"].is_boolean());
            assert!(kpi["checks"][letter]["reason"].is_string());
        }
        assert_eq!(
            keys(&kpi["checks"]["achievable"]),
            ["hit_rate", "pass", "reason"]
        );
    }
    assert_eq!(kpis[0]["name"], "revenue");
    assert_eq!(kpis[0]["location"]["file"], "defs.kpi");
    assert_eq!(kpis[0]["location"]["line"], 2);
    // 1 of 3 periods met (see a_target_met_some_of_the_time_is_achievable).
    let hit_rate = kpis[0]["checks"]["achievable"]["hit_rate"]
        .as_f64()
        .unwrap();
    assert!((hit_rate - 1.0 / 3.0).abs() < 1e-12);
    // `bare` has no target: no hit rate.
    assert_eq!(kpis[3]["name"], "bare");
    assert!(kpis[3]["checks"]["achievable"]["hit_rate"].is_null());
}

#[test]
fn the_example_is_reviewed_whole() {
    let project = Project::load(&super::example()).unwrap();
    let defined = project.kpi_names().count();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpi"));
    cmd.arg("-p")
        .arg(super::example())
        .args(["lint", "--format", "json"]);
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "the example has no errors");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["kpis"].as_array().unwrap().len(), defined);
}
