//! `kpi.toml`: where the data is, how it is dated, and the project's defaults.
//!
//! The file is read in two steps: the TOML text is parsed (a syntax error is the only error that
//! stops a project from loading), then every setting is checked on its own. A wrong project
//! setting is reported and takes its default; a wrong dataset entry fails that dataset alone,
//! so that the KPIs over the other datasets are still computed.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::ManifestError;
use crate::locale::{CurrencyCode, LocaleTag};
use crate::period::Grain;

pub const MANIFEST_NAME: &str = "kpi.toml";

/// More history than this is a typo, and would make every KPI's grid needlessly large.
pub const MAX_HISTORY: u32 = 1000;

const TOP_KEYS: &[&str] = &["project", "datasets"];
const PROJECT_KEYS: &[&str] = &[
    "name",
    "kpis",
    "grain",
    "history",
    "as_of",
    "data_roots",
    "locale",
    "currency",
];
const DATASET_KEYS: &[&str] = &["path", "time", "until", "dimensions", "types", "fresh"];

/// The project as the rest of the pipeline sees it: paths resolved, defaults applied.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    /// The folder of `kpi.toml`; every relative path is taken from here.
    pub root: PathBuf,
    pub kpi_globs: Vec<String>,
    /// Where each of `kpi_globs` is written in `kpi.toml` (none for the default).
    pub kpi_glob_spans: Vec<Option<Range<usize>>>,
    pub grain: Grain,
    pub history: u32,
    pub as_of: Option<NaiveDate>,
    /// Folders outside the project that datasets may read from (`data_roots`), `${ENV}`
    /// expanded and joined to the project folder; the project folder itself is always allowed.
    pub data_roots: Vec<DataRoot>,
    pub datasets: BTreeMap<String, DatasetConfig>,
    /// How reports for people write numbers (`locale = "ru-RU"`); None: as kpi always has.
    pub locale: Option<LocaleTag>,
    /// The currency of `format currency` KPIs (`currency = "RUB"`).
    pub currency: Option<CurrencyCode>,
    /// Problems with project settings (each setting took its default). A dataset's problems
    /// are in its [`DatasetConfig::problems`].
    pub errors: Vec<ManifestError>,
    /// The text of `kpi.toml`, so that errors about it can show where they are.
    pub text: String,
}

/// An entry of `data_roots`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataRoot {
    /// As written in `kpi.toml`.
    pub written: String,
    /// Expanded and joined to the project folder; not yet resolved (symlinks, `..`).
    pub path: PathBuf,
    pub span: Range<usize>,
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
    /// What is wrong with this entry; a dataset with problems is not opened, and the KPIs
    /// that read it fail.
    pub problems: Vec<ManifestError>,
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

/// The line of `kpi.toml` that holds `span`, with the bare key there quoted:
/// `[datasets.продажи]` becomes `[datasets."продажи"]`.
fn quoted_key_line(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[span.start..]
        .find('\n')
        .map_or(text.len(), |i| span.start + i);
    // toml's span may cover only the first character it refused: take the whole bare key.
    let stop = |c: char| matches!(c, '.' | ']' | '=' | '"' | '\'') || c.is_whitespace();
    let key_start = text[line_start..span.start]
        .rfind(stop)
        .map_or(line_start, |i| line_start + i + 1);
    let key_end = text[span.start..line_end]
        .find(stop)
        .map_or(line_end, |i| span.start + i);
    let key = text.get(key_start..key_end).filter(|k| !k.is_empty())?;
    Some(
        format!(
            "{}\"{key}\"{}",
            &text[line_start..key_start],
            &text[key_end..line_end]
        )
        .trim()
        .to_string(),
    )
}

impl Manifest {
    /// Whether a project setting is written but cannot be read. It then takes its default,
    /// which no KPI may be computed with: that would be a number for a period or a grain nobody
    /// asked for.
    pub fn setting_is_broken(&self, key: &str) -> bool {
        self.errors.iter().any(|e| match e {
            ManifestError::UnknownGrain { .. } => key == "grain",
            ManifestError::BadAsOf { .. } => key == "as_of",
            ManifestError::WrongType { key: k, .. } => k == key,
            _ => false,
        })
    }

    /// Parses a manifest text whose relative paths are taken from `root`.
    pub fn from_str(text: &str, root: &Path) -> Result<Manifest, ManifestError> {
        Self::from_str_with_env(text, root, &|name| std::env::var(name).ok())
    }

    /// Parses a manifest text, taking `${NAME}` from `env`. Fails only when the text is not
    /// TOML; every other problem is in [`Manifest::errors`] or a dataset's `problems`.
    pub fn from_str_with_env(
        text: &str,
        root: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Manifest, ManifestError> {
        let text = crate::source::strip_bom(text);
        let document = DeTable::parse(text).map_err(|e| ManifestError::Syntax {
            message: e.message().to_string(),
            fix: e
                .span()
                .filter(|_| e.message().contains("unquoted key"))
                .and_then(|span| quoted_key_line(text, span)),
            span: e.span(),
        })?;
        let mut manifest = Manifest {
            name: String::new(),
            root: root.to_path_buf(),
            kpi_globs: default_kpis(),
            kpi_glob_spans: vec![None],
            grain: Grain::Month,
            history: 12,
            as_of: None,
            data_roots: Vec::new(),
            datasets: BTreeMap::new(),
            locale: None,
            currency: None,
            errors: Vec::new(),
            text: text.to_string(),
        };
        let mut project = None;
        for (key, value) in document.get_ref().iter() {
            match key.get_ref().as_ref() {
                "project" => project = Some(value),
                "datasets" => manifest.read_datasets(value, env),
                other => manifest.errors.push(ManifestError::UnknownKey {
                    table: MANIFEST_NAME.into(),
                    key: other.to_string(),
                    known: TOP_KEYS,
                    span: key.span(),
                }),
            }
        }
        match project {
            Some(project) => manifest.read_project(project, env),
            None => manifest.errors.push(ManifestError::MissingKey {
                table: MANIFEST_NAME.into(),
                key: "[project]",
                span: 0..0,
            }),
        }
        Ok(manifest)
    }

    fn read_project(&mut self, project: &Spanned<DeValue>, env: &dyn Fn(&str) -> Option<String>) {
        let Some(table) = self.table("project", project) else {
            return;
        };
        let mut named = false;
        for (key, value) in table.iter() {
            let errors = &mut self.errors;
            match key.get_ref().as_ref() {
                "name" => {
                    if let Some(name) = string("name", value, errors) {
                        self.name = name.into_inner();
                        named = true;
                    }
                }
                "kpis" => {
                    if let Some(globs) = strings("kpis", value, errors) {
                        self.kpi_glob_spans = globs.iter().map(|g| Some(g.span())).collect();
                        self.kpi_globs = globs.into_iter().map(Spanned::into_inner).collect();
                    }
                }
                "grain" => {
                    if let Some(grain) = string("grain", value, errors) {
                        match Grain::parse(grain.get_ref()) {
                            Some(g) => self.grain = g,
                            None => errors.push(ManifestError::UnknownGrain {
                                grain: grain.get_ref().clone(),
                                span: grain.span(),
                            }),
                        }
                    }
                }
                "history" => match integer(value) {
                    Some(n) if (0..=i64::from(MAX_HISTORY)).contains(&n) => self.history = n as u32,
                    Some(n) if n > 0 => errors.push(ManifestError::HistoryTooLong {
                        history: n,
                        max: MAX_HISTORY,
                        span: value.span(),
                    }),
                    _ => errors.push(wrong_type(
                        "history",
                        "a whole number from 0 to 1000",
                        value,
                    )),
                },
                "as_of" => {
                    // Both `as_of = 2025-12-31` and `as_of = "2025-12-31"` are accepted.
                    let written = match value.get_ref() {
                        DeValue::String(s) => s.to_string(),
                        DeValue::Datetime(d) => d.to_string(),
                        other => {
                            errors.push(ManifestError::BadAsOf {
                                text: scalar_text(other),
                                span: value.span(),
                            });
                            continue;
                        }
                    };
                    match NaiveDate::parse_from_str(written.trim(), "%Y-%m-%d") {
                        Ok(day) => self.as_of = Some(day),
                        Err(_) => errors.push(ManifestError::BadAsOf {
                            text: written,
                            span: value.span(),
                        }),
                    }
                }
                "locale" => {
                    if let Some(tag) = string("locale", value, errors) {
                        match LocaleTag::parse(tag.get_ref()) {
                            Ok(locale) => self.locale = Some(locale),
                            Err(message) => errors.push(ManifestError::BadLocale {
                                message,
                                span: tag.span(),
                            }),
                        }
                    }
                }
                "currency" => {
                    if let Some(code) = string("currency", value, errors) {
                        match CurrencyCode::parse(code.get_ref()) {
                            Ok(currency) => self.currency = Some(currency),
                            Err(message) => errors.push(ManifestError::BadCurrency {
                                suggestion: CurrencyCode::suggest(code.get_ref()),
                                message,
                                span: code.span(),
                            }),
                        }
                    }
                }
                "data_roots" => {
                    for root in strings("data_roots", value, errors).unwrap_or_default() {
                        match expand_env(root.get_ref(), env) {
                            Ok(expanded) => self.data_roots.push(DataRoot {
                                written: root.get_ref().clone(),
                                path: self.root.join(expanded),
                                span: root.span(),
                            }),
                            Err(var) => errors.push(ManifestError::UnsetEnv {
                                var,
                                dataset: None,
                                span: root.span(),
                            }),
                        }
                    }
                }
                other => errors.push(ManifestError::UnknownKey {
                    table: "[project]".into(),
                    key: other.to_string(),
                    known: PROJECT_KEYS,
                    span: key.span(),
                }),
            }
        }
        if !named {
            self.errors.push(ManifestError::MissingKey {
                table: "[project]".into(),
                key: "name",
                span: project.span(),
            });
        }
    }

    fn read_datasets(&mut self, datasets: &Spanned<DeValue>, env: &dyn Fn(&str) -> Option<String>) {
        let Some(table) = self.table("datasets", datasets) else {
            return;
        };
        for (key, value) in table.iter() {
            let name = key.get_ref().to_string();
            let config = read_dataset(&name, key.span(), value, env);
            self.datasets.insert(name, config);
        }
    }

    /// A value that must be a table, or an error.
    fn table<'a, 'i>(
        &mut self,
        key: &str,
        value: &'a Spanned<DeValue<'i>>,
    ) -> Option<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.errors.push(wrong_type(key, "a table", value));
                None
            }
        }
    }

    /// The `.kpi` files the globs name, sorted, as (display name, path), and the globs that
    /// are not valid. Definition files are not data: they may be anywhere.
    pub fn kpi_files(&self) -> (Vec<(String, PathBuf)>, Vec<ManifestError>) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        // A missing data root is reported with the datasets; here it only allows nothing.
        let (roots, _) = crate::confine::Roots::new(self);
        for (i, pattern) in self.kpi_globs.iter().enumerate() {
            let span = self.kpi_glob_spans.get(i).cloned().flatten();
            let full = self.root.join(pattern);
            // Checked before the glob is walked: `/**/*.kpi` is refused, not searched for.
            if let Err(path) = roots.check(&crate::confine::glob_base(&full)) {
                errors.push(ManifestError::KpisOutside {
                    pattern: pattern.clone(),
                    path,
                    span,
                });
                continue;
            }
            let full = full.to_string_lossy();
            let paths = match glob::glob(&full) {
                Ok(paths) => paths,
                Err(e) => {
                    errors.push(ManifestError::BadKpiGlob {
                        pattern: pattern.clone(),
                        message: e.msg.to_string(),
                        span,
                    });
                    continue;
                }
            };
            for path in paths.flatten() {
                // A link inside an allowed folder may still point outside it.
                if let Err(resolved) = roots.check(&path) {
                    errors.push(ManifestError::KpisOutside {
                        pattern: pattern.clone(),
                        path: resolved,
                        span: span.clone(),
                    });
                    continue;
                }
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
        (files, errors)
    }
}

fn default_kpis() -> Vec<String> {
    vec!["kpis/*.kpi".to_string()]
}

/// One `[datasets.NAME]` entry. Its problems are kept in the config, so that the dataset is
/// known (KPIs that read it fail with "could not be opened", not "unknown dataset").
fn read_dataset(
    name: &str,
    key_span: Range<usize>,
    value: &Spanned<DeValue>,
    env: &dyn Fn(&str) -> Option<String>,
) -> DatasetConfig {
    let mut problems = Vec::new();
    let mut config = DatasetConfig {
        name: name.to_string(),
        path: String::new(),
        format: FileFormat::Csv,
        time: None,
        until: None,
        dimensions: BTreeMap::new(),
        types: BTreeMap::new(),
        fresh: None,
        spans: DatasetSpans {
            path: key_span.clone(),
            ..DatasetSpans::default()
        },
        problems: Vec::new(),
    };
    let table = match value.get_ref() {
        DeValue::Table(t) => t,
        _ => {
            config
                .problems
                .push(wrong_type(&format!("datasets.{name}"), "a table", value));
            return config;
        }
    };
    let mut path = None;
    for (key, value) in table.iter() {
        let errors = &mut problems;
        let key_name = key.get_ref().as_ref();
        let qualified = format!("datasets.{name}.{key_name}");
        match key_name {
            "path" => path = string(&qualified, value, errors),
            "time" => {
                if let Some(time) = string(&qualified, value, errors) {
                    config.spans.time = Some(time.span());
                    config.time = Some(time.into_inner());
                }
            }
            "until" => {
                if let Some(until) = string(&qualified, value, errors) {
                    config.spans.until = Some(until.span());
                    config.until = Some(until.into_inner());
                }
            }
            "dimensions" => {
                for (dimension, column) in string_table(&qualified, value, errors) {
                    config
                        .spans
                        .dimensions
                        .insert(dimension.clone(), column.span());
                    config.dimensions.insert(dimension, column.into_inner());
                }
            }
            "types" => {
                for (column, ty) in string_table(&qualified, value, errors) {
                    match ColumnType::parse(ty.get_ref()) {
                        Some(parsed) => {
                            config.types.insert(column, parsed);
                        }
                        None => errors.push(ManifestError::UnknownType {
                            dataset: name.to_string(),
                            column,
                            ty: ty.get_ref().clone(),
                            span: ty.span(),
                        }),
                    }
                }
            }
            "fresh" => {
                if let Some(fresh) = string(&qualified, value, errors) {
                    match Lateness::parse(fresh.get_ref()) {
                        Some(lateness) => config.fresh = Some(lateness),
                        None => errors.push(ManifestError::BadFresh {
                            dataset: name.to_string(),
                            text: fresh.get_ref().clone(),
                            span: fresh.span(),
                        }),
                    }
                }
            }
            other => errors.push(ManifestError::UnknownKey {
                table: format!("dataset `{name}`"),
                key: other.to_string(),
                known: DATASET_KEYS,
                span: key.span(),
            }),
        }
    }
    match path {
        None => {
            // A `path` of the wrong type was reported by `string`.
            if !table.iter().any(|(k, _)| k.get_ref() == "path") {
                problems.push(ManifestError::MissingKey {
                    table: format!("dataset `{name}`"),
                    key: "path",
                    span: key_span,
                });
            }
        }
        Some(path) => {
            config.spans.path = path.span();
            match expand_env(path.get_ref(), env) {
                Ok(expanded) => {
                    match FileFormat::from_path(&expanded) {
                        Some(format) => config.format = format,
                        None => problems.push(ManifestError::UnknownExtension {
                            dataset: name.to_string(),
                            path: expanded.clone(),
                            span: path.span(),
                        }),
                    }
                    config.path = expanded;
                }
                Err(var) => {
                    config.path = path.get_ref().clone();
                    problems.push(ManifestError::UnsetEnv {
                        var,
                        dataset: Some(name.to_string()),
                        span: path.span(),
                    });
                }
            }
        }
    }
    config.problems = problems;
    config
}

/// "a string", "a number", …: how a TOML value is named in messages.
fn type_name(value: &DeValue) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) | DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "true or false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

fn scalar_text(value: &DeValue) -> String {
    match value {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(f) => f.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

fn wrong_type(key: &str, expected: &'static str, value: &Spanned<DeValue>) -> ManifestError {
    ManifestError::WrongType {
        key: key.to_string(),
        expected,
        found: type_name(value.get_ref()),
        span: value.span(),
    }
}

fn integer(value: &Spanned<DeValue>) -> Option<i64> {
    match value.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

fn string(
    key: &str,
    value: &Spanned<DeValue>,
    errors: &mut Vec<ManifestError>,
) -> Option<Spanned<String>> {
    match value.get_ref() {
        DeValue::String(s) => Some(Spanned::new(value.span(), s.to_string())),
        _ => {
            errors.push(wrong_type(key, "a string", value));
            None
        }
    }
}

/// A list of strings; a single string is taken as a list of one.
fn strings(
    key: &str,
    value: &Spanned<DeValue>,
    errors: &mut Vec<ManifestError>,
) -> Option<Vec<Spanned<String>>> {
    match value.get_ref() {
        DeValue::String(s) => Some(vec![Spanned::new(value.span(), s.to_string())]),
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for item in items.iter() {
                out.extend(string(key, item, errors));
            }
            Some(out)
        }
        _ => {
            errors.push(wrong_type(key, "a list of strings", value));
            None
        }
    }
}

/// `{ key = "text", … }`, sorted by key.
fn string_table(
    key: &str,
    value: &Spanned<DeValue>,
    errors: &mut Vec<ManifestError>,
) -> Vec<(String, Spanned<String>)> {
    let DeValue::Table(table) = value.get_ref() else {
        errors.push(wrong_type(key, "a table of strings", value));
        return Vec::new();
    };
    let mut out: Vec<(String, Spanned<String>)> = table
        .iter()
        .filter_map(|(k, v)| {
            let qualified = format!("{key}.{}", k.get_ref());
            string(&qualified, v, errors).map(|s| (k.get_ref().to_string(), s))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Manifest {
        Manifest::from_str_with_env(text, Path::new("."), &|_| None).unwrap()
    }

    fn at(text: &str, span: Option<Range<usize>>) -> &str {
        &text[span.expect("a span")]
    }

    #[test]
    fn unknown_column_types_fail_their_dataset_only() {
        let text = "[project]\nname = \"t\"\n[datasets.d]\npath = \"d.csv\"\ntypes = { a = \"float\" }\n[datasets.e]\npath = \"e.csv\"\n";
        let manifest = parse(text);
        assert!(manifest.errors.is_empty(), "{:?}", manifest.errors);
        let problems = &manifest.datasets["d"].problems;
        assert_eq!(
            problems[0].to_string(),
            "dataset `d`: unknown type `float` for column `a`"
        );
        assert_eq!(at(text, problems[0].span()), "\"float\"");
        assert!(manifest.datasets["e"].problems.is_empty());
    }

    #[test]
    fn history_is_bounded() {
        let text = "[project]\nname = \"t\"\nhistory = 100000\n";
        let manifest = parse(text);
        assert_eq!(manifest.history, 12, "the default is kept");
        assert!(
            manifest.errors[0]
                .to_string()
                .contains("at most 1000 periods"),
            "{:?}",
            manifest.errors
        );
        assert_eq!(at(text, manifest.errors[0].span()), "100000");
    }

    #[test]
    fn only_a_syntax_error_stops_loading() {
        let error = Manifest::from_str("[project\nname = 1", Path::new(".")).unwrap_err();
        assert_eq!(error.code(), "E0202");
        assert!(error.span().is_some());
        let text = "[project]\nname = 1\ngrian = \"week\"\nas_of = \"soon\"\n[extra]\n";
        let manifest = parse(text);
        let errors: Vec<String> = manifest.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors,
            [
                "unknown setting `extra` in kpi.toml",
                "`as_of` must be a date such as 2025-12-31, not `soon`",
                "unknown setting `grian` in [project]",
                "`name` must be a string, not a number",
                "[project] has no `name`",
            ]
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
        let text = "[project]\nname = \"t\"\ndata_roots = [\"${DATA}\", \"${NOPE}/x\"]\n[datasets.d]\npath = \"${NOPE}/d.csv\"\n";
        let manifest = Manifest::from_str_with_env(text, Path::new("/p"), &env).unwrap();
        assert_eq!(manifest.data_roots.len(), 1);
        assert_eq!(manifest.data_roots[0].path, Path::new("/srv/data"));
        assert_eq!(
            manifest.errors[0].to_string(),
            "environment variable `NOPE` in `data_roots` is not set"
        );
        assert_eq!(
            manifest.datasets["d"].problems[0].to_string(),
            "dataset `d`: environment variable `NOPE` in its path is not set"
        );
    }
}
