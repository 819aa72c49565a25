//! `kpi fmt`: which files to format, and each one's formatted text. The layout itself is
//! [`crate::syntax::format`].

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::source::{SourceFile, SourceMap};

/// Folders never searched for `.kpi` files: build output, dependencies and hidden folders.
const SKIPPED_FOLDERS: [&str; 2] = ["target", "node_modules"];

/// The `.kpi` files of the paths given: a file as it is named (whatever its extension), a
/// folder searched for `*.kpi` at any depth, skipping hidden folders, `target` and
/// `node_modules`. Files come in path order, each once. A path that does not exist is an
/// error (E0801) and the others are still listed.
pub fn definition_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            if let Err(e) = walk(path, &mut files) {
                errors.push(cannot_read(path, &e.to_string()));
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            errors.push(cannot_read(path, "no such file or folder"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    (files, errors)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED_FOLDERS.contains(&name) {
                walk(&path, files)?;
            }
        } else if path.extension().is_some_and(|e| e == "kpi") {
            files.push(path);
        }
    }
    Ok(())
}

/// E0801: a file or folder given to `kpi fmt` cannot be read or written.
pub fn cannot_read(path: &Path, reason: &str) -> Diagnostic {
    Diagnostic::error("E0801", format!("cannot read {}: {reason}", path.display()))
}

/// One file's text, formatted.
pub enum Formatted {
    /// Already in the layout.
    Unchanged,
    /// The layout differs: the formatted text.
    Changed(String),
    /// The file does not parse (or cannot be formatted safely): its diagnostics, with the
    /// sources they point into.
    Failed(Vec<Diagnostic>, SourceMap),
}

/// Formats the text of the file named `name`.
pub fn format_text(name: &str, path: &Path, text: &str) -> Formatted {
    let mut sources = SourceMap::new();
    let id = sources.add(SourceFile::new(name, path, text));
    match crate::syntax::format(text, id) {
        Ok(out) if out == text => Formatted::Unchanged,
        Ok(out) => Formatted::Changed(out),
        Err(diagnostics) => Formatted::Failed(diagnostics, sources),
    }
}

/// A unified diff from the text to its formatted form, for `kpi fmt --check`.
pub fn diff(name: &str, text: &str, formatted: &str) -> String {
    similar::TextDiff::from_lines(text, formatted)
        .unified_diff()
        .context_radius(2)
        .header(name, &format!("{name} (formatted)"))
        .to_string()
}

/// Writes a formatted file over the original, whole or not at all (a temporary file beside it,
/// renamed over it), keeping the original's permissions.
pub fn write_in_place(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let why = |e: std::io::Error| e.kind().to_string();
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let permissions = std::fs::metadata(path).map_err(why)?.permissions();
    let mut file = tempfile::Builder::new()
        .prefix(".kpi-fmt")
        .tempfile_in(folder)
        .map_err(why)?;
    file.write_all(text.as_bytes()).map_err(why)?;
    file.as_file().set_permissions(permissions).map_err(why)?;
    file.as_file().sync_all().map_err(why)?;
    file.persist(path).map_err(|e| why(e.error))?;
    Ok(())
}
