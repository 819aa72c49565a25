//! The editor grammar (editors/vscode/syntaxes/kpi.tmLanguage.json) tokenises every `.kpi`
//! file of the repository with the scopes it promises, checked by `editors/test/tokenize.js`
//! with `vscode-textmate`, the tokeniser VS Code uses (`.ci/setup` installs it).

use std::path::Path;
use std::process::Command;

#[test]
fn the_editor_grammar_scopes_every_definition_file() {
    let test = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/test");
    assert!(
        test.join("node_modules/vscode-textmate").is_dir(),
        "the tokeniser is not installed: run `.ci/setup` (it runs `npm ci` in editors/test)"
    );
    let out = Command::new("node")
        .arg("tokenize.js")
        .current_dir(&test)
        .output()
        .unwrap_or_else(|e| panic!("node cannot run ({e}): run `.ci/setup`, which installs it"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("as expected"),
        "the check said nothing: {stdout}"
    );
}
