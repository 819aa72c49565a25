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

pub mod compile;
pub mod diagnostic;
pub mod eval;
pub mod manifest;
pub mod period;
pub mod project;
pub mod report;
pub mod source;
pub mod syntax;
