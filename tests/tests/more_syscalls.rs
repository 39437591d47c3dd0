//! Less common syscalls through self-describing C guests (`sys_*`), each run natively and
//! under sentry with the outputs compared: getdents and extended attributes; NUMA memory
//! policy, scheduling attributes and I/O priorities; sendmmsg/recvmmsg; splice, tee and
//! vmsplice; openat2; pidfds and kcmp; memfd seals; UTS names and adjtimex; POSIX message
//! queues; Linux native AIO. The guests print results and errno names only, so the host
//! kernel's own answers are the reference.

use tests::{Failures, check_guest, check_guest_in_scratch};

#[test]
fn getdents_and_extended_attributes() {
    check_guest_in_scratch("sys_dirents_xattr");
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
    check_guest_in_scratch("sys_splice");
}

#[test]
fn openat2_resolve_rules() {
    check_guest_in_scratch("sys_openat2");
}

#[test]
fn memfd_seals() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "memfd_seals", &[], b"", 0, &mut || {});
    failures.finish("memfd_seals");
}

#[test]
fn host_names_and_clock_discipline() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "uts_clock", &[], b"", 0, &mut || {});
    failures.finish("uts_clock");
}

#[test]
fn posix_message_queues() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "mqueue", &[], b"", 0, &mut || {});
    failures.finish("mqueue");
}

#[test]
fn linux_native_aio() {
    check_guest_in_scratch("aio");
}

#[test]
fn pidfds_and_kcmp() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "sys_pidfd", &[], b"", 0, &mut || {});
    failures.finish("sys_pidfd");
}
