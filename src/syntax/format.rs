//! `kpi fmt`: the one layout of a `.kpi` file.
//!
//! The formatter works on tokens with spans rather than on the AST. The AST keeps what a file
//! means, not how it is written: comments never reach it, literals are `f64`, parentheses are
//! gone and a KPI's fields sit in fixed slots. pest's pairs keep every token with its span, in
//! order, and tell which field, call or list a token belongs to; the comments and line breaks
//! are the text between two tokens. So the formatter walks the pairs, copies every token as it
//! is written (`25%`, `1_200_000`, `(a + b)`), and decides only the white space between them,
//! from the structure and from the breaks and comments found in each gap.
//!
//! The layout:
//! - items at the left margin; a KPI, funnel or cohort has a blank line before and after it;
//!   elsewhere one blank line is kept where there was at least one;
//! - in a block, one field per line, indented 4, the values of keyword fields starting 12
//!   columns in (`description` and a space), so that adding or removing a field never moves
//!   the others; `let NAME =` and `step NAME =` lines of one run align their `=` (at least at
//!   the value column), as do `view` and `let` items that follow each other at the top level
//!   and the columns of a `per` block;
//! - inside a value, single spaces, none inside brackets or before a comma; a line break
//!   written inside an expression is kept, and the next line is indented to the value's column
//!   plus 4 for each bracket still open;
//! - comments stay where they are: on their own line at the indent of what follows, or at the
//!   end of a line, where the trailing comments of consecutive lines line up;
//! - line endings (LF or CRLF) and a byte-order mark are kept; the file ends with one newline.
//!
//! Before it returns, [`format`] parses its own output and checks that the AST is the same and
//! that no character other than white space was added, dropped or moved; if not, that is a bug
//! and the file is left alone.

use pest::iterators::Pair;
use unicode_width::UnicodeWidthStr;

use super::parse::{item_pairs, Rule};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

/// The indent of a block's fields, and of each open bracket on a continued line.
const INDENT: usize = 4;
/// Where a keyword field's value starts, counted from the field's indent: the longest field
/// keyword, `description`, and a space.
const KEY_WIDTH: usize = 12;

/// Formats one file's text. A file that does not parse (a syntax error, or expressions nested
/// too deeply) is not formatted: its diagnostics are returned, as `kpi validate` reports them.
/// A file whose items parse but do not make sense (a KPI without `value`, a date that does not
/// exist) is formatted: its tokens are all there, and the errors stay for `kpi validate`.
pub fn format(text: &str, file: FileId) -> Result<String, Vec<Diagnostic>> {
    // A byte-order mark is kept, but is not part of the text (spans count from after it, as in
    // a SourceFile).
    if let Some(rest) = text.strip_prefix(crate::source::BOM) {
        return format(rest, file).map(|out| format!("{}{out}", crate::source::BOM));
    }
    let (before, errors) = super::parse(text, file);
    let Some(items) = item_pairs(text) else {
        if errors.is_empty() {
            return Err(vec![internal(
                "the file parses as a whole but not item by item",
            )]);
        }
        return Err(errors);
    };
    let mut printer = Printer::new(text);
    printer.file(items);
    let mut out = printer.finish();
    let crlf = text.find('\n').is_some_and(|i| text[..i].ends_with('\r'));
    if crlf {
        out = out.replace('\n', "\r\n");
    }
    // The safety net: the output must mean the same, fail the same way, and hold the same
    // characters.
    let (after, after_errors) = super::parse(&out, file);
    let codes = |errors: &[Diagnostic]| errors.iter().map(|e| e.code).collect::<Vec<_>>();
    if codes(&errors) != codes(&after_errors)
        || shape(&before) != shape(&after)
        || !same_ink(text, &out)
    {
        // A file with errors can lose one to the layout: `target >= 1 where x` on one line is
        // E0103, a `where` on lines of its own is the KPI's filter. Its errors come first.
        if !errors.is_empty() {
            return Err(errors);
        }
        return Err(vec![internal(
            "formatting would change what the file means; it is left as it is",
        )]);
    }
    Ok(out)
}

fn internal(message: &str) -> Diagnostic {
    Diagnostic::error("E0999", format!("kpi fmt: {message}"))
        .with_hint("This is a bug in kpi; please report it with the file.")
}

/// The AST without its spans: what the file means, wherever it is written.
pub fn shape(file: &super::ast::File) -> String {
    let debug = format!("{file:?}");
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("Span { file: ") {
        out.push_str(&rest[..at]);
        out.push_str("Span");
        rest = rest[at..].find('}').map_or("", |end| &rest[at + end + 1..]);
    }
    out.push_str(rest);
    out
}

/// Whether two texts have the same characters once white space is taken out.
fn same_ink(a: &str, b: &str) -> bool {
    let ink = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{FEFF}')
            .collect::<String>()
    };
    ink(a) == ink(b)
}

// ---------------------------------------------------------------- tokens

/// How a token joins its neighbours on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glue {
    /// A space on both sides.
    Word,
    /// `(` of a parenthesised expression, `[`: no space after.
    Open,
    /// `(` of a call: no space before or after.
    CallOpen,
    /// `)`, `]`: no space before.
    Close,
    /// `,`: no space before.
    Comma,
    /// `.`: no space on either side.
    Dot,
    /// Unary `-`: no space after.
    Neg,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    glue: Glue,
}

/// Rules that are one token however they are built.
fn is_atomic(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::ident | Rule::field_name | Rule::string | Rule::percent | Rule::date | Rule::number
    )
}

/// The tokens of a pair, in order, with absolute offsets (`base` is the offset of the text the
/// pair was parsed from).
fn tokens<'a>(pair: Pair<'a, Rule>, base: usize, parent: Rule, out: &mut Vec<Token<'a>>) {
    let rule = pair.as_rule();
    let mut inner = pair.clone().into_inner().peekable();
    if is_atomic(rule) || inner.peek().is_none() {
        let span = pair.as_span();
        // A rule that is not atomic takes in the white space (and comments) between its parts:
        // `assign` is `"=" ~ !"="`, so its span runs on to the next token.
        let mut text = span.as_str();
        if !is_atomic(rule) {
            text = &text[..text
                .find(|c: char| c.is_whitespace() || c == '#')
                .unwrap_or(text.len())];
        }
        let glue = match rule {
            Rule::lparen if matches!(parent, Rule::call | Rule::member_args) => Glue::CallOpen,
            Rule::lparen | Rule::lbracket => Glue::Open,
            Rule::rparen | Rule::rbracket => Glue::Close,
            Rule::comma => Glue::Comma,
            Rule::dot => Glue::Dot,
            Rule::op_neg => Glue::Neg,
            _ => Glue::Word,
        };
        out.push(Token {
            text,
            start: base + span.start(),
            end: base + span.start() + text.len(),
            glue,
        });
        return;
    }
    for child in inner {
        tokens(child, base, rule, out);
    }
}

fn all_tokens<'a>(pairs: impl IntoIterator<Item = Pair<'a, Rule>>, base: usize) -> Vec<Token<'a>> {
    let mut out = Vec::new();
    for pair in pairs {
        let parent = pair.as_rule();
        tokens(pair, base, parent, &mut out);
    }
    out
}

/// Whether a space goes between two tokens on one line.
fn spaced(before: Glue, after: Glue) -> bool {
    !matches!(before, Glue::Open | Glue::CallOpen | Glue::Dot | Glue::Neg)
        && !matches!(
            after,
            Glue::Close | Glue::Comma | Glue::Dot | Glue::CallOpen
        )
}

fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

// ---------------------------------------------------------------- trivia

/// A comment found between two tokens.
struct Comment<'a> {
    text: &'a str,
    /// On the line of the token before it.
    trailing: bool,
    /// A blank line before it.
    blank_before: bool,
}

/// What lies between two tokens.
struct Gap<'a> {
    comments: Vec<Comment<'a>>,
    /// Line breaks after the last comment (or in the whole gap when it has none).
    breaks: usize,
}

impl Gap<'_> {
    fn blank_line(&self) -> bool {
        self.breaks >= 2 || self.comments.iter().any(|c| c.blank_before)
    }
}

fn gap(text: &str, after_token: bool) -> Gap<'_> {
    let mut comments = Vec::new();
    let mut breaks = 0;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '#' {
            let end = rest.find('\n').unwrap_or(rest.len());
            comments.push(Comment {
                text: rest[..end].trim_end(),
                trailing: breaks == 0 && (after_token || !comments.is_empty()),
                blank_before: breaks >= 2,
            });
            breaks = 0;
            rest = &rest[end..];
        } else {
            if c == '\n' {
                breaks += 1;
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    Gap { comments, breaks }
}

// ---------------------------------------------------------------- lines

#[derive(Default)]
struct Line<'a> {
    code: String,
    comment: Option<&'a str>,
}

/// A field of a block, or an item of the top level, split into the part that is aligned and
/// the part that follows.
struct Entry<'a> {
    key: Vec<Token<'a>>,
    value: Vec<Token<'a>>,
    /// `let NAME` or `step NAME`, a `per` column, a top-level `view` or `let`: aligned on `=`
    /// with its neighbours rather than at the fixed value column.
    named: bool,
    /// A `per` block that ends a view: its `{`, columns and `}`.
    per: Option<(Pair<'a, Rule>, usize)>,
    /// Whether a blank line is written before it in the source.
    blank_before: bool,
}

struct Printer<'a> {
    src: &'a str,
    lines: Vec<Line<'a>>,
    /// Offset in `src` up to which everything has been written.
    pos: usize,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str) -> Self {
        Printer {
            src,
            lines: vec![Line::default()],
            pos: 0,
        }
    }

    fn line(&mut self) -> &mut Line<'a> {
        self.lines.last_mut().expect("there is always a line")
    }

    fn column(&self) -> usize {
        self.lines.last().map_or(0, |l| width(&l.code))
    }

    fn at_line_start(&self) -> bool {
        self.lines
            .last()
            .is_none_or(|l| l.code.is_empty() && l.comment.is_none())
    }

    fn push(&mut self, text: &str) {
        self.line().code.push_str(text);
    }

    fn pad_to(&mut self, column: usize) {
        let now = self.column();
        let spaces = column.saturating_sub(now);
        self.push(&" ".repeat(spaces));
    }

    fn newline(&mut self) {
        let line = self.line();
        let trimmed = line.code.trim_end().len();
        line.code.truncate(trimmed);
        self.lines.push(Line::default());
    }

    /// Starts a new line unless the current one is empty.
    fn fresh_line(&mut self) {
        if !self.at_line_start() {
            self.newline();
        }
    }

    /// A blank line, unless there is one already or nothing has been written.
    fn blank(&mut self) {
        self.fresh_line();
        let n = self.lines.len();
        let previous_blank = n < 2 || {
            let prev = &self.lines[n - 2];
            prev.code.is_empty() && prev.comment.is_none()
        };
        if !previous_blank {
            self.newline();
        }
    }

    /// The gap before `offset`, consumed.
    fn take_gap(&mut self, offset: usize) -> Gap<'a> {
        let text = &self.src[self.pos..offset.max(self.pos)];
        let after_token = self.pos > 0;
        self.pos = self.pos.max(offset);
        gap(text, after_token)
    }

    fn trailing_comment(&mut self, text: &'a str) {
        if self.at_line_start() {
            self.push(text);
        } else {
            self.line().comment = Some(text);
        }
        self.newline();
    }

    /// Writes the comments of a gap between lines (items, fields), each own-line comment at
    /// `indent`. `blank_first`: a blank line goes before what follows the previous line even
    /// when the source has none. `blank_allowed`: whether blank lines may be kept at the start
    /// (`.0`) and at the end (`.1`) of the gap.
    fn line_gap(
        &mut self,
        gap: &Gap<'a>,
        indent: usize,
        blank_first: bool,
        blank_allowed: (bool, bool),
    ) {
        let mut first = true;
        for comment in &gap.comments {
            if comment.trailing && first && !self.at_line_start() {
                self.trailing_comment(comment.text);
                continue;
            }
            self.fresh_line();
            if (first && (blank_first || comment.blank_before && blank_allowed.0))
                || (!first && comment.blank_before)
            {
                self.blank();
            }
            first = false;
            self.push(&" ".repeat(indent));
            self.push(comment.text);
            self.newline();
        }
        self.fresh_line();
        let wanted = if first {
            blank_first || gap.breaks >= 2 && blank_allowed.0 && blank_allowed.1
        } else {
            gap.breaks >= 2 && blank_allowed.1
        };
        if wanted {
            self.blank();
        }
    }

    /// Writes the comments of a gap inside a line: one at the end of the current line ends it,
    /// one on a line of its own is written at `indent`. Whether any was written: the next
    /// token then starts a new line.
    fn comments_within(&mut self, gap: &Gap<'a>, indent: usize) -> bool {
        for comment in &gap.comments {
            if comment.trailing && !self.at_line_start() {
                self.trailing_comment(comment.text);
            } else {
                self.fresh_line();
                self.pad_to(indent);
                self.push(comment.text);
                self.newline();
            }
        }
        !gap.comments.is_empty()
    }

    /// Writes a token inside a line, after the gap before it: comments end the line, a line
    /// break written in the source is kept (`keep_breaks`), and a new line starts at
    /// `continuation`.
    fn inline(
        &mut self,
        token: &Token<'a>,
        before: Option<Glue>,
        continuation: usize,
        keep_breaks: bool,
    ) {
        let gap = self.take_gap(token.start);
        let mut broke = self.comments_within(&gap, continuation);
        if !broke && keep_breaks && gap.breaks > 0 && !self.at_line_start() {
            self.newline();
            broke = true;
        }
        if broke {
            self.pad_to(continuation);
        } else if !self.at_line_start() && before.is_some_and(|b| spaced(b, token.glue)) {
            self.push(" ");
        }
        self.push(token.text);
        self.pos = token.end;
    }

    /// Writes a run of tokens on a line (a key, a block's head), with no breaks of its own.
    fn run(&mut self, tokens: &[Token<'a>], mut before: Option<Glue>, continuation: usize) {
        for token in tokens {
            self.inline(token, before, continuation, false);
            before = Some(token.glue);
        }
    }

    /// Writes a value whose first token starts at `column`. Breaks written in the source are
    /// kept; continued lines start at the value's column, plus [`INDENT`] per open bracket.
    /// Returns the column that continued lines start at (after the `=` of a named entry).
    fn value(&mut self, tokens: &[Token<'a>], column: usize) -> usize {
        let mut base = column;
        let mut depth = 0usize;
        let mut before = None;
        for (i, token) in tokens.iter().enumerate() {
            if token.glue == Glue::Close {
                depth = depth.saturating_sub(1);
            }
            if i == 0 {
                let gap = self.take_gap(token.start);
                self.comments_within(&gap, column);
                self.pad_to(column);
                self.push(token.text);
                self.pos = token.end;
                if token.text == "=" {
                    base = column + 2;
                }
            } else {
                self.inline(token, before, base + INDENT * depth, true);
            }
            if matches!(token.glue, Glue::Open | Glue::CallOpen) {
                depth += 1;
            }
            before = Some(token.glue);
        }
        base
    }

    /// The lines, joined; trailing comments of consecutive lines line up two columns after the
    /// longest code among them.
    fn finish(mut self) -> String {
        while self
            .lines
            .last()
            .is_some_and(|l| l.code.is_empty() && l.comment.is_none())
        {
            self.lines.pop();
        }
        let mut out = String::new();
        let mut i = 0;
        while i < self.lines.len() {
            let mut j = i;
            while j < self.lines.len() && self.lines[j].comment.is_some() {
                j += 1;
            }
            let column = self.lines[i..j]
                .iter()
                .map(|l| width(&l.code))
                .max()
                .unwrap_or(0)
                + 2;
            for line in &self.lines[i..j.max(i + 1)] {
                out.push_str(&line.code);
                if let Some(comment) = line.comment {
                    out.push_str(&" ".repeat(column - width(&line.code)));
                    out.push_str(comment);
                }
                out.push('\n');
            }
            i = j.max(i + 1);
        }
        out
    }

    // ------------------------------------------------------------ structure

    fn file(&mut self, items: Vec<(usize, Pair<'a, Rule>)>) {
        let mut tops = Vec::new();
        let mut previous_end = 0;
        for (base, item) in items {
            let start = base + item.as_span().start();
            let blank_before = gap(&self.src[previous_end..start], previous_end > 0).blank_line();
            previous_end = base + item.as_span().end();
            let top = match item.as_rule() {
                Rule::view_item | Rule::let_item => {
                    let mut entry = entry(item, base, 2, true);
                    entry.blank_before = blank_before;
                    Top::Line(entry)
                }
                _ => Top::Block(item, base),
            };
            tops.push((start, top));
        }
        let pads = run_pads(
            &tops
                .iter()
                .map(|(_, top)| match top {
                    Top::Line(entry) => Some(entry),
                    Top::Block(..) => None,
                })
                .collect::<Vec<_>>(),
            0,
        );
        let mut previous_block = false;
        for (i, ((start, top), pad)) in tops.into_iter().zip(pads).enumerate() {
            let is_block = matches!(top, Top::Block(..));
            let gap = self.take_gap(start);
            let blank_first = i > 0 && (previous_block || is_block);
            self.line_gap(&gap, 0, blank_first, (i > 0, true));
            match top {
                Top::Line(entry) => self.entry_line(entry, pad, 0),
                Top::Block(item, base) => self.block_item(item, base),
            }
            previous_block = is_block;
        }
        let gap = self.take_gap(self.src.len());
        self.line_gap(&gap, 0, false, (true, false));
    }

    /// `kpi NAME { ... }`, `funnel NAME { ... }`, `cohort NAME { ... }`.
    fn block_item(&mut self, item: Pair<'a, Rule>, base: usize) {
        let mut head = Vec::new();
        let mut fields = Vec::new();
        let mut braces = Vec::new();
        for child in item.into_inner() {
            match child.as_rule() {
                Rule::lbrace | Rule::rbrace => braces.push(child),
                _ if braces.is_empty() => head.push(child),
                _ => fields.push(child),
            }
        }
        let head = all_tokens(head, base);
        self.run(&head, None, INDENT);
        let [lbrace, rbrace] = [&braces[0], &braces[1]].map(|b| all_tokens([b.clone()], base)[0]);
        self.block_body(lbrace, fields, base, rbrace, 0, KEY_WIDTH);
    }

    /// A block's `{`, its fields one per line at `indent + 4`, and its `}` at `indent`.
    fn block_body(
        &mut self,
        lbrace: Token<'a>,
        fields: Vec<Pair<'a, Rule>>,
        base: usize,
        rbrace: Token<'a>,
        indent: usize,
        min_pad: usize,
    ) {
        self.inline(&lbrace, Some(Glue::Word), indent + INDENT, false);
        let inner = indent + INDENT;
        let mut previous_end = lbrace.end;
        let entries: Vec<Entry<'a>> = fields
            .into_iter()
            .map(|field| {
                let (key_len, named) = match field.as_rule() {
                    Rule::let_item | Rule::step_field => (2, true),
                    Rule::per_column => (1, true),
                    _ => (1, false),
                };
                let start = base + field.as_span().start();
                let blank_before = gap(&self.src[previous_end..start], true).blank_line();
                previous_end = base + field.as_span().end();
                let mut entry = entry(field, base, key_len, named);
                entry.blank_before = blank_before;
                entry
            })
            .collect();
        if entries.is_empty() && !self.src[self.pos..rbrace.start].contains('#') {
            self.push("}");
            self.pos = rbrace.end;
            return;
        }
        let pads = run_pads(&entries.iter().map(Some).collect::<Vec<_>>(), min_pad);
        let has_fields = !entries.is_empty();
        for (i, (entry, pad)) in entries.into_iter().zip(pads).enumerate() {
            let gap = self.take_gap(entry.key[0].start);
            self.line_gap(&gap, inner, false, (i > 0, true));
            self.entry_line(entry, pad, inner);
        }
        let gap = self.take_gap(rbrace.start);
        self.line_gap(&gap, inner, false, (has_fields, false));
        self.pad_to(indent);
        self.push("}");
        self.pos = rbrace.end;
    }

    /// Writes one field, or a top-level `view` or `let`, at `indent`, its value at
    /// `indent + pad` (or one space after its key, if that is further).
    fn entry_line(&mut self, entry: Entry<'a>, pad: usize, indent: usize) {
        self.pad_to(indent);
        self.run(&entry.key, None, indent + INDENT);
        let column = (indent + pad).max(self.column() + 1);
        let base = self.value(&entry.value, column);
        let Some((per, per_base)) = entry.per else {
            return;
        };
        let mut head = Vec::new();
        let mut columns = Vec::new();
        let mut braces = Vec::new();
        for child in per.into_inner() {
            match child.as_rule() {
                Rule::per_column => columns.push(child),
                Rule::lbrace | Rule::rbrace => braces.push(all_tokens([child], per_base)[0]),
                _ => head.extend(all_tokens([child], per_base)),
            }
        }
        let mut before = entry.value.last().map(|t| t.glue);
        for token in &head {
            self.inline(token, before, base, true);
            before = Some(token.glue);
        }
        self.block_body(braces[0], columns, per_base, braces[1], indent, 0);
    }
}

enum Top<'a> {
    /// A `view` or `let`.
    Line(Entry<'a>),
    /// A `kpi`, `funnel` or `cohort`, with the offset its pair was parsed from.
    Block(Pair<'a, Rule>, usize),
}

/// Splits a field, or a top-level `view` or `let`, into key and value. `key_len`: how many
/// tokens the key has.
fn entry<'a>(pair: Pair<'a, Rule>, base: usize, key_len: usize, named: bool) -> Entry<'a> {
    let mut per = None;
    let mut children = Vec::new();
    for child in pair.into_inner() {
        if child.as_rule() == Rule::per_clause {
            per = Some((child, base));
        } else {
            children.push(child);
        }
    }
    let mut value = all_tokens(children, base);
    let key = value.drain(..key_len.min(value.len())).collect();
    Entry {
        key,
        value,
        named,
        per,
        blank_before: false,
    }
}

fn key_width(entry: &Entry) -> usize {
    entry.key.iter().map(|t| width(t.text)).sum::<usize>() + entry.key.len().saturating_sub(1)
}

/// Where each entry's value starts, counted from its indent. A keyword field's value starts at
/// [`KEY_WIDTH`]; named entries (`let x =`, `step x =`, `view x =`, a `per` column) that follow
/// one another without a blank line align their `=` one column after the longest key, and at
/// `min` at least. `None` (a block at the top level) ends a run.
fn run_pads(entries: &[Option<&Entry>], min: usize) -> Vec<usize> {
    let mut pads = vec![KEY_WIDTH; entries.len()];
    let mut i = 0;
    while i < entries.len() {
        match entries[i] {
            Some(entry) if entry.named => {
                let mut j = i + 1;
                while j < entries.len() && entries[j].is_some_and(|e| e.named && !e.blank_before) {
                    j += 1;
                }
                let pad = entries[i..j]
                    .iter()
                    .flatten()
                    .map(|e| key_width(e) + 1)
                    .max()
                    .unwrap_or(0)
                    .max(min);
                pads[i..j].fill(pad);
                i = j;
            }
            _ => i += 1,
        }
    }
    pads
}
