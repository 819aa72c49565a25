//! `kpi test`: unit tests of definitions on fixture data. A test is one TOML file (by default
//! `tests/*.toml` in the project folder): the day to judge on, rows standing in for some
//! datasets, and the values or statuses expected of some KPIs. The project's own definitions
//! are evaluated on those rows by the one evaluator; a test only says what goes in and what
//! should come out.
//!
//! ```toml
//! as_of = "2025-03-31"
//!
//! [datasets.sales]            # stands in for `sales` of kpi.toml; the others are kpi.toml's
//! csv = """
//! day,region,amount,status
//! 2025-03-01,EU,100,paid
//! """
//!
//! [[expect]]
//! kpi    = "revenue"
//! where  = { region = "EU" }  # the row's dimension values (none: a KPI without `by`)
//! period = "2025-03"          # default: the judged period
//! value  = 100
//! status = "met"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostic::Diagnostic;
use crate::eval::{KpiOutcome, RowOutcome};
use crate::project::{Project, Run, RunOptions};
use crate::source::{SourceFile, SourceMap, Span};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    as_of: toml::Spanned<String>,
    #[serde(default)]
    datasets: BTreeMap<String, toml::Spanned<Rows>>,
    #[serde(default)]
    expect: Vec<toml::Spanned<Expect>>,
}

/// Rows in CSV, inline or in a file next to the test.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rows {
    csv: Option<String>,
    file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    kpi: String,
    #[serde(default, rename = "where")]
    dimensions: BTreeMap<String, String>,
    period: Option<String>,
    value: Option<f64>,
    status: Option<String>,
}

/// One expectation's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// `revenue · EU in 2025-03`.
    pub what: String,
    /// Where the expectation is written.
    pub file: String,
    pub line: usize,
    /// None: it held; else what differed.
    pub failure: Option<String>,
}

/// A test file's outcome: its expectations, or the errors that kept it from running.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub file: String,
    pub checked: Vec<Checked>,
    pub errors: Vec<Diagnostic>,
}

/// The test files: `files` when given, else `tests/*.toml` in the project folder, sorted.
pub fn test_files(root: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    if !files.is_empty() {
        return files.to_vec();
    }
    let pattern = root.join("tests").join("*.toml");
    let mut found: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
        .map(|paths| paths.flatten().collect())
        .unwrap_or_default();
    found.sort();
    found
}

/// Runs one test file against the project's definitions; `sources` gets the file, so that
/// errors can point into it.
pub fn run_test(project: &Project, path: &Path, sources: &mut SourceMap) -> TestOutcome {
    let project_dir = project.manifest.root.as_path();
    let shown = path
        .strip_prefix(project_dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
    let mut outcome = TestOutcome {
        file: shown.clone(),
        checked: Vec::new(),
        errors: Vec::new(),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            outcome.errors.push(Diagnostic::error(
                "E0701",
                format!("cannot read the test `{shown}`: {e}"),
            ));
            return outcome;
        }
    };
    let id = sources.add(SourceFile::new(shown.clone(), path, text.clone()));
    let at = |range: std::ops::Range<usize>| Span::new(id, range.start, range.end);
    let test: TestFile = match toml::from_str(&text) {
        Ok(test) => test,
        Err(e) => {
            outcome.errors.push(
                Diagnostic::error(
                    "E0702",
                    format!("the test `{shown}` cannot be read: {}", e.message()),
                )
                .at_opt(e.span().map(at)),
            );
            return outcome;
        }
    };
    let as_of = match chrono::NaiveDate::parse_from_str(test.as_of.get_ref(), "%Y-%m-%d") {
        Ok(day) => day,
        Err(_) => {
            outcome.errors.push(
                Diagnostic::error("E0702", "`as_of` is not a date; write it as YYYY-MM-DD")
                    .at(at(test.as_of.span())),
            );
            return outcome;
        }
    };
    // The stand-in rows, as CSV files in a folder of the project's own (data may be read only
    // from the project folder and `data_roots`), removed when the test is done.
    let scratch = match tempfile::Builder::new()
        .prefix(".kpi-test")
        .tempdir_in(project_dir)
    {
        Ok(dir) => dir,
        Err(e) => {
            outcome.errors.push(Diagnostic::error(
                "E0701",
                format!("cannot make a folder for the test's rows in the project: {e}"),
            ));
            return outcome;
        }
    };
    let mut manifest = project.manifest.clone();
    for (name, rows) in &test.datasets {
        let Some(config) = manifest.datasets.get_mut(name) else {
            let known: Vec<&str> = project
                .manifest
                .datasets
                .keys()
                .map(String::as_str)
                .collect();
            let mut d = Diagnostic::error(
                "E0703",
                format!("the test gives rows for `{name}`, which is not a dataset of kpi.toml"),
            )
            .at(at(rows.span()));
            if let Some(hint) = crate::diagnostic::did_you_mean(name, known) {
                d = d.with_hint(hint);
            }
            outcome.errors.push(d);
            continue;
        };
        let csv = match (&rows.get_ref().csv, &rows.get_ref().file) {
            (Some(csv), None) => Ok(csv.trim_start_matches('\n').to_string()),
            (None, Some(file)) => {
                let beside = path.parent().unwrap_or(Path::new(".")).join(file);
                std::fs::read_to_string(&beside)
                    .map_err(|e| format!("cannot read `{file}` next to the test: {e}"))
            }
            _ => Err("give the rows either inline (`csv = \"\"\"...\"\"\"`) or as a `file`, one of the two".to_string()),
        };
        let csv = match csv {
            Ok(csv) => csv,
            Err(message) => {
                outcome
                    .errors
                    .push(Diagnostic::error("E0703", message).at(at(rows.span())));
                continue;
            }
        };
        let file = scratch.path().join(format!("{name}.csv"));
        if let Err(e) = std::fs::write(&file, csv) {
            outcome.errors.push(Diagnostic::error(
                "E0701",
                format!("cannot write the rows of `{name}`: {e}"),
            ));
            continue;
        }
        config.path = file
            .strip_prefix(project_dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        config.format = crate::manifest::FileFormat::Csv;
    }
    if !outcome.errors.is_empty() {
        return outcome;
    }
    let names: Vec<String> = test
        .expect
        .iter()
        .map(|e| e.get_ref().kpi.clone())
        .collect();
    let tested = match Project::from_manifest(manifest) {
        Ok(p) => p,
        Err(e) => {
            outcome.errors.push(e.diagnostic);
            return outcome;
        }
    };
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    let run = tested.run(&RunOptions {
        as_of: Some(as_of),
        names: unique,
        ..RunOptions::default()
    });
    for expect in &test.expect {
        let line = sources.get(id).line_col(expect.span().start).0;
        outcome
            .checked
            .push(check(&run, expect.get_ref(), &shown, line));
    }
    // Errors of the KPIs under test fail them; they point into the definitions (or the rows,
    // named as the dataset they stand in for), whose text is the tested project's.
    outcome.errors.extend(
        run.diagnostics
            .into_iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let place = d
                    .span
                    .map(|s| format!(" ({})", tested.sources.location(s)))
                    .unwrap_or_default();
                let message = format!("{}{place}", d.message);
                Diagnostic {
                    message,
                    span: None,
                    ..d
                }
            }),
    );
    outcome
}

fn check(run: &Run, expect: &Expect, file: &str, line: usize) -> Checked {
    let mut what = expect.kpi.clone();
    for value in expect.dimensions.values() {
        what.push_str(&format!(" · {value}"));
    }
    let verdict = |failure: Option<String>, what: String| Checked {
        what,
        file: file.to_string(),
        line,
        failure,
    };
    let Some(kpi) = run.outcomes.iter().find(|k| k.meta.name == expect.kpi) else {
        return verdict(Some(format!("`{}` was not computed", expect.kpi)), what);
    };
    let period = expect.period.clone().unwrap_or_else(|| kpi.period.clone());
    let what = format!("{what} in {period}");
    let Some(row) = find_row(kpi, &expect.dimensions) else {
        let rows: Vec<String> = kpi
            .rows
            .iter()
            .map(|r| format!("{:?}", r.dimensions))
            .collect();
        return verdict(
            Some(format!(
                "no row with these dimension values; the rows are {}",
                rows.join(", ")
            )),
            what,
        );
    };
    let Some(index) = kpi.history_periods.iter().position(|p| *p == period) else {
        return verdict(
            Some(format!(
                "{period} is not among the periods reported ({} to {})",
                kpi.history_periods.first().map_or("", String::as_str),
                kpi.history_periods.last().map_or("", String::as_str)
            )),
            what,
        );
    };
    let mut failures = Vec::new();
    if let Some(expected) = expect.value {
        let actual = row.history.get(index).copied().flatten();
        let close = actual.is_some_and(|a| (a - expected).abs() <= 1e-9 * expected.abs().max(1.0));
        if !close {
            failures.push(format!(
                "value: expected {expected}, got {}",
                actual.map_or("no value".to_string(), |a| a.to_string())
            ));
        }
    }
    if let Some(expected) = &expect.status {
        let actual = row.history_status.get(index).copied().flatten();
        let actual = actual.map_or("no status", |s| s.key());
        if actual != expected {
            failures.push(format!("status: expected {expected}, got {actual}"));
        }
    }
    if expect.value.is_none() && expect.status.is_none() {
        failures.push("the expectation names neither a `value` nor a `status`".to_string());
    }
    verdict((!failures.is_empty()).then(|| failures.join("; ")), what)
}

fn find_row<'a>(kpi: &'a KpiOutcome, dims: &BTreeMap<String, String>) -> Option<&'a RowOutcome> {
    kpi.rows.iter().find(|row| {
        row.dimensions.len() == dims.len()
            && row
                .dimensions
                .iter()
                .all(|(name, value)| dims.get(name) == Some(value))
    })
}

/// The outcomes as JUnit XML: a suite per test file, a case per expectation.
pub fn junit(project: &str, outcomes: &[TestOutcome]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new(project);
    for outcome in outcomes {
        let mut suite = TestSuite::new(outcome.file.as_str());
        for checked in &outcome.checked {
            let status = match &checked.failure {
                None => TestCaseStatus::success(),
                Some(message) => {
                    let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    failure.set_message(message.as_str());
                    failure
                }
            };
            let mut case = TestCase::new(checked.what.as_str(), status);
            case.extra
                .insert("file".into(), checked.file.clone().into());
            case.extra
                .insert("line".into(), checked.line.to_string().into());
            suite.add_test_case(case);
        }
        for error in &outcome.errors {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(format!("{}: {}", error.code, error.message));
            suite.add_test_case(TestCase::new(error.code, status));
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- the JUnit report could not be written: {e} -->\n"))
}
