mod bad;
mod browser;
mod cli;
mod data;
mod differential;
mod editor;
mod eval;
mod fmt;
mod lint;
mod locale;
mod parse;
mod report;
mod resolve;
mod stdlib;
mod time;
mod traps;

use std::path::{Path, PathBuf};

use kpi::eval::{KpiOutcome, RowOutcome, Status};
use kpi::project::{Project, Run, RunOptions};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme")
}

/// A run's report as `kpi check` builds it, without file paths for tools, in `numbers`.
pub fn report_of<'a>(
    run: &'a Run,
    sources: &'a kpi::source::SourceMap,
    numbers: &'a kpi::locale::Numbers,
) -> kpi::report::Report<'a> {
    kpi::report::Report {
        project: &run.project,
        as_of: run.as_of,
        outcomes: &run.outcomes,
        diagnostics: &run.diagnostics,
        sources,
        paths: &NO_PATHS,
        numbers,
    }
}

static NO_PATHS: std::sync::LazyLock<kpi::report::FilePaths> =
    std::sync::LazyLock::new(Default::default);

pub fn date(text: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// Runs a project folder as of a day.
pub fn run_project(dir: &Path, as_of: &str) -> Run {
    let project =
        Project::load(dir).unwrap_or_else(|e| panic!("cannot load {}: {e}", dir.display()));
    project.run(&RunOptions {
        as_of: Some(date(as_of)),
        ..RunOptions::default()
    })
}

pub fn outcome<'a>(run: &'a Run, kpi: &str) -> &'a KpiOutcome {
    run.outcomes
        .iter()
        .find(|k| k.meta.name == kpi)
        .unwrap_or_else(|| panic!("no outcome for `{kpi}`; errors: {:#?}", run.diagnostics))
}

pub fn row<'a>(run: &'a Run, kpi: &str, dims: &[&str]) -> &'a RowOutcome {
    let outcome = outcome(run, kpi);
    outcome
        .rows
        .iter()
        .find(|r| {
            r.dimensions
                .iter()
                .map(|(_, v)| v.as_str())
                .eq(dims.iter().copied())
        })
        .unwrap_or_else(|| {
            let all: Vec<_> = outcome.rows.iter().map(|r| r.dimensions.clone()).collect();
            panic!("`{kpi}` has no row {dims:?}; rows: {all:?}")
        })
}

/// Asserts a value to 1e-9, or its absence.
#[track_caller]
pub fn assert_value(run: &Run, kpi: &str, dims: &[&str], expected: Option<f64>) {
    let actual = row(run, kpi, dims).value;
    match (actual, expected) {
        (Some(a), Some(e)) => assert!(
            (a - e).abs() < 1e-9,
            "`{kpi}` {dims:?}: expected {e}, got {a}"
        ),
        (a, e) => assert_eq!(a, e, "`{kpi}` {dims:?}"),
    }
}

#[track_caller]
pub fn assert_status(run: &Run, kpi: &str, dims: &[&str], expected: Option<Status>) {
    assert_eq!(
        row(run, kpi, dims).status,
        expected,
        "status of `{kpi}` {dims:?}"
    );
}

/// A temporary project: a kpi.toml, `.kpi` files and data files, all given as text.
pub struct TempProject {
    pub dir: tempfile::TempDir,
}

impl TempProject {
    pub fn new(manifest: &str, files: &[(&str, &str)]) -> TempProject {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kpi.toml"), manifest).unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        TempProject { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, as_of: &str) -> Run {
        run_project(self.path(), as_of)
    }
}

/// A small one-dataset manifest used by many tests: `sales` (day, region, rep, amount, status)
/// and `targets` (month, region, goal).
pub const SALES_MANIFEST: &str = r#"
[project]
name = "t"
kpis = ["*.kpi"]
history = 2

[datasets.sales]
path = "sales.csv"
time = "day"
# The few rows of the tests stop before the month ends; they are complete all the same.
fresh = "1 month"

[datasets.targets]
path = "targets.csv"
time = "month"
fresh = "1 month"
"#;

/// The `sales`/`targets` project with these definitions, plus extra manifest text (more
/// datasets) and the files it names.
pub fn sales_project(
    defs: &str,
    extra_manifest: &str,
    extra_files: &[(&str, &str)],
) -> TempProject {
    let manifest = format!("{SALES_MANIFEST}{extra_manifest}");
    let mut files = vec![
        ("defs.kpi", defs),
        ("sales.csv", SALES_CSV),
        ("targets.csv", TARGETS_CSV),
    ];
    files.extend_from_slice(extra_files);
    TempProject::new(&manifest, &files)
}

pub const SALES_CSV: &str = "day,region,rep,amount,status
2025-01-05,EU,anna,100,paid
2025-01-20,NA,boris,50,paid
2025-02-03,EU,anna,30,paid
2025-02-04,EU,chen,70,refunded
2025-03-01,NA,boris,40,paid
2025-03-15,EU,anna,60,paid
2025-03-20,EU,chen,,paid
";

pub const TARGETS_CSV: &str = "month,region,goal
2025-03-01,EU,50
2025-03-01,NA,45
";

/// Every snapshot file belongs to a test that still exists: its module names the snapshot (or
/// has a function of that name), and a glob snapshot's fixture file still exists.
#[test]
fn no_orphan_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite");
    for entry in std::fs::read_dir(root.join("snapshots")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().to_string();
        if file.ends_with(".snap.new") || file.ends_with(".pending-snap") {
            // insta's pending results of a failing snapshot test, not orphans.
            continue;
        }
        let stem = file
            .strip_suffix(".snap")
            .unwrap_or_else(|| panic!("stray file in snapshots/: {file}"));
        let (name, fixture) = match stem.split_once('@') {
            Some((name, fixture)) => (name, Some(fixture)),
            None => (stem, None),
        };
        let rest = name
            .strip_prefix("main__suite__")
            .unwrap_or_else(|| panic!("unexpected snapshot {file}"));
        let (module, test) = rest
            .split_once("__")
            .unwrap_or_else(|| panic!("unexpected snapshot {file}"));
        let source = std::fs::read_to_string(root.join(format!("{module}.rs")))
            .unwrap_or_else(|_| panic!("{file}: no module {module}"));
        assert!(
            source.contains(&format!("fn {test}(")) || source.contains(&format!("\"{test}\"")),
            "{file} is an orphan: no test `{test}` in {module}.rs"
        );
        if let Some(fixture) = fixture {
            let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
            let exists = match module {
                // `bad` globs `<case>/about.txt`, which insta names `<case>__about.txt`.
                "bad" => fixtures
                    .join("bad")
                    .join(fixture.replace("__", "/"))
                    .exists(),
                _ => ["ok", "err"]
                    .iter()
                    .any(|d| fixtures.join("parse").join(d).join(fixture).exists()),
            };
            assert!(exists, "{file} is an orphan: its fixture {fixture} is gone");
        }
    }
}
