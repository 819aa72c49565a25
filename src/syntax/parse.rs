//! The pest parser and the walk from its pairs to [`ast`] nodes.

use std::sync::LazyLock;

use chrono::NaiveDate;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use unicode_normalization::UnicodeNormalization;

use super::ast::{self, Ident, Spanned};
use super::scan;
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/kpi.pest"]
pub(super) struct KpiParser;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::postfix(Rule::op_is_null)
            | Op::postfix(Rule::op_is_not_null)
            | Op::postfix(Rule::op_in)
            | Op::postfix(Rule::op_not_in)
            | Op::postfix(Rule::op_between))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left) | Op::infix(Rule::op_div, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
});

/// Parses one `.kpi` file. Returns the AST of everything that parsed and every error found.
///
/// The file is read item by item. An item with any error, of syntax or in its literals, is left
/// out whole and recorded in [`ast::File::broken`]; after a syntax error the parser picks up at
/// the next line that starts an item, so one typo loses one item, not the file.
pub fn parse(text: &str, file: FileId) -> (ast::File, Vec<Diagnostic>) {
    let mut walker = Walker {
        file,
        base: 0,
        text,
        errors: Vec::new(),
    };
    let mut out = ast::File::default();
    for read in ItemReader::new(text) {
        match read {
            ItemRead::Parsed { start, item } => {
                walker.base = start;
                let end = start + item.as_span().end();
                let errors_before = walker.errors.len();
                if let Some(item) = walker.item(item) {
                    if walker.errors.len() == errors_before {
                        out.items.push(item);
                    } else {
                        let name = item.name().clone();
                        let keyword = item.keyword();
                        if keyword == "kpi" {
                            for error in &mut walker.errors[errors_before..] {
                                error.kpi.get_or_insert_with(|| name.name.clone());
                            }
                        }
                        out.broken.push(ast::Broken {
                            keyword: Some(keyword),
                            name: Some(name),
                            span: Span::new(file, start, end),
                        });
                    }
                }
            }
            ItemRead::TooDeep { start, bound, at } => {
                walker.errors.push(too_deep_error(text, at, file));
                out.broken.push(broken_header(text, start, bound, file));
            }
            ItemRead::Failed {
                start,
                bound,
                error,
            } => {
                let mut diagnostic = syntax_error(*error, text, start, file);
                let broken = broken_header(text, start, bound, file);
                let error_at = diagnostic.span.map_or(0, |s| s.start);
                if error_at >= bound && bound < text.len() {
                    let line = text[..bound].matches('\n').count() + 1;
                    diagnostic = diagnostic.with_hint(format!(
                        "The next item starts on line {line}; is something missing before it, such as a closing `}}`?"
                    ));
                }
                if broken.keyword == Some("kpi") {
                    if let Some(name) = &broken.name {
                        diagnostic = diagnostic.for_kpi(&name.name);
                    }
                }
                walker.errors.push(diagnostic);
                out.broken.push(broken);
            }
        }
    }
    let mut diagnostics = walker.errors;
    diagnostics.extend(mixed_script_names(&out));
    (out, diagnostics)
}

/// W0104 for every name a file declares with a word that mixes scripts (`kpi выручкa` with a
/// Latin `a`):
/// items, a KPI's lets, funnel steps and the columns of a per-entity view. A reference spelt
/// all in Cyrillic would be an unknown name that looks exactly like this one.
fn mixed_script_names(file: &ast::File) -> Vec<Diagnostic> {
    let mut names: Vec<&Ident> = Vec::new();
    for item in &file.items {
        names.push(item.name());
        match item {
            ast::Item::Kpi(kpi) => names.extend(kpi.lets.iter().map(|l| &l.name)),
            ast::Item::Funnel(funnel) => names.extend(funnel.steps.iter().map(|s| &s.name)),
            ast::Item::View(view) => {
                if let Some(per) = &view.per {
                    names.extend(per.columns.iter().map(|(name, _)| name));
                }
            }
            ast::Item::Let(_) | ast::Item::Cohort(_) => {}
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let how = crate::names::mixed_scripts(&name.name)?;
            Some(
                Diagnostic::warning("W0104", format!("the name `{}` mixes scripts", name.name))
                    .at(name.span)
                    .with_label(how)
                    .with_hint("Letters of different scripts can look the same: a reference typed in one script will not find this name. Retype it in one script."),
            )
        })
        .collect()
}

/// What reading the next item of a file found.
enum ItemRead<'a> {
    /// The item's pair, parsed from the text that starts at `start` (its spans are relative
    /// to that).
    Parsed { start: usize, item: Pair<'a, Rule> },
    /// Its expressions nest too deeply at `at`; pest was not run.
    TooDeep {
        start: usize,
        bound: usize,
        at: usize,
    },
    /// A syntax error; reading picks up again at `bound`.
    Failed {
        start: usize,
        bound: usize,
        error: Box<pest::error::Error<Rule>>,
    },
}

/// A file read item by item. pest sees each item's text up to the next item and no further
/// (`scan::item_end_bound`), so the nesting bound over that text bounds pest's recursion, and
/// one item can never swallow the next; after an error, reading picks up at that bound.
struct ItemReader<'a> {
    text: &'a str,
    offset: usize,
}

impl<'a> ItemReader<'a> {
    fn new(text: &'a str) -> Self {
        ItemReader { text, offset: 0 }
    }
}

impl<'a> Iterator for ItemReader<'a> {
    type Item = ItemRead<'a>;

    fn next(&mut self) -> Option<ItemRead<'a>> {
        let text = self.text;
        loop {
            let start = scan::skip_trivia(text, self.offset);
            if start >= text.len() {
                self.offset = text.len();
                return None;
            }
            let bound = scan::item_end_bound(text, start);
            if let Some(at) = scan::too_deep(text, start, bound) {
                self.offset = bound;
                return Some(ItemRead::TooDeep { start, bound, at });
            }
            match KpiParser::parse(Rule::next_item, &text[start..bound]) {
                Ok(pairs) => {
                    let item = pairs
                        .into_iter()
                        .next()
                        .and_then(|p| p.into_inner().find(|p| p.as_rule() != Rule::EOI));
                    let Some(item) = item else {
                        self.offset = bound;
                        continue;
                    };
                    self.offset = (start + item.as_span().end()).max(start + 1);
                    return Some(ItemRead::Parsed { start, item });
                }
                Err(error) => {
                    self.offset = bound;
                    return Some(ItemRead::Failed {
                        start,
                        bound,
                        error: Box::new(error),
                    });
                }
            }
        }
    }
}

/// The pest pairs of a file's items, read as [`parse`] reads them, each with the offset of the
/// text it was parsed from. `None` when an item does not parse: the formatter works only on
/// files that [`parse`] reads without a syntax error.
pub(super) fn item_pairs(text: &str) -> Option<Vec<(usize, Pair<'_, Rule>)>> {
    ItemReader::new(text)
        .map(|read| match read {
            ItemRead::Parsed { start, item } => Some((start, item)),
            ItemRead::TooDeep { .. } | ItemRead::Failed { .. } => None,
        })
        .collect()
}

/// A broken item as far as its first words tell: `kpi NAME`, `view NAME`, ...
fn broken_header(text: &str, start: usize, end: usize, file: FileId) -> ast::Broken {
    let end = start + text[start..end].trim_end().len();
    let keyword = scan::item_keyword_at(text, start);
    let name = keyword.and_then(|kw| {
        let at = start + kw.len();
        let name_start = at + (text[at..].len() - text[at..].trim_start_matches([' ', '\t']).len());
        let len: usize = text[name_start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum();
        (len > 0 && name_start > at).then(|| Ident {
            name: text[name_start..name_start + len].to_string(),
            span: Span::new(file, name_start, name_start + len),
        })
    });
    ast::Broken {
        keyword,
        name,
        span: Span::new(file, start, end.max(start)),
    }
}

fn too_deep_error(text: &str, at: usize, file: FileId) -> Diagnostic {
    let len = describe_found(text, at).1.max(1);
    Diagnostic::error(
        "E0005",
        format!(
            "this expression nests too deeply (more than {} levels)",
            scan::MAX_NESTING
        ),
    )
    .at(Span::new(file, at, at + len))
    .with_label("too deep here")
    .with_hint("Each bracket and each operator is a level; name parts of the expression with `let` to flatten it.")
}

/// Parses a lone expression, as given to `kpi eval`.
pub fn parse_expr(text: &str, file: FileId) -> Result<ast::Expr, Vec<Diagnostic>> {
    if let Some(at) = scan::too_deep(text, 0, text.len()) {
        return Err(vec![too_deep_error(text, at, file)]);
    }
    let mut walker = Walker {
        file,
        base: 0,
        text,
        errors: Vec::new(),
    };
    match KpiParser::parse(Rule::lone_expr, text) {
        Ok(mut pairs) => {
            let pair = pairs.next().expect("lone_expr yields one pair");
            let expr_pair = pair.into_inner().next().expect("lone_expr holds an expr");
            let expr = walker.expr(expr_pair);
            if walker.errors.is_empty() {
                Ok(expr)
            } else {
                Err(walker.errors)
            }
        }
        Err(error) => Err(vec![syntax_error(error, text, 0, file)]),
    }
}

/// Turns a pest error into a diagnostic that names what was expected in words. pest read the
/// file's `text` from byte `base` on; what it found is described from the whole text, so that
/// an error where pest's text ends names the next item rather than "end of file".
fn syntax_error(
    error: pest::error::Error<Rule>,
    text: &str,
    base: usize,
    file: FileId,
) -> Diagnostic {
    let (start, end) = match error.location {
        InputLocation::Pos(p) => (base + p, base + p),
        InputLocation::Span((s, e)) => (base + s, base + e),
    };
    let found = describe_found(text, start);
    let end = if end > start {
        end
    } else {
        start + found.1.max(1)
    };
    let rest_of_line = text.get(start..).unwrap_or("").lines().next().unwrap_or("");
    if rest_of_line.starts_with('"') && !rest_of_line[1..].contains('"') {
        return Diagnostic::error("E0001", "this string is not closed")
            .at(Span::new(file, start, start + rest_of_line.len()))
            .with_label("no closing `\"` on this line")
            .with_hint("Strings end on the line they start; write `\\\"` for a quote inside one.");
    }
    let mut hints = Vec::new();
    let message = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let expected = expected_words(positives);
            if positives.contains(&Rule::kw_value) && found.0.starts_with('`') {
                let word = found.0.trim_matches('`');
                if let Some(hint) = crate::diagnostic::did_you_mean(word, FIELDS) {
                    hints.push(hint);
                }
            }
            let next = text.get(start..).unwrap_or("");
            if next.starts_with('=') && !next.starts_with("==") {
                hints.push(
                    "Comparisons are written `==`; a single `=` only names things.".to_string(),
                );
            }
            let first = next.chars().next().unwrap_or(' ');
            if expected.contains("a name") && first.is_ascii_digit() {
                hints.push(
                    "Plain names are letters (of any script), digits and `_`, and start with a letter or `_`; write any other name in backticks, like `Order Date`."
                        .to_string(),
                );
            }
            if expected.is_empty() {
                format!("unexpected {}", found.0)
            } else {
                format!("expected {}, found {}", expected, found.0)
            }
        }
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let mut diagnostic = Diagnostic::error("E0001", message)
        .at(Span::new(file, start, end))
        .with_label("here");
    diagnostic.hints = hints;
    diagnostic
}

/// The fields of a KPI, for "did you mean" on a misspelt one.
const FIELDS: [&str; 15] = [
    "title",
    "description",
    "owner",
    "tags",
    "format",
    "decimals",
    "unit",
    "every",
    "by",
    "where",
    "let",
    "value",
    "target",
    "warn",
    "pace",
];

/// A description of the token at `offset` and its length in bytes.
fn describe_found(text: &str, offset: usize) -> (String, usize) {
    let rest = text.get(offset..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return ("end of file".to_string(), 0);
    };
    if first.is_alphanumeric() || first == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let len = word.len();
        (format!("`{word}`"), len)
    } else if first == '\n' || first == '\r' {
        ("end of line".to_string(), 1)
    } else if first.is_control() || first.is_whitespace() {
        // A NUL byte or a no-break space would be invisible between backticks.
        (
            format!("the character U+{:04X}", first as u32),
            first.len_utf8(),
        )
    } else {
        (format!("`{first}`"), first.len_utf8())
    }
}

fn expected_words(positives: &[Rule]) -> String {
    // After `a.b` pest also tries `a.b.c` (a funnel step's `.days`): a third part is hardly
    // ever what is missing, so it is named only when nothing else could follow.
    let filtered: Vec<Rule> = positives
        .iter()
        .copied()
        .filter(|r| *r != Rule::dot)
        .collect();
    let positives: &[Rule] = if filtered.is_empty() {
        positives
    } else {
        &filtered
    };
    let mut words: Vec<String> = Vec::new();
    let mut push = |w: &str| {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_string());
        }
    };
    let field_keywords = [
        Rule::kw_title,
        Rule::kw_description,
        Rule::kw_owner,
        Rule::kw_tags,
        Rule::kw_format,
        Rule::kw_decimals,
        Rule::kw_unit,
        Rule::kw_every,
        Rule::kw_by,
        Rule::kw_where,
        Rule::kw_value,
        Rule::kw_target,
        Rule::kw_warn,
        Rule::kw_pace,
    ];
    let fields = positives
        .iter()
        .filter(|r| field_keywords.contains(r))
        .count();
    for rule in positives {
        // Inside a KPI's braces (where `value` may come), every field is possible: say so
        // once instead of listing them all. Funnels and cohorts list their own few.
        let in_kpi = positives.contains(&Rule::kw_value);
        if in_kpi && fields > 3 && (field_keywords.contains(rule) || *rule == Rule::kw_let) {
            push("a KPI field (`title`, `value`, `target`, `warn`, `by`, `where`, `let`, ...)");
            continue;
        }
        let word = match rule {
            Rule::op_eq | Rule::op_ne | Rule::op_lt | Rule::op_le | Rule::op_gt | Rule::op_ge => {
                "a comparison (`>=`, `>`, `<=`, `<`, `==`, `!=`)"
            }
            Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
            | Rule::op_and
            | Rule::op_or
            | Rule::kw_and
            | Rule::kw_or
            | Rule::kw_in
            | Rule::kw_is
            | Rule::kw_between => "an operator",
            Rule::op_is_null
            | Rule::op_is_not_null
            | Rule::op_in
            | Rule::op_not_in
            | Rule::op_between => "an operator",
            Rule::expr
            | Rule::arith
            | Rule::operand
            | Rule::literal
            | Rule::call
            | Rule::path
            | Rule::if_expr
            | Rule::paren
            | Rule::op_neg
            | Rule::op_not
            | Rule::number
            | Rule::percent
            | Rule::date
            | Rule::kw_true
            | Rule::kw_false
            | Rule::kw_null
            | Rule::kw_if
            | Rule::call_arg => "an expression",
            Rule::ident | Rule::plain_ident | Rule::quoted_ident | Rule::ident_list => "a name",
            Rule::field_name | Rule::field_plain => "a column name",
            // The text pest reads for an item ends where the next item starts.
            Rule::EOI => "a new item",
            Rule::string => "a string",
            Rule::file
            | Rule::item
            | Rule::next_item
            | Rule::view_item
            | Rule::let_item
            | Rule::kpi_item
            | Rule::funnel_item
            | Rule::cohort_item => "`view`, `let`, `kpi`, `funnel` or `cohort`",
            // After a whole view or `let`: what follows must start the next item.
            Rule::kw_view | Rule::kw_let | Rule::kw_kpi | Rule::kw_funnel | Rule::kw_cohort => {
                "a new item"
            }
            Rule::goal | Rule::goal_compare | Rule::goal_between => {
                "a comparison (`>=`, `>`, `<=`, `<`, `==`, `!=`) or `between`"
            }
            Rule::lbrace => "`{`",
            Rule::rbrace => "`}`",
            Rule::lparen => "`(`",
            Rule::rparen => "`)`",
            Rule::lbracket => "`[`",
            Rule::rbracket => "`]`",
            Rule::comma => "`,`",
            Rule::dot => "`.`",
            Rule::assign => "`=`",
            Rule::list => "a list `[...]`",
            Rule::kw_start | Rule::kw_end if positives.contains(&Rule::kw_end) => {
                "`start` or `end`"
            }
            Rule::quoted_inner => "a name",
            Rule::string_inner => "a string",
            other => {
                // Keywords are said as written; any other inner rule is left out rather
                // than shown to users by its grammar name.
                let name = format!("{other:?}");
                if let Some(word) = name.strip_prefix("kw_") {
                    push(&format!("`{word}`"));
                }
                continue;
            }
        };
        push(word);
    }
    // In the middle of a view or `let`, saying that a new item could start is no help.
    if words.len() > 1 {
        words.retain(|w| w != "a new item");
    }
    // At the start of an expression, its first tokens are all "an expression".
    if words.iter().any(|w| w == "an expression") {
        words.retain(|w| !matches!(w.as_str(), "a name" | "`(`" | "`not`" | "`-`" | "a string"));
    }
    // After an operand, comparisons and the postfix tests are operators too.
    if words.iter().any(|w| w == "an operator") {
        words.retain(|w| {
            !matches!(
                w.as_str(),
                "`not`" | "a comparison (`>=`, `>`, `<=`, `<`, `==`, `!=`)"
            )
        });
    }
    match words.len() {
        0 => String::new(),
        1 => words.remove(0),
        n => format!("{} or {}", words[..n - 1].join(", "), words[n - 1]),
    }
}

struct Walker<'t> {
    file: FileId,
    /// Where the text pest was given starts in the file: pest's positions are relative to it.
    base: usize,
    /// The whole file.
    text: &'t str,
    errors: Vec<Diagnostic>,
}

/// The children of a pair without punctuation and keywords, which carry no meaning of their own.
fn meaningful(pairs: Pairs<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pairs.filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::lbrace
                | Rule::rbrace
                | Rule::lparen
                | Rule::rparen
                | Rule::lbracket
                | Rule::rbracket
                | Rule::comma
                | Rule::dot
                | Rule::assign
        ) && !format!("{:?}", p.as_rule()).starts_with("kw_")
    })
}

impl Walker<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, self.base + s.start(), self.base + s.end())
    }

    fn ident(&mut self, pair: Pair<'_, Rule>) -> Ident {
        let span = self.span(&pair);
        // `ident` and `field_name` hold either a plain name or a quoted one.
        let inner = pair.into_inner().next();
        let name = match inner {
            Some(p) if p.as_rule() == Rule::quoted_ident => p
                .into_inner()
                .next()
                .map(|q| q.as_str().to_string())
                .unwrap_or_default(),
            // A bare name is compared in NFC, as Rust compares identifiers: `й` typed as `и`
            // and a combining breve is the same name as `й`. Backticks keep a name exactly.
            Some(p) => p.as_str().nfc().collect(),
            None => String::new(),
        };
        Ident { name, span }
    }

    fn string(&mut self, pair: Pair<'_, Rule>) -> Spanned<String> {
        let span = self.span(&pair);
        let raw = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                other => {
                    let shown = other.map(|c| c.to_string()).unwrap_or_default();
                    self.errors.push(
                        Diagnostic::error(
                            "E0002",
                            format!("unknown escape `\\{shown}` in a string"),
                        )
                        .at(span)
                        .with_hint("Strings know `\\\"`, `\\\\`, `\\n` and `\\t`."),
                    );
                }
            }
        }
        Spanned { node: out, span }
    }

    fn number(&mut self, pair: &Pair<'_, Rule>) -> f64 {
        let text: String = pair.as_str().chars().filter(|c| *c != '_').collect();
        match text.parse::<f64>() {
            Ok(v) => v,
            Err(_) => {
                let span = self.span(pair);
                self.errors.push(
                    Diagnostic::error("E0003", format!("`{}` is not a number", pair.as_str()))
                        .at(span),
                );
                0.0
            }
        }
    }

    fn date(&mut self, pair: &Pair<'_, Rule>) -> NaiveDate {
        match NaiveDate::parse_from_str(pair.as_str(), "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                let span = self.span(pair);
                self.errors.push(
                    Diagnostic::error("E0004", format!("`{}` is not a valid date", pair.as_str()))
                        .at(span)
                        .with_hint("Dates are written YYYY-MM-DD and must exist in the calendar."),
                );
                NaiveDate::default()
            }
        }
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Option<ast::Item> {
        match pair.as_rule() {
            Rule::view_item => Some(ast::Item::View(self.view(pair))),
            Rule::let_item => Some(ast::Item::Let(self.let_item(pair))),
            Rule::kpi_item => Some(ast::Item::Kpi(self.kpi(pair))),
            Rule::funnel_item => Some(ast::Item::Funnel(self.funnel(pair))),
            Rule::cohort_item => Some(ast::Item::Cohort(self.cohort(pair))),
            _ => None,
        }
    }

    fn view(&mut self, pair: Pair<'_, Rule>) -> ast::View {
        let span = self.span(&pair);
        let mut parts = meaningful(pair.into_inner());
        let name = self.ident(parts.next().expect("view has a name"));
        self.view_body(name, parts, span)
    }

    /// The title, description and owner of a funnel or cohort; false for other fields.
    fn about(&mut self, about: &mut ast::About, field: &Pair<'_, Rule>) -> bool {
        let slot = match field.as_rule() {
            Rule::title_field => &mut about.title,
            Rule::description_field => &mut about.description,
            Rule::owner_field => &mut about.owner,
            _ => return false,
        };
        let span = self.span(field);
        let text = meaningful(field.clone().into_inner()).next().expect("text");
        let value = self.string(text);
        if slot.is_some() {
            self.errors.push(
                Diagnostic::error("E0101", "this field is given twice")
                    .at(span)
                    .with_label("second one here"),
            );
        }
        *slot = Some(value);
        true
    }

    /// A field that may appear once: says so when it appears again.
    fn once<T>(&mut self, slot: &mut Option<T>, value: T, span: Span, what: &str) {
        if slot.is_some() {
            self.errors.push(
                Diagnostic::error("E0101", format!("`{what}` is given twice"))
                    .at(span)
                    .with_label("second one here"),
            );
        }
        *slot = Some(value);
    }

    /// `funnel NAME { entity KEY  step NAME = VIEW ...  within N days }`
    fn funnel(&mut self, pair: Pair<'_, Rule>) -> ast::Funnel {
        let span = self.span(&pair);
        let mut parts = meaningful(pair.into_inner());
        let name = self.ident(parts.next().expect("funnel name"));
        let mut funnel = ast::Funnel {
            name,
            about: ast::About::default(),
            entity: None,
            steps: Vec::new(),
            within: None,
            span,
        };
        for field in parts {
            if self.about(&mut funnel.about, &field) {
                continue;
            }
            let field_span = self.span(&field);
            match field.as_rule() {
                Rule::entity_field => {
                    let key = self.ident(meaningful(field.into_inner()).next().expect("entity"));
                    self.once(&mut funnel.entity, key, field_span, "entity");
                }
                Rule::step_field => {
                    let mut inner = meaningful(field.into_inner());
                    let step = self.ident(inner.next().expect("step name"));
                    let view = self.view_body(step, inner, field_span);
                    funnel.steps.push(view);
                }
                Rule::within_field => {
                    let number = meaningful(field.into_inner()).next().expect("days");
                    let days = self.number(&number);
                    let value = Spanned {
                        node: days,
                        span: field_span,
                    };
                    self.once(&mut funnel.within, value, field_span, "within");
                }
                _ => {}
            }
        }
        funnel
    }

    /// `cohort NAME { entity KEY  start VIEW  active VIEW  periods N }`
    fn cohort(&mut self, pair: Pair<'_, Rule>) -> ast::Cohort {
        let span = self.span(&pair);
        let mut parts = meaningful(pair.into_inner());
        let name = self.ident(parts.next().expect("cohort name"));
        let mut cohort = ast::Cohort {
            name: name.clone(),
            about: ast::About::default(),
            entity: None,
            start: None,
            active: None,
            periods: None,
            span,
        };
        for field in parts {
            if self.about(&mut cohort.about, &field) {
                continue;
            }
            let field_span = self.span(&field);
            match field.as_rule() {
                Rule::entity_field => {
                    let key = self.ident(meaningful(field.into_inner()).next().expect("entity"));
                    self.once(&mut cohort.entity, key, field_span, "entity");
                }
                Rule::start_field | Rule::active_field => {
                    let what = if field.as_rule() == Rule::start_field {
                        "start"
                    } else {
                        "active"
                    };
                    let view_name = Ident {
                        name: format!("{}.{what}", name.name),
                        span: name.span,
                    };
                    let view =
                        self.view_body(view_name, meaningful(field.into_inner()), field_span);
                    let slot = if what == "start" {
                        &mut cohort.start
                    } else {
                        &mut cohort.active
                    };
                    if slot.is_some() {
                        self.errors.push(
                            Diagnostic::error("E0101", format!("`{what}` is given twice"))
                                .at(field_span),
                        );
                    }
                    *slot = Some(view);
                }
                Rule::periods_field => {
                    let number = meaningful(field.into_inner()).next().expect("periods");
                    let n = self.number(&number);
                    let value = Spanned {
                        node: n,
                        span: field_span,
                    };
                    self.once(&mut cohort.periods, value, field_span, "periods");
                }
                _ => {}
            }
        }
        cohort
    }

    /// A view's source and clauses, after its name: `orders on paid_at where status == "paid"`.
    fn view_body<'p>(
        &mut self,
        name: Ident,
        mut parts: impl Iterator<Item = Pair<'p, Rule>>,
        span: Span,
    ) -> ast::View {
        let source = self.ident(parts.next().expect("view has a source"));
        let mut view = ast::View {
            name,
            source,
            on: None,
            joins: Vec::new(),
            filter: None,
            per: None,
            span,
        };
        for part in parts {
            let part_span = self.span(&part);
            match part.as_rule() {
                Rule::view_on => {
                    let column =
                        self.ident(meaningful(part.into_inner()).next().expect("on column"));
                    if view.on.is_some() {
                        self.errors.push(
                            Diagnostic::error("E0101", "`on` is given twice in this view")
                                .at(part_span),
                        );
                    }
                    view.on = Some(column);
                }
                Rule::view_join => {
                    let mut inner = meaningful(part.into_inner());
                    let dataset = self.ident(inner.next().expect("join dataset"));
                    let key = self.ident(inner.next().expect("join key"));
                    view.joins.push(ast::Join { dataset, key });
                }
                Rule::view_where => {
                    let expr = self.expr(meaningful(part.into_inner()).next().expect("where expr"));
                    if view.filter.is_some() {
                        self.errors.push(
                            Diagnostic::error("E0101", "`where` is given twice in this view")
                                .at(part_span)
                                .with_hint("Join the conditions with `and`."),
                        );
                    }
                    view.filter = Some(expr);
                }
                Rule::per_clause => {
                    let mut inner = meaningful(part.into_inner());
                    let keys = self.ident_list(inner.next().expect("per keys"));
                    let columns = inner
                        .map(|column| {
                            let mut c = meaningful(column.into_inner());
                            let name = self.ident(c.next().expect("per column name"));
                            let expr = self.expr(c.next().expect("per column expr"));
                            (name, expr)
                        })
                        .collect();
                    view.per = Some(ast::Per {
                        keys,
                        columns,
                        span: part_span,
                    });
                }
                _ => {}
            }
        }
        view
    }

    fn ident_list(&mut self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        meaningful(pair.into_inner())
            .map(|p| self.ident(p))
            .collect()
    }

    fn let_item(&mut self, pair: Pair<'_, Rule>) -> ast::Let {
        let span = self.span(&pair);
        let mut parts = meaningful(pair.into_inner());
        let name = self.ident(parts.next().expect("let name"));
        let expr = self.expr(parts.next().expect("let expr"));
        ast::Let { name, expr, span }
    }

    fn kpi(&mut self, pair: Pair<'_, Rule>) -> ast::Kpi {
        let span = self.span(&pair);
        let mut parts = meaningful(pair.into_inner());
        let name = self.ident(parts.next().expect("kpi name"));
        let mut kpi = ast::Kpi::new(name, span);
        let mut seen: Vec<&'static str> = Vec::new();
        // Where the last field ended, if it was a `target` or `warn` line.
        let mut goal_end: Option<usize> = None;
        for field in parts {
            let field_span = self.span(&field);
            let rule = field.as_rule();
            if rule == Rule::where_field {
                if let Some(end) = goal_end {
                    let between = self.text.get(end..field_span.start).unwrap_or("");
                    if !between.contains('\n') {
                        self.errors.push(
                            Diagnostic::error(
                                "E0103",
                                "`where` after a target filters the whole KPI, not that target",
                            )
                            .at(Span::new(self.file, field_span.start, field_span.start + 5))
                            .with_label("a KPI filter on the target's line")
                            .with_hint("A target for some dimension values is written with `when`: `target >= 60_000 when region == \"EU\"`.")
                            .with_hint("To filter the KPI, put `where` on a line of its own."),
                        );
                    }
                }
            }
            goal_end = None;
            let once = match rule {
                Rule::title_field => Some("title"),
                Rule::description_field => Some("description"),
                Rule::owner_field => Some("owner"),
                Rule::tags_field => Some("tags"),
                Rule::format_field => Some("format"),
                Rule::decimals_field => Some("decimals"),
                Rule::unit_field => Some("unit"),
                Rule::every_field => Some("every"),
                Rule::pace_field => Some("pace"),
                Rule::by_field => Some("by"),
                Rule::where_field => Some("where"),
                Rule::value_field => Some("value"),
                _ => None,
            };
            if let Some(keyword) = once {
                if seen.contains(&keyword) {
                    self.errors.push(
                        Diagnostic::error(
                            "E0101",
                            format!("`{keyword}` is given twice in KPI `{}`", kpi.name.name),
                        )
                        .at(field_span)
                        .with_label("second one here")
                        .with_hint(
                            "Each field but `let`, `target` and `warn` appears at most once.",
                        ),
                    );
                    continue;
                }
                seen.push(keyword);
            }
            let mut inner = meaningful(field.into_inner());
            match rule {
                Rule::title_field => kpi.title = Some(self.string(inner.next().expect("title"))),
                Rule::description_field => {
                    kpi.description = Some(self.string(inner.next().expect("description")))
                }
                Rule::owner_field => kpi.owner = Some(self.string(inner.next().expect("owner"))),
                Rule::unit_field => kpi.unit = Some(self.string(inner.next().expect("unit"))),
                Rule::tags_field => kpi.tags = inner.map(|p| self.ident(p)).collect(),
                Rule::format_field => kpi.format = Some(self.ident(inner.next().expect("format"))),
                Rule::every_field => kpi.every = Some(self.ident(inner.next().expect("every"))),
                Rule::pace_field => kpi.pace = Some(self.ident(inner.next().expect("pace"))),
                Rule::by_field => kpi.by = self.ident_list(inner.next().expect("by list")),
                Rule::decimals_field => {
                    let p = inner.next().expect("decimals");
                    let span = self.span(&p);
                    let node = self.number(&p);
                    kpi.decimals = Some(Spanned { node, span });
                }
                Rule::where_field => kpi.filter = Some(self.expr(inner.next().expect("where"))),
                Rule::value_field => kpi.value = Some(self.expr(inner.next().expect("value"))),
                Rule::let_item => {
                    // `let_item` is the field itself: rebuild it from its parts.
                    let name = self.ident(inner.next().expect("let name"));
                    let expr = self.expr(inner.next().expect("let expr"));
                    kpi.lets.push(ast::Let {
                        name,
                        expr,
                        span: field_span,
                    });
                }
                Rule::target_field => {
                    let goal = self.goal(inner.next().expect("goal"));
                    goal_end = Some(goal.span.end);
                    kpi.targets.push(goal);
                }
                Rule::warn_field => {
                    let goal = self.goal(inner.next().expect("goal"));
                    goal_end = Some(goal.span.end);
                    kpi.warns.push(goal);
                }
                _ => {}
            }
        }
        if kpi.value.is_none() {
            self.errors.push(
                Diagnostic::error("E0102", format!("KPI `{}` has no `value`", kpi.name.name))
                    .at(kpi.name.span)
                    .with_hint("Add a line such as `value sum(orders.amount)`."),
            );
        }
        kpi
    }

    fn goal(&mut self, pair: Pair<'_, Rule>) -> ast::Goal {
        let span = self.span(&pair);
        let mut kind = None;
        let mut deadline = None;
        let mut condition = None;
        for part in meaningful(pair.into_inner()) {
            match part.as_rule() {
                Rule::goal_compare => {
                    let mut inner = part.into_inner();
                    let op = compare_op(inner.next().expect("comparison").as_rule());
                    let expr = self.expr(inner.next().expect("goal expr"));
                    kind = Some(ast::GoalKind::Compare(op, expr));
                }
                Rule::goal_between => {
                    let mut inner = meaningful(part.into_inner());
                    let low = self.expr(inner.next().expect("low"));
                    let high = self.expr(inner.next().expect("high"));
                    kind = Some(ast::GoalKind::Between(low, high));
                }
                Rule::goal_deadline => {
                    let p = meaningful(part.into_inner()).next().expect("date");
                    let date_span = self.span(&p);
                    deadline = Some(Spanned {
                        node: self.date(&p),
                        span: date_span,
                    });
                }
                Rule::goal_when => {
                    condition =
                        Some(self.expr(meaningful(part.into_inner()).next().expect("cond")));
                }
                _ => {}
            }
        }
        let kind = kind.expect("the grammar requires a comparison or between");
        // pest's span of the goal takes in the white space and comments after it: end the
        // goal at its last part, so that its text and "same line" are what was written.
        let last = match &kind {
            ast::GoalKind::Compare(_, e) | ast::GoalKind::Between(_, e) => e.span.end,
        };
        let end = [Some(last), deadline.as_ref().map(|d| d.span.end)]
            .into_iter()
            .chain([condition.as_ref().map(|c| c.span.end)])
            .flatten()
            .max()
            .unwrap_or(span.end);
        ast::Goal {
            kind,
            deadline,
            condition,
            span: Span { end, ..span },
        }
    }

    /// `expr` and `arith` pairs: operands and operators, folded by precedence.
    fn expr(&mut self, pair: Pair<'_, Rule>) -> ast::Expr {
        match pair.as_rule() {
            Rule::expr | Rule::arith => {}
            _ => return self.operand(pair),
        }
        let (file, base) = (self.file, self.base);
        let walker = std::cell::RefCell::new(self);
        let result = PRATT
            .map_primary(|p| walker.borrow_mut().operand(p))
            .map_prefix(|op, rhs| {
                let span = Span::new(file, base + op.as_span().start(), rhs.span.end);
                let op = match op.as_rule() {
                    Rule::op_neg => ast::UnaryOp::Neg,
                    _ => ast::UnaryOp::Not,
                };
                ast::Expr {
                    kind: ast::ExprKind::Unary {
                        op,
                        expr: Box::new(rhs),
                    },
                    span,
                }
            })
            .map_postfix(|lhs, op| {
                let span = Span::new(file, lhs.span.start, base + op.as_span().end());
                let rule = op.as_rule();
                let mut inner = meaningful(op.into_inner());
                let kind = match rule {
                    Rule::op_is_null | Rule::op_is_not_null => ast::ExprKind::IsNull {
                        expr: Box::new(lhs),
                        negated: rule == Rule::op_is_not_null,
                    },
                    Rule::op_in | Rule::op_not_in => {
                        let list_pair = inner.next().expect("in list");
                        let list = meaningful(list_pair.into_inner())
                            .map(|p| walker.borrow_mut().expr(p))
                            .collect();
                        ast::ExprKind::In {
                            expr: Box::new(lhs),
                            list,
                            negated: rule == Rule::op_not_in,
                        }
                    }
                    _ => {
                        let low = walker.borrow_mut().expr(inner.next().expect("low"));
                        let high = walker.borrow_mut().expr(inner.next().expect("high"));
                        ast::ExprKind::Between {
                            expr: Box::new(lhs),
                            low: Box::new(low),
                            high: Box::new(high),
                        }
                    }
                };
                ast::Expr { kind, span }
            })
            .map_infix(|lhs, op, rhs| {
                let span = lhs.span.to(rhs.span);
                let op = match op.as_rule() {
                    Rule::op_or => ast::BinaryOp::Or,
                    Rule::op_and => ast::BinaryOp::And,
                    Rule::op_add => ast::BinaryOp::Add,
                    Rule::op_sub => ast::BinaryOp::Sub,
                    Rule::op_mul => ast::BinaryOp::Mul,
                    Rule::op_div => ast::BinaryOp::Div,
                    other => ast::BinaryOp::Compare(compare_op(other)),
                };
                ast::Expr {
                    kind: ast::ExprKind::Binary {
                        op,
                        left: Box::new(lhs),
                        right: Box::new(rhs),
                    },
                    span,
                }
            })
            .parse(pair.into_inner());
        result
    }

    fn operand(&mut self, pair: Pair<'_, Rule>) -> ast::Expr {
        // The walk recurses once per nesting level, like resolution: grown when the stack runs low.
        crate::deep(|| self.operand_here(pair))
    }

    fn operand_here(&mut self, pair: Pair<'_, Rule>) -> ast::Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => ast::ExprKind::Number(self.number(&pair)),
            Rule::percent => {
                let number = pair.into_inner().next().expect("percent number");
                ast::ExprKind::Number(self.number(&number) / 100.0)
            }
            Rule::string => ast::ExprKind::String(self.string(pair).node),
            Rule::date => ast::ExprKind::Date(self.date(&pair)),
            Rule::kw_true => ast::ExprKind::Bool(true),
            Rule::kw_false => ast::ExprKind::Bool(false),
            Rule::kw_null => ast::ExprKind::Null,
            Rule::paren => {
                let inner = meaningful(pair.into_inner()).next().expect("paren expr");
                let mut expr = self.expr(inner);
                expr.span = span;
                return expr;
            }
            Rule::path => {
                let mut inner = meaningful(pair.into_inner());
                let head = self.ident(inner.next().expect("path head"));
                let field = inner.next().map(|p| self.ident(p));
                ast::ExprKind::Path { head, field }
            }
            Rule::if_expr => {
                let mut inner = meaningful(pair.into_inner());
                let cond = self.expr(inner.next().expect("if cond"));
                let then = self.expr(inner.next().expect("then"));
                let otherwise = self.expr(inner.next().expect("else"));
                ast::ExprKind::If {
                    cond: Box::new(cond),
                    then: Box::new(then),
                    otherwise: Box::new(otherwise),
                }
            }
            Rule::call => {
                let mut inner = meaningful(pair.into_inner());
                let func = self.ident(inner.next().expect("call name"));
                let args = inner.map(|arg| self.call_arg(arg)).collect();
                ast::ExprKind::Call { func, args }
            }
            Rule::member => {
                let mut inner = meaningful(pair.into_inner());
                let head = self.ident(inner.next().expect("member head"));
                let field = self.ident(inner.next().expect("member field"));
                let mut member = None;
                let mut args = None;
                if let Some(last) = inner.next() {
                    if last.as_rule() == Rule::member_args {
                        args = Some(
                            meaningful(last.into_inner())
                                .map(|arg| self.call_arg(arg))
                                .collect(),
                        );
                    } else {
                        member = Some(self.ident(last));
                    }
                }
                ast::ExprKind::Member {
                    head,
                    field,
                    member,
                    args,
                }
            }
            Rule::expr | Rule::arith => return self.expr(pair),
            other => {
                self.errors.push(
                    Diagnostic::internal(format!("unexpected rule {other:?} in an expression"))
                        .at(span),
                );
                ast::ExprKind::Null
            }
        };
        ast::Expr { kind, span }
    }

    fn call_arg(&mut self, pair: Pair<'_, Rule>) -> ast::CallArg {
        let span = self.span(&pair);
        let mut arg = None;
        let mut live = None;
        let mut filter = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::live_edge => {
                    let edge_span = self.span(&part);
                    let edge = part.into_inner().nth(1).map(|p| p.as_rule());
                    let node = if edge == Some(Rule::kw_end) {
                        ast::LiveEdge::End
                    } else {
                        ast::LiveEdge::Start
                    };
                    live = Some(Spanned {
                        node,
                        span: edge_span,
                    });
                }
                Rule::arg_filter => {
                    filter =
                        Some(self.expr(meaningful(part.into_inner()).next().expect("filter expr")));
                }
                _ => arg = Some(self.expr(part)),
            }
        }
        ast::CallArg {
            expr: arg.expect("a call argument holds an expression"),
            live,
            filter,
            span,
        }
    }
}

fn compare_op(rule: Rule) -> ast::CompareOp {
    match rule {
        Rule::op_eq => ast::CompareOp::Eq,
        Rule::op_ne => ast::CompareOp::Ne,
        Rule::op_lt => ast::CompareOp::Lt,
        Rule::op_le => ast::CompareOp::Le,
        Rule::op_gt => ast::CompareOp::Gt,
        _ => ast::CompareOp::Ge,
    }
}
