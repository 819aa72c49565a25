//! `kpi`: company KPIs as code.
//!
//! The pipeline, one public function per stage (see ARCHITECTURE.md):
//!
//! | stage    | function              | in -> out                                  |
//! |----------|-----------------------|--------------------------------------------|
//! | parse    | [`syntax::parse`]     | text -> AST                                |
//! | resolve  | [`compile::resolve`]  | AST + schemas -> IR                        |
//! | lower    | [`eval::lower`]       | IR -> polars lazy plans                    |
//! | evaluate | [`eval::evaluate`]    | plans + data -> outcomes                   |
//! | report   | [`report::render`]    | outcomes -> bytes                          |
//!
//! [`project::Project`] ties them together for the CLI and for tests.

//!
//! Without the default `engine` feature the crate is the language alone (parse, resolve,
//! manifest, diagnostics) and does not link polars; the fuzz targets in `fuzz/` build it so.

pub mod compile;
pub mod diagnostic;
#[cfg(feature = "engine")]
pub mod eval;
pub mod manifest;
pub mod period;
#[cfg(feature = "engine")]
pub mod project;
#[cfg(feature = "engine")]
pub mod report;
pub mod source;
pub mod syntax;
