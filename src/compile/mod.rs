//! AST + dataset schemas -> IR (resolve). Lowering the IR to polars plans lives in
//! `eval::lower`, next to the code that runs them, so that this module stays free of polars.

pub mod ir;
mod resolve;

pub use resolve::{resolve, resolve_one, ResolveInput};
