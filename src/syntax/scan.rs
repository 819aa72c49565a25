//! Lexical passes over a file's text that run before pest: where an item starts, where the
//! parser can pick up again after a syntax error, and how deeply an item's expressions nest.
//!
//! pest and every stage after it recurse on the nesting of expressions, so nesting is bounded
//! here, on the raw text, before any of them runs: 5,000 nested parentheses or `not`s are a
//! located error, never a stack overflow.

/// The deepest an expression may nest. Each bracket and each operator on the way from the
/// whole expression down to a part of it is a level: `not (a + b)` nests 3 deep.
pub const MAX_NESTING: u32 = 256;

/// Keywords that start an item. After a syntax error the parser picks up again at the next
/// line that starts with one of them (LANGUAGE 7).
pub const ITEM_KEYWORDS: [&str; 5] = ["kpi", "view", "let", "funnel", "cohort"];

/// Words that join or continue an expression, so that what follows them is part of it.
const OPERATOR_WORDS: [&str; 12] = [
    "and", "or", "not", "in", "is", "between", "if", "then", "else", "where", "when", "at",
];

/// A byte of a word: ASCII letters, digits and `_`, and every byte of a character outside
/// ASCII (names are Unicode words; a keyword followed by `ё` is not a keyword).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || !b.is_ascii()
}

/// The offset of the first byte at or after `offset` that is not white space or a comment.
pub fn skip_trivia(text: &str, mut offset: usize) -> usize {
    let bytes = text.as_bytes();
    while offset < bytes.len() {
        match bytes[offset] {
            b' ' | b'\t' | b'\r' | b'\n' => offset += 1,
            b'#' => {
                while offset < bytes.len() && bytes[offset] != b'\n' {
                    offset += 1;
                }
            }
            _ if text[offset..].starts_with('\u{FEFF}') => offset += '\u{FEFF}'.len_utf8(),
            _ => break,
        }
    }
    offset
}

/// The item keyword that `text[offset..]` starts with, if any.
pub fn item_keyword_at(text: &str, offset: usize) -> Option<&'static str> {
    let rest = text.get(offset..)?;
    ITEM_KEYWORDS.into_iter().find(|kw| {
        rest.starts_with(kw)
            && !rest
                .as_bytes()
                .get(kw.len())
                .is_some_and(|b| is_word_byte(*b))
    })
}

/// Where the item that starts at `start` ends at the latest: the next item keyword that starts
/// a line (`let` only outside braces, since a KPI has `let` lines of its own), or that follows
/// a `}` closing the item. pest is given the text up to there and no further, so an item can
/// never swallow the next one, and the parser picks up there after an error (LANGUAGE 7).
pub fn item_end_bound(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                i += 1;
                let body = i + bytes[i..]
                    .iter()
                    .take_while(|b| **b == b' ' || **b == b'\t' || **b == b'\r')
                    .count();
                match item_keyword_at(text, body) {
                    Some("let") if depth > 0 => {}
                    Some(_) => return body,
                    None => {}
                }
                i = body;
            }
            b'#' => i = line_end(bytes, i),
            quote @ (b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\n' {
                    let b = bytes[i];
                    i += if b == b'\\' && quote == b'"' { 2 } else { 1 };
                    if b == quote {
                        break;
                    }
                }
                i = i.min(bytes.len());
            }
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    let next = i + bytes[i..]
                        .iter()
                        .take_while(|b| **b == b' ' || **b == b'\t')
                        .count();
                    if item_keyword_at(text, next).is_some() {
                        return next;
                    }
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    from + bytes[from..]
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len() - from)
}

/// One open bracket (or the item itself) while scanning: the operators seen in the expression
/// being read at this level, and the deepest bracket closed inside it.
#[derive(Default)]
struct Level {
    operators: u32,
    deepest_child: u32,
}

/// Where in `text[start..end]` expressions first nest deeper than [`MAX_NESTING`], if they do.
///
/// The measure is an upper bound of the depth of the syntax tree (and of pest's recursion): at
/// every token, the operators and brackets of the expression that encloses it, counted at every
/// open bracket level. A new expression starts at a comma or where a name follows a finished
/// operand (`value x` then `target ...`), which cannot continue the one before.
pub fn too_deep(text: &str, start: usize, end: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let end = end.min(bytes.len());
    let mut stack = vec![Level::default()];
    // Whether the last token finished an operand (a name, a literal, a closing bracket).
    let mut finished = false;
    let mut i = start;
    while i < end {
        let token = i;
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < end && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'`' => {
                i += 1;
                while i < end && bytes[i] != b'\n' {
                    if bytes[i] == b'\\' && b == b'"' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if bytes[i - 1] == b {
                        break;
                    }
                }
                operand(&mut stack, &mut finished);
            }
            b'(' | b'[' | b'{' => {
                stack.push(Level::default());
                finished = false;
                i += 1;
            }
            b')' | b']' | b'}' => {
                if stack.len() > 1 {
                    let closed = stack.pop().unwrap_or_default();
                    let depth = closed.operators + closed.deepest_child + 1;
                    let top = stack.last_mut().expect("the item level is never popped");
                    top.deepest_child = top.deepest_child.max(depth);
                }
                finished = true;
                i += 1;
            }
            b',' => {
                *stack.last_mut().expect("never empty") = Level::default();
                finished = false;
                i += 1;
            }
            b'.' => {
                // `orders.amount`, `3.5`: what follows the dot belongs to the same operand.
                finished = false;
                i += 1;
            }
            b'%' => i += 1,
            b'+' | b'-' | b'*' | b'/' | b'<' | b'>' | b'=' | b'!' => {
                i += 1;
                if i < end && bytes[i] == b'=' {
                    i += 1;
                }
                stack.last_mut().expect("never empty").operators += 1;
                finished = false;
            }
            _ if is_word_byte(b) => {
                while i < end && is_word_byte(bytes[i]) {
                    i += 1;
                }
                // A date literal, `2025-12-31`, is one operand, not two subtractions.
                if i - token == 4 && bytes[token..i].iter().all(u8::is_ascii_digit) {
                    let rest = &bytes[i..end];
                    let date = rest.len() >= 6
                        && rest[0] == b'-'
                        && rest[1..3].iter().all(u8::is_ascii_digit)
                        && rest[3] == b'-'
                        && rest[4..6].iter().all(u8::is_ascii_digit);
                    if date {
                        i += 6;
                    }
                }
                if OPERATOR_WORDS.contains(&&text[token..i]) {
                    stack.last_mut().expect("never empty").operators += 1;
                    finished = false;
                } else {
                    operand(&mut stack, &mut finished);
                }
            }
            _ => {
                // Any other character (pest will reject it): step over it whole.
                i += text[i..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
        }
        let top = stack.last().expect("never empty");
        let depth: u32 = stack.iter().map(|l| l.operators + 1).sum::<u32>() + top.deepest_child - 1;
        if depth > MAX_NESTING {
            return Some(token);
        }
    }
    None
}

/// An operand: right after another one it starts a new expression at this level.
fn operand(stack: &mut [Level], finished: &mut bool) {
    if *finished {
        *stack.last_mut().expect("never empty") = Level::default();
    }
    *finished = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_error(text: &str) -> Option<usize> {
        too_deep(text, 0, text.len())
    }

    #[test]
    fn nesting_is_bounded_by_brackets_and_operators() {
        let parens = format!("{}x{}", "(".repeat(300), ")".repeat(300));
        assert_eq!(depth_error(&parens), Some(256));
        let nots = "not ".repeat(5000) + "x";
        assert_eq!(depth_error(&nots), Some(4 * 256));
        let chain = "1".to_string() + &" + 1".repeat(300);
        assert!(depth_error(&chain).is_some());
        // Dates are operands, not subtractions.
        let dates = "x in [".to_string() + &vec!["2025-12-31"; 300].join(" + ") + "]";
        assert!(depth_error(&dates).is_some());
        let dates = vec!["d == 2025-12-31"; 100].join(" or ");
        assert_eq!(depth_error(&dates), None);
        // An ordinary KPI is nowhere near the limit, and separate fields do not add up.
        let fields = "kpi a {\n".to_string()
            + &" value count(x where y == 1 and z != 2) / 3\n".repeat(300)
            + "}";
        assert_eq!(depth_error(&fields), None);
        let items = "kpi a {\n target >= (1 + 2) * 3\n}\n".repeat(300);
        assert_eq!(depth_error(&items), None);
        let list = format!("x in [{}]", vec!["\"a\""; 2000].join(", "));
        assert_eq!(depth_error(&list), None);
    }

    #[test]
    fn strings_and_comments_do_not_count() {
        let text = format!("\"{}\" # {}\nx", "(".repeat(1000), "(".repeat(1000));
        assert_eq!(depth_error(&text), None);
    }

    #[test]
    fn items_end_at_the_next_item_keyword_outside_braces() {
        let text = "kpi a {\n    let x = 1 +\n    value x\n}\nkpi b { value 1 }\n";
        let b = text.find("kpi b").unwrap();
        assert_eq!(item_end_bound(text, 0), b);
        assert_eq!(item_end_bound(text, b), text.len());
        // A KPI's own unindented `let` line is not a new item; a `kpi` line always is.
        let text = "kpi a {\nlet x = 1\nvalue x\nkpi b { value 2 }";
        assert_eq!(item_end_bound(text, 0), text.find("kpi b").unwrap());
        // An expression that goes on onto a `let` line ends there: `let` starts an item.
        let text = "let a = 1 +\nlet b = 2\n";
        assert_eq!(item_end_bound(text, 0), text.find("let b").unwrap());
        // Items on one line end after their closing brace; braces in strings do not count.
        let text = "kpi a { title \"}\" value 1 } kpi b { value 2 }";
        assert_eq!(item_end_bound(text, 0), text.find("kpi b").unwrap());
        // A brace and a keyword inside a string or a comment end nothing.
        let text = "view v = s where x == \"} kpi\" # } kpi\n kpi c {}";
        assert_eq!(item_end_bound(text, 0), text.find("kpi c").unwrap());
        assert_eq!(skip_trivia("  # c\n\u{FEFF} kpi", 0), 10);
        assert_eq!(item_keyword_at("kpis", 0), None);
        assert_eq!(item_keyword_at("view v", 0), Some("view"));
    }
}
