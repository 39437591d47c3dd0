//! Threads, futexes and polling through self-checking C guests
//! (`rootfs/src/thr_*.c`), each run natively and under sentry, static and
//! static-PIE, with stdout and exit status compared.
//!
//! The guests: a mutex/condvar producer-consumer queue (`thr_queue`), futex
//! ping-pong between processes through a shared page and between threads
//! with private futexes (`thr_futex_pingpong`), epoll/poll/select over
//! pipes, an eventfd and a timerfd with a forked writer (`thr_epoll`),
//! execve from a non-main thread (`thr_exec`, which runs
//! `thr_exec_target`), 2,000 threads with TLS, detached threads,
//! cancellation and a main thread that exits first (`thr_many`), and the
//! bench's CPU-bound guest on a small input (`thr_bench_spin`), and
//! `/proc/self/task` and `/proc/thread-self` seen by each thread
//! (`thr_proc_task`), and `futex_waitv` over several words (`futex_waitv`).
//!
//! Guests print deterministic lines only (counts, sums and comparisons;
//! never pids or times). Every run has a short timeout of its own, so a guest
//! that hangs under sentry costs seconds, not the suite's default half
//! minute.

use std::time::Duration;

use tests::{Failures, Invocation, check_guest_within, guest_program, run_sentry};

/// The time limit of one run of a guest: each finishes in well under a
/// second natively.
const GUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks one guest with `args`.
fn check(name: &str, args: &[&str]) {
    let mut failures = Failures::new();
    check_guest_within(&mut failures, name, args, GUEST_TIMEOUT);
    failures.finish(name);
}

/// 4 producers and 4 consumers move 100,000 items through a 64-slot queue
/// guarded by a mutex and two condition variables.
#[test]
fn mutex_condvar_queue() {
    check("thr_queue", &[]);
}

/// 10,000 round trips through a shared futex between two processes, and
/// 10,000 through a private futex between two threads; futex error returns.
#[test]
fn futex_ping_pong_between_processes_and_threads() {
    check("thr_futex_pingpong", &[]);
}

/// Futex words and a condition variable in the heap keep working while the heap
/// grows by 64 MiB (the sentry may move the pages in its memory file); a word
/// in a private file mapping.
#[test]
fn futexes_survive_memory_moves() {
    check("thr_futex_moved", &[]);
}

/// epoll (level, edge, one-shot re-armed with MOD, hang-ups, blocking waits
/// woken by a child and by a thread), poll and select.
#[test]
fn epoll_poll_and_select() {
    check("thr_epoll", &[]);
}

/// execve from a non-main thread while other threads spin, sleep and wait:
/// the new image keeps the pid and runs alone. (Natively this takes a few
/// milliseconds; a shorter limit keeps an exec that never completes cheap.)
#[test]
fn exec_from_a_non_main_thread() {
    let target = guest_program("thr_exec_target");
    let mut failures = Failures::new();
    check_guest_within(
        &mut failures,
        "thr_exec",
        &[&target.display().to_string()],
        Duration::from_secs(5),
    );
    failures.finish("thr_exec");
}

/// `/proc/self/task` lists every thread, each `task/TID` directory and
/// `/proc/thread-self` show that thread (its tid, its blocked set), and
/// `/proc/self/status` counts the threads.
#[test]
fn proc_task_directories_and_thread_self() {
    check("thr_proc_task", &[]);
}

/// 1,000 threads one at a time and 1,000 fifty at a time with TLS checks,
/// detached threads, pthread_cancel in pthread_cond_wait, and a process that
/// exits 0 when its last thread ends after the main thread's pthread_exit.
#[test]
fn many_threads_tls_detach_cancel_and_main_exit() {
    check("thr_many", &[]);
}

/// The bench's CPU-bound guest computes the same checksum with 1 and 2
/// threads natively and under sentry (with a small input: this checks the
/// guest, the bench measures it).
#[test]
fn bench_spin_guest_computes_the_same() {
    let mut failures = Failures::new();
    for threads in ["1", "2"] {
        check_guest_within(
            &mut failures,
            "thr_bench_spin",
            &[threads, "1000000"],
            GUEST_TIMEOUT,
        );
    }
    failures.finish("thr_bench_spin");
}

/// The bench's futex guest completes under sentry and prints its metric
/// line (its figure differs from run to run, so only its form is checked).
#[test]
fn bench_pingpong_guest_prints_its_metric() {
    let mut inv = Invocation::new(guest_program("thr_bench_pingpong")).arg("1000");
    inv.timeout = GUEST_TIMEOUT;
    let sentry = run_sentry(&inv);
    let line = sentry.stdout_str();
    let figure = line
        .strip_prefix("round_trips_per_s ")
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(
        sentry.status == 0 && sentry.notes.is_empty() && figure.is_some_and(|f| f > 0.0),
        "thr_bench_pingpong under sentry: status {}, notes {:?}, stdout {line:?}, stderr {:?}",
        sentry.status,
        sentry.notes,
        sentry.stderr_str()
    );
}

/// `futex_waitv`: which word woke a thread or another process, EAGAIN, both clocks'
/// deadlines, EINTR and the argument checks.
#[test]
fn futex_waitv_on_several_words() {
    check("futex_waitv", &[]);
}
