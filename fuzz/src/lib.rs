//! Shared set-up for the fuzz targets.
//!
//! Built with `-s none` (no sanitizer), a stack overflow in a target is a plain SIGSEGV on the
//! exhausted stack. libFuzzer's SIGSEGV handler then has no stack to run on, so the process
//! dies silently: no "deadly signal" report and, worse, no crash artifact. (Rust's own
//! stack-overflow handler is not there either: libFuzzer's C++ `main` runs, not Rust's.)
//!
//! [`catch_stack_overflow`] gives the main thread an alternate signal stack and marks
//! SIGSEGV as `SA_ONSTACK` (still with the default action). libFuzzer keeps that flag when it
//! installs its own handler (see `SetSigaction` in libFuzzer's `FuzzerUtilPosix.cpp`), so its
//! handler runs on the alternate stack, reports `deadly signal` and writes the input to
//! `artifacts/<target>/crash-*`. The `kpi` crate forbids `unsafe`, so a SIGSEGV in these
//! targets is, in practice, a stack overflow.

/// Call once, from the `init:` block of `fuzz_target!` (which runs before libFuzzer installs
/// its signal handlers).
pub fn catch_stack_overflow() {
    const ALT_STACK_SIZE: usize = 1 << 20; // libFuzzer's crash report runs on it
    let stack: &'static mut [u8] = Box::leak(vec![0u8; ALT_STACK_SIZE].into_boxed_slice());
    // SAFETY: the alternate stack is leaked, so it outlives every signal; the sigaction only
    // adds SA_ONSTACK to SIGSEGV's default action, which libFuzzer then replaces.
    unsafe {
        let ss = libc::stack_t {
            ss_sp: stack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        if libc::sigaltstack(&ss, std::ptr::null_mut()) != 0 {
            eprintln!("kpi-fuzz: sigaltstack failed; stack overflows will not leave artifacts");
            return;
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        action.sa_flags = libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut()) != 0 {
            eprintln!("kpi-fuzz: sigaction failed; stack overflows will not leave artifacts");
        }
    }
}
