//! `kpi init`: a project from a folder of data files. Each CSV, Parquet and NDJSON file is a
//! dataset named after it, dated by one of its date columns; the manifest and a starter file
//! with one counting KPI per dataset are written as text, so that they read as a person would
//! write them.

use std::path::{Path, PathBuf};

use polars::prelude::DataType;

use crate::manifest::FileFormat;

/// Where the written files go, from the project folder.
pub const MANIFEST: &str = "kpi.toml";
pub const STARTER: &str = "kpis/starter.kpi";

/// Folders never searched for data: hidden ones, build output, dependencies, definitions.
const SKIPPED: [&str; 4] = ["target", "node_modules", "kpis", "__pycache__"];
/// How deep below the project folder data files are looked for.
const DEPTH: usize = 4;

/// A data file found, and what `kpi` makes of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The dataset's name: the file's name as a name of the language.
    pub name: String,
    /// From the project folder, with `/`.
    pub path: String,
    /// Its columns of dates and timestamps, in file order: the candidates for `time`.
    pub dates: Vec<String>,
    pub columns: usize,
}

/// A data file that could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub path: String,
    pub reason: String,
}

/// Every data file under `dir` (sorted by path), and those that could not be read.
pub fn survey(dir: &Path) -> (Vec<Found>, Vec<Unreadable>) {
    let mut files = Vec::new();
    collect(dir, 0, &mut files);
    files.sort();
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    for file in files {
        let shown = shown(dir, &file);
        let Some(format) = FileFormat::from_path(&shown) else {
            continue;
        };
        match crate::eval::data::file_schema(format, &file) {
            Ok(schema) => {
                let dates = schema
                    .iter()
                    .filter(|(_, dtype)| matches!(dtype, DataType::Date | DataType::Datetime(..)))
                    .map(|(name, _)| name.clone())
                    .collect();
                let taken: Vec<&str> = found.iter().map(|f: &Found| f.name.as_str()).collect();
                found.push(Found {
                    name: unique(dataset_name(&file), &taken),
                    path: shown,
                    dates,
                    columns: schema.len(),
                });
            }
            Err(reason) => unreadable.push(Unreadable {
                path: shown,
                reason,
            }),
        }
    }
    (found, unreadable)
}

fn collect(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if depth < DEPTH && !SKIPPED.contains(&name.as_str()) {
                collect(&path, depth + 1, files);
            }
        } else if FileFormat::from_path(&name).is_some() {
            files.push(path);
        }
    }
}

fn shown(dir: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(dir).unwrap_or(file);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The words the language keeps for itself, which no dataset may be named.
const RESERVED: [&str; 12] = [
    "and", "or", "not", "in", "is", "between", "if", "then", "else", "true", "false", "null",
];

/// A file's stem as a name: letters of any script and digits in lower case, runs of other
/// characters as `_`, never starting with a digit nor a reserved word: `Orders 2025.csv` is
/// `orders_2025`, `Продажи 2025.csv` is `продажи_2025`.
pub fn dataset_name(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = String::new();
    for c in stem.chars().flat_map(char::to_lowercase) {
        // A name of the language starts with a letter and goes on with letters and digits
        // (`_` aside); marks and everything else become `_`.
        if c.is_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    let name = name.trim_matches('_').to_string();
    let name = if name.is_empty() {
        "data".to_string()
    } else {
        name
    };
    if name.starts_with(|c: char| c.is_ascii_digit()) || RESERVED.contains(&name.as_str()) {
        format!("data_{name}")
    } else {
        name
    }
}

/// `name`, or `name_2`, `name_3`, ... when it is taken.
fn unique(name: String, taken: &[&str]) -> String {
    if !taken.contains(&name.as_str()) {
        return name;
    }
    (2..)
        .map(|n| format!("{name}_{n}"))
        .find(|candidate| !taken.contains(&candidate.as_str()))
        .unwrap_or(name)
}

/// A dataset as it will be written: its name, file, and the column that dates it (none: the
/// dataset is timeless).
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub name: String,
    pub path: String,
    pub time: Option<String>,
}

/// `kpi.toml` for the datasets.
pub fn manifest_text(project: &str, datasets: &[Chosen]) -> String {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut text = format!(
        "# Written by `kpi init`. Each dataset is a data file; `time` is the column that dates\n\
         # its rows. See grammar/README.md for the other settings (dimensions, fresh, types).\n\n\
         [project]\n\
         name    = {}\n\
         kpis    = [\"kpis/*.kpi\"]\n\
         grain   = \"month\"\n\
         history = 12\n",
        quote(project)
    );
    for dataset in datasets {
        text.push_str(&format!(
            "\n[datasets.{}]\npath = {}\n",
            toml_key(&dataset.name),
            quote(&dataset.path)
        ));
        match &dataset.time {
            Some(time) => text.push_str(&format!("time = {}\n", quote(time))),
            None => text.push_str("# no date column: the dataset holds for every period\n"),
        }
    }
    text
}

/// A dataset's name as a TOML key: bare when TOML allows it, else quoted
/// (`[datasets."продажи"]`).
fn toml_key(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

/// `kpis/starter.kpi`: a KPI counting the rows of each dataset.
pub fn starter_text(datasets: &[Chosen]) -> String {
    let mut text = String::from(
        "# Written by `kpi init`: one KPI per dataset, counting its rows, to check that the data\n\
         # read as expected. Replace them with your own; grammar/README.md has the language.\n",
    );
    for dataset in datasets {
        let period = if dataset.time.is_some() {
            " in each month"
        } else {
            ""
        };
        text.push_str(&format!(
            "\nkpi {name}_rows {{\n    title       {title}\n    description {description}\n    value       count({name})\n}}\n",
            name = dataset.name,
            title = quoted(&format!("Rows of {}", dataset.name)),
            description = quoted(&format!("How many rows `{}` has{period}", dataset.path)),
        ));
    }
    text
}

/// A string of the language: in double quotes, with `"` and `\` escaped.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_names_of_the_language() {
        let name = |s: &str| dataset_name(Path::new(s));
        assert_eq!(name("data/Orders 2025.csv"), "orders_2025");
        assert_eq!(name("2025-sales.parquet"), "data_2025_sales");
        assert_eq!(name("in.csv"), "data_in");
        assert_eq!(name("---.csv"), "data");
        assert_eq!(name("Продажи 2025.csv"), "продажи_2025");
        assert_eq!(name("売上.csv"), "売上");
        assert_eq!(toml_key("продажи_2025"), "\"продажи_2025\"");
        assert_eq!(toml_key("orders_2025"), "orders_2025");
        assert_eq!(unique("a".into(), &["a", "a_2"]), "a_3");
    }
}
