//! Guest memory: the address-space syscalls (`mm_semantics`), a large
//! anonymous mapping (`big_anon`), stores the protections forbid
//! (`segv_readonly`) and bad user pointers handed to syscalls (`efault`).
//! Each C program runs natively and under sentry, static and static-PIE,
//! and the outputs and exit statuses must match.

use tests::check_guest;

#[test]
fn mm_semantics() {
    check_guest::<&str>("mm_semantics", &[], b"", 0, &mut || {});
}

#[test]
fn big_anonymous_mapping() {
    check_guest::<&str>("big_anon", &[], b"", 0, &mut || {});
}

/// The store faults, the guest dies of SIGSEGV: status 128 + 11, with the
/// line printed (and flushed) before the store still on stdout.
#[test]
fn store_to_readonly_memory_kills_with_sigsegv() {
    for mode in ["ro", "null", "text"] {
        check_guest("segv_readonly", &[mode], b"", 139, &mut || {});
    }
}

#[test]
fn bad_user_pointers_give_efault() {
    check_guest::<&str>("efault", &[], b"stdin bytes for efault\n", 0, &mut || {});
}
