//! Less common syscalls through self-describing C guests (`sys_*`), each run natively and
//! under sentry with the outputs compared: getdents and extended attributes; NUMA memory
//! policy, scheduling attributes and I/O priorities; sendmmsg/recvmmsg; splice, tee and
//! vmsplice; openat2; pidfds and kcmp. The guests print results and errno names only, so
//! the host kernel's own answers are the reference.

use tests::{Failures, Scratch, check_guest, remove_tree};

/// Runs guest `name` with a fresh, empty work directory as its argument.
fn check_in_scratch(name: &str) {
    let scratch = Scratch::new(name);
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(&mut failures, name, &[&arg], b"", 0, &mut || {
        remove_tree(&dir);
        std::fs::create_dir(&dir).expect("create work dir");
    });
    failures.finish(name);
}

#[test]
fn getdents_and_extended_attributes() {
    check_in_scratch("sys_dirents_xattr");
}

#[test]
fn numa_policies_scheduling_and_io_priorities() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "sys_numa_sched", &[], b"", 0, &mut || {});
    failures.finish("sys_numa_sched");
}

#[test]
fn sendmmsg_and_recvmmsg() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "sys_mmsg", &[], b"", 0, &mut || {});
    failures.finish("sys_mmsg");
}

#[test]
fn splice_tee_and_vmsplice() {
    check_in_scratch("sys_splice");
}

#[test]
fn openat2_resolve_rules() {
    check_in_scratch("sys_openat2");
}
