//! AST + dataset schemas -> IR (resolve), and the plan of passes over the IR (plan). Lowering
//! the plan to polars lives in `eval::lower`, next to the code that runs it, so that this module
//! stays free of polars.

pub mod ir;
pub mod plan;
mod resolve;

pub use resolve::{resolve, resolve_one, ResolveInput};
