//! The integration tests, one binary (every test binary links polars): one module per stage.

mod suite;
