//! One diagnostic type for every stage, rendered once at the edge.
//!
//! Helpers deep in a stage return plain messages; the caller that knows the span
//! attaches it. A run carries a list of diagnostics rather than stopping at the first.

use crate::source::{Location, SourceMap, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// What kind of problem: the user's input, a feature not built yet, or a bug of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The definitions, the manifest, the data or the arguments are wrong.
    User,
    /// Valid input that this version cannot compute yet.
    Unsupported,
    /// A bug in `kpi`.
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub kind: Kind,
    /// A stable code such as `E0101`, documented in grammar/README.md.
    pub code: &'static str,
    pub message: String,
    pub span: Option<Span>,
    /// A short text shown under the underlined span.
    pub label: Option<String>,
    pub hints: Vec<String>,
    /// The KPI this diagnostic stops, if any.
    pub kpi: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            kind: Kind::User,
            code,
            message: message.into(),
            span: None,
            label: None,
            hints: Vec::new(),
            kpi: None,
        }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Diagnostic {
            kind: Kind::Unsupported,
            ..Diagnostic::error("E0900", message)
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Diagnostic {
            kind: Kind::Internal,
            hints: vec![
                "This is a bug in kpi; please report it with the input that caused it.".into(),
            ],
            ..Diagnostic::error("E0999", format!("internal error: {}", message.into()))
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Attaches a span when there is one.
    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        if span.is_some() {
            self.span = span;
        }
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn for_kpi(mut self, kpi: &str) -> Self {
        if self.kpi.is_none() {
            self.kpi = Some(kpi.to_string());
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A "did you mean" hint for a misspelt name, if one of the candidates is close.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    // A name that looks exactly like a known one (a Latin `a` for a Cyrillic `а`) first, with
    // the letters that differ: without them the suggestion reads as the name itself.
    if let Some((c, how)) = candidates
        .iter()
        .find_map(|c| crate::names::lookalike(name, c).map(|how| (c, how)))
    {
        return Some(format!("did you mean `{c}`? {how}"));
    }
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (name.chars().count().max(c.chars().count()) / 3).max(1))
        .min()
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Renders diagnostics for a terminal with ariadne: file, line, column, the span underlined.
pub fn render_human(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    use ariadne::{Config, IndexType, Label, Report, ReportKind, Source};
    let mut out = Vec::new();
    for diagnostic in diagnostics {
        let kind = match diagnostic.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let Some(span) = diagnostic.span else {
            let prefix = match diagnostic.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            out.extend_from_slice(
                format!("{prefix}[{}]: {}\n", diagnostic.code, diagnostic.message).as_bytes(),
            );
            for hint in &diagnostic.hints {
                out.extend_from_slice(format!("  = help: {hint}\n").as_bytes());
            }
            continue;
        };
        let file = sources.get(span.file);
        let len = file.text.len();
        // pest reports the end of input past the last byte: clamp every span to the text.
        let start = span.start.min(len);
        let end = span.end.clamp(start, len);
        let name = file.name.clone();
        let mut report = Report::build(kind, (name.clone(), start..end))
            .with_config(
                Config::default()
                    .with_index_type(IndexType::Byte)
                    .with_color(color),
            )
            .with_code(diagnostic.code)
            .with_message(&diagnostic.message);
        // ariadne underlines a span only when its label has a message, even an empty one.
        let label = Label::new((name.clone(), start..end))
            .with_message(diagnostic.label.as_deref().unwrap_or(""));
        report = report.with_label(label);
        for hint in &diagnostic.hints {
            report = report.with_help(hint);
        }
        let _ = report
            .finish()
            .write((name, Source::from(file.text.as_str())), &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The machine-readable form of a diagnostic, as used in JSON reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiagnosticJson {
    pub severity: Severity,
    pub kind: Kind,
    pub code: &'static str,
    pub message: String,
    pub location: Option<Location>,
    pub hints: Vec<String>,
    pub kpi: Option<String>,
}

impl DiagnosticJson {
    pub fn new(diagnostic: &Diagnostic, sources: &SourceMap) -> Self {
        DiagnosticJson {
            severity: diagnostic.severity,
            kind: diagnostic.kind,
            code: diagnostic.code,
            message: diagnostic.message.clone(),
            location: diagnostic.span.map(|s| sources.location(s)),
            hints: diagnostic.hints.clone(),
            kpi: diagnostic.kpi.clone(),
        }
    }
}
