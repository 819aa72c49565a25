//! The types polars infers for a CSV file's columns, inferred here, quickly, so that polars can
//! be given the schema and infer nothing.
//!
//! polars (0.55, `polars-io` `csv/read/schema_inference.rs`) types each column from the values of
//! the first 10,000 lines: every value is given a type (`infer_field_schema`), and a column whose
//! values have one type takes it, whole numbers and decimals make decimals, and anything else is
//! text. With date detection on, every value that is not true/false or a number is tried against
//! dozens of chrono formats; that was most of the time a CSV project took to open, and it was
//! done again each time a plan scanned the file. Here the common shapes (`2025-12-31`,
//! `2025-12-31 23:59:00`, numbers, words) are decided by hand and every other value is given to
//! polars' own `infer_field_schema`, so the answers are polars' by construction. Lines and fields
//! are split as polars splits them (`SplitLines`, `SplitFields`), not as the `csv` crate does,
//! because the two differ on a stray quote, and the window counts blank lines as polars does.
//!
//! One thing differs on purpose: a column with no value in the first 10,000 lines, which polars
//! reads as text, takes its type from the values after them.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use chrono::NaiveDate;
use polars::io::csv::read::schema_inference::{finish_infer_field_schema, infer_field_schema};
use polars::prelude::{DataType, Field, PlIndexSet, Schema, TimeUnit};

/// How many lines after the header polars reads to type the columns (`infer_schema_length`).
pub const WINDOW: usize = 10_000;

/// The schema polars would infer for a CSV file with a header, `try_parse_dates` on and
/// `infer_schema_length` [`WINDOW`]; None when polars should be left to read it itself (a file
/// without a header line, a header that is not UTF-8 or that names a column twice, a file that
/// cannot be read): polars then reports what it finds.
pub fn csv_schema(path: &Path) -> Option<Schema> {
    let file = File::open(path).ok()?;
    schema_of(file).ok().flatten()
}

fn schema_of(reader: impl Read) -> io::Result<Option<Schema>> {
    let mut lines = Lines::new(reader)?;
    // polars skips blank lines before the header.
    let header = loop {
        match lines.next()? {
            None => return Ok(None),
            Some(line) if line.is_empty() || line == b"\r" => continue,
            Some(line) => break line.to_vec(),
        }
    };
    let Some(names) = header_names(&header) else {
        return Ok(None);
    };
    let mut types: Vec<Vec<DataType>> = vec![Vec::new(); names.len()];
    let mut read = 0;
    while read < WINDOW {
        let Some(line) = lines.next()? else { break };
        read += 1;
        for (i, value) in fields(line).take(names.len()).enumerate() {
            if let Some(value) = value {
                add(&mut types[i], value_type(&value));
            }
        }
    }
    // Columns without a value in the window take their type from the values after it.
    let empty: Vec<usize> = (0..names.len()).filter(|i| types[*i].is_empty()).collect();
    if read == WINDOW && !empty.is_empty() {
        while let Some(line) = lines.next()? {
            for (i, value) in fields(line).take(names.len()).enumerate() {
                if let Some(value) = value.filter(|_| empty.contains(&i)) {
                    add(&mut types[i], value_type(&value));
                }
            }
        }
    }
    let fields = names.into_iter().zip(types).map(|(name, types)| {
        let set: PlIndexSet<DataType> = types.into_iter().collect();
        Field::new(name.into(), finish_infer_field_schema(&set))
    });
    Ok(Some(Schema::from_iter(fields)))
}

fn add(types: &mut Vec<DataType>, dtype: DataType) {
    if !types.contains(&dtype) {
        types.push(dtype);
    }
}

/// The column names as polars reads them (`infer_headers`): a quoted name loses its outer quotes.
fn header_names(line: &[u8]) -> Option<Vec<String>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut names: Vec<String> = Vec::new();
    for (slice, quoted) in SplitFields::new(line) {
        let slice = if quoted && slice.len() >= 2 {
            &slice[1..slice.len() - 1]
        } else {
            slice
        };
        let name = std::str::from_utf8(slice).ok()?;
        if names.iter().any(|n| n == name) {
            // polars renames the second `a` to `a_duplicated_0`; leave that to polars.
            return None;
        }
        names.push(name.to_string());
    }
    Some(names)
}

/// The values of a line as polars' inference sees them (`infer_types_from_line`): None for an
/// empty field, a quoted field without its outer quotes (`""` is an empty text, not a missing
/// value), bytes that are not UTF-8 replaced.
fn fields(line: &[u8]) -> impl Iterator<Item = Option<std::borrow::Cow<'_, str>>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    SplitFields::new(line).map(|(slice, quoted)| {
        if slice.is_empty() {
            return None;
        }
        let slice = if quoted && slice.len() >= 2 {
            &slice[1..slice.len() - 1]
        } else {
            slice
        };
        Some(String::from_utf8_lossy(slice))
    })
}

/// The type polars gives one value (`infer_field_schema(value, true, false)`): the shapes of
/// nearly every value decided by hand, any other value by polars.
pub fn value_type(value: &str) -> DataType {
    let bytes = value.as_bytes();
    if value.is_ascii() {
        match bytes.first() {
            Some(b) if b.is_ascii_alphabetic() => {
                // A word: a boolean, `inf` or `NaN`, or text; no date starts with a letter.
                return if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
                {
                    DataType::Boolean
                } else if value == "inf" || value == "NaN" {
                    DataType::Float64
                } else {
                    DataType::String
                };
            }
            Some(b'0'..=b'9' | b'-' | b'+') => {
                if is_float(bytes) {
                    return DataType::Float64;
                }
                let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
                // Up to 18 digits always fit an Int64; longer ones are left to polars.
                if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit)
                {
                    return DataType::Int64;
                }
                if let Some(dtype) = iso_temporal(bytes) {
                    return dtype;
                }
            }
            _ => {}
        }
    }
    // Anything else, as polars decides it; its date formats are tried only on a value that
    // could be a date (one that starts, after white space, with a digit or a sign), since
    // every one of them starts with a number.
    let quoted = bytes.len() >= 2 && bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"';
    let inner = if quoted {
        &value[1..value.len() - 1]
    } else {
        value
    };
    let could_be_date = matches!(
        inner.trim_start().as_bytes().first(),
        Some(b'0'..=b'9' | b'+' | b'-')
    );
    infer_field_schema(value, could_be_date, false)
}

/// polars' `FLOAT_RE`, `^[-+]?((\d*\.\d+)([eE][-+]?\d+)?|inf|NaN|(\d+)[eE][-+]?\d+|\d+\.)$`, on
/// ASCII text.
fn is_float(bytes: &[u8]) -> bool {
    let bytes = match bytes.first() {
        Some(b'-' | b'+') => &bytes[1..],
        _ => bytes,
    };
    if bytes == b"inf" || bytes == b"NaN" {
        return true;
    }
    let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
    let exponent = |b: &[u8]| {
        let b = match b.first() {
            Some(b'-' | b'+') => &b[1..],
            _ => b,
        };
        !b.is_empty() && b.iter().all(u8::is_ascii_digit)
    };
    let whole = digits(bytes);
    let rest = &bytes[whole..];
    match rest.first() {
        Some(b'.') => {
            let fraction = digits(&rest[1..]);
            let after = &rest[1 + fraction..];
            if fraction == 0 {
                whole > 0 && after.is_empty()
            } else {
                after.is_empty() || (matches!(after[0], b'e' | b'E') && exponent(&after[1..]))
            }
        }
        Some(b'e' | b'E') => whole > 0 && exponent(&rest[1..]),
        _ => false,
    }
}

/// `YYYY-MM-DD`, a day of the calendar.
pub fn iso_day(bytes: &[u8]) -> Option<NaiveDate> {
    let shape = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let number = |b: &[u8]| b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let year = i32::try_from(number(&bytes[0..4])).ok()?;
    NaiveDate::from_ymd_opt(year, number(&bytes[5..7]), number(&bytes[8..10]))
}

/// The type polars infers for `YYYY-MM-DD` (Date) and for `YYYY-MM-DD HH:MM`, with `T` or a
/// space, optionally followed by `:SS` and `.fff` (up to nine digits; Datetime in
/// microseconds), when the day and the time exist; None for any other text, even one polars
/// would take for a date. Such values are neither booleans nor numbers, and none of polars'
/// formats tried before the year-first date-times (day-first dates and date-times, dates alone,
/// times) reads a value that starts with four digits and a dash, so this is polars' answer.
fn iso_temporal(bytes: &[u8]) -> Option<DataType> {
    iso_day(bytes.get(..10)?)?;
    if bytes.len() == 10 {
        return Some(DataType::Date);
    }
    if !matches!(bytes[10], b'T' | b' ') {
        return None;
    }
    let time = &bytes[11..];
    let two = |at: usize| -> Option<u32> {
        let b = time.get(at..at + 2)?;
        b.iter()
            .all(u8::is_ascii_digit)
            .then(|| u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0'))
    };
    let (hour, minute) = (two(0)?, two(3)?);
    if time[2] != b':' || hour > 23 || minute > 59 {
        return None;
    }
    let valid = match time.len() {
        5 => true,
        8.. => {
            let second = two(6)?;
            let fraction = &time[8..];
            time[5] == b':'
                && second <= 59
                && (fraction.is_empty()
                    || (fraction[0] == b'.'
                        && (2..=10).contains(&fraction.len())
                        && fraction[1..].iter().all(u8::is_ascii_digit)))
        }
        _ => false,
    };
    valid.then_some(DataType::Datetime(TimeUnit::Microseconds, None))
}

/// The separator of a value written `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`, a day and a
/// time that exist: the layout polars' fast parser reads with the format
/// `%Y-%m-%d %H:%M:%S`, while the formats it infers end in a fraction (`%.f`) that only chrono
/// reads.
pub fn to_the_second(bytes: &[u8]) -> Option<u8> {
    if bytes.len() != 19 {
        return None;
    }
    iso_day(&bytes[..10])?;
    let separator = bytes[10];
    let time = &bytes[11..];
    let digits = time.iter().enumerate().all(|(i, b)| {
        if i == 2 || i == 5 {
            *b == b':'
        } else {
            b.is_ascii_digit()
        }
    });
    let two = |at: usize| u32::from(time[at] - b'0') * 10 + u32::from(time[at + 1] - b'0');
    (matches!(separator, b' ' | b'T') && digits && two(0) <= 23 && two(3) <= 59 && two(6) <= 59)
        .then_some(separator)
}

/// The lines of a CSV file as polars' `SplitLines` cuts them: at a newline outside quotes, the
/// quotes counted from the start of the line, whatever their place in a field. A UTF-8 byte
/// order mark at the start of the file is dropped.
struct Lines<R> {
    reader: R,
    buffer: Vec<u8>,
    start: usize,
    end_of_file: bool,
}

impl<R: Read> Lines<R> {
    fn new(reader: R) -> io::Result<Self> {
        let mut lines = Lines {
            reader,
            buffer: Vec::new(),
            start: 0,
            end_of_file: false,
        };
        const MARK: &[u8] = b"\xEF\xBB\xBF";
        while lines.buffer.len() < MARK.len() && !lines.end_of_file {
            lines.fill()?;
        }
        if lines.buffer.starts_with(MARK) {
            lines.start = MARK.len();
        }
        Ok(lines)
    }

    /// Reads more of the file after what is left of the buffer.
    fn fill(&mut self) -> io::Result<()> {
        self.buffer.drain(..self.start);
        self.start = 0;
        let kept = self.buffer.len();
        self.buffer.resize(kept + (1 << 20), 0);
        let read = loop {
            match self.reader.read(&mut self.buffer[kept..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let read = match read {
            Ok(read) => read,
            Err(e) => {
                self.buffer.truncate(kept);
                return Err(e);
            }
        };
        self.buffer.truncate(kept + read);
        self.end_of_file = read == 0;
        Ok(())
    }

    fn next(&mut self) -> io::Result<Option<&[u8]>> {
        let mut scanned = 0;
        let mut in_quotes = false;
        loop {
            let rest = &self.buffer[self.start..];
            for (i, c) in rest.iter().enumerate().skip(scanned) {
                if *c == b'"' {
                    in_quotes = !in_quotes;
                } else if *c == b'\n' && !in_quotes {
                    let line = self.start..self.start + i;
                    self.start += i + 1;
                    return Ok(Some(&self.buffer[line]));
                }
            }
            scanned = rest.len();
            if self.end_of_file {
                if rest.is_empty() {
                    return Ok(None);
                }
                let line = self.start..self.buffer.len();
                self.start = self.buffer.len();
                return Ok(Some(&self.buffer[line]));
            }
            self.fill()?;
        }
    }
}

/// polars' `SplitFields` (without SIMD): the fields of one line, each with whether it starts
/// with a quote. A quoted field runs to the first separator after an even number of quotes; a
/// newline outside quotes ends the line.
struct SplitFields<'a> {
    rest: &'a [u8],
    finished: bool,
}

impl<'a> SplitFields<'a> {
    fn new(line: &'a [u8]) -> Self {
        SplitFields {
            rest: line,
            finished: false,
        }
    }

    fn finish(&mut self, field: &'a [u8], quoted: bool) -> Option<(&'a [u8], bool)> {
        self.finished = true;
        Some((field, quoted))
    }
}

impl<'a> Iterator for SplitFields<'a> {
    type Item = (&'a [u8], bool);

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let v = self.rest;
        if v.is_empty() {
            return self.finish(v, false);
        }
        let ends = |c: u8| c == b',' || c == b'\n';
        let quoted = v[0] == b'"';
        let at = if quoted {
            let mut in_field = false;
            let mut found = None;
            for (i, c) in v.iter().enumerate() {
                if *c == b'"' {
                    in_field = !in_field;
                }
                if !in_field && ends(*c) {
                    if *c == b'\n' {
                        return self.finish(&v[..i], quoted);
                    }
                    found = Some(i);
                    break;
                }
            }
            match found {
                Some(i) if i > 0 => i,
                _ => return self.finish(v, quoted),
            }
        } else {
            match v.iter().position(|c| ends(*c)) {
                None => return self.finish(v, quoted),
                Some(i) if v[i] == b'\n' => return self.finish(&v[..i], quoted),
                Some(i) => i,
            }
        };
        self.rest = &v[at + 1..];
        Some((&v[..at], quoted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value's type is polars' own, the hand-decided shapes included.
    #[test]
    fn value_types_are_polars_own() {
        let mut values: Vec<String> = [
            "",
            "true",
            "FALSE",
            "True",
            "truee",
            "inf",
            "-inf",
            "+NaN",
            "nan",
            "Inf",
            "0",
            "-0",
            "+5",
            "007",
            "123456789012345678",
            "1234567890123456789",
            "99999999999999999999",
            "1.",
            ".5",
            "-.5e-3",
            "1e5",
            "1E+5",
            "1.e5",
            "e5",
            ".",
            "-",
            "+",
            "1.5.5",
            "1,5",
            "12abc",
            "abc",
            "EU",
            "n/a",
            "  2025-01-01",
            "2025-01-01",
            "2025-12-31",
            "2025-02-29",
            "2024-02-29",
            "2025-13-01",
            "2025-00-10",
            "0000-01-01",
            "2025-1-1",
            "2025/01/31",
            "2025.01.31",
            "20250131",
            "31/01/2025",
            "31-01-2025",
            "31.01.2025",
            "01/02/2025",
            "1/2/2025",
            "01/02/25",
            "13/13/2025",
            "2025-01-01 10:30",
            "2025-01-01T10:30",
            "2025-01-01 10:30:59",
            "2025-01-01 24:00",
            "2025-01-01 23:60",
            "2025-01-01 23:59:60",
            "2025-01-01T10:30:00.5",
            "2025-01-01T10:30:00.123456789",
            "2025-01-01T10:30:00.1234567891",
            "2025-01-01T10:30:00.",
            "2025-01-01 10:30:00Z",
            "2025-01-01T10:30:00+01:00",
            "2025-01-01 1030",
            "2025-01-0110:30",
            "2025-01-01x",
            "2025-01-01 ",
            "2025-01-01T",
            "2025-01-01 10",
            "2025-01-01 10:3",
            "2025-02-30 10:00",
            "10:30",
            "10:30:00",
            "10:30:00.25",
            "25:00",
            "31/12/2025 10:00",
            "\"2025-01-01\"",
            "\"12\"",
            "\"\"",
            "\"",
            "é",
            "2025-01-01é",
            "-2025-01-01",
            "+2025-01-01",
            "１２",
            "٣",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every date and time of a few shapes, valid or not.
        for (y, m, d) in [(2024, 2, 29), (2025, 2, 29), (2025, 4, 31), (1999, 12, 1)] {
            for time in [
                "",
                " 00:00",
                "T23:59",
                " 12:34:56",
                "T01:02:03.004",
                " 9:05",
            ] {
                values.push(format!("{y:04}-{m:02}-{d:02}{time}"));
                values.push(format!("{d:02}/{m:02}/{y:04}{time}"));
                values.push(format!("{y:04}/{m:02}/{d:02}{time}"));
            }
        }
        for value in &values {
            assert_eq!(
                value_type(value),
                infer_field_schema(value, true, false),
                "{value:?}"
            );
        }
    }

    fn schema(text: &str) -> Option<Vec<(String, DataType)>> {
        let schema = schema_of(text.as_bytes()).unwrap()?;
        Some(
            schema
                .iter()
                .map(|(n, d)| (n.to_string(), d.clone()))
                .collect(),
        )
    }

    #[test]
    fn columns_are_typed_as_polars_types_them() {
        let text = "\u{feff}day,n,x,flag,at,\"quoted\",mixed,empty\n\
                    2025-01-01,1,1,true,2025-01-01 10:00,\"a,b\",2025-01-01,\n\
                    \n\
                    2025-01-02,2,2.5,False,2025-01-01T10:00:00,\"\",2025-01-01 10:00,\r\n";
        let types = schema(text).unwrap();
        let expected = [
            ("day", DataType::Date),
            ("n", DataType::Int64),
            ("x", DataType::Float64),
            ("flag", DataType::Boolean),
            ("at", DataType::Datetime(TimeUnit::Microseconds, None)),
            ("quoted", DataType::String),
            // A date and a date-time in one column are text to polars.
            ("mixed", DataType::String),
            ("empty", DataType::String),
        ];
        let expected: Vec<(String, DataType)> = expected
            .into_iter()
            .map(|(n, d)| (n.to_string(), d))
            .collect();
        assert_eq!(types, expected);
        // `""` is an empty text, which makes a column of numbers text, as in polars.
        assert_eq!(schema("a,b\n1,\"\"\n2,3\n").unwrap()[1].1, DataType::String);
        // Left to polars: no header, a name given twice, a header that is not UTF-8.
        assert_eq!(schema("\n\r\n"), None);
        assert_eq!(schema("a,a\n1,2\n"), None);
        assert_eq!(schema_of(&b"a,\xff\n1,2\n"[..]).unwrap(), None);
    }

    #[test]
    fn the_window_is_polars_window() {
        // Text after 10,000 lines (blank lines count) does not change the type.
        let mut text = String::from("n\n\n");
        for i in 0..WINDOW - 1 {
            text.push_str(&format!("{i}\n"));
        }
        text.push_str("abc\n");
        assert_eq!(schema(&text).unwrap()[0].1, DataType::Int64);
        // A column empty in the window takes its type from the values after it.
        let mut text = String::from("n,day\n");
        for i in 0..WINDOW {
            text.push_str(&format!("{i},\n"));
        }
        text.push_str("1,2025-01-01\n2,\n");
        assert_eq!(schema(&text).unwrap()[1].1, DataType::Date);
    }

    /// What polars infers itself, with date detection on.
    fn polars_schema(path: &Path) -> Option<Schema> {
        use polars::prelude::{LazyCsvReader, LazyFileListReader, PlRefPath};
        let mut frame = LazyCsvReader::new(PlRefPath::new(path.to_string_lossy().as_ref()))
            .with_has_header(true)
            .with_try_parse_dates(true)
            .with_infer_schema_length(Some(WINDOW))
            .finish()
            .ok()?;
        frame.collect_schema().ok().map(|s| (*s).clone())
    }

    #[test]
    fn schemas_are_polars_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        // Awkward files: blank lines, CRLF, a byte order mark, quotes of every kind, ragged
        // rows, dates polars reads in other forms, a quoted newline.
        let cases = [
            "\r\n\na,b,c\r\n1,2,3\r\n\r\n4,5.5,x\r\n",
            "\u{feff}\"a\",\"b\"\n\"1\",\"2025-01-01\"\n\"2\",\"\"\n",
            "a,b\n5\" screen,1\nx,2\"\n3,4\n",
            "a,b,c\n1,2\n3,4,5,6\n",
            "d,e,f\n31/12/2025,2025/12/31,12:30\n01/02/2025,2025/01/02,01:00:00\n",
            "d,e\n2025-01-01T10:00:00Z,2025-01-01 10:00:00+01:00\n",
            "a,b\n\"x\ny\",1\n\"p,q\",2\n",
            "a,b\nTRUE,-1\nfalse,+1\n",
            "a\n",
        ];
        for (i, text) in cases.iter().enumerate() {
            let path = dir.path().join(format!("{i}.csv"));
            std::fs::write(&path, text).unwrap();
            paths.push(path);
        }
        // Every CSV file of the repository: the example, the fixtures.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut folders = vec![root.join("examples"), root.join("tests/fixtures")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "csv") {
                    paths.push(path);
                }
            }
        }
        let mut compared = 0;
        for path in &paths {
            if let Some(ours) = csv_schema(path) {
                assert_eq!(Some(ours), polars_schema(path), "{}", path.display());
                compared += 1;
            }
        }
        assert!(compared + 3 >= paths.len(), "{compared} of {}", paths.len());
    }

    #[test]
    fn values_to_the_second() {
        assert_eq!(to_the_second(b"2025-12-31 23:59:59"), Some(b' '));
        assert_eq!(to_the_second(b"2025-01-01T00:00:00"), Some(b'T'));
        for value in [
            "2025-12-31 24:00:00",
            "2025-12-31 23:60:00",
            "2025-12-31 23:59:60",
            "2025-02-29 10:00:00",
            "2025-12-31 23:59",
            "2025-12-31 23:59:00.5",
            "2025-12-31x23:59:00",
            "2025-12-31 23-59-00",
            " 2025-12-31 23:59:0",
        ] {
            assert_eq!(to_the_second(value.as_bytes()), None, "{value}");
        }
    }

    /// A reader that gives two bytes at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buffer.len()).min(2);
            buffer[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn all_lines(reader: impl Read) -> Vec<String> {
        let mut lines = Lines::new(reader).unwrap();
        let mut all = Vec::new();
        while let Some(line) = lines.next().unwrap() {
            all.push(String::from_utf8_lossy(line).into_owned());
        }
        all
    }

    #[test]
    fn lines_and_fields_split_as_polars_splits_them() {
        // A quoted newline stays in its line; a stray quote opens a quote to polars.
        let text = b"\xEF\xBB\xBFa,\"x\ny\"\nb\"c,d\ne\"\nf";
        let expected = ["a,\"x\ny\"", "b\"c,d\ne\"", "f"];
        assert_eq!(all_lines(&text[..]), expected);
        // The same when the file comes a few bytes at a time.
        assert_eq!(all_lines(Trickle(&text[..])), expected);
        assert_eq!(all_lines(Trickle(b"\xEF\xBB")), ["\u{FFFD}"]);
        let fields: Vec<(&[u8], bool)> = SplitFields::new(b"\"a,\"\"b\",,c,").collect();
        assert_eq!(
            fields,
            [
                (&b"\"a,\"\"b\""[..], true),
                (&b""[..], false),
                (&b"c"[..], false),
                (&b""[..], false)
            ]
        );
    }
}
