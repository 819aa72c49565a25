//! Command-line types (clap) only; `main.rs` turns them into library calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use kpi::report::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "kpi",
    version,
    about = "Company KPIs as code: compute them from your data and judge them against their targets"
)]
pub struct Cli {
    /// The project folder (the one holding kpi.toml).
    #[arg(short = 'p', long = "project", global = true, default_value = ".")]
    pub project: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate the KPIs and judge them against their targets; exit 1 when one fails.
    Check(CheckArgs),
    /// Compute an expression or a KPI ad hoc, without judging.
    Eval(EvalArgs),
    /// List the KPIs: name, title, owner, where defined, target.
    List(ListArgs),
    /// Parse and resolve every definition against the datasets' schemas and check the data files, computing nothing.
    Validate(ListArgs),
    /// Review every KPI letter by letter (Specific, Measurable, Achievable, Relevant, Time-bound).
    Lint(LintArgs),
    /// Compare the KPIs of the definitions at a git revision with the working tree's, on the
    /// same data and the same day: added, removed, changed, and the rows whose numbers moved.
    Diff(DiffArgs),
    /// Run the unit tests of the definitions (tests/*.toml): fixture rows in, expected values
    /// and statuses out; exit 1 when one fails.
    Test(TestArgs),
    /// Show where a KPI's number comes from: lineage, filters, dimensions and passes.
    Explain(ExplainArgs),
    /// Lay out .kpi files the one canonical way, keeping every comment and literal as written:
    /// the project's definition files, or the files and folders given.
    Fmt(FmtArgs),
    /// Start a project in a folder of data files: kpi.toml with a dataset per CSV, Parquet and
    /// NDJSON file, and kpis/starter.kpi with a KPI counting each one's rows.
    Init(InitArgs),
    /// Print a shell's completion script: `kpi completions bash > /etc/bash_completion.d/kpi`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `kpi man > kpi.1 && man ./kpi.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The revision to compare with (default: the merge base of HEAD with the default branch).
    #[arg(long)]
    pub base: Option<String>,
    /// The last day of complete data, for both (default: the working tree's `as_of`, else
    /// yesterday).
    #[arg(long = "as-of")]
    pub as_of: Option<String>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    pub format: DiffFormat,
    /// Exit 1 when anything changed.
    #[arg(long = "fail-on-change")]
    pub fail_on_change: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Table,
    Json,
    /// GitHub Flavored Markdown, for a pull-request comment.
    Markdown,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The test files (default: tests/*.toml in the project folder).
    pub files: Vec<PathBuf>,
    /// Also write the results as JUnit XML: `--report junit=PATH`.
    #[arg(long = "report", value_name = "junit=PATH", value_parser = parse_report)]
    pub reports: Vec<ReportTo>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The KPI.
    pub name: String,
    /// Also print polars' optimised plan of each pass the KPI reads.
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub when: WhenArgs,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files, or folders to search for *.kpi (default: the project's definition files, as
    /// kpi.toml's `kpis` names them). `-` formats standard input to standard output.
    pub paths: Vec<PathBuf>,
    /// Change no file: print what would change as a diff and exit 1 if any file would.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder (default: `-p`, else the current one).
    pub dir: Option<PathBuf>,
    /// Where a file has several date columns, take the first as its `time` without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct WhenArgs {
    /// Judge this period: 2025-10, 2025-Q3, 2025-W07, 2025 or 2025-10-05.
    #[arg(long)]
    pub period: Option<String>,
    /// The last day of complete data (default: kpi.toml's `as_of`, else yesterday).
    #[arg(long = "as-of")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only these KPIs.
    pub names: Vec<String>,
    /// Only KPIs with this tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub when: WhenArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The status that fails the run.
    #[arg(long = "fail-on", value_enum, default_value_t = FailOn::Missed)]
    pub fail_on: FailOn,
    /// Also write the report in FORMAT to PATH (`-`: stdout), from the same run; repeatable,
    /// e.g. `--report markdown=summary.md --report json=kpi.json`.
    #[arg(long = "report", value_name = "FORMAT=PATH", value_parser = parse_report)]
    pub reports: Vec<ReportTo>,
    /// Write numbers for people in this locale (`ru-RU`, `de-DE`, …) instead of kpi.toml's
    /// `locale`; JSON and CSV are not affected.
    #[arg(long)]
    pub locale: Option<String>,
}

/// One `--report FORMAT=PATH`.
#[derive(Debug, Clone)]
pub struct ReportTo {
    pub format: Format,
    /// `None`: stdout.
    pub path: Option<PathBuf>,
}

fn parse_report(text: &str) -> Result<ReportTo, String> {
    let Some((format, path)) = text.split_once('=') else {
        return Err(format!(
            "`{text}` is not FORMAT=PATH, such as `markdown=summary.md` or `json=-`"
        ));
    };
    let format = Format::from_str(format, true).map_err(|_| {
        let known: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        format!(
            "unknown report format `{format}`; known: {}",
            known.join(", ")
        )
    })?;
    if path.is_empty() {
        return Err(format!("`{text}` names no file; write `-` for stdout"));
    }
    Ok(ReportTo {
        format,
        path: (path != "-").then(|| PathBuf::from(path)),
    })
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// An expression such as 'sum(orders.amount)', or a KPI's name.
    pub expr: String,
    /// Split by these dimensions, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub by: Vec<String>,
    /// The grain: day, week, month, quarter or year.
    #[arg(long)]
    pub every: Option<String>,
    /// The first period to show (2025-01, 2025-Q1, ...).
    #[arg(long)]
    pub from: Option<String>,
    /// The last period to show.
    #[arg(long)]
    pub to: Option<String>,
    /// With a range (`--from`/`--to`), the table has the dimension values as rows and the
    /// periods as columns, instead of the reverse.
    #[arg(long)]
    pub pivot: bool,
    #[command(flatten)]
    pub when: WhenArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write numbers for people in this locale (`ru-RU`, `de-DE`, …) instead of kpi.toml's
    /// `locale`; JSON and CSV are not affected.
    #[arg(long)]
    pub locale: Option<String>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Only these KPIs.
    pub names: Vec<String>,
    /// Only KPIs with this tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub when: WhenArgs,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Letters that must pass, such as `A,T` (any of S, M, A, R, T): their findings exit 1.
    #[arg(long, value_delimiter = ',')]
    pub deny: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// GitHub Flavored Markdown, for a step summary or a pull-request comment.
    Markdown,
    /// JUnit XML, for a CI's test results: a test case per KPI row.
    Junit,
    /// GitHub workflow commands: annotations on the definitions of the rows that need attention.
    Github,
    /// One self-contained HTML page with charts, for people: open it offline or keep it as a
    /// CI artifact.
    Html,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Only missed targets.
    Missed,
    /// Missed, and time-bound targets at risk of being missed.
    #[value(alias = "at_risk")]
    AtRisk,
    /// Missed, at risk, and in the warn zone.
    Warn,
}

impl From<Format> for OutputFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Table => OutputFormat::Table,
            Format::Json => OutputFormat::Json,
            Format::Csv => OutputFormat::Csv,
            Format::Markdown => OutputFormat::Markdown,
            Format::Junit => OutputFormat::Junit,
            Format::Github => OutputFormat::Github,
            Format::Html => OutputFormat::Html,
        }
    }
}

impl From<FailOn> for kpi::report::FailOn {
    fn from(fail_on: FailOn) -> Self {
        match fail_on {
            FailOn::Missed => kpi::report::FailOn::Missed,
            FailOn::AtRisk => kpi::report::FailOn::AtRisk,
            FailOn::Warn => kpi::report::FailOn::Warn,
        }
    }
}
