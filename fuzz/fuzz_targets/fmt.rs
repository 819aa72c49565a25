//! Bytes -> (if UTF-8) `kpi fmt`'s layout. The formatter checks its own output (same AST, same
//! errors, same characters but white space) and reports a difference as E0999, so any E0999
//! is a bug; formatted text must also format to itself.
#![no_main]

use kpi::source::FileId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: kpi_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match kpi::syntax::format(text, FileId(0)) {
        Ok(out) => {
            let again = kpi::syntax::format(&out, FileId(0)).expect("formatted text formats");
            assert_eq!(again, out, "formatting is not idempotent");
        }
        Err(errors) => assert!(errors.iter().all(|e| e.code != "E0999"), "{errors:?}"),
    }
});
