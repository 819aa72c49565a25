//! outcomes -> bytes: the same outcomes rendered in every format, one snapshot each.

use std::collections::BTreeMap;

use kpi::project::Project;
use kpi::report::{render, OutputFormat, TableOptions};

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
kpi year_paced {
    title  "Revenue 2025"
    every  year
    value  sum(sales.amount)
    target >= 1000 by 2025-12-31
}
funnel paying {
    title  "Sale to paid"
    entity rep
    step sale = sales
    step paid = sales where status == "paid"
    within 40 days
}
kpi paid_share_of_reps {
    title  "Reps whose first sale was paid within 40 days"
    format percent
    value  paying.paid / paying.sale
    target >= 50%
}
cohort reps {
    entity  rep
    start   sales
    active  sales where status == "paid"
    periods 2
}
kpi reps_paid_next_month {
    format percent
    value  reps.active(1) / reps.size
}
"#;

fn rendered(format: OutputFormat) -> String {
    rendered_defs(DEFS, format)
}

/// Definitions over the sales data, evaluated as of 2025-03-31 and rendered.
fn rendered_defs(defs: &str, format: OutputFormat) -> String {
    let options = TableOptions {
        color: false,
        judged: true,
        ..Default::default()
    };
    rendered_with(defs, format, options)
}

fn rendered_with(defs: &str, format: OutputFormat, options: TableOptions) -> String {
    let project = TempProject::new(
        SALES_MANIFEST,
        &[
            ("defs.kpi", defs),
            ("sales.csv", SALES_CSV),
            ("targets.csv", TARGETS_CSV),
        ],
    );
    let run = project.run("2025-03-31");
    let loaded = Project::load(project.path()).unwrap();
    let numbers = kpi::locale::Numbers::default();
    let report = super::report_of(&run, &loaded.sources, &numbers);
    render(&report, format, options)
}

#[test]
fn table() {
    let text = rendered(OutputFormat::Table);
    // March: 100 against >= 90 is met; NA 40 against 45 is above 0.8 * 45 = 36: warn.
    assert!(text.contains("✓ met"), "{text}");
    assert!(text.contains("! warn"), "{text}");
    assert!(text.contains("? no data"), "{text}");
    assert!(text.contains("→ on track"), "{text}");
    assert!(
        text.contains(
            "⏱ Revenue 2025: 350 so far, 25% of the time to 2025-12-31 gone; heading for 1,419"
        ),
        "{text}"
    );
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
        serde_json::json!({"met": 2, "warn": 1, "missed": 1, "no_data": 1, "on_track": 1, "at_risk": 0, "without_target": 2, "errors": 1, "failed": ["broken"]})
    );
    // 350 through 31 March, 90 of 365 days gone: projected 350 * 365 / 90, 650 still needed.
    let paced = &value["kpis"][5]["rows"][0];
    assert_eq!(paced["status"], "on_track");
    assert_eq!(paced["deadline"], "2025-12-31");
    assert_eq!(paced["value"], 350.0);
    assert_eq!(paced["needed"], 650.0);
    assert!((paced["elapsed"].as_f64().unwrap() - 90.0 / 365.0).abs() < 1e-12);
    assert!((paced["projection"].as_f64().unwrap() - 350.0 * 365.0 / 90.0).abs() < 1e-9);
    // On the target's linear pace, 1000 * 90 / 365 by 31 March.
    assert!((paced["on_pace"].as_f64().unwrap() - 1000.0 * 90.0 / 365.0).abs() < 1e-9);
    // A sum adds up: January EU 100, NA 50; February EU 100, NA 0; March EU 60, NA 40.
    let by_region = &value["kpis"][1];
    assert_eq!(by_region["additive"], true);
    assert_eq!(
        by_region["totals"],
        serde_json::json!({"periods": [150.0, 100.0, 100.0], "rows": [260.0, 90.0], "all": 350.0})
    );
    // A ratio does not.
    assert_eq!(value["kpis"][2]["additive"], false);
    assert_eq!(value["kpis"][2]["totals"], serde_json::Value::Null);
    // The funnel of January's reps (anna and boris, both paid on their first day), judged once
    // its 40 days are over; February's (chen: paid 44 days after the first sale) is maturing.
    let funnel = &value["kpis"][6];
    assert_eq!(funnel["drawing"]["kind"], "funnel");
    assert_eq!(funnel["period"], "2025-01");
    assert_eq!(
        funnel["maturing"],
        serde_json::json!(["2025-02", "2025-03"])
    );
    assert_eq!(
        funnel["rows"][0]["funnel"][1],
        serde_json::json!({"step": "paid", "count": 2.0, "from_previous": 1.0, "from_first": 1.0, "days": 0.0})
    );
    // The cohorts of reps by first sale: January (anna, boris) paid at ages 0, 1 (anna), 2;
    // February (chen) not at age 0, at age 1; age 2 of February is not complete on 31 March.
    let cohort = &value["kpis"][7]["rows"][0]["cohort"];
    assert_eq!(
        cohort["cohorts"],
        serde_json::json!(["2025-01", "2025-02", "2025-03"])
    );
    assert_eq!(cohort["sizes"], serde_json::json!([2.0, 1.0, 0.0]));
    assert_eq!(cohort["shares"][0], serde_json::json!([1.0, 0.5, 1.0]));
    assert_eq!(cohort["shares"][1], serde_json::json!([0.0, 1.0, null]));
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
        "kpi,region,period,value,evaluated,target,target_value,target_high,status,reason,deadline,elapsed,projection,needed\n"
    ));
    assert!(
        text.contains("by_region,NA,2025-03,40,true,>= sum(targets.goal),45,,warn,,,,,\n"),
        "{text}"
    );
    // A KPI not split by region leaves its column empty.
    assert!(
        text.contains("revenue,,2025-03,100,true,>= 90,90,,met,,,,,\n"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

/// Markdown rendered to HTML by a CommonMark renderer with GitHub's table extension. Raw HTML
/// is kept, as GitHub keeps `<details>`: text that a report escapes must not come out as tags.
fn commonmark_html(markdown: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.render.r#unsafe = true;
    comrak::markdown_to_html(markdown, &options)
}

#[test]
fn markdown() {
    let text = rendered(OutputFormat::Markdown);
    let html = commonmark_html(&text);
    // One table (no KPI has an owner), with a row per KPI row: the header, then 8 KPIs
    // computed (not `broken`), `by_region` with two rows (EU, NA): 9.
    assert_eq!(html.matches("<table>").count(), 1, "{html}");
    assert_eq!(html.matches("<tr>").count(), 1 + 9, "{html}");
    // Failures first: the missed row comes before any met one.
    let missed = text.find("✗ missed").unwrap();
    let met = text.find("✓ met").unwrap();
    assert!(missed < met, "{text}");
    // The headline counts, and the error in a collapsed section that the renderer keeps.
    assert!(text.contains("**✗ 1 missed**"), "{text}");
    assert!(
        html.contains("<details><summary>1 error</summary>"),
        "{html}"
    );
    assert!(html.contains("Выручка"), "{html}");
    insta::assert_snapshot!(text);
}

#[test]
fn markdown_keeps_text_from_definitions_as_text() {
    let text = rendered_defs(
        r#"kpi a {
    title "<script>x</script> | *bold* [link](http://x)"
    owner "ops | team"
    value count(sales)
    target >= 1
}"#,
        OutputFormat::Markdown,
    );
    let html = commonmark_html(&text);
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<em>") && !html.contains("<a "), "{html}");
    assert!(
        html.contains("&lt;script&gt;x&lt;/script&gt; | *bold*"),
        "{html}"
    );
    // The `|` in the title stays in its cell: the row has the header's seven cells.
    let row = html.split("<tbody>").nth(1).unwrap();
    assert_eq!(row.matches("<td").count(), 7, "{html}");
    assert!(html.contains("<h3>ops | team</h3>"), "{html}");
}

/// The JUnit document read back with an XML parser: each test case's name and what it holds
/// (`failure`, `error`, `skipped` or nothing), and the root's counts.
fn junit_cases(xml: &str) -> (Vec<(String, String)>, BTreeMap<String, String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases: Vec<(String, String)> = Vec::new();
    let mut root = BTreeMap::new();
    let attr = |e: &quick_xml::events::BytesStart<'_>, key: &str| {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == key.as_bytes())
            .map(|a| {
                a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                    .unwrap()
                    .into_owned()
            })
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testsuites" => {
                    for key in ["tests", "failures", "errors", "skipped"] {
                        root.insert(key.to_string(), attr(&e, key).unwrap());
                    }
                }
                b"testcase" => cases.push((attr(&e, "name").unwrap(), String::new())),
                kind @ (b"failure" | b"error" | b"skipped") => {
                    let message = attr(&e, "message").unwrap_or_default();
                    let kind = String::from_utf8_lossy(kind);
                    cases.last_mut().unwrap().1 = format!("{kind}: {message}");
                }
                _ => {}
            },
            _ => {}
        }
    }
    (cases, root)
}

#[test]
fn junit() {
    let text = rendered(OutputFormat::Junit);
    let (cases, root) = junit_cases(&text);
    let case = |name: &str| {
        cases
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, held)| held.as_str())
            .unwrap_or_else(|| panic!("no test case {name}: {cases:?}"))
    };
    // The 9 rows of the 8 KPIs computed, and `broken`, which could not be.
    assert_eq!(cases.len(), 10, "{cases:?}");
    assert_eq!(
        case("paid_share"),
        "failure: missed: 100.0% against 50.0% – 90.0% in 2025-03"
    );
    // A warning does not fail the run with the default `--fail-on missed`: it passes.
    assert_eq!(case("by_region · NA"), "");
    assert_eq!(case("by_region · EU"), "");
    assert!(case("nothing").starts_with("skipped: no_data"), "{cases:?}");
    assert_eq!(
        case("broken"),
        "error: E0331: unknown column `nope` in `sales`"
    );
    assert_eq!(case("year_paced"), "");
    let counts: Vec<&str> = ["tests", "failures", "errors", "skipped"]
        .iter()
        .map(|k| root[*k].as_str())
        .collect();
    assert_eq!(counts, ["10", "1", "1", "1"]);
    // The definition's file and line, for the CI to point at.
    assert!(
        text.contains(r#"name="paid_share" classname="t" file="defs.kpi" line="15""#),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn junit_fails_what_fail_on_fails() {
    let text = rendered_with(
        DEFS,
        OutputFormat::Junit,
        TableOptions {
            fail_on: kpi::report::FailOn::Warn,
            ..Default::default()
        },
    );
    let (cases, root) = junit_cases(&text);
    let na = cases.iter().find(|(n, _)| n == "by_region · NA").unwrap();
    assert_eq!(na.1, "failure: warn: 40 against >= 45 in 2025-03");
    assert_eq!(root["failures"], "2");
}

#[test]
fn github() {
    let text = rendered(OutputFormat::Github);
    let lines: Vec<&str> = text.lines().collect();
    // paid_share missed (an error), NA in the warn zone (a warning), `nothing` without data (a
    // notice), and the error of `broken` on its span; met and on-track rows are not annotated.
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        "::warning title=Revenue by region%3A 1 warn of 2,file=defs.kpi,line=8,col=5,endColumn=13::NA: 40 against >= 45 in 2025-03"
    );
    assert_eq!(
        lines[1],
        "::error title=paid_share%3A missed,file=defs.kpi,line=15,col=5,endColumn=14::100.0%25 against 50.0%25 – 90.0%25 in 2025-03"
    );
    assert!(
        lines[2].starts_with("::notice title=nothing%3A no_data,file=defs.kpi,line=20,col=5,"),
        "{text}"
    );
    // `nope` on line 28, `    value sum(sales.nope)`, is columns 21 to 24; the hint follows the
    // message on a line of its own.
    assert_eq!(
        lines[3],
        "::error title=E0331,file=defs.kpi,line=28,col=21,endColumn=24::unknown column `nope` in `sales`%0Ahelp: Columns of `sales`: day, region, rep, amount, status."
    );
    insta::assert_snapshot!(text);
}

#[test]
fn github_escapes_what_the_runner_reads_as_syntax() {
    let text = rendered_defs(
        "kpi a {\n    title \"100% sure: a, b\"\n    value count(sales)\n    target >= 1000\n}\n",
        OutputFormat::Github,
    );
    // `%`, `:` and `,` in a property are percent-encoded; in the message only `%` (and line
    // breaks) are. March has 3 sales.
    assert_eq!(
        text,
        "::error title=100%25 sure%3A a%2C b%3A missed,file=defs.kpi,line=1,col=5,endColumn=5::3 against >= 1,000 in 2025-03\n"
    );
}

#[test]
fn github_warns_or_fails_by_fail_on() {
    let text = rendered_with(
        DEFS,
        OutputFormat::Github,
        TableOptions {
            fail_on: kpi::report::FailOn::Warn,
            ..Default::default()
        },
    );
    assert!(
        text.starts_with("::error title=Revenue by region%3A 1 warn of 2,"),
        "{text}"
    );
}

#[test]
fn csv_has_a_column_per_dimension() {
    let text = rendered_defs(
        "kpi by_rep { by rep\n value sum(sales.amount) }\n\
         kpi by_status { by status, region\n value count(sales) }\n",
        OutputFormat::Csv,
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    // The union of the dimensions in order of first appearance; `status` is also the status
    // column's name, so its dimension column is `by_status`.
    assert_eq!(header[..5], ["kpi", "rep", "by_status", "region", "period"]);
    assert!(header.contains(&"status".to_string()));
    let march: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect::<Vec<_>>())
        .filter(|r| r[4] == "2025-03")
        .collect();
    let line = |kpi: &str, rep: &str, status: &str, region: &str| {
        march
            .iter()
            .find(|r| r[0] == kpi && r[1] == rep && r[2] == status && r[3] == region)
            .map(|r| r[5].clone())
            .unwrap_or_else(|| panic!("no line {kpi} {rep} {status} {region}: {march:?}"))
    };
    // March: boris 40 (NA), anna 60 (EU), chen no amount (EU): all paid.
    assert_eq!(line("by_rep", "anna", "", ""), "60");
    assert_eq!(line("by_rep", "boris", "", ""), "40");
    assert_eq!(line("by_status", "", "paid", "EU"), "2");
    assert_eq!(line("by_status", "", "paid", "NA"), "1");
}

/// The elements of a page that match a CSS selector.
fn select<'a>(page: &'a scraper::Html, selector: &str) -> Vec<scraper::ElementRef<'a>> {
    page.select(&scraper::Selector::parse(selector).unwrap())
        .collect()
}

#[test]
fn html() {
    let text = rendered(OutputFormat::Html);
    let page = scraper::Html::parse_document(&text);
    // A card and a section per KPI: the 8 computed and `broken`, which could not be.
    let cards = select(&page, ".card[data-kpi]");
    assert_eq!(cards.len(), 9);
    let status = |s: &str| {
        select(&page, &format!(".card[data-status=\"{s}\"]"))
            .iter()
            .map(|e| e.value().attr("data-kpi").unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // Worst first: missed, then warn, no data, on track, met, no target, after the error.
    assert_eq!(status("error"), ["broken"]);
    assert_eq!(status("missed"), ["paid_share"]);
    assert_eq!(status("warn"), ["by_region"]);
    assert_eq!(status("no_data"), ["nothing"]);
    assert_eq!(status("on_track"), ["year_paced"]);
    assert_eq!(status("met"), ["revenue", "paid_share_of_reps"]);
    assert_eq!(
        status("none"),
        ["count_only", "reps_paid_next_month"],
        "KPIs without a target"
    );
    for card in &cards {
        let name = card.value().attr("data-kpi").unwrap();
        assert_eq!(
            select(&page, &format!("article#kpi-{name}")).len(),
            1,
            "{name} has its section"
        );
    }
    // The headline counts KPIs by status.
    let count = |s: &str| {
        select(&page, &format!("[data-count-status=\"{s}\"] b"))
            .first()
            .map(|e| e.text().collect::<String>())
    };
    assert_eq!(count("met").as_deref(), Some("2"));
    assert_eq!(count("none").as_deref(), Some("2"));
    assert_eq!(count("at_risk"), None, "statuses no KPI has are left out");
    // Every point's tooltip has its exact value: revenue's March, 100 against >= 90, met.
    let tips: Vec<String> = select(&page, "#kpi-revenue .point title")
        .iter()
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(
        tips,
        [
            "2025-01: 150.00 · target >= 90.00 · ✓ met",
            "2025-02: 100.00 · target >= 90.00 · ✓ met",
            "2025-03: 100.00 · target >= 90.00 · ✓ met",
        ]
    );
    // A sum's axis starts at zero; the judged period's band holds the last point, March's.
    let ticks: Vec<String> = select(&page, "#kpi-revenue svg.chart text.tick")
        .iter()
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(ticks[..4], ["0", "50", "100", "150"], "{ticks:?}");
    let number = |e: &scraper::ElementRef<'_>, attr: &str| -> f64 {
        e.value().attr(attr).unwrap().parse().unwrap()
    };
    let judged = &select(&page, "#kpi-revenue rect.judged")[0];
    let points = select(&page, "#kpi-revenue .point circle");
    let (left, width) = (number(judged, "x"), number(judged, "width"));
    let inside = |c: &scraper::ElementRef<'_>| {
        let x = number(c, "cx");
        left < x && x < left + width
    };
    assert_eq!(points.len(), 3);
    assert!(
        inside(&points[2]) && !inside(&points[1]),
        "the judged band is March's"
    );
    // by_region is drawn as small multiples, one per region, the NA one in the warn zone:
    // its target 45 and warn line 36 (0.8 * 45) shade one band in March.
    let multiples = select(&page, "#kpi-by_region .multiples figure");
    assert_eq!(multiples.len(), 2);
    assert_eq!(select(&page, "#kpi-by_region .warn-zone").len(), 2);
    // The paced KPI's progress, the funnel's steps and the cohort's triangle.
    assert_eq!(select(&page, "#kpi-year_paced svg.progress").len(), 1);
    assert_eq!(
        select(&page, "#kpi-paid_share_of_reps svg.funnel .point").len(),
        2
    );
    let cells: Vec<String> = select(&page, "#kpi-reps_paid_next_month table.heat tbody tr")
        .first()
        .map(|tr| {
            select_in(tr, "td")
                .iter()
                .map(|td| td.text().collect())
                .collect()
        })
        .unwrap();
    // January's cohort: 2 reps; paid at age 0 (both), 1 (anna) and 2 (both).
    assert_eq!(cells, ["2", "100%", "50%", "100%"]);
    // The error, with its place.
    let errors: String = select(&page, "#errors li")
        .iter()
        .map(|e| e.text().collect::<String>())
        .collect();
    assert!(errors.contains("defs.kpi:28:21"), "{errors}");
    assert!(text.contains("Выручка"));
    insta::assert_snapshot!(text);
}

fn select_in<'a>(
    element: &scraper::ElementRef<'a>,
    selector: &str,
) -> Vec<scraper::ElementRef<'a>> {
    element
        .select(&scraper::Selector::parse(selector).unwrap())
        .collect()
}

#[test]
fn html_is_self_contained_and_keeps_text_as_text() {
    let text = rendered_defs(
        r#"kpi a {
    title "<script>alert(1)</script> & \"quotes\""
    owner "ops <team>"
    description "<img src=x onerror=alert(1)>"
    value count(sales)
    target >= 1
}"#,
        OutputFormat::Html,
    );
    let page = scraper::Html::parse_document(&text);
    // One script, the report's own; no image, no link, nothing fetched from anywhere.
    assert_eq!(select(&page, "script").len(), 1);
    assert!(
        select(&page, "img, link, iframe, object").is_empty(),
        "{text}"
    );
    assert!(select(&page, "[src]").is_empty(), "{text}");
    for scheme in ["http:", "https:", "//fonts", "url("] {
        assert!(!text.contains(scheme), "{scheme} in the page");
    }
    let title: String = select(&page, "#kpi-a h3")[0].text().collect();
    assert_eq!(title, "<script>alert(1)</script> & \"quotes\"");
    let owner = select(&page, "#filter-owner option[value=\"ops <team>\"]");
    assert_eq!(owner.len(), 1, "{text}");
}

#[test]
fn github_has_one_annotation_per_kpi_and_kind() {
    // March: EU 60 is in the warn zone [50, 100), NA 40 below it is missed: an error and a
    // warning on the KPI's line. `e` has no rows at all (no region `XX`): a notice.
    let text = rendered_defs(
        "kpi r { by region\n value sum(sales.amount)\n target >= 100\n warn >= 50 }\n\
         kpi e { by region\n value sum(sales.amount where region == \"XX\")\n target >= 1 }\n",
        OutputFormat::Github,
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "::error title=r%3A 1 missed of 2,file=defs.kpi,line=1,col=5,endColumn=5::NA: 40 against >= 100 in 2025-03",
            "::warning title=r%3A 1 warn of 2,file=defs.kpi,line=1,col=5,endColumn=5::EU: 60 against >= 100 in 2025-03",
            "::notice title=e%3A no_data,file=defs.kpi,line=5,col=5,endColumn=5::no rows in 2025-03",
        ]
    );
}

#[test]
fn html_draws_values_of_any_size() {
    // Values near f64::MAX on both sides of zero: the scale's span overflows a float.
    // The language writes numbers in full: 10^306 and 1.6 * 10^308.
    let e306 = format!("1{}", "0".repeat(306));
    let text = rendered_defs(
        &format!(
            "kpi up {{ value sum(sales.amount) * {e306}\n target >= -100 * {e306} }}\n\
             kpi down {{ value -sum(sales.amount) * {e306} }}\n\
             kpi both {{ by region\n value sum(sales.amount) * {e306} - 160 * {e306}\n target >= 0 }}\n"
        ),
        OutputFormat::Html,
    );
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    let page = scraper::Html::parse_document(&text);
    let errors: Vec<String> = select(&page, "#errors li")
        .iter()
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(select(&page, "#kpi-both svg.chart").len(), 2, "{errors:?}");
}
