//! How evaluation time and memory grow with rows and with KPIs.
//!
//! Run: `cargo bench --bench engine` (release), or quicker to build:
//! `cargo bench --bench engine --profile dev`. Set `KPI_BENCH_ROWS` to change the row count.
//!
//! It writes a synthetic `orders` dataset (Parquet) to a temporary folder, then evaluates 1, 10 and
//! 40 KPIs over it. Because aggregates over one source share one pass, 40 KPIs should cost far
//! less than 40 times one KPI. Last, it times parsing and resolving 1,000 KPI definitions (issue 7
//! asks for under 50 ms), without computing them.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use kpi::project::{Project, RunOptions};
use polars::prelude::*;

fn main() {
    let rows: usize = std::env::var("KPI_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    write_orders(dir.path(), rows);
    println!("rows: {rows}");
    println!("{:>6} {:>10} {:>12}", "kpis", "seconds", "peak RSS MiB");
    for kpis in [1, 10, 40] {
        write_project(dir.path(), kpis);
        let project = Project::load(dir.path()).expect("the bench project loads");
        let options = RunOptions {
            as_of: chrono::NaiveDate::from_ymd_opt(2025, 12, 31),
            ..RunOptions::default()
        };
        let start = Instant::now();
        let run = project.run(&options);
        let elapsed = start.elapsed().as_secs_f64();
        assert!(run.diagnostics.is_empty(), "{:?}", run.diagnostics);
        assert_eq!(run.outcomes.len(), kpis);
        println!(
            "{kpis:>6} {elapsed:>10.3} {:>12}",
            peak_rss_mib().map(|m| m.to_string()).unwrap_or("?".into())
        );
    }
    // Live rows (`at start`/`at end`) pair each row with the periods it is live in.
    std::fs::write(
        dir.path().join("defs.kpi"),
        "kpi retention {\n value (count(orders at end) - count(orders)) / count(orders at start)\n}\n",
    )
    .expect("definitions written");
    std::fs::write(
        dir.path().join("kpi.toml"),
        "[project]\nname = \"bench\"\nkpis = [\"*.kpi\"]\n[datasets.orders]\npath = \"orders.parquet\"\ntime = \"day\"\nuntil = \"until\"\n",
    )
    .expect("manifest written");
    let project = Project::load(dir.path()).expect("the bench project loads");
    let start = Instant::now();
    let run = project.run(&RunOptions {
        as_of: chrono::NaiveDate::from_ymd_opt(2025, 12, 31),
        ..RunOptions::default()
    });
    assert!(run.diagnostics.is_empty(), "{:?}", run.diagnostics);
    println!(
        "live rows (at start / at end), 1 KPI: {:.3} s, peak RSS {} MiB",
        start.elapsed().as_secs_f64(),
        peak_rss_mib().map(|m| m.to_string()).unwrap_or("?".into())
    );
    // 1,000 definitions: parse (load) and resolve against the schemas (validate opens the
    // Parquet file's footer too), best of five.
    write_project(dir.path(), 1000);
    let (mut parse, mut resolve) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let start = Instant::now();
        let project = Project::load(dir.path()).expect("the bench project loads");
        let loaded = start.elapsed().as_secs_f64();
        let (program, diagnostics) = project.validate();
        let validated = start.elapsed().as_secs_f64() - loaded;
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(program.kpis.len(), 1000);
        parse = parse.min(loaded);
        resolve = resolve.min(validated);
    }
    println!(
        "1000 KPI definitions: parse {:.1} ms, open and resolve {:.1} ms (best of 5)",
        parse * 1000.0,
        resolve * 1000.0
    );
}

/// Deterministic synthetic orders over 2024-2025: a linear congruential generator, no clock.
fn write_orders(dir: &std::path::Path, rows: usize) {
    let mut state: u64 = 42;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let channels = ["ads", "seo", "email", "social", "referral"];
    let regions = ["EU", "NA", "APAC", "LATAM"];
    let mut days = Vec::with_capacity(rows);
    let mut amounts = Vec::with_capacity(rows);
    let mut channel = Vec::with_capacity(rows);
    let mut region = Vec::with_capacity(rows);
    let mut paid = Vec::with_capacity(rows);
    let mut until: Vec<Option<chrono::NaiveDate>> = Vec::with_capacity(rows);
    for _ in 0..rows {
        let day = start + chrono::Duration::days((next() % 731) as i64);
        days.push(day);
        until.push((next() % 3 == 0).then(|| day + chrono::Duration::days((next() % 400) as i64)));
        amounts.push((next() % 100_000) as f64 / 100.0);
        channel.push(channels[(next() % 5) as usize]);
        region.push(regions[(next() % 4) as usize]);
        paid.push(next() % 10 != 0);
    }
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("day".into(), days),
        Column::new("amount".into(), amounts),
        Column::new("channel".into(), channel),
        Column::new("region".into(), region),
        Column::new("paid".into(), paid),
        Column::new("until".into(), until),
    ])
    .expect("a frame");
    let file = std::fs::File::create(dir.join("orders.parquet")).expect("a file");
    ParquetWriter::new(file)
        .finish(&mut df)
        .expect("parquet written");
}

fn write_project(dir: &std::path::Path, kpis: usize) {
    std::fs::write(
        dir.join("kpi.toml"),
        "[project]\nname = \"bench\"\nkpis = [\"*.kpi\"]\n[datasets.orders]\npath = \"orders.parquet\"\ntime = \"day\"\n",
    )
    .expect("manifest written");
    let shapes = [
        "value sum(orders.amount where paid)",
        "by channel\n value count(orders where paid) / count(orders)",
        "by region\n value mean(orders.amount)",
        "value quantile(orders.amount, 0.9)\n target >= previous",
    ];
    let mut text = String::new();
    for i in 0..kpis {
        let shape = shapes[i % shapes.len()];
        text.push_str(&format!(
            "kpi k{i} {{\n where amount >= {i}\n {shape}\n}}\n"
        ));
    }
    std::fs::write(dir.join("defs.kpi"), text).expect("definitions written");
}

/// The peak resident set size of this process, from /proc (Linux only).
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
