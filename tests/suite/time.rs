//! Time (LANGUAGE 4.5 to 4.8, 5.2): windows, per-entity views, funnels, cohorts and pacing,
//! each against numbers worked out by hand on a few rows.
//!
//! The `sales` rows (tests/suite/mod.rs), by month:
//! - 2025-01: EU anna 100 paid, NA boris 50 paid
//! - 2025-02: EU anna 30 paid, EU chen 70 refunded
//! - 2025-03: NA boris 40 paid, EU anna 60 paid, EU chen (no amount) paid

use super::{assert_value, row, sales_project};

#[test]
fn running_totals_accumulate_from_the_start_of_the_year_or_quarter() {
    let run = sales_project(
        "kpi ytd { value running(sum(sales.amount)) }
         kpi ytd_paid { where status == \"paid\"  value running(sum(sales.amount)) }
         kpi qtd { value running(sum(sales.amount), quarter) }
         kpi ytd_last_month { value previous(running(sum(sales.amount))) }
         kpi ytd_rows { value running(count(sales)) }",
        "",
        &[],
    )
    .run("2025-03-31");
    // 150 + 100 + 100 (the row without an amount adds nothing to a sum).
    assert_value(&run, "ytd", &[], Some(350.0));
    // History: January 150, February 150 + 100 = 250, March 350.
    assert_eq!(
        row(&run, "ytd", &[]).history,
        vec![Some(150.0), Some(250.0), Some(350.0)]
    );
    // Paid only: 100 + 50 + 30 + 40 + 60.
    assert_value(&run, "ytd_paid", &[], Some(280.0));
    // The first quarter is January to March.
    assert_value(&run, "qtd", &[], Some(350.0));
    assert_value(&run, "ytd_last_month", &[], Some(250.0));
    // 2 + 2 + 3 rows.
    assert_value(&run, "ytd_rows", &[], Some(7.0));
}

#[test]
fn running_restarts_with_each_year() {
    let csv = "day,region,rep,amount,status
2024-11-05,EU,anna,10,paid
2024-12-05,EU,anna,20,paid
2025-01-05,EU,anna,100,paid
2025-02-05,EU,anna,1,paid
";
    let run = sales_project(
        "kpi ytd { value running(sum(s2.amount)) }",
        "[datasets.s2]\npath = \"s2.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n",
        &[("s2.csv", csv)],
    )
    .run("2025-02-28");
    // December 2024: 10 + 20; January 2025 starts again at 100; February 101.
    assert_eq!(
        row(&run, "ytd", &[]).history,
        vec![Some(30.0), Some(100.0), Some(101.0)]
    );
}

#[test]
fn rolling_windows_recompute_ratios_and_distinct_counts_on_the_window() {
    let run = sales_project(
        "kpi reps_2m { value rolling(count_distinct(sales.rep), 2) }
         kpi paid_per_row_2m { value rolling(sum(sales.amount where status == \"paid\") / count(sales), 2) }
         kpi median_3m { value rolling(median(sales.amount), 3) }
         kpi max_2m { value rolling(max(sales.amount), 2) }
         kpi sum_3m { value rolling(sum(sales.amount), 3) }
         kpi by_region_2m { by region  value rolling(sum(sales.amount), 2) }
         kpi one { value rolling(sum(sales.amount), 1) }",
        "",
        &[],
    )
    .run("2025-03-31");
    // February and March: anna, chen, boris. Adding the monthly counts (2 + 3) would give 5.
    assert_value(&run, "reps_2m", &[], Some(3.0));
    // (30 + 40 + 60) paid over 2 + 3 rows = 26, not the mean of 30/2 and 100/3.
    assert_value(&run, "paid_per_row_2m", &[], Some(26.0));
    // January to March amounts: 30 40 50 60 70 100 -> (50 + 60) / 2.
    assert_value(&run, "median_3m", &[], Some(55.0));
    // February and March: 30 70 40 60.
    assert_value(&run, "max_2m", &[], Some(70.0));
    // January's window reaches back to November and December, which have no rows: 150.
    assert_eq!(
        row(&run, "sum_3m", &[]).history,
        vec![Some(150.0), Some(250.0), Some(350.0)]
    );
    // EU: 30 + 70 + 60; NA: 0 + 40.
    assert_value(&run, "by_region_2m", &["EU"], Some(160.0));
    assert_value(&run, "by_region_2m", &["NA"], Some(40.0));
    assert_value(&run, "one", &[], Some(100.0));
}

/// Paid sales per region, and per rep.
const ENTITY_VIEWS: &str = "
view by_region = sales where status == \"paid\" per region { n = count(), total = sum(amount) }
view by_rep    = sales per rep { n = count(), paid = count(sales where status == \"paid\"), avg = sum(amount) / count() }
";

#[test]
fn per_entity_views_are_built_at_the_reading_kpis_grain_and_dimensions() {
    let defs = ENTITY_VIEWS.to_string()
        + "
kpi repeat { value count(by_region where n >= 2) / count(by_region) }
kpi mean_total { value mean(by_region.total) }
kpi repeat_q { every quarter  value count(by_region where n >= 2) / count(by_region) }
kpi mean_total_q { every quarter  value mean(by_region.total) }
kpi reps_with_paid { value count(by_rep where paid >= 1) }
kpi mean_avg { value mean(by_rep.avg) }
kpi regions_by_rep { by rep  value count(by_region) }
kpi eu_only { where region == \"EU\"  value count(by_region) }
kpi anna_repeat { where rep == \"anna\"  value count(by_region where n >= 2) }
kpi repeat_2m { value rolling(count(by_region where n >= 2), 2) }
kpi repeat_before { value previous(count(by_region where n >= 2)) }
";
    let run = sales_project(&defs, "", &[]).run("2025-03-31");
    // March, paid: EU anna 60 and chen (no amount), NA boris 40. EU has 2 rows, NA 1.
    assert_value(&run, "repeat", &[], Some(1.0 / 2.0));
    // EU 60 (a missing amount adds nothing), NA 40.
    assert_value(&run, "mean_total", &[], Some(50.0));
    // The first quarter, paid: EU 100, 30, 60 and chen's row (4 rows, 190); NA 50, 40 (2, 90).
    assert_value(&run, "repeat_q", &[], Some(1.0));
    assert_value(&run, "mean_total_q", &[], Some(140.0));
    // March by rep, every status: boris 1 row (paid), anna 1 (paid), chen 1 (paid, no amount).
    assert_value(&run, "reps_with_paid", &[], Some(3.0));
    // avg: boris 40 / 1, anna 60 / 1, chen 0 / 1 -> mean 100 / 3.
    assert_value(&run, "mean_avg", &[], Some(100.0 / 3.0));
    // By rep, each rep's paid March rows form one region entity.
    assert_value(&run, "regions_by_rep", &["anna"], Some(1.0));
    assert_value(&run, "regions_by_rep", &["boris"], Some(1.0));
    assert_value(&run, "regions_by_rep", &["chen"], Some(1.0));
    // The KPI's `where` chooses the rows the entities are built from.
    assert_value(&run, "eu_only", &[], Some(1.0));
    // anna's paid March rows: one in EU.
    assert_value(&run, "anna_repeat", &[], Some(0.0));
    // February and March together: EU anna 30, anna 60, chen -> 3 rows; NA boris 40 -> 1.
    assert_value(&run, "repeat_2m", &[], Some(1.0));
    // February alone: EU anna 30 (chen's row is refunded).
    assert_value(&run, "repeat_before", &[], Some(0.0));
}
