//! Opening datasets as polars lazy frames and reading their schemas (no rows are read).

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::compile::ir::{Schema, Ty};
use crate::diagnostic::Diagnostic;
use crate::manifest::{ColumnType, DatasetConfig, FileFormat, Manifest};
use crate::source::{FileId, Span};

/// The project's datasets, opened lazily.
pub struct Datasets {
    pub frames: BTreeMap<String, LazyFrame>,
    pub schemas: BTreeMap<String, Schema>,
    /// The files behind each dataset, for messages.
    pub files: BTreeMap<String, Vec<String>>,
}

/// Opens every dataset of the manifest. A dataset that cannot be opened is left out with
/// an error that names it and its file; the others are still opened.
/// Errors about a dataset point at its `path` in `kpi.toml` when `manifest_file` is given.
pub fn open(manifest: &Manifest, manifest_file: Option<FileId>) -> (Datasets, Vec<Diagnostic>) {
    let mut datasets = Datasets {
        frames: BTreeMap::new(),
        schemas: BTreeMap::new(),
        files: BTreeMap::new(),
    };
    let mut diagnostics = Vec::new();
    for (name, config) in &manifest.datasets {
        match open_one(manifest, config) {
            Ok((frame, schema, files)) => {
                datasets.frames.insert(name.clone(), frame);
                datasets.schemas.insert(name.clone(), schema);
                datasets.files.insert(name.clone(), files);
            }
            Err(d) => {
                let span = manifest_file
                    .map(|f| Span::new(f, config.spans.path.start, config.spans.path.end));
                diagnostics.push(d.at_opt(span));
            }
        }
    }
    (datasets, diagnostics)
}

fn open_one(
    manifest: &Manifest,
    config: &DatasetConfig,
) -> Result<(LazyFrame, Schema, Vec<String>), Diagnostic> {
    let name = &config.name;
    let pattern = manifest.root.join(&config.path);
    let pattern_text = pattern.to_string_lossy().to_string();
    let mut files: Vec<String> = match glob::glob(&pattern_text) {
        Ok(paths) => paths
            .flatten()
            .map(|p| p.to_string_lossy().to_string())
            .collect(),
        Err(e) => {
            return Err(Diagnostic::error(
                "E0401",
                format!(
                    "dataset `{name}`: invalid path pattern `{}`: {e}",
                    config.path
                ),
            ))
        }
    };
    files.sort();
    if files.is_empty() {
        return Err(Diagnostic::error(
            "E0402",
            format!("dataset `{name}`: no file found at `{}`", config.path),
        )
        .with_hint(format!(
            "Paths in kpi.toml are relative to the folder of kpi.toml ({}).",
            std::fs::canonicalize(&manifest.root)
                .unwrap_or_else(|_| manifest.root.clone())
                .display()
        )));
    }
    let mut frames = Vec::new();
    for file in &files {
        let shown = shown_path(manifest, file);
        let frame = scan(config.format, file).map_err(|e| read_error(name, &shown, &e))?;
        frames.push(frame);
    }
    let mut frame = if frames.len() == 1 {
        frames.remove(0)
    } else {
        concat(frames, UnionArgs::default()).map_err(|e| read_error(name, &config.path, &e))?
    };
    let mut polars_schema = frame
        .collect_schema()
        .map_err(|e| read_error(name, &config.path, &e))?;
    let mut casts = Vec::new();
    // Types asked for in kpi.toml win over inference: a column empty in the first rows of a
    // CSV file, or numbers written as text, read as what the project says they are.
    for (column, ty) in &config.types {
        let Some(found) = polars_schema.get(column.as_str()) else {
            let columns: Vec<String> = polars_schema.iter_names().map(|n| n.to_string()).collect();
            return Err(Diagnostic::error(
                "E0404",
                format!("dataset `{name}`: `types` names `{column}`, which is not a column"),
            )
            .with_hint(format!("Columns of `{name}`: {}.", columns.join(", "))));
        };
        casts.push(cast_to(col(column.as_str()), found, *ty).alias(column.as_str()));
    }
    // JSON has no date type: parse the dating columns from text.
    for column in [&config.time, &config.until].into_iter().flatten() {
        if config.types.contains_key(column) {
            continue;
        }
        if polars_schema.get(column.as_str()) == Some(&DataType::String) {
            casts.push(
                col(column.as_str())
                    .str()
                    .to_datetime(
                        Some(TimeUnit::Milliseconds),
                        None,
                        StrptimeOptions::default(),
                        lit("raise"),
                    )
                    .alias(column.as_str()),
            );
        }
    }
    if !casts.is_empty() {
        frame = frame.with_columns(casts);
        polars_schema = frame
            .collect_schema()
            .map_err(|e| read_error(name, &config.path, &e))?;
    }
    let schema = Schema {
        columns: polars_schema
            .iter()
            .map(|(n, dt)| (n.to_string(), ty_of(dt)))
            .collect(),
    };
    let shown = files.iter().map(|f| shown_path(manifest, f)).collect();
    // `cache` lets the passes that read this dataset share one scan of its files.
    Ok((frame.cache(), schema, shown))
}

/// The expression that reads a column as `ty`; text is parsed, other types are cast.
fn cast_to(column: Expr, found: &DataType, ty: ColumnType) -> Expr {
    let text = found == &DataType::String;
    match ty {
        ColumnType::Number => column.cast(DataType::Float64),
        ColumnType::Integer => column.cast(DataType::Int64),
        ColumnType::Text => column.cast(DataType::String),
        ColumnType::Boolean if text => {
            let lower = column.str().to_lowercase();
            when(lower.clone().is_null())
                .then(lit(NULL).cast(DataType::Boolean))
                .otherwise(
                    lower
                        .clone()
                        .eq(lit("true"))
                        .or(lower.clone().eq(lit("yes")))
                        .or(lower.eq(lit("1"))),
                )
        }
        ColumnType::Boolean => column.cast(DataType::Boolean),
        ColumnType::Date if text => column.str().to_date(StrptimeOptions::default()),
        ColumnType::Date => column.cast(DataType::Date),
        ColumnType::Timestamp if text => column.str().to_datetime(
            Some(TimeUnit::Milliseconds),
            None,
            StrptimeOptions::default(),
            lit("raise"),
        ),
        ColumnType::Timestamp => column.cast(DataType::Datetime(TimeUnit::Milliseconds, None)),
    }
}

fn shown_path(manifest: &Manifest, file: &str) -> String {
    std::path::Path::new(file)
        .strip_prefix(&manifest.root)
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_else(|_| file.to_string())
}

fn scan(format: FileFormat, file: &str) -> PolarsResult<LazyFrame> {
    let path = PlRefPath::new(file);
    match format {
        FileFormat::Csv => LazyCsvReader::new(path)
            .with_has_header(true)
            .with_try_parse_dates(true)
            .with_infer_schema_length(Some(10_000))
            .finish(),
        FileFormat::Parquet => LazyFrame::scan_parquet(path, ScanArgsParquet::default()),
        FileFormat::NdJson => LazyJsonLineReader::new(path)
            .with_infer_schema_length(std::num::NonZeroUsize::new(10_000))
            .finish(),
    }
}

fn read_error(dataset: &str, file: &str, error: &PolarsError) -> Diagnostic {
    Diagnostic::error(
        "E0403",
        format!(
            "dataset `{dataset}`: cannot read `{file}`: {}",
            first_line(error)
        ),
    )
}

/// The first line of a polars error, which holds the cause; the rest is a plan dump.
pub fn first_line(error: &PolarsError) -> String {
    let text = error.to_string();
    text.lines().next().unwrap_or("").trim().to_string()
}

pub fn ty_of(dtype: &DataType) -> Ty {
    match dtype {
        DataType::Boolean => Ty::Bool,
        DataType::String => Ty::String,
        DataType::Date => Ty::Date,
        DataType::Datetime(_, _) => Ty::Datetime,
        DataType::Null => Ty::Null,
        d if d.is_primitive_numeric() => Ty::Number,
        _ => Ty::Other,
    }
}
