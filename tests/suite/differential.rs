//! KPIs of the example company against the same numbers computed by hand-written polars
//! queries over its data files, independent of the compiler.

use polars::prelude::*;

use super::{assert_value, example, row, run_project};

fn csv(name: &str) -> LazyFrame {
    let path = example().join("data").join(name);
    LazyCsvReader::new(PlRefPath::new(path.to_str().unwrap()))
        .with_has_header(true)
        .with_try_parse_dates(true)
        .finish()
        .unwrap()
}

fn month_of(c: &str) -> Expr {
    col(c).dt().year().cast(DataType::Int32) * lit(100) + col(c).dt().month().cast(DataType::Int32)
}

fn scalar(df: &DataFrame, column: &str) -> f64 {
    df.column(column)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
        .unwrap()
}

#[test]
fn revenue_cost_per_lead_and_retention_match_hand_written_polars() {
    let run = run_project(&example(), "2025-12-31");

    // Revenue: paid orders of December 2025.
    let revenue = csv("orders.csv")
        .filter(
            col("status")
                .eq(lit("paid"))
                .and(month_of("order_date").eq(lit(202512))),
        )
        .select([col("amount").sum()])
        .collect()
        .unwrap();
    assert_value(&run, "revenue", &[], Some(scalar(&revenue, "amount")));

    // Cost per lead for ads: December spend over December leads.
    let spend = csv("spend.csv")
        .filter(
            col("channel")
                .eq(lit("ads"))
                .and(month_of("date").eq(lit(202512))),
        )
        .select([col("amount").sum()])
        .collect()
        .unwrap();
    let leads = csv("leads.csv")
        .filter(
            col("channel")
                .eq(lit("ads"))
                .and(month_of("created_at").eq(lit(202512))),
        )
        .select([len().alias("n")])
        .collect()
        .unwrap();
    let expected = scalar(&spend, "amount") / scalar(&leads, "n");
    let actual = row(&run, "cost_per_lead", &["ads"]).value.unwrap();
    assert!((actual - expected).abs() < 1e-9, "{actual} vs {expected}");

    // Retention for December: live at 12-01, live at 2026-01-01, new in December.
    let start = chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
    let end = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let live = |at: chrono::NaiveDate| {
        col("signup_date").lt(lit(at)).and(
            col("churn_date")
                .is_null()
                .or(col("churn_date").gt_eq(lit(at))),
        )
    };
    let counts = csv("customers.csv")
        .select([
            live(start).cast(DataType::Int64).sum().alias("start"),
            live(end).cast(DataType::Int64).sum().alias("end"),
            month_of("signup_date")
                .eq(lit(202512))
                .cast(DataType::Int64)
                .sum()
                .alias("new"),
        ])
        .collect()
        .unwrap();
    let expected = (scalar(&counts, "end") - scalar(&counts, "new")) / scalar(&counts, "start");
    let actual = row(&run, "customer_retention_rate", &[]).value.unwrap();
    assert!((actual - expected).abs() < 1e-12, "{actual} vs {expected}");

    // Mean sales cycle of anna's deals won in December, in days between timestamps.
    let cycle = csv("leads.csv")
        .filter(
            col("won")
                .and(col("rep").eq(lit("anna")))
                .and(month_of("won_at").eq(lit(202512))),
        )
        .select([((col("won_at")
            .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
            .cast(DataType::Int64)
            - col("created_at")
                .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
                .cast(DataType::Int64))
        .cast(DataType::Float64)
            / lit(86_400_000.0))
        .mean()
        .alias("days")])
        .collect()
        .unwrap();
    let expected = scalar(&cycle, "days");
    let actual = row(&run, "sales_cycle_length", &["anna"]).value.unwrap();
    assert!((actual - expected).abs() < 1e-9, "{actual} vs {expected}");
}

#[test]
fn lookups_targets_from_data_and_live_rows_match_hand_written_polars() {
    let run = run_project(&example(), "2025-12-31");

    // Average order value by segment: paid December orders joined with their customer's segment.
    let aov = csv("orders.csv")
        .filter(
            col("status")
                .eq(lit("paid"))
                .and(month_of("order_date").eq(lit(202512))),
        )
        .join(
            csv("customers.csv").select([col("customer_id"), col("segment")]),
            [col("customer_id")],
            [col("customer_id")],
            JoinArgs::new(JoinType::Left),
        )
        .filter(col("segment").eq(lit("enterprise")))
        .select([(col("amount").sum() / len().cast(DataType::Float64)).alias("aov")])
        .collect()
        .unwrap();
    let actual = row(&run, "average_order_value", &["enterprise"])
        .value
        .unwrap();
    assert!((actual - scalar(&aov, "aov")).abs() < 1e-9);

    // Revenue against plan in EU: the target is the plan's December EU line.
    let plan = csv("plan.csv")
        .filter(
            col("region")
                .eq(lit("EU"))
                .and(month_of("month").eq(lit(202512))),
        )
        .select([col("revenue_target").sum()])
        .collect()
        .unwrap();
    let target = row(&run, "revenue_vs_plan", &["EU"])
        .target
        .clone()
        .unwrap();
    assert_eq!(target.value, Some(scalar(&plan, "revenue_target")));

    // Churn: customers whose churn_date is in December over those live on December 1st.
    let start = chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
    let counts = csv("customers.csv")
        .select([
            month_of("churn_date")
                .eq(lit(202512))
                .cast(DataType::Int64)
                .sum()
                .alias("churned"),
            col("signup_date")
                .lt(lit(start))
                .and(
                    col("churn_date")
                        .is_null()
                        .or(col("churn_date").gt_eq(lit(start))),
                )
                .cast(DataType::Int64)
                .sum()
                .alias("start"),
        ])
        .collect()
        .unwrap();
    let expected = scalar(&counts, "churned") / scalar(&counts, "start");
    let actual = row(&run, "churn_rate", &[]).value.unwrap();
    assert!((actual - expected).abs() < 1e-12, "{actual} vs {expected}");
}

/// The value of an ad hoc expression on the example, as `kpi eval` computes it.
fn adhoc(expr: &str, by: &[&str], as_of: &str) -> kpi::project::Run {
    let mut project = kpi::project::Project::load(&example()).unwrap();
    let by: Vec<String> = by.iter().map(|s| s.to_string()).collect();
    let kpi = project.adhoc_kpi(expr, &by, None).unwrap();
    let run = project.run_adhoc(
        &kpi,
        &kpi::project::RunOptions {
            as_of: Some(super::date(as_of)),
            ..Default::default()
        },
    );
    assert!(
        run.diagnostics.iter().all(|d| !d.is_error()),
        "{:#?}",
        run.diagnostics
    );
    run
}

#[test]
fn windows_match_hand_written_polars() {
    let run = run_project(&example(), "2025-12-31");
    let quarter = || {
        month_of("order_date")
            .gt_eq(lit(202510))
            .and(month_of("order_date").lt_eq(lit(202512)))
    };

    // Rolling 3-month ROAS for ads: October to December campaign revenue over spend.
    let revenue = csv("orders.csv")
        .filter(
            col("status")
                .eq(lit("paid"))
                .and(col("campaign").is_not_null())
                .and(col("channel").eq(lit("ads")))
                .and(quarter()),
        )
        .select([col("amount").sum()])
        .collect()
        .unwrap();
    let spend = csv("spend.csv")
        .filter(
            col("channel").eq(lit("ads")).and(
                month_of("date")
                    .gt_eq(lit(202510))
                    .and(month_of("date").lt_eq(lit(202512))),
            ),
        )
        .select([col("amount").sum()])
        .collect()
        .unwrap();
    let expected = scalar(&revenue, "amount") / scalar(&spend, "amount");
    let actual = row(&run, "roas_rolling_3m", &["ads"]).value.unwrap();
    assert!((actual - expected).abs() < 1e-9, "{actual} vs {expected}");

    // Distinct paying customers over October to December, by channel: not the sum of the
    // three monthly counts.
    let run = adhoc(
        "rolling(count_distinct(orders.customer_id where status == \"paid\"), 3)",
        &["channel"],
        "2025-12-31",
    );
    let distinct = csv("orders.csv")
        .filter(
            col("status")
                .eq(lit("paid"))
                .and(col("channel").eq(lit("seo")))
                .and(quarter()),
        )
        .select([col("customer_id").n_unique().alias("n")])
        .collect()
        .unwrap();
    assert_value(&run, "eval", &["seo"], Some(scalar(&distinct, "n")));

    // Revenue year to date in EU through December.
    let run = adhoc("running(sum(orders.amount))", &["region"], "2025-12-31");
    let ytd = csv("orders.csv")
        .filter(
            col("region")
                .eq(lit("EU"))
                .and(col("order_date").dt().year().eq(lit(2025))),
        )
        .select([col("amount").sum()])
        .collect()
        .unwrap();
    let actual = row(&run, "eval", &["EU"]).value.unwrap();
    let expected = scalar(&ytd, "amount");
    assert!((actual - expected).abs() < 1e-6, "{actual} vs {expected}");
}

#[test]
fn per_entity_views_match_hand_written_polars() {
    // Repeat purchase rate by channel in December 2025: customers with two paid orders or more
    // in the channel, over customers with one or more.
    let run = run_project(&example(), "2025-12-31");
    let per_customer = csv("orders.csv")
        .filter(
            col("status")
                .eq(lit("paid"))
                .and(month_of("order_date").eq(lit(202512)))
                .and(col("channel").eq(lit("email"))),
        )
        .group_by([col("customer_id")])
        .agg([len().alias("orders")])
        .select([
            col("orders")
                .gt_eq(lit(2))
                .cast(DataType::Float64)
                .sum()
                .alias("repeat"),
            len().cast(DataType::Float64).alias("all"),
        ])
        .collect()
        .unwrap();
    let expected = scalar(&per_customer, "repeat") / scalar(&per_customer, "all");
    let by_channel = adhoc(
        "count(buyers where orders >= 2) / count(buyers)",
        &["channel"],
        "2025-12-31",
    );
    assert_value(&by_channel, "eval", &["email"], Some(expected));

    // Mean spend per buyer, over all channels.
    let spend = csv("orders.csv")
        .filter(
            col("status")
                .eq(lit("paid"))
                .and(month_of("order_date").eq(lit(202512))),
        )
        .group_by([col("customer_id")])
        .agg([col("amount").sum().alias("spent")])
        .select([col("spent").mean()])
        .collect()
        .unwrap();
    let whole = adhoc("mean(buyers.spent)", &[], "2025-12-31");
    let actual = row(&whole, "eval", &[]).value.unwrap();
    let expected = scalar(&spend, "spent");
    assert!((actual - expected).abs() < 1e-6, "{actual} vs {expected}");
    assert!(row(&run, "repeat_purchase_rate", &[]).value.is_some());
}

#[test]
fn funnels_and_cohorts_match_hand_written_polars() {
    let run = run_project(&example(), "2025-12-31");
    // Lead to deal within 90 days, ads: September 2025's leads (the last cohort whose 90 days
    // are over on 2025-12-31), won after qualifying and becoming an opportunity, in that order,
    // within 90 days of arriving.
    let ms = |c: &str| {
        col(c)
            .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
            .cast(DataType::Int64)
    };
    let leads = csv("leads.csv")
        .filter(
            month_of("created_at")
                .eq(lit(202509))
                .and(col("channel").eq(lit("ads"))),
        )
        .select([
            len().cast(DataType::Float64).alias("lead"),
            (col("is_mql")
                .and(col("is_opportunity"))
                .and(col("won"))
                .and(ms("mql_at").gt_eq(ms("created_at")))
                .and(ms("opportunity_at").gt_eq(ms("mql_at")))
                .and(ms("won_at").gt_eq(ms("opportunity_at")))
                .and(ms("won_at").lt_eq(ms("created_at") + lit(90i64 * 86_400_000)))
                .fill_null(lit(false)))
            .cast(DataType::Float64)
            .sum()
            .alias("won"),
        ])
        .collect()
        .unwrap();
    let expected = scalar(&leads, "won") / scalar(&leads, "lead");
    assert_eq!(super::outcome(&run, "lead_to_deal_90d").period, "2025-09");
    let actual = row(&run, "lead_to_deal_90d", &["ads"]).value.unwrap();
    assert!((actual - expected).abs() < 1e-12, "{actual} vs {expected}");

    // Retention at month 3: September 2025's signups who paid for an order in December.
    let cohort = csv("customers.csv")
        .filter(month_of("signup_date").eq(lit(202509)))
        .select([col("customer_id")]);
    let size = cohort.clone().select([len().alias("n")]).collect().unwrap();
    let active = csv("orders.csv")
        .filter(
            col("status")
                .eq(lit("paid"))
                .and(month_of("order_date").eq(lit(202512))),
        )
        .select([col("customer_id")])
        .join(
            cohort,
            [col("customer_id")],
            [col("customer_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col("customer_id").n_unique().alias("n")])
        .collect()
        .unwrap();
    let expected = scalar(&active, "n") / scalar(&size, "n");
    assert_value(&run, "retained_m3", &[], Some(expected));
}

#[test]
fn time_bound_goals_match_hand_written_polars() {
    // The company's 2026 goals (examples/acme/kpis/goals_2026.kpi), as of the manifest's day:
    // 2026-02-15 is day 46 of 365 of the year and of 90 of the first quarter.
    use kpi::eval::Status;
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let run = run_project(&example(), "2026-02-15");
    let paid_between = |region: &str, from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let df = csv("orders.csv")
            .filter(
                col("status")
                    .eq(lit("paid"))
                    .and(col("region").eq(lit(region)))
                    .and(col("order_date").gt_eq(lit(from)))
                    .and(col("order_date").lt_eq(lit(to))),
            )
            .select([col("amount").sum()])
            .collect()
            .unwrap();
        scalar(&df, "amount")
    };
    let close = |a: f64, e: f64, what: &str| {
        assert!(
            (a - e).abs() <= 1e-9 * e.abs().max(1.0),
            "{what}: {a} vs {e}"
        );
    };

    // Revenue 2026 per region against the sum of the region's 2026 plan, paced seasonally: the
    // projection is the year so far over the share of 2025 that had accrued by 15 February.
    for region in ["APAC", "EU", "LATAM", "NA"] {
        let so_far = paid_between(region, day(2026, 1, 1), day(2026, 2, 15));
        let year_ago_so_far = paid_between(region, day(2025, 1, 1), day(2025, 2, 15));
        let year_ago = paid_between(region, day(2025, 1, 1), day(2025, 12, 31));
        let plan = csv("plan.csv")
            .filter(
                col("region")
                    .eq(lit(region))
                    .and(col("month").dt().year().eq(lit(2026))),
            )
            .select([col("revenue_target").sum()])
            .collect()
            .unwrap();
        let target = scalar(&plan, "revenue_target");
        let projection = so_far / (year_ago_so_far / year_ago);

        let r = row(&run, "revenue_2026_vs_plan", &[region]);
        close(r.value.unwrap(), so_far, region);
        close(r.target.as_ref().unwrap().value.unwrap(), target, region);
        close(r.projection.unwrap(), projection, region);
        close(r.needed.unwrap(), target - so_far, region);
        close(r.elapsed.unwrap(), 46.0 / 365.0, region);
        assert_eq!(r.deadline.as_deref(), Some("2026-12-31"));
        let expected = if projection >= target {
            Status::OnTrack
        } else {
            Status::AtRisk
        };
        assert_eq!(r.status, Some(expected), "{region}");
    }

    // New customers in 2026-Q1, paced linearly: the count so far times 90 / 46.
    let signups = csv("customers.csv")
        .filter(
            col("signup_date")
                .gt_eq(lit(day(2026, 1, 1)))
                .and(col("signup_date").lt_eq(lit(day(2026, 2, 15)))),
        )
        .select([len().alias("n")])
        .collect()
        .unwrap();
    let so_far = scalar(&signups, "n");
    let r = row(&run, "new_customers_q1_2026", &[]);
    close(r.value.unwrap(), so_far, "new customers");
    close(r.projection.unwrap(), so_far * 90.0 / 46.0, "new customers");
    close(r.needed.unwrap(), 190.0 - so_far, "new customers");
    let expected = if so_far * 90.0 / 46.0 >= 190.0 {
        Status::OnTrack
    } else {
        Status::AtRisk
    };
    assert_eq!(r.status, Some(expected));
}
