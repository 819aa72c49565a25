//! The typed errors of the manifest, data and I/O layers, and the one place where they become
//! [`Diagnostic`]s.
//!
//! Each layer returns a plain value that says what went wrong and where (a byte range in
//! `kpi.toml`, a data file and its line); [`ManifestError::diagnostic`],
//! [`DataError::diagnostic`] and [`IoError::diagnostic`] attach the span, the code and the hints.

use std::ops::Range;
use std::path::PathBuf;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::{FileId, Span};

/// A byte range in `kpi.toml`.
pub type ManifestSpan = Range<usize>;

/// A problem in `kpi.toml` itself. Only [`ManifestError::Syntax`] stops the project from
/// loading; a problem in a project setting is reported and the setting takes its default, and
/// a problem in a dataset's entry fails that dataset alone.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManifestError {
    /// The text is not TOML.
    #[error("invalid kpi.toml: {message}")]
    Syntax {
        message: String,
        span: Option<ManifestSpan>,
        /// The line as it should be written, when that is known (a key that needs quotes).
        fix: Option<String>,
    },
    #[error("unknown setting `{key}` in {table}")]
    UnknownKey {
        /// `[project]`, `the file` or `dataset `orders``.
        table: String,
        key: String,
        known: &'static [&'static str],
        span: ManifestSpan,
    },
    #[error("`{key}` must be {expected}, not {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        /// The TOML type written: "a string", "an integer", …
        found: &'static str,
        span: ManifestSpan,
    },
    #[error("{table} has no `{key}`")]
    MissingKey {
        table: String,
        key: &'static str,
        span: ManifestSpan,
    },
    #[error("unknown grain `{grain}`")]
    UnknownGrain { grain: String, span: ManifestSpan },
    #[error("`as_of` must be a date such as 2025-12-31, not `{text}`")]
    BadAsOf { text: String, span: ManifestSpan },
    #[error("`history` is {history}; at most {max} periods are reported")]
    HistoryTooLong {
        history: i64,
        max: u32,
        span: ManifestSpan,
    },
    #[error("invalid glob `{pattern}` in `kpis`: {message}")]
    BadKpiGlob {
        pattern: String,
        message: String,
        span: Option<ManifestSpan>,
    },
    /// A `kpis` glob that reaches outside the project's folder and its `data_roots`.
    #[error("`kpis` names `{pattern}`, which reaches outside the project: `{}`", path.display())]
    KpisOutside {
        pattern: String,
        path: PathBuf,
        span: Option<ManifestSpan>,
    },
    /// `${NAME}` in a dataset's path (`dataset` is set) or in a `data_roots` entry.
    #[error("{}environment variable `{var}` in {} is not set", dataset_prefix(.dataset), if .dataset.is_some() { "its path" } else { "`data_roots`" })]
    UnsetEnv {
        var: String,
        dataset: Option<String>,
        span: ManifestSpan,
    },
    #[error("dataset `{dataset}`: cannot tell the format of `{path}` from its extension")]
    UnknownExtension {
        dataset: String,
        path: String,
        span: ManifestSpan,
    },
    #[error("dataset `{dataset}`: unknown type `{ty}` for column `{column}`")]
    UnknownType {
        dataset: String,
        column: String,
        ty: String,
        span: ManifestSpan,
    },
    #[error("dataset `{dataset}`: `fresh` must be a number of days, weeks or months such as \"2 days\", not `{text}`")]
    BadFresh {
        dataset: String,
        text: String,
        span: ManifestSpan,
    },
    /// `locale` is not a tag, or names a language without number formats.
    #[error("{message}")]
    BadLocale { message: String, span: ManifestSpan },
    /// `currency` is not an ISO 4217 code.
    #[error("{message}")]
    BadCurrency {
        message: String,
        suggestion: Option<String>,
        span: ManifestSpan,
    },
    #[error("data root `{written}` is not a folder ({})", path.display())]
    MissingDataRoot {
        written: String,
        path: PathBuf,
        span: ManifestSpan,
    },
}

fn dataset_prefix(dataset: &Option<String>) -> String {
    dataset
        .as_ref()
        .map(|d| format!("dataset `{d}`: "))
        .unwrap_or_default()
}

impl ManifestError {
    pub fn code(&self) -> &'static str {
        match self {
            ManifestError::Syntax { .. }
            | ManifestError::UnknownKey { .. }
            | ManifestError::WrongType { .. }
            | ManifestError::MissingKey { .. } => "E0202",
            ManifestError::UnknownGrain { .. } => "E0203",
            ManifestError::BadAsOf { .. } => "E0204",
            ManifestError::UnsetEnv { .. } => "E0205",
            ManifestError::UnknownExtension { .. } => "E0206",
            ManifestError::BadKpiGlob { .. } => "E0207",
            ManifestError::HistoryTooLong { .. } => "E0210",
            ManifestError::UnknownType { .. } => "E0211",
            ManifestError::BadFresh { .. } => "E0212",
            ManifestError::MissingDataRoot { .. } => "E0213",
            ManifestError::KpisOutside { .. } => "E0216",
            ManifestError::BadLocale { .. } => "E0217",
            ManifestError::BadCurrency { .. } => "E0218",
        }
    }

    /// Where in `kpi.toml` the problem is.
    pub fn span(&self) -> Option<ManifestSpan> {
        match self {
            ManifestError::Syntax { span, .. }
            | ManifestError::BadKpiGlob { span, .. }
            | ManifestError::KpisOutside { span, .. } => span.clone(),
            ManifestError::UnknownKey { span, .. }
            | ManifestError::WrongType { span, .. }
            | ManifestError::MissingKey { span, .. }
            | ManifestError::UnknownGrain { span, .. }
            | ManifestError::BadAsOf { span, .. }
            | ManifestError::HistoryTooLong { span, .. }
            | ManifestError::UnsetEnv { span, .. }
            | ManifestError::UnknownExtension { span, .. }
            | ManifestError::UnknownType { span, .. }
            | ManifestError::BadFresh { span, .. }
            | ManifestError::BadLocale { span, .. }
            | ManifestError::BadCurrency { span, .. }
            | ManifestError::MissingDataRoot { span, .. } => Some(span.clone()),
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            ManifestError::Syntax { fix: Some(fix), .. } => vec![format!(
                "A key with characters other than A-Z, a-z, 0-9, `-` and `_` (Cyrillic letters, spaces) is written in quotes: `{fix}`. The definitions name the dataset without them (in backticks if the name has spaces)."
            )],
            ManifestError::UnknownKey { key, known, .. } => {
                let mut hints = Vec::new();
                if let Some(hint) = did_you_mean(key, known.iter().copied()) {
                    hints.push(hint);
                }
                hints.push(format!("Settings here are {}.", backticked(known)));
                hints
            }
            ManifestError::UnknownGrain { .. } => {
                vec!["Grains are day, week, month, quarter and year.".into()]
            }
            ManifestError::UnsetEnv { var, .. } => vec![format!(
                "Set `{var}` in the environment that runs kpi, or write the path without it."
            )],
            ManifestError::UnknownExtension { .. } => {
                vec!["Use a path ending in .csv, .parquet, .ndjson or .jsonl.".into()]
            }
            ManifestError::UnknownType { ty, .. } => {
                let names = crate::manifest::ColumnType::NAMES;
                let mut hints = Vec::new();
                if let Some(hint) = did_you_mean(ty, names.iter().copied()) {
                    hints.push(hint);
                }
                hints.push(format!("Types are {}.", names.join(", ")));
                hints
            }
            ManifestError::BadLocale { .. } => vec![crate::locale::LOCALE_HINT.into()],
            ManifestError::BadCurrency { suggestion, .. } => {
                let mut hints: Vec<String> = suggestion.iter().cloned().collect();
                hints.push(crate::locale::CURRENCY_HINT.into());
                hints
            }
            ManifestError::MissingDataRoot { .. } => vec![
                "A relative data root is taken from the folder of kpi.toml; create the folder or remove the entry.".into(),
            ],
            ManifestError::KpisOutside { .. } => vec![
                "Definitions are read from the project's folder and its `data_roots`; to read these, add their folder to `data_roots` under [project] in kpi.toml.".into(),
            ],
            _ => Vec::new(),
        }
    }

    /// The diagnostic, pointing into `kpi.toml` when it is in the source map as `manifest_file`.
    pub fn diagnostic(&self, manifest_file: Option<FileId>) -> Diagnostic {
        let mut d = Diagnostic::error(self.code(), self.to_string());
        if let (Some(file), Some(span)) = (manifest_file, self.span()) {
            d = d.at(Span::new(file, span.start, span.end));
        }
        for hint in self.hints() {
            d = d.with_hint(hint);
        }
        d
    }
}

/// A file the project cannot read: `kpi.toml` or a definition file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IoError {
    #[error("cannot read `{}`: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
    #[error("cannot read `{name}`: {reason}")]
    Definition { name: String, reason: String },
}

impl IoError {
    pub fn code(&self) -> &'static str {
        match self {
            IoError::Manifest { .. } => "E0201",
            IoError::Definition { .. } => "E0208",
        }
    }

    pub fn diagnostic(&self) -> Diagnostic {
        let d = Diagnostic::error(self.code(), self.to_string());
        match self {
            IoError::Manifest { .. } => d.with_hint(
                "Run kpi in a project folder (one with kpi.toml) or point at one with `-p DIR`.",
            ),
            IoError::Definition { .. } => d,
        }
    }
}

/// A dataset that cannot be read: which one, where its `path` is written in `kpi.toml`, and
/// what is wrong with its files.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("dataset `{dataset}`: {problem}")]
pub struct DataError {
    pub dataset: String,
    /// The dataset's `path` value in `kpi.toml`.
    pub span: ManifestSpan,
    pub problem: DataProblem,
}

/// What is wrong with a dataset's files. Files are named as shown to the user (relative to
/// the project folder when inside it); lines are one-based, the header being line 1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataProblem {
    #[error("invalid path pattern `{pattern}`: {message}")]
    InvalidPattern { pattern: String, message: String },
    #[error("no file found at `{pattern}`")]
    NoFile { pattern: String, root: PathBuf },
    #[error("`{path}` is outside the project{}", resolved_note(.path, .resolved))]
    OutsideProject { path: String, resolved: PathBuf },
    #[error("cannot read `{file}`: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("`types` names `{column}`, which is not a column")]
    NotAColumn {
        column: String,
        columns: Vec<String>,
    },
    #[error("`{file}` is empty{}", if *.csv { ": it has no header line" } else { " (0 bytes)" })]
    EmptyFile {
        file: String,
        /// A CSV file, which needs at least its header line.
        csv: bool,
    },
    #[error("`{file}` line {line} has {found} field{}, but the header has {expected}", plural(*.found))]
    RaggedRow {
        file: String,
        line: u64,
        found: usize,
        expected: usize,
    },
    #[error("`{file}` line {line}: a quoted field is never closed")]
    UnterminatedQuote { file: String, line: u64 },
    #[error("`{file}` line {line} is not valid UTF-8{}", column.as_ref().map(|c| format!(" (in column `{c}`)")).unwrap_or_default())]
    NotUtf8 {
        file: String,
        line: u64,
        column: Option<String>,
    },
    #[error("`{file}` line {line}: column `{column}` holds `{value}`, not {expected}")]
    BadValue {
        file: String,
        line: u64,
        column: String,
        value: String,
        expected: &'static str,
        /// Whether the column's type was inferred from the file (not asked for in `types`).
        inferred: bool,
    },
    #[error("`{file}` line {line}: {role} `{column}` holds `{value}`, {}", match .found.as_deref() { Some("YYYY-MM-DD") => "which is not a day of the calendar".into(), Some(form) => format!("a date written {form}; dates must be written YYYY-MM-DD"), None => "not a date written YYYY-MM-DD".into() })]
    BadDate {
        file: String,
        line: u64,
        /// "the `time` column", "the `until` column" or "the date column".
        role: String,
        column: String,
        value: String,
        /// The form the value seems to be written in: `DD/MM/YYYY`; `YYYY-MM-DD` for a value of
        /// the right form that is not a day (2025-02-30).
        found: Option<String>,
    },
    #[error("`{file}` line {line} is not a JSON object: {message}")]
    BadJsonLine {
        file: String,
        line: u64,
        message: String,
    },
    #[error("`{file}` is not a Parquet file: {reason}")]
    NotParquet { file: String, reason: String },
    #[error("`{file}` {} than `{first_file}`: {}", if .missing.is_empty() { "has more columns" } else { "has other columns" }, columns_note(.missing, .extra))]
    ColumnsDiffer {
        file: String,
        first_file: String,
        missing: Vec<String>,
        extra: Vec<String>,
    },
    #[error("column `{column}` holds {kind} in `{file}`{} but {first_kind} in `{first_file}`", example.as_ref().map(|(line, value)| format!(" (line {line}: `{value}`)")).unwrap_or_default())]
    TypesDiffer {
        column: String,
        file: String,
        kind: &'static str,
        example: Option<(u64, String)>,
        first_file: String,
        first_kind: &'static str,
    },
    /// polars failed and re-reading the files found nothing more precise.
    #[error("could not be read ({files}): {reason}")]
    ReadFailed { files: String, reason: String },
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn resolved_note(path: &str, resolved: &std::path::Path) -> String {
    let resolved = resolved.display().to_string();
    if resolved == path {
        String::new()
    } else {
        format!(" (it resolves to `{resolved}`)")
    }
}

fn columns_note(missing: &[String], extra: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("it lacks {}", backticked(missing)));
    }
    if !extra.is_empty() {
        parts.push(format!("it has {} in addition", backticked(extra)));
    }
    parts.join(" and ")
}

fn backticked<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl DataProblem {
    pub fn code(&self) -> &'static str {
        match self {
            DataProblem::InvalidPattern { .. } => "E0401",
            DataProblem::NoFile { .. } => "E0402",
            DataProblem::Unreadable { .. } => "E0403",
            DataProblem::NotAColumn { .. } => "E0404",
            DataProblem::OutsideProject { .. } => "E0405",
            DataProblem::EmptyFile { .. } => "E0406",
            DataProblem::RaggedRow { .. } => "E0407",
            DataProblem::UnterminatedQuote { .. } => "E0408",
            DataProblem::NotUtf8 { .. } => "E0409",
            DataProblem::ReadFailed { .. } => "E0410",
            DataProblem::BadValue { .. } => "E0412",
            DataProblem::BadDate { .. } => "E0413",
            DataProblem::BadJsonLine { .. } => "E0414",
            DataProblem::NotParquet { .. } => "E0415",
            DataProblem::ColumnsDiffer { .. } => "E0416",
            DataProblem::TypesDiffer { .. } => "E0417",
        }
    }

    fn hints(&self, dataset: &str) -> Vec<String> {
        match self {
            DataProblem::NoFile { root, .. } => vec![format!(
                "Paths in kpi.toml are relative to the folder of kpi.toml ({}).",
                root.display()
            )],
            DataProblem::OutsideProject { .. } => vec![
                "A project reads data only from its own folder and from its data roots; to allow this path, add its folder to data_roots under [project] in kpi.toml.".into(),
            ],
            DataProblem::NotAColumn { columns, .. } => {
                vec![format!("Columns of `{dataset}`: {}.", columns.join(", "))]
            }
            DataProblem::EmptyFile { csv: true, .. } => vec![
                "A CSV file needs at least its header line; a file with only a header is an empty dataset.".into(),
            ],
            DataProblem::RaggedRow { .. } => vec![
                "Every row needs as many fields as the header; quote a field that holds a comma.".into(),
            ],
            DataProblem::UnterminatedQuote { .. } => vec![
                "The quote runs to the end of the file. Close it with `\"`, and write a quote inside a quoted field as `\"\"`.".into(),
            ],
            DataProblem::NotUtf8 { .. } => vec!["Save the file as UTF-8.".into()],
            DataProblem::BadValue {
                column, inferred, ..
            } => {
                if *inferred {
                    vec![format!(
                        "The type of `{column}` was inferred from the first rows of the file. Fix the value, or give the column a type in the dataset's entry: `types = {{ {column} = \"number\" }}` reads n/a, NA, null and none as missing; \"text\" reads anything."
                    )]
                } else {
                    vec!["Empty fields and n/a, NA, null and none are read as missing; any other text is an error.".into()]
                }
            }
            DataProblem::BadDate { role, column, .. } => {
                let mut hints = vec![
                    "Write dates as YYYY-MM-DD (2025-12-31), optionally followed by a time (2025-12-31T23:59:00): other forms such as 01/02/2025 are ambiguous.".to_string(),
                ];
                if !role.contains("`time`") && !role.contains("`until`") {
                    hints.push(format!(
                        "A column that is not used as a date can be read as text: `types = {{ {column} = \"text\" }}` in the dataset's entry."
                    ));
                }
                hints
            }
            DataProblem::ColumnsDiffer { .. } => vec![
                "All the files of a dataset must have the same columns.".into(),
            ],
            DataProblem::TypesDiffer { column, .. } => vec![format!(
                "A column must hold one kind of value in all the files of a dataset; fix the value, or set `types = {{ {column} = \"…\" }}` in the dataset's entry."
            )],
            _ => Vec::new(),
        }
    }
}

impl DataError {
    pub fn new(dataset: &str, span: ManifestSpan, problem: DataProblem) -> Self {
        DataError {
            dataset: dataset.to_string(),
            span,
            problem,
        }
    }

    pub fn code(&self) -> &'static str {
        self.problem.code()
    }

    /// The diagnostic, pointing at the dataset's `path` in `kpi.toml` when it is in the
    /// source map as `manifest_file`.
    pub fn diagnostic(&self, manifest_file: Option<FileId>) -> Diagnostic {
        let mut d = Diagnostic::error(self.code(), self.to_string());
        if let Some(file) = manifest_file {
            d = d.at(Span::new(file, self.span.start, self.span.end));
        }
        for hint in self.problem.hints(&self.dataset) {
            d = d.with_hint(hint);
        }
        d
    }
}
