//! Opening datasets as polars lazy frames and reading their schemas.
//!
//! Before polars reads a file, the file is checked: it must be inside the project or one of its
//! data roots (`confine`), and a CSV or NDJSON file is read once in full (`inspect`) for what
//! polars would read wrong without a word (a short row becomes nulls, 01/02/2025 is taken for a
//! date in whichever order the first rows suggest) or report without a line. The files of a
//! multi-file dataset are then unified column by column: whole numbers and decimals make
//! decimals, a column empty in one file takes its type from the others, and anything else that
//! differs is an error naming the file.

mod infer;
mod inspect;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::compile::ir::{Schema, Ty};
use crate::diagnostic::Diagnostic;
use crate::error::{DataError, DataProblem};
use crate::manifest::{ColumnType, DatasetConfig, FileFormat, Manifest};
use crate::source::FileId;

use crate::confine::{self, Roots};
use inspect::{DateColumn, Expect, Facts};

/// The project's datasets: polars scans of their files, opened lazily (or, for a run, small text
/// files read into memory: [`Datasets::read_ahead`]).
#[derive(Clone)]
pub struct Datasets {
    pub frames: BTreeMap<String, LazyFrame>,
    pub schemas: BTreeMap<String, Schema>,
    /// The files behind each dataset, for messages.
    pub files: BTreeMap<String, Vec<String>>,
    /// What is kept to explain a read that fails when the plans run.
    opened: BTreeMap<String, Opened>,
    /// The temporary folder of the Parquet copies of text files ([`Datasets::read_ahead`]).
    scratch: Option<std::sync::Arc<tempfile::TempDir>>,
    /// The datasets read whole into memory, with the bytes they take there
    /// ([`Datasets::read_ahead`]).
    in_memory: BTreeMap<String, u64>,
    manifest_file: Option<FileId>,
}

/// An opened dataset, as needed to find the value at fault when polars fails to read it.
#[derive(Clone)]
struct Opened {
    format: FileFormat,
    /// Its `path` in `kpi.toml`.
    span: Range<usize>,
    types: BTreeMap<String, ColumnType>,
    files: Vec<OpenedFile>,
}

#[derive(Clone)]
struct OpenedFile {
    path: PathBuf,
    /// Relative to the project folder when inside it.
    shown: String,
    /// The columns as polars reads this file, before any cast.
    schema: SchemaRef,
    /// Which columns hold values (CSV and NDJSON).
    facts: Option<Facts>,
    /// Its size on disk.
    bytes: u64,
}

/// Opens every dataset of the manifest. A dataset that cannot be opened is left out with an
/// error that names it and its file; the others are still opened. Errors about a dataset point
/// at its `path` in `kpi.toml` when `manifest_file` is given.
pub fn open(manifest: &Manifest, manifest_file: Option<FileId>) -> (Datasets, Vec<Diagnostic>) {
    let mut datasets = Datasets {
        frames: BTreeMap::new(),
        schemas: BTreeMap::new(),
        files: BTreeMap::new(),
        opened: BTreeMap::new(),
        in_memory: BTreeMap::new(),
        scratch: None,
        manifest_file,
    };
    let (roots, root_errors) = Roots::new(manifest);
    let mut diagnostics: Vec<Diagnostic> = root_errors
        .iter()
        .map(|e| e.diagnostic(manifest_file))
        .collect();
    let valid = |config: &&DatasetConfig| config.problems.is_empty();
    let mut opened = in_parallel(
        manifest.datasets.values().filter(valid).collect(),
        |config| open_one(manifest, config, &roots),
    )
    .into_iter();
    for (name, config) in &manifest.datasets {
        if !config.problems.is_empty() {
            diagnostics.extend(config.problems.iter().map(|e| e.diagnostic(manifest_file)));
            continue;
        }
        let Some(result) = opened.next() else {
            continue;
        };
        match result {
            Ok((frame, schema, opened)) => {
                let shown = opened.files.iter().map(|f| f.shown.clone()).collect();
                datasets.frames.insert(name.clone(), frame);
                datasets.schemas.insert(name.clone(), schema);
                datasets.files.insert(name.clone(), shown);
                datasets.opened.insert(name.clone(), opened);
            }
            Err(problem) => diagnostics.push(
                DataError::new(name, config.spans.path.clone(), problem).diagnostic(manifest_file),
            ),
        }
    }
    (datasets, diagnostics)
}

/// Writes a dataset's rows to a Parquet file at `path` in the streaming engine (never more than
/// a few batches in memory), and scans that file instead. Snappy, and row groups of 256K rows,
/// each with its statistics, so that date ranges skip row groups.
fn to_parquet(frame: LazyFrame, path: &Path) -> PolarsResult<LazyFrame> {
    let options = ParquetWriteOptions {
        compression: ParquetCompression::Snappy,
        row_group_size: Some(1 << 18),
        ..Default::default()
    };
    let target = PlRefPath::new(path.to_string_lossy().as_ref());
    frame
        .sink(
            SinkDestination::File {
                target: SinkTarget::Path(target.clone()),
            },
            FileWriteFormat::Parquet(std::sync::Arc::new(options)),
            UnifiedSinkArgs::default(),
        )?
        .collect_with_engine(Engine::Streaming)?;
    LazyFrame::scan_parquet(target, ScanArgsParquet::default())
}

/// `work` done on each item, on as many threads as there are cores, the results in the order
/// of `items`. Opening a dataset reads every line of a CSV or NDJSON file on one thread
/// (`inspect`), so a project's datasets are opened side by side.
fn in_parallel<T: Sync, R: Send>(items: Vec<T>, work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return done;
                        };
                        done.push((i, work(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

impl Datasets {
    /// A copy for one run, in which the text datasets (CSV, NDJSON) that `plans` read (each
    /// with the number of plans that read it) are parsed once instead of once per plan: the
    /// smallest files are read whole into memory, as long as they take at most `budget` bytes of
    /// memory between them (text takes more room there than on disk: short strings, every
    /// column), and the others that more than one plan reads, up to 16 budgets of files each,
    /// are written once to Parquet files in a temporary folder, removed when the copy is dropped. Each plan over them then reads
    /// memory or Parquet (a small project's cost: 48 plans over 3.5 MB of CSV parsed the files 48
    /// times; at 1M orders, a 91 MB CSV file was parsed by each of 5 plans). A dataset that
    /// fails to read whole, or cannot be written, stays as it was: its plans read the file, and
    /// report the value at fault ([`Datasets::read_failure`]). A `budget` of 0 reads nothing
    /// ahead.
    pub fn read_ahead(&self, plans: &BTreeMap<&str, usize>, budget: u64) -> Datasets {
        let mut out = self.clone();
        if budget == 0 {
            return out;
        }
        let by_plans: Vec<(&str, usize)> = plans
            .iter()
            .filter(|(name, _)| {
                self.opened
                    .get(**name)
                    .is_some_and(|opened| opened.format != FileFormat::Parquet)
            })
            .map(|(name, plans)| (*name, *plans))
            .collect();
        let mut by_size: Vec<(u64, &str)> = by_plans
            .iter()
            .map(|(name, _)| (self.bytes(name), *name))
            .filter(|(bytes, _)| *bytes <= budget)
            .collect();
        by_size.sort();
        let mut files = 0u64;
        let small: Vec<(&str, LazyFrame)> = by_size
            .into_iter()
            .take_while(|(bytes, _)| {
                files = files.saturating_add(*bytes);
                files <= budget
            })
            .filter_map(|(_, name)| Some((name, self.frames.get(name)?.clone())))
            .collect();
        let read = crate::timed("read small datasets", || {
            in_parallel(small, |(name, frame)| (*name, frame.clone().collect().ok()))
        });
        let mut held = 0u64;
        // A file that fails to read whole would fail to be copied whole too.
        let mut failed: Vec<&str> = Vec::new();
        for (name, frame) in read {
            let Some(frame) = frame else {
                failed.push(name);
                continue;
            };
            let size = u64::try_from(frame.estimated_size()).unwrap_or(u64::MAX);
            held = held.saturating_add(size);
            if held > budget {
                break;
            }
            out.in_memory.insert(name.to_string(), size);
            out.frames.insert(name.to_string(), frame.lazy());
        }
        // The text files left, read by more than one plan, are parsed once into a Parquet file
        // in a folder of their own, removed with the copy: each plan then reads only its
        // columns and row groups, as from any Parquet file.
        // Up to 16 budgets of files (1 GiB by default): the temporary folder may be memory
        // itself (tmpfs), and a larger file streams from the file as before.
        let most = budget.saturating_mul(16);
        let left: Vec<&str> = by_plans
            .iter()
            .filter(|(name, plans)| *plans > 1 && !out.in_memory.contains_key(*name))
            .filter(|(name, _)| !failed.contains(name))
            .filter(|(name, _)| self.bytes(name) <= most)
            .map(|(name, _)| *name)
            .collect();
        if left.is_empty() {
            return out;
        }
        let Ok(scratch) = tempfile::Builder::new().prefix("kpi-").tempdir() else {
            return out;
        };
        for (i, name) in left.into_iter().enumerate() {
            let Some(frame) = self.frames.get(name) else {
                continue;
            };
            let path = scratch.path().join(format!("{i}.parquet"));
            let written = crate::timed(&format!("{name} to Parquet"), || {
                to_parquet(frame.clone(), &path)
            });
            // A file that fails to read whole is left to the plans, as above.
            if let Ok(frame) = written {
                out.frames.insert(name.to_string(), frame);
            }
        }
        out.scratch = Some(std::sync::Arc::new(scratch));
        out
    }

    /// How many bytes of memory a dataset's rows take, when they are in memory
    /// ([`Datasets::read_ahead`]).
    pub fn memory_bytes(&self, dataset: &str) -> Option<u64> {
        self.in_memory.get(dataset).copied()
    }

    /// The size on disk of a dataset's files (0 when it is not open).
    pub fn bytes(&self, dataset: &str) -> u64 {
        self.opened
            .get(dataset)
            .map_or(0, |opened| opened.files.iter().map(|f| f.bytes).sum())
    }

    /// Why reading `dataset`, or one of the datasets `joined` to it, failed when the plans ran:
    /// the first value that does not read as its column's type, found by reading the files
    /// again, or else polars' own message. It points at the dataset's `path` in `kpi.toml`.
    pub fn read_failure<'a>(
        &self,
        dataset: &'a str,
        joined: impl IntoIterator<Item = &'a str>,
        error: &PolarsError,
    ) -> Diagnostic {
        let explained = std::iter::once(dataset)
            .chain(joined)
            .find_map(|name| self.explain(name));
        let error = explained.unwrap_or_else(|| {
            let span = self
                .opened
                .get(dataset)
                .map_or(0..0, |opened| opened.span.clone());
            let files = self.files.get(dataset).map(|f| f.join(", "));
            DataError::new(
                dataset,
                span,
                DataProblem::ReadFailed {
                    files: files.unwrap_or_default(),
                    reason: first_line(error),
                },
            )
        });
        error.diagnostic(self.manifest_file)
    }

    /// The first value of a dataset's files that does not read as its column's type.
    fn explain(&self, dataset: &str) -> Option<DataError> {
        let opened = self.opened.get(dataset)?;
        if opened.format == FileFormat::Parquet {
            return None;
        }
        for file in &opened.files {
            let checks: Vec<(String, Expect)> = file
                .schema
                .iter()
                .filter_map(|(name, dtype)| {
                    let expect = match opened.types.get(name.as_str()) {
                        Some(ty) => expect_of_type(*ty),
                        None => expect_of_dtype(dtype),
                    }?;
                    Some((name.to_string(), expect))
                })
                .collect();
            let ndjson = opened.format == FileFormat::NdJson;
            if let Some((line, column, value, expect)) =
                inspect::first_bad_value(&file.path, ndjson, &checks)
            {
                let inferred = !opened.types.contains_key(&column);
                return Some(DataError::new(
                    dataset,
                    opened.span.clone(),
                    DataProblem::BadValue {
                        file: file.shown.clone(),
                        line,
                        column,
                        value,
                        expected: expect.describe(),
                        inferred,
                    },
                ));
            }
        }
        None
    }
}

fn expect_of_type(ty: ColumnType) -> Option<Expect> {
    match ty {
        ColumnType::Number => Some(Expect::NumberOrMissing),
        ColumnType::Integer => Some(Expect::IntegerOrMissing),
        ColumnType::Date | ColumnType::Timestamp => Some(Expect::Date),
        ColumnType::Boolean => Some(Expect::BooleanOrMissing),
        ColumnType::Text => None,
    }
}

fn expect_of_dtype(dtype: &DataType) -> Option<Expect> {
    match dtype {
        d if d.is_integer() => Some(Expect::Integer),
        d if d.is_float() => Some(Expect::Number),
        DataType::Boolean => Some(Expect::Boolean),
        DataType::Date | DataType::Datetime(_, _) => Some(Expect::Date),
        _ => None,
    }
}

fn open_one(
    manifest: &Manifest,
    config: &DatasetConfig,
    roots: &Roots,
) -> Result<(LazyFrame, Schema, Opened), DataProblem> {
    let pattern = manifest.root.join(&config.path);
    // No escape: the folder the pattern reads from, then every file it matches.
    roots
        .check(&confine::glob_base(&pattern))
        .map_err(|resolved| DataProblem::OutsideProject {
            path: config.path.clone(),
            resolved,
        })?;
    let matches =
        glob::glob(&pattern.to_string_lossy()).map_err(|e| DataProblem::InvalidPattern {
            pattern: config.path.clone(),
            message: e.msg.to_string(),
        })?;
    let mut paths: Vec<PathBuf> = matches.flatten().filter(|p| p.is_file()).collect();
    paths.sort();
    if paths.is_empty() {
        return Err(DataProblem::NoFile {
            pattern: config.path.clone(),
            root: confine::resolve(&manifest.root),
        });
    }
    let mut files = Vec::new();
    let mut frames = Vec::new();
    for path in paths {
        let shown = shown_path(manifest, &path);
        roots
            .check(&path)
            .map_err(|resolved| DataProblem::OutsideProject {
                path: shown.clone(),
                resolved,
            })?;
        let (frame, file) = read_file(config, path, shown)?;
        frames.push(frame);
        files.push(file);
    }
    let columns = unify(config, &files)?;
    let mut frames = frames
        .into_iter()
        .zip(&files)
        .map(|(frame, file)| conform(config, frame, file, &columns));
    let mut frame = if files.len() == 1 {
        frames.next().expect("one frame per file")
    } else {
        concat(frames.collect::<Vec<_>>(), UnionArgs::default()).map_err(|e| {
            DataProblem::ReadFailed {
                files: files
                    .iter()
                    .map(|f| f.shown.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                reason: first_line(&e),
            }
        })?
    };
    let polars_schema = frame
        .collect_schema()
        .map_err(|e| DataProblem::ReadFailed {
            files: config.path.clone(),
            reason: first_line(&e),
        })?;
    let schema = Schema {
        columns: polars_schema
            .iter()
            .map(|(n, dt)| (n.to_string(), ty_of(dt)))
            .collect(),
    };
    let opened = Opened {
        format: config.format,
        span: config.spans.path.clone(),
        types: config.types.clone(),
        files,
    };
    // Not cached here: each scan of it gets its own filter on the dating column pushed into the
    // reader, and the passes over one scan share it (`eval::SharedScan`).
    Ok((frame, schema, opened))
}

/// Scans one file, reads its schema and checks its rows.
fn read_file(
    config: &DatasetConfig,
    path: PathBuf,
    shown: String,
) -> Result<(LazyFrame, OpenedFile), DataProblem> {
    let unreadable = |reason: String| DataProblem::Unreadable {
        file: shown.clone(),
        reason,
    };
    let size = std::fs::metadata(&path)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if size == 0 {
        return Err(DataProblem::EmptyFile {
            file: shown,
            csv: config.format == FileFormat::Csv,
        });
    }
    let scanned = crate::timed(&format!("schema of {shown}"), || scan(config.format, &path));
    let (frame, schema) = match scanned {
        Ok(scanned) => scanned,
        Err(e) => return Err(explain_scan_failure(config.format, &path, &shown, &e)),
    };
    let dates = date_columns(config, &schema);
    let facts = crate::timed(&format!("rows of {shown}"), || match config.format {
        FileFormat::Csv => inspect::csv(&path, &shown, &dates).map(Some),
        FileFormat::NdJson => inspect::ndjson(&path, &shown, &dates).map(Some),
        FileFormat::Parquet => Ok(None),
    })?;
    let frame = match &facts {
        Some(facts) if config.format == FileFormat::Csv => {
            parse_to_the_second(&path, &schema, &facts.to_the_second).unwrap_or(frame)
        }
        _ => frame,
    };
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    let file = OpenedFile {
        bytes,
        path,
        shown,
        schema,
        facts,
    };
    Ok((frame, file))
}

/// polars could not read a file's schema: say why in the file's terms where we can.
fn explain_scan_failure(
    format: FileFormat,
    path: &Path,
    shown: &str,
    error: &PolarsError,
) -> DataProblem {
    let found = match format {
        FileFormat::Csv => inspect::csv(path, shown, &[]).err(),
        FileFormat::NdJson => inspect::ndjson(path, shown, &[]).err(),
        FileFormat::Parquet => {
            // "parquet: File out of specification: The file must end with PAR1"
            let text = first_line(error);
            let reason = text.rsplit(": ").next().unwrap_or(&text);
            let mut chars = reason.chars();
            let reason = chars
                .next()
                .map(|c| c.to_lowercase().chain(chars).collect())
                .unwrap_or_default();
            Some(DataProblem::NotParquet {
                file: shown.to_string(),
                reason,
            })
        }
    };
    found.unwrap_or_else(|| DataProblem::Unreadable {
        file: shown.to_string(),
        reason: first_line(error),
    })
}

/// The columns whose values must be dates written YYYY-MM-DD: the dating columns, those
/// `types` makes dates, and those polars took for dates.
fn date_columns(config: &DatasetConfig, schema: &polars::prelude::Schema) -> Vec<DateColumn> {
    let mut dates: Vec<DateColumn> = Vec::new();
    let mut add = |name: &str, role: String| {
        if !dates.iter().any(|d| d.name == name) {
            dates.push(DateColumn {
                name: name.to_string(),
                role,
            });
        }
    };
    if let Some(time) = &config.time {
        add(time, "the `time` column".into());
    }
    if let Some(until) = &config.until {
        add(until, "the `until` column".into());
    }
    for (column, ty) in &config.types {
        if matches!(ty, ColumnType::Date | ColumnType::Timestamp) {
            add(column, "the date column".into());
        }
    }
    for (name, dtype) in schema.iter() {
        let typed_otherwise = config.types.contains_key(name.as_str());
        if matches!(dtype, DataType::Date | DataType::Datetime(_, _)) && !typed_otherwise {
            add(name, "the date column".into());
        }
    }
    dates
}

/// The type every column of a dataset is read as, its files unified; errors name the file
/// that disagrees.
fn unify(
    config: &DatasetConfig,
    files: &[OpenedFile],
) -> Result<Vec<(String, DataType)>, DataProblem> {
    let first = &files[0];
    let reference: Vec<String> = first.schema.iter_names().map(|n| n.to_string()).collect();
    for file in &files[1..] {
        let names: Vec<String> = file.schema.iter_names().map(|n| n.to_string()).collect();
        let missing: Vec<String> = reference
            .iter()
            .filter(|c| !names.contains(c))
            .cloned()
            .collect();
        let extra: Vec<String> = names
            .iter()
            .filter(|c| !reference.contains(c))
            .cloned()
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(DataProblem::ColumnsDiffer {
                file: file.shown.clone(),
                first_file: first.shown.clone(),
                missing,
                extra,
            });
        }
    }
    if let Some(column) = config.types.keys().find(|c| !reference.contains(c)) {
        return Err(DataProblem::NotAColumn {
            column: column.clone(),
            columns: reference,
        });
    }
    let mut columns = Vec::new();
    for column in &reference {
        let dtype = if let Some(ty) = config.types.get(column) {
            dtype_of(*ty)
        } else {
            let mut unified: Option<(DataType, usize)> = None;
            for (i, file) in files.iter().enumerate() {
                let Some(dtype) = read_as(config, file, column) else {
                    continue;
                };
                unified = match unified {
                    None => Some((dtype, i)),
                    Some((u, j)) => match supertype(&u, &dtype) {
                        Some(s) => Some((s, j)),
                        None => {
                            let ndjson = config.format == FileFormat::NdJson;
                            return Err(types_differ(column, files, ndjson, (j, &u), (i, &dtype)));
                        }
                    },
                };
            }
            match unified {
                Some((dtype, _)) => dtype,
                None if is_dating(config, column) => {
                    DataType::Datetime(TimeUnit::Milliseconds, None)
                }
                // No file has a value: a header-only file, or a column left empty.
                None => DataType::Null,
            }
        };
        columns.push((column.clone(), dtype));
    }
    Ok(columns)
}

fn is_dating(config: &DatasetConfig, column: &str) -> bool {
    config.time.as_deref() == Some(column) || config.until.as_deref() == Some(column)
}

/// What one file's column is read as before the files are unified; None when it holds no value.
fn read_as(config: &DatasetConfig, file: &OpenedFile, column: &str) -> Option<DataType> {
    let dtype = file.schema.get(column)?;
    let has_value = file.facts.as_ref().is_none_or(|f| f.has_value(column));
    if !has_value || dtype == &DataType::Null {
        return None;
    }
    if is_dating(config, column) && dtype == &DataType::String {
        return Some(DataType::Datetime(TimeUnit::Milliseconds, None));
    }
    Some(dtype.clone())
}

/// The type that holds both without loss, if the two are of one kind.
fn supertype(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b {
        return Some(a.clone());
    }
    if a.is_primitive_numeric() && b.is_primitive_numeric() {
        return Some(if a.is_float() || b.is_float() {
            DataType::Float64
        } else {
            DataType::Int64
        });
    }
    let temporal = |d: &DataType| matches!(d, DataType::Date | DataType::Datetime(_, _));
    if temporal(a) && temporal(b) {
        return Some(DataType::Datetime(TimeUnit::Milliseconds, None));
    }
    None
}

fn kind(dtype: &DataType) -> &'static str {
    match dtype {
        d if d.is_primitive_numeric() => "numbers",
        DataType::String => "text",
        DataType::Boolean => "true/false values",
        DataType::Date | DataType::Datetime(_, _) => "dates",
        _ => "other values",
    }
}

/// Two files disagree on a column's kind. The file named first is the one with text, if
/// either, with its first value that is not of the other kind.
fn types_differ(
    column: &str,
    files: &[OpenedFile],
    ndjson: bool,
    earlier: (usize, &DataType),
    later: (usize, &DataType),
) -> DataProblem {
    let (odd, other) = if earlier.1 == &DataType::String {
        (earlier, later)
    } else {
        (later, earlier)
    };
    let file = &files[odd.0];
    let example = expect_of_dtype(other.1).and_then(|expect| {
        inspect::first_bad_value(&file.path, ndjson, &[(column.to_string(), expect)])
            .map(|(line, _, value, _)| (line, value))
    });
    DataProblem::TypesDiffer {
        column: column.to_string(),
        file: file.shown.clone(),
        kind: kind(odd.1),
        example,
        first_file: files[other.0].shown.clone(),
        first_kind: kind(other.1),
    }
}

fn dtype_of(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Number => DataType::Float64,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Text => DataType::String,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date,
        ColumnType::Timestamp => DataType::Datetime(TimeUnit::Milliseconds, None),
    }
}

/// One file's frame with every column read as the dataset's type for it, in the dataset's
/// column order, so that the files can be stacked.
fn conform(
    config: &DatasetConfig,
    frame: LazyFrame,
    file: &OpenedFile,
    columns: &[(String, DataType)],
) -> LazyFrame {
    let mut casts = Vec::new();
    for (column, dtype) in columns {
        let Some(found) = file.schema.get(column) else {
            continue;
        };
        let c = col(column.as_str());
        let expr = if let Some(ty) = config.types.get(column) {
            // Types asked for in kpi.toml win over inference: a column empty in the first rows
            // of a CSV file, or numbers written as text, read as what the project says.
            cast_to(c, found, *ty)
        } else if dtype == &DataType::Null {
            lit(NULL)
        } else if is_dating(config, column) && found == &DataType::String {
            // JSON has no date type: parse the dating columns from text.
            let parsed = parse_datetime(c);
            if dtype == &DataType::Datetime(TimeUnit::Milliseconds, None) {
                parsed
            } else {
                parsed.cast(dtype.clone())
            }
        } else if found != dtype {
            // Lossless: whole numbers to decimals, dates to timestamps, nulls to anything.
            c.cast(dtype.clone())
        } else {
            continue;
        };
        casts.push(expr.alias(column.as_str()));
    }
    let frame = if casts.is_empty() {
        frame
    } else {
        frame.with_columns(casts)
    };
    frame.select(
        columns
            .iter()
            .map(|(c, _)| col(c.as_str()))
            .collect::<Vec<_>>(),
    )
}

fn parse_datetime(column: Expr) -> Expr {
    column.str().to_datetime(
        Some(TimeUnit::Milliseconds),
        None,
        StrptimeOptions::default(),
        lit("raise"),
    )
}

/// The expression that reads a column as `ty`; text is parsed, other types are cast. Text that
/// does not read as a number is an error when the plans run, except the spellings of a missing
/// value (empty, n/a, NA, null, none), which are null.
fn cast_to(column: Expr, found: &DataType, ty: ColumnType) -> Expr {
    let text = found == &DataType::String;
    let without_missing = |column: Expr| {
        let lower = column.clone().str().to_lowercase();
        let missing = inspect::MISSING
            .iter()
            .map(|m| lower.clone().eq(lit(*m)))
            .reduce(|a, b| a.or(b))
            .expect("spellings of missing");
        when(missing)
            .then(lit(NULL).cast(DataType::String))
            .otherwise(column)
    };
    match ty {
        ColumnType::Number if text => without_missing(column).strict_cast(DataType::Float64),
        ColumnType::Number => column.cast(DataType::Float64),
        ColumnType::Integer if text => without_missing(column).strict_cast(DataType::Int64),
        ColumnType::Integer => column.cast(DataType::Int64),
        ColumnType::Text => column.cast(DataType::String),
        ColumnType::Boolean if text => {
            // Known spellings become 1 and 0, missing ones null; anything else stays text that
            // cannot read as a number, so the strict cast fails and the read names the value,
            // rather than an unknown word silently reading as false.
            let lower = column.clone().str().to_lowercase();
            let any_of = |words: &[&str]| {
                words
                    .iter()
                    .map(|w| lower.clone().eq(lit(*w)))
                    .reduce(|a, b| a.or(b))
                    .unwrap_or(lit(false))
            };
            when(any_of(&inspect::TRUE_WORDS))
                .then(lit("1"))
                .when(any_of(&inspect::FALSE_WORDS))
                .then(lit("0"))
                .when(any_of(&inspect::MISSING).or(lower.clone().is_null()))
                .then(lit(NULL).cast(DataType::String))
                .otherwise(lit("not a boolean: ") + column)
                .strict_cast(DataType::Int64)
                .cast(DataType::Boolean)
        }
        ColumnType::Boolean => column.cast(DataType::Boolean),
        ColumnType::Date if text => column.str().to_date(StrptimeOptions::default()),
        ColumnType::Date => column.cast(DataType::Date),
        ColumnType::Timestamp if text => parse_datetime(column),
        ColumnType::Timestamp => column.cast(DataType::Datetime(TimeUnit::Milliseconds, None)),
    }
}

fn shown_path(manifest: &Manifest, file: &Path) -> String {
    file.strip_prefix(&manifest.root)
        .unwrap_or(file)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A lazy scan of one file and its schema. The scan of a CSV or NDJSON file is given the
/// schema, so that polars does not infer it again each time a plan reads the file.
///
/// A CSV file's schema is inferred here ([`infer::csv_schema`]: polars' own rules, without
/// trying every date format on every value); where that declines, and for NDJSON, polars infers
/// it, once.
fn scan(format: FileFormat, file: &Path) -> PolarsResult<(LazyFrame, SchemaRef)> {
    let path = || PlRefPath::new(file.to_string_lossy().as_ref());
    match format {
        FileFormat::Csv => {
            let schema = match infer::csv_schema(file) {
                Some(schema) => Arc::new(schema),
                None => LazyCsvReader::new(path())
                    .with_has_header(true)
                    .with_try_parse_dates(true)
                    .with_infer_schema_length(Some(infer::WINDOW))
                    .finish()?
                    .collect_schema()?,
            };
            Ok((csv_scan(file, schema.clone())?, schema))
        }
        FileFormat::Parquet => {
            let mut frame = LazyFrame::scan_parquet(path(), ScanArgsParquet::default())?;
            let schema = frame.collect_schema()?;
            Ok((frame, schema))
        }
        FileFormat::NdJson => {
            let schema = LazyJsonLineReader::new(path())
                .with_infer_schema_length(std::num::NonZeroUsize::new(10_000))
                .finish()?
                .collect_schema()?;
            let frame = LazyJsonLineReader::new(path())
                .with_schema(Some(schema.clone()))
                .finish()?;
            Ok((frame, schema))
        }
    }
}

/// A data file's columns and their types, as `kpi` reads them (`kpi init`). JSON has no dates:
/// a text column whose first thousand values are all dates (or date-times) is given as one.
pub fn file_schema(format: FileFormat, file: &Path) -> Result<Vec<(String, DataType)>, String> {
    let (frame, schema) = scan(format, file).map_err(|e| first_line(&e))?;
    let mut columns: Vec<(String, DataType)> = schema
        .iter()
        .map(|(name, dtype)| (name.to_string(), dtype.clone()))
        .collect();
    if format != FileFormat::NdJson {
        return Ok(columns);
    }
    let texts: Vec<Expr> = columns
        .iter()
        .filter(|(_, dtype)| *dtype == DataType::String)
        .map(|(name, _)| col(name.as_str()))
        .collect();
    if texts.is_empty() {
        return Ok(columns);
    }
    let sample = frame
        .select(texts)
        .limit(1000)
        .collect()
        .map_err(|e| first_line(&e))?;
    for (name, dtype) in columns.iter_mut() {
        let Ok(values) = sample
            .column(name.as_str())
            .and_then(|c| Ok(c.str()?.clone()))
        else {
            continue;
        };
        let kinds: Vec<DataType> = values.iter().flatten().map(infer::value_type).collect();
        if !kinds.is_empty()
            && kinds
                .iter()
                .all(|k| matches!(k, DataType::Date | DataType::Datetime(..)))
        {
            *dtype = kinds[0].clone();
        }
    }
    Ok(columns)
}

/// A CSV file's scan, its columns read as `schema` says.
fn csv_scan(file: &Path, schema: SchemaRef) -> PolarsResult<LazyFrame> {
    LazyCsvReader::new(PlRefPath::new(file.to_string_lossy().as_ref()))
        .with_has_header(true)
        .with_schema(Some(schema))
        .finish()
}

/// The scan of a CSV file whose date-time columns written `YYYY-MM-DD HH:MM:SS` throughout
/// (`columns`, from [`inspect::csv`]) are read as text and parsed with that one format; None
/// when there is none. polars reads such a column, typed Datetime, with the formats it infers,
/// whose fraction (`%.f`) its fast parser lacks, so every value went through chrono: a third
/// of the example's run. The values are the same to the microsecond, and every one has been
/// checked, so the strict parse cannot fail.
fn parse_to_the_second(
    file: &Path,
    schema: &SchemaRef,
    columns: &[(String, u8)],
) -> Option<LazyFrame> {
    let datetime = DataType::Datetime(TimeUnit::Microseconds, None);
    let columns: Vec<&(String, u8)> = columns
        .iter()
        .filter(|(c, _)| schema.get(c) == Some(&datetime))
        .collect();
    if columns.is_empty() {
        return None;
    }
    let mut text = (**schema).clone();
    for (column, _) in &columns {
        text.set_dtype(column, DataType::String);
    }
    let frame = csv_scan(file, Arc::new(text)).ok()?;
    let parsed: Vec<Expr> = columns
        .iter()
        .map(|(column, separator)| {
            let format = if *separator == b'T' {
                "%Y-%m-%dT%H:%M:%S"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            let options = StrptimeOptions {
                format: Some(format.into()),
                strict: true,
                exact: true,
                cache: false,
            };
            col(column.as_str())
                .str()
                .to_datetime(Some(TimeUnit::Microseconds), None, options, lit("raise"))
                .alias(column.as_str())
        })
        .collect();
    Some(frame.with_columns(parsed))
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

#[cfg(test)]
mod tests {
    use super::in_parallel;

    #[test]
    fn work_in_parallel_comes_back_in_the_order_of_the_items() {
        // Uneven work, so that the threads finish out of order.
        let items: Vec<u64> = (0..200).collect();
        let results = in_parallel(items, |&i| {
            let mut x = i;
            for _ in 0..(i % 7) * 1000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i)) % 1_000_003;
            }
            (i, i * i)
        });
        let expected: Vec<(u64, u64)> = (0..200).map(|i| (i, i * i)).collect();
        assert_eq!(results, expected);
        assert!(in_parallel(Vec::<u8>::new(), |_| 0).is_empty());
    }
}
