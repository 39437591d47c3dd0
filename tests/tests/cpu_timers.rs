//! CPU-time clocks and timers, `RLIMIT_CPU`, per-thread names and
//! `/proc/<tid>` through a self-checking C guest (`rootfs/src/cpu_timers.c`),
//! run natively and under sentry, static and static-PIE, with stdout and
//! exit status compared.
//!
//! The guest spins to use CPU time and prints only whether signals came and
//! whether times and counts are within generous bounds: ITIMER_VIRTUAL and
//! ITIMER_PROF (SIGVTALRM/SIGPROF with SI_KERNEL, intervals, getitimer's
//! remaining time, none inherited by fork), the process, thread and
//! `clock_getcpuclockid`/`pthread_getcpuclockid` clocks, POSIX timers on
//! them (SI_TIMER, overruns, thread-directed, absolute expiries),
//! `clock_nanosleep` on a CPU clock (and the EINVAL/EOPNOTSUPP cases), a
//! child killed at its RLIMIT_CPU hard limit after one SIGXCPU, thread names
//! through `prctl`, `pthread_setname_np` and `/proc/.../comm`, the name exec
//! gives, and `/proc/<tid>` of a thread that is not listed in `/proc`.

use std::time::Duration;

use tests::{Failures, check_guest_within};

/// The time limit of one run: about 5 s natively, 2 of them the RLIMIT_CPU
/// child's CPU time.
const GUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The whole guest, static and static-PIE.
#[test]
fn cpu_timers_rlimit_cpu_thread_names_and_proc_tid() {
    let mut failures = Failures::new();
    check_guest_within(&mut failures, "cpu_timers", &[], GUEST_TIMEOUT);
    failures.finish("cpu_timers");
}
