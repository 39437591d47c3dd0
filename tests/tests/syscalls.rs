//! File and miscellaneous system calls through self-checking C guests:
//! `file_io` works in a fresh scratch directory (recreated before each run,
//! at the same path, so native and sentry see identical starting states),
//! `misc_sys` checks process, time, resource, poll and signal-state calls.

use tests::{Scratch, check_guest, remove_tree};

#[test]
fn file_io() {
    let scratch = Scratch::new("file_io");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    check_guest("file_io", &[arg.as_str()], b"", 0, &mut || {
        remove_tree(&dir);
        std::fs::create_dir(&dir).expect("create work dir");
    });
}

#[test]
fn misc_syscalls() {
    check_guest::<&str>("misc_sys", &[], b"", 0, &mut || {});
}
