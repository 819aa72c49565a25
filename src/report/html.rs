//! HTML for people: one self-contained page (inline SVG charts, the CSS and JavaScript of
//! `html/`, system fonts, nothing from the network) that works from a CI artifact or a laptop
//! offline.
//!
//! - a headline with the counts by status, and a legend of the marks and lines;
//! - filters by status, owner and tag (JavaScript; the page shows everything without it);
//! - an overview grid: a card per KPI, coloured by status and marked by shape and words, worst
//!   first;
//! - per KPI, in the same order: its file and line, description, owner and tags; a chart of its
//!   history against its target line or band with the warn zone shaded and the judged period
//!   marked (small multiples on one scale for a KPI split by dimensions); the progress to a
//!   deadline; a funnel's step bars; a cohort's triangle as a heat map;
//! - the errors, each with its file, line and column.
//!
//! Markup is written with `maud`, which escapes every text and attribute.

mod chart;

use std::collections::BTreeSet;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use self::chart::{Mark, Scale};
use super::format::{rows_without_value, target_text};
use super::Report;
use crate::compile::ir::Format;
use crate::diagnostic::Severity;
use crate::eval::{KpiOutcome, RowOutcome, Status};
use crate::locale::Numbers;

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// The statuses of the filter and the headline, worst first.
const MARKS: [Mark; 8] = [
    Mark::Error,
    Mark::Status(Status::Missed),
    Mark::Status(Status::AtRisk),
    Mark::Status(Status::Warn),
    Mark::Status(Status::NoData),
    Mark::Status(Status::OnTrack),
    Mark::Status(Status::Met),
    Mark::Plain,
];

pub fn render(report: &Report<'_>) -> String {
    let nums = report.numbers;
    let summary = report.summary();
    // KPIs worst first, in report order among equals.
    let mut kpis: Vec<&KpiOutcome> = report.outcomes.iter().collect();
    kpis.sort_by_key(|k| std::cmp::Reverse(k.status.map_or(0, |s| s.severity() + 1)));
    let owners: BTreeSet<&str> = report
        .outcomes
        .iter()
        .filter_map(|k| k.meta.owner.as_deref())
        .collect();
    let tags: BTreeSet<&str> = report
        .outcomes
        .iter()
        .flat_map(|k| k.meta.tags.iter().map(String::as_str))
        .collect();
    let count = |mark: Mark| match mark {
        Mark::Error => summary.failed.len(),
        Mark::Plain => summary.without_target,
        Mark::Status(s) => report
            .outcomes
            .iter()
            .filter(|k| k.status == Some(s))
            .count(),
    };
    let total = report.outcomes.len() + summary.failed.len();
    let title = format!("{} · KPIs as of {}", report.project, report.as_of);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(format!("kpi {}", env!("CARGO_PKG_VERSION")));
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header class="page" {
                    h1 { (report.project) }
                    p class="sub" {
                        "as of " (report.as_of.to_string()) " · " (total) " KPI" (if total == 1 { "" } else { "s" })
                    }
                    ul class="counts" aria-label="KPIs by status" {
                        @for mark in MARKS.iter().copied().filter(|m| count(*m) > 0) {
                            li class=(format!("s-{}", mark.key())) data-count-status=(mark.key()) {
                                (mark.icon()) b { (count(mark)) } (words(mark))
                            }
                        }
                        @if summary.errors > 0 {
                            li { a href="#errors" { (summary.errors) " error" (if summary.errors == 1 { "" } else { "s" }) } }
                        }
                    }
                    (legend())
                    nav class="filters" aria-label="filters" {
                        fieldset {
                            legend { "status" }
                            @for mark in MARKS.iter().copied().filter(|m| count(*m) > 0) {
                                button type="button" class=(format!("s-{}", mark.key()))
                                    data-filter-status=(mark.key()) aria-pressed="false" {
                                    (mark.icon()) (words(mark)) " " (count(mark))
                                }
                            }
                        }
                        @if !owners.is_empty() {
                            label { "owner"
                                select id="filter-owner" {
                                    option value="" { "all" }
                                    @for owner in &owners { option value=(owner) { (owner) } }
                                }
                            }
                        }
                        @if !tags.is_empty() {
                            label { "tag"
                                select id="filter-tag" {
                                    option value="" { "all" }
                                    @for tag in &tags { option value=(tag) { (tag) } }
                                }
                            }
                        }
                        button type="button" id="filter-clear" { "show all" }
                        span id="shown" aria-live="polite" {}
                    }
                }
                main {
                    section id="overview" aria-label="overview" {
                        div class="cards" {
                            @for name in &summary.failed { (failed_card(name)) }
                            @for kpi in &kpis { (card(nums, kpi)) }
                        }
                    }
                    section id="kpis" aria-label="KPIs" {
                        @for name in &summary.failed { (failed_section(report, name)) }
                        @for kpi in &kpis { (section(report, kpi)) }
                    }
                    (reasons(report))
                    (errors(report))
                }
                footer {
                    "Made by kpi " (env!("CARGO_PKG_VERSION")) " from the definitions and data of "
                    (report.project) " as of " (report.as_of.to_string()) "."
                }
                script { (PreEscaped(JS)) }
            }
        }
    };
    page.into_string()
}

/// The status in words, without the text mark (the icon's shape shows it): `missed`, `at risk`,
/// `no target`.
fn words(mark: Mark) -> &'static str {
    match mark {
        Mark::Status(_) => {
            let text = mark.words();
            text.split_once(' ').map_or(text, |(_, words)| words)
        }
        Mark::Plain => "no target",
        Mark::Error => "error",
    }
}

fn legend() -> Markup {
    html! {
        p class="legend" {
            @for mark in MARKS { span class=(format!("s-{}", mark.key())) { (mark.icon()) (words(mark)) } }
            span { svg viewBox="0 0 22 12" aria-hidden="true" { path class="value" d="M1 9L11 3L21 7" {} } "value" }
            span { svg viewBox="0 0 22 12" aria-hidden="true" { path class="target" d="M1 6H21" {} } "target" }
            span { svg viewBox="0 0 22 12" aria-hidden="true" { rect class="warn-zone" x="1" y="2" width="20" height="8" {} } "warn zone" }
            span { svg viewBox="0 0 22 12" aria-hidden="true" { rect class="judged" x="6" y="0" width="10" height="12" {} } "judged period" }
        }
    }
}

/// The tags the tag filter reads, as a JSON array: a tag may hold spaces.
fn data_tags(kpi: &KpiOutcome) -> String {
    serde_json::to_string(&kpi.meta.tags).unwrap_or_else(|_| "[]".into())
}

fn anchor(name: &str) -> String {
    format!("kpi-{name}")
}

fn kpi_title(kpi: &KpiOutcome) -> &str {
    kpi.meta.title.as_deref().unwrap_or(&kpi.meta.name)
}

/// A card of the overview: status, title, the judged value against its target (or, split by
/// dimensions, how many rows have each status) and a sparkline.
fn card(nums: &Numbers, kpi: &KpiOutcome) -> Markup {
    let mark = Mark::of(kpi.status);
    let single = (kpi.rows.len() == 1).then(|| &kpi.rows[0]);
    html! {
        a class=(format!("card s-{}", mark.key())) href=(format!("#{}", anchor(&kpi.meta.name)))
            data-kpi=(kpi.meta.name) data-status=(mark.key())
            data-owner=(kpi.meta.owner.as_deref().unwrap_or("")) data-tags=(data_tags(kpi)) {
            span class="status" { (mark.icon()) (words(mark)) " · " (kpi.period) }
            h3 { (kpi_title(kpi)) }
            @if let Some(row) = single {
                div class="value" { (chart::value_text(nums, kpi, row.value)) }
                @if let Some(target) = &row.target {
                    div class="target" { "target " (target_text(nums, target, kpi)) }
                }
                (chart::sparkline(kpi, row))
            } @else if kpi.rows.is_empty() {
                div class="rows" { "no rows in " (kpi.period) }
            } @else {
                div class="rows" { (row_counts(kpi)) }
                @if let Some(target) = kpi.rows.iter().find_map(|r| r.target.as_ref()) {
                    div class="target" { "target " (target.text) }
                }
            }
        }
    }
}

/// `5 by channel: 2 missed, 3 met`.
fn row_counts(kpi: &KpiOutcome) -> String {
    let mut parts = Vec::new();
    for mark in MARKS {
        let n = kpi
            .rows
            .iter()
            .filter(|r| Mark::of(r.status) == mark)
            .count();
        if n > 0 {
            parts.push(format!("{n} {}", words(mark)));
        }
    }
    format!(
        "{} by {}: {}",
        kpi.rows.len(),
        kpi.dimensions.join(", "),
        parts.join(", ")
    )
}

fn failed_card(name: &str) -> Markup {
    html! {
        a class="card s-error" href=(format!("#{}", anchor(name))) data-kpi=(name)
            data-status="error" data-owner="" data-tags="[]" {
            span class="status" { (Mark::Error.icon()) (words(Mark::Error)) }
            h3 { (name) }
            div class="rows" { "could not be computed" }
        }
    }
}

/// A KPI in full: what it is and where it is defined, then its charts.
fn section(report: &Report<'_>, kpi: &KpiOutcome) -> Markup {
    let nums = report.numbers;
    let mark = Mark::of(kpi.status);
    let path = report.paths.of(&kpi.location.file);
    let written = |pick: fn(&RowOutcome) -> Option<&crate::eval::TargetOutcome>| {
        kpi.rows.iter().find_map(pick).map(|t| t.text.clone())
    };
    let target = written(|r| r.target.as_ref());
    let warn = written(|r| r.warn.as_ref());
    let scale = Scale::over(chart::chart_values(kpi), kpi.quantity, kpi.meta.format);
    html! {
        article class=(format!("kpi s-{}", mark.key())) id=(anchor(&kpi.meta.name))
            data-kpi=(kpi.meta.name) data-status=(mark.key())
            data-owner=(kpi.meta.owner.as_deref().unwrap_or("")) data-tags=(data_tags(kpi)) {
            header {
                span class="status" { (mark.icon()) (words(mark)) }
                h3 { (kpi_title(kpi)) }
                code { (kpi.meta.name) }
                span class="where" { (path) ":" (kpi.location.line) }
            }
            @if let Some(description) = &kpi.meta.description {
                p class="description" { (description) }
            }
            dl {
                @if let Some(owner) = &kpi.meta.owner { div { dt { "owner" } dd { (owner) } } }
                @if !kpi.meta.tags.is_empty() { div { dt { "tags" } dd { (kpi.meta.tags.join(", ")) } } }
                div { dt { "every" } dd { (kpi.grain.name()) } }
                div { dt { "judged" } dd { (kpi.period) } }
                @if let Some(target) = &target { div { dt { "target" } dd { code { (target) } } } }
                @if let Some(warn) = &warn { div { dt { "warn" } dd { code { (warn) } } } }
                @if let Some(deadline) = &kpi.deadline {
                    div { dt { "deadline" } dd { (deadline) @if let Some(pace) = kpi.pace { " (" (pace_name(pace)) " pace)" } } }
                }
            }
            @if kpi.rows.is_empty() {
                p class="reason" { "No rows in the judged period." }
            }
            @if kpi.deadline.is_some() {
                @for row in &kpi.rows {
                    figure {
                        figcaption { (row_caption(nums, kpi, row)) " · " (pacing_text(nums, kpi, row)) }
                        (chart::progress(nums, kpi, row))
                    }
                }
            }
            @if kpi.rows.len() == 1 {
                @let row = &kpi.rows[0];
                p class="numbers" { (numbers(nums, kpi, row)) }
                (chart::history(nums, kpi, row, &scale, chart::LARGE))
            } @else if kpi.rows.len() > 1 {
                div class="multiples" {
                    @for row in &kpi.rows {
                        figure class=(format!("s-{}", Mark::of(row.status).key())) {
                            figcaption { (row_caption(nums, kpi, row)) }
                            (chart::history(nums, kpi, row, &scale, chart::SMALL))
                        }
                    }
                }
            }
            (drawing(nums, kpi))
        }
    }
}

/// `EU · ✗ missed · 1,234 against >= 1,500`, or the row's reason for having no value.
fn row_caption(nums: &Numbers, kpi: &KpiOutcome, row: &RowOutcome) -> Markup {
    let mark = Mark::of(row.status);
    let dims: Vec<&str> = row.dimensions.iter().map(|(_, v)| v.as_str()).collect();
    html! {
        @if !dims.is_empty() { strong { (dims.join(" · ")) } }
        span class=(format!("s-{}", mark.key())) { (mark.icon()) " " (words(mark)) }
        b { (chart::value_text(nums, kpi, row.value)) }
        @if let Some(target) = &row.target { span class="muted" { "against " (target_text(nums, target, kpi)) } }
        @if let Some(reason) = &row.reason { span class="reason" { (reason) } }
    }
}

/// The judged row's numbers in words: value, target, the previous period and the change.
fn numbers(nums: &Numbers, kpi: &KpiOutcome, row: &RowOutcome) -> Markup {
    let previous = row.previous.filter(|_| !kpi.in_progress);
    let change = nums.change(row.value, previous, kpi.meta.format);
    html! {
        b { (chart::value_text(nums, kpi, row.value)) } " in " (kpi.period)
        @if let Some(target) = &row.target { " against " (target_text(nums, target, kpi)) }
        @if previous.is_some() {
            " · " (kpi.previous_period) ": " (chart::value_text(nums, kpi, previous))
            @if !change.is_empty() { " (" (change) ")" }
        }
        @if let Some(reason) = &row.reason { " · " span class="reason" { (reason) } }
    }
}

fn pace_name(pace: crate::compile::ir::Pace) -> &'static str {
    match pace {
        crate::compile::ir::Pace::Linear => "linear",
        crate::compile::ir::Pace::Seasonal => "seasonal",
    }
}

/// `12% of the time to 2026-12-31 gone · heading for 3,281,369 · 3,577,760 still needed`.
fn pacing_text(nums: &Numbers, kpi: &KpiOutcome, row: &RowOutcome) -> String {
    let deadline = kpi.deadline.as_deref().unwrap_or("");
    if !kpi.in_progress {
        return format!("the period to {deadline} is over");
    }
    if row.elapsed == Some(0.0) {
        return format!("the period to {deadline} has not begun");
    }
    let mut parts = Vec::new();
    if let Some(e) = row.elapsed {
        let share = nums.value(Some(e), Format::Percent, Some(0), None);
        parts.push(format!("{share} of the time to {deadline} gone"));
    }
    if let Some(p) = row.projection {
        parts.push(format!(
            "heading for {}",
            chart::value_text(nums, kpi, Some(p))
        ));
    }
    if let Some(needed) = row.needed.filter(|n| *n > 0.0) {
        parts.push(format!(
            "{} still needed",
            chart::value_text(nums, kpi, Some(needed))
        ));
    }
    parts.join(" · ")
}

/// The funnel's steps or the cohort's triangle of each row, and the cohorts still maturing.
fn drawing(nums: &Numbers, kpi: &KpiOutcome) -> Markup {
    let Some(drawn) = &kpi.drawing else {
        return html! {};
    };
    let item = match &drawn.title {
        Some(title) => format!("{} `{}` ({title})", drawn.kind, drawn.name),
        None => format!("{} `{}`", drawn.kind, drawn.name),
    };
    html! {
        div class="multiples wide" {
        @for row in &kpi.rows {
            @if let Some(steps) = &row.funnel {
                figure {
                    figcaption {
                        @if !row.dimensions.is_empty() { strong { (dims_text(row)) } }
                        (item) ", the cohort of " (kpi.period)
                    }
                    (chart::funnel(nums, steps))
                }
            }
            @if let Some(table) = &row.cohort {
                figure {
                    figcaption {
                        @if !row.dimensions.is_empty() { strong { (dims_text(row)) } }
                        (item) ": the share active by age, in " (kpi.grain.name()) "s"
                    }
                    (chart::heat_map(nums, table))
                }
            }
        }
        }
        @if !kpi.maturing.is_empty() {
            p class="muted" {
                "Still maturing, not judged: " (kpi.maturing.join(", ")) " (dashed in the chart)."
            }
        }
    }
}

fn dims_text(row: &RowOutcome) -> String {
    row.dimensions
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A KPI that could not be computed, with its errors.
fn failed_section(report: &Report<'_>, name: &str) -> Markup {
    html! {
        article class="kpi s-error" id=(anchor(name)) data-kpi=(name) data-status="error"
            data-owner="" data-tags="[]" {
            header {
                span class="status" { (Mark::Error.icon()) (words(Mark::Error)) }
                h3 { (name) }
            }
            ul class="errors" {
                @for d in report.diagnostics.iter().filter(|d| d.is_error() && d.kpi.as_deref() == Some(name)) {
                    (diagnostic(report, d))
                }
            }
        }
    }
}

fn diagnostic(report: &Report<'_>, d: &crate::diagnostic::Diagnostic) -> Markup {
    let location = d.span.map(|s| report.sources.location(s));
    html! {
        li {
            @if let Some(l) = &location { code { (report.paths.of(&l.file)) ":" (l.line) ":" (l.column) } " " }
            strong { (match d.severity { Severity::Error => "error", Severity::Warning => "warning" }) "[" (d.code) "]" }
            ": " (d.message)
            @for hint in &d.hints { br; span class="hint" { "help: " (hint) } }
        }
    }
}

/// Why rows have no value, naming them.
fn reasons(report: &Report<'_>) -> Markup {
    let grouped = rows_without_value(report);
    html! {
        @if !grouped.is_empty() {
            section id="reasons" {
                h2 { "Without a value" }
                ul {
                    @for (reason, names) in &grouped {
                        li { (reason) ": " (names.join(", ")) }
                    }
                }
            }
        }
    }
}

fn errors(report: &Report<'_>) -> Markup {
    html! {
        @if !report.diagnostics.is_empty() {
            section id="errors" {
                h2 { "Errors and warnings" }
                ul class="errors" {
                    @for d in report.diagnostics { (diagnostic(report, d)) }
                }
            }
        }
    }
}
