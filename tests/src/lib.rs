//! Shared helpers for the end-to-end tests: run a command natively and under
//! `sentry run` with the same argv, environment, cwd and stdin, and compare.
//!
//! - Paths: [`sentry_bin`] (env `SENTRY_BIN`, else `target/release/sentry`),
//!   [`rootfs`] (env `SENTRY_ROOTFS`, else `rootfs/`), [`busybox`],
//!   [`guest_program`]. A missing prerequisite is a panic that says what to
//!   build; no test is ever skipped.
//! - Running: an [`Invocation`] is run by [`run_native`] or [`run_sentry`]
//!   into an [`Outcome`] (stdout, stderr, shell-style exit status). Every run
//!   has a timeout after which its whole process group is killed, so a test
//!   never hangs; after a sentry run, any process it left behind (anything in
//!   its process group, or a stub process with no sentry above it) is
//!   reported as a failure.
//! - Comparing: [`compare`] / [`assert_same`] print both sides readably;
//!   [`Failures`] collects mismatches so one bad case does not hide the rest.
//! - Files: [`Scratch`] directories (removed on drop), [`snapshot`] of a tree,
//!   fixed mtimes, deterministic pseudo-random data.
//!
//! This crate must not depend on the kernel crates: the tests see sentry only
//! through its command line, as a user does.

pub mod memory_watch;

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

/// How long one run may take before its process group is killed.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How long processes left in a finished sentry's process group get to die
/// (stubs are killed by `PTRACE_O_EXITKILL`, asynchronously) before they are
/// reported as strays.
const STRAY_GRACE: Duration = Duration::from_secs(5);

/// The workspace root (the parent of this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate lives inside the workspace")
        .to_path_buf()
}

/// The sentry binary: `$SENTRY_BIN`, else `<workspace>/target/release/sentry`.
///
/// Panics with instructions if it does not exist.
pub fn sentry_bin() -> PathBuf {
    let path = std::env::var_os("SENTRY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/release/sentry"));
    assert!(
        path.is_file(),
        "sentry binary not found at {} (build it with `make build`, or set SENTRY_BIN)",
        path.display()
    );
    path
}

/// The guest root built by `make rootfs`: `$SENTRY_ROOTFS`, else
/// `<workspace>/rootfs`, made absolute.
///
/// Panics with instructions if busybox is not in it.
pub fn rootfs() -> PathBuf {
    let path = std::env::var_os("SENTRY_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("rootfs"));
    assert!(
        path.join("bin/busybox").is_file(),
        "rootfs not built: {}/bin/busybox is missing (run `make rootfs`, or set SENTRY_ROOTFS)",
        path.display()
    );
    std::path::absolute(&path).expect("absolute rootfs path")
}

/// The static busybox binary inside [`rootfs`].
pub fn busybox() -> PathBuf {
    rootfs().join("bin/busybox")
}

/// A test program compiled from `rootfs/src/NAME.c` (`NAME` or `NAME-pie`).
///
/// Panics with instructions if it has not been built.
pub fn guest_program(name: &str) -> PathBuf {
    let path = rootfs().join("test").join(name);
    assert!(
        path.is_file(),
        "test program {} not built (run `make rootfs`)",
        path.display()
    );
    path
}

/// The environment every run gets, natively and in the guest: small, fixed,
/// and independent of the environment `cargo test` was started with.
pub fn fixed_env() -> Vec<(String, String)> {
    [
        ("HOME", "/root"),
        ("LC_ALL", "C"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"),
        ("TZ", "UTC"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One command to run: argv, cwd, environment, stdin bytes and a timeout.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The program: a path, or a bare name looked up in `PATH`. Also argv[0].
    pub program: OsString,
    /// argv[1..].
    pub args: Vec<OsString>,
    /// Working directory of the run.
    pub cwd: PathBuf,
    /// The complete environment (see [`fixed_env`]), in order.
    pub env: Vec<(String, String)>,
    /// Bytes written to stdin, which is then closed.
    pub stdin: Vec<u8>,
    /// Time limit of the run.
    pub timeout: Duration,
}

impl Invocation {
    /// `program` with no arguments, cwd `/`, the fixed environment, empty stdin.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Invocation {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: PathBuf::from("/"),
            env: fixed_env(),
            stdin: Vec::new(),
            timeout: TIMEOUT,
        }
    }

    /// `<rootfs>/bin/busybox` with `args` (the first one names the applet).
    pub fn busybox<S: AsRef<OsStr>>(args: &[S]) -> Self {
        Invocation::new(busybox()).args(args)
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Self {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = dir.as_ref().to_path_buf();
        self
    }

    /// Sets (adds or replaces) one environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets the bytes fed to stdin.
    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.stdin = bytes.as_ref().to_vec();
        self
    }

    /// The command line, shell-quoted, for messages.
    pub fn describe(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn shell_quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What a run produced.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// Exit status as a shell reports it: the exit code, or 128+N when killed
    /// by signal N.
    pub status: i32,
    /// Problems of the run itself (timeout, processes left behind, output
    /// pipe held open); a run with notes never compares equal.
    pub notes: Vec<String>,
}

impl Outcome {
    /// stdout as (lossy) UTF-8.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as (lossy) UTF-8.
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `inv` directly on the host.
pub fn run_native(inv: &Invocation) -> Outcome {
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args)
        .env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&inv.cwd);
    run_command(cmd, &inv.stdin, inv.timeout, false)
}

/// Runs `inv` as `sentry run --clear-env --env K=V... PROGRAM ARGS...` with
/// the default root `/`, started in `inv.cwd`: the guest sees exactly the
/// argv, environment, cwd and stdin that [`run_native`] gives the program.
pub fn run_sentry(inv: &Invocation) -> Outcome {
    run_sentry_with(inv, &[] as &[&str])
}

/// Like [`run_sentry`], with `options` inserted before PROGRAM
/// (e.g. `--strace`, `--root DIR`).
pub fn run_sentry_with<S: AsRef<OsStr>>(inv: &Invocation, options: &[S]) -> Outcome {
    // The guest's root is a read-only overlay of the host by default; the scratch
    // directories (under the temp dir) are shared read-write so that file effects can be
    // compared with the native run's.
    let tmp = scratch_base();
    let mut run_args: Vec<OsString> = vec![
        "--clear-env".into(),
        "--bind".into(),
        format!("{}:{}:rw", tmp.display(), tmp.display()).into(),
    ];
    for (k, v) in &inv.env {
        run_args.push("--env".into());
        run_args.push(format!("{k}={v}").into());
    }
    run_args.extend(options.iter().map(|o| o.as_ref().to_owned()));
    run_args.push(inv.program.clone());
    run_args.extend(inv.args.iter().cloned());
    run_sentry_raw(inv, &run_args)
}

/// Runs `sentry run RUN_ARGS...` exactly as given; only cwd, the sentry's own
/// environment (`inv.env`), stdin and timeout come from `inv`.
pub fn run_sentry_raw<S: AsRef<OsStr>>(inv: &Invocation, run_args: &[S]) -> Outcome {
    run_command(sentry_command(inv, run_args), &inv.stdin, inv.timeout, true)
}

/// The `Command` for `sentry run RUN_ARGS...` in `inv.cwd` with environment
/// `inv.env` (plus `RUST_LOG`/`RUST_BACKTRACE` from the test's environment,
/// for debugging), for tests that talk to a running sentry themselves.
pub fn sentry_command<S: AsRef<OsStr>>(inv: &Invocation, run_args: &[S]) -> Command {
    let mut cmd = Command::new(sentry_bin());
    cmd.arg("run")
        .args(run_args)
        .env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&inv.cwd);
    for key in ["RUST_LOG", "RUST_BACKTRACE"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd
}

/// Runs `cmd` in a new process group with piped stdio, feeding it `stdin`.
///
/// On timeout the process group is killed and a note is recorded. With
/// `check_strays`, processes still in the group after the leader exited are
/// waited for briefly, then reported in the notes and killed.
pub fn run_command(
    mut cmd: Command,
    stdin: &[u8],
    timeout: Duration,
    check_strays: bool,
) -> Outcome {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
    let pid = Pid::from_raw(child.id() as i32);
    let mut notes = Vec::new();

    let mut input = child.stdin.take().expect("piped stdin");
    let bytes = stdin.to_vec();
    // A child that never reads its stdin makes this fail with EPIPE: fine.
    thread::spawn(move || drop(input.write_all(&bytes)));
    let stdout = read_in_background(child.stdout.take().expect("piped stdout"));
    let stderr = read_in_background(child.stderr.take().expect("piped stderr"));

    let exited = exit_notifier(pid);
    if exited.recv_timeout(timeout).is_err() {
        notes.push(format!("timed out after {timeout:?}; process group killed"));
        let _ = killpg(pid, Signal::SIGKILL);
        let _ = exited.recv();
    }
    if check_strays {
        let strays = wait_for_leftovers(pid, STRAY_GRACE);
        if !strays.is_empty() {
            notes.push(format!(
                "processes left running after sentry exited: {}",
                strays.join("; ")
            ));
            let _ = killpg(pid, Signal::SIGKILL);
        }
    }
    let status = child.wait().expect("reap child");
    let status = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1);

    let mut collect = |rx: mpsc::Receiver<Vec<u8>>, name: &str| {
        rx.recv_timeout(Duration::from_secs(5)).unwrap_or_else(|_| {
            notes.push(format!(
                "{name} still open after exit; process group killed"
            ));
            let _ = killpg(pid, Signal::SIGKILL);
            rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
        })
    };
    let stdout = collect(stdout, "stdout");
    let stderr = collect(stderr, "stderr");
    Outcome {
        stdout,
        stderr,
        status,
        notes,
    }
}

/// A channel that receives `()` once child `pid` has exited. The child is not
/// reaped (WNOWAIT): its pid, and so its process group id, cannot be reused
/// until the caller waits for it.
fn exit_notifier(pid: Pid) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        while let Err(nix::errno::Errno::EINTR) =
            waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
        {}
        let _ = tx.send(());
    });
    rx
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// What a finished sentry run led by `leader` left behind, after giving it
/// the same grace period as [`run_command`] does: for tests that drive a
/// sentry themselves (e.g. through [`Background`]).
pub fn leftovers_after_exit(leader: Pid) -> Vec<String> {
    wait_for_leftovers(leader, STRAY_GRACE)
}

/// Polls `/proc` until no process is left over from the sentry run led by
/// `leader` (see [`leftover_processes`]), or `grace` has passed; returns
/// what is left.
fn wait_for_leftovers(leader: Pid, grace: Duration) -> Vec<String> {
    let deadline = Instant::now() + grace;
    loop {
        let left = leftover_processes(leader);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// One process as `/proc/PID/stat` and `/proc/PID/exe` describe it.
#[derive(Debug)]
struct ProcInfo {
    pid: i32,
    comm: String,
    state: String,
    ppid: i32,
    pgrp: i32,
    exe: String,
}

fn processes() -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            Some(ProcInfo {
                pid,
                comm: stat[open + 1..close].to_string(),
                state: fields.first()?.to_string(),
                ppid: fields.get(1)?.parse().ok()?,
                pgrp: fields.get(2)?.parse().ok()?,
                exe: std::fs::read_link(entry.path().join("exe"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Live processes that a finished sentry run led by `leader` left behind:
/// anything still in its process group, and any stub process (exe name
/// containing `sentry-stub`) that has no live sentry among its ancestors,
/// wherever it came from (a sentry may move stubs to their own group). A stub
/// under another live sentry (a test running alongside, maybe of another
/// build of the sentry) belongs to that run, not to this one.
pub fn leftover_processes(leader: Pid) -> Vec<String> {
    let procs = processes();
    let by_pid = |pid: i32| procs.iter().find(|p| p.pid == pid);
    let is_sentry = |exe: &str| {
        let exe = exe.trim_end_matches(" (deleted)");
        Path::new(exe).file_name().is_some_and(|n| n == "sentry")
    };
    let has_sentry_ancestor = |p: &ProcInfo| {
        let mut cur = by_pid(p.ppid);
        for _ in 0..64 {
            match cur {
                Some(a) if is_sentry(&a.exe) && a.state != "Z" => {
                    return true;
                }
                Some(a) if a.pid > 1 => cur = by_pid(a.ppid),
                _ => return false,
            }
        }
        false
    };
    procs
        .iter()
        .filter(|p| p.pid != leader.as_raw() && p.state != "Z")
        .filter(|p| {
            p.pgrp == leader.as_raw() || (p.exe.contains("sentry-stub") && !has_sentry_ancestor(p))
        })
        .map(|p| format!("pid {} ({}) exe={}", p.pid, p.comm, p.exe))
        .collect()
}

/// A process started in its own process group with piped stdio, for tests
/// that interact with a running sentry. Dropping it kills the group.
#[derive(Debug)]
pub struct Background {
    child: std::process::Child,
    pid: Pid,
    exited: mpsc::Receiver<()>,
    status: Option<i32>,
}

impl Background {
    /// Starts `cmd` with piped stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command) -> Self {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        let pid = Pid::from_raw(child.id() as i32);
        Background {
            child,
            pid,
            exited: exit_notifier(pid),
            status: None,
        }
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The child's stdin, stdout and stderr, taken once each.
    pub fn child(&mut self) -> &mut std::process::Child {
        &mut self.child
    }

    /// A channel receiving the child's stdout line by line.
    pub fn stdout_lines(&mut self) -> mpsc::Receiver<String> {
        let out = self.child.stdout.take().expect("stdout taken once");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Waits up to `timeout` for the exit and returns the shell-style status,
    /// or `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<i32> {
        if self.status.is_none() {
            self.exited.recv_timeout(timeout).ok()?;
            let status = self.child.wait().expect("reap child");
            self.status = Some(
                status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            );
        }
        self.status
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = killpg(self.pid, Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Runs the test program `NAME` and its `NAME-pie` variant natively and under
/// sentry with `args` and `stdin`, compares stdout and exit status, and
/// records the results in `failures`.
///
/// The native run must exit with `native_status`: a program that fails
/// natively is a broken test, reported as such. `prepare` runs before every
/// single run (e.g. to recreate a scratch directory the program works in).
pub fn check_guest(
    failures: &mut Failures,
    name: &str,
    args: &[&str],
    stdin: &[u8],
    native_status: i32,
    prepare: &mut dyn FnMut(),
) {
    check_variants(failures, name, native_status, &[], prepare, &|variant| {
        Invocation::new(guest_program(variant))
            .args(args)
            .stdin(stdin)
    });
}

/// [`check_guest`] for a guest that takes no arguments, reads nothing and must exit 0,
/// run under sentry with `options` (e.g. `--network=host`).
pub fn check_guest_with_options(failures: &mut Failures, name: &str, options: &[&str]) {
    check_variants(failures, name, 0, options, &mut || {}, &|variant| {
        Invocation::new(guest_program(variant))
    });
}

/// A minimal i386 ELF executable (ELFCLASS32, EM_386) that exits `code` through
/// `int 0x80` if it is run: what a 64-bit loader must refuse.
pub fn elf32_i386(code: u8) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x01\x01\x01\x00");
    f.extend_from_slice(&[0; 8]);
    let half = |f: &mut Vec<u8>, v: u16| f.extend_from_slice(&v.to_le_bytes());
    let word = |f: &mut Vec<u8>, v: u32| f.extend_from_slice(&v.to_le_bytes());
    half(&mut f, 2); // e_type: ET_EXEC
    half(&mut f, 3); // e_machine: EM_386
    word(&mut f, 1); // e_version
    word(&mut f, 0x0804_8054); // e_entry
    word(&mut f, 52); // e_phoff
    word(&mut f, 0); // e_shoff
    word(&mut f, 0); // e_flags
    half(&mut f, 52); // e_ehsize
    half(&mut f, 32); // e_phentsize
    half(&mut f, 1); // e_phnum
    half(&mut f, 40); // e_shentsize
    half(&mut f, 0); // e_shnum
    half(&mut f, 0); // e_shstrndx
    word(&mut f, 1); // p_type: PT_LOAD
    word(&mut f, 0); // p_offset
    word(&mut f, 0x0804_8000); // p_vaddr
    word(&mut f, 0x0804_8000); // p_paddr
    word(&mut f, 0x60); // p_filesz
    word(&mut f, 0x60); // p_memsz
    word(&mut f, 5); // p_flags: R+X
    word(&mut f, 0x1000); // p_align
    // mov eax, 1; mov ebx, code; int 0x80
    f.extend_from_slice(&[0xb8, 1, 0, 0, 0, 0xbb, code, 0, 0, 0, 0xcd, 0x80]);
    f.resize(0x60, 0);
    f
}

/// [`check_guest`] for a guest that reads nothing, must exit 0 and takes one argument: a
/// fresh, empty work directory, made again before each run. Panics with the failures.
pub fn check_guest_in_scratch(name: &str) {
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

/// The host's python3, which the tests of Debian programs run (natively and as a guest).
pub fn python3() -> &'static str {
    const PYTHON: &str = "/usr/bin/python3";
    assert!(
        Path::new(PYTHON).is_file(),
        "{PYTHON} is missing (the Debian tests need it)"
    );
    PYTHON
}

/// [`check_guest`] for a guest that reads nothing and must exit 0, with `timeout` for
/// each run (so a guest that hangs under sentry costs seconds, not the default).
pub fn check_guest_within(failures: &mut Failures, name: &str, args: &[&str], timeout: Duration) {
    check_variants(failures, name, 0, &[], &mut || {}, &|variant| {
        let mut inv = Invocation::new(guest_program(variant)).args(args);
        inv.timeout = timeout;
        inv
    });
}

/// Runs `NAME` and `NAME-pie` as `invocation` makes them, natively and under sentry
/// (with sentry `options`).
fn check_variants(
    failures: &mut Failures,
    name: &str,
    native_status: i32,
    options: &[&str],
    prepare: &mut dyn FnMut(),
    invocation: &dyn Fn(&str) -> Invocation,
) {
    for variant in [name.to_string(), format!("{name}-pie")] {
        let inv = invocation(&variant);
        prepare();
        let native = run_native(&inv);
        if native.status != native_status || !native.notes.is_empty() {
            failures.check(Err(format!(
                "--- native run of `{}` exited {} (expected {native_status}): the test \
                 program or this host is broken, not sentry\n{}{}",
                inv.describe(),
                native.status,
                show_block("native stdout", &native.stdout),
                show_block("native stderr", &native.stderr)
            )));
            continue;
        }
        prepare();
        let sentry = run_sentry_with(&inv, options);
        failures.check(compare(
            &inv.describe(),
            &native,
            &sentry,
            Compare::default(),
        ));
    }
}

/// What [`compare`] looks at besides stdout and exit status.
#[derive(Clone, Copy, Debug, Default)]
pub struct Compare {
    /// Compare stderr too.
    pub stderr: bool,
    /// Compare stdout (and stderr) as multisets of lines: for output whose
    /// order follows directory order, which Linux leaves unspecified.
    pub unordered: bool,
}

impl Compare {
    /// Also compare stderr.
    pub fn with_stderr(mut self) -> Self {
        self.stderr = true;
        self
    }

    /// Ignore line order.
    pub fn unordered(mut self) -> Self {
        self.unordered = true;
        self
    }
}

/// Compares a native and a sentry outcome of the same invocation; on mismatch
/// returns a readable report that shows both sides.
pub fn compare(
    label: &str,
    native: &Outcome,
    sentry: &Outcome,
    how: Compare,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for note in &native.notes {
        problems.push(format!("native run: {note}"));
    }
    for note in &sentry.notes {
        problems.push(format!("sentry run: {note}"));
    }
    if native.status != sentry.status {
        problems.push(format!(
            "exit status: native {}, sentry {}",
            native.status, sentry.status
        ));
    }
    let prepare = |bytes: &[u8]| {
        if how.unordered {
            let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            lines.sort();
            lines.join(&b'\n')
        } else {
            bytes.to_vec()
        }
    };
    if prepare(&native.stdout) != prepare(&sentry.stdout) {
        problems.push(describe_difference(
            "stdout",
            &native.stdout,
            &sentry.stdout,
        ));
    }
    if how.stderr && prepare(&native.stderr) != prepare(&sentry.stderr) {
        problems.push(describe_difference(
            "stderr",
            &native.stderr,
            &sentry.stderr,
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut report = format!("--- {label}\n");
    for p in problems {
        let _ = writeln!(report, "  {}", p.replace('\n', "\n  "));
    }
    let _ = write!(report, "{}", show_block("native stdout", &native.stdout));
    let _ = write!(report, "{}", show_block("sentry stdout", &sentry.stdout));
    let _ = write!(report, "{}", show_block("native stderr", &native.stderr));
    let _ = write!(report, "{}", show_block("sentry stderr", &sentry.stderr));
    Err(report)
}

/// Panics with a readable report unless stdout and exit status are the same.
pub fn assert_same(label: &str, native: &Outcome, sentry: &Outcome) {
    if let Err(report) = compare(label, native, sentry, Compare::default()) {
        panic!("sentry differs from native:\n{report}");
    }
}

/// Runs `inv` natively and under sentry and compares them as `how` says.
pub fn check_same(label: &str, inv: &Invocation, how: Compare) -> Result<(), String> {
    let native = run_native(inv);
    let sentry = run_sentry(inv);
    compare(
        &format!("{label}: {}", inv.describe()),
        &native,
        &sentry,
        how,
    )
}

fn describe_difference(what: &str, native: &[u8], sentry: &[u8]) -> String {
    let a: Vec<&[u8]> = native.split(|&b| b == b'\n').collect();
    let b: Vec<&[u8]> = sentry.split(|&b| b == b'\n').collect();
    let line = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let get = |v: &[&[u8]]| v.get(line).map_or("<end>".to_string(), |l| escape(l));
    format!(
        "{what} differs ({} vs {} bytes), first at line {}:\n  native: {}\n  sentry: {}",
        native.len(),
        sentry.len(),
        line + 1,
        get(&a),
        get(&b)
    )
}

/// Control characters and invalid UTF-8 escaped, so output stays readable.
fn escape(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .flat_map(|c| match c {
            '\t' => vec!['\t'],
            c if c.is_control() => c.escape_default().collect(),
            c => vec![c],
        })
        .collect()
}

/// `bytes` as an indented block of at most 40 lines / 4000 bytes.
fn show_block(title: &str, bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return format!("  {title}: (empty)\n");
    }
    let mut out = format!("  {title} ({} bytes):\n", bytes.len());
    let shown = &bytes[..bytes.len().min(4000)];
    for line in shown.split(|&b| b == b'\n').take(40) {
        let _ = writeln!(out, "    | {}", escape(line));
    }
    if shown.len() < bytes.len() || shown.split(|&b| b == b'\n').count() > 40 {
        out.push_str("    | ...\n");
    }
    out
}

/// Collects failure reports; [`Failures::finish`] panics with all of them.
#[derive(Debug, Default)]
pub struct Failures {
    reports: Vec<String>,
    checked: usize,
}

impl Failures {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the result of one check.
    pub fn check(&mut self, result: Result<(), String>) {
        self.checked += 1;
        if let Err(report) = result {
            self.reports.push(report);
        }
    }

    /// Panics listing every failure, if there was any.
    pub fn finish(self, what: &str) {
        if !self.reports.is_empty() {
            panic!(
                "{what}: {} of {} checks failed:\n{}",
                self.reports.len(),
                self.checked,
                self.reports.join("\n")
            );
        }
    }
}

/// The directory scratch directories are made in (`$SENTRY_TEST_TMP` or the system's
/// temp dir), canonical.
pub fn scratch_base() -> PathBuf {
    let base = std::env::var_os("SENTRY_TEST_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.canonicalize().unwrap_or(base)
}

/// A per-test scratch directory under the temp dir (`$SENTRY_TEST_TMP` or
/// the system's), unique per process and call, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates `<tmp>/sentry-test-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::var_os("SENTRY_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("sentry-test-{tag}-{}-{n}", std::process::id()));
        if path.exists() {
            remove_tree(&path);
        }
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create scratch dir {}: {e}", path.display()));
        let path = path.canonicalize().expect("canonical scratch path");
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove_tree(&self.path);
    }
}

/// Removes a tree, first making its directories writable and searchable
/// (a test may have chmod-ed them away).
pub fn remove_tree(path: &Path) {
    if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    fn open_up(dir: &Path) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    open_up(&e.path());
                }
            }
        }
    }
    open_up(path);
    let _ = std::fs::remove_dir_all(path);
}

/// Sets atime and mtime of `path` (not following a symlink) to `secs`.
pub fn set_mtime(path: &Path, secs: i64) {
    let t = TimeSpec::new(secs, 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .unwrap_or_else(|e| panic!("utimensat {}: {e}", path.display()));
}

/// Sets the times of `dir` and everything below it to `secs`.
pub fn set_tree_mtime(dir: &Path, secs: i64) {
    if dir.is_dir() && !dir.is_symlink() {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            set_tree_mtime(&entry.path(), secs);
        }
    }
    set_mtime(dir, secs);
}

/// A description of every entry below `dir`, one line each, sorted by path:
/// type, permission bits, size, FNV-1a hash of the content (files) or the
/// target (symlinks), and the mtime if it is older than a day. Newer mtimes
/// show as `recent`: they were set by the run itself and differ between runs.
pub fn snapshot(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for path in entries {
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let kind = meta.file_type();
            let what = if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap_or_default();
                format!("l -> {}", target.display())
            } else if kind.is_dir() {
                "d".to_string()
            } else if kind.is_file() {
                let data = std::fs::read(&path).unwrap_or_default();
                format!("f size={} fnv={:016x}", meta.len(), fnv1a(&data))
            } else {
                "other".to_string()
            };
            let age = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
                - meta.mtime();
            let mtime = if age > 86_400 {
                meta.mtime().to_string()
            } else {
                "recent".to_string()
            };
            let mode = if kind.is_symlink() {
                0
            } else {
                meta.mode() & 0o7777
            };
            out.push(format!("{rel}: {what} mode={mode:o} mtime={mtime}"));
            if kind.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// FNV-1a, 64 bit: a dependency-free content fingerprint.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A small deterministic pseudo-random generator (xorshift64*), so test
/// inputs are the same on every run and machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// Writes `contents` to `path`, creating parent directories.
pub fn write_file(path: &Path, contents: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent dirs");
    }
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// `path` as an argument (`OsString`).
pub fn os(path: impl AsRef<Path>) -> OsString {
    path.as_ref().as_os_str().to_owned()
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len().max(1))
        .any(|w| w == needle.as_bytes())
}

/// The lines of `bytes`, lossily decoded.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}
