//! text -> AST: fixture files in tests/fixtures/parse/{ok,err}; adding a case is adding a file.

use kpi::diagnostic::render_human;
use kpi::source::SourceMap;
use kpi::syntax;

fn parse_file(
    path: &std::path::Path,
) -> (
    SourceMap,
    kpi::syntax::ast::File,
    Vec<kpi::diagnostic::Diagnostic>,
) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut sources = SourceMap::new();
    let id = sources.add_text(&name, &text);
    let (file, errors) = syntax::parse(&text, id);
    (sources, file, errors)
}

#[test]
fn ok_fixtures_parse_without_errors() {
    insta::glob!("../fixtures/parse/ok", "*.kpi", |path| {
        let (sources, file, errors) = parse_file(path);
        assert!(
            errors.is_empty(),
            "{}",
            render_human(&errors, &sources, false)
        );
        insta::assert_debug_snapshot!(file);
    });
}

#[test]
fn err_fixtures_point_at_the_cause() {
    insta::glob!("../fixtures/parse/err", "*.kpi", |path| {
        let (sources, _, errors) = parse_file(path);
        assert!(!errors.is_empty(), "{} should not parse", path.display());
        for e in &errors {
            assert!(e.span.is_some(), "every parse error has a location: {e:?}");
        }
        insta::assert_snapshot!(render_human(&errors, &sources, false));
    });
}

/// Parses a lone expression and prints it back with explicit parentheses.
fn shape(text: &str) -> String {
    use kpi::syntax::ast::{BinaryOp, ExprKind, UnaryOp};
    fn show(e: &kpi::syntax::ast::Expr) -> String {
        match &e.kind {
            ExprKind::Number(n) => format!("{n}"),
            ExprKind::String(s) => format!("{s:?}"),
            ExprKind::Date(d) => d.to_string(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Null => "null".into(),
            ExprKind::Path { head, field: None } => head.name.clone(),
            ExprKind::Path {
                head,
                field: Some(f),
            } => format!("{}.{}", head.name, f.name),
            ExprKind::Call { func, args } => format!(
                "{}({})",
                func.name,
                args.iter()
                    .map(|a| show(&a.expr))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ExprKind::Member {
                head,
                field,
                member,
                args,
            } => {
                let mut text = format!("{}.{}", head.name, field.name);
                if let Some(m) = member {
                    text = format!("{text}.{}", m.name);
                }
                if let Some(args) = args {
                    let args: Vec<String> = args.iter().map(|a| show(&a.expr)).collect();
                    text = format!("{text}({})", args.join(", "));
                }
                text
            }
            ExprKind::Unary { op, expr } => {
                format!(
                    "({} {})",
                    if *op == UnaryOp::Neg { "-" } else { "not" },
                    show(expr)
                )
            }
            ExprKind::Binary { op, left, right } => {
                let op = match op {
                    BinaryOp::Add => "+".to_string(),
                    BinaryOp::Sub => "-".to_string(),
                    BinaryOp::Mul => "*".to_string(),
                    BinaryOp::Div => "/".to_string(),
                    BinaryOp::And => "and".to_string(),
                    BinaryOp::Or => "or".to_string(),
                    BinaryOp::Compare(c) => c.symbol().to_string(),
                };
                format!("({} {op} {})", show(left), show(right))
            }
            ExprKind::IsNull { expr, negated } => {
                format!(
                    "({} is {}null)",
                    show(expr),
                    if *negated { "not " } else { "" }
                )
            }
            ExprKind::In {
                expr,
                list,
                negated,
            } => format!(
                "({} {}in [{}])",
                show(expr),
                if *negated { "not " } else { "" },
                list.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            ExprKind::Between { expr, low, high } => {
                format!("({} between {} and {})", show(expr), show(low), show(high))
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                format!(
                    "(if {} then {} else {})",
                    show(cond),
                    show(then),
                    show(otherwise)
                )
            }
        }
    }
    let mut sources = SourceMap::new();
    let id = sources.add_text("<expr>", text);
    match syntax::parse_expr(text, id) {
        Ok(e) => show(&e),
        Err(errors) => format!("error: {}", errors[0].message),
    }
}

#[test]
fn precedence_and_literals() {
    let cases = [
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("(1 + 2) * 3", "((1 + 2) * 3)"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b / c", "((a / b) / c)"),
        ("-a * b", "((- a) * b)"),
        ("a or b and c", "(a or (b and c))"),
        ("not a == b", "(not (a == b))"),
        ("a + 1 >= b * 2", "((a + 1) >= (b * 2))"),
        ("x between 1 and 2 and y", "((x between 1 and 2) and y)"),
        ("x + 1 is null", "((x + 1) is null)"),
        ("x not in [1, 2]", "(x not in [1, 2])"),
        ("25%", "0.25"),
        ("1_200_000", "1200000"),
        ("2025-12-31", "2025-12-31"),
        ("2025 - 12 - 31", "((2025 - 12) - 31)"),
        (
            "\"a \\\"quoted\\\" \\\\ word\"",
            "\"a \\\"quoted\\\" \\\\ word\"",
        ),
        ("if a then 1 else 2", "(if a then 1 else 2)"),
        ("null_count + true_value", "(null_count + true_value)"),
        ("count(leads where won)", "count(leads)"),
        ("a +", "error: expected an expression, found end of file"),
        ("a b", "error: expected an operator or `(`, found `b`"),
        ("f.won.days / f.lead", "(f.won.days / f.lead)"),
        ("c.active(3) / c.size", "(c.active(3) / c.size)"),
    ];
    for (text, expected) in cases {
        assert_eq!(shape(text), expected, "parsing {text:?}");
    }
}

/// No input panics the parser: every prefix of every fixture, and some garbage, parses to
/// an AST or to located errors.
#[test]
fn truncated_and_garbled_input_never_panics() {
    let mut texts: Vec<String> = Vec::new();
    for dir in ["ok", "err"] {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/parse")
            .join(dir);
        for entry in std::fs::read_dir(folder).unwrap() {
            texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    texts.push("kpi \u{0} { value ((((( }".to_string());
    texts.push("`".to_string());
    texts.push("kpi a { value 1 } ».".to_string());
    let mut sources = SourceMap::new();
    for text in &texts {
        for (cut, _) in text.char_indices() {
            let prefix = &text[..cut];
            let id = sources.add_text("prefix.kpi", prefix);
            let (_, errors) = syntax::parse(prefix, id);
            for e in &errors {
                // Rule names never reach users: every expected token is said in words.
                let expected = e.message.split(", found").next().unwrap_or("");
                assert!(
                    !expected.contains('_') && !expected.contains("`file`"),
                    "a rule name leaked into {:?}",
                    e.message
                );
            }
            // Rendering clamps spans to the text, including errors at the end of input.
            let _ = render_human(&errors, &sources, false);
            let _ = syntax::parse_expr(prefix, id);
        }
    }
}

/// An error after Cyrillic, CJK or an emoji on its line, or in a file that starts with a
/// byte-order mark: the column counts characters (a BOM is not one), and the underline sits
/// under the character, wide ones included.
#[test]
fn columns_count_characters_whatever_comes_before() {
    let cases = [
        (
            "cyrillic",
            "column_after_cyrillic",
            "kpi k {\n    value       sum(продажи.Сумма) +* 2\n}\n",
            2,
            37,
        ),
        (
            "cjk",
            "column_after_cjk",
            "kpi k {\n    value       sum(注文.金額) +* 2\n}\n",
            2,
            29,
        ),
        (
            "emoji",
            "column_after_emoji",
            "kpi k { title \"📈 рост\" value 1 +* 2 }\n",
            1,
            33,
        ),
        (
            "bom",
            "column_after_bom",
            "\u{FEFF}kpi k { value 1 +* 2 }\n",
            1,
            18,
        ),
        (
            "bom_line_2",
            "column_after_bom_line_2",
            "\u{FEFF}kpi k {\n  value 1 +* 2 }\n",
            2,
            12,
        ),
    ];
    for (name, snapshot, text, line, column) in cases {
        let mut sources = SourceMap::new();
        let id = sources.add_text(&format!("{name}.kpi"), text);
        let (_, errors) = syntax::parse(&sources.get(id).text, id);
        assert_eq!(errors.len(), 1, "{name}");
        let location = sources.location(errors[0].span.unwrap());
        // The character at the reported column is the `*` the error is about.
        let source_line = text
            .trim_start_matches('\u{FEFF}')
            .lines()
            .nth(line - 1)
            .unwrap();
        assert_eq!(source_line.chars().nth(column - 1), Some('*'), "{name}");
        assert_eq!((location.line, location.column), (line, column), "{name}");
        let rendered = render_human(&errors, &sources, false);
        assert!(
            rendered.contains(&format!("{name}.kpi:{line}:{column}")),
            "{name}: {rendered}"
        );
        insta::assert_snapshot!(snapshot, rendered);
    }
}
