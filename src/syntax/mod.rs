//! Text to AST. The only module that knows pest.

pub mod ast;
mod parse;
pub mod scan;

pub use parse::{parse, parse_expr};
