//! Datasets: what a file may hold, how the files of one dataset are unified, and where a project
//! may read data from. Each bad input has a case in `tests/fixtures/bad/` (see `bad.rs`); these
//! are the inputs that must be read, and the properties the corpus cannot show.

use std::path::Path;

use kpi::manifest::Manifest;
use kpi::project::{Project, Run, RunOptions};

use super::{assert_value, date, TempProject};

const DEFS: &str = "kpi n { value count(d) }\nkpi total { value sum(d.amount) }";

/// A project with one dataset `d` read from `path`, with extra `[project]` and dataset lines.
fn project(
    path: &str,
    project_extra: &str,
    dataset_extra: &str,
    files: &[(&str, &str)],
) -> TempProject {
    let manifest = format!(
        "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n{project_extra}\n[datasets.d]\npath = \"{path}\"\ntime = \"day\"\nfresh = \"1 year\"\n{dataset_extra}"
    );
    let mut all = vec![("defs.kpi", DEFS)];
    all.extend_from_slice(files);
    TempProject::new(&manifest, &all)
}

fn codes(run: &Run) -> Vec<&str> {
    run.diagnostics.iter().map(|d| d.code).collect()
}

/// Loads with `${NAME}` taken from `env` instead of the process environment.
fn run_with_env(dir: &Path, env: &[(&str, String)], as_of: &str) -> Run {
    let text = std::fs::read_to_string(dir.join("kpi.toml")).unwrap();
    let lookup = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    let manifest = Manifest::from_str_with_env(&text, dir, &lookup).unwrap();
    Project::from_manifest(manifest).unwrap().run(&RunOptions {
        as_of: Some(date(as_of)),
        ..RunOptions::default()
    })
}

#[test]
fn a_header_only_file_is_an_empty_dataset() {
    // Dated: no row says the data reach the period, so the KPIs have no value yet.
    let p = project("d.csv", "", "", &[("d.csv", "day,amount\n")]);
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "n", &[], None);
    // Timeless: an empty dataset counts 0.
    let p = TempProject::new(
        "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n[datasets.d]\npath = \"d.csv\"\n",
        &[("defs.kpi", DEFS), ("d.csv", "region,amount\n")],
    );
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "n", &[], Some(0.0));
    assert_value(&run, "total", &[], Some(0.0));
}

#[test]
fn a_header_only_file_among_others_takes_their_types() {
    let p = project(
        "d/*.csv",
        "",
        "",
        &[
            ("d/1.csv", "day,amount\n"),
            ("d/2.csv", "day,amount\n2025-03-02,2.5\n"),
        ],
    );
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "total", &[], Some(2.5));
}

#[test]
fn whole_numbers_and_decimals_in_two_files_are_decimals() {
    let p = project(
        "d/*.csv",
        "",
        "",
        &[
            ("d/1.csv", "day,amount\n2025-03-01,2\n2025-03-02,3\n"),
            ("d/2.csv", "day,amount\n2025-03-03,0.25\n"),
        ],
    );
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "total", &[], Some(5.25));
    assert_value(&run, "n", &[], Some(3.0));
}

#[test]
fn a_column_empty_in_one_file_takes_the_type_of_the_others() {
    // In 1.csv `amount` and `region` are empty (polars would read them as text); in the
    // Parquet-free, CSV-only world that is the common way a quiet month looks.
    let p = project(
        "d/*.csv",
        "",
        "",
        &[
            ("d/1.csv", "day,region,amount\n2025-03-01,,\n"),
            ("d/2.csv", "day,region,amount\n2025-03-02,EU,4\n"),
        ],
    );
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "total", &[], Some(4.0));
    assert_value(&run, "n", &[], Some(2.0));
}

#[test]
fn dates_and_timestamps_in_two_files_are_timestamps() {
    let p = project(
        "d/*.csv",
        "",
        "",
        &[
            ("d/1.csv", "day,amount\n2025-03-01,1\n"),
            ("d/2.csv", "day,amount\n2025-03-02T10:30:00,2\n"),
        ],
    );
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "total", &[], Some(3.0));
}

#[test]
fn text_where_types_says_number_is_located_and_other_datasets_still_run() {
    let p = project(
        "d.csv",
        "",
        "types = { amount = \"number\" }\n[datasets.ok]\npath = \"ok.csv\"\ntime = \"day\"\nfresh = \"1 year\"\n",
        &[
            ("d.csv", "day,amount\n2025-03-01,N/A\n2025-03-02,12\n2025-03-03,twelve\n"),
            ("ok.csv", "day\n2025-03-01\n"),
            ("ok.kpi", "kpi fine { value count(ok) }"),
        ],
    );
    let run = p.run("2025-03-31");
    assert_value(&run, "fine", &[], Some(1.0));
    // `n` and `total` share one scan of `d`, which fails.
    assert!(run.outcomes.iter().all(|k| k.meta.name == "fine"));
    let error = run
        .diagnostics
        .iter()
        .find(|d| d.code == "E0412")
        .unwrap_or_else(|| panic!("{:#?}", run.diagnostics));
    assert_eq!(
        error.message,
        "dataset `d`: `d.csv` line 4: column `amount` holds `twelve`, not a number"
    );
    let loaded = Project::load(p.path()).unwrap();
    let location = loaded.sources.location(error.span.expect("located"));
    assert_eq!(
        (location.file.as_str(), location.line),
        ("kpi.toml", 7),
        "the dataset's path"
    );
}

/// Small CSV files are read whole into memory once, before the plans run. A value that does
/// not read as its type in a column no KPI reads fails that whole read, so the dataset is read
/// by each plan as before, column by column: the KPIs over it are computed, with no error.
#[test]
fn text_where_types_says_number_in_a_column_no_kpi_reads_fails_nothing() {
    let p = project(
        "d.csv",
        "",
        "types = { code = \"number\" }\n",
        &[(
            "d.csv",
            "day,amount,code\n2025-03-01,2,7\n2025-03-02,5,seven\n2025-04-01,11,8\n",
        )],
    );
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    // March: 2 + 5 over two rows; April is after the evaluation day.
    assert_value(&run, "total", &[], Some(7.0));
    assert_value(&run, "n", &[], Some(2.0));
}

#[test]
fn a_data_root_from_the_environment_allows_a_folder_outside() {
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("d.csv"), "day,amount\n2025-03-01,7\n").unwrap();
    let shared_path = shared.path().to_string_lossy().to_string();
    let p = project("${SHARED}/d.csv", "data_roots = [\"${SHARED}\"]", "", &[]);
    let run = run_with_env(p.path(), &[("SHARED", shared_path.clone())], "2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "total", &[], Some(7.0));
    // Without the data root the same path is refused, and the error says how to allow it.
    let p = project("${SHARED}/d.csv", "", "", &[]);
    let run = run_with_env(p.path(), &[("SHARED", shared_path)], "2025-03-31");
    assert_eq!(
        codes(&run),
        ["E0405", "E0357", "E0357"],
        "{:#?}",
        run.diagnostics
    );
    assert!(run.diagnostics[0].hints[0].contains("add its folder to data_roots under [project]"));
}

#[test]
fn a_relative_data_root_and_a_link_into_it_are_allowed() {
    let outer = tempfile::tempdir().unwrap();
    let shared = outer.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("d.csv"), "day,amount\n2025-03-01,7\n").unwrap();
    let project_dir = outer.path().join("project");
    std::fs::create_dir_all(&project_dir).unwrap();
    std::fs::write(project_dir.join("defs.kpi"), DEFS).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("../shared/d.csv", project_dir.join("link.csv")).unwrap();
    let manifest = |roots: &str| {
        format!("[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n{roots}\n[datasets.d]\npath = \"link.csv\"\ntime = \"day\"\nfresh = \"1 year\"\n")
    };
    std::fs::write(
        project_dir.join("kpi.toml"),
        manifest("data_roots = [\"../shared\"]"),
    )
    .unwrap();
    let run = super::run_project(&project_dir, "2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "total", &[], Some(7.0));
    std::fs::write(project_dir.join("kpi.toml"), manifest("")).unwrap();
    let run = super::run_project(&project_dir, "2025-03-31");
    assert_eq!(
        codes(&run),
        ["E0405", "E0357", "E0357"],
        "{:#?}",
        run.diagnostics
    );
}

#[test]
fn definitions_outside_the_project_need_a_data_root() {
    let outer = tempfile::tempdir().unwrap();
    let defs = outer.path().join("defs");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(defs.join("defs.kpi"), DEFS).unwrap();
    let project_dir = outer.path().join("project");
    std::fs::create_dir_all(&project_dir).unwrap();
    std::fs::write(project_dir.join("d.csv"), "day,amount\n2025-03-01,7\n").unwrap();
    let manifest = |roots: &str| {
        format!("[project]\nname = \"t\"\nkpis = [\"../defs/*.kpi\"]\n{roots}\nhistory = 0\n[datasets.d]\npath = \"d.csv\"\ntime = \"day\"\nfresh = \"1 year\"\n")
    };
    // Refused, with the folder it reaches named: a pull request cannot make CI read (and print)
    // any file on the machine as definitions.
    std::fs::write(project_dir.join("kpi.toml"), manifest("")).unwrap();
    let loaded = Project::load(&project_dir).unwrap();
    assert_eq!(loaded.diagnostics[0].code, "E0216");
    assert!(loaded.kpis().next().is_none());
    // `/**/*.kpi` is refused before anything is searched.
    std::fs::write(
        project_dir.join("kpi.toml"),
        manifest("").replace("../defs/*.kpi", "/**/*.kpi"),
    )
    .unwrap();
    let loaded = Project::load(&project_dir).unwrap();
    assert_eq!(loaded.diagnostics[0].code, "E0216");
    // Allowed through `data_roots`.
    std::fs::write(
        project_dir.join("kpi.toml"),
        manifest("data_roots = [\"../defs\"]"),
    )
    .unwrap();
    let run = super::run_project(&project_dir, "2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "total", &[], Some(7.0));
}

#[test]
fn manifest_errors_point_into_kpi_toml() {
    // Not TOML: loading fails, and the error comes with kpi.toml to show it in.
    let p = TempProject::new("[project\nname = \"t\"\n", &[]);
    let error = Project::load(p.path()).err().expect("not TOML");
    let location = error
        .sources
        .location(error.diagnostic.span.expect("located"));
    assert_eq!((location.file.as_str(), location.line), ("kpi.toml", 1));
    // A wrong project setting is reported where it is written, and loading goes on.
    let p = project(
        "d.csv",
        "grain = \"fortnight\"",
        "",
        &[("d.csv", "day,amount\n2025-03-01,1\n")],
    );
    let loaded = Project::load(p.path()).unwrap();
    let error = &loaded.diagnostics[0];
    assert_eq!(
        (error.code, error.message.as_str()),
        ("E0203", "unknown grain `fortnight`")
    );
    let location = loaded.sources.location(error.span.expect("located"));
    assert_eq!((location.line, location.column), (5, 9));
    // A KPI that would take the project's grain is not computed with the default grain.
    let run = loaded.run(&RunOptions {
        as_of: Some(date("2025-03-31")),
        ..RunOptions::default()
    });
    assert!(run.outcomes.is_empty());
    assert!(run
        .diagnostics
        .iter()
        .any(|d| d.code == "E0214" && d.kpi.as_deref() == Some("n")));
}

/// A dataset `d` with KPIs of its own over one CSV file.
fn csv_project(defs: &str, csv: &str) -> TempProject {
    TempProject::new(
        "[project]\nname = \"t\"\nkpis = [\"*.kpi\"]\nhistory = 0\n[datasets.d]\npath = \"d.csv\"\ntime = \"day\"\nfresh = \"1 year\"\n",
        &[("defs.kpi", defs), ("d.csv", csv)],
    )
}

#[test]
fn a_column_empty_in_the_first_10000_lines_takes_the_type_of_the_lines_after() {
    // polars types a CSV column from its first 10,000 lines and read a column without a value
    // there as text; `closed` holds its first date on line 10,002.
    let mut csv = String::from("day,amount,closed\n");
    for _ in 0..10_000 {
        csv.push_str("2025-03-01,1,\n");
    }
    csv.push_str("2025-03-02,2,2025-03-20\n2025-03-03,4,2025-03-02\n");
    let p = csv_project(
        "kpi late { value count(d where closed >= 2025-03-15) }\nkpi big { value sum(d.amount) }",
        &csv,
    );
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "late", &[], Some(1.0));
    assert_value(&run, "big", &[], Some(10_006.0));
    // Written in another form there, it is an error that names its line.
    let csv = csv.replace("2025-03-20", "20/03/2025");
    let run = csv_project(
        "kpi late { value count(d where closed >= 2025-03-15) }",
        &csv,
    )
    .run("2025-03-31");
    let messages: Vec<&str> = run.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.contains(
            &"dataset `d`: `d.csv` line 10002: the date column `closed` holds `20/03/2025`, a date written DD/MM/YYYY; dates must be written YYYY-MM-DD"
        ),
        "{messages:#?}"
    );
}

#[test]
fn date_time_columns_are_read_to_the_second() {
    // `day` and `at` are written with a space throughout, `t` with `T`, `seen` with both: all
    // are date-times (the first three parsed with one format, the last as polars reads it),
    // read to the second.
    let csv = "day,at,t,seen\n\
               2025-03-01 08:00:00,2025-03-01 23:59:59,2025-03-01T23:59:59,2025-03-01T23:59:59\n\
               2025-03-31 23:59:59,2025-03-02 00:00:01,2025-03-02T00:00:01,2025-03-02 00:00:01\n\
               2025-04-01 00:00:00,,,\n";
    let p = csv_project(
        "kpi n { value count(d) }\n\
         kpi late_at { value count(d where at >= 2025-03-02) }\n\
         kpi late_t { value count(d where t >= 2025-03-02) }\n\
         kpi late_seen { value count(d where seen >= 2025-03-02) }",
        csv,
    );
    let run = p.run("2025-03-31");
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    assert_value(&run, "n", &[], Some(2.0));
    assert_value(&run, "late_at", &[], Some(1.0));
    assert_value(&run, "late_t", &[], Some(1.0));
    assert_value(&run, "late_seen", &[], Some(1.0));
}

#[test]
fn a_column_of_day_first_dates_is_refused_with_its_line() {
    // Not the dating column, but polars takes `paid_on` for dates, day or month first as the
    // values suggest: it is refused, with the file, the line and the column, whether all its
    // values are written so or only some.
    let message = |line: u64| {
        format!("dataset `d`: `d.csv` line {line}: the date column `paid_on` holds `31/03/2025`, a date written DD/MM/YYYY; dates must be written YYYY-MM-DD")
    };
    for (csv, line) in [
        (
            "day,paid_on\n2025-03-01,31/03/2025\n2025-03-02,30/03/2025\n",
            2,
        ),
        (
            "day,paid_on\n2025-03-01,2025-03-01\n2025-03-02,31/03/2025\n",
            3,
        ),
    ] {
        let run = csv_project("kpi n { value count(d) }", csv).run("2025-03-31");
        assert_eq!(codes(&run), ["E0413", "E0357"], "{:#?}", run.diagnostics);
        assert_eq!(run.diagnostics[0].message, message(line));
    }
}
