//! The meaning of the language (sections 4 to 6 of the design) on small hand-made data.
//!
//! `sales` (see SALES_CSV in mod.rs), as of 2025-03-31 with history 2 (January to March):
//!   Jan: EU anna 100 paid, NA boris 50 paid
//!   Feb: EU anna 30 paid, EU chen 70 refunded
//!   Mar: NA boris 40 paid, EU anna 60 paid, EU chen (no amount) paid

use kpi::eval::Status;
use kpi::manifest::Manifest;
use kpi::project::{Project, RunOptions};

use super::{assert_status, assert_value, date, outcome, row, sales_project, TempProject};

fn sales(kpis: &str) -> TempProject {
    sales_project(kpis, "", &[])
}

const PEOPLE: &str = "\n[datasets.people]\npath = \"people.csv\"\n";

#[test]
fn empty_groups_count_zero_and_other_aggregates_null() {
    let run = sales(
        "kpi s { by region\n value sum(sales.amount) }
         kpi m { by region\n value mean(sales.amount) }
         kpi n { by region\n value count(sales.amount) }
         kpi c { by region\n value count(sales) }",
    )
    .run("2025-03-31");
    // March: EU 60 + (null) = 60, NA 40. February has no NA row: the sum is 0, the mean null.
    assert_value(&run, "s", &["EU"], Some(60.0));
    assert_value(&run, "s", &["NA"], Some(40.0));
    assert_eq!(
        row(&run, "s", &["NA"]).history,
        vec![Some(50.0), Some(0.0), Some(40.0)]
    );
    assert_eq!(
        row(&run, "m", &["NA"]).history,
        vec![Some(50.0), None, Some(40.0)]
    );
    // count(ds.col) counts non-null values; count(ds) counts rows.
    assert_value(&run, "n", &["EU"], Some(1.0));
    assert_value(&run, "c", &["EU"], Some(2.0));
}

#[test]
fn division_by_zero_is_null_and_null_propagates() {
    let run = sales(
        "kpi d { value count(sales where status == \"refunded\") / count(sales where status == \"lost\") }
         kpi z { value 1 / 0 }
         kpi p { value mean(sales.amount where region == \"XX\") + 1 }
         kpi ok { value 0 / 5 }",
    )
    .run("2025-03-31");
    assert_value(&run, "d", &[], None);
    assert_value(&run, "z", &[], None);
    assert_value(&run, "p", &[], None);
    assert_value(&run, "ok", &[], Some(0.0));
}

#[test]
fn previous_and_growth() {
    let run = sales(
        "let paid = sum(sales.amount where status == \"paid\")
         kpi v { value paid\n target >= previous }
         kpi p2 { value previous(paid, 2) }
         kpi g { format percent\n value growth(paid) }",
    )
    .run("2025-03-31");
    // Paid: Jan 150, Feb 30, Mar 100.
    assert_value(&run, "v", &[], Some(100.0));
    assert_eq!(
        row(&run, "v", &[]).target.as_ref().unwrap().value,
        Some(30.0)
    );
    assert_status(&run, "v", &[], Some(Status::Met));
    assert_value(&run, "p2", &[], Some(150.0));
    assert_value(&run, "g", &[], Some(100.0 / 30.0 - 1.0));
    // Growth in February: 30 / 150 - 1.
    assert_eq!(row(&run, "g", &[]).history[1], Some(30.0 / 150.0 - 1.0));
}

#[test]
fn per_dimension_targets_first_match_wins() {
    let run = sales(
        "kpi s {
            by region
            value sum(sales.amount)
            target >= 50 when region == \"EU\"
            target >= 1000 when region == \"EU\"
            target >= 45
            warn >= 35
        }",
    )
    .run("2025-03-31");
    // EU 60 meets its own line (the second EU line is never reached); NA 40 misses the
    // default 45 but holds the amber 35.
    assert_status(&run, "s", &["EU"], Some(Status::Met));
    assert_eq!(
        row(&run, "s", &["EU"]).target.as_ref().unwrap().value,
        Some(50.0)
    );
    assert_status(&run, "s", &["NA"], Some(Status::Warn));
    assert_eq!(outcome(&run, "s").status, Some(Status::Warn));
}

#[test]
fn between_warn_missed_and_no_data() {
    let run = sales(
        "kpi in_range { value sum(sales.amount)\n target between 90 and 110 }
         kpi amber { value sum(sales.amount)\n target >= 200\n warn >= 100 }
         kpi missed { value sum(sales.amount)\n target <= 10\n warn <= 50 }
         kpi nothing { value mean(sales.amount where region == \"XX\")\n target >= 1 }
         kpi no_target { value sum(sales.amount) }",
    )
    .run("2025-03-31");
    // March total: 40 + 60 = 100.
    assert_status(&run, "in_range", &[], Some(Status::Met));
    assert_status(&run, "amber", &[], Some(Status::Warn));
    assert_status(&run, "missed", &[], Some(Status::Missed));
    assert_status(&run, "nothing", &[], Some(Status::NoData));
    assert_eq!(outcome(&run, "no_target").status, None);
}

#[test]
fn totals_and_targets_from_data() {
    let run = sales(
        "kpi share { by region\n value sum(sales.amount) / total(sum(sales.amount)) }
         kpi vs_plan { by region\n value sum(sales.amount)\n target >= sum(targets.goal) }
         kpi above_average {
            by rep
            value sum(sales.amount)
            target >= total(sum(sales.amount)) / total(count_distinct(sales.rep))
         }",
    )
    .run("2025-03-31");
    assert_value(&run, "share", &["EU"], Some(0.6));
    assert_value(&run, "share", &["NA"], Some(0.4));
    // Plan for March: EU 50, NA 45.
    assert_status(&run, "vs_plan", &["EU"], Some(Status::Met));
    assert_status(&run, "vs_plan", &["NA"], Some(Status::Missed));
    // March: 100 over three reps (anna, boris, chen) = 33.33; anna 60 meets it, chen (no amount) 0 misses.
    assert_eq!(
        row(&run, "above_average", &["anna"])
            .target
            .as_ref()
            .unwrap()
            .value,
        Some(100.0 / 3.0)
    );
    assert_status(&run, "above_average", &["anna"], Some(Status::Met));
    assert_status(&run, "above_average", &["chen"], Some(Status::Missed));
}

#[test]
fn kpi_references_broadcast_and_keep_their_own_where() {
    let run = sales(
        "kpi paid_total { value sum(sales.amount)\n where status == \"paid\" }
         kpi paid_share { by region\n where status == \"paid\"\n value sum(sales.amount) / paid_total }",
    )
    .run("2025-02-28");
    // February: paid only EU anna 30 (chen's 70 is refunded); NA has nothing.
    assert_value(&run, "paid_share", &["EU"], Some(1.0));
    assert_value(&run, "paid_share", &["NA"], Some(0.0));
}

#[test]
fn every_grain() {
    // The sales may be a year late here, so that the yearly KPI can judge 2025 on 2025-12-31.
    let manifest = super::SALES_MANIFEST.replacen("fresh = \"1 month\"", "fresh = \"1 year\"", 1);
    let defs = "kpi q { every quarter\n value sum(sales.amount) }
         kpi w { every week\n value count(sales) }
         kpi d { every day\n value sum(sales.amount) }
         kpi y { every year\n value count(sales) }";
    let project = TempProject::new(
        &manifest,
        &[
            ("defs.kpi", defs),
            ("sales.csv", super::SALES_CSV),
            ("targets.csv", super::TARGETS_CSV),
        ],
    );
    let run = project.run("2025-03-31");
    // Q1: 100 + 50 + 30 + 70 + 40 + 60.
    assert_value(&run, "q", &[], Some(350.0));
    assert_eq!(outcome(&run, "q").period, "2025-Q1");
    // 2025-03-31 is a Monday, so the last complete week is 03-24 to 03-30 (2025-W13): no sales.
    assert_eq!(outcome(&run, "w").period, "2025-W13");
    assert_value(&run, "w", &[], Some(0.0));
    // W11 (03-10 to 03-16) holds anna's sale of 03-15, W12 chen's of 03-20.
    assert_eq!(
        row(&run, "w", &[]).history,
        vec![Some(1.0), Some(1.0), Some(0.0)]
    );
    assert_eq!(outcome(&run, "d").period, "2025-03-31");
    assert_eq!(outcome(&run, "y").period, "2024");
    let run = project.run("2025-03-15");
    assert_value(&run, "d", &[], Some(60.0));
    let run = project.run("2025-12-31");
    assert_value(&run, "y", &[], Some(7.0));
}

#[test]
fn row_functions_and_operators() {
    let run = sales(
        "kpi f { every quarter\n value count(sales where month(day) == 2 and lower(region) == \"eu\" and contains(rep, \"he\")) }
         kpi n { value count(sales where region in [\"EU\", \"XX\"] and amount is null) }
         kpi c { value sum(coalesce(sales.amount, 5)) }
         kpi i { value sum(if sales.status == \"paid\" then sales.amount else 0) }
         kpi b { value count(sales where amount between 40 and 60 and rep not in [\"anna\"]) }
         kpi r { value round(sum(sales.amount) / 3, 2) }
         kpi s { value count(sales where starts_with(upper(rep), \"BO\") and weekday(day) == 6) }",
    )
    .run("2025-03-31");
    // Only chen's refunded February sale is EU with "he" in the rep's name.
    assert_value(&run, "f", &[], Some(1.0));
    // March: chen's EU sale has no amount.
    assert_value(&run, "n", &[], Some(1.0));
    // March: 40 + 60 + 5.
    assert_value(&run, "c", &[], Some(105.0));
    assert_value(&run, "i", &[], Some(100.0));
    // boris 40 in March; anna's 60 is excluded by name.
    assert_value(&run, "b", &[], Some(1.0));
    assert_value(&run, "r", &[], Some(33.33));
    // boris sold on Saturday 2025-03-01 (ISO weekday 6).
    assert_value(&run, "s", &[], Some(1.0));
}

#[test]
fn period_option_judges_that_period() {
    let project =
        sales("kpi s { value sum(sales.amount) }\nkpi q { every quarter\n value count(sales) }");
    let loaded = Project::load(project.path()).unwrap();
    let run = loaded.run(&RunOptions {
        period: Some(kpi::period::PeriodSpec::parse("2025-02").unwrap()),
        ..RunOptions::default()
    });
    assert_eq!(outcome(&run, "s").period, "2025-02");
    assert_value(&run, "s", &[], Some(100.0));
    // As of 2025-02-28 the last complete quarter is 2024-Q4.
    assert_eq!(outcome(&run, "q").period, "2024-Q4");
    assert_eq!(run.as_of, date("2025-02-28"));
}

#[test]
fn lookup_that_would_fan_out_is_an_error_and_others_still_evaluate() {
    let project = sales_project(
        "view x = sales join people on rep\nkpi by_team { by team\n value sum(x.amount) }\nkpi fine { value count(sales) }",
        PEOPLE,
        &[("people.csv", "rep,team\nanna,red\nanna,blue\nboris,red\nchen,blue\n")],
    );
    let run = project.run("2025-03-31");
    assert_value(&run, "fine", &[], Some(3.0));
    let messages: Vec<&str> = run.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("cannot join `people` on `rep`")
                && m.contains("`anna` appears 2 times")),
        "{messages:#?}"
    );
    assert!(run.outcomes.iter().all(|k| k.meta.name != "by_team"));
}

#[test]
fn lookup_adds_the_right_side_columns() {
    let run = sales_project(
        "view x = sales join people on rep\nkpi by_team { by team\n value sum(x.amount) }",
        PEOPLE,
        &[("people.csv", "rep,team\nanna,red\nboris,red\nchen,blue\n")],
    )
    .run("2025-03-31");
    // March: anna 60 + boris 40 are red; chen's sale has no amount.
    assert_value(&run, "by_team", &["red"], Some(100.0));
    assert_value(&run, "by_team", &["blue"], Some(0.0));
}

#[test]
fn a_missing_file_names_the_dataset_and_the_rest_runs() {
    let run = sales_project(
        "kpi a { value count(sales) }\nkpi b { value count(ghost) }",
        "\n[datasets.ghost]\npath = \"nowhere/ghost.csv\"\ntime = \"day\"\n",
        &[],
    )
    .run("2025-03-31");
    assert_value(&run, "a", &[], Some(3.0));
    let messages: Vec<&str> = run.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.contains(&"dataset `ghost`: no file found at `nowhere/ghost.csv`"),
        "{messages:#?}"
    );
    // The file's error belongs to no KPI; the KPI that reads it has an error of its own.
    let owners: Vec<Option<&str>> = run.diagnostics.iter().map(|d| d.kpi.as_deref()).collect();
    assert_eq!(owners, vec![None, Some("b")], "{:#?}", run.diagnostics);
}

/// A KPI defined twice was evaluated twice: two rows of one name, with different numbers. The
/// second definition is the error (E0301), and like any KPI with an error it is not evaluated;
/// the name means the first.
#[test]
fn a_kpi_defined_twice_is_evaluated_once_as_first_defined() {
    let run = sales_project(
        "kpi a { value sum(sales.amount) }\nkpi a { value count(sales) }\nkpi b { value a * 2 }",
        "",
        &[],
    )
    .run("2025-03-31");
    let named_a = run.outcomes.iter().filter(|k| k.meta.name == "a").count();
    assert_eq!(named_a, 1, "{:#?}", run.diagnostics);
    // March: 40 + 60 (the third sale has no amount).
    assert_value(&run, "a", &[], Some(100.0));
    assert_value(&run, "b", &[], Some(200.0));
    assert!(
        run.diagnostics
            .iter()
            .any(|d| d.code == "E0301" && d.message == "`a` is defined twice"),
        "{:#?}",
        run.diagnostics
    );
}

#[test]
fn an_unreadable_csv_names_the_dataset_and_file() {
    let mut rows = String::from("day,amount\n");
    for i in 1..=28 {
        rows.push_str(&format!("2025-02-{i:02},{i}\n"));
    }
    rows.push_str("2025-03-01,1,2,3,4\n");
    let run = sales_project(
        "kpi a { value count(sales) }\nkpi b { value sum(bad.amount) }",
        "\n[datasets.bad]\npath = \"bad.csv\"\ntime = \"day\"\n",
        &[("bad.csv", &rows)],
    )
    .run("2025-03-31");
    assert_value(&run, "a", &[], Some(3.0));
    assert!(run.outcomes.iter().all(|k| k.meta.name != "b"));
    let messages: Vec<&str> = run.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("dataset `bad`") && m.contains("bad.csv")),
        "{messages:#?}"
    );
}

#[test]
fn parquet_files_globs_and_environment_variables() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("parts")).unwrap();
    for (file, days, amounts) in [
        (
            "parts/2025-01.parquet",
            vec!["2025-01-03", "2025-01-09"],
            vec![10.0, 20.0],
        ),
        ("parts/2025-02.parquet", vec!["2025-02-11"], vec![5.0]),
    ] {
        let days: Vec<chrono::NaiveDate> = days.iter().map(|d| date(d)).collect();
        let mut df = DataFrame::new_infer_height(vec![
            Column::new("day".into(), days),
            Column::new("amount".into(), amounts),
        ])
        .unwrap();
        let f = std::fs::File::create(dir.path().join(file)).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
    }
    std::fs::write(dir.path().join("defs.kpi"), "kpi s { value sum(p.amount) }").unwrap();
    let manifest_text = "[project]\nname = \"p\"\nkpis = [\"*.kpi\"]\n[datasets.p]\npath = \"${PARTS}/*.parquet\"\ntime = \"day\"\nfresh = \"1 month\"\n";
    let env = |name: &str| (name == "PARTS").then(|| "parts".to_string());
    let manifest = Manifest::from_str_with_env(manifest_text, dir.path(), &env).unwrap();
    let project = Project::from_manifest(manifest).unwrap();
    let run = project.run(&RunOptions {
        as_of: Some(date("2025-02-28")),
        ..RunOptions::default()
    });
    assert_value(&run, "s", &[], Some(5.0));
    assert_eq!(row(&run, "s", &[]).previous, Some(30.0));
}

#[test]
fn reports_are_deterministic() {
    let project = sales("kpi s { by region, rep\n value sum(sales.amount)\n target >= 10 }\nkpi t { value count(sales) }");
    let render = || {
        let run = project.run("2025-03-31");
        let loaded = Project::load(project.path()).unwrap();
        let numbers = kpi::locale::Numbers::default();
        let report = super::report_of(&run, &loaded.sources, &numbers);
        kpi::report::render(&report, kpi::report::OutputFormat::Json, Default::default())
    };
    let first = render();
    assert_eq!(first, render());
    // Rows come sorted by dimension values, whatever order the data had.
    let run = project.run("2025-03-31");
    let order: Vec<Vec<String>> = outcome(&run, "s")
        .rows
        .iter()
        .map(|r| r.dimensions.iter().map(|(_, v)| v.clone()).collect())
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
}

#[test]
fn cyrillic_columns_and_values() {
    let manifest = "[project]\nname = \"кириллица\"\nkpis = [\"*.kpi\"]\nhistory = 1\n[datasets.\"продажи\"]\npath = \"продажи.csv\"\ntime = \"дата\"\nfresh = \"1 month\"\n";
    let project = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi regions {\n title \"Выручка по регионам\"\n by `Регион`\n value sum(`продажи`.`Сумма, руб`)\n target >= 100 when `Регион` == \"Европа\"\n}",
            ),
            ("продажи.csv", "дата,Регион,\"Сумма, руб\"\n2025-03-02,Европа,120\n2025-03-09,Азия,80\n"),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "regions", &["Европа"], Some(120.0));
    assert_status(&run, "regions", &["Европа"], Some(Status::Met));
    assert_value(&run, "regions", &["Азия"], Some(80.0));
    assert_status(&run, "regions", &["Азия"], None);
}

/// A dataset key with a space, quoted in kpi.toml, is named in backticks wherever a dataset is:
/// a view's source, an aggregate, a per-entity view. March by hand: 120 + 80 + 50 = 250 in all;
/// two paid orders; two customers, анна with two orders.
#[test]
fn a_quoted_dataset_key_is_a_name_in_backticks_everywhere() {
    let manifest = "[project]\nname = \"т\"\nkpis = [\"*.kpi\"]\nhistory = 1\n[datasets.\"продажи 2025\"]\npath = \"продажи 2025.csv\"\ntime = \"Дата\"\nfresh = \"1 month\"\n";
    let defs = "view оплаченные = `продажи 2025` where Статус == \"оплачен\"
view покупатели = `продажи 2025` per Клиент {
    заказов = count()
}
kpi всего { value sum(`продажи 2025`.Сумма) }
kpi оплачено { value count(оплаченные) }
kpi клиентов { value count(покупатели) }
kpi повторных { value count(покупатели where заказов > 1) }
";
    let project = TempProject::new(
        manifest,
        &[
            ("defs.kpi", defs),
            (
                "продажи 2025.csv",
                "Дата,Клиент,Сумма,Статус\n2025-03-02,анна,120,оплачен\n2025-03-09,борис,80,отменён\n2025-03-10,анна,50,оплачен\n",
            ),
        ],
    );
    let run = project.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "всего", &[], Some(250.0));
    assert_value(&run, "оплачено", &[], Some(2.0));
    assert_value(&run, "клиентов", &[], Some(2.0));
    assert_value(&run, "повторных", &[], Some(1.0));
}

#[test]
fn every_aggregate() {
    let run = sales(
        "kpi med { value median(sales.amount) }
         kpi na_med { value median(sales.amount where region == \"NA\") }
         kpi lo { value min(sales.amount) }
         kpi hi { value max(sales.amount) }
         kpi q9 { value quantile(sales.amount, 0.9) }
         kpi sd { value stddev(sales.amount) }
         kpi avg { value avg(sales.amount) }
         kpi reps { value count_distinct(sales.rep) }
         kpi wait { value mean(days_between(sales.day, 2025-04-01)) }
         kpi mins { value sum(minutes_between(sales.day, 2025-03-02) where region == \"NA\") }",
    )
    .run("2025-03-31");
    // March amounts: 40 (boris), 60 (anna) and chen's missing one, which aggregates skip.
    assert_value(&run, "med", &[], Some(50.0));
    assert_value(&run, "lo", &[], Some(40.0));
    assert_value(&run, "hi", &[], Some(60.0));
    // Linear interpolation: 40 + 0.9 * (60 - 40).
    assert_value(&run, "q9", &[], Some(58.0));
    // Sample standard deviation: sqrt(((40 - 50)^2 + (60 - 50)^2) / (2 - 1)).
    assert_value(&run, "sd", &[], Some(200f64.sqrt()));
    assert_value(&run, "avg", &[], Some(50.0));
    // chen's row has no amount but has a rep: three reps.
    assert_value(&run, "reps", &[], Some(3.0));
    // Days to April 1st from March 1, 15 and 20: 31, 17 and 12.
    assert_value(&run, "wait", &[], Some(20.0));
    // boris sold on March 1: one day, 1440 minutes, before March 2.
    assert_value(&run, "mins", &[], Some(1440.0));
    // January: median of 100 and 50; February: of 30 and 70.
    assert_eq!(
        row(&run, "med", &[]).history,
        vec![Some(75.0), Some(50.0), Some(50.0)]
    );
    // Aggregates other than count and sum are null over no rows: February has no NA sale.
    assert_eq!(
        row(&run, "na_med", &[]).history,
        vec![Some(50.0), None, Some(40.0)]
    );
}

#[test]
fn aggregates_over_one_source_share_one_pass() {
    use kpi::compile::{self, ResolveInput};
    let project = sales(
        "view paid = sales where status == \"paid\"
         kpi a { value sum(sales.amount) }
         kpi b { value count(paid) / count(sales) }
         kpi c { value mean(paid.amount where region == \"EU\") }
         kpi d { by region\n value sum(sales.amount) }
         kpi e { by region\n value count(paid) }
         kpi f { every quarter\n value sum(sales.amount) }
         kpi g { value sum(targets.goal) }",
    );
    let loaded = Project::load(project.path()).unwrap();
    let (datasets, _) = kpi::eval::data::open(&loaded.manifest, None);
    let input = ResolveInput {
        manifest: &loaded.manifest,
        schemas: &datasets.schemas,
        sources: &loaded.sources,
        manifest_file: None,
    };
    let (program, diagnostics) = compile::resolve(&loaded.files, &input);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let options = kpi::eval::EvalOptions {
        as_of: date("2025-03-31"),
        history: 2,
        range: None,
        freshness: Default::default(),
    };
    let lowered = kpi::eval::lower(&program, &options);
    // a, b and c read `sales` by month without dimensions (the view's filter travels with the
    // aggregate): one pass. d and e: one pass by region. f: one by quarter. g: one over targets.
    assert_eq!(lowered.plan.passes.len(), 4);
    // The first pass holds four distinct aggregates: sum(sales.amount), count(paid),
    // count(sales) and mean(paid.amount where region == "EU").
    assert_eq!(lowered.plan.passes[0].aggregates.len(), 4);
}

#[test]
fn any_aggregate_over_live_rows() {
    let manifest = "[project]\nname = \"subs\"\nkpis = [\"*.kpi\"]\nhistory = 2\n[datasets.subs]\npath = \"subs.csv\"\ntime = \"start\"\nuntil = \"end\"\nfresh = \"2 months\"\n";
    let run = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi mrr { value sum(subs.mrr at start) }
                 kpi live { value count(subs at start) }
                 kpi pro_at_end { value sum(subs.mrr at end where plan == \"pro\") }
                 kpi lives_at_end { value count(subs at end) }",
            ),
            (
                "subs.csv",
                "id,start,end,mrr,plan\n1,2025-01-10,,100,pro\n2,2025-02-05,2025-03-10,50,basic\n3,2024-12-01,2025-02-01,30,basic\n",
            ),
        ],
    )
    .run("2025-03-31");
    // Live on Jan 1: 3 (30). On Feb 1: 1 (100) and 3, whose end is Feb 1 itself (130).
    // On Mar 1: 1 and 2 (150); 3 ended on Feb 1.
    assert_eq!(
        row(&run, "mrr", &[]).history,
        vec![Some(30.0), Some(130.0), Some(150.0)]
    );
    assert_eq!(
        row(&run, "live", &[]).history,
        vec![Some(1.0), Some(2.0), Some(2.0)]
    );
    // Live on Apr 1 (the end of March): only 1, a pro plan; 2 ended on Mar 10.
    assert_value(&run, "pro_at_end", &[], Some(100.0));
    assert_value(&run, "lives_at_end", &[], Some(1.0));
}

#[test]
fn types_in_the_manifest_override_inference() {
    let manifest = "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n[datasets.d]\npath = \"d.csv\"\ntime = \"day\"\nfresh = \"1 month\"\ntypes = { score = \"number\", vip = \"boolean\", code = \"text\" }\n";
    let run = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi s { value sum(d.score) }\nkpi v { value count(d where vip) }\nkpi c { value count(d where code == \"007\") }",
            ),
            (
                "d.csv",
                "day,score,vip,code\n2025-03-01,1.5,yes,7\n2025-03-02,n/a,no,8\n2025-03-03,2,YES,7\n",
            ),
        ],
    )
    .run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    // "n/a" is not a number and counts as missing: 1.5 + 2.
    assert_value(&run, "s", &[], Some(3.5));
    // "yes" and "YES" are true.
    assert_value(&run, "v", &[], Some(2.0));
    // Read as text, 7 is "7", not "007".
    assert_value(&run, "c", &[], Some(0.0));
}

#[test]
fn history_starts_where_the_data_starts() {
    let run = sales("kpi q { every quarter\n value sum(sales.amount) }").run("2025-06-30");
    // Two quarters of history were asked for (2024-Q4 to 2025-Q2), but the data starts in
    // 2025-Q1: 2024-Q4 would only be a zero meaning "no data yet".
    let q = outcome(&run, "q");
    assert_eq!(q.history_periods, vec!["2025-Q1", "2025-Q2"]);
    // The sales stop on 2025-03-20 and may be a month late: 2025-Q2 is not covered, so it has
    // no value rather than a zero.
    assert_eq!(q.rows[0].history, vec![Some(350.0), None]);
    // The previous period is still the quarter before, whatever the history shows.
    assert_eq!(q.rows[0].previous, Some(350.0));
}

#[test]
fn history_starts_with_the_datasets_first_row_not_the_aggregates() {
    let manifest = "[project]\nname = \"c\"\nkpis = [\"*.kpi\"]\nhistory = 4\n[datasets.customers]\npath = \"c.csv\"\ntime = \"signup_date\"\nuntil = \"churn_date\"\nfresh = \"1 month\"\n";
    let run = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "kpi at_start { value count(customers at start) }
                 kpi at_end { value count(customers at end) }
                 kpi pro { value count(customers where plan == \"pro\") }
                 kpi net { value count(customers at start) - previous(count(customers at start)) }",
            ),
            (
                "c.csv",
                "customer_id,signup_date,churn_date,plan\n1,2024-01-01,,basic\n2,2024-01-20,2024-02-10,basic\n3,2024-03-31,,pro\n",
            ),
        ],
    )
    .run("2024-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    // The data start in January 2024 (the first signup), so history starts there for every
    // KPI over `customers`, though no customer is live at the start of January (both signed
    // up during it) and the first `pro` signup is in March: those are zeros, not missing data.
    // Live on Jan 1: none. Feb 1: 1 and 2. Mar 1: 1 (2 churned on Feb 10).
    let start = outcome(&run, "at_start");
    assert_eq!(start.history_periods, vec!["2024-01", "2024-02", "2024-03"]);
    assert_eq!(start.rows[0].history, vec![Some(0.0), Some(2.0), Some(1.0)]);
    // Live on Feb 1: 1 and 2. Mar 1: 1. Apr 1: 1 and 3.
    assert_eq!(
        row(&run, "at_end", &[]).history,
        vec![Some(2.0), Some(1.0), Some(2.0)]
    );
    assert_eq!(
        row(&run, "pro", &[]).history,
        vec![Some(0.0), Some(0.0), Some(1.0)]
    );
    // Before the data start there is no value: December 2023 is missing, not 0.
    assert_eq!(
        row(&run, "net", &[]).history,
        vec![None, Some(2.0), Some(-1.0)]
    );
}

#[test]
fn rows_on_the_edges_of_the_reported_periods_count_in_their_own_period() {
    // The rows read are cut to the days the passes need before anything else is computed:
    // a row on the first or last day of a period (or its last second) belongs to it, and
    // rows outside the computed periods change nothing.
    for (time, rows) in [
        (
            "day",
            "2024-12-31,1000\n2025-01-01,1\n2025-01-31,2\n2025-02-01,4\n2025-03-31,8\n2025-04-01,1000\n",
        ),
        (
            "stamp",
            "2024-12-31 23:59:59,1000\n2025-01-01 00:00:00,1\n2025-01-31 23:59:59,2\n2025-02-01 00:00:00,4\n2025-03-31 23:59:59,8\n2025-04-01 00:00:00,1000\n",
        ),
    ] {
        let manifest = format!("[project]\nname = \"e\"\nkpis = [\"*.kpi\"]\nhistory = 1\n[datasets.s]\npath = \"s.csv\"\ntime = \"{time}\"\nfresh = \"1 month\"\n");
        let csv = format!("{time},amount\n{rows}");
        let run = TempProject::new(
            &manifest,
            &[
                (
                    "defs.kpi",
                    "kpi total { value sum(s.amount) }\nkpi n { value count(s) }\nkpi change { value sum(s.amount) - previous(sum(s.amount)) }",
                ),
                ("s.csv", csv.as_str()),
            ],
        )
        .run("2025-03-31");
        assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
        // February: 4; March: 8. January (the previous period of February): 1 + 2.
        assert_eq!(row(&run, "total", &[]).history, vec![Some(4.0), Some(8.0)]);
        assert_eq!(row(&run, "n", &[]).history, vec![Some(1.0), Some(1.0)]);
        assert_eq!(
            row(&run, "change", &[]).history,
            vec![Some(4.0 - 3.0), Some(8.0 - 4.0)]
        );
    }
}

#[test]
fn a_per_entity_views_standard_deviation_is_computed_per_entity() {
    let manifest = "[project]\nname = \"s\"\nkpis = [\"*.kpi\"]\nhistory = 0\n[datasets.d]\npath = \"d.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n";
    let run = TempProject::new(
        manifest,
        &[
            (
                "defs.kpi",
                "view reps = d per rep { spread = stddev(amount) }\nkpi mean_spread { value mean(reps.spread) }",
            ),
            (
                "d.csv",
                "day,rep,amount\n2025-03-01,a,1\n2025-03-02,b,2\n2025-03-03,a,3\n2025-03-04,b,4\n2025-03-05,b,6\n",
            ),
        ],
    )
    .run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    // Rep a: 1 and 3, sample deviation sqrt(2). Rep b: 2, 4 and 6, sample deviation 2.
    assert_value(&run, "mean_spread", &[], Some((2f64.sqrt() + 2.0) / 2.0));
}
