//! Bytes -> (if UTF-8) `kpi.toml` parsing, with no environment variables set and a root
//! that does not exist, so that `kpi_files` globs nothing real.
#![no_main]

use std::path::Path;

use kpi::manifest::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: kpi_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(manifest) =
        Manifest::from_str_with_env(text, Path::new("/nonexistent-fuzz-root"), &|_| None)
    {
        let _ = manifest.kpi_files();
    }
});
