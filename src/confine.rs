//! No escape: a project reads files (data, and the definitions its `kpis` globs name) only from
//! its own folder and from its `data_roots`.
//! Paths are resolved (symlinks and `..`) before they are compared, so neither a relative path
//! nor a link inside the project can reach a file outside.

use std::path::{Component, Path, PathBuf};

use crate::error::ManifestError;
use crate::manifest::Manifest;

/// The folders a project may read from, resolved.
pub struct Roots {
    allowed: Vec<PathBuf>,
}

impl Roots {
    /// The project folder and every `data_roots` entry that is a folder; the others are errors.
    pub fn new(manifest: &Manifest) -> (Roots, Vec<ManifestError>) {
        let mut allowed = vec![resolve(&manifest.root)];
        let mut errors = Vec::new();
        for root in &manifest.data_roots {
            match std::fs::canonicalize(&root.path) {
                Ok(path) if path.is_dir() => allowed.push(path),
                _ => errors.push(ManifestError::MissingDataRoot {
                    written: root.written.clone(),
                    path: root.path.clone(),
                    span: root.span.clone(),
                }),
            }
        }
        (Roots { allowed }, errors)
    }

    /// The resolved path when it is inside an allowed folder, else the resolved path as error.
    pub fn check(&self, path: &Path) -> Result<PathBuf, PathBuf> {
        let resolved = resolve(path);
        if self.allowed.iter().any(|root| resolved.starts_with(root)) {
            Ok(resolved)
        } else {
            Err(resolved)
        }
    }
}

/// `path` made absolute, with symlinks and `..` resolved as far as it exists; the part that
/// does not exist is appended with `.` and `..` resolved by name.
pub fn resolve(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let components: Vec<Component> = absolute.components().collect();
    for existing in (1..=components.len()).rev() {
        let prefix: PathBuf = components[..existing].iter().collect();
        if let Ok(mut resolved) = std::fs::canonicalize(&prefix) {
            for component in &components[existing..] {
                match component {
                    Component::ParentDir => {
                        resolved.pop();
                    }
                    Component::CurDir => {}
                    other => resolved.push(other),
                }
            }
            return resolved;
        }
    }
    absolute
}

/// The part of a glob pattern before its first component with a wildcard: every file the
/// pattern matches is under it (or is it, for a pattern without wildcards).
pub fn glob_base(pattern: &Path) -> PathBuf {
    pattern
        .components()
        .take_while(|c| {
            !c.as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '[', ']'])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_of_a_glob_is_its_literal_folders() {
        assert_eq!(
            glob_base(Path::new("/p/data/*/x.csv")),
            Path::new("/p/data")
        );
        assert_eq!(
            glob_base(Path::new("/p/data/x.csv")),
            Path::new("/p/data/x.csv")
        );
    }

    #[test]
    fn parents_are_resolved_even_where_nothing_exists() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(
            resolve(&root.join("nowhere/../../x.csv")),
            root.parent().unwrap().join("x.csv")
        );
    }
}
