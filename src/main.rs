//! The `kpi` binary: parse arguments, call the library, print, and choose the exit code.
//!
//! Exit codes: 0 nothing reached the `--fail-on` level; 1 something did; 2 errors in
//! definitions, data or arguments (every KPI that could be computed is still reported).
//! `kpi lint`: 0 findings are warnings only; 1 a letter named by `--deny` fails for some KPI;
//! 2 errors that belong to no single KPI, or bad arguments (a KPI's own errors fail its M).
//! Any command: 141 when standard output is closed before it is written (see `print!` below).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{CommandFactory, Parser};

use cli::{Cli, Command, ListFormat};
use kpi::diagnostic::{render_human, Diagnostic, DiagnosticJson};
use kpi::lint::Letter;
use kpi::locale::{LocaleTag, Numbers};
use kpi::period::{day_range, PeriodSpec};
use kpi::project::{Project, Run, RunOptions};
use kpi::report::lint::LintReport;
use kpi::report::{self, FilePaths, Report, TableOptions};
use kpi::source::SourceMap;
use kpi::syntax::ast;

/// glibc's allocator gives each thread that allocates at once an arena of its own, up to eight per
/// core, and memory freed in one arena serves only that arena. polars' threads free large
/// buffers all the time, so a run over 30M orders peaked at 1.6 GiB with the default and at
/// 1.2 GiB with as many arenas as cores, in the same time (ARCHITECTURE.md, "Performance").
/// `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES=glibc.malloc.arena_max=…` in the environment still
/// wins. Called first thing, before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    let tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"));
    if tuned || std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only changes a setting of glibc's allocator, and no other thread
    // exists yet to race with it. Its result (0 when refused) changes nothing we rely on.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// std's `print!` and `println!` panic when stdout is closed (`kpi check | head`); these end the
/// process as a closed pipe would (exit 141, nothing on stderr), and a stdout that cannot be
/// written for another reason (a full disk) is an error, exit 2.
macro_rules! print {
    ($($arg:tt)*) => { write_stdout(format_args!($($arg)*)) };
}
macro_rules! println {
    () => { write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

fn write_stdout(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(i32::from(EXIT_ERROR));
    }
}

/// 128 + SIGPIPE, as a shell reports a command killed by a closed pipe.
const EXIT_BROKEN_PIPE: i32 = 141;
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    // The commands about kpi itself need no project.
    match &cli.command {
        Command::Completions(args) => {
            let mut command = Cli::command();
            // Written to a buffer, then through `print!`: clap_complete writing to stdout
            // itself panics when the pipe is closed (`kpi completions bash | head -1`).
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "kpi", &mut script);
            print!("{}", String::from_utf8_lossy(&script));
            return ExitCode::from(EXIT_OK);
        }
        Command::Man => return ExitCode::from(man()),
        Command::Init(args) => return ExitCode::from(init(args, &cli.project)),
        Command::Fmt(args) => return ExitCode::from(fmt(args, &cli.project)),
        _ => {}
    }
    let project = match kpi::timed("load and parse", || Project::load(&cli.project)) {
        Ok(p) => p,
        Err(error) => {
            // kpi.toml cannot be read or is not TOML: nothing can be reported.
            print_diagnostics(&[error.diagnostic], &error.sources);
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let code = match cli.command {
        Command::Check(args) => check(project, args),
        Command::Eval(args) => eval(project, args),
        Command::List(args) => list(project, args.format),
        Command::Validate(args) => validate(project, args.format),
        Command::Lint(args) => lint(project, args),
        Command::Explain(args) => explain(project, args),
        Command::Diff(args) => diff(project, &cli.project, args),
        Command::Test(args) => test(&project, &cli.project, args),
        Command::Completions(_) | Command::Man | Command::Init(_) | Command::Fmt(_) => EXIT_OK,
    };
    ExitCode::from(code)
}

/// `kpi init`: reads the folder's data files, asks which column dates a file with several date
/// columns (unless `--yes`), and writes kpi.toml and kpis/starter.kpi, never over a file.
fn init(args: &cli::InitArgs, project: &std::path::Path) -> u8 {
    use kpi::init::{self, Chosen};
    let dir = args.dir.clone().unwrap_or_else(|| project.to_path_buf());
    if !dir.is_dir() {
        return argument_error(format!("`{}` is not a folder", dir.display()));
    }
    for file in [init::MANIFEST, init::STARTER] {
        if dir.join(file).exists() {
            return argument_error(format!(
                "`{file}` already exists in `{}`: `kpi init` writes only new files",
                dir.display()
            ));
        }
    }
    let (found, unreadable) = init::survey(&dir);
    let warnings: Vec<Diagnostic> = unreadable
        .iter()
        .map(|u| {
            Diagnostic::warning(
                "W0601",
                format!("cannot read `{}`, so it is left out: {}", u.path, u.reason),
            )
        })
        .collect();
    print_diagnostics(&warnings, &SourceMap::new());
    if found.is_empty() {
        return argument_error(format!(
            "no CSV, Parquet or NDJSON file in `{}` (nor in its folders)",
            dir.display()
        ));
    }
    let mut chosen = Vec::new();
    for file in &found {
        let time = match file.dates.as_slice() {
            [] => None,
            [only] => Some(only.clone()),
            [first, ..] if args.yes => Some(first.clone()),
            several => match ask_time(&file.path, several) {
                Some(time) => Some(time),
                None => {
                    return argument_error(format!(
                        "`{}` has several date columns ({}) and no answer came to which one dates its rows; pass --yes to take the first",
                        file.path,
                        several.join(", ")
                    ))
                }
            },
        };
        chosen.push(Chosen {
            name: file.name.clone(),
            path: file.path.clone(),
            time,
        });
    }
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "kpis".to_string());
    let files = [
        (init::MANIFEST, init::manifest_text(&name, &chosen)),
        (init::STARTER, init::starter_text(&chosen)),
    ];
    if let Err(e) = std::fs::create_dir_all(dir.join("kpis")) {
        return argument_error(format!("cannot make `{}/kpis`: {e}", dir.display()));
    }
    for (file, text) in &files {
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(file))
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        if let Err(e) = written {
            return argument_error(format!("cannot write `{file}`: {e}"));
        }
    }
    let p = dir.display();
    println!(
        "Wrote {} ({} dataset{}) and {} (a KPI counting each one's rows).",
        init::MANIFEST,
        chosen.len(),
        if chosen.len() == 1 { "" } else { "s" },
        init::STARTER
    );
    for dataset in &chosen {
        let time = dataset
            .time
            .as_deref()
            .map_or("no date column: timeless".to_string(), |t| {
                format!("dated by `{t}`")
            });
        println!("  {:<20} {} ({time})", dataset.name, dataset.path);
    }
    println!("Next:");
    println!("  kpi -p {p} validate        # check the definitions against the data");
    println!(
        "  kpi -p {p} eval {}_rows   # its latest month and trend; add --from for every month",
        chosen[0].name
    );
    println!("  kpi -p {p} check           # judge the KPIs (add targets first)");
    EXIT_OK
}

/// `kpi fmt`: formats the files given, or the project's definition files. Exit 0: done (with
/// `--check`: nothing would change); 1: with `--check`, some file would change; 2: a file does
/// not parse or cannot be read or written (the others are still formatted).
fn fmt(args: &cli::FmtArgs, project: &std::path::Path) -> u8 {
    use kpi::fmt::{self, Formatted};
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        if args.paths.len() > 1 {
            return argument_error("`-` (standard input) cannot be formatted with files".into());
        }
        return fmt_stdin(args.check);
    }
    let (files, mut failed) = if args.paths.is_empty() {
        let project = match Project::load(project) {
            Ok(p) => p,
            Err(error) => {
                print_diagnostics(&[error.diagnostic], &error.sources);
                return EXIT_ERROR;
            }
        };
        // The manifest's `kpis` globs as `kpi validate` reads them; a glob that cannot be
        // walked is reported, and the files the others name are still formatted.
        let (files, errors) = project.manifest.kpi_files();
        let errors: Vec<Diagnostic> = errors
            .iter()
            .map(|e| e.diagnostic(Some(project.manifest_file)))
            .collect();
        print_diagnostics(&errors, &project.sources);
        (files, !errors.is_empty())
    } else {
        let (paths, errors) = fmt::definition_files(&args.paths);
        print_diagnostics(&errors, &SourceMap::new());
        let files = paths
            .into_iter()
            .map(|p| (p.display().to_string(), p))
            .collect();
        (files, !errors.is_empty())
    };
    let mut changed = 0;
    for (name, path) in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                print_diagnostics(&[fmt::cannot_read(path, &e.to_string())], &SourceMap::new());
                failed = true;
                continue;
            }
        };
        match fmt::format_text(name, path, &text) {
            Formatted::Unchanged => {}
            Formatted::Changed(formatted) if args.check => {
                changed += 1;
                print!("{}", fmt::diff(name, &text, &formatted));
            }
            Formatted::Changed(formatted) => match fmt::write_in_place(path, &formatted) {
                Ok(()) => {
                    changed += 1;
                    eprintln!("formatted {name}");
                }
                Err(reason) => {
                    let error =
                        Diagnostic::error("E0801", format!("cannot write {name}: {reason}"));
                    print_diagnostics(&[error], &SourceMap::new());
                    failed = true;
                }
            },
            Formatted::Failed(diagnostics, sources) => {
                print_diagnostics(&diagnostics, &sources);
                failed = true;
            }
        }
    }
    if args.check && changed > 0 {
        let noun = if files.len() == 1 { "file" } else { "files" };
        eprintln!(
            "{changed} of {} {noun} would be reformatted; `kpi fmt` formats them",
            files.len()
        );
    }
    match (failed, args.check && changed > 0) {
        (true, _) => EXIT_ERROR,
        (false, true) => EXIT_FAILED,
        (false, false) => EXIT_OK,
    }
}

/// `kpi fmt -`: standard input to standard output (for editors); with `--check`, the diff.
fn fmt_stdin(check: bool) -> u8 {
    use kpi::fmt::{self, Formatted};
    use std::io::Read;
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        return argument_error(format!("cannot read standard input: {e}"));
    }
    let name = "<stdin>";
    match fmt::format_text(name, std::path::Path::new(name), &text) {
        Formatted::Unchanged if check => EXIT_OK,
        Formatted::Unchanged => {
            print!("{text}");
            EXIT_OK
        }
        Formatted::Changed(formatted) if check => {
            print!("{}", fmt::diff(name, &text, &formatted));
            EXIT_FAILED
        }
        Formatted::Changed(formatted) => {
            print!("{formatted}");
            EXIT_OK
        }
        Formatted::Failed(diagnostics, sources) => {
            print_diagnostics(&diagnostics, &sources);
            EXIT_ERROR
        }
    }
}

/// Asks on the terminal which of a file's date columns dates its rows: a number or a name; an
/// empty answer takes the first. None when no answer comes (no terminal, end of input).
fn ask_time(path: &str, columns: &[String]) -> Option<String> {
    use std::io::BufRead;
    let stdin = std::io::stdin();
    for _ in 0..3 {
        eprintln!("`{path}` has several date columns; which one dates its rows?");
        for (i, column) in columns.iter().enumerate() {
            eprintln!("  {}) {column}", i + 1);
        }
        eprint!("[1] ");
        let mut answer = String::new();
        if stdin.lock().read_line(&mut answer).ok()? == 0 {
            return None;
        }
        let answer = answer.trim();
        if answer.is_empty() {
            return columns.first().cloned();
        }
        if let Some(column) = answer
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| columns.get(i))
            .or_else(|| columns.iter().find(|c| c.as_str() == answer))
        {
            return Some(column.clone());
        }
        eprintln!("`{answer}` is not one of them.");
    }
    None
}

/// The manual page of `kpi`, with a section per subcommand.
fn man() -> u8 {
    let command = Cli::command();
    let mut page = Vec::new();
    let rendered = clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .and_then(|()| {
            // Each subcommand's usage and options, under a heading of its own.
            for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
                let name = format!("kpi {}", sub.get_name());
                page.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
                let man = clap_mangen::Man::new(sub.clone().bin_name(name));
                man.render_description_section(&mut page)?;
                man.render_synopsis_section(&mut page)?;
                man.render_options_section(&mut page)?;
            }
            Ok(())
        });
    match rendered {
        Ok(()) => {
            print!("{}", String::from_utf8_lossy(&page));
            EXIT_OK
        }
        Err(e) => argument_error(format!("cannot write the manual page: {e}")),
    }
}

fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn print_diagnostics(diagnostics: &[Diagnostic], sources: &SourceMap) {
    if !diagnostics.is_empty() {
        eprint!("{}", render_human(diagnostics, sources, stderr_color()));
    }
}

fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.is_error())
}

/// An argument error: printed like any diagnostic, exit 2.
fn argument_error(message: String) -> u8 {
    print_diagnostics(&[Diagnostic::error("E0001", message)], &SourceMap::new());
    EXIT_ERROR
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date; write it as YYYY-MM-DD"))
}

fn run_options(when: &cli::WhenArgs) -> Result<RunOptions, String> {
    Ok(RunOptions {
        as_of: when.as_of.as_deref().map(parse_date).transpose()?,
        period: when.period.as_deref().map(PeriodSpec::parse).transpose()?,
        ..RunOptions::default()
    })
}

/// What a run's reports show.
fn report_of<'a>(
    project: &'a Project,
    run: &'a Run,
    paths: &'a FilePaths,
    numbers: &'a Numbers,
) -> Report<'a> {
    Report {
        numbers,
        project: &run.project,
        as_of: run.as_of,
        outcomes: &run.outcomes,
        diagnostics: &run.diagnostics,
        sources: &project.sources,
        paths,
    }
}

/// The definition files' paths for the tools that open them: from the root of the git
/// repository that holds the project (the nearest folder above it with a `.git`), else from
/// `GITHUB_WORKSPACE` in a GitHub Actions job, else from the current folder.
fn file_paths(project: &Project) -> FilePaths {
    let repository = project.manifest.root.canonicalize().ok().and_then(|dir| {
        dir.ancestors()
            .find(|d| d.join(".git").exists())
            .map(std::path::Path::to_path_buf)
    });
    let root = repository
        .or_else(|| std::env::var_os("GITHUB_WORKSPACE").map(std::path::PathBuf::from))
        .or_else(|| std::env::current_dir().ok());
    match root {
        Some(root) => FilePaths::under(&root, &project.sources),
        None => FilePaths::default(),
    }
}

/// How the reports of a run write numbers: `--locale`, else kpi.toml's `locale`, with its
/// `currency`. A locale that cannot be used is an error (E0217), but the run goes on without
/// one: nothing that can be computed is lost, and JSON and CSV do not depend on it.
fn numbers_for(project: &Project, locale: Option<&str>) -> (Numbers, Option<Diagnostic>) {
    let error = |message: String| {
        Diagnostic::error("E0217", message).with_hint(kpi::locale::LOCALE_HINT.to_string())
    };
    let numbers = locale
        .map(LocaleTag::parse)
        .transpose()
        .map_err(error)
        .and_then(|given| {
            let locale = given.as_ref().or(project.manifest.locale.as_ref());
            Numbers::new(locale, project.manifest.currency).map_err(|e| error(e.0))
        });
    match numbers {
        Ok(numbers) => (numbers, None),
        Err(d) => (Numbers::default(), Some(d)),
    }
}

fn print_run(
    project: &Project,
    run: &Run,
    numbers: &Numbers,
    format: cli::Format,
    options: TableOptions,
) {
    let paths = file_paths(project);
    let report = report_of(project, run, &paths, numbers);
    let options = TableOptions {
        color: stdout_color(),
        ..options
    };
    // An empty table says nothing that the errors do not; JSON and CSV stay whole documents.
    let nothing_computed = run.outcomes.is_empty() && has_errors(&run.diagnostics);
    if !(nothing_computed && matches!(format, cli::Format::Table)) {
        let text = kpi::timed("render", || report::render(&report, format.into(), options));
        print!("{text}");
    }
    print_diagnostics(&run.diagnostics, &project.sources);
}

/// The `--report FORMAT=PATH` files of a run, each rendered from the same outcomes (never in
/// colour). A file that cannot be written is an error (E0501); the others are still written.
/// Whether all were.
fn write_reports(
    project: &Project,
    run: &Run,
    numbers: &Numbers,
    reports: &[cli::ReportTo],
    fail_on: report::FailOn,
) -> bool {
    let paths = file_paths(project);
    let report = report_of(project, run, &paths, numbers);
    let options = TableOptions {
        judged: true,
        fail_on,
        ..TableOptions::default()
    };
    let mut failures = Vec::new();
    for to in reports {
        let text = kpi::timed("render", || {
            report::render(&report, to.format.into(), options)
        });
        let Some(path) = &to.path else {
            print!("{text}");
            continue;
        };
        if let Err(e) = report::write_file(path, &text) {
            failures.push(Diagnostic::error(
                "E0501",
                format!("cannot write the report `{}`: {e}", path.display()),
            ));
        }
    }
    print_diagnostics(&failures, &SourceMap::new());
    failures.is_empty()
}

fn check(project: Project, args: cli::CheckArgs) -> u8 {
    let mut options = match run_options(&args.when) {
        Ok(o) => o,
        Err(message) => return argument_error(message),
    };
    options.names = args.names;
    options.tags = args.tags;
    let (numbers, locale_error) = numbers_for(&project, args.locale.as_deref());
    let run = project.run(&options);
    let table = TableOptions {
        judged: true,
        fail_on: args.fail_on.into(),
        ..TableOptions::default()
    };
    print_run(&project, &run, &numbers, args.format, table);
    let written = write_reports(&project, &run, &numbers, &args.reports, args.fail_on.into());
    if let Some(d) = &locale_error {
        print_diagnostics(std::slice::from_ref(d), &SourceMap::new());
    }
    if has_errors(&run.diagnostics) || !written || locale_error.is_some() {
        return EXIT_ERROR;
    }
    let fail_on = report::FailOn::from(args.fail_on);
    if run
        .outcomes
        .iter()
        .filter_map(|k| k.status)
        .any(|s| fail_on.fails(s))
    {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn eval(mut project: Project, args: cli::EvalArgs) -> u8 {
    let mut options = match run_options(&args.when) {
        Ok(o) => o,
        Err(message) => return argument_error(message),
    };
    let from = args.from.as_deref().map(PeriodSpec::parse).transpose();
    let to = args.to.as_deref().map(PeriodSpec::parse).transpose();
    match (from, to) {
        (Ok(from), Ok(to)) => match day_range(from, to) {
            Ok(range) => options.range = range,
            Err(message) => return argument_error(message),
        },
        (Err(message), _) | (_, Err(message)) => return argument_error(message),
    }
    let kpi = match project.adhoc_kpi(&args.expr, &args.by, args.every.as_deref()) {
        Ok(kpi) => kpi,
        Err(errors) => {
            print_diagnostics(&errors, &project.sources);
            return EXIT_ERROR;
        }
    };
    let (numbers, locale_error) = numbers_for(&project, args.locale.as_deref());
    let run = project.run_adhoc(&kpi, &options);
    // A range is explored period by period.
    let table = TableOptions {
        periods: args.from.is_some() || args.to.is_some() || args.pivot,
        pivot: args.pivot,
        ..TableOptions::default()
    };
    print_run(&project, &run, &numbers, args.format, table);
    if let Some(d) = &locale_error {
        print_diagnostics(std::slice::from_ref(d), &SourceMap::new());
    }
    if has_errors(&run.diagnostics) || locale_error.is_some() {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

fn goal_texts(kpi: &ast::Kpi, sources: &SourceMap) -> String {
    let texts: Vec<String> = kpi
        .targets
        .iter()
        .map(|g| sources.one_line(g.span))
        .collect();
    texts.join("; ")
}

fn list(project: Project, format: ListFormat) -> u8 {
    #[derive(serde::Serialize)]
    struct Entry {
        name: String,
        title: Option<String>,
        owner: Option<String>,
        tags: Vec<String>,
        location: kpi::source::Location,
        target: String,
    }
    let entries: Vec<Entry> = project
        .kpis()
        .map(|k| Entry {
            name: k.name.name.clone(),
            title: k.title.as_ref().map(|t| t.node.clone()),
            owner: k.owner.as_ref().map(|t| t.node.clone()),
            tags: k.tags.iter().map(|t| t.name.clone()).collect(),
            location: project.sources.location(k.name.span),
            target: goal_texts(k, &project.sources),
        })
        .collect();
    match format {
        ListFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&entries).unwrap_or_default()
            );
        }
        ListFormat::Table => {
            let mut table = comfy_table::Table::new();
            table
                .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
                .force_no_tty()
                .set_header(["name", "title", "owner", "defined at", "target"]);
            for e in &entries {
                table.add_row([
                    e.name.clone(),
                    e.title.clone().unwrap_or_default(),
                    e.owner.clone().unwrap_or_default(),
                    format!("{}:{}", e.location.file, e.location.line),
                    e.target.clone(),
                ]);
            }
            println!("{table}");
        }
    }
    print_diagnostics(&project.diagnostics, &project.sources);
    if has_errors(&project.diagnostics) {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

fn validate(project: Project, format: ListFormat) -> u8 {
    let (program, diagnostics) = project.validate();
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    match format {
        ListFormat::Json => {
            let json: Vec<DiagnosticJson> = diagnostics
                .iter()
                .map(|d| DiagnosticJson::new(d, &project.sources))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        }
        ListFormat::Table => {
            print_diagnostics(&diagnostics, &project.sources);
            let total = project.kpi_names().count();
            println!(
                "{} of {total} KPIs valid, {errors} error{}",
                program.kpis.len(),
                if errors == 1 { "" } else { "s" }
            );
        }
    }
    if errors > 0 {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

/// `kpi test`: 0 every expectation held, 1 one did not, 2 a test could not run (a file that
/// cannot be read, a dataset kpi.toml does not have, a KPI with errors).
fn test(project: &Project, dir: &std::path::Path, args: cli::TestArgs) -> u8 {
    use kpi::testing;
    if let Some(other) = args
        .reports
        .iter()
        .find(|r| !matches!(r.format, cli::Format::Junit))
    {
        return argument_error(format!(
            "`kpi test` writes JUnit only (`--report junit=PATH`), not {:?}",
            other.format
        ));
    }
    let files = testing::test_files(dir, &args.files);
    if files.is_empty() {
        return argument_error(format!(
            "no test: `{}` has no tests/*.toml, and no file was named",
            dir.display()
        ));
    }
    let mut sources = SourceMap::new();
    let mut outcomes = Vec::new();
    for file in &files {
        let outcome = testing::run_test(project, file, &mut sources);
        let failed = outcome
            .checked
            .iter()
            .filter(|c| c.failure.is_some())
            .count();
        let mark = if !outcome.errors.is_empty() {
            "ERROR"
        } else if failed > 0 {
            "FAIL "
        } else {
            "ok   "
        };
        println!(
            "{mark} {} ({} expectation{})",
            outcome.file,
            outcome.checked.len(),
            if outcome.checked.len() == 1 { "" } else { "s" }
        );
        for checked in &outcome.checked {
            if let Some(failure) = &checked.failure {
                println!(
                    "  {}:{}: {}: {failure}",
                    checked.file, checked.line, checked.what
                );
            }
        }
        print_diagnostics(&outcome.errors, &sources);
        outcomes.push(outcome);
    }
    let expectations: usize = outcomes.iter().map(|o| o.checked.len()).sum();
    let failed: usize = outcomes
        .iter()
        .map(|o| o.checked.iter().filter(|c| c.failure.is_some()).count())
        .sum();
    let errors = outcomes.iter().any(|o| !o.errors.is_empty());
    println!(
        "{} test{}, {expectations} expectation{}: {} held, {failed} failed",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" },
        if expectations == 1 { "" } else { "s" },
        expectations - failed
    );
    let junit = testing::junit(&project.manifest.name, &outcomes);
    for to in &args.reports {
        match &to.path {
            None => print!("{junit}"),
            Some(path) => {
                if let Err(e) = report::write_file(path, &junit) {
                    return argument_error(format!(
                        "cannot write the report `{}`: {e}",
                        path.display()
                    ));
                }
            }
        }
    }
    if errors {
        EXIT_ERROR
    } else if failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// `kpi diff`: 0 nothing changed (or `--fail-on-change` not given), 1 something changed with
/// `--fail-on-change`, 2 no repository or revision, or errors in the working tree's run.
fn diff(project: Project, dir: &std::path::Path, args: cli::DiffArgs) -> u8 {
    use kpi::diff;
    let as_of = match args.as_of.as_deref().map(parse_date).transpose() {
        Ok(day) => day,
        Err(message) => return argument_error(message),
    };
    let git = match diff::Git::open(dir) {
        Ok(git) => git,
        Err(message) => return argument_error(message),
    };
    let (base, commit) = match git.base(args.base.as_deref()) {
        Ok(base) => base,
        Err(message) => return argument_error(message),
    };
    let old = match diff::project_at(&git, &commit) {
        Ok(old) => old,
        Err(message) => return argument_error(message),
    };
    // Both on the working tree's day, so that only the definitions differ.
    let options = RunOptions {
        as_of: Some(project.as_of(&RunOptions {
            as_of,
            ..RunOptions::default()
        })),
        ..RunOptions::default()
    };
    let new_run = project.run(&options);
    let old_run = old.as_ref().map(|p| p.run(&options));
    let mut result = diff::compare(old.as_ref().zip(old_run.as_ref()), (&project, &new_run));
    result.base = base;
    result.commit = commit;
    match args.format {
        cli::DiffFormat::Table => print!("{}", diff::render_text(&result)),
        cli::DiffFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        ),
        cli::DiffFormat::Markdown => print!("{}", diff::render_markdown(&result)),
    }
    print_diagnostics(&new_run.diagnostics, &project.sources);
    if has_errors(&new_run.diagnostics) {
        EXIT_ERROR
    } else if args.fail_on_change && !result.is_empty() {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn explain(project: Project, args: cli::ExplainArgs) -> u8 {
    let options = match run_options(&args.when) {
        Ok(o) => o,
        Err(message) => return argument_error(message),
    };
    let (explanation, diagnostics) = project.explain(&args.name, &options, args.plan);
    if let Some(explanation) = &explanation {
        match args.format {
            ListFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(explanation).unwrap_or_default()
            ),
            ListFormat::Table => print!("{}", kpi::explain::render_text(explanation)),
        }
    }
    print_diagnostics(&diagnostics, &project.sources);
    if explanation.is_none() || has_errors(&diagnostics) {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

fn lint(project: Project, args: cli::LintArgs) -> u8 {
    let mut options = match run_options(&args.when) {
        Ok(o) => o,
        Err(message) => return argument_error(message),
    };
    let deny = match Letter::parse_list(&args.deny) {
        Ok(letters) => letters,
        Err(message) => return argument_error(message),
    };
    options.names = args.names;
    options.tags = args.tags;
    let (run, resolved) = project.run_resolved(&options);
    let kpis = kpi::lint::lint(&project, &options, &run, &resolved);
    let report = LintReport {
        project: &run.project,
        as_of: run.as_of,
        kpis: &kpis,
        deny: &deny,
    };
    match args.format {
        ListFormat::Json => print!("{}", report::lint::render_json(&report)),
        ListFormat::Table => print!("{}", report::lint::render_table(&report, stdout_color())),
    }
    print_diagnostics(&run.diagnostics, &project.sources);
    // A KPI's own errors are its M finding; an error that belongs to no KPI (kpi.toml, a
    // dataset, a file, an unknown name asked for) stops the review from being whole.
    if run
        .diagnostics
        .iter()
        .any(|d| d.is_error() && d.kpi.is_none())
    {
        return EXIT_ERROR;
    }
    let denied_fails = kpis
        .iter()
        .any(|k| k.failed().iter().any(|l| deny.contains(l)));
    if denied_fails {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}
