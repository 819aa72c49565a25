//! Bytes -> (if UTF-8) parse -> render every diagnostic, so that span handling in the
//! renderer is exercised as well as the parser.
#![no_main]

use kpi::diagnostic::render_human;
use kpi::source::SourceMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: kpi_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = SourceMap::new();
    let file = sources.add_text("fuzz.kpi", text);
    let (_ast, diags) = kpi::syntax::parse(text, file);
    let _ = render_human(&diags, &sources, false);
});
