//! seccomp for guests, answered entirely by the sentry: `seccomp(2)` and
//! `prctl(PR_SET_SECCOMP)` with raw classic BPF, through the `seccomp_filter`
//! guest.
//!
//! - Compared with native runs (static and static-PIE): filter actions (ERRNO,
//!   TRAP with the SIGSYS a handler sees, KILL_PROCESS, KILL_THREAD, TRACE and
//!   USER_NOTIF without a tracer or listener, LOG), stacking precedence, strict
//!   mode, inheritance across fork and execve, no_new_privs and the
//!   capability check, TSYNC, invalid programs, GET_ACTION_AVAIL and vsyscall
//!   calls. Each scenario runs in a child of its own and prints what it saw.
//! - Sentry only, against fixed text: what deliberately differs from a kernel
//!   with user notification (the sentry answers as Linux before 5.0), the
//!   `--strace` lines of filtered calls, and the `sentry syscalls` entry.

use std::process::Command;

use tests::{Failures, Invocation, check_guest, contains, guest_program, run_sentry, sentry_bin};

#[test]
fn filters_and_strict_mode_behave_as_on_linux() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "seccomp_filter", &[], b"", 0, &mut || {});
    failures.finish("seccomp_filter");
}

#[test]
fn user_notification_is_absent_as_before_linux_5_0() {
    let out = run_sentry(&Invocation::new(guest_program("seccomp_filter")).arg("notif"));
    let want = "GET_ACTION_AVAIL USER_NOTIF: -1 errno 95\n\
                GET_NOTIF_SIZES: -1 errno 22\n\
                NEW_LISTENER: -1 errno 22\n\
                WAIT_KILLABLE_RECV: -1 errno 22\n";
    assert_eq!(
        (out.status, out.stdout_str().as_str(), &out.notes[..]),
        (0, want, &[][..]),
        "stderr: {}",
        out.stderr_str()
    );
}

#[test]
fn strace_shows_filtered_calls() {
    let inv = Invocation::new(guest_program("seccomp_filter")).arg("strace");
    let out = tests::run_sentry_with(&inv, &["--strace"]);
    // Killed by SIGSYS (KILL_PROCESS on getppid).
    assert_eq!(out.status, 128 + 31, "stderr: {}", out.stderr_str());
    for line in [
        "seccomp(SECCOMP_SET_MODE_FILTER, 0, 0x",
        "getpid() = -1 EPERM (Operation not permitted) (seccomp)",
        "getppid() = ? (seccomp)",
    ] {
        assert!(
            contains(&out.stderr, line),
            "no `{line}` in the strace output:\n{}",
            out.stderr_str()
        );
    }
}

#[test]
fn syscall_report_lists_seccomp() {
    let out = Command::new(sentry_bin())
        .arg("syscalls")
        .output()
        .expect("run sentry syscalls");
    let report = String::from_utf8_lossy(&out.stdout);
    let line = report
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("seccomp"))
        .expect("a seccomp line");
    assert!(
        line.starts_with(" 317 seccomp") && line.contains("partial: no user notification"),
        "{line}"
    );
}
