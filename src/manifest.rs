//! `kpi.toml`: where the data is, how it is dated, and the project's defaults.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::diagnostic::Diagnostic;
use crate::period::Grain;

pub const MANIFEST_NAME: &str = "kpi.toml";

/// More history than this is a typo, and would make every KPI's grid needlessly large.
pub const MAX_HISTORY: u32 = 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    project: RawProject,
    #[serde(default)]
    datasets: BTreeMap<String, RawDataset>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: String,
    #[serde(default = "default_kpis")]
    kpis: Vec<String>,
    #[serde(default)]
    grain: Option<String>,
    #[serde(default)]
    history: Option<u32>,
    #[serde(default)]
    as_of: Option<toml::Value>,
}

fn default_kpis() -> Vec<String> {
    vec!["kpis/*.kpi".to_string()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    path: toml::Spanned<String>,
    #[serde(default)]
    time: Option<toml::Spanned<String>>,
    #[serde(default)]
    until: Option<toml::Spanned<String>>,
    #[serde(default)]
    dimensions: BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    types: BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    fresh: Option<toml::Spanned<String>>,
}

/// The project as the rest of the pipeline sees it: paths resolved, defaults applied.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    /// The folder of `kpi.toml`; every relative path is taken from here.
    pub root: PathBuf,
    pub kpi_globs: Vec<String>,
    pub grain: Grain,
    pub history: u32,
    pub as_of: Option<NaiveDate>,
    pub datasets: BTreeMap<String, DatasetConfig>,
    /// The text of `kpi.toml`, so that errors about it can show where they are.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetConfig {
    pub name: String,
    /// The path as written, `${ENV}` expanded, relative to the project root.
    pub path: String,
    pub format: FileFormat,
    pub time: Option<String>,
    pub until: Option<String>,
    /// Conformed dimension name -> this dataset's column.
    pub dimensions: BTreeMap<String, String>,
    /// Column -> the type to read it as, overriding what was inferred from the file.
    pub types: BTreeMap<String, ColumnType>,
    /// How late the data may be: a period is judged when the latest `time` plus this reaches
    /// the period's last day (LANGUAGE 5.4). None: no later than the period's last day.
    pub fresh: Option<Lateness>,
    /// Where each setting is written in `kpi.toml`, as byte ranges.
    pub spans: DatasetSpans,
}

/// `fresh = "2 days"`: how far behind the judged period's last day a dataset's latest row may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lateness {
    Days(u32),
    Months(u32),
}

impl Lateness {
    /// `"2 days"`, `"1 week"`, `"1 month"`, `"1 year"`, `"0 days"`.
    pub fn parse(text: &str) -> Option<Lateness> {
        let mut words = text.split_whitespace();
        let count: u32 = words.next()?.parse().ok()?;
        let unit = words.next()?;
        if words.next().is_some() || count > 10_000 {
            return None;
        }
        match unit.strip_suffix('s').unwrap_or(unit) {
            "day" => Some(Lateness::Days(count)),
            "week" => Some(Lateness::Days(count * 7)),
            "month" => Some(Lateness::Months(count)),
            "year" => Some(Lateness::Months(count * 12)),
            _ => None,
        }
    }

    /// The last day that data reaching `latest` covers.
    pub fn covers_through(self, latest: NaiveDate) -> NaiveDate {
        match self {
            Lateness::Days(n) => latest + chrono::Duration::days(n.into()),
            Lateness::Months(n) => latest
                .checked_add_months(chrono::Months::new(n))
                .unwrap_or(NaiveDate::MAX),
        }
    }
}

/// A column type that `types = { … }` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Number,
    Integer,
    Text,
    Boolean,
    Date,
    Timestamp,
}

impl ColumnType {
    pub const NAMES: [&'static str; 6] =
        ["number", "integer", "text", "boolean", "date", "timestamp"];

    pub fn parse(text: &str) -> Option<ColumnType> {
        match text {
            "number" => Some(ColumnType::Number),
            "integer" => Some(ColumnType::Integer),
            "text" => Some(ColumnType::Text),
            "boolean" => Some(ColumnType::Boolean),
            "date" => Some(ColumnType::Date),
            "timestamp" => Some(ColumnType::Timestamp),
            _ => None,
        }
    }
}

/// Byte ranges of a dataset's settings in `kpi.toml`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetSpans {
    pub path: Range<usize>,
    pub time: Option<Range<usize>>,
    pub until: Option<Range<usize>>,
    pub dimensions: BTreeMap<String, Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Parquet,
    NdJson,
}

impl Manifest {
    /// Reads `kpi.toml` from a project folder.
    pub fn load(dir: &Path) -> Result<Manifest, Diagnostic> {
        let path = dir.join(MANIFEST_NAME);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Diagnostic::error("E0201", format!("cannot read `{}`: {e}", path.display())).with_hint(
                "Run kpi in a project folder (one with kpi.toml) or point at one with `-p DIR`.",
            )
        })?;
        Manifest::from_str(&text, dir)
    }

    /// Parses a manifest text whose relative paths are taken from `root`.
    pub fn from_str(text: &str, root: &Path) -> Result<Manifest, Diagnostic> {
        Self::from_str_with_env(text, root, &|name| std::env::var(name).ok())
    }

    pub fn from_str_with_env(
        text: &str,
        root: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Manifest, Diagnostic> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let mut message = e.message().to_string();
            if let Some(span) = e.span() {
                let (line, column) = line_col(text, span.start);
                message = format!("{MANIFEST_NAME}:{line}:{column}: {message}");
            }
            Diagnostic::error("E0202", format!("invalid {MANIFEST_NAME}: {message}"))
        })?;
        let grain = match raw.project.grain.as_deref() {
            None => Grain::Month,
            Some(g) => Grain::parse(g).ok_or_else(|| {
                Diagnostic::error(
                    "E0203",
                    format!("invalid {MANIFEST_NAME}: unknown grain `{g}`"),
                )
                .with_hint("Grains are day, week, month, quarter and year.")
            })?,
        };
        let history = raw.project.history.unwrap_or(12);
        if history > MAX_HISTORY {
            return Err(Diagnostic::error(
                "E0210",
                format!("invalid {MANIFEST_NAME}: `history` is {history}; at most {MAX_HISTORY} periods are reported"),
            ));
        }
        let as_of = match raw.project.as_of {
            None => None,
            Some(value) => {
                // Both `as_of = 2025-12-31` and `as_of = "2025-12-31"` are accepted.
                let text = match &value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Datetime(d) => d.to_string(),
                    other => other.to_string(),
                };
                Some(NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                    Diagnostic::error(
                        "E0204",
                        format!("invalid {MANIFEST_NAME}: `as_of` must be a date such as 2025-12-31, not `{text}`"),
                    )
                })?)
            }
        };
        let mut datasets = BTreeMap::new();
        for (name, ds) in raw.datasets {
            let spans = DatasetSpans {
                path: ds.path.span(),
                time: ds.time.as_ref().map(|t| t.span()),
                until: ds.until.as_ref().map(|t| t.span()),
                dimensions: ds
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.clone(), v.span()))
                    .collect(),
            };
            let (line, column) = line_col(text, spans.path.start);
            let at = format!("{MANIFEST_NAME}:{line}:{column}");
            let mut types = BTreeMap::new();
            for (column_name, ty) in &ds.types {
                let parsed = ColumnType::parse(ty.get_ref()).ok_or_else(|| {
                    let (line, column) = line_col(text, ty.span().start);
                    Diagnostic::error(
                        "E0211",
                        format!(
                            "{MANIFEST_NAME}:{line}:{column}: dataset `{name}`: unknown type `{}` for column `{column_name}`",
                            ty.get_ref()
                        ),
                    )
                    .with_hint(format!("Types are {}.", ColumnType::NAMES.join(", ")))
                })?;
                types.insert(column_name.clone(), parsed);
            }
            let fresh = match &ds.fresh {
                None => None,
                Some(value) => Some(Lateness::parse(value.get_ref()).ok_or_else(|| {
                    let (line, column) = line_col(text, value.span().start);
                    Diagnostic::error(
                        "E0212",
                        format!(
                            "{MANIFEST_NAME}:{line}:{column}: dataset `{name}`: `fresh` must be a number of days, weeks or months such as \"2 days\", not `{}`",
                            value.get_ref()
                        ),
                    )
                })?),
            };
            let path = expand_env(ds.path.get_ref(), env).map_err(|var| {
                Diagnostic::error(
                    "E0205",
                    format!("{at}: dataset `{name}`: environment variable `{var}` in its path is not set"),
                )
            })?;
            let format = FileFormat::from_path(&path).ok_or_else(|| {
                Diagnostic::error(
                    "E0206",
                    format!("{at}: dataset `{name}`: cannot tell the format of `{path}` from its extension"),
                )
                .with_hint("Use a path ending in .csv, .parquet, .ndjson or .jsonl.")
            })?;
            datasets.insert(
                name.clone(),
                DatasetConfig {
                    name,
                    path,
                    format,
                    time: ds.time.map(|t| t.into_inner()),
                    until: ds.until.map(|t| t.into_inner()),
                    dimensions: ds
                        .dimensions
                        .into_iter()
                        .map(|(k, v)| (k, v.into_inner()))
                        .collect(),
                    types,
                    fresh,
                    spans,
                },
            );
        }
        Ok(Manifest {
            name: raw.project.name,
            root: root.to_path_buf(),
            kpi_globs: raw.project.kpis,
            grain,
            history,
            as_of,
            datasets,
            text: text.to_string(),
        })
    }

    /// The `.kpi` files the globs name, sorted, as (display name, path).
    pub fn kpi_files(&self) -> Result<Vec<(String, PathBuf)>, Diagnostic> {
        let mut files = Vec::new();
        for pattern in &self.kpi_globs {
            let full = self.root.join(pattern);
            let full = full.to_string_lossy();
            let paths = glob::glob(&full).map_err(|e| {
                Diagnostic::error("E0207", format!("invalid glob `{pattern}` in `kpis`: {e}"))
            })?;
            for path in paths.flatten() {
                let display = path
                    .strip_prefix(&self.root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((display, path));
            }
        }
        files.sort();
        files.dedup();
        Ok(files)
    }
}

impl FileFormat {
    pub fn from_path(path: &str) -> Option<FileFormat> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(FileFormat::Csv)
        } else if lower.ends_with(".parquet") {
            Some(FileFormat::Parquet)
        } else if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
            Some(FileFormat::NdJson)
        } else {
            None
        }
    }
}

/// Expands `${NAME}` from the environment; an unset variable is an error naming it.
fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        out.push_str(&env(name).ok_or_else(|| name.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_column_types_are_located() {
        let text =
            "[project]\nname = \"t\"\n[datasets.d]\npath = \"d.csv\"\ntypes = { a = \"float\" }\n";
        let error = Manifest::from_str(text, Path::new(".")).unwrap_err();
        assert_eq!(
            error.message,
            "kpi.toml:5:15: dataset `d`: unknown type `float` for column `a`"
        );
    }

    #[test]
    fn history_is_bounded() {
        let text = "[project]\nname = \"t\"\nhistory = 100000\n";
        let error = Manifest::from_str(text, Path::new(".")).unwrap_err();
        assert!(
            error.message.contains("at most 1000 periods"),
            "{}",
            error.message
        );
    }

    #[test]
    fn env_variables_are_expanded_and_unset_ones_named() {
        let env = |name: &str| (name == "DATA").then(|| "/srv/data".to_string());
        assert_eq!(
            expand_env("${DATA}/orders.csv", &env).unwrap(),
            "/srv/data/orders.csv"
        );
        assert_eq!(expand_env("${NOPE}/x.csv", &env).unwrap_err(), "NOPE");
    }
}
