//! JUnit XML for a CI's test results: one test suite per definition file, one test case per KPI
//! row, named after the KPI and its dimension values, with the file and line of its definition.
//!
//! - a status that `--fail-on` fails is a `<failure>` whose message gives the value and target;
//! - `no_data` is `<skipped>`, with the reason;
//! - a status that does not fail the run (met, on track, and warn or at risk below the
//!   `--fail-on` level) passes, with the status in the test case's output;
//! - a KPI that could not be computed is an `<error>` with its first error, and an error that
//!   belongs to no KPI is an `<error>` test case named after its code.
//!
//! The XML is written by `quick-junit`, which escapes every text and attribute.

use std::collections::BTreeMap;

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use super::format::{judged_text, status_mark, with_dimensions};
use super::{FailOn, Report};
use crate::diagnostic::Severity;
use crate::eval::{KpiOutcome, RowOutcome, Status};

/// The suite of errors that belong to no definition file.
const NO_FILE: &str = "kpi";

pub fn render(report: &Report<'_>, fail_on: FailOn) -> String {
    // Suites by file, in file order; cases in report order.
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    for kpi in report.outcomes {
        for row in &kpi.rows {
            suite(&mut suites, &kpi.location.file)
                .add_test_case(row_case(report, kpi, row, fail_on));
        }
    }
    for d in report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
    {
        let location = d.span.map(|span| report.sources.location(span));
        let name = match &d.kpi {
            // A KPI with rows has its own test cases; this error is reported once, with it.
            Some(name) if report.outcomes.iter().any(|k| &k.meta.name == name) => continue,
            Some(name) => name.clone(),
            None => d.code.to_string(),
        };
        let file = location.as_ref().map_or(NO_FILE, |l| l.file.as_str());
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(format!("{}: {}", d.code, d.message));
        status.set_type(d.code);
        if !d.hints.is_empty() {
            status.set_description(d.hints.join("\n"));
        }
        let mut case = TestCase::new(name.clone(), status);
        case.set_classname(report.project);
        if let Some(location) = &location {
            case.extra
                .insert("file".into(), report.paths.of(&location.file).into());
            case.extra
                .insert("line".into(), location.line.to_string().into());
        }
        let suite = suite(&mut suites, file);
        // A KPI with several errors is one test case, with its first.
        if !suite.test_cases.iter().any(|c| c.name.as_str() == name) {
            suite.add_test_case(case);
        }
    }
    let mut junit = JunitReport::new(report.project);
    junit.add_test_suites(suites.into_values());
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- the JUnit report could not be written: {e} -->\n"))
}

fn suite<'a>(suites: &'a mut BTreeMap<String, TestSuite>, file: &str) -> &'a mut TestSuite {
    suites
        .entry(file.to_string())
        .or_insert_with(|| TestSuite::new(file))
}

fn row_case(report: &Report<'_>, kpi: &KpiOutcome, row: &RowOutcome, fail_on: FailOn) -> TestCase {
    let judged = judged_text(report.numbers, kpi, row);
    let status = match row.status {
        Some(status) if fail_on.fails(status) => {
            let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
            failure.set_message(format!("{}: {judged}", status.key()));
            failure.set_type(status.key());
            failure
        }
        Some(Status::NoData) => {
            let mut skipped = TestCaseStatus::skipped();
            let reason = row.reason.as_deref().unwrap_or("no value in the period");
            skipped.set_message(format!("no_data: {reason}"));
            skipped.set_type(Status::NoData.key());
            skipped
        }
        _ => TestCaseStatus::success(),
    };
    let mut case = TestCase::new(with_dimensions(&kpi.meta.name, row), status);
    case.set_classname(report.project);
    case.extra
        .insert("file".into(), report.paths.of(&kpi.location.file).into());
    case.extra
        .insert("line".into(), kpi.location.line.to_string().into());
    let mark = row.status.map_or("no target", status_mark);
    case.set_system_out(format!("{mark}: {judged}"));
    case
}
