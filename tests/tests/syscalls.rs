//! File and miscellaneous system calls through self-checking C guests:
//! `file_io` works in a fresh scratch directory (recreated before each run,
//! at the same path, so native and sentry see identical starting states),
//! `misc_sys` checks process, time, resource, poll and signal-state calls,
//! `vsyscall` calls the legacy vsyscall page as old static binaries do.

use tests::{Failures, Scratch, check_guest, remove_tree};

#[test]
fn file_io() {
    let scratch = Scratch::new("file_io");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(&mut failures, "file_io", &[&arg], b"", 0, &mut || {
        remove_tree(&dir);
        std::fs::create_dir(&dir).expect("create work dir");
    });
    failures.finish("file_io");
}

#[test]
fn misc_syscalls() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "misc_sys", &[], b"", 0, &mut || {});
    failures.finish("misc_sys");
}

#[test]
fn legacy_vsyscall_page() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "vsyscall", &[], b"", 0, &mut || {});
    failures.finish("vsyscall");
}
