//! Text to AST, and the formatter. The only module that knows pest.

pub mod ast;
mod format;
mod parse;
pub mod scan;

pub use format::{format, shape};
pub use parse::{parse, parse_expr};
