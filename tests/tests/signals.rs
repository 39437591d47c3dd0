//! Signals and timers through self-checking C guests (`rootfs/src/sig_*.c`)
//! and a few busybox `sh` cases.
//!
//! Each guest prints deterministic lines (never pids or times; a timing
//! shows only as whether it is within a generous bound) and runs natively
//! and under sentry, static and static-PIE; stdout and exit status must
//! match. The guests cover fault handlers that repair or escape a SIGSEGV
//! (`sig_segv_repair`), AVX state across handlers and in the rt_sigframe
//! (`sig_avx`), EINTR and SA_RESTART (`sig_alarm_eintr`), sigsuspend,
//! sigwaitinfo/sigtimedwait, the handler flags, sigaltstack and signalfd
//! (`sig_suspend_wait`), the masks of pselect6/ppoll/epoll_pwait
//! (`sig_wait_mask`), job-control stops seen through wait (`sig_stopcont`)
//! and POSIX timers, interval timers, alarm and timerfd (`sig_timers`).
//!
//! Every run has a short timeout of its own, so a guest that hangs under
//! sentry costs seconds, not the suite's default half minute.

use std::time::{Duration, Instant};

use tests::{
    Compare, Failures, Invocation, check_guest_within, compare, rootfs, run_native, run_sentry,
};

/// The time limit of one run of a guest: each finishes in about 2 s
/// natively.
const GUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Checks one guest that takes no arguments.
fn check(name: &str) {
    let mut failures = Failures::new();
    check_guest_within(&mut failures, name, &[], GUEST_TIMEOUT);
    failures.finish(name);
}

/// SIGSEGV with SA_SIGINFO: SEGV_ACCERR/SEGV_MAPERR with the exact si_addr,
/// the page-fault trap number and error code in the ucontext, a handler that
/// mprotects and returns (the access is retried), and siglongjmp out.
#[test]
fn segv_handler_repairs_or_escapes_the_fault() {
    check("sig_segv_repair");
}

/// A forked child keeps the sigaltstack (its handlers run on it); a new
/// thread starts without one.
#[test]
fn altstack_across_fork_and_threads() {
    check("sig_altstack_fork");
}

/// Handlers that use AVX leave the interrupted code's YMM registers and
/// MXCSR intact, across synchronous and asynchronous signals; the frame
/// holds the XSAVE state, and edits to it are loaded by rt_sigreturn.
#[test]
fn avx_state_survives_signal_handlers() {
    check("sig_avx");
}

/// SIGALRM interrupting read, waitpid, nanosleep, pause, poll and select,
/// with and without SA_RESTART; ignored and blocked signals interrupt
/// nothing.
#[test]
fn alarm_interrupts_blocking_calls() {
    check("sig_alarm_eintr");
}

/// sigsuspend, sigwaitinfo/sigtimedwait (SI_USER, SI_QUEUE with values,
/// real-time queueing, timeouts), sigpending, SA_RESETHAND, SA_NODEFER,
/// sigaltstack with SA_ONSTACK, and signalfd.
#[test]
fn suspend_wait_and_handler_flags() {
    check("sig_suspend_wait");
}

/// The signal masks of pselect6, ppoll and epoll_pwait: a pending signal they unblock
/// (a child's SIGCHLD, as GNU make -j waits) ends the wait unless an fd is ready; the
/// raw calls write the time left back to their timeout.
#[test]
fn wait_calls_with_a_signal_mask() {
    check("sig_wait_mask");
}

/// SIGSTOP/SIGTSTP/SIGCONT/SIGKILL of a child as waitpid(WUNTRACED |
/// WCONTINUED), waitid(WSTOPPED | WCONTINUED) and the parent's SIGCHLD see
/// them.
#[test]
fn stop_and_continue_children() {
    check("sig_stopcont");
}

/// POSIX timers (SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE, overruns,
/// timer_gettime, timer_delete), ITIMER_REAL, alarm() and timerfd.
#[test]
fn posix_timers_itimers_alarm_and_timerfd() {
    check("sig_timers");
}

/// `busybox sh -c SCRIPT` with the rootfs' applets first on `PATH`, so the
/// script runs the same programs natively and under sentry.
fn shell(script: &str) -> Invocation {
    let root = rootfs();
    let path = ["bin", "sbin", "usr/bin", "usr/sbin"]
        .iter()
        .map(|d| root.join(d).display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let mut inv = Invocation::busybox(&["sh", "-c", script]).env("PATH", &path);
    inv.timeout = GUEST_TIMEOUT;
    inv
}

/// Killing a background `sleep 10` and waiting for it reports 143, and it
/// is prompt: the kill must wake the sleeper, so the sentry run stays well
/// under the sleep's 10 s (the bound is 1 s of wall time).
#[test]
fn shell_kills_a_background_sleep_promptly() {
    let inv = shell("sleep 10 & kill $!; wait $!; echo $?");
    let native = run_native(&inv);
    let start = Instant::now();
    let sentry = run_sentry(&inv);
    let wall = start.elapsed();
    let mut failures = Failures::new();
    // stdout and status only: whether ash reports the job as "Terminated" on stderr
    // before `wait` returns is a race in the shell itself, natively too.
    failures.check(compare(
        &inv.describe(),
        &native,
        &sentry,
        Compare::default(),
    ));
    failures.check(if wall < Duration::from_secs(1) {
        Ok(())
    } else {
        Err(format!(
            "--- {}: the sentry run took {wall:?}, the bound is 1 s",
            inv.describe()
        ))
    });
    failures.finish("sleep & kill");
}

/// `timeout` killing its child with SIGTERM (Debian's busybox prints 143,
/// GNU coreutils' `timeout` exits 124), and a shell trap running for a signal
/// the shell sends itself.
#[test]
fn shell_timeout_and_trap() {
    let mut failures = Failures::new();
    let mut gnu = Invocation::new("/usr/bin/timeout").args(&["1", "/usr/bin/sleep", "5"]);
    gnu.timeout = GUEST_TIMEOUT;
    let native = run_native(&gnu);
    failures.check(if native.status == 124 {
        Ok(())
    } else {
        Err(format!(
            "--- native GNU timeout exited {}, not 124",
            native.status
        ))
    });
    failures.check(compare(
        &gnu.describe(),
        &native,
        &run_sentry(&gnu),
        Compare::default().with_stderr(),
    ));
    for script in [
        "timeout 1 sleep 5; echo $?",
        "trap 'echo got' USR1; kill -USR1 $$; echo after",
    ] {
        let inv = shell(script);
        let native = run_native(&inv);
        let sentry = run_sentry(&inv);
        failures.check(compare(
            &inv.describe(),
            &native,
            &sentry,
            Compare::default().with_stderr(),
        ));
    }
    failures.finish("timeout and trap");
}
