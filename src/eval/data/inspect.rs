//! Reading a CSV or NDJSON file in full, without polars, to find what polars would read wrong
//! or report without a line: ragged rows (polars reads a short row as nulls, silently),
//! unterminated quotes, bytes that are not UTF-8, invalid JSON lines and dates not written
//! YYYY-MM-DD (polars guesses day/month order from the first values). Also which columns hold
//! any value, so that a column empty in one file of a dataset takes its type from the others.
//!
//! After polars has failed to read a dataset, [`first_bad_value`] finds the first value that
//! does not read as its column's type, so that the error can name the file and the line.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::DataProblem;

/// What a file holds, as far as typing its columns goes.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Every column name, in the order of the file.
    pub columns: Vec<String>,
    /// Whether each column of `columns` holds at least one value.
    pub has_value: Vec<bool>,
    /// The date columns of a CSV file whose every value is written `YYYY-MM-DD HH:MM:SS`, each
    /// with the character between day and time (a space or `T`), which is the same in all.
    pub to_the_second: Vec<(String, u8)>,
}

impl Facts {
    pub fn has_value(&self, column: &str) -> bool {
        self.columns
            .iter()
            .position(|c| c == column)
            .is_some_and(|i| self.has_value[i])
    }
}

/// A column whose values must be dates written YYYY-MM-DD, and how it is named in messages.
pub struct DateColumn {
    pub name: String,
    /// "the `time` column", "the `until` column", "the date column".
    pub role: String,
}

/// What a column's values must read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Integer,
    Number,
    Boolean,
    Date,
    /// A number, or one of the spellings of a missing value ([`is_missing`]).
    NumberOrMissing,
    IntegerOrMissing,
    /// True or false in any of [`TRUE_WORDS`] and [`FALSE_WORDS`], or missing.
    BooleanOrMissing,
}

/// The spellings of true and of false in a column read as a boolean through `types`.
pub const TRUE_WORDS: [&str; 3] = ["true", "yes", "1"];
pub const FALSE_WORDS: [&str; 3] = ["false", "no", "0"];

impl Expect {
    pub fn describe(self) -> &'static str {
        match self {
            Expect::Integer | Expect::IntegerOrMissing => "a whole number",
            Expect::Number | Expect::NumberOrMissing => "a number",
            Expect::Boolean => "true or false",
            Expect::BooleanOrMissing => "true or false (or yes/no, 1/0)",
            Expect::Date => "a date written YYYY-MM-DD",
        }
    }

    fn accepts(self, value: &str) -> bool {
        match self {
            Expect::Integer => is_integer(value),
            Expect::Number => value.parse::<f64>().is_ok(),
            Expect::Boolean => matches!(value.to_ascii_lowercase().as_str(), "true" | "false"),
            Expect::Date => is_iso_date(value),
            Expect::NumberOrMissing => is_missing(value) || value.parse::<f64>().is_ok(),
            Expect::IntegerOrMissing => is_missing(value) || is_integer(value),
            Expect::BooleanOrMissing => {
                let lower = value.to_ascii_lowercase();
                is_missing(value)
                    || TRUE_WORDS.contains(&lower.as_str())
                    || FALSE_WORDS.contains(&lower.as_str())
            }
        }
    }
}

/// The spellings of a missing value in a column read as a number through `types`.
pub const MISSING: [&str; 5] = ["", "na", "n/a", "null", "none"];

pub fn is_missing(value: &str) -> bool {
    MISSING.contains(&value.to_ascii_lowercase().as_str())
}

fn is_integer(value: &str) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `2025-12-31`, optionally followed by a time: `2025-12-31T23:59:00`, `2025-12-31 23:59`.
pub fn is_iso_date(value: &str) -> bool {
    let value = value.trim().as_bytes();
    value.len() >= 10
        && super::infer::iso_day(&value[..10]).is_some()
        && matches!(value.get(10), None | Some(b'T' | b' '))
}

/// The form a date that is not YYYY-MM-DD seems to be written in: `DD/MM/YYYY`.
pub fn date_form(value: &str) -> Option<String> {
    let value = value.trim();
    let parts: Vec<&str> = value.split(['/', '.', '-']).collect();
    let separator = value.chars().find(|c| matches!(c, '/' | '.' | '-'))?;
    if parts.len() != 3 || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let number = |p: &str| p.parse::<u32>().ok();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    let join = |a: &str, b: &str, c: &str| format!("{a}{separator}{b}{separator}{c}");
    match lens.as_slice() {
        [4, 1..=2, 1..=2] => Some(join("YYYY", "MM", "DD")),
        [1..=2, 1..=2, 4] | [1..=2, 1..=2, 2] => {
            let year = if lens[2] == 4 { "YYYY" } else { "YY" };
            let (first, second) = (number(parts[0])?, number(parts[1])?);
            Some(if first > 12 {
                join("DD", "MM", year)
            } else if second > 12 {
                join("MM", "DD", year)
            } else {
                format!("{} or {}", join("DD", "MM", year), join("MM", "DD", year))
            })
        }
        _ => None,
    }
}

fn open(path: &Path, shown: &str) -> Result<File, DataProblem> {
    File::open(path).map_err(|e| DataProblem::Unreadable {
        file: shown.to_string(),
        reason: e.to_string(),
    })
}

fn csv_reader(file: File) -> csv::Reader<BufReader<File>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(file))
}

/// Reads a whole CSV file: its header, that every row has as many fields as the header, that
/// every field is UTF-8, that no quote is left open, and that `dates` hold dates.
pub fn csv(path: &Path, shown: &str, dates: &[DateColumn]) -> Result<Facts, DataProblem> {
    let mut reader = csv_reader(open(path, shown)?);
    let mut record = csv::ByteRecord::new();
    let read_error = |e: csv::Error| DataProblem::Unreadable {
        file: shown.to_string(),
        reason: e.to_string(),
    };
    if !reader.read_byte_record(&mut record).map_err(read_error)? {
        return Err(DataProblem::EmptyFile {
            file: shown.to_string(),
            csv: true,
        });
    }
    let mut columns = Vec::new();
    for (i, field) in record.iter().enumerate() {
        let field = if i == 0 {
            field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
        } else {
            field
        };
        let name = std::str::from_utf8(field).map_err(|_| DataProblem::NotUtf8 {
            file: shown.to_string(),
            line: 1,
            column: None,
        })?;
        columns.push(name.to_string());
    }
    let date_columns: Vec<(usize, &DateColumn)> = dates
        .iter()
        .filter_map(|d| columns.iter().position(|c| *c == d.name).map(|i| (i, d)))
        .collect();
    let mut has_value = vec![false; columns.len()];
    // Per date column: None until a value is seen, then the separator while every value is
    // written to the second with the same one.
    let mut layouts: Vec<Option<Option<u8>>> = vec![None; date_columns.len()];
    let mut last_start = record.position().map_or(0, |p| p.byte());
    let mut last_line = 1;
    while reader.read_byte_record(&mut record).map_err(read_error)? {
        let (line, start) = record.position().map_or((0, 0), |p| (p.line(), p.byte()));
        last_start = start;
        last_line = line;
        if record.len() != columns.len() {
            // A quote left open swallows the rest of the file into one field, which usually
            // makes the last record ragged: say what the cause is.
            let ragged = DataProblem::RaggedRow {
                file: shown.to_string(),
                line,
                found: record.len(),
                expected: columns.len(),
            };
            let at_end = !reader.read_byte_record(&mut record).map_err(read_error)?;
            if at_end && quote_left_open(path, last_start) {
                return Err(DataProblem::UnterminatedQuote {
                    file: shown.to_string(),
                    line,
                });
            }
            return Err(ragged);
        }
        for (i, field) in record.iter().enumerate() {
            let text = std::str::from_utf8(field).map_err(|_| DataProblem::NotUtf8 {
                file: shown.to_string(),
                line,
                column: Some(columns[i].clone()),
            })?;
            if !text.is_empty() {
                has_value[i] = true;
            }
        }
        for ((i, date), layout) in date_columns.iter().zip(&mut layouts) {
            let value = std::str::from_utf8(&record[*i]).unwrap_or_default();
            if value.is_empty() {
                continue;
            }
            if !is_iso_date(value) {
                return Err(bad_date(shown, line, date, value));
            }
            let separator = super::infer::to_the_second(value.as_bytes());
            *layout = match *layout {
                None => Some(separator),
                Some(seen) if seen == separator => Some(seen),
                Some(_) => Some(None),
            };
        }
    }
    if quote_left_open(path, last_start) {
        return Err(DataProblem::UnterminatedQuote {
            file: shown.to_string(),
            line: last_line,
        });
    }
    let to_the_second = date_columns
        .iter()
        .zip(layouts)
        .filter_map(|((_, date), layout)| Some((date.name.clone(), layout.flatten()?)))
        .collect();
    Ok(Facts {
        columns,
        has_value,
        to_the_second,
    })
}

fn bad_date(shown: &str, line: u64, date: &DateColumn, value: &str) -> DataProblem {
    DataProblem::BadDate {
        file: shown.to_string(),
        line,
        role: date.role.clone(),
        column: date.name.clone(),
        value: value.to_string(),
        found: date_form(value),
    }
}

/// Whether the CSV record that starts at byte `start` opens a quoted field that is never
/// closed (the csv reader takes the rest of the file as that field without a word).
fn quote_left_open(path: &Path, start: u64) -> bool {
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut tail = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut tail).is_err() {
        return false;
    }
    let mut in_quotes = false;
    let mut field_start = true;
    let mut i = 0;
    while i < tail.len() {
        let b = tail[i];
        if in_quotes {
            if b == b'"' {
                if tail.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                in_quotes = false;
            }
        } else {
            if field_start && b == b'"' {
                in_quotes = true;
            }
            field_start = matches!(b, b',' | b'\n' | b'\r');
        }
        i += 1;
    }
    in_quotes
}

/// Reads a whole NDJSON file: every non-blank line is a JSON object in UTF-8, and the string
/// values of `dates` are dates.
pub fn ndjson(path: &Path, shown: &str, dates: &[DateColumn]) -> Result<Facts, DataProblem> {
    let mut bytes = Vec::new();
    open(path, shown)?
        .read_to_end(&mut bytes)
        .map_err(|e| DataProblem::Unreadable {
            file: shown.to_string(),
            reason: e.to_string(),
        })?;
    if bytes.is_empty() {
        return Err(DataProblem::EmptyFile {
            file: shown.to_string(),
            csv: false,
        });
    }
    let mut facts = Facts::default();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_number = i as u64 + 1;
        let Ok(text) = std::str::from_utf8(line) else {
            return Err(DataProblem::NotUtf8 {
                file: shown.to_string(),
                line: line_number,
                column: None,
            });
        };
        if text.trim().is_empty() {
            continue;
        }
        let bad_line = |message: String| DataProblem::BadJsonLine {
            file: shown.to_string(),
            line: line_number,
            message,
        };
        let object = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(other) => {
                let what = match other {
                    serde_json::Value::Array(_) => "a list",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Bool(_) => "true or false",
                    _ => "null",
                };
                return Err(bad_line(format!("it is {what}")));
            }
            Err(e) => return Err(bad_line(json_error(&e))),
        };
        for (key, value) in &object {
            let i = match facts.columns.iter().position(|c| c == key) {
                Some(i) => i,
                None => {
                    facts.columns.push(key.clone());
                    facts.has_value.push(false);
                    facts.columns.len() - 1
                }
            };
            if !value.is_null() {
                facts.has_value[i] = true;
            }
        }
        for date in dates {
            if let Some(serde_json::Value::String(value)) = object.get(&date.name) {
                if !value.is_empty() && !is_iso_date(value) {
                    return Err(bad_date(shown, line_number, date, value));
                }
            }
        }
    }
    if facts.columns.is_empty() {
        return Err(DataProblem::EmptyFile {
            file: shown.to_string(),
            csv: false,
        });
    }
    Ok(facts)
}

/// serde_json's message without its "at line 1 column 28", which names the wrong line here.
fn json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    format!("{message} (column {})", error.column())
}

/// The first value of `columns` (name, what it must read as) that does not read as it must,
/// as (line, column, value, expectation).
pub fn first_bad_value(
    path: &Path,
    ndjson: bool,
    columns: &[(String, Expect)],
) -> Option<(u64, String, String, Expect)> {
    if ndjson {
        return first_bad_json_value(path, columns);
    }
    let mut reader = csv_reader(File::open(path).ok()?);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).ok()? {
        return None;
    }
    let header: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == 0 {
                f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
            } else {
                f
            };
            String::from_utf8_lossy(f).into_owned()
        })
        .collect();
    let checks: Vec<(usize, &String, Expect)> = columns
        .iter()
        .filter_map(|(name, expect)| {
            header
                .iter()
                .position(|h| h == name)
                .map(|i| (i, name, *expect))
        })
        .collect();
    while reader.read_byte_record(&mut record).ok()? {
        let line = record.position().map_or(0, |p| p.line());
        for (i, name, expect) in &checks {
            let value = String::from_utf8_lossy(record.get(*i).unwrap_or_default());
            if !value.is_empty() && !expect.accepts(&value) {
                return Some((line, (*name).clone(), value.into_owned(), *expect));
            }
        }
    }
    None
}

fn first_bad_json_value(
    path: &Path,
    columns: &[(String, Expect)],
) -> Option<(u64, String, String, Expect)> {
    let text = std::fs::read_to_string(path).ok()?;
    for (i, line) in text.lines().enumerate() {
        let Ok(serde_json::Value::Object(object)) = serde_json::from_str(line) else {
            continue;
        };
        for (name, expect) in columns {
            let ok = match object.get(name) {
                None | Some(serde_json::Value::Null) => true,
                Some(serde_json::Value::Number(_)) => {
                    !matches!(expect, Expect::Boolean | Expect::Date)
                }
                Some(serde_json::Value::Bool(_)) => {
                    matches!(expect, Expect::Boolean | Expect::BooleanOrMissing)
                }
                Some(serde_json::Value::String(s)) => expect.accepts(s),
                Some(_) => false,
            };
            if !ok {
                let value = object.get(name).map(|v| v.to_string()).unwrap_or_default();
                return Some((i as u64 + 1, name.clone(), value, *expect));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_iso() {
        assert!(is_iso_date("2025-12-31"));
        assert!(is_iso_date("2025-12-31T10:00:00"));
        assert!(is_iso_date("2025-12-31 10:00"));
        assert!(!is_iso_date("2025-13-01"));
        assert!(!is_iso_date("31/12/2025"));
        assert!(!is_iso_date("2025-12-31x"));
        assert!(is_iso_date("2024-02-29"));
        assert!(!is_iso_date("2025-02-29"));
        assert!(!is_iso_date("2025-1-01"));
        // A value whose tenth byte is inside a character (the check used to panic there).
        assert!(!is_iso_date("aééééé"));
        assert_eq!(date_form("31/12/2025").as_deref(), Some("DD/MM/YYYY"));
        assert_eq!(date_form("12/31/2025").as_deref(), Some("MM/DD/YYYY"));
        assert_eq!(
            date_form("01.02.25").as_deref(),
            Some("DD.MM.YY or MM.DD.YY")
        );
        assert_eq!(date_form("2025/12/31").as_deref(), Some("YYYY/MM/DD"));
        assert_eq!(date_form("2025-02-30").as_deref(), Some("YYYY-MM-DD"));
        assert_eq!(date_form("soon"), None);
    }

    #[test]
    fn values_and_missing_spellings() {
        assert!(Expect::NumberOrMissing.accepts("N/A"));
        assert!(Expect::NumberOrMissing.accepts("1.5"));
        assert!(!Expect::NumberOrMissing.accepts("abc"));
        assert!(Expect::Integer.accepts("-12"));
        assert!(!Expect::Integer.accepts("1.5"));
    }
}
