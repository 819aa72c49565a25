//! The bad-input corpus: each folder of `tests/fixtures/bad/` is one case, copied over the base
//! project `tests/fixtures/bad/_base/` and run as `kpi -p DIR check`. Every case must exit 2
//! without a panic, name a location (`file:line:column`), and still report the healthy KPI; its
//! error output is snapshotted. Adding a case means adding a folder.
//!
//! A case folder holds `about.txt` (one line: what is wrong) and the files it replaces or adds
//! (`kpi.toml`, data files, `.kpi` files). It may also hold:
//! - `nothing-reported`: `kpi.toml` cannot be parsed at all, or a project setting that every KPI
//!   depends on (`as_of`, `grain`) cannot be read, so no KPI is reported;
//! - `_outside/`: files put in a folder next to the project, which `$KPI_OUTSIDE` names;
//! - `symlinks.txt`: lines `link -> target`, made into symbolic links in the project.

use std::path::Path;

use assert_cmd::Command;

/// Files of a case folder that are instructions to the harness, not project files.
const HARNESS_FILES: [&str; 4] = ["about.txt", "nothing-reported", "symlinks.txt", "_outside"];

#[test]
fn bad_inputs_fail_clearly() {
    insta::glob!("../fixtures/bad", "*/about.txt", |about| {
        let case = about.parent().unwrap();
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let temp = tempfile::tempdir().unwrap();
        let project = temp.path().join("project");
        let outside = temp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        copy_dir(&case.parent().unwrap().join("_base"), &project, &[]);
        copy_dir(case, &project, &HARNESS_FILES);
        if case.join("_outside").is_dir() {
            copy_dir(&case.join("_outside"), &outside, &[]);
        }
        if let Ok(links) = std::fs::read_to_string(case.join("symlinks.txt")) {
            make_links(&links, &project);
        }
        let output = Command::new(env!("CARGO_BIN_EXE_kpi"))
            .arg("-p")
            .arg(&project)
            .arg("check")
            .env("NO_COLOR", "1")
            .env("KPI_OUTSIDE", &outside)
            .env_remove("KPI_UNSET")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let context = format!("case {name}\n--- stdout\n{stdout}--- stderr\n{stderr}");
        assert_eq!(output.status.code(), Some(2), "{context}");
        assert!(!stderr.contains("panicked"), "{context}");
        assert!(
            names_a_location(&stderr),
            "no file:line:column in\n{context}"
        );
        if case.join("nothing-reported").exists() {
            assert!(!stdout.contains("Healthy"), "{context}");
        } else {
            assert!(
                stdout.contains("Healthy"),
                "the healthy KPI is not reported\n{context}"
            );
        }
        let about_text = std::fs::read_to_string(about).unwrap();
        insta::with_settings!({ description => about_text.trim() }, {
            insta::assert_snapshot!(filter_paths(&stderr, temp.path()));
        });
    });
}

/// Copies a folder's files (recursively), leaving out the names in `skip` at its top.
fn copy_dir(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target, &[]);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `link -> target` per line; the link replaces any file of its name.
fn make_links(lines: &str, project: &Path) {
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let (link, target) = line.split_once("->").expect("`link -> target`");
        let link = project.join(link.trim());
        let _ = std::fs::remove_file(&link);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(target.trim(), &link).unwrap();
        #[cfg(not(unix))]
        panic!("symbolic links are made on unix only: {}", link.display());
    }
}

/// Whether a `name:line:column` appears, as ariadne prints it (`╭─[ kpi.toml:7:8 ]`).
fn names_a_location(text: &str) -> bool {
    text.split_whitespace().any(|word| {
        let mut parts = word.rsplitn(3, ':');
        let column = parts.next().unwrap_or("");
        let line = parts.next().unwrap_or("");
        let file = parts.next().unwrap_or("");
        let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        !file.is_empty() && number(line) && number(column)
    })
}

/// The temporary folder, as given and resolved, becomes `[TMP]`.
fn filter_paths(text: &str, temp: &Path) -> String {
    let mut text = text.to_string();
    let resolved = std::fs::canonicalize(temp).unwrap();
    for path in [resolved.as_path(), temp] {
        text = text.replace(&path.to_string_lossy().to_string(), "[TMP]");
    }
    text
}
