//! Bytes -> (if UTF-8) parse -> resolve against a fixed project (three datasets with
//! hand-written schemas) -> render every diagnostic of both stages.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use kpi::compile::ir::{Schema, Ty};
use kpi::compile::{resolve, ResolveInput};
use kpi::diagnostic::render_human;
use kpi::manifest::Manifest;
use kpi::source::SourceMap;
use libfuzzer_sys::fuzz_target;

const MANIFEST: &str = r#"
[project]
name    = "fuzz"
grain   = "month"
history = 12
as_of   = "2025-12-31"

[datasets.orders]
path = "data/orders.csv"
time = "order_date"

[datasets.customers]
path  = "data/customers.csv"
time  = "signup_date"
until = "churn_date"
dimensions = { channel = "acquisition_channel" }

[datasets.leads]
path = "data/leads.csv"
time = "created_at"
"#;

fn schema(columns: &[(&str, Ty)]) -> Schema {
    Schema {
        columns: columns.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
    }
}

struct Project {
    manifest: Manifest,
    schemas: BTreeMap<String, Schema>,
}

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let manifest = Manifest::from_str(MANIFEST, Path::new(".")).expect("fixed manifest parses");
        let mut schemas = BTreeMap::new();
        schemas.insert(
            "orders".to_string(),
            schema(&[
                ("order_id", Ty::Number),
                ("order_date", Ty::Date),
                ("customer_id", Ty::Number),
                ("channel", Ty::String),
                ("status", Ty::String),
                ("amount", Ty::Number),
            ]),
        );
        schemas.insert(
            "customers".to_string(),
            schema(&[
                ("customer_id", Ty::Number),
                ("signup_date", Ty::Date),
                ("churn_date", Ty::Date),
                ("segment", Ty::String),
                ("channel", Ty::String),
                // The column the `channel` dimension maps to.
                ("acquisition_channel", Ty::String),
            ]),
        );
        schemas.insert(
            "leads".to_string(),
            schema(&[
                ("lead_id", Ty::Number),
                ("created_at", Ty::Date),
                ("won_at", Ty::Date),
                ("channel", Ty::String),
                ("won", Ty::Bool),
                ("is_mql", Ty::Bool),
            ]),
        );
        Project { manifest, schemas }
    })
}

fuzz_target!(init: kpi_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let project = project();
    let mut sources = SourceMap::new();
    let file_id = sources.add_text("fuzz.kpi", text);
    let (file, mut diags) = kpi::syntax::parse(text, file_id);
    let input = ResolveInput {
        manifest: &project.manifest,
        schemas: &project.schemas,
        sources: &sources,
        manifest_file: None,
    };
    let (_program, resolve_diags) = resolve(&[file], &input);
    diags.extend(resolve_diags);
    let _ = render_human(&diags, &sources, false);
});
