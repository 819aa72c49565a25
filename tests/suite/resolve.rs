//! AST + schemas -> IR: every name, column, dimension and type is checked before data is read.
//! Each case is a `.kpi` text over the small `sales`/`targets` project; its rendered errors
//! are snapshotted and the facts that matter are asserted.

use kpi::diagnostic::render_human;
use kpi::project::Project;

use super::{sales_project, TempProject, SALES_CSV, SALES_MANIFEST, TARGETS_CSV};

/// Validates a definitions text; returns the rendered errors and how many KPIs resolved.
fn validate(kpis: &str) -> (String, usize) {
    validate_project(&sales_project(kpis, "", &[]))
}

/// Validates with a changed manifest over the same data files.
fn validate_with(manifest: &str, kpis: &str) -> (String, usize) {
    let files = [
        ("defs.kpi", kpis),
        ("sales.csv", SALES_CSV),
        ("targets.csv", TARGETS_CSV),
    ];
    validate_project(&TempProject::new(manifest, &files))
}

fn validate_project(project: &TempProject) -> (String, usize) {
    let loaded = Project::load(project.path()).unwrap();
    let (program, diagnostics) = loaded.validate();
    (
        render_human(&diagnostics, &loaded.sources, false),
        program.kpis.len(),
    )
}

#[track_caller]
fn check(name: &str, kpis: &str, must_contain: &[&str]) {
    let (rendered, _) = validate(kpis);
    for needle in must_contain {
        assert!(
            rendered.contains(needle),
            "{name}: expected {needle:?} in:\n{rendered}"
        );
    }
    insta::assert_snapshot!(name, rendered);
}

#[test]
fn unknown_column_suggests_and_lists() {
    check(
        "unknown_column",
        "kpi a {\n    value sum(sales.amout)\n}\n",
        &[
            "unknown column `amout` in `sales`; did you mean `amount`?",
            "Columns of `sales`: day, region, rep, amount, status",
            "defs.kpi:2:21",
        ],
    );
}

#[test]
fn unknown_dataset_suggests() {
    check(
        "unknown_dataset",
        "kpi a { value sum(sale.amount) }\n",
        &["unknown dataset or view `sale`", "did you mean `sales`?"],
    );
}

#[test]
fn unknown_name_suggests_a_kpi() {
    check(
        "unknown_name",
        "kpi revenue { value sum(sales.amount) }\nkpi b { value revenu * 2 }\n",
        &["unknown name `revenu`", "did you mean `revenue`?"],
    );
}

#[test]
fn missing_dimension_names_dataset_and_columns() {
    check(
        "missing_dimension",
        "kpi a {\n    by rep\n    value sum(sales.amount) / sum(targets.goal)\n}\n",
        &[
            "dataset `targets` has no dimension `rep`",
            "Columns of `targets`: month, region, goal",
            "dimensions = { rep = \"column\" }",
        ],
    );
}

#[test]
fn aggregates_check_types() {
    check(
        "sum_of_text",
        "kpi a { value sum(sales.region) }\n",
        &["`sum` needs numbers, but column `region` of `sales` (sales.csv) holds text"],
    );
    check(
        "where_not_boolean",
        "kpi a { value count(sales where amount) }\n",
        &["must be true or false, but this is number"],
    );
    check(
        "compare_text_with_number",
        "kpi a { value count(sales where region > 3) }\n",
        &["cannot compare text with number"],
    );
}

#[test]
fn one_aggregate_reads_one_dataset() {
    check(
        "two_datasets",
        "kpi a { value sum(sales.amount + targets.goal) }\n",
        &["one aggregate reads one dataset, but this one reads `sales` and `targets`"],
    );
}

#[test]
fn cycles_are_named_whole() {
    check(
        "cycle",
        "kpi a { value b + 1 }\nkpi b { value c * 2 }\nkpi c { value a }\n",
        &["reference cycle: a -> b -> c -> a"],
    );
    let (_, resolved) =
        validate("kpi a { value b + 1 }\nkpi b { value a }\nkpi ok { value count(sales) }\n");
    assert_eq!(resolved, 1, "the KPI outside the cycle still resolves");
}

#[test]
fn live_rows_need_until() {
    check(
        "at_start_without_until",
        "kpi a { value count(sales at start) }\n",
        &["`at start` and `at end` need a dataset with `until`, and `sales` has none"],
    );
}

#[test]
fn target_conditions_use_dimensions() {
    check(
        "target_when_not_dimension",
        "kpi a {\n    by region\n    value sum(sales.amount)\n    target >= 10 when rep == \"anna\"\n}\n",
        &["`rep` is not a dimension of KPI `a`", "can use the KPI's dimensions: region"],
    );
}

#[test]
fn kpis_split_by_more_dimensions_cannot_be_used_whole() {
    check(
        "reverse_broadcast",
        "kpi by_rep { by rep\n value sum(sales.amount) }\nkpi total_sales { value by_rep }\n",
        &[
            "KPI `by_rep` is split by `rep`, which KPI `total_sales` is not",
            "wrap it in `total()`",
        ],
    );
    let (rendered, resolved) = validate(
        "kpi by_rep { by rep\n value sum(sales.amount) }\nkpi all { value total(by_rep) }\n",
    );
    assert_eq!((rendered.as_str(), resolved), ("", 2));
}

#[test]
fn functions_and_grains() {
    check(
        "unknown_function",
        "kpi a { value summ(sales.amount) }\n",
        &["unknown function `summ`", "did you mean `sum`?"],
    );
    check(
        "row_function_outside_aggregate",
        "kpi a { value year(2025-01-01) }\n",
        &["`year` works on rows; use it inside an aggregate"],
    );
    check(
        "unknown_grain",
        "kpi a {\n every mnth\n value count(sales) }\n",
        &["unknown grain `mnth`", "did you mean `month`?"],
    );
    check(
        "column_outside_aggregate",
        "kpi a { value sales.amount }\n",
        &["`sales.amount` is a column; a KPI needs an aggregate of it"],
    );
}

#[test]
fn later_features_say_not_supported_yet() {
    check(
        "per_of_per",
        "view a = sales per rep { n = count() }\nview b = a per rep { m = count() }\nkpi k { value count(b) }\n",
        &["a per-entity view of a per-entity view is not supported yet"],
    );
}

#[test]
fn every_error_of_every_kpi_at_once() {
    let (rendered, resolved) = validate(
        "kpi good { value count(sales) }\nkpi bad1 { value sum(sales.nope) }\nkpi bad2 { value nothing }\nkpi bad3 { value sum(sales.amount where regio == \"EU\") }\n",
    );
    assert_eq!(resolved, 1);
    assert_eq!(rendered.matches("] Error:").count(), 3, "{rendered}");
}

#[test]
fn manifest_time_column_must_exist() {
    let manifest = SALES_MANIFEST.replace("time = \"day\"", "time = \"dya\"");
    let (rendered, _) = validate_with(&manifest, "kpi a { value count(sales) }\n");
    assert!(
        rendered.contains("dataset `sales`: its `time` column `dya` does not exist"),
        "{rendered}"
    );
    assert!(rendered.contains("did you mean `day`?"), "{rendered}");
    // The error points at the setting in kpi.toml.
    assert!(rendered.contains("kpi.toml:9:8"), "{rendered}");
}

#[test]
fn names_defined_twice() {
    check(
        "defined_twice",
        "kpi a { value count(sales) }\nkpi a { value count(sales) }\n",
        &[
            "`a` is defined twice",
            "The first definition is at defs.kpi:1:5",
        ],
    );
}

#[test]
fn split_kpi_needs_a_split_aggregate() {
    check(
        "by_without_split_aggregate",
        "kpi all_sales { value sum(sales.amount) }\nkpi a {\n by region\n value all_sales\n}\n",
        &["KPI `a` is split by region, but none of its aggregates is"],
    );
}

#[test]
fn manifest_dimensions_and_join_keys_are_checked() {
    let manifest = SALES_MANIFEST.replace(
        "time = \"month\"",
        "time = \"month\"\ndimensions = { rep = \"repp\" }",
    );
    let (rendered, _) = validate_with(&manifest, "kpi a { value count(sales) }\n");
    assert!(
        rendered
            .contains("dataset `targets`: dimension `rep` maps to `repp`, which is not a column"),
        "{rendered}"
    );
    let (rendered, resolved) = validate_project(&sales_project(
        "view x = sales join people on rep\nkpi a { value count(x) }\n",
        "\n[datasets.people]\npath = \"people.csv\"\n",
        &[("people.csv", "rep,team\n1,red\n2,blue\n")],
    ));
    assert!(
        rendered.contains("join key `rep` holds text in `sales` but number in `people`"),
        "{rendered}"
    );
    assert_eq!(resolved, 0);
}

#[test]
fn views_built_on_themselves_are_a_cycle() {
    check(
        "view_cycle",
        "view a = b where amount > 1\nview b = a\nkpi k { value count(a) }\n",
        &["view cycle: a -> b -> a", "view `a` has errors"],
    );
}

#[test]
fn windows_that_mean_nothing_are_refused_with_the_reason() {
    // Live rows are a stock: adding them up over a window counts the same rows again.
    let (rendered, resolved) = validate_project(&sales_project(
        "kpi live_ytd { value running(count(members at start)) }
kpi bare { value running(5) }
kpi nested { value rolling(running(sum(sales.amount)), 3) }
kpi fine { value running(sum(sales.amount), year) }
kpi coarse { every quarter  value running(sum(sales.amount), month) }
kpi not_grain { value running(sum(sales.amount), decade) }
kpi zero { value rolling(sum(sales.amount), 0) }
kpi half { value rolling(sum(sales.amount), 1.5) }
kpi one_arg { value rolling(sum(sales.amount)) }
",
        "\n[datasets.members]\npath = \"members.csv\"\ntime = \"joined\"\nuntil = \"left\"\n",
        &[("members.csv", "id,joined,left\n1,2025-01-01,\n")],
    ));
    for needle in [
        "a window over `members` counted `at start`/`at end` adds up the same rows period after period",
        "Live rows are a stock",
        "`running` needs an aggregate to accumulate",
        "this has a window already: running(…, year)",
        "`running` to date of a month needs a KPI whose grain is finer, but this one is every quarter",
        "the second argument of `running` is a grain",
        "the number of periods must be a whole number from 1",
        "`rolling(x, 3)` is over the last 3 periods",
        "`rolling` takes 2 argument(s)",
        "defs.kpi:7:", // the 0 of `zero`
    ] {
        assert!(rendered.contains(needle), "expected {needle:?} in:\n{rendered}");
    }
    // Only `fine` resolves.
    assert_eq!(resolved, 1, "{rendered}");
    insta::assert_snapshot!("window_errors", rendered);
}

/// A view is checked whether a KPI reads it or not: a broken view that no KPI reads yet was
/// not reported at all, so `kpi validate` passed a definition file with an error in it.
#[test]
fn a_view_no_kpi_reads_is_still_checked() {
    let (rendered, resolved) = validate(
        "view bad = sales where amout > 0\nview per = sales per rep { n = count(amout) }\n\
         kpi a { value count(sales) }\n",
    );
    assert_eq!(
        rendered
            .matches("unknown column `amout` in `sales`")
            .count(),
        2,
        "{rendered}"
    );
    assert!(rendered.contains("defs.kpi:1:"), "{rendered}");
    assert!(rendered.contains("defs.kpi:2:"), "{rendered}");
    assert_eq!(resolved, 1, "`a` reads no broken view:\n{rendered}");
}

/// Views are checked from the top of each chain, as a KPI reading it would, so the limit on
/// how deep views are built on one another does not depend on the order they are written in.
#[test]
fn the_depth_of_views_does_not_depend_on_the_order_they_are_written() {
    let chain = |count: usize| -> Vec<String> {
        (0..count)
            .map(|i| match i {
                0 => "view v0 = sales where amount > 0".to_string(),
                i => format!("view v{i} = v{} where amount > {i}", i - 1),
            })
            .collect()
    };
    for (count, too_deep) in [(64, false), (70, true)] {
        let mut views = chain(count);
        let kpi = format!("kpi k {{ value count(v{}) }}", count - 1);
        let in_order = format!("{}\n{kpi}\n", views.join("\n"));
        views.reverse();
        let reversed = format!("{}\n{kpi}\n", views.join("\n"));
        for text in [in_order, reversed] {
            let (rendered, resolved) = validate(&text);
            assert_eq!(
                rendered.contains("views are built on one another more than 64 deep"),
                too_deep,
                "{count} views:\n{rendered}"
            );
            assert_eq!(
                resolved,
                usize::from(!too_deep),
                "{count} views:\n{rendered}"
            );
        }
    }
}

#[test]
fn per_entity_views_are_checked_against_their_base() {
    let (rendered, resolved) = validate_project(&sales_project(
        "view a = sales per customer { n = count() }
view b = sales per region { n = count(), bad = sum(amout) }
view c = sales per region { n = previous(count()) }
view d = sales per region { n = region }
view e = sales per region { n = count(), n = sum(amount) }
view ok = sales per region { n = count() }
kpi ka { value count(a) }
kpi kb { value count(b) }
kpi kc { value count(c) }
kpi kd { value count(d) }
kpi ke { value count(e) }
kpi kf { where n >= 2  value count(ok) }
kpi kg { value count(ok where n >= 2) }
",
        "",
        &[],
    ));
    for needle in [
        "unknown column `customer` in `sales`",
        "unknown column `amout` in `sales`; did you mean `amount`?",
        "`previous` inside a per-entity view's columns",
        "`region` in a per-entity view's columns is neither an aggregate nor a number",
        "`n` is defined twice in view `e`",
        // A KPI's `where` filters the rows the entities are built from: `n` is not one of them.
        "unknown column `n` in `sales`",
    ] {
        assert!(
            rendered.contains(needle),
            "expected {needle:?} in:\n{rendered}"
        );
    }
    assert_eq!(resolved, 1, "only `kg` resolves:\n{rendered}");
    insta::assert_snapshot!("per_entity_errors", rendered);
}

#[test]
fn deadlines_and_paces_are_checked() {
    let (rendered, resolved) = validate(
        "kpi no_deadline { value sum(sales.amount)  target >= 1  pace seasonal }
kpi mid_month { value sum(sales.amount)  target >= 1 by 2025-12-15 }
kpi two { every year  value sum(sales.amount)  target >= 1 by 2025-12-31  warn >= 1 by 2026-12-31 }
kpi unknown_pace { every year  value sum(sales.amount)  target >= 1 by 2025-12-31  pace steady }
kpi seasonal_ratio { every year  value sum(sales.amount) / count(sales)  target >= 1 by 2025-12-31  pace seasonal }
kpi fine { every quarter  value sum(sales.amount)  target >= 1 by 2026-03-31  pace seasonal }
",
    );
    for needle in [
        "`pace` needs a target with a deadline",
        "the deadline 2025-12-15 does not end a month of the KPI",
        "the months around it end on 2025-11-30 and 2025-12-31",
        "KPI `two` has two deadlines: 2025-12-31 and 2026-12-31",
        "unknown pace `steady`",
        "`pace seasonal` projects a value that adds up over the period, and this one does not",
    ] {
        assert!(
            rendered.contains(needle),
            "expected {needle:?} in:\n{rendered}"
        );
    }
    assert_eq!(resolved, 1, "{rendered}");
    insta::assert_snapshot!("deadline_errors", rendered);
}

#[test]
fn funnels_and_cohorts_are_checked_with_hints() {
    let (rendered, resolved) = validate_project(&sales_project(
        "funnel f {
    entity rep
    step sale = sales
    step goal = targets
}
funnel nokey {
    step sale = sales
}
funnel empty {
    entity rep
    within 0 days
}
cohort c {
    entity rep
    start  sales
    active sales where status == \"paid\"
    periods 2
}
cohort half {
    entity rep
    start  sales
}
funnel ok {
    entity rep
    step sale = sales
    step paid = sales where status == \"paid\"
}
kpi a { value f.sale }
kpi b { value ok.paydd }
kpi c1 { value ok.paid.hours }
kpi d { value c.active(3) }
kpi e { value c.size(1) }
kpi g { value nope.sale }
kpi h { by channel  value ok.paid }
kpi i { value sum(sales.amount where ok.paid.days > 1) }
kpi j { value nokey.sale + empty.sale + half.size }
kpi fine { by region  value ok.paid / ok.sale + c.active(2) / c.size }
",
        "",
        &[],
    ));
    for needle in [
        // The issue's case: a funnel step whose rows lack the entity column.
        "step `goal` of `f` reads `targets`, which has no entity column `rep`",
        "Every step reads rows that carry the entity's key",
        "funnel `ok` has no step `paydd`",
        "a funnel step is read as `ok.paid` (entities that reached it) or `ok.paid.days`",
        "a cohort is read as `c.size` (entities in it) or `c.active(k)` (those active k periods after their start, k from 0 to 2)",
        "`nope` is not a funnel or a cohort",
        "`ok` has no dimension `channel`",
        "`ok`'s numbers inside an aggregate",
        "funnel `nokey` has no `entity`",
        "funnel `empty` has no steps",
        "`within` takes a number of days above 0",
        "cohort `half` has no `active`",
        "cohort `half` has no `periods`",
    ] {
        assert!(rendered.contains(needle), "expected {needle:?} in:\n{rendered}");
    }
    assert_eq!(resolved, 1, "only `fine` resolves:\n{rendered}");
    insta::assert_snapshot!("funnel_and_cohort_errors", rendered);
}

#[test]
fn funnels_with_errors_are_reported_whether_used_or_not() {
    let (rendered, resolved) = validate(
        "funnel broken { entity rep  within 3 days within 4 days  step sale = sales }
funnel unused { entity nope  step sale = sales }
kpi a { value broken.sale }
kpi b { every year  value sum(sales.amount)  target >= 10 when 1 == 1 by 2025-12-31 }
",
    );
    // The funnel with a syntax error is pointed at, not taken for a column.
    assert!(rendered.contains("E0346"), "{rendered}");
    assert!(!rendered.contains("is a column"), "{rendered}");
    // A funnel no KPI reads still has its errors reported.
    assert!(
        rendered
            .contains("step `sale` of `unused` reads `sales`, which has no entity column `nope`"),
        "{rendered}"
    );
    // `when` and `by` in either order.
    assert_eq!(resolved, 1, "{rendered}");
}

/// A project in Russian: a dataset under a quoted TOML key, Cyrillic file, columns and values.
const RU_MANIFEST: &str = r#"
[project]
name = "магазин"
kpis = ["*.kpi"]
history = 1
as_of = "2025-02-28"

[datasets."продажи"]
path = "продажи.csv"
time = "Дата"
fresh = "1 month"
"#;

const RU_CSV: &str = "Дата,Сумма,Канал,Статус\n\
2025-02-01,100.5,Сайт,оплачен\n\
2025-02-03,200,Магазин,оплачен\n\
2025-02-10,50,Сайт,отменён\n\
2025-02-20,49.5,Сайт,оплачен\n";

#[test]
fn names_in_cyrillic_resolve_and_compute() {
    let defs = "view оплаченные = продажи where Статус == \"оплачен\"\n\
                let средний_чек = sum(оплаченные.Сумма) / count(оплаченные)\n\
                kpi Выручка {\n    by          Канал\n    value       sum(оплаченные.Сумма)\n}\n\
                kpi чек {\n    value       средний_чек\n}\n";
    let project = TempProject::new(RU_MANIFEST, &[("d.kpi", defs), ("продажи.csv", RU_CSV)]);
    let (rendered, resolved) = validate_project(&project);
    assert_eq!((rendered.as_str(), resolved), ("", 2));
    let run = project.run("2025-02-28");
    // Paid: 100.5 and 49.5 on Сайт, 200 in Магазин; the cancelled 50 is left out.
    super::assert_value(&run, "Выручка", &["Сайт"], Some(150.0));
    super::assert_value(&run, "Выручка", &["Магазин"], Some(200.0));
    // (100.5 + 200 + 49.5) / 3
    super::assert_value(&run, "чек", &[], Some(350.0 / 3.0));
}

#[test]
fn a_latin_letter_in_a_cyrillic_name_is_flagged_and_explained() {
    // `выручкa` ends in a Latin `a`; `выручка` below is all Cyrillic.
    let defs = "kpi выручкa {\n    value       sum(продажи.Сумма)\n}\n\
                kpi доля {\n    value       выручка / 2\n}\n";
    let project = TempProject::new(RU_MANIFEST, &[("d.kpi", defs), ("продажи.csv", RU_CSV)]);
    let (rendered, _) = validate_project(&project);
    for needle in [
        "W0104",
        "the name `выручкa` mixes scripts",
        "the Latin `a` (letter 7) among Cyrillic letters",
        "did you mean `выручкa`? They look alike, but letter 7 is Cyrillic `а` here and Latin `a` in `выручкa`",
    ] {
        assert!(rendered.contains(needle), "{needle:?} not in:\n{rendered}");
    }
    insta::assert_snapshot!(rendered);
}
