//! Memory use of one long-lived dynamic guest: Debian's `python3` (host
//! root) runs `subprocess.run(["/bin/true"])` 50 times inside one sentry,
//! printing a marker and blocking on stdin after iteration 10 and after
//! iteration 50. At each marker the test samples the sentry's resident set
//! (`VmRSS` of `/proc/<sentry>/status`) and the space allocated to its guest
//! memory file (the fd whose link names `memfd:sentry-memory`, `st_blocks *
//! 512`). Forty fork+exec+wait cycles of a dynamic binary must not grow either
//! by 10 MiB or more: libc's and python's pages come from the page cache, and
//! every exited child's memory must be returned.

use std::time::Duration;

use tests::Invocation;
use tests::memory_watch::{MemoryWatch, assert_memory_flat};

/// The largest growth allowed between the two markers, per figure.
const LIMIT: u64 = 10 << 20;

const PROGRAM: &str = r#"import subprocess, sys
for i in range(1, 51):
    r = subprocess.run(["/bin/true"])
    if r.returncode != 0:
        sys.exit(f"/bin/true exited {r.returncode} at iteration {i}")
    if i in (10, 50):
        print(f"mark {i}", flush=True)
        sys.stdin.readline()
print("finished")
"#;

#[test]
fn python_subprocess_loop_does_not_leak() {
    let inv = Invocation::new("/usr/bin/python3").args(&["-c", PROGRAM]);
    assert_memory_flat(&MemoryWatch {
        inv: &inv,
        marks: ["mark 10", "mark 50"],
        mark_timeout: Duration::from_secs(60),
        limit: LIMIT,
    });
}
