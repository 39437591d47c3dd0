//! Guest memory: the address-space syscalls (`mm_semantics`), a large
//! anonymous mapping (`big_anon`), stores the protections forbid
//! (`segv_readonly`) and bad user pointers handed to syscalls (`efault`).
//! Each C program runs natively and under sentry, static and static-PIE,
//! and the outputs and exit statuses must match.

use tests::{Failures, check_guest};

#[test]
fn mm_semantics() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "mm_semantics", &[], b"", 0, &mut || {});
    failures.finish("mm_semantics");
}

#[test]
fn big_anonymous_mapping() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "big_anon", &[], b"", 0, &mut || {});
    failures.finish("big_anon");
}

/// The store faults, the guest dies of SIGSEGV: status 128 + 11, with the
/// line printed (and flushed) before the store still on stdout.
#[test]
fn store_to_readonly_memory_kills_with_sigsegv() {
    let mut failures = Failures::new();
    for mode in ["ro", "null", "text"] {
        check_guest(
            &mut failures,
            "segv_readonly",
            &[mode],
            b"",
            139,
            &mut || {},
        );
    }
    failures.finish("segv_readonly");
}

#[test]
fn bad_user_pointers_give_efault() {
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "efault",
        &[],
        b"stdin bytes for efault\n",
        0,
        &mut || {},
    );
    failures.finish("efault");
}
