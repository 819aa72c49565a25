//! `kpi diff`: what a change to the definitions does to the numbers. The definitions of a git
//! revision (read with `git show`, never checked out) and those of the working tree are
//! evaluated on the same data and the same `as_of`, each by the one evaluator, and their
//! outcomes compared: KPIs added, removed, changed in definition, and the rows whose value or
//! status changed.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::eval::{KpiOutcome, Status};
use crate::manifest::Manifest;
use crate::project::{Project, Run};
use crate::syntax::ast;

/// A project folder inside a git work tree.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
    /// The project folder from the work tree's root, with `/` (empty at the root).
    prefix: String,
}

impl Git {
    /// The work tree that holds `dir`; an error when there is none or git cannot run.
    pub fn open(dir: &Path) -> Result<Git, String> {
        let top = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|e| {
            format!(
                "`{}` is not in a git repository, so there is no revision to compare with ({e})",
                dir.display()
            )
        })?;
        let top = PathBuf::from(top.trim());
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let relative = canonical(dir);
        let prefix = relative
            .strip_prefix(canonical(&top))
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        Ok(Git {
            dir: dir.to_path_buf(),
            prefix,
        })
    }

    /// The commit of `rev`, or by default the merge base of HEAD with the default branch
    /// (`origin/HEAD`, else `main`, else `master`): its name as given and its hash.
    pub fn base(&self, rev: Option<&str>) -> Result<(String, String), String> {
        let commit = |r: &str| {
            git(
                &self.dir,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{r}^{{commit}}"),
                ],
            )
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
        };
        if let Some(rev) = rev {
            return commit(rev)
                .map(|hash| (rev.to_string(), hash))
                .ok_or_else(|| format!("no revision `{rev}` in this repository"));
        }
        let branch = ["origin/HEAD", "main", "master"]
            .into_iter()
            .find(|b| commit(b).is_some())
            .ok_or("no default branch (origin/HEAD, main or master) to compare with; name a revision with --base")?;
        let base = git(&self.dir, &["merge-base", "HEAD", branch])
            .map_err(|e| format!("no merge base of HEAD and `{branch}`: {e}"))?;
        Ok((format!("merge base with {branch}"), base.trim().to_string()))
    }

    /// A file of the revision, from the work tree's root; none when the revision has no such
    /// file.
    fn show(&self, hash: &str, path: &str) -> Option<String> {
        git(&self.dir, &["show", &format!("{hash}:{path}")]).ok()
    }

    /// Every file of the revision, from the work tree's root.
    fn files(&self, hash: &str) -> Result<Vec<String>, String> {
        let listing = git(
            &self.dir,
            &["ls-tree", "-r", "--full-tree", "--name-only", "-z", hash],
        )?;
        Ok(listing
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect())
    }

    /// `path` (from the project folder) from the work tree's root, `..` resolved.
    fn at_top(&self, path: &str) -> String {
        let mut parts: Vec<String> = self
            .prefix
            .split('/')
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        for component in Path::new(path).components() {
            match component {
                Component::ParentDir => {
                    parts.pop();
                }
                Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                _ => {}
            }
        }
        parts.join("/")
    }

    /// A path from the work tree's root as the project shows it: from the project folder.
    fn shown(&self, path: &str) -> String {
        let base: Vec<&str> = self.prefix.split('/').filter(|p| !p.is_empty()).collect();
        let target: Vec<&str> = path.split('/').collect();
        let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
        let mut parts: Vec<&str> = vec![".."; base.len() - common];
        parts.extend(&target[common..]);
        parts.join("/")
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("git cannot run: {e}"))?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        return Err(err.lines().next().unwrap_or("git failed").to_string());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The project as the revision `hash` defines it, over the working tree's data (its paths are
/// taken from the project folder as it is now): None when the revision has no `kpi.toml` there.
pub fn project_at(git: &Git, hash: &str) -> Result<Option<Project>, String> {
    let Some(text) = git.show(hash, &git.at_top(crate::manifest::MANIFEST_NAME)) else {
        return Ok(None);
    };
    let manifest = Manifest::from_str(&text, &git.dir).map_err(|e| {
        format!(
            "the revision's kpi.toml cannot be read: {}",
            e.diagnostic(None).message
        )
    })?;
    let tree = git.files(hash)?;
    let mut definitions = Vec::new();
    for pattern in &manifest.kpi_globs {
        let Ok(glob) = glob::Pattern::new(&git.at_top(pattern)) else {
            continue;
        };
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        for path in tree.iter().filter(|p| glob.matches_with(p, options)) {
            let shown = git.shown(path);
            if definitions
                .iter()
                .any(|(s, _, _): &(String, PathBuf, _)| *s == shown)
            {
                continue;
            }
            let text = git
                .show(hash, path)
                .ok_or_else(|| format!("cannot read `{path}` at the revision"));
            definitions.push((shown.clone(), git.dir.join(&shown), text));
        }
    }
    Ok(Some(Project::with_definitions(
        manifest,
        definitions,
        Vec::new(),
    )))
}

/// What changed between the two runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    /// The revision compared with, and its commit.
    pub base: String,
    pub commit: String,
    pub as_of: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// KPIs in both whose definition or numbers changed, in the working tree's order.
    pub changed: Vec<KpiChange>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KpiChange {
    pub name: String,
    /// Its own text changed (comments and layout aside); else only what it reads did.
    pub definition: bool,
    /// The rows whose value or status changed, or that one side lacks.
    pub rows: Vec<RowChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowChange {
    pub dimensions: Vec<String>,
    pub period: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub status_before: Option<Status>,
    pub status_after: Option<Status>,
}

/// The KPIs of a project by name, with their text without comments and with white space
/// folded: two texts that differ only in layout or comments are the same definition.
fn definitions(project: &Project) -> Vec<(String, String)> {
    project
        .files
        .iter()
        .flat_map(|f| &f.items)
        .filter_map(|item| match item {
            ast::Item::Kpi(k) => Some(k),
            _ => None,
        })
        .map(|k| {
            let file = project.sources.get(k.span.file);
            let text = file.text.get(k.span.start..k.span.end).unwrap_or("");
            (k.name.name.clone(), without_comments(text))
        })
        .collect()
}

/// A definition's text without `#` comments (outside strings and backticks), its white space
/// folded to single spaces.
fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' && q == '"' {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '#' => {
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            None => {
                if c == '"' || c == '`' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether two values differ: beyond the last digits a float may lose.
fn differ(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() > 1e-9 * a.abs().max(b.abs()).max(1.0),
        (a, b) => a.is_some() != b.is_some(),
    }
}

/// A judged row: its dimension values, the period, its value and status.
struct Judged {
    dims: Vec<String>,
    period: String,
    value: Option<f64>,
    status: Option<Status>,
}

fn rows(kpi: &KpiOutcome) -> Vec<Judged> {
    kpi.rows
        .iter()
        .map(|r| Judged {
            dims: r.dimensions.iter().map(|(_, v)| v.clone()).collect(),
            period: kpi.period.clone(),
            value: r.value,
            status: r.status,
        })
        .collect()
}

/// Compares the runs of the revision's definitions (`before`) and the working tree's.
pub fn compare(before: Option<(&Project, &Run)>, after: (&Project, &Run)) -> Diff {
    let (new_project, new_run) = after;
    let new_defs = definitions(new_project);
    let old_defs = before.map(|(p, _)| definitions(p)).unwrap_or_default();
    let old_outcomes: &[KpiOutcome] = before.map_or(&[], |(_, r)| &r.outcomes);
    let mut diff = Diff {
        as_of: new_run.as_of.to_string(),
        ..Diff::default()
    };
    for (name, _) in &new_defs {
        if !old_defs.iter().any(|(n, _)| n == name) {
            diff.added.push(name.clone());
        }
    }
    for (name, _) in &old_defs {
        if !new_defs.iter().any(|(n, _)| n == name) {
            diff.removed.push(name.clone());
        }
    }
    for (name, text) in &new_defs {
        let Some((_, old_text)) = old_defs.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let new = new_run.outcomes.iter().find(|o| &o.meta.name == name);
        let old = old_outcomes.iter().find(|o| &o.meta.name == name);
        let (new_rows, old_rows) = (
            new.map(rows).unwrap_or_default(),
            old.map(rows).unwrap_or_default(),
        );
        let mut changes = Vec::new();
        for row in &new_rows {
            let before = old_rows.iter().find(|old| old.dims == row.dims);
            let (before_value, before_status) =
                before.map_or((None, None), |b| (b.value, b.status));
            if before.is_none() || differ(before_value, row.value) || before_status != row.status {
                changes.push(RowChange {
                    dimensions: row.dims.clone(),
                    period: row.period.clone(),
                    before: before_value,
                    after: row.value,
                    status_before: before_status,
                    status_after: row.status,
                });
            }
        }
        for old in &old_rows {
            if !new_rows.iter().any(|row| row.dims == old.dims) {
                changes.push(RowChange {
                    dimensions: old.dims.clone(),
                    period: old.period.clone(),
                    before: old.value,
                    after: None,
                    status_before: old.status,
                    status_after: None,
                });
            }
        }
        let definition = text != old_text;
        if definition || !changes.is_empty() {
            diff.changed.push(KpiChange {
                name: name.clone(),
                definition,
                rows: changes,
            });
        }
    }
    diff
}

fn value_text(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |v| format!("{v}"))
}

fn status_text(s: Option<Status>) -> &'static str {
    s.map_or("—", Status::key)
}

fn row_name(kpi: &str, row: &RowChange) -> String {
    let mut name = kpi.to_string();
    for d in &row.dimensions {
        name.push_str(&format!(" · {d}"));
    }
    name
}

/// The diff for a terminal: the KPIs added and removed, then each changed one with its rows.
pub fn render_text(diff: &Diff) -> String {
    let mut out = format!(
        "against {} ({}), as of {}\n",
        diff.base,
        &diff.commit[..diff.commit.len().min(12)],
        diff.as_of
    );
    if diff.is_empty() {
        out.push_str("no change: every KPI has the same definition and the same numbers\n");
        return out;
    }
    for name in &diff.added {
        out.push_str(&format!("+ {name}  (added)\n"));
    }
    for name in &diff.removed {
        out.push_str(&format!("- {name}  (removed)\n"));
    }
    if diff.changed.is_empty() {
        return out;
    }
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .force_no_tty()
        .set_header([
            "KPI",
            "period",
            "before",
            "after",
            "status before",
            "status after",
        ]);
    for change in &diff.changed {
        if change.rows.is_empty() {
            table.add_row([
                format!("{} (definition only)", change.name),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for row in &change.rows {
            let mut name = row_name(&change.name, row);
            if change.definition {
                name.push_str(" *");
            }
            table.add_row([
                name,
                row.period.clone(),
                value_text(row.before),
                value_text(row.after),
                status_text(row.status_before).to_string(),
                status_text(row.status_after).to_string(),
            ]);
        }
    }
    out.push_str(&format!(
        "~ {} changed (* its definition changed)\n",
        diff.changed.len()
    ));
    out.push_str(&table.to_string());
    out.push('\n');
    out
}

/// The diff as GitHub Markdown, for a pull-request comment.
pub fn render_markdown(diff: &Diff) -> String {
    let code = |s: &str| format!("`{}`", s.replace('`', "'"));
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = format!(
        "## KPI changes against {} (`{}`), as of {}\n\n",
        cell(&diff.base),
        &diff.commit[..diff.commit.len().min(12)],
        diff.as_of
    );
    if diff.is_empty() {
        out.push_str("No change: every KPI has the same definition and the same numbers.\n");
        return out;
    }
    if !diff.added.is_empty() {
        let names: Vec<String> = diff.added.iter().map(|n| code(n)).collect();
        out.push_str(&format!("**Added:** {}\n\n", names.join(", ")));
    }
    if !diff.removed.is_empty() {
        let names: Vec<String> = diff.removed.iter().map(|n| code(n)).collect();
        out.push_str(&format!("**Removed:** {}\n\n", names.join(", ")));
    }
    if !diff.changed.is_empty() {
        out.push_str(
            "| KPI | definition | period | before | after | status |\n|---|---|---|--:|--:|---|\n",
        );
        for change in &diff.changed {
            let definition = if change.definition { "changed" } else { "same" };
            if change.rows.is_empty() {
                out.push_str(&format!(
                    "| {} | {definition} | | | | |\n",
                    code(&change.name)
                ));
            }
            for row in &change.rows {
                out.push_str(&format!(
                    "| {} | {definition} | {} | {} | {} | {} → {} |\n",
                    cell(&code(&row_name(&change.name, row))),
                    row.period,
                    value_text(row.before),
                    value_text(row.after),
                    status_text(row.status_before),
                    status_text(row.status_after)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_layout_are_not_the_definition() {
        assert_eq!(
            without_comments(
                "kpi a {  # the first\n  value count(x)   # rows\n title \"# not a comment\" }"
            ),
            "kpi a { value count(x) title \"# not a comment\" }"
        );
        assert_eq!(without_comments("a `b # c` d # e"), "a `b # c` d");
    }

    #[test]
    fn paths_between_the_root_and_the_project() {
        let git = Git {
            dir: PathBuf::from("."),
            prefix: "examples/acme".into(),
        };
        assert_eq!(git.at_top("kpi.toml"), "examples/acme/kpi.toml");
        assert_eq!(git.at_top("../../kpis/*.kpi"), "kpis/*.kpi");
        assert_eq!(git.shown("kpis/crm.kpi"), "../../kpis/crm.kpi");
        assert_eq!(git.shown("examples/acme/kpis/goals.kpi"), "kpis/goals.kpi");
    }
}
