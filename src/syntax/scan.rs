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

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
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

/// Where the parser picks up after an error in the item that starts at `start`: the first later
/// line that starts with an item keyword indented no deeper than that item. (A KPI's own `let`
/// fields are indented inside it, so they are not taken for shared `let`s.)
pub fn next_item_start(text: &str, start: usize) -> Option<usize> {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent = start - line_start;
    let mut line = start + text[start..].find('\n')? + 1;
    loop {
        let body = line
            + text[line..]
                .bytes()
                .take_while(|b| *b == b' ' || *b == b'\t')
                .count();
        if body - line <= indent && item_keyword_at(text, body).is_some() {
            return Some(body);
        }
        line += text[line..].find('\n')? + 1;
    }
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
    fn recovery_points_are_item_keywords_no_deeper_than_the_item() {
        let text = "kpi a {\n    let x = 1 +\n    value x\n}\nkpi b { value 1 }\n";
        let b = text.find("kpi b").unwrap();
        assert_eq!(next_item_start(text, 0), Some(b));
        assert_eq!(next_item_start(text, b), None);
        assert_eq!(skip_trivia("  # c\n\u{FEFF} kpi", 0), 10);
        assert_eq!(item_keyword_at("kpis", 0), None);
        assert_eq!(item_keyword_at("view v", 0), Some("view"));
    }
}
