//! System V IPC, answered by the sentry's own IPC namespace:
//!
//! - Three self-checking C guests compared with native runs: `ipc_shm` (segments, attach
//!   and detach, attach counts across fork, exec and exit, removal while attached),
//!   `ipc_sem` (atomic operations, waiting across fork, FIFO wake-ups, `SEM_UNDO`,
//!   timeouts, signals) and `ipc_msg` (type selection, truncation, full queues, waiting
//!   senders and receivers). Each gets a fresh scratch directory for its `ftok` keys;
//!   native runs use the host's IPC namespace and remove everything they create.
//! - util-linux's `ipcmk`, `ipcs` and `ipcrm` in a shell, compared with native.
//! - The guest memory limit applies to segments.

use tests::{
    Compare, Failures, Invocation, Scratch, check_guest, check_same, os, remove_tree,
    run_sentry_with,
};

fn self_checking_guest(name: &str) {
    let scratch = Scratch::new(name);
    let dir = scratch.join("keys");
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(&mut failures, name, &[&arg], b"", 0, &mut || {
        remove_tree(&dir);
        std::fs::create_dir(&dir).expect("create key dir");
    });
    failures.finish(name);
}

#[test]
fn shared_memory() {
    self_checking_guest("ipc_shm");
}

#[test]
fn semaphores() {
    self_checking_guest("ipc_sem");
}

#[test]
fn message_queues() {
    self_checking_guest("ipc_msg");
}

/// Creates a segment, a semaphore set and a queue with `ipcmk`, shows them with `ipcs`
/// (without ids, pids and times, which differ between runs) and removes them with `ipcrm`.
const IPC_TOOLS: &str = r#"
id=$(ipcmk -M 4096 | awk '{print $NF}')
ipcs -m -i "$id" | grep -E '^(uid|mode|bytes)' | sed 's/cpid=[0-9]*//'
ipcs -m | awk -v id="$id" '$2 == id {print $4, $5, $6}'
sid=$(ipcmk -S 3 -p 0600 | awk '{print $NF}')
ipcs -s -i "$sid" | grep -E '^(mode|nsems|[0-9])' | awk '{print $1, $2, $3, $4}'
qid=$(ipcmk -Q -p 0640 | awk '{print $NF}')
ipcs -q | awk -v id="$qid" '$2 == id {print $4, $5, $6}'
ipcs -l
ipcrm -m "$id" -s "$sid" -q "$qid" && echo removed
ipcs -m | awk -v id="$id" '$2 == id' | wc -l
"#;

#[test]
fn util_linux_ipc_tools() {
    for tool in ["ipcmk", "ipcs", "ipcrm"] {
        assert!(
            ["/usr/bin", "/bin"]
                .iter()
                .any(|d| std::path::Path::new(d).join(tool).exists()),
            "{tool} (util-linux) is not installed on this host"
        );
    }
    let inv = Invocation::new("/bin/sh").args(&["-c", IPC_TOOLS]);
    let mut failures = Failures::new();
    failures.check(check_same("ipc tools", &inv, Compare::default()));
    failures.finish("util-linux ipc tools");
}

/// `--memory 64M`: a segment larger than the limit is refused (ENOMEM), a small one is
/// not.
#[test]
fn memory_limit_applies_to_segments() {
    let script = "ipcmk -M 1073741824 2>&1 | sed 's/^ipcmk: //'; \
                  id=$(ipcmk -M 1048576 | awk '{print $NF}') && ipcrm -m \"$id\" && echo small ok";
    let inv = Invocation::new("/bin/sh").args(&["-c", script]);
    let out = run_sentry_with(&inv, &[os("--memory"), os("64M")]);
    assert!(
        out.status == 0
            && out.notes.is_empty()
            && out.stdout_str() == "create share memory failed: Cannot allocate memory\nsmall ok\n",
        "--memory 64M, ipcmk -M 1G then 1M: want the first refused with ENOMEM, the second \
         made; got status {}, stdout {:?}, stderr {:?}, notes {:?}",
        out.status,
        out.stdout_str(),
        out.stderr_str(),
        out.notes
    );
}
