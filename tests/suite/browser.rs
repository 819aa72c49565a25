//! The HTML report in a real browser: headless Chromium opens the example's report from a file,
//! with no network, runs its script, and the page it ends with is checked; then a screenshot.
//!
//! Chromium is `$KPI_CHROMIUM`, else the first of `chromium`, `chromium-browser`,
//! `google-chrome` on the PATH; `.ci/setup` installs Debian's `chromium` when none is there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::example;

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("KPI_CHROMIUM") {
        return PathBuf::from(path);
    }
    let names = ["chromium", "chromium-browser", "google-chrome"];
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the HTML report is tested in Chromium, and none was found: run `.ci/setup` \
                 (it installs Debian's chromium) or set KPI_CHROMIUM to a Chromium or Chrome"
            )
        })
}

/// What the browser made of a page: the DOM after its script ran, and every message the page
/// wrote to the console (errors included).
struct Visit {
    dom: scraper::Html,
    console: Vec<String>,
}

/// Opens `url` in headless Chromium with a profile of its own and no network, with `extra`
/// arguments: what it printed and what it logged. Its output goes to files, which never fill
/// up as a pipe would; it fails after two minutes.
fn open(url: &str, extra: &[String]) -> (String, String) {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("stdout");
    let log = scratch.path().join("stderr");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.path().join("profile").display()
        ))
        .args(extra)
        .arg(url)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("Chromium starts");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Chromium did not finish with {url} in two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let read = |path: &Path| String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    (read(&out), read(&log))
}

fn visit(page: &Path, hash: &str) -> Visit {
    let url = format!("file://{}{hash}", page.display());
    let (dom, log) = open(&url, &["--dump-dom".to_string()]);
    assert!(dom.contains("<html"), "no page from {url}:\n{log}");
    Visit {
        dom: scraper::Html::parse_document(&dom),
        console: log
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(String::from)
            .collect(),
    }
}

fn select<'a>(page: &'a scraper::Html, selector: &str) -> Vec<scraper::ElementRef<'a>> {
    page.select(&scraper::Selector::parse(selector).unwrap())
        .collect()
}

fn text(element: &scraper::ElementRef<'_>) -> String {
    element.text().collect()
}

/// The names of the cards the page shows (not hidden by a filter).
fn shown_cards(page: &scraper::Html) -> Vec<(String, String)> {
    select(page, ".card[data-kpi]")
        .iter()
        .filter(|c| c.value().attr("hidden").is_none())
        .map(|c| {
            (
                c.value().attr("data-kpi").unwrap().to_string(),
                c.value().attr("data-status").unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_example_report_works_in_a_browser() {
    let out = tempfile::tempdir().unwrap();
    let html = out.path().join("report.html");
    let json = out.path().join("report.json");
    let status = Command::new(env!("CARGO_BIN_EXE_kpi"))
        .arg("-p")
        .arg(example())
        .args(["check", "--format", "json", "--report"])
        .arg(format!("html={}", html.display()))
        .arg("--report")
        .arg(format!("json={}", json.display()))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "the example misses targets");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let kpis = report["kpis"].as_array().unwrap();

    let all = visit(&html, "");
    assert!(
        all.console.is_empty(),
        "the page wrote to the console: {:#?}",
        all.console
    );
    let root = select(&all.dom, "html")[0];
    assert!(root.value().classes().any(|c| c == "js"), "the script ran");
    // Every KPI has its card and its section, with the status of the JSON report.
    let cards = shown_cards(&all.dom);
    assert_eq!(cards.len(), kpis.len());
    for kpi in kpis {
        let name = kpi["name"].as_str().unwrap();
        let status = kpi["status"].as_str().unwrap_or("none");
        assert!(
            cards.contains(&(name.to_string(), status.to_string())),
            "{name} ({status}) has no card: {cards:?}"
        );
        assert_eq!(select(&all.dom, &format!("article#kpi-{name}")).len(), 1);
    }
    // The status counts, in the cards and in the headline.
    for (status, count) in [
        ("missed", 11),
        ("at_risk", 2),
        ("warn", 9),
        ("met", 17),
        ("none", 14),
    ] {
        assert_eq!(
            cards.iter().filter(|(_, s)| s == status).count(),
            count,
            "{status}"
        );
        let headline = select(&all.dom, &format!("[data-count-status=\"{status}\"] b"));
        assert_eq!(text(&headline[0]), count.to_string(), "{status}");
    }
    assert_eq!(
        text(&select(&all.dom, "#shown")[0]),
        "showing 53 of 53 KPIs"
    );
    // The script made every point's title its tooltip: the exact value, the target, the status.
    assert!(select(&all.dom, ".point > title").is_empty());
    let tips: Vec<String> = select(&all.dom, "#kpi-cost_per_lead .point[data-tip]")
        .iter()
        .map(|p| p.value().attr("data-tip").unwrap().to_string())
        .collect();
    assert!(
        tips.contains(&"2026-01: 349.71 · target <= 200.00 · ✗ missed".to_string()),
        "{tips:?}"
    );

    // Filters from the address: missed ones only, then missed or warn of one owner.
    let missed = visit(&html, "#status=missed");
    let shown = shown_cards(&missed.dom);
    assert_eq!(shown.len(), 11, "{shown:?}");
    assert!(shown.iter().all(|(_, s)| s == "missed"), "{shown:?}");
    assert_eq!(
        text(&select(&missed.dom, "#shown")[0]),
        "showing 11 of 53 KPIs"
    );
    let support = visit(&html, "#status=missed,warn&owner=support");
    let mut names: Vec<String> = shown_cards(&support.dom)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "complaints",
            "customer_satisfaction",
            "first_response_time",
            "nps",
            "resolution_time"
        ]
    );
    let pressed: Vec<String> = select(&support.dom, "[data-filter-status][aria-pressed=\"true\"]")
        .iter()
        .map(|b| b.value().attr("data-filter-status").unwrap().to_string())
        .collect();
    assert_eq!(pressed, ["missed", "warn"]);

    // A screenshot of the page as a person sees it.
    let shot = out.path().join("report.png");
    let url = format!("file://{}", html.display());
    let (_, log) = open(
        &url,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600".to_string(),
        ],
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{log}"));
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(png.len() > 50_000, "a page with something on it");
}

#[test]
fn filters_read_tags_with_spaces_and_never_hide_errors_by_owner() {
    let project = super::TempProject::new(
        super::SALES_MANIFEST,
        &[
            (
                "defs.kpi",
                "kpi deals { owner \"sales team\"\n tags [`big deals`, sales]\n value count(sales)\n target >= 1 }\n\
                 kpi big { owner \"ops\"\n tags [big]\n value count(sales)\n target >= 1 }\n\
                 kpi broken { owner \"ops\"\n value sum(sales.nope) }\n",
            ),
            ("sales.csv", super::SALES_CSV),
            ("targets.csv", super::TARGETS_CSV),
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let html = out.path().join("report.html");
    let status = Command::new(env!("CARGO_BIN_EXE_kpi"))
        .arg("-p")
        .arg(project.path())
        .args(["check", "--as-of", "2025-03-31", "--report"])
        .arg(format!("html={}", html.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2), "`broken` is an error");
    let names = |hash: &str| {
        let page = visit(&html, hash);
        assert!(page.console.is_empty(), "{:#?}", page.console);
        let mut names: Vec<String> = shown_cards(&page.dom).into_iter().map(|(n, _)| n).collect();
        names.sort();
        names
    };
    // The tag `big deals` is one tag, not `big` and `deals`; a KPI that could not be computed
    // has no known owner or tags, and stays in view.
    assert_eq!(names("#tag=big%20deals"), ["broken", "deals"]);
    assert_eq!(names("#tag=big"), ["big", "broken"]);
    assert_eq!(names("#owner=sales%20team"), ["broken", "deals"]);
    assert_eq!(names("#status=met&owner=ops"), ["big"]);
}
