//! Advisory file locks, kept by the sentry for the whole sandbox:
//!
//! - Three C guests compared with native runs, each in a fresh scratch directory:
//!   `lock_posix` (POSIX record locks: ranges, conflicts, F_GETLK reports, errors, the
//!   close-any-fd rule, fork, threads, exec, blocking waits, EINTR, EDEADLK, lockf,
//!   /proc/locks), `lock_ofd` (open file description locks and their conflicts with POSIX
//!   locks) and `lock_flock` (flock conversions, sharing, waits).
//! - Python's sqlite3 with four processes inserting into one database at once, with the
//!   rollback journal and in WAL mode: no row may be lost.
//! - util-linux's `flock(1)`.
//! - A lock taken in the sandbox never locks the host's file.

use std::time::Duration;
use tests::{
    Background, Compare, Failures, Invocation, Scratch, check_guest_in_scratch, check_same,
    python3, sentry_command,
};

#[test]
fn posix_record_locks() {
    check_guest_in_scratch("lock_posix");
}

#[test]
fn open_file_description_locks() {
    check_guest_in_scratch("lock_ofd");
}

#[test]
fn flock_locks() {
    check_guest_in_scratch("lock_flock");
}

/// Four processes each insert 250 rows, one transaction per row (`BEGIN IMMEDIATE`, so
/// that waiting for the write lock always goes through SQLite's busy handler), into one
/// database; then the count, the writers seen and an integrity check. SQLite serializes
/// the writers with fcntl record locks on the database (and, in WAL mode, on its `-shm`
/// file, which every process maps shared).
const SQLITE_WRITERS: &str = r#"
import os, sqlite3, sys
d = sys.argv[1]
for mode in ("delete", "wal"):
    db = os.path.join(d, mode + ".db")
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            os.unlink(db + suffix)
        except FileNotFoundError:
            pass
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("pragma journal_mode=" + mode)
    con.execute("create table t (worker int, n int)")
    con.close()
    pids = []
    for w in range(4):
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                c = sqlite3.connect(db, timeout=60, isolation_level=None)
                for n in range(250):
                    c.execute("begin immediate")
                    c.execute("insert into t values (?, ?)", (w, n))
                    c.execute("commit")
                c.close()
            except Exception as e:
                print("worker", w, e, file=sys.stderr)
                status = 1
            os._exit(status)
        pids.append(pid)
    failed = sum(os.waitpid(p, 0)[1] != 0 for p in pids)
    con = sqlite3.connect(db)
    mode_now = con.execute("pragma journal_mode").fetchone()[0]
    rows, workers = con.execute("select count(*), count(distinct worker) from t").fetchone()
    check = con.execute("pragma integrity_check").fetchone()[0]
    print(f"{mode_now}: {rows} rows from {workers} workers, {failed} failed, integrity {check}")
    con.close()
"#;

#[test]
fn sqlite_concurrent_writers_lose_no_rows() {
    let scratch = Scratch::new("locks-sqlite");
    let dir = scratch.path().display().to_string();
    let inv = Invocation::new(python3()).args(&["-c", SQLITE_WRITERS, &dir]);
    let mut failures = Failures::new();
    failures.check(check_same(
        "sqlite3 writers",
        &inv,
        Compare::default().with_stderr(),
    ));
    failures.finish("sqlite3 concurrent writers");
}

/// `flock(1)` holding a lock while a second `flock -n` tries it (exit 1), shared locks,
/// a lock on a shell fd, `-w` timing out (an alarm interrupting the wait), `-E`.
const FLOCK_TOOL: &str = r#"
export f="$1/lockfile"
: > "$f"
flock "$f" -c 'flock -n "$f" true; echo "exclusive while held: $?"'
flock -n "$f" true; echo "after release: $?"
flock -s "$f" -c 'flock -n -s "$f" true; echo "shared while shared: $?"; flock -n "$f" true; echo "exclusive while shared: $?"'
( flock -n 9 || exit 9; flock -n "$f" true; echo "held through fd 9: $?" ) 9>"$f"
flock -n "$f" true; echo "after the subshell: $?"
flock "$f" -c 'flock -w 0.2 "$f" true; echo "timed out: $?"'
flock -n "$f" -c 'flock -E 7 -n "$f" true; echo "conflict exit code: $?"'
"#;

#[test]
fn util_linux_flock() {
    assert!(
        ["/usr/bin", "/bin"]
            .iter()
            .any(|d| std::path::Path::new(d).join("flock").exists()),
        "flock (util-linux) is not installed on this host"
    );
    let scratch = Scratch::new("locks-flock1");
    let dir = scratch.path().display().to_string();
    let inv = Invocation::new("/bin/sh").args(&["-c", FLOCK_TOOL, "sh", &dir]);
    let mut failures = Failures::new();
    failures.check(check_same(
        "flock(1)",
        &inv,
        Compare::default().with_stderr(),
    ));
    failures.finish("util-linux flock");
}

/// Takes a flock and a POSIX record lock on the file argv[1], says so, and holds them
/// until stdin ends.
const HOLD_LOCKS: &str = r#"
import fcntl, sys
f = open(sys.argv[1], "r+")
fcntl.flock(f, fcntl.LOCK_EX)
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"#;

/// While a guest holds locks on a file of a read-write bind, the host can lock the same
/// file: the sandbox's locks live in the sentry only.
#[test]
fn sandbox_locks_never_lock_the_host_file() {
    let scratch = Scratch::new("locks-host");
    let file = scratch.join("held");
    std::fs::write(&file, b"data").expect("create the file");
    let dir = scratch.path().display().to_string();
    let file_arg = file.display().to_string();
    let inv = Invocation::new(python3());
    let bind = format!("{dir}:{dir}:rw");
    let mut guest = Background::spawn(sentry_command(
        &inv,
        &[
            "--clear-env",
            "--bind",
            &bind,
            python3(),
            "-c",
            HOLD_LOCKS,
            &file_arg,
        ],
    ));
    let lines = guest.stdout_lines();
    let said = lines.recv_timeout(Duration::from_secs(30));
    assert_eq!(said.as_deref(), Ok("locked"), "the guest did not lock");

    let host = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&file)
        .expect("open on the host");
    let record = libc::flock {
        l_type: libc::F_WRLCK as i16,
        l_whence: libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    let setlk = nix::fcntl::fcntl(&host, nix::fcntl::FcntlArg::F_SETLK(&record));
    let flocked = nix::fcntl::Flock::lock(host, nix::fcntl::FlockArg::LockExclusiveNonblock);

    drop(guest.child().stdin.take().expect("guest stdin"));
    let status = guest.wait_timeout(Duration::from_secs(30));
    assert_eq!(setlk, Ok(0), "the host's F_SETLK on the file");
    assert!(flocked.is_ok(), "the host's flock on the file failed");
    assert_eq!(status, Some(0), "the guest's exit");
}
