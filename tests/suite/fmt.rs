//! `kpi fmt`: the layout, its promises (lossless, idempotent, same AST) over every `.kpi` file
//! of the repository, and the command.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kpi::source::FileId;
use kpi::syntax::{format, parse, shape};

use super::TempProject;

fn fmt(text: &str) -> String {
    match format(text, FileId(0)) {
        Ok(out) => out,
        Err(errors) => panic!("does not format: {errors:?}"),
    }
}

fn error_codes(text: &str) -> Vec<&'static str> {
    match format(text, FileId(0)) {
        Ok(out) => panic!("formatted, but should not have:\n{out}"),
        Err(errors) => errors.iter().map(|e| e.code).collect(),
    }
}

/// Every `.kpi` file of the repository: not build output, dependencies or the fuzz corpus, which
/// are not committed, so that the test sees the same files on every machine.
fn kpi_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let ignored = ["target", "node_modules", "corpus"];
            if !name.starts_with('.') && !ignored.contains(&name.as_str()) {
                kpi_files(&path, out);
            }
        } else if name.ends_with(".kpi") {
            out.push(path);
        }
    }
}

#[test]
fn every_file_of_the_repository_formats_to_the_same_ast_and_again_to_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    kpi_files(root, &mut files);
    let (mut formatted, mut refused) = (0, 0);
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // the fixture of a file that is not UTF-8
        };
        let name = path.strip_prefix(root).unwrap().display();
        let (before, errors) = parse(&text, FileId(0));
        match format(&text, FileId(0)) {
            Ok(out) => {
                formatted += 1;
                let (after, after_errors) = parse(&out, FileId(0));
                assert_eq!(shape(&before), shape(&after), "{name}: the AST changed");
                assert_eq!(
                    errors.len(),
                    after_errors.len(),
                    "{name}: the errors changed"
                );
                assert_eq!(fmt(&out), out, "{name}: formatting twice changes it again");
                let ink = |s: &str| s.split_whitespace().collect::<String>();
                assert_eq!(
                    ink(&text),
                    ink(&out),
                    "{name}: more than white space changed"
                );
            }
            Err(refusal) => {
                refused += 1;
                // Only a file with errors of its own is refused, and with those errors.
                assert!(
                    !errors.is_empty(),
                    "{name} parses but is refused: {refusal:?}"
                );
                assert!(
                    refusal.iter().all(|e| e.code != "E0999"),
                    "{name}: {refusal:?}"
                );
            }
        }
    }
    // The standard library, the examples and the fixtures: dozens of files.
    assert!(formatted > 40, "only {formatted} files formatted");
    assert!(refused > 10, "only {refused} broken files refused");
}

#[test]
fn the_layout() {
    let messy = r#"# leading comment


# second leading
view a=orders where x>1 # trailing on view
view longer_name = orders
  where status == "paid"   and  amount>100
let   t = 25%+1_200_000


kpi  messy   { # after brace
  title "Messy" owner "me"
  value (  sum( orders.amount )+ -3 )*2 # about value
      # own line inside value
      / count( orders where a in [ "x" , "y" , ] )

  # before target
  target >= 10 when region=="EU" # t1
  warn >= 5 # w
  let  x=1
  let longer = 2
  # before close
}
funnel f { entity lead_id  step lead = leads  step opportunity = leads on opportunity_at where is_opportunity  within 90 days }
kpi empty_like { value 1 }
view buyers = orders per customer_id { n = count() ,spent=sum(amount) }
# final comment
"#;
    // Worked out by hand from the rules in src/syntax/format.rs.
    let expected = r#"# leading comment

# second leading
view a           = orders where x > 1  # trailing on view
view longer_name = orders
                   where status == "paid" and amount > 100
let t            = 25% + 1_200_000

kpi messy {  # after brace
    title       "Messy"
    owner       "me"
    value       (sum(orders.amount) + -3) * 2  # about value
                # own line inside value
                / count(orders where a in ["x", "y",])

    # before target
    target      >= 10 when region == "EU"  # t1
    warn        >= 5                       # w
    let x       = 1
    let longer  = 2
    # before close
}

funnel f {
    entity      lead_id
    step lead        = leads
    step opportunity = leads on opportunity_at where is_opportunity
    within      90 days
}

kpi empty_like {
    value       1
}

view buyers = orders per customer_id {
    n     = count(),
    spent = sum(amount)
}
# final comment
"#;
    assert_eq!(fmt(messy), expected);
    assert_eq!(fmt(expected), expected);
}

#[test]
fn continued_lines_are_indented_by_the_brackets_still_open() {
    let text = "kpi k {\nvalue (\ncount(a where x ==\n1)\n- count(b)\n) / 2\n}\n";
    let expected = "kpi k {\n    value       (\n                    count(a where x ==\n                        1)\n                    - count(b)\n                ) / 2\n}\n";
    assert_eq!(fmt(text), expected);
}

#[test]
fn literals_names_and_parentheses_stay_as_written() {
    let text = "kpi k{value (a.b+1_200_000)*25%+`Сумма, руб`.`x y`+(1) where d>=2025-01-01 target between 1.50% and 2_000}";
    let out = fmt(text);
    for kept in [
        "(a.b + 1_200_000) * 25%",
        "`Сумма, руб`.`x y`",
        "+ (1)",
        "2025-01-01",
        "between 1.50% and 2_000",
    ] {
        assert!(out.contains(kept), "`{kept}` lost in:\n{out}");
    }
}

#[test]
fn strings_and_comments_keep_their_text() {
    let text =
        "kpi k {\n  title \"Two  spaces # not a comment\"   #  a comment,  spaced\n  value 1\n}\n";
    let out = fmt(text);
    assert!(out.contains("title       \"Two  spaces # not a comment\"  #  a comment,  spaced\n"));
}

#[test]
fn line_endings_and_a_byte_order_mark_are_kept() {
    let crlf = "\u{FEFF}kpi k {\r\n  value 1 # c\r\n}\r\n";
    assert_eq!(
        fmt(crlf),
        "\u{FEFF}kpi k {\r\n    value       1  # c\r\n}\r\n"
    );
    assert_eq!(fmt("kpi k { value 1 }"), "kpi k {\n    value       1\n}\n");
}

#[test]
fn blank_lines_are_kept_once_and_blocks_are_set_apart() {
    let text = "view a = t\n\n\n\nview b = t\nview c = t\nkpi k {\n\n\n  value 1\n\n\n\n  target > 0\n\n}\nkpi l { value 2 }\n\n\n";
    let expected = "view a = t\n\nview b = t\nview c = t\n\nkpi k {\n    value       1\n\n    target      > 0\n}\n\nkpi l {\n    value       2\n}\n";
    assert_eq!(fmt(text), expected);
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n"), "");
    assert_eq!(fmt("\n# only a comment"), "# only a comment\n");
}

#[test]
fn a_file_that_does_not_parse_is_not_formatted() {
    assert_eq!(error_codes("kpi k {\n  value sum(a.b\n}\n"), ["E0001"]);
    // On one line `where` is a mistake for `when` (E0103); on a line of its own it would be the
    // KPI's filter. Formatting would hide the mistake, so the file is refused with it.
    let text = "kpi k {\n  by region\n  value sum(s.a)\n  target >= 1 where region == \"EU\"\n}\n";
    assert_eq!(error_codes(text), ["E0103"]);
    // Errors that the layout cannot touch do not stop it.
    assert_eq!(
        fmt("kpi k { title \"x\" }"),
        "kpi k {\n    title       \"x\"\n}\n"
    );
}

// ---------------------------------------------------------------- the command

const TIDY: &str = "kpi tidy {\n    value       1\n}\n";
const UNTIDY: &str = "kpi untidy { value 2 }\n";
const UNTIDY_FORMATTED: &str = "kpi untidy {\n    value       2\n}\n";

fn folder() -> TempProject {
    TempProject::new(
        "[project]\nname = \"t\"\nkpis = [\"kpis/*.kpi\"]\n",
        &[
            ("kpis/tidy.kpi", TIDY),
            ("kpis/more/untidy.kpi", UNTIDY),
            // Hidden folders, build output and other files are not searched.
            (".hidden/untidy.kpi", UNTIDY),
            ("target/untidy.kpi", UNTIDY),
            ("kpis/notes.txt", UNTIDY),
        ],
    )
}

fn kpi_fmt(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kpi"))
        .current_dir(dir)
        .arg("fmt")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn check_lists_what_would_change_and_changes_nothing() {
    let project = folder();
    let dir = project.path();
    let (code, stdout, stderr) = kpi_fmt(dir, &["--check", "."]);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!(stdout, @r"
    --- ./kpis/more/untidy.kpi
    +++ ./kpis/more/untidy.kpi (formatted)
    @@ -1 +1,3 @@
    -kpi untidy { value 2 }
    +kpi untidy {
    +    value       2
    +}
    ");
    assert_eq!(
        stderr,
        "1 of 2 files would be reformatted; `kpi fmt` formats them\n"
    );
    assert_eq!(read(dir, "kpis/more/untidy.kpi"), UNTIDY);
    assert_eq!(read(dir, ".hidden/untidy.kpi"), UNTIDY);
}

#[test]
fn fmt_writes_the_files_that_change_and_then_check_passes() {
    let project = folder();
    let dir = project.path();
    let (code, stdout, stderr) = kpi_fmt(dir, &["kpis"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert_eq!(stderr, "formatted kpis/more/untidy.kpi\n");
    assert_eq!(read(dir, "kpis/more/untidy.kpi"), UNTIDY_FORMATTED);
    assert_eq!(read(dir, "kpis/tidy.kpi"), TIDY);
    assert_eq!(read(dir, "target/untidy.kpi"), UNTIDY);
    assert_eq!(read(dir, "kpis/notes.txt"), UNTIDY);
    let (code, stdout, stderr) = kpi_fmt(dir, &["--check", "kpis"]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
}

#[test]
fn without_paths_it_formats_the_projects_definition_files() {
    let project = folder();
    let dir = project.path();
    let (code, _, stderr) = kpi_fmt(dir, &[]);
    // kpi.toml names kpis/*.kpi: the file in kpis/more is not the project's.
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    std::fs::write(dir.join("kpis/second.kpi"), UNTIDY).unwrap();
    let (code, _, stderr) = kpi_fmt(dir, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "formatted kpis/second.kpi\n");
    assert_eq!(read(dir, "kpis/second.kpi"), UNTIDY_FORMATTED);
    assert_eq!(read(dir, "kpis/more/untidy.kpi"), UNTIDY);
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_the_others_are_formatted() {
    let project = TempProject::new(
        "",
        &[
            ("a_broken.kpi", "kpi broken {\n  value sum(a.b\n}\n"),
            ("b_untidy.kpi", UNTIDY),
        ],
    );
    let dir = project.path();
    let (code, _, stderr) = kpi_fmt(dir, &["."]);
    assert_eq!(code, 2);
    assert!(stderr.contains("E0001"), "{stderr}");
    assert!(stderr.contains("./a_broken.kpi:3:1"), "{stderr}");
    assert!(stderr.contains("formatted ./b_untidy.kpi"), "{stderr}");
    assert_eq!(
        read(dir, "a_broken.kpi"),
        "kpi broken {\n  value sum(a.b\n}\n"
    );
    assert_eq!(read(dir, "b_untidy.kpi"), UNTIDY_FORMATTED);
}

#[test]
fn a_path_that_does_not_exist_is_an_error() {
    let project = folder();
    let (code, _, stderr) = kpi_fmt(project.path(), &["nowhere", "kpis"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("E0801"), "{stderr}");
    assert!(
        stderr.contains("cannot read nowhere: no such file or folder"),
        "{stderr}"
    );
    // The paths that exist are still formatted.
    assert_eq!(
        read(project.path(), "kpis/more/untidy.kpi"),
        UNTIDY_FORMATTED
    );
}

#[test]
fn standard_input_is_formatted_to_standard_output() {
    let output = Command::new(env!("CARGO_BIN_EXE_kpi"))
        .args(["fmt", "-"])
        .write_stdin(UNTIDY)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), UNTIDY_FORMATTED);
    let output = Command::new(env!("CARGO_BIN_EXE_kpi"))
        .args(["fmt", "--check", "-"])
        .write_stdin(UNTIDY)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn the_standard_library_and_the_examples_are_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, stdout, stderr) = kpi_fmt(root, &["--check", "kpis", "examples"]);
    assert_eq!(code, 0, "run `kpi fmt kpis examples`:\n{stdout}{stderr}");
}

/// Offsets of the spaces between tokens: outside strings, backticked names and comments.
fn spaces_between_tokens(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut string, mut backtick, mut comment, mut escaped) = (false, false, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if comment => comment = c != '\n',
            _ if escaped => escaped = false,
            '\\' if string => escaped = true,
            '"' if !backtick => string = !string,
            '`' if !string => backtick = !backtick,
            '#' if !string && !backtick => comment = true,
            ' ' if !string && !backtick => out.push(i),
            _ => {}
        }
    }
    out
}

#[test]
fn comments_and_line_breaks_anywhere_between_tokens_survive() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    kpi_files(&root.join("kpis"), &mut files);
    kpi_files(&root.join("examples"), &mut files);
    kpi_files(&root.join("tests/fixtures/parse/ok"), &mut files);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % n
    };
    let mut tried = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let spaces = spaces_between_tokens(&text);
        for _ in 0..20 {
            // Three changes at random spaces between tokens, from the end so offsets hold.
            let mut at: Vec<usize> = (0..3).map(|_| spaces[random(spaces.len())]).collect();
            at.sort_unstable();
            at.dedup();
            let mut mutated = text.clone();
            for &i in at.iter().rev() {
                let with = ["\n", " # note\n", "\n\n", "  \t "][random(4)];
                mutated.replace_range(i..i + 1, with);
            }
            let (before, errors) = parse(&mutated, FileId(0));
            if !errors.is_empty() {
                continue; // a break that changes meaning, such as before `where` on a target line
            }
            tried += 1;
            let out = match format(&mutated, FileId(0)) {
                Ok(out) => out,
                Err(e) => panic!("{}: refused\n{mutated}\n{e:?}", path.display()),
            };
            let (after, _) = parse(&out, FileId(0));
            assert_eq!(
                shape(&before),
                shape(&after),
                "{}:\n{mutated}",
                path.display()
            );
            assert_eq!(
                fmt(&out),
                out,
                "{}: not idempotent on\n{mutated}",
                path.display()
            );
            assert_eq!(
                mutated.matches("# note").count(),
                out.matches("# note").count(),
                "{}: a comment was lost from\n{mutated}",
                path.display()
            );
        }
    }
    assert!(tried > 100, "only {tried} variants parsed");
}

#[test]
fn a_kpis_glob_that_cannot_be_read_is_reported() {
    // The second glob points outside the project (E0216); the first one's files are formatted.
    let project = TempProject::new(
        "[project]\nname = \"t\"\nkpis = [\"kpis/*.kpi\", \"../elsewhere/*.kpi\"]\n",
        &[("kpis/untidy.kpi", UNTIDY)],
    );
    let (code, _, stderr) = kpi_fmt(project.path(), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("E0216"), "{stderr}");
    assert_eq!(read(project.path(), "kpis/untidy.kpi"), UNTIDY_FORMATTED);
}
