//! `kpi lint`: a SMART review of every KPI (LANGUAGE 5.3), letter by letter, with a reason for
//! each finding. The findings are plain data; `report::lint` renders them and `main.rs` decides
//! the exit code from them and the letters the user denies.
//!
//! The rules, and why (also in grammar/README.md, "SMART lint"):
//! - **S**pecific: a title, a description and an owner; the reason names what is missing.
//! - **M**easurable: a target, and a value that computes without errors; the reason quotes the
//!   first error.
//! - **A**chievable: the share of judged periods (`met`, `warn` or `missed`, over every row and
//!   every period of the report's history, the evaluated one included) in which the target held.
//!   Never met is "likely out of reach"; always met by [`WIDE_MARGIN`] of the target or more is
//!   "not a stretch" (only for targets whose every line is `>=`/`>`, or every line `<=`/`<`: a
//!   band or an equality has no margin to speak of). A growth target (every line uses a bare
//!   `previous`) also compares the growth it asks for (target / previous value - 1, the median
//!   over the history) with the growth the KPI has shown from one period to the next: asking for
//!   more than it ever grew (or, for `<=`, a steeper fall than it ever fell) is "likely out of
//!   reach". Without a target, a computed value or any judged period there is nothing to judge
//!   against: the letter fails with `hit_rate` null, so that `--deny A` never passes a KPI it
//!   could not review; with fewer than [`MIN_JUDGED`] judged periods it fails as "too little
//!   history to judge", with the hit rate shown.
//! - **R**elevant: an owner or tags tie the KPI to a team; without both, a KPI that another KPI
//!   uses is still relevant, one that nothing uses is flagged.
//! - **T**ime-bound: an explicit `every` (recurring) or a deadline (`target … by DATE`); a KPI
//!   that only inherits the project's grain says neither.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::compile::ir;
use crate::diagnostic::Diagnostic;
use crate::eval::{KpiOutcome, RowOutcome, Status};
use crate::project::{Project, Run, RunOptions};
use crate::source::{Location, Span};
use crate::syntax::ast;

/// The fewest judged periods (rows times periods) that say anything about a target: one or two
/// periods never met, or always met, are as likely luck as a sign that the target is wrong.
pub const MIN_JUDGED: usize = 3;

/// How far past its target a value must be, as a share of the target, to count as met "by a
/// wide margin": 20%, so `>= 100` met by 120 or more each period is not a stretch.
pub const WIDE_MARGIN: f64 = 0.2;

/// One letter of SMART.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Letter {
    S,
    M,
    A,
    R,
    T,
}

impl Letter {
    pub const ALL: [Letter; 5] = [Letter::S, Letter::M, Letter::A, Letter::R, Letter::T];

    /// `S`, `M`, `A`, `R` or `T`, in either case.
    pub fn parse(text: &str) -> Result<Letter, String> {
        match text.trim().to_ascii_uppercase().as_str() {
            "S" => Ok(Letter::S),
            "M" => Ok(Letter::M),
            "A" => Ok(Letter::A),
            "R" => Ok(Letter::R),
            "T" => Ok(Letter::T),
            _ => Err(format!(
                "`{text}` is not a SMART letter; `--deny` takes S, M, A, R and T, comma-separated (`--deny A,T`)"
            )),
        }
    }

    /// Every letter of a `--deny` list such as `A,T`, each in its own item or comma-separated.
    pub fn parse_list(items: &[String]) -> Result<Vec<Letter>, String> {
        let mut letters = Vec::new();
        for item in items {
            for part in item.split(',') {
                let letter = Letter::parse(part)?;
                if !letters.contains(&letter) {
                    letters.push(letter);
                }
            }
        }
        letters.sort();
        Ok(letters)
    }

    pub fn symbol(self) -> char {
        match self {
            Letter::S => 'S',
            Letter::M => 'M',
            Letter::A => 'A',
            Letter::R => 'R',
            Letter::T => 'T',
        }
    }

    /// The key of the letter's check in JSON: `specific`, …, `time_bound`.
    pub fn key(self) -> &'static str {
        match self {
            Letter::S => "specific",
            Letter::M => "measurable",
            Letter::A => "achievable",
            Letter::R => "relevant",
            Letter::T => "time_bound",
        }
    }
}

/// The verdict on one letter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub pass: bool,
    pub reason: String,
}

/// The verdict on A, with the share of judged periods in which the target held (null when
/// there is nothing to judge against).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Achievable {
    pub pass: bool,
    pub reason: String,
    pub hit_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checks {
    pub specific: Check,
    pub measurable: Check,
    pub achievable: Achievable,
    pub relevant: Check,
    pub time_bound: Check,
}

/// The review of one KPI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiLint {
    pub name: String,
    /// For the table; JSON carries the name alone, as the shape has it.
    #[serde(skip)]
    pub title: Option<String>,
    pub location: Location,
    pub checks: Checks,
}

impl KpiLint {
    /// Whether a letter passes, and why (or why not).
    pub fn check(&self, letter: Letter) -> (bool, &str) {
        let c = &self.checks;
        match letter {
            Letter::S => (c.specific.pass, &c.specific.reason),
            Letter::M => (c.measurable.pass, &c.measurable.reason),
            Letter::A => (c.achievable.pass, &c.achievable.reason),
            Letter::R => (c.relevant.pass, &c.relevant.reason),
            Letter::T => (c.time_bound.pass, &c.time_bound.reason),
        }
    }

    /// The letters that do not pass, in SMART order.
    pub fn failed(&self) -> Vec<Letter> {
        Letter::ALL
            .into_iter()
            .filter(|l| !self.check(*l).0)
            .collect()
    }
}

/// Reviews the KPIs the options choose, in the order they are defined. `run` and `resolved` come
/// from [`Project::run_resolved`] with the same options; a KPI that did not parse is reviewed
/// too, as far as anything can be said of it.
pub fn lint(
    project: &Project,
    options: &RunOptions,
    run: &Run,
    resolved: &[ir::Kpi],
) -> Vec<KpiLint> {
    let used_by = users(project);
    definitions(project)
        .into_iter()
        .filter(|d| project.selects(options, d.name()))
        .map(|d| {
            let name = d.name();
            let errors: Vec<&Diagnostic> = run
                .diagnostics
                .iter()
                .filter(|e| e.is_error() && e.kpi.as_deref() == Some(name))
                .collect();
            let outcome = run.outcomes.iter().find(|o| o.meta.name == name);
            let ir = resolved.iter().find(|k| k.meta.name == name);
            let location = project.sources.location(d.span());
            match d {
                Definition::Parsed(kpi) => KpiLint {
                    name: name.to_string(),
                    title: kpi.title.as_ref().map(|t| t.node.clone()),
                    location,
                    checks: Checks {
                        specific: specific(kpi),
                        measurable: measurable(!kpi.targets.is_empty(), &errors, outcome),
                        achievable: achievable(ir, outcome),
                        relevant: relevant(kpi, used_by.get(name)),
                        time_bound: time_bound(kpi),
                    },
                },
                Definition::Broken(..) => broken(name, location, &errors),
            }
        })
        .collect()
}

/// A KPI as written: parsed, or left out for errors in its text.
enum Definition<'a> {
    Parsed(&'a ast::Kpi),
    Broken(&'a ast::Broken, &'a ast::Ident),
}

impl Definition<'_> {
    fn name(&self) -> &str {
        match self {
            Definition::Parsed(k) => &k.name.name,
            Definition::Broken(_, name) => &name.name,
        }
    }

    /// Where it is reported: its name, as in `kpi list`.
    fn span(&self) -> Span {
        match self {
            Definition::Parsed(k) => k.name.span,
            Definition::Broken(_, name) => name.span,
        }
    }

    fn start(&self) -> usize {
        match self {
            Definition::Parsed(k) => k.span.start,
            Definition::Broken(b, _) => b.span.start,
        }
    }
}

/// Every KPI defined, parsed or broken (a broken one needs its name to be reported), in file
/// order and then in text order.
fn definitions(project: &Project) -> Vec<Definition<'_>> {
    let mut out = Vec::new();
    for file in &project.files {
        let mut defs: Vec<Definition> = file
            .items
            .iter()
            .filter_map(|i| match i {
                ast::Item::Kpi(k) => Some(Definition::Parsed(k)),
                _ => None,
            })
            .collect();
        defs.extend(file.broken.iter().filter_map(|b| {
            let name = b.name.as_ref()?;
            (b.keyword == Some("kpi")).then_some(Definition::Broken(b, name))
        }));
        defs.sort_by_key(Definition::start);
        out.extend(defs);
    }
    out
}

/// A KPI whose text has errors: only M can say something true about it.
fn broken(name: &str, location: Location, errors: &[&Diagnostic]) -> KpiLint {
    let unread = || Check {
        pass: false,
        reason: "not reviewed: its definition has errors".to_string(),
    };
    KpiLint {
        name: name.to_string(),
        title: None,
        location,
        checks: Checks {
            specific: unread(),
            measurable: measurable(true, errors, None),
            achievable: unknown("cannot be judged: the KPI was not computed"),
            relevant: unread(),
            time_bound: unread(),
        },
    }
}

fn specific(kpi: &ast::Kpi) -> Check {
    let missing: Vec<&str> = [
        (kpi.title.is_none(), "a title"),
        (kpi.description.is_none(), "a description"),
        (kpi.owner.is_none(), "an owner"),
    ]
    .into_iter()
    .filter_map(|(missing, what)| missing.then_some(what))
    .collect();
    if missing.is_empty() {
        Check {
            pass: true,
            reason: "has a title, a description and an owner".to_string(),
        }
    } else {
        Check {
            pass: false,
            reason: format!("missing {}", and_list(&missing)),
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn measurable(has_target: bool, errors: &[&Diagnostic], outcome: Option<&KpiOutcome>) -> Check {
    let mut problems = Vec::new();
    if !has_target {
        problems.push("no target".to_string());
    }
    if let Some(first) = errors.first() {
        let more = match errors.len() - 1 {
            0 => String::new(),
            1 => " (and 1 more error)".to_string(),
            n => format!(" (and {n} more errors)"),
        };
        problems.push(format!(
            "does not compute: [{}] {}{more}",
            first.code, first.message
        ));
    } else if outcome.is_none() {
        // No error of its own, yet no value: the run stopped before it (an unreadable `as_of`).
        problems.push("not computed: the run stopped before it (see the errors)".to_string());
    }
    if problems.is_empty() {
        Check {
            pass: true,
            reason: "has a target and computes without errors".to_string(),
        }
    } else {
        Check {
            pass: false,
            reason: problems.join("; "),
        }
    }
}

fn unknown(reason: &str) -> Achievable {
    Achievable {
        pass: false,
        reason: reason.to_string(),
        hit_rate: None,
    }
}

/// Which way a target's lines point: every line `>=`/`>` (up), or every line `<=`/`<` (down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

fn direction(goals: &[ir::Goal]) -> Option<Direction> {
    let of = |goal: &ir::Goal| match goal.test {
        ir::GoalTest::Compare(ir::CompareOp::Ge | ir::CompareOp::Gt, _) => Some(Direction::Up),
        ir::GoalTest::Compare(ir::CompareOp::Le | ir::CompareOp::Lt, _) => Some(Direction::Down),
        _ => None,
    };
    let first = of(goals.first()?)?;
    goals.iter().all(|g| of(g) == Some(first)).then_some(first)
}

/// Whether a target line asks for growth: its bound uses the KPI's own earlier value, the bare
/// `previous` of `target >= previous * 1.2`, written there or in a `let` it uses.
fn is_growth(goal: &ir::Goal) -> bool {
    fn uses_own_previous(expr: &ir::Expr) -> bool {
        crate::deep(|| {
            matches!(expr, ir::Expr::Previous(inner, _) if **inner == ir::Expr::SelfValue)
                || expr.children().into_iter().any(uses_own_previous)
        })
    }
    match &goal.test {
        ir::GoalTest::Compare(_, bound) => uses_own_previous(bound),
        ir::GoalTest::Between(low, high) => uses_own_previous(low) || uses_own_previous(high),
    }
}

/// Every judged (row, period) of a KPI's history: its status, value and target.
fn judged(rows: &[RowOutcome]) -> impl Iterator<Item = (Status, Option<f64>, Option<f64>)> + '_ {
    rows.iter().flat_map(|row| {
        row.history_status
            .iter()
            .enumerate()
            .filter_map(move |(i, status)| {
                // Only periods judged against their target count: not `no_data`, and not a
                // time-bound period in progress (`on_track`, `at_risk`), which is a forecast.
                let status = (*status)
                    .filter(|s| matches!(s, Status::Met | Status::Warn | Status::Missed))?;
                Some((
                    status,
                    row.history.get(i).copied().flatten(),
                    row.history_target.get(i).copied().flatten(),
                ))
            })
    })
}

/// Whether a met target was met by at least [`WIDE_MARGIN`] of the target.
fn by_wide_margin(value: f64, target: f64, direction: Direction) -> bool {
    let margin = WIDE_MARGIN * target.abs();
    match direction {
        Direction::Up => value - target >= margin,
        Direction::Down => target - value >= margin,
    }
}

/// Whether every judged period was met by a wide margin.
fn always_by_wide_margin(
    periods: &[(Status, Option<f64>, Option<f64>)],
    direction: Direction,
) -> bool {
    periods.iter().all(|(status, value, target)| {
        *status == Status::Met
            && value
                .zip(*target)
                .is_some_and(|(v, t)| by_wide_margin(v, t, direction))
    })
}

/// `3 judged periods`, `6 judged periods (over 2 rows)`.
fn periods_text(count: usize, rows: usize) -> String {
    let over = if rows > 1 {
        format!(" (over {rows} rows)")
    } else {
        String::new()
    };
    format!(
        "{count} judged period{}{over}",
        if count == 1 { "" } else { "s" }
    )
}

fn achievable(kpi: Option<&ir::Kpi>, outcome: Option<&KpiOutcome>) -> Achievable {
    let (Some(kpi), Some(outcome)) = (kpi, outcome) else {
        return unknown("cannot be judged: the KPI was not computed");
    };
    if kpi.targets.is_empty() {
        return unknown("no target to judge against history");
    }
    let periods: Vec<_> = judged(&outcome.rows).collect();
    let judged_count = periods.len();
    if judged_count == 0 {
        return unknown(
            "no history to judge against: no period of the history has both a value and a target",
        );
    }
    let met = periods.iter().filter(|(s, ..)| *s == Status::Met).count();
    let hit_rate = met as f64 / judged_count as f64;
    let judged_periods = periods_text(judged_count, outcome.rows.len());
    let direction = direction(&kpi.targets);
    let growth = direction
        .filter(|_| kpi.targets.iter().all(is_growth))
        .and_then(|d| growth(&outcome.rows, d));
    let verdict = |pass: bool, reason: String| Achievable {
        pass,
        reason,
        hit_rate: Some(hit_rate),
    };
    // A growth target asking for more than the KPI ever grew is out of reach however short the
    // history of judged periods is: the growth seen is measured on the values themselves.
    if let Some(g) = &growth {
        if g.out_of_reach() {
            return verdict(false, format!("likely out of reach: {}", g.describe()));
        }
    }
    if judged_count < MIN_JUDGED {
        return verdict(
            false,
            format!(
                "too little history to judge: met in {met} of {judged_periods}; {MIN_JUDGED} are needed"
            ),
        );
    }
    if met == 0 {
        return verdict(
            false,
            format!("likely out of reach: met in none of {judged_periods}"),
        );
    }
    if direction.is_some_and(|d| always_by_wide_margin(&periods, d)) {
        return verdict(
            false,
            format!(
                "not a stretch: met in all {judged_periods}, each time by {}% of the target or more",
                WIDE_MARGIN * 100.0
            ),
        );
    }
    let mut reason = format!(
        "met in {met} of {judged_periods} (hit rate {})",
        percent(hit_rate)
    );
    if let Some(g) = &growth {
        reason = format!("{reason}; {}", g.describe());
    }
    verdict(true, reason)
}

/// The growth a growth target asks for, and the growth the KPI has shown, both as period over
/// period rates relative to the previous value.
struct Growth {
    direction: Direction,
    /// The median of what the target asked for in each period of the history.
    required: f64,
    /// Every rate of change seen between two periods of the history, sorted.
    actual: Vec<f64>,
}

/// The rates of a growth target over the history of every row; `None` when the history has no
/// pair of consecutive values (with a non-zero first) to measure one.
fn growth(rows: &[RowOutcome], direction: Direction) -> Option<Growth> {
    let mut required = Vec::new();
    let mut actual = Vec::new();
    for row in rows {
        for i in 1..row.history.len() {
            let Some(prev) = row.history[i - 1].filter(|p| *p != 0.0) else {
                continue;
            };
            let rate = |x: f64| (x - prev) / prev.abs();
            if let Some(value) = row.history[i] {
                actual.push(rate(value));
            }
            if let Some(target) = row.history_target.get(i).copied().flatten() {
                required.push(rate(target));
            }
        }
    }
    if required.is_empty() || actual.is_empty() {
        return None;
    }
    actual.sort_by(f64::total_cmp);
    Some(Growth {
        direction,
        required: median(&mut required),
        actual,
    })
}

impl Growth {
    /// Asks for more growth than any period showed (or, for a `<=` target, a steeper fall).
    fn out_of_reach(&self) -> bool {
        match self.direction {
            Direction::Up => self.actual.last().is_some_and(|max| self.required > *max),
            Direction::Down => self.actual.first().is_some_and(|min| self.required < *min),
        }
    }

    fn describe(&self) -> String {
        let (most, extreme) = match self.direction {
            Direction::Up => ("the KPI grew at most", self.actual.last()),
            Direction::Down => ("its lowest change in a period was", self.actual.first()),
        };
        let typical = median(&mut self.actual.clone());
        format!(
            "the target asks for {} a period; in its history {most} {} (median {})",
            signed_percent(self.required),
            signed_percent(extreme.copied().unwrap_or(0.0)),
            signed_percent(typical)
        )
    }
}

/// The median of a non-empty list (the mean of the middle two for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// `33.3%`, `100%`, `12.5%`: a share, without a trailing `.0` (the reports show hit rates so).
pub fn percent(share: f64) -> String {
    let text = format!("{:.1}", share * 100.0);
    format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
}

/// `+20.0%`, `-33.3%`: a rate of change.
fn signed_percent(rate: f64) -> String {
    // -0.0 is shown as +0.0%.
    let rate = if rate == 0.0 { 0.0 } else { rate };
    format!("{:+.1}%", rate * 100.0)
}

fn relevant(kpi: &ast::Kpi, used_by: Option<&BTreeSet<String>>) -> Check {
    let owner = kpi.owner.as_ref().map(|o| o.node.as_str());
    let tags: Vec<&str> = kpi.tags.iter().map(|t| t.name.as_str()).collect();
    let pass = |reason: String| Check { pass: true, reason };
    match (owner, tags.is_empty()) {
        (Some(owner), true) => pass(format!("owned by {owner}")),
        (Some(owner), false) => pass(format!("owned by {owner}, tagged {}", tags.join(", "))),
        (None, false) => pass(format!("tagged {}", tags.join(", "))),
        (None, true) => match used_by.filter(|u| !u.is_empty()) {
            Some(users) => {
                let names: Vec<String> = users.iter().map(|u| format!("`{u}`")).collect();
                pass(format!(
                    "no owner or tags, but used by {}",
                    and_list(&names.iter().map(String::as_str).collect::<Vec<_>>())
                ))
            }
            None => Check {
                pass: false,
                reason: "no owner or tags tie it to a team, and no other KPI uses it".to_string(),
            },
        },
    }
}

fn time_bound(kpi: &ast::Kpi) -> Check {
    let deadline = kpi
        .targets
        .iter()
        .find_map(|g| g.deadline.as_ref())
        .map(|d| d.node);
    match (&kpi.every, deadline) {
        (Some(every), Some(day)) => Check {
            pass: true,
            reason: format!("every {}, with a deadline ({day})", every.name),
        },
        (Some(every), None) => Check {
            pass: true,
            reason: format!("recurring: every {}", every.name),
        },
        (None, Some(day)) => Check {
            pass: true,
            reason: format!("deadline: by {day}"),
        },
        (None, None) => Check {
            pass: false,
            reason: "no `every` and no deadline (`target … by DATE`)".to_string(),
        },
    }
}

/// For each KPI name, the other KPIs whose definitions use it (read from the text, so a KPI
/// that fails to resolve still counts as a user).
fn users(project: &Project) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for kpi in project.kpis() {
        let mut names = BTreeSet::new();
        for expr in kpi_exprs(kpi) {
            names_in(expr, &mut names);
        }
        // A local `let` shadows a KPI of the same name.
        for local in &kpi.lets {
            names.remove(&local.name.name);
        }
        names.remove(&kpi.name.name);
        for name in names {
            out.entry(name).or_default().insert(kpi.name.name.clone());
        }
    }
    out
}

/// Every expression of a KPI's definition.
fn kpi_exprs(kpi: &ast::Kpi) -> Vec<&ast::Expr> {
    let mut out: Vec<&ast::Expr> = Vec::new();
    out.extend(&kpi.value);
    out.extend(&kpi.filter);
    out.extend(kpi.lets.iter().map(|l| &l.expr));
    for goal in kpi.targets.iter().chain(&kpi.warns) {
        match &goal.kind {
            ast::GoalKind::Compare(_, e) => out.push(e),
            ast::GoalKind::Between(a, b) => out.extend([a, b]),
        }
        out.extend(&goal.condition);
    }
    out
}

/// The bare names an expression reads (`revenue`, never `orders.amount`).
fn names_in(expr: &ast::Expr, out: &mut BTreeSet<String>) {
    crate::deep(|| match &expr.kind {
        ast::ExprKind::Path { head, field: None } => {
            out.insert(head.name.clone());
        }
        ast::ExprKind::Number(_)
        | ast::ExprKind::String(_)
        | ast::ExprKind::Date(_)
        | ast::ExprKind::Bool(_)
        | ast::ExprKind::Null
        | ast::ExprKind::Path { .. } => {}
        ast::ExprKind::Call { args, .. } => {
            for arg in args {
                names_in(&arg.expr, out);
                if let Some(filter) = &arg.filter {
                    names_in(filter, out);
                }
            }
        }
        ast::ExprKind::Member { head, .. } => {
            // A funnel's or a cohort's numbers: the KPI uses that item.
            out.insert(head.name.clone());
        }
        ast::ExprKind::Unary { expr, .. } | ast::ExprKind::IsNull { expr, .. } => {
            names_in(expr, out);
        }
        ast::ExprKind::Binary { left, right, .. } => {
            names_in(left, out);
            names_in(right, out);
        }
        ast::ExprKind::In { expr, list, .. } => {
            names_in(expr, out);
            for e in list {
                names_in(e, out);
            }
        }
        ast::ExprKind::Between { expr, low, high } => {
            names_in(expr, out);
            names_in(low, out);
            names_in(high, out);
        }
        ast::ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            names_in(cond, out);
            names_in(then, out);
            names_in(otherwise, out);
        }
    })
}
