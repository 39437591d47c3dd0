//! Running one command once, under one runner, and reporting what happened.
//!
//! Every runner takes the same host argv (absolute paths: the guest root of
//! `sentry run` and `runsc do` is the host's `/`), so a workload row says
//! *what* to run and its [`Runner`] says *how*. A run either produces an
//! [`Outcome`] or a [`Failure`] that the report prints as `FAILED (...)`;
//! nothing here panics or exits on a misbehaving guest or sentry.

use std::env;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use crate::raw_ptrace::{self, Placement};

/// How long one run may take before it is killed and reported as failed.
/// Native runs take well under a second; this only bounds a hung sentry.
const RUN_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the bench finds the programs it runs.
pub struct Setup {
    /// The `sentry` binary (it may not exist yet: its rows then fail).
    pub sentry: PathBuf,
    /// The guest root built by `make rootfs` (busybox and `test/bench_*`).
    pub rootfs: PathBuf,
    /// gVisor's `runsc`, when it is installed.
    pub runsc: Option<PathBuf>,
}

impl Setup {
    /// Reads `SENTRY_BIN` and `SENTRY_ROOTFS` (as `make bench` sets them;
    /// both default to this workspace's) and looks for `runsc` on `PATH`.
    pub fn from_env() -> Setup {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests crate is inside the workspace");
        let var = |name: &str, default: PathBuf| env::var_os(name).map_or(default, PathBuf::from);
        let runsc = env::var_os("PATH").and_then(|path| {
            env::split_paths(&path)
                .map(|dir| dir.join("runsc"))
                .find(|candidate| candidate.is_file())
        });
        Setup {
            sentry: var("SENTRY_BIN", workspace.join("target/release/sentry")),
            rootfs: var("SENTRY_ROOTFS", workspace.join("rootfs")),
            runsc,
        }
    }
}

/// How a row runs its command.
#[derive(Debug, Clone, Copy)]
pub enum Runner {
    /// Directly on the host.
    Native,
    /// Under the bench's own minimal `PTRACE_SYSEMU` tracer.
    RawPtrace(Placement),
    /// Under `sentry run`.
    Sentry,
    /// Under `runsc --network=none --platform=ptrace do`.
    Runsc,
}

/// What one successful run produced.
pub struct Outcome {
    /// Wall-clock time from spawning the command to its exit.
    pub wall: Duration,
    /// Everything the command wrote to its standard output.
    pub stdout: Vec<u8>,
}

/// Why a run did not produce a usable measurement.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The program to run does not exist.
    #[error("not found: {}", .0.display())]
    Missing(PathBuf),
    /// The program could not be started.
    #[error("cannot start: {0}")]
    Spawn(#[source] io::Error),
    /// Waiting for the command or reading its output failed.
    #[error("I/O: {0}")]
    Io(#[source] io::Error),
    /// The bench's own tracer hit a ptrace (or wait, or affinity) error.
    #[error("ptrace: {0}")]
    Ptrace(#[from] Errno),
    /// The bench's own tracer saw a stop it has no rule for.
    #[error("unexpected tracee stop: {0}")]
    Unexpected(String),
    /// The command exited with a non-zero status.
    #[error("exit {0}")]
    Exit(i32),
    /// The command was killed by a signal.
    #[error("killed by signal {0}")]
    Signal(i32),
    /// The command ran longer than [`RUN_TIMEOUT`] and was killed.
    #[error("timed out after {} s", RUN_TIMEOUT.as_secs())]
    Timeout,
    /// The guest did not print the `KEY VALUE` line the row measures.
    #[error("no `{0} <number>` line in its output")]
    NoMetric(&'static str),
    /// The output does not match the native run's, so the work was not done.
    #[error("output differs from native ({0})")]
    WrongOutput(String),
}

impl Runner {
    /// Runs `argv` once under this runner.
    pub fn run(self, setup: &Setup, argv: &[OsString]) -> Result<Outcome, Failure> {
        let program = Path::new(&argv[0]);
        if !program.exists() {
            return Err(Failure::Missing(program.to_owned()));
        }
        match self {
            Runner::Native => run_command(argv),
            Runner::RawPtrace(placement) => raw_ptrace::run(argv, placement),
            Runner::Sentry => {
                if !setup.sentry.exists() {
                    return Err(Failure::Missing(setup.sentry.clone()));
                }
                run_command(&prefixed(&setup.sentry, &["run"], argv))
            }
            Runner::Runsc => {
                let runsc = setup
                    .runsc
                    .as_ref()
                    .ok_or(Failure::Missing("runsc".into()))?;
                let flags = ["--network=none", "--platform=ptrace", "do"];
                run_command(&prefixed(runsc, &flags, argv))
            }
        }
    }
}

/// `program flags... argv...`
fn prefixed(program: &Path, flags: &[&str], argv: &[OsString]) -> Vec<OsString> {
    let mut full = vec![program.as_os_str().to_owned()];
    full.extend(flags.iter().map(OsString::from));
    full.extend(argv.iter().cloned());
    full
}

/// Runs `argv` as a host child with stdin and stderr on `/dev/null`,
/// collecting its stdout, and kills it after [`RUN_TIMEOUT`].
///
/// Helper threads wait for the exit and drain the pipe, so the bench neither
/// polls (which would steal CPU from a ptrace-bound run on a 2-CPU machine)
/// nor lets a chatty guest block on a full pipe. The waiter uses `WNOWAIT`:
/// only this thread reaps the child, so its pid stays valid to kill.
fn run_command(argv: &[OsString]) -> Result<Outcome, Failure> {
    let start = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(Failure::Spawn)?;
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let reader = thread::spawn(move || {
        let mut stdout = Vec::new();
        pipe.read_to_end(&mut stdout).map(|_| stdout)
    });
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));
    let (exited, exit) = mpsc::channel();
    thread::spawn(move || {
        let _ = waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT);
        // The receiver is gone when the run timed out: nobody needs to know.
        let _ = exited.send(());
    });

    let timed_out = exit.recv_timeout(RUN_TIMEOUT).is_err();
    let wall = start.elapsed();
    if timed_out {
        // Its stdout may stay open in orphaned grandchildren: the reader is
        // left to finish on its own.
        let _ = child.kill();
        let _ = child.wait();
        return Err(Failure::Timeout);
    }
    check_status(child.wait().map_err(Failure::Io)?)?;
    let stdout = reader
        .join()
        .expect("reader thread does not panic")
        .map_err(Failure::Io)?;
    Ok(Outcome { wall, stdout })
}

/// Maps a non-zero exit or a death by signal to a [`Failure`].
fn check_status(status: ExitStatus) -> Result<(), Failure> {
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(Failure::Exit(code)),
        (None, Some(sig)) => Err(Failure::Signal(sig)),
        (None, None) => unreachable!("an exited child has a code or a signal"),
    }
}
