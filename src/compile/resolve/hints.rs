//! Shared diagnostics: unknown names and uses of items that have errors.

use super::Resolver;
use crate::compile::ir::Source;
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, Ident};

impl<'a> Resolver<'a> {
    /// A use of an item that was left out for its own errors.
    pub(super) fn broken_use(&self, ident: &Ident, broken: &ast::Broken, user: &str) -> Diagnostic {
        let what = match broken.keyword {
            Some("kpi") => "KPI",
            Some(other) => other,
            None => "item",
        };
        let at = self.input.sources.location(broken.span);
        let message = if user.is_empty() {
            format!("{what} `{}` has errors", ident.name)
        } else {
            format!("`{user}` uses {what} `{}`, which has errors", ident.name)
        };
        Diagnostic::error("E0346", message)
            .at(ident.span)
            .with_hint(format!("Its errors are reported at {at}."))
    }

    /// Why a dataset or view named in an expression gave no source.
    pub(super) fn unusable_source(&self, name: &Ident, user: &str) -> Diagnostic {
        if !self.items.views.contains_key(name.name.as_str())
            && !self.input.manifest.datasets.contains_key(&name.name)
        {
            if let Some(broken) = self.broken.get(name.name.as_str()) {
                return self.broken_use(name, broken, user);
            }
        }
        let is_view = self.items.views.contains_key(name.name.as_str());
        let is_dataset = self.input.manifest.datasets.contains_key(&name.name);
        let message = if is_view {
            format!("view `{}` has errors", name.name)
        } else if !is_dataset {
            return self.unknown_dataset(name);
        } else if !self.input.schemas.contains_key(&name.name) {
            format!("dataset `{}` could not be opened", name.name)
        } else {
            format!("dataset `{}` has errors in kpi.toml", name.name)
        };
        Diagnostic::error("E0357", message)
            .at(name.span)
            .with_hint("Its own errors say why.")
    }

    pub(super) fn unknown_dataset(&self, name: &Ident) -> Diagnostic {
        let known: Vec<&str> = self
            .input
            .manifest
            .datasets
            .keys()
            .map(|s| s.as_str())
            .chain(self.items.views.keys().copied())
            .collect();
        let mut d = Diagnostic::error("E0330", format!("unknown dataset or view `{}`", name.name))
            .at(name.span)
            .with_label("not a dataset or view");
        if let Some(hint) = did_you_mean(&name.name, known.iter().copied()) {
            d = d.with_hint(hint);
        }
        let mut sorted = known;
        sorted.sort();
        d.with_hint(format!("Datasets and views: {}.", sorted.join(", ")))
    }

    pub(super) fn unknown_column(&self, column: &str, span: Span, source: &Source) -> Diagnostic {
        let mut d = Diagnostic::error(
            "E0331",
            format!("unknown column `{column}` in `{}`", source.name),
        )
        .at(span)
        .with_label(format!("not a column of `{}`", source.name));
        if let Some(hint) = did_you_mean(column, source.schema.names()) {
            d.message = format!("{}; {hint}", d.message);
        }
        d.with_hint(format!(
            "Columns of `{}`: {}.",
            source.name,
            source.schema.names().collect::<Vec<_>>().join(", ")
        ))
    }
}
