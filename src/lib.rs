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

// The library has no unsafe code; the binary's one call (`mallopt`, src/main.rs) is allowed
// where it stands.
#![forbid(unsafe_code)]

pub mod compile;
pub mod confine;
pub mod diagnostic;
#[cfg(feature = "engine")]
pub mod diff;
pub mod error;
#[cfg(feature = "engine")]
pub mod eval;
#[cfg(feature = "engine")]
pub mod explain;
pub mod fmt;
#[cfg(feature = "engine")]
pub mod init;
#[cfg(feature = "engine")]
pub mod lint;
pub mod locale;
pub mod manifest;
pub mod names;
pub mod period;
#[cfg(feature = "engine")]
pub mod project;
#[cfg(feature = "engine")]
pub mod report;
pub mod source;
pub mod syntax;
#[cfg(feature = "engine")]
pub mod testing;

/// Runs a step of a recursion over nested expressions, growing the stack first when little is
/// left. The nesting is bounded (see [`syntax::scan::MAX_NESTING`]); this makes the bound safe on
/// any thread, whatever its stack size and however large a debug build's frames are.
pub(crate) fn deep<R>(step: impl FnOnce() -> R) -> R {
    const RED_ZONE: usize = 128 * 1024;
    const SEGMENT: usize = 4 * 1024 * 1024;
    stacker::maybe_grow(RED_ZONE, SEGMENT, step)
}

/// Runs one stage and, when the environment variable `KPI_TIMINGS` is set, writes how long it
/// took to stderr, with the process's resident memory after it and its peak so far where Linux
/// tells them (`kpi timings: <stage> <ms> ms, RSS <MiB> MiB, peak <MiB> MiB`): where the time
/// and memory of a run go, without a profiler (ARCHITECTURE.md, "Performance"). The stage that
/// raises the peak is the one that holds the memory.
pub fn timed<R>(stage: &str, step: impl FnOnce() -> R) -> R {
    if std::env::var_os("KPI_TIMINGS").is_none() {
        return step();
    }
    let start = std::time::Instant::now();
    let out = step();
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    let memory = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let mib = |field: &str| -> Option<u64> {
                let line = status.lines().find(|l| l.starts_with(field))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib / 1024)
            };
            Some(format!(
                ", RSS {} MiB, peak {} MiB",
                mib("VmRSS:")?,
                mib("VmHWM:")?
            ))
        })
        .unwrap_or_default();
    #[allow(clippy::print_stderr)]
    {
        eprintln!("kpi timings: {stage} {elapsed:.1} ms{memory}");
    }
    out
}
