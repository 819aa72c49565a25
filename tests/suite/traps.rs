//! Traps that once gave a wrong number that looked right, each pinned by a test whose expected
//! number is worked out by hand, plus the bounds that keep any input from crashing the program.
//!
//! `sales` (see SALES_CSV in mod.rs), as of 2025-03-31 with history 2 (January to March):
//!   Jan: EU anna 100 paid, NA boris 50 paid
//!   Feb: EU anna 30 paid, EU chen 70 refunded
//!   Mar: NA boris 40 paid, EU anna 60 paid, EU chen (no amount) paid

use std::collections::BTreeSet;

use kpi::diagnostic::render_human;
use kpi::eval::Status;
use kpi::project::{Project, RunOptions};

use super::{
    assert_status, assert_value, date, outcome, row, sales_project, TempProject, SALES_CSV,
    TARGETS_CSV,
};

fn sales(kpis: &str) -> TempProject {
    sales_project(kpis, "", &[])
}

fn errors(run: &kpi::project::Run) -> Vec<String> {
    run.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

#[test]
fn a_where_on_the_line_after_a_target_filters_the_kpi() {
    // March without NA: EU anna 60 (chen has no amount) = 60, not 100 with NA's 40.
    let run = sales(
        "kpi eu {
            value sum(sales.amount)
            target >= 100
            where region != \"NA\"
        }",
    )
    .run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    assert_value(&run, "eu", &[], Some(60.0));
    assert_status(&run, "eu", &[], Some(Status::Missed));
}

#[test]
fn a_where_on_the_target_line_is_an_error_that_shows_when() {
    let project = sales(
        "kpi eu {\n    value sum(sales.amount)\n    target >= 100 where region != \"NA\"\n}\nkpi ok { value count(sales) }\n",
    );
    let loaded = Project::load(project.path()).unwrap();
    let rendered = render_human(&loaded.diagnostics, &loaded.sources, false);
    assert!(rendered.contains("[E0103]"), "{rendered}");
    assert!(rendered.contains("defs.kpi:3:19"), "{rendered}");
    assert!(
        rendered.contains("target >= 60_000 when region == \"EU\""),
        "{rendered}"
    );
    insta::assert_snapshot!(rendered);
    // The KPI is not evaluated on a guess; the other one is.
    let run = project.run("2025-03-31");
    assert!(run.outcomes.iter().all(|k| k.meta.name != "eu"));
    assert_value(&run, "ok", &[], Some(3.0));
    assert!(run
        .diagnostics
        .iter()
        .any(|d| d.code == "E0103" && d.kpi.as_deref() == Some("eu")));
}

#[test]
fn the_default_target_applies_only_where_no_when_line_holds() {
    // March: EU 60, NA 40. The default (>= 45) is written first; EU has its own line (>= 70).
    let run = sales(
        "kpi s {
            by region
            value sum(sales.amount)
            target >= 45
            target >= 70 when region == \"EU\"
            warn >= 35
            warn >= 55 when region == \"EU\"
        }",
    )
    .run("2025-03-31");
    assert_eq!(
        row(&run, "s", &["EU"]).target.as_ref().unwrap().value,
        Some(70.0)
    );
    // EU: 60 < 70, and its own amber line 55 holds.
    assert_status(&run, "s", &["EU"], Some(Status::Warn));
    assert_eq!(
        row(&run, "s", &["NA"]).target.as_ref().unwrap().value,
        Some(45.0)
    );
    // NA: 40 < 45, the default amber 35 holds.
    assert_status(&run, "s", &["NA"], Some(Status::Warn));
}

#[test]
fn two_default_targets_are_an_error() {
    let run = sales("kpi s { value count(sales)\n target >= 1\n target >= 2 }").run("2025-03-31");
    assert_eq!(
        errors(&run),
        vec!["E0307 KPI `s` has two `target` lines without `when`"]
    );
    assert!(run.outcomes.is_empty());
}

#[test]
fn a_shared_let_sees_shared_names_only() {
    // March paid: anna 60 + boris 40 + chen (no amount) = 100 over 3 orders.
    let run = sales(
        "let paid_total = sum(sales.amount where status == \"paid\")
         let aov = paid_total / count(sales where status == \"paid\")
         kpi k {
             let paid_total = 0
             value aov
         }",
    )
    .run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    assert_value(&run, "k", &[], Some(100.0 / 3.0));
}

#[test]
fn a_lookup_does_not_override_the_left_sides_dimension() {
    // Orders carry their own channel; customers map `channel` to the channel they came from.
    // March orders: web 40 (customer 1, acquired by ads), shop 60 (customer 2, acquired by web).
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n\
        [datasets.orders]\npath = \"orders.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n\
        [datasets.customers]\npath = \"customers.csv\"\ndimensions = { channel = \"acquisition_channel\" }\n";
    let project = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "view orders_x = orders join customers on customer_id
                 kpi by_channel { by channel\n value sum(orders_x.amount) }
                 kpi by_segment { by segment\n value sum(orders_x.amount) }",
            ),
            (
                "orders.csv",
                "day,customer_id,channel,amount\n2025-03-02,1,web,40\n2025-03-03,2,shop,60\n",
            ),
            (
                "customers.csv",
                "customer_id,acquisition_channel,segment\n1,ads,smb\n2,web,enterprise\n",
            ),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    assert_value(&run, "by_channel", &["web"], Some(40.0));
    assert_value(&run, "by_channel", &["shop"], Some(60.0));
    assert_eq!(outcome(&run, "by_channel").rows.len(), 2);
    // Columns only the lookup has still come from it.
    assert_value(&run, "by_segment", &["smb"], Some(40.0));
}

#[test]
fn a_kpi_with_an_error_in_its_text_is_never_evaluated() {
    // An impossible date, an unknown escape and a missing value: each KPI fails whole.
    let run = sales(
        "kpi bad_date { value count(sales where day >= 2025-02-30) }
         kpi bad_escape { value count(sales where status == \"pa\\id\") }
         kpi no_value { title \"nothing\" }
         kpi ok { value count(sales) }",
    )
    .run("2025-03-31");
    let names: Vec<&str> = run.outcomes.iter().map(|k| k.meta.name.as_str()).collect();
    assert_eq!(names, ["ok"]);
    let failed: Vec<(&str, Option<&str>)> = run
        .diagnostics
        .iter()
        .map(|d| (d.code, d.kpi.as_deref()))
        .collect();
    assert_eq!(
        failed,
        [
            ("E0004", Some("bad_date")),
            ("E0002", Some("bad_escape")),
            ("E0102", Some("no_value"))
        ]
    );
}

#[test]
fn a_kpi_using_a_broken_one_says_so() {
    let run = sales(
        "kpi broken { value count(sales where day >= 2025-13-01) }
         kpi user { value broken * 2 }",
    )
    .run("2025-03-31");
    assert!(run.outcomes.is_empty());
    let messages = errors(&run);
    assert!(
        messages.contains(&"E0346 `user` uses KPI `broken`, which has errors".to_string()),
        "{messages:?}"
    );
}

#[test]
fn a_syntax_error_loses_only_its_own_item() {
    let project = sales(
        "kpi first { value count(sales) }

kpi typo {
    value count(sales
    target >= 1
}

let twice = 2

kpi missing_brace {
    value count(sales) * twice

kpi last {
    value sum(sales.amount) * twice
}
",
    );
    let loaded = Project::load(project.path()).unwrap();
    let rendered = render_human(&loaded.diagnostics, &loaded.sources, false);
    insta::assert_snapshot!(rendered);
    let run = project.run("2025-03-31");
    let names: Vec<&str> = run.outcomes.iter().map(|k| k.meta.name.as_str()).collect();
    assert_eq!(names, ["first", "last"]);
    // March: 3 rows; 60 + 40 = 100, times 2.
    assert_value(&run, "first", &[], Some(3.0));
    assert_value(&run, "last", &[], Some(200.0));
    let failed: Vec<Option<&str>> = run.diagnostics.iter().map(|d| d.kpi.as_deref()).collect();
    assert_eq!(failed, [Some("typo"), Some("missing_brace")]);
}

#[test]
fn min_and_max_of_null_are_null_on_either_side() {
    let run = sales(
        "kpi a { value min(mean(sales.amount where region == \"XX\"), 5) }
         kpi b { value min(5, mean(sales.amount where region == \"XX\")) }
         kpi c { value max(mean(sales.amount where region == \"XX\"), 5) }
         kpi d { value max(5, mean(sales.amount where region == \"XX\")) }
         kpi e { value min(3, 5) + max(3, 5) }",
    )
    .run("2025-03-31");
    for name in ["a", "b", "c", "d"] {
        assert_value(&run, name, &[], None);
    }
    assert_value(&run, "e", &[], Some(8.0));
}

#[test]
fn rows_are_judged_by_their_own_dimension_values() {
    // Values that sort differently as bytes, as text and as numbers, and an empty one
    // (read as null, shown as "(none)"). Each row's value is its own amount.
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n\
        [datasets.s]\npath = \"s.csv\"\ntime = \"day\"\nfresh = \"1 month\"\ntypes = { k = \"text\" }\n";
    let data = "day,k,amount\n2025-03-01,b,1\n2025-03-01,B,2\n2025-03-01,10,3\n2025-03-01,9,4\n\
        2025-03-01,Я,5\n2025-03-01,é,6\n2025-03-01,,7\n2025-03-01,a b,8\n";
    let project = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi v { by k\n value sum(s.amount)\n target >= 5 }",
            ),
            ("s.csv", data),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    for (key, amount) in [
        ("b", 1.0),
        ("B", 2.0),
        ("10", 3.0),
        ("9", 4.0),
        ("Я", 5.0),
        ("é", 6.0),
        ("(none)", 7.0),
        ("a b", 8.0),
    ] {
        assert_value(&run, "v", &[key], Some(amount));
        let expected = if amount >= 5.0 {
            Status::Met
        } else {
            Status::Missed
        };
        assert_status(&run, "v", &[key], Some(expected));
    }
}

#[test]
fn dimension_values_meet_across_datasets_whatever_their_number_type() {
    // `store` is an integer in `sales` and a float in `goals` (2.0, 1.5 forces floats).
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n\
        [datasets.sales]\npath = \"sales.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n\
        [datasets.goals]\npath = \"goals.csv\"\n";
    let project = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi s { by store\n value sum(sales.amount)\n target >= sum(goals.goal) }",
            ),
            (
                "sales.csv",
                "day,store,amount\n2025-03-01,1,10\n2025-03-02,2,30\n",
            ),
            ("goals.csv", "store,goal\n1.0,5\n2.0,50\n1.5,1\n"),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    assert_eq!(
        row(&run, "s", &["1"]).target.as_ref().unwrap().value,
        Some(5.0)
    );
    assert_status(&run, "s", &["1"], Some(Status::Met));
    assert_status(&run, "s", &["2"], Some(Status::Missed));
}

#[test]
fn a_dimension_of_two_kinds_is_an_error_before_any_row_is_read() {
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\n\
        [datasets.sales]\npath = \"sales.csv\"\ntime = \"day\"\n\
        [datasets.goals]\npath = \"goals.csv\"\n";
    let project = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi s {\n    by store\n    value sum(sales.amount)\n    target >= sum(goals.goal)\n}\n",
            ),
            ("sales.csv", "day,store,amount\n2025-03-01,1,10\n"),
            ("goals.csv", "store,goal\nnorth,5\n"),
        ],
    );
    let loaded = Project::load(project.path()).unwrap();
    let (program, diagnostics) = loaded.validate();
    assert!(program.kpis.is_empty());
    let rendered = render_human(&diagnostics, &loaded.sources, false);
    assert!(
        rendered.contains("dimension `store` holds numbers in `sales` but text in `goals`"),
        "{rendered}"
    );
    assert!(rendered.contains("defs.kpi:2:8"), "{rendered}");
}

#[test]
fn eval_from_a_period_reports_every_period_even_without_rows() {
    let project = sales("kpi n { value count(sales) }");
    let loaded = Project::load(project.path()).unwrap();
    let kpi = loaded.kpis().next().unwrap().clone();
    let run = loaded.run_adhoc(
        &kpi,
        &RunOptions {
            as_of: Some(date("2025-03-31")),
            range: Some((date("2024-11-01"), Some(date("2025-03-31")))),
            ..RunOptions::default()
        },
    );
    let n = outcome(&run, "n");
    assert_eq!(
        n.history_periods,
        ["2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    );
    assert_eq!(
        n.rows[0].history,
        [Some(0.0), Some(0.0), Some(2.0), Some(2.0), Some(3.0)]
    );
}

/// The sales project with `fresh` on `sales` replaced: its data stop on 2025-03-20.
fn strict_sales(kpis: &str, fresh: Option<&str>) -> TempProject {
    let line = fresh
        .map(|f| format!("fresh = \"{f}\"\n"))
        .unwrap_or_default();
    let manifest = super::SALES_MANIFEST.replacen("fresh = \"1 month\"\n", &line, 1);
    TempProject::new(
        &manifest,
        &[
            ("defs.kpi", kpis),
            ("sales.csv", SALES_CSV),
            ("targets.csv", TARGETS_CSV),
        ],
    )
}

#[test]
fn a_period_the_data_does_not_cover_is_no_data_with_a_reason() {
    let defs = "kpi n { value count(sales)\n target >= 10 }
                kpi by_region { by region\n value sum(sales.amount) }
                kpi plain { value 1 }";
    // Sales stop on 2025-03-20: March is not covered, so not judged (3 rows would miss >= 10).
    let run = strict_sales(defs, None).run("2025-03-31");
    let n = row(&run, "n", &[]);
    assert_eq!(n.value, None);
    assert_eq!(n.status, Some(Status::NoData));
    assert_eq!(
        n.reason.as_deref(),
        Some("`sales` has data only through 2025-03-20")
    );
    // Earlier periods are covered and keep their values.
    assert_eq!(n.history, [Some(2.0), Some(2.0), None]);
    assert_eq!(row(&run, "by_region", &["EU"]).value, None);
    assert!(row(&run, "by_region", &["EU"]).reason.is_some());
    // A KPI that reads no data is always covered.
    assert_eq!(row(&run, "plain", &[]).reason, None);
    // As of the 20th, the data reach the end of the judged period (February).
    let run = strict_sales(defs, None).run("2025-03-20");
    assert_eq!(row(&run, "n", &[]).reason, None);
    assert_eq!(row(&run, "n", &[]).value, Some(2.0));
    // `fresh` says how late the data may be: 11 days cover March 31.
    let run = strict_sales(defs, Some("11 days")).run("2025-03-31");
    assert_eq!(row(&run, "n", &[]).value, Some(3.0));
    assert_eq!(row(&run, "n", &[]).status, Some(Status::Missed));
    let run = strict_sales(defs, Some("10 days")).run("2025-03-31");
    assert_eq!(row(&run, "n", &[]).value, None);
}

#[test]
fn reasons_are_in_every_report_format() {
    let project = strict_sales("kpi n { value count(sales)\n target >= 10 }", None);
    let loaded = Project::load(project.path()).unwrap();
    let run = loaded.run(&RunOptions {
        as_of: Some(date("2025-03-31")),
        ..RunOptions::default()
    });
    let numbers = kpi::locale::Numbers::default();
    let report = super::report_of(&run, &loaded.sources, &numbers);
    let options = kpi::report::TableOptions {
        color: false,
        judged: true,
        ..Default::default()
    };
    for format in [
        kpi::report::OutputFormat::Table,
        kpi::report::OutputFormat::Json,
        kpi::report::OutputFormat::Csv,
    ] {
        let text = kpi::report::render(&report, format, options);
        assert!(
            text.contains("`sales` has data only through 2025-03-20"),
            "{format:?}:\n{text}"
        );
    }
}

#[test]
fn deep_nesting_is_a_located_error_not_a_crash() {
    let deep_parens = format!(
        "kpi deep {{ value {}1{} }}\nkpi ok {{ value count(sales) }}\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let deep_nots = format!(
        "kpi nots {{ value count(sales where {}true) }}\nkpi ok {{ value count(sales) }}\n",
        "not ".repeat(5000)
    );
    for defs in [deep_parens, deep_nots] {
        let run = sales(&defs).run("2025-03-31");
        assert_value(&run, "ok", &[], Some(3.0));
        let error = run.diagnostics.iter().find(|d| d.code == "E0005").unwrap();
        assert!(error.span.is_some());
        assert!(error.message.contains("more than 256 levels"));
    }
}

#[test]
fn nesting_just_under_the_limit_computes() {
    // 250 parentheses around `count(sales)`, a chain of 250 additions and 250 `not`s: still
    // values, through parse, resolve, lowering and polars.
    let parens = format!(
        "kpi p {{ value {}count(sales){} }}\n",
        "(".repeat(250),
        ")".repeat(250)
    );
    let chain = format!("kpi c {{ value 0{} }}\n", " + 1".repeat(250));
    let nots = format!(
        "kpi n {{ value count(sales where {}true) }}\n",
        "not ".repeat(250)
    );
    let run = sales(&(parens + &chain + &nots)).run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    assert_value(&run, "p", &[], Some(3.0));
    assert_value(&run, "c", &[], Some(250.0));
    // 250 `not`s cancel out.
    assert_value(&run, "n", &[], Some(3.0));
}

#[test]
fn long_chains_of_lets_kpis_and_views_are_errors_not_crashes() {
    let mut lets = String::from("let l0 = count(sales)\n");
    let mut kpis = String::from("kpi k0 { value count(sales) }\n");
    let mut views = String::from("view v0 = sales where amount > 0\n");
    for i in 1..5000 {
        lets.push_str(&format!("let l{i} = l{} + 1\n", i - 1));
        kpis.push_str(&format!("kpi k{i} {{ value k{} + 1 }}\n", i - 1));
        views.push_str(&format!("view v{i} = v{} where amount > 0\n", i - 1));
    }
    let defs = format!(
        "{lets}{kpis}{views}
        kpi via_let {{ value l4999 }}
        kpi via_view {{ value count(v4999) }}
        kpi short {{ value l100 + count(v50) }}"
    );
    let run = sales(&defs).run("2025-03-31");
    let codes: BTreeSet<&str> = run.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains("E0348"), "{codes:?}");
    assert!(codes.contains("E0349"), "{codes:?}");
    assert!(run.outcomes.iter().all(|k| k.meta.name != "via_let"));
    assert!(run.outcomes.iter().all(|k| k.meta.name != "via_view"));
    // Short chains compute: 3 rows in March plus 100, and 2 of March's 3 rows have an amount.
    assert_value(&run, "short", &[], Some(103.0 + 2.0));
    assert_value(&run, "k100", &[], Some(103.0));
}

#[test]
fn a_view_or_let_with_a_tail_it_cannot_read_is_broken_not_cut_short() {
    // `& amount > 50` is not an operator: once the view was read as `region == "EU"` alone
    // (2 rows in March instead of 1) and the `let` as 3 instead of an error.
    let run = sales(
        "view eu = sales where region == \"EU\" & amount > 50
         kpi n { value count(eu) }
         let paid = count(sales where status == \"paid\") x 2
         kpi p { value paid }
         kpi ok { value count(sales) }",
    )
    .run("2025-03-31");
    let names: Vec<&str> = run.outcomes.iter().map(|k| k.meta.name.as_str()).collect();
    assert_eq!(names, ["ok"]);
    let messages = errors(&run);
    assert!(
        messages.contains(&"E0346 `n` uses view `eu`, which has errors".to_string()),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"E0346 `p` uses let `paid`, which has errors".to_string()),
        "{messages:?}"
    );
}

#[test]
fn an_expression_cannot_run_on_into_the_next_item_to_escape_the_nesting_bound() {
    // `kpi`, `view` and `let` are not reserved, so `1 +` then `let` reads on as a name; the
    // parser stops each item at the next item's line all the same.
    let defs = format!(
        "let a = 1 +\nlet +\n{}1\nkpi ok {{ value count(sales) }}\n",
        "-".repeat(100_000)
    );
    let run = sales(&defs).run("2025-03-31");
    assert_value(&run, "ok", &[], Some(3.0));
    assert!(run.diagnostics.iter().any(|d| d.code == "E0005"));
}

#[test]
fn an_item_after_a_broken_one_on_the_same_line_is_kept() {
    let run = sales("kpi a { value 1 } kpi b { value count(sales + } kpi c { value 3 }")
        .run("2025-03-31");
    assert_value(&run, "a", &[], Some(1.0));
    assert_value(&run, "c", &[], Some(3.0));
    assert!(run.outcomes.iter().all(|k| k.meta.name != "b"));
}

#[test]
fn a_broken_view_counted_whole_says_it_is_broken() {
    let run = sales(
        "view v = sales where day > 2025-02-30
         kpi k { value count(v) }",
    )
    .run("2025-03-31");
    assert!(
        errors(&run).contains(&"E0346 `k` uses view `v`, which has errors".to_string()),
        "{:?}",
        errors(&run)
    );
}

#[test]
fn large_whole_number_keys_stay_apart() {
    // Above 2^53 a float cannot tell these apart; as keys they are five accounts.
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n\
        [datasets.ev]\npath = \"ev.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n";
    let data = "day,acct\n2025-03-01,1234567890123456789\n2025-03-01,1234567890123456790\n\
        2025-03-01,1234567890123456700\n2025-03-01,9007199254740993\n2025-03-01,9007199254740992\n\
        2025-03-01,9007199254740992\n";
    let project = TempProject::new(
        manifest,
        &[
            ("defs.kpi", "kpi k { by acct\n value count(ev) }"),
            ("ev.csv", data),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    assert_eq!(outcome(&run, "k").rows.len(), 5);
    assert_value(&run, "k", &["1234567890123456789"], Some(1.0));
    assert_value(&run, "k", &["9007199254740993"], Some(1.0));
    assert_value(&run, "k", &["9007199254740992"], Some(2.0));
}

#[test]
fn definitions_that_grow_exponentially_are_errors_not_hangs() {
    // Each let doubles the one before: 2^40 parts once expanded.
    let mut lets = String::from("let a0 = count(sales)\n");
    for i in 1..=40 {
        lets.push_str(&format!("let a{i} = a{} + a{}\n", i - 1, i - 1));
    }
    // Each `min` uses its arguments three times once lowered: 3^30 steps.
    let mins = format!(
        "kpi m {{ value {}count(sales){} }}\n",
        "min(".repeat(30),
        ", 100)".repeat(30)
    );
    let growth = format!(
        "kpi g {{ value {}count(sales){} }}\n",
        "growth(".repeat(40),
        ")".repeat(40)
    );
    let defs = format!("{lets}kpi big {{ value a40 }}\n{mins}{growth}kpi small {{ value a3 }}\n");
    let run = sales(&defs).run("2025-03-31");
    let codes: BTreeSet<&str> = run.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains("E0348"), "{codes:?}");
    assert!(codes.contains("E0418"), "{codes:?}");
    for name in ["big", "m", "g"] {
        assert!(run.outcomes.iter().all(|k| k.meta.name != name), "{name}");
    }
    // 8 copies of March's 3 rows.
    assert_value(&run, "small", &[], Some(24.0));
}

#[test]
fn a_lookup_mapping_to_a_column_the_left_side_also_has_is_an_error() {
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n\
        [datasets.orders]\npath = \"orders.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n\
        [datasets.customers]\npath = \"customers.csv\"\ndimensions = { channel = \"acq\" }\n";
    let project = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "view ox = orders join customers on cid\nkpi k { by channel\n value count(ox) }",
            ),
            ("orders.csv", "day,cid,acq\n2025-03-01,1,promo\n"),
            ("customers.csv", "cid,acq\n1,ads\n"),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(run.outcomes.is_empty());
    let error = run.diagnostics.iter().find(|d| d.code == "E0361").unwrap();
    assert!(
        error
            .hints
            .iter()
            .any(|h| h.contains("the lookup keeps the left side's")),
        "{error:?}"
    );
}

#[test]
fn dates_and_timestamps_as_one_dimension_are_an_error() {
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n\
        [datasets.a]\npath = \"a.csv\"\n[datasets.b]\npath = \"b.csv\"\n";
    let project = TempProject::new(
        manifest,
        &[
            ("defs.kpi", "kpi k { by d\n value count(a) + count(b) }"),
            ("a.csv", "d,x\n2025-01-01,1\n"),
            ("b.csv", "d,x\n2025-01-01 00:00:00,1\n"),
        ],
    );
    let run = project.run("2025-03-31");
    assert_eq!(
        errors(&run),
        ["E0362 dimension `d` holds dates in `a` but timestamps in `b`"]
    );
}

#[test]
fn when_reads_dimension_values_as_the_data_holds_them() {
    // March by region: EU 60, NA 40, and a row without region worth 5.
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n\
        [datasets.s]\npath = \"s.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n";
    let data = "day,region,store,amount\n2025-03-01,EU,1,60\n2025-03-01,NA,2,40\n2025-03-01,,3,5\n";
    let project = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi r { by region\n value sum(s.amount)\n target >= 50\n target >= 1 when region is null }
                 kpi n { by store\n value sum(s.amount)\n target >= 50\n target >= 30 when store == 2 }",
            ),
            ("s.csv", data),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    assert_status(&run, "r", &["(none)"], Some(Status::Met));
    assert_status(&run, "r", &["NA"], Some(Status::Missed));
    assert_status(&run, "n", &["2"], Some(Status::Met));
    assert_status(&run, "n", &["3"], Some(Status::Missed));
}

#[test]
fn a_bad_as_of_judges_nothing_unless_the_day_is_given() {
    let manifest = super::SALES_MANIFEST.replace("history = 2", "history = 2\nas_of = \"soon\"");
    let project = TempProject::new(
        &manifest,
        &[
            ("defs.kpi", "kpi n { value count(sales) }"),
            ("sales.csv", SALES_CSV),
            ("targets.csv", TARGETS_CSV),
        ],
    );
    let loaded = Project::load(project.path()).unwrap();
    let run = loaded.run(&RunOptions::default());
    assert!(run.outcomes.is_empty());
    assert!(run.diagnostics.iter().any(|d| d.code == "E0215"));
    // With the day given on the command line, March has 3 rows.
    let run = loaded.run(&RunOptions {
        as_of: Some(date("2025-03-31")),
        ..RunOptions::default()
    });
    assert_value(&run, "n", &[], Some(3.0));
}

#[test]
fn before_the_data_starts_previous_has_no_value_rather_than_zero() {
    // January 2025 is the first month with sales: December has no data, not zero sales, so a
    // growth target has nothing to grow from and is not met by default.
    let run = sales("kpi g { value count(sales)\n target >= previous * 1.2 }").run("2025-01-31");
    let r = row(&run, "g", &[]);
    assert_eq!(r.value, Some(2.0));
    assert_eq!(r.previous, None);
    assert_eq!(r.status, Some(Status::NoData));
    // In February, January's 2 is there: 2 against 2 * 1.2 is missed.
    let run = sales("kpi g { value count(sales)\n target >= previous * 1.2 }").run("2025-02-28");
    assert_eq!(row(&run, "g", &[]).status, Some(Status::Missed));
}

#[test]
fn sums_of_negative_fractions_are_exact() {
    // A negative value's whole part is cut into a high part of -1 and a low part near 2^32:
    // the fraction added to the low part first was rounded there, to about 1e-6.
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n\
        [datasets.ev]\npath = \"ev.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n";
    let data = "day,amount\n2025-03-01,-1.10\n2025-03-02,-2.20\n2025-03-03,-0.55\n\
        2025-03-04,-553.84\n2025-03-05,12.25\n";
    let project = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi negative { value sum(ev.amount where amount < 0) }\n\
                 kpi all { value sum(ev.amount) }\n\
                 kpi one { value sum(ev.amount where amount < -500) }",
            ),
            ("ev.csv", data),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
    // -1.10 - 2.20 - 0.55 - 553.84 = -557.69; with 12.25, -545.44. The nearest f64 to each,
    // exactly: the same number a person gets, not one off in the sixth decimal.
    assert_value(&run, "negative", &[], Some(-557.69));
    assert_value(&run, "all", &[], Some(-545.44));
    assert_value(&run, "one", &[], Some(-553.84));
}
