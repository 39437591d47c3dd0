//! Processes: fork, vfork, posix_spawn, execve failures, wait statuses,
//! orphans, process groups and sessions, guest pid numbering, and memory use
//! over a long fork+exec loop.
//!
//! The self-checking C guests (`rootfs/src/proc_*.c`) run natively and under
//! sentry, static and static-PIE, and must print the same lines and exit
//! alike; a guest that writes files gets a fresh scratch directory at the
//! same path for every run. Pid numbers differ between the host and the
//! sentry by design, so the guests print relations, except `proc_pids`,
//! whose sentry output is checked against the spec (first process pid 1 with
//! parent 0, children 2, 3, ...). The memory test drives one sentry through
//! 2,000 fork+exec+wait cycles and samples its resident set and the space
//! allocated to its guest-memory memfd along the way.

use std::time::Duration;

use tests::memory_watch::{MemoryWatch, assert_memory_flat};
use tests::{
    Failures, Invocation, Scratch, check_guest, guest_program, lines, remove_tree, rootfs,
    run_native, run_sentry,
};

#[test]
fn fork_copies_private_memory_and_shares_the_rest() {
    let scratch = Scratch::new("proc_fork_memory");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "proc_fork_memory",
        &[&arg],
        b"",
        0,
        &mut || {
            remove_tree(&dir);
            std::fs::create_dir(&dir).expect("create work dir");
        },
    );
    failures.finish("proc_fork_memory");
}

#[test]
fn vfork_suspends_the_parent_and_posix_spawn_runs_programs() {
    let scratch = Scratch::new("proc_vfork");
    let file = scratch.join("spawned.txt");
    let root = rootfs().display().to_string();
    let file_arg = file.display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "proc_vfork",
        &[&root, &file_arg],
        b"",
        0,
        &mut || {
            let _ = std::fs::remove_file(&file);
        },
    );
    failures.finish("proc_vfork");
}

#[test]
fn failed_execve_returns_the_linux_errno_and_the_caller_runs_on() {
    let scratch = Scratch::new("proc_exec_errors");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let true_bin = rootfs().join("bin/true").display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "proc_exec_errors",
        &[&arg, &true_bin],
        b"",
        0,
        &mut || {
            remove_tree(&dir);
            std::fs::create_dir(&dir).expect("create work dir");
        },
    );
    failures.finish("proc_exec_errors");
}

#[test]
fn wait_statuses_orphans_and_process_groups() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "proc_wait", &[], b"", 0, &mut || {});
    failures.finish("proc_wait");
}

/// The first guest process is pid 1 and its parent is 0; its children are
/// numbered 2, 3, ... in fork order. Natively only the relations are checked.
/// Start times, the boot time, uptime, CPU times and the stopped state in
/// /proc agree with each other and with the clock, as ps and top read them.
#[test]
fn proc_times_and_states() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "proc_times", &[], b"", 0, &mut || {});
    failures.finish("proc_times");
}

#[test]
fn guest_pids_start_at_one() {
    let expected = [
        "getpid=1",
        "getppid=0",
        "first_child=2",
        "first_child_getpid=2",
        "first_child_getppid=1",
        "second_child=3",
        "second_child_getppid=1",
        "relations: ok",
    ];
    let mut failures = Failures::new();
    for variant in ["proc_pids", "proc_pids-pie"] {
        let inv = Invocation::new(guest_program(variant));
        let native = run_native(&inv);
        failures.check(
            if native.status == 0
                && lines(&native.stdout).last().map(String::as_str) == Some("relations: ok")
            {
                Ok(())
            } else {
                Err(format!(
                    "--- native {variant}: the test program is broken (status {})\n{}{}",
                    native.status,
                    native.stdout_str(),
                    native.stderr_str()
                ))
            },
        );
        let sentry = run_sentry(&inv);
        let got = lines(&sentry.stdout);
        failures.check(
            if sentry.status == 0 && sentry.notes.is_empty() && got == expected {
                Ok(())
            } else {
                Err(format!(
                    "--- {variant} under sentry: status {}, notes {:?}\n  expected: {expected:?}\n  got:      {got:?}\n  stderr: {}",
                    sentry.status,
                    sentry.notes,
                    sentry.stderr_str()
                ))
            },
        );
    }
    failures.finish("pid numbering");
}

/// One sentry runs a busybox sh loop of 2,000 fork+exec+wait cycles of
/// `<rootfs>/bin/true`. After iterations 200 and 2000 the guest prints a
/// marker and blocks on `read`; the test samples the sentry's memory there.
/// Neither the resident set nor the memfd space may grow by 10 MiB or more
/// between the two marks: exited processes must give their memory back.
#[test]
fn memory_stays_flat_over_2000_processes() {
    const LIMIT: u64 = 10 << 20;
    let true_bin = rootfs().join("bin/true");
    let script = format!(
        "i=0\n\
         while [ $i -lt 2000 ]; do\n\
         \x20 {} || exit 1\n\
         \x20 i=$((i+1))\n\
         \x20 if [ $i -eq 200 ] || [ $i -eq 2000 ]; then echo mark $i; read line; fi\n\
         done\n\
         echo finished\n",
        true_bin.display()
    );
    let inv = Invocation::busybox(&["sh", "-c", &script]);
    assert_memory_flat(&MemoryWatch {
        inv: &inv,
        marks: ["mark 200", "mark 2000"],
        mark_timeout: Duration::from_secs(180),
        limit: LIMIT,
    });
}
