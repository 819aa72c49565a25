//! Names in any script, and the ones that only look alike.
//!
//! A name is a Unicode word (UAX #31, as in Rust and Python), so `выручка` and `売上` are names.
//! Two scripts share letters that look the same: a Latin `a` typed into a Cyrillic word makes a
//! different name that no one can see. A declared name that mixes scripts is flagged (W0104),
//! and an unknown name that looks like a known one says which letters differ. "Looks like" is
//! the confusable skeleton of Unicode's UTS #39, as rustc's `confusable_idents` lint uses it.

use unicode_script::{Script, UnicodeScript};
use unicode_security::{skeleton, MixedScript};

/// The script a letter is written in, for messages: `Latin`, `Cyrillic`; `None` for digits,
/// `_` and marks, which belong to every script.
fn script_of(c: char) -> Option<Script> {
    match c.script() {
        Script::Common | Script::Inherited | Script::Unknown => None,
        script => Some(script),
    }
}

/// When a word of `name` mixes scripts (`выручкa`: Cyrillic with a Latin `a`), the letters that
/// are not in the name's main script, described: "the Latin `a` (letter 7) among Cyrillic
/// letters". Words are split at `_` and digits: `продажи_2025_rows` joins a Russian and an
/// English word on purpose, and is not flagged.
pub fn mixed_scripts(name: &str) -> Option<String> {
    let words = name.split(|c: char| script_of(c).is_none());
    if words.into_iter().all(|word| word.is_single_script()) {
        return None;
    }
    let letters: Vec<(usize, char, Script)> = name
        .chars()
        .enumerate()
        .filter_map(|(i, c)| script_of(c).map(|s| (i + 1, c, s)))
        .collect();
    // The main script: the one most letters are in (the first of a tie).
    let mut counts: Vec<(Script, usize)> = Vec::new();
    for (_, _, script) in &letters {
        match counts.iter_mut().find(|(s, _)| s == script) {
            Some((_, n)) => *n += 1,
            None => counts.push((*script, 1)),
        }
    }
    // `max_by_key` keeps the last of a tie; reversed, the first.
    let (main, _) = *counts.iter().rev().max_by_key(|(_, n)| *n)?;
    let others: Vec<String> = letters
        .iter()
        .filter(|(_, _, s)| *s != main)
        .map(|(i, c, s)| format!("the {} `{c}` (letter {i})", s.full_name()))
        .collect();
    Some(format!(
        "{} among {} letters",
        others.join(", "),
        main.full_name()
    ))
}

/// When `typed` and `known` are different names that look alike, how they differ: "letter 7
/// is Cyrillic `а` here and Latin `a` in `выручкa`".
pub fn lookalike(typed: &str, known: &str) -> Option<String> {
    if typed == known || !skeleton(typed).eq(skeleton(known)) {
        return None;
    }
    let a: Vec<char> = typed.chars().collect();
    let b: Vec<char> = known.chars().collect();
    if a.len() != b.len() {
        return Some(format!(
            "`{typed}` and `{known}` look alike but are written with different characters"
        ));
    }
    let name = |c: char| script_of(c).map_or("", |s| s.full_name());
    let differences: Vec<String> = a
        .iter()
        .zip(&b)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| {
            format!(
                "letter {} is {} `{x}` here and {} `{y}` in `{known}`",
                i + 1,
                name(*x),
                name(*y)
            )
        })
        .collect();
    Some(format!("They look alike, but {}", differences.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latin_letter_in_a_cyrillic_word_is_found() {
        // `выручкa`: six Cyrillic letters and a Latin `a` (U+0061) at the end.
        assert_eq!(
            mixed_scripts("выручкa").as_deref(),
            Some("the Latin `a` (letter 7) among Cyrillic letters")
        );
        assert_eq!(mixed_scripts("выручка"), None);
        assert_eq!(mixed_scripts("revenue_2026"), None);
        assert_eq!(mixed_scripts("売上"), None);
        assert_eq!(mixed_scripts("_"), None);
        // Words of different scripts joined by `_` are fine; a mixed word is not.
        assert_eq!(mixed_scripts("продажи_2025_rows"), None);
        assert!(mixed_scripts("продажи_rоws").is_some());
    }

    #[test]
    fn names_that_look_alike_say_how_they_differ() {
        assert_eq!(
            lookalike("выручка", "выручкa").as_deref(),
            Some("They look alike, but letter 7 is Cyrillic `а` here and Latin `a` in `выручкa`")
        );
        assert_eq!(lookalike("выручка", "выручка"), None);
        assert_eq!(lookalike("выручка", "выручки"), None);
        // Latin `c`, `o`, `p` against Cyrillic `с`, `о`, `р`.
        assert!(lookalike("cop", "сор").is_some());
    }
}
