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

#[test]
fn per_entity_views_over_integer_keys_keep_every_key_apart() {
    // Integer keys are grouped with the period packed into one integer; keys too large to
    // pack, negative keys and a missing key must still each be one entity of their month.
    let csv = "day,customer
2025-01-03,7
2025-01-04,7
2025-01-05,-3
2025-01-06,9223372036854775807
2025-01-07,9223372036854775807
2025-01-08,
2025-01-09,
2025-02-01,7
2025-02-02,-3
2025-02-03,-3
2025-02-04,9223372036854775807
2025-02-05,-9223372036854775808
2025-03-01,
";
    let run = sales_project(
        "view buyers = o2 per customer { n = count() }
         kpi buyer_count { value count(buyers) }
         kpi repeaters { value count(buyers where n >= 2) }
         kpi most { value max(buyers.n) }
         kpi customers { value count_distinct(o2.customer) }",
        "[datasets.o2]\npath = \"o2.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n",
        &[("o2.csv", csv)],
    )
    .run("2025-03-31");
    // January: 7 (2 rows), -3 (1), the largest key (2), no key (2). February: 7 (1), -3 (2),
    // the largest (1), the smallest (1). March: one row without a key.
    let history = |name: &str| row(&run, name, &[]).history.clone();
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_eq!(
        history("buyer_count"),
        vec![Some(4.0), Some(4.0), Some(1.0)]
    );
    assert_eq!(history("repeaters"), vec![Some(3.0), Some(1.0), Some(0.0)]);
    assert_eq!(history("most"), vec![Some(2.0), Some(2.0), Some(1.0)]);
    // A distinct count leaves the missing key out: none in March, which has a row.
    assert_eq!(history("customers"), vec![Some(3.0), Some(4.0), Some(0.0)]);
}

/// The row of a time-bound KPI, with its status.
fn paced(run: &kpi::project::Run, name: &str) -> kpi::eval::RowOutcome {
    row(run, name, &[]).clone()
}

#[track_caller]
fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value");
    assert!(
        (actual - expected).abs() < 1e-9,
        "expected {expected}, got {actual}"
    );
}

const PACED: &str = "
kpi year { every year  value sum(sales.amount)  target >= 1000 by 2025-12-31 }
kpi quarter { every quarter  value sum(sales.amount)  target >= 500 by 2025-03-31 }
kpi ratio { every quarter  value sum(sales.amount where status == \"paid\") / count(sales)  target >= 50 by 2025-03-31 }
kpi next_quarter { every quarter  value sum(sales.amount)  target >= 100 by 2025-06-30 }
kpi ytd { every month  value running(sum(sales.amount))  target >= 1000 by 2025-12-31 }
";

#[test]
fn time_bound_targets_are_paced_until_their_deadline() {
    use kpi::eval::Status;
    let run = sales_project(PACED, "", &[]).run("2025-02-15");
    // Through 2025-02-15: January 100 + 50, February 30 + 70 (March is after the day).
    // 2025 has 365 days, 46 of them gone (31 + 15).
    let year = paced(&run, "year");
    close(year.value, 250.0);
    close(year.elapsed, 46.0 / 365.0);
    close(year.projection, 250.0 * 365.0 / 46.0);
    close(year.needed, 750.0);
    assert_eq!(year.deadline.as_deref(), Some("2025-12-31"));
    assert_eq!(year.status, Some(Status::OnTrack));
    // The first quarter has 90 days: 250 * 90 / 46 = 489.1 falls short of 500.
    let quarter = paced(&run, "quarter");
    close(quarter.projection, 250.0 * 90.0 / 46.0);
    assert_eq!(quarter.status, Some(Status::AtRisk));
    assert_eq!(super::outcome(&run, "quarter").period, "2025-Q1");
    // A ratio is not projected: (100 + 50 + 30) paid over 4 rows = 45, below 50.
    let ratio = paced(&run, "ratio");
    close(ratio.value, 45.0);
    assert_eq!(ratio.projection, None);
    assert_eq!(ratio.needed, None);
    assert_eq!(ratio.status, Some(Status::AtRisk));
    // The second quarter has not begun: nothing to judge yet.
    let next = paced(&run, "next_quarter");
    assert_eq!(next.status, Some(Status::NoData));
    assert_eq!(next.elapsed, Some(0.0));
    assert!(next.reason.unwrap().contains("has not begun"));
    // A running sum accrues from 1 January: judged in February, projected to the year's end.
    let ytd = paced(&run, "ytd");
    assert_eq!(super::outcome(&run, "ytd").period, "2025-02");
    close(ytd.value, 250.0);
    close(ytd.projection, 250.0 * 365.0 / 46.0);
    assert_eq!(ytd.status, Some(Status::OnTrack));
}

#[test]
fn after_the_deadline_a_time_bound_target_is_met_or_missed() {
    use kpi::eval::Status;
    // The data (through 2025-03-20, fresh for a month) cover the whole first quarter.
    let run = sales_project(PACED, "", &[]).run("2025-04-15");
    let quarter = paced(&run, "quarter");
    // 150 + 100 + 100.
    close(quarter.value, 350.0);
    close(quarter.elapsed, 1.0);
    assert_eq!(quarter.projection, None);
    assert_eq!(quarter.status, Some(Status::Missed));
    // The year is still in progress: 350 over 105 days.
    close(paced(&run, "year").projection, 350.0 * 365.0 / 105.0);
}

#[test]
fn seasonal_pace_projects_with_last_years_shape() {
    use kpi::eval::Status;
    let csv = "day,region,rep,amount,status
2024-01-10,EU,anna,100,paid
2024-07-10,EU,anna,300,paid
2025-01-10,EU,anna,120,paid
2025-02-10,EU,anna,10,paid
";
    let run = sales_project(
        "kpi year { every year  value sum(s2.amount)  target >= 500 by 2025-12-31  pace seasonal }
         kpi linear { every year  value sum(s2.amount)  target >= 500 by 2025-12-31 }",
        "[datasets.s2]\npath = \"s2.csv\"\ntime = \"day\"\nfresh = \"1 month\"\n",
        &[("s2.csv", csv)],
    )
    .run("2025-01-31");
    // By 31 January 2024, 100 of the year's 400 had come in: a quarter. 120 / 0.25 = 480.
    let year = paced(&run, "year");
    close(year.value, 120.0);
    close(year.projection, 480.0);
    assert_eq!(year.status, Some(Status::AtRisk));
    // Linear: 120 * 365 / 31 is far above 500.
    close(paced(&run, "linear").projection, 120.0 * 365.0 / 31.0);
    assert_eq!(paced(&run, "linear").status, Some(Status::OnTrack));
}

#[test]
fn seasonal_pace_without_last_year_says_why() {
    let run = sales_project(
        "kpi year { every year  value sum(sales.amount)  target >= 500 by 2025-12-31  pace seasonal }",
        "",
        &[],
    )
    .run("2025-03-31");
    let year = paced(&run, "year");
    assert_eq!(year.projection, None);
    assert_eq!(year.status, Some(kpi::eval::Status::NoData));
    assert!(year.reason.unwrap().contains("a year earlier"));
}

/// Leads: created, qualified (mql_at) and won (won_at), by channel.
const DEALS: &str = "lead_id,created,mql_at,won_at,channel
1,2025-01-05,2025-01-06,2025-02-01,ads
2,2025-01-10,2025-01-09,,ads
3,2025-01-20,2025-01-25,2025-03-30,seo
4,2025-02-03,2025-02-04,2025-02-10,seo
";

const FUNNEL: &str = "
funnel f {
    title  \"Deals\"
    entity lead_id
    step lead = deals
    step mql  = deals on mql_at
    step won  = deals on won_at
    within 30 days
}
kpi conv { value f.won / f.lead  target >= 50% }
kpi conv_by { by channel  value f.won / f.lead }
kpi mql_days { value f.mql.days }
kpi won_days { value f.won.days }
kpi leads_in { value f.lead }
kpi ads_conv { where channel == \"ads\"  value f.won / f.lead }
";

fn funnel_run(as_of: &str) -> kpi::project::Run {
    sales_project(
        FUNNEL,
        "[datasets.deals]\npath = \"deals.csv\"\ntime = \"created\"\nfresh = \"1 month\"\n",
        &[("deals.csv", DEALS)],
    )
    .run(as_of)
}

#[test]
fn funnels_follow_each_entity_through_ordered_steps_within_the_window() {
    // On 2025-03-15 January's cohort is mature (31 January + 30 days = 2 March) and February's
    // is not (28 February + 30 days = 30 March).
    let run = funnel_run("2025-03-15");
    let conv = super::outcome(&run, "conv");
    assert_eq!(conv.period, "2025-01");
    assert_eq!(conv.maturing, vec!["2025-02".to_string()]);
    // January: leads 1, 2, 3. Lead 2 qualified before it arrived (not in order); lead 3 was
    // won 69 days after arriving (outside the 30 days). Lead 1 went all the way.
    assert_value(&run, "leads_in", &[], Some(3.0));
    assert_value(&run, "conv", &[], Some(1.0 / 3.0));
    assert_value(&run, "conv_by", &["ads"], Some(1.0 / 2.0));
    assert_value(&run, "conv_by", &["seo"], Some(0.0));
    // Qualified after 1 day (lead 1) and 5 days (lead 3); won after 27 days (lead 1).
    assert_value(&run, "mql_days", &[], Some(3.0));
    assert_value(&run, "won_days", &[], Some(27.0));
    // The KPI's `where` chooses the leads that enter: ads only.
    assert_value(&run, "ads_conv", &[], Some(1.0 / 2.0));
    // February's cohort (lead 4, won after 7 days) is maturing: reported, never judged.
    let row = row(&run, "conv", &[]);
    assert_eq!(row.maturing, vec![Some(1.0)]);
    assert_eq!(row.status, Some(kpi::eval::Status::Missed));
    // The funnel of the judged cohort, step by step.
    let steps = row.funnel.clone().expect("the funnel is drawn");
    let counts: Vec<Option<f64>> = steps.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![Some(3.0), Some(2.0), Some(1.0)]);
    assert_eq!(steps[1].from_previous, Some(2.0 / 3.0));
    assert_eq!(steps[2].from_previous, Some(1.0 / 2.0));
    assert_eq!(steps[2].from_first, Some(1.0 / 3.0));
    assert_eq!(steps[1].days, Some(3.0));
    assert_eq!(steps[2].days, Some(27.0));
    // Two weeks later February's window has closed too.
    let later = funnel_run("2025-03-31");
    assert_eq!(super::outcome(&later, "conv").period, "2025-02");
    assert_value(&later, "conv", &[], Some(1.0));
}

/// Signups and purchases: customer 1 signs up in January and buys in January and March;
/// customer 2 signs up in January and buys in February; customer 3 signs up in February and
/// buys in April; customer 4 signs up in March and never buys.
const SIGNUPS: &str = "customer_id,signed_up,segment
1,2025-01-03,smb
2,2025-01-20,mid
3,2025-02-10,smb
4,2025-03-05,smb
";
const BUYS: &str = "customer_id,day,amount
1,2025-01-04,10
1,2025-03-10,10
2,2025-02-11,10
2,2025-02-12,10
3,2025-04-01,10
9,2025-01-05,10
";

fn cohort_run(defs: &str, as_of: &str) -> kpi::project::Run {
    sales_project(
        defs,
        "[datasets.signups]\npath = \"signups.csv\"\ntime = \"signed_up\"\nfresh = \"3 months\"\n\
         [datasets.buys]\npath = \"buys.csv\"\ntime = \"day\"\nfresh = \"3 months\"\n",
        &[("signups.csv", SIGNUPS), ("buys.csv", BUYS)],
    )
    .run(as_of)
}

const COHORT: &str = "
cohort c {
    entity  customer_id
    start   signups
    active  buys
    periods 3
}
kpi m1 { value c.active(1) / c.size  target >= 50% }
kpi m2 { value c.active(2) / c.size }
kpi size { value c.size }
kpi m0_by { by segment  value c.active(0) }
";

#[test]
fn cohorts_are_dated_by_their_start_and_judged_once_mature() {
    // On 2025-04-30 the last complete month is April: mature for age 2 is February's cohort
    // and older; for age 1, March's.
    let run = cohort_run(COHORT, "2025-04-30");
    assert_eq!(super::outcome(&run, "m2").period, "2025-02");
    assert_eq!(
        super::outcome(&run, "m2").maturing,
        vec!["2025-03".to_string(), "2025-04".to_string()]
    );
    assert_eq!(super::outcome(&run, "m1").period, "2025-03");
    // February's cohort: customer 3, who bought in April (age 2), not in March (age 1).
    assert_value(&run, "m2", &[], Some(1.0));
    // March's cohort: customer 4, who never bought.
    assert_value(&run, "m1", &[], Some(0.0));
    // January's cohort at age 1 (February): customer 2 of customers 1 and 2.
    assert_eq!(
        row(&run, "m1", &[]).history.first().copied().flatten(),
        Some(0.5)
    );
    // The size alone reads age 0, so it is judged on April, which has no signups; March's 1
    // is the history's last but one.
    assert_eq!(super::outcome(&run, "size").period, "2025-04");
    assert_value(&run, "size", &[], Some(0.0));
    let sizes = &row(&run, "size", &[]).history;
    assert_eq!(sizes[sizes.len() - 2], Some(1.0));
    // By segment, each customer in the segment of its signup: January, age 0: customer 1 (smb).
    let m0 = cohort_run(COHORT, "2025-01-31");
    assert_value(&m0, "m0_by", &["smb"], Some(1.0));
    assert_value(&m0, "m0_by", &["mid"], Some(0.0));
}

#[test]
fn the_cohort_triangle_has_a_share_per_cohort_and_completed_age() {
    let run = cohort_run(COHORT, "2025-04-30");
    let table = row(&run, "m1", &[])
        .cohort
        .clone()
        .expect("the triangle is drawn");
    let at = |cohort: &str| table.cohorts.iter().position(|c| c == cohort).unwrap();
    let jan = at("2025-01");
    assert_eq!(table.sizes[jan], Some(2.0));
    // January: age 0 customer 1; age 1 customer 2; age 2 customer 1; age 3 (April) nobody.
    assert_eq!(
        table.shares[jan],
        vec![Some(0.5), Some(0.5), Some(0.5), Some(0.0)]
    );
    // March: ages 0 and 1 are complete on 2025-04-30, ages 2 and 3 are not.
    let mar = at("2025-03");
    assert_eq!(table.shares[mar], vec![Some(0.0), Some(0.0), None, None]);
}

#[test]
fn funnels_and_cohorts_never_read_past_the_evaluation_day() {
    // Without `within`, January's lead 3 is won on 03-30: not yet on 2025-02-28.
    let defs = "funnel g { entity lead_id  step lead = deals  step mql = deals on mql_at  step won = deals on won_at }
kpi conv { value g.won / g.lead }";
    let run = |as_of: &str| {
        sales_project(
            defs,
            "[datasets.deals]\npath = \"deals.csv\"\ntime = \"created\"\nfresh = \"2 months\"\n",
            &[("deals.csv", DEALS)],
        )
        .run(as_of)
    };
    let history = |r: &kpi::project::Run| row(r, "conv", &[]).history.clone();
    // January's cohort: leads 1, 2, 3; won by 02-28: lead 1 only; by 03-31: leads 1 and 3.
    assert_eq!(
        history(&run("2025-02-28")).first().copied().flatten(),
        Some(1.0 / 3.0)
    );
    assert_eq!(history(&run("2025-03-31"))[0], Some(2.0 / 3.0));
    // A cohort's activity likewise: February's customer 3 buys on 04-01, after 03-31.
    let run = cohort_run(COHORT, "2025-03-31");
    let m2 = row(&run, "m2", &[]);
    assert_eq!(super::outcome(&run, "m2").maturing[0], "2025-02");
    assert_eq!(m2.maturing[0], Some(0.0));
}

#[test]
fn a_dimension_value_seen_only_in_maturing_cohorts_is_not_a_row() {
    let deals = format!("{DEALS}9,2025-03-10,2025-03-11,,tv\n");
    let run = sales_project(
        "funnel f { entity lead_id  step lead = deals  step won = deals on won_at  within 30 days }
kpi ct { by channel  value f.won / f.lead  target >= 0% }",
        "[datasets.deals]\npath = \"deals.csv\"\ntime = \"created\"\nfresh = \"2 months\"\n",
        &[("deals.csv", deals.as_str())],
    )
    .run("2025-03-15");
    let outcome = super::outcome(&run, "ct");
    // Judged on January: ads and seo; tv's only lead arrived in March, still maturing.
    let channels: Vec<&str> = outcome
        .rows
        .iter()
        .map(|r| r.dimensions[0].1.as_str())
        .collect();
    assert_eq!(channels, vec!["ads", "seo"]);
    assert_eq!(outcome.status, Some(kpi::eval::Status::Met));
}

#[test]
fn a_paced_running_value_is_judged_against_the_deadline_periods_target() {
    // 100 sold on the 15th of every month of 2025, against a plan of 100 a month.
    let mut sales = String::from("day,region,rep,amount,status\n");
    let mut plan = String::from("month,region,goal\n");
    for m in 1..=12 {
        sales.push_str(&format!("2025-{m:02}-15,EU,anna,100,paid\n"));
        plan.push_str(&format!("2025-{m:02}-01,EU,100\n"));
    }
    let run = sales_project(
        "kpi ytd { value running(sum(s2.amount))  target >= running(sum(p2.goal)) by 2025-12-31 }",
        "[datasets.s2]\npath = \"s2.csv\"\ntime = \"day\"\nfresh = \"1 year\"\n\
         [datasets.p2]\npath = \"p2.csv\"\ntime = \"month\"\nfresh = \"1 year\"\n",
        &[("s2.csv", sales.as_str()), ("p2.csv", plan.as_str())],
    )
    .run("2025-03-10");
    let ytd = paced(&run, "ytd");
    // Through 03-10: January and February, 200; 69 of 365 days gone. The target is the whole
    // year's plan, 1,200 (not the 300 planned through March): 200 * 365 / 69 = 1,058 falls short.
    close(ytd.value, 200.0);
    assert_eq!(ytd.target.as_ref().and_then(|t| t.value), Some(1200.0));
    close(ytd.projection, 200.0 * 365.0 / 69.0);
    close(ytd.needed, 1000.0);
    assert_eq!(ytd.status, Some(kpi::eval::Status::AtRisk));
    // A time-bound target is for its deadline's period: January and February are not judged.
    assert_eq!(
        ytd.history_status,
        vec![None, None, Some(kpi::eval::Status::AtRisk)]
    );
}

#[test]
fn weekly_running_values_accrue_from_the_first_iso_week() {
    // 10 a day from 2024-12-30, the Monday of 2025-W01.
    let mut sales = String::from("day,region,rep,amount,status\n");
    let mut day = chrono::NaiveDate::from_ymd_opt(2024, 12, 30).unwrap();
    while day <= chrono::NaiveDate::from_ymd_opt(2025, 1, 20).unwrap() {
        sales.push_str(&format!("{day},EU,anna,10,paid\n"));
        day += chrono::Duration::days(1);
    }
    let run = sales_project(
        "kpi wr { every week  value running(sum(s2.amount))  target >= 3640 by 2025-12-28 }",
        "[datasets.s2]\npath = \"s2.csv\"\ntime = \"day\"\nfresh = \"1 year\"\n",
        &[("s2.csv", sales.as_str())],
    )
    .run("2025-01-01");
    // ISO year 2025 runs from 2024-12-30 to 2025-12-28, 364 days; by 01-01, 3 of them: 30.
    let wr = paced(&run, "wr");
    close(wr.value, 30.0);
    close(wr.elapsed, 3.0 / 364.0);
    close(wr.projection, 3640.0);
    assert_eq!(wr.status, Some(kpi::eval::Status::OnTrack));
}

#[test]
fn a_funnels_later_steps_count_for_freshness() {
    // Wins are a dataset of their own whose extract stops on 01-10: January's cohort cannot be
    // judged, and the reason names that dataset, not the leads.
    let run = sales_project(
        "funnel f { entity lead_id  step lead = deals  step won = wins }
kpi conv { value f.won / f.lead }",
        "[datasets.deals]\npath = \"deals.csv\"\ntime = \"created\"\nfresh = \"2 months\"\n\
         [datasets.wins]\npath = \"wins.csv\"\ntime = \"won_at\"\n",
        &[
            ("deals.csv", DEALS),
            ("wins.csv", "lead_id,won_at\n1,2025-01-10\n"),
        ],
    )
    .run("2025-01-31");
    let conv = row(&run, "conv", &[]);
    assert_eq!(conv.value, None);
    assert_eq!(
        conv.reason.as_deref(),
        Some("`wins` has data only through 2025-01-10")
    );
}

#[test]
fn an_entity_entering_twice_at_once_takes_the_first_dimension_values_whatever_the_file_order() {
    // Lead 7 has two entry rows at the same time, one by `seo` and one by `ads`: it enters
    // once, by `ads` (the first as text), whichever row the file has first.
    for rows in [
        "7,2025-01-05,,2025-01-20,seo\n7,2025-01-05,,,ads\n",
        "7,2025-01-05,,,ads\n7,2025-01-05,,2025-01-20,seo\n",
    ] {
        let deals = format!("lead_id,created,mql_at,won_at,channel\n{rows}8,2025-01-06,,,seo\n");
        let run = sales_project(
            "funnel f { entity lead_id  step lead = deals  step won = deals on won_at  within 30 days }
kpi leads_by { by channel  value f.lead }
kpi won_by { by channel  value f.won }",
            "[datasets.deals]\npath = \"deals.csv\"\ntime = \"created\"\nfresh = \"2 months\"\n",
            &[("deals.csv", deals.as_str())],
        )
        .run("2025-03-15");
        assert_value(&run, "leads_by", &["ads"], Some(1.0));
        assert_value(&run, "leads_by", &["seo"], Some(1.0));
        // Lead 7 was won (a row of `won` on 2025-01-20), and it counts under `ads`.
        assert_value(&run, "won_by", &["ads"], Some(1.0));
        assert_value(&run, "won_by", &["seo"], Some(0.0));
    }
}
