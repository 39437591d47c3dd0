//! The raw `PTRACE_SYSEMU` loop: the floor under what any ptrace sentry can do.
//!
//! A minimal tracer that runs one static guest (`bench_getppid`) and answers
//! its syscalls itself, with one `GETREGS` + `SETREGS` per stop, as the sentry
//! does. It starts the guest with `PTRACE_TRACEME`, lets the C runtime's
//! start-up syscalls run for real under `PTRACE_SYSCALL` until the first
//! `getppid` entry stop, and from there resumes with `PTRACE_SYSEMU`, so every
//! later syscall stops before the host runs it and is skipped. It emulates
//! only what `bench_getppid` makes after that point:
//!
//! - `getppid`: answers the tracer's own pid;
//! - `write(1, ...)`: reads the buffer with `process_vm_readv` and keeps it as
//!   the guest's stdout; `write(2, ...)` is swallowed, as stderr is for every
//!   other runner;
//! - `exit`/`exit_group`: records the code and kills the guest;
//! - anything else: `-ENOSYS`.
//!
//! [`Placement::SameCpu`] reproduces the sentry's placement rule: before
//! each resume the tracer checks its own CPU and, when it changed, binds the
//! tracee to it with `sched_setaffinity`; the tracer itself stays free to
//! migrate. [`Placement::Pinned`] also pins the tracer to the CPU it starts
//! on, for the floor a fixed placement gives. [`Placement::Unbound`] leaves
//! both to the scheduler.

use std::ffi::OsString;
use std::io::IoSliceMut;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::errno::Errno;
use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{self, Signal};
use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, getpid};

use crate::run::{Failure, Outcome};

/// Where the traced guest may run relative to its tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The tracee follows the tracer's CPU, as the sentry keeps its stubs.
    SameCpu,
    /// The tracer pins itself to its CPU for the run; the tracee follows.
    Pinned,
    /// No affinity: tracer and tracee go wherever the scheduler puts them.
    Unbound,
}

/// The most of one emulated `write` the tracer reads; the guest writes a
/// line of a few dozen bytes.
const MAX_WRITE: usize = 1 << 16;

/// Runs the static guest `argv` under the raw tracer and returns what it
/// wrote to stdout. The wall time covers start-up, the loop and the exit.
pub fn run(argv: &[OsString], placement: Placement) -> Result<Outcome, Failure> {
    let _pin = match placement {
        Placement::Pinned => Some(PinnedThread::here()?),
        Placement::SameCpu | Placement::Unbound => None,
    };
    let start = Instant::now();
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the hook runs in the forked child between fork and exec, where
    // only async-signal-safe work is allowed. It makes one raw ptrace syscall
    // and converts its errno without allocating.
    unsafe {
        command.pre_exec(|| ptrace::traceme().map_err(std::io::Error::from));
    }
    let child = command.spawn().map_err(Failure::Spawn)?;
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));

    let mut tracer = Tracer {
        pid,
        alive: true,
        placement,
        bound_to: None,
        emulating: false,
        stdout: Vec::new(),
    };
    tracer.start()?;
    tracer.trace()?;
    Ok(Outcome {
        wall: start.elapsed(),
        stdout: std::mem::take(&mut tracer.stdout),
    })
}

/// The calling thread pinned to its current CPU until this is dropped.
struct PinnedThread {
    /// The affinity to restore.
    previous: CpuSet,
}

impl PinnedThread {
    /// Pins the calling thread (pid 0: the caller) to the CPU it is on.
    fn here() -> Result<PinnedThread, Errno> {
        let me = Pid::from_raw(0);
        let previous = sched_getaffinity(me)?;
        let mut set = CpuSet::new();
        set.set(sched_getcpu()?)?;
        sched_setaffinity(me, &set)?;
        Ok(PinnedThread { previous })
    }
}

impl Drop for PinnedThread {
    fn drop(&mut self) {
        // Failing to unpin leaves the rest of the bench on one CPU, which
        // only slows it; there is nothing better to do here.
        let _ = sched_setaffinity(Pid::from_raw(0), &self.previous);
    }
}

/// The state of one traced guest.
struct Tracer {
    /// The guest.
    pid: Pid,
    /// Whether the guest has not been reaped yet (its pid is still ours).
    alive: bool,
    /// Whether to keep the guest on the tracer's CPU.
    placement: Placement,
    /// The CPU the guest was last bound to, if any.
    bound_to: Option<usize>,
    /// Whether the first `getppid` has been seen and `PTRACE_SYSEMU` is on.
    emulating: bool,
    /// What the guest wrote to fd 1.
    stdout: Vec<u8>,
}

impl Tracer {
    /// Waits for the stop at the end of the guest's exec and sets the
    /// tracing options.
    fn start(&mut self) -> Result<(), Failure> {
        match self.wait()? {
            WaitStatus::Stopped(_, Signal::SIGTRAP) => {}
            other => return Err(Failure::Unexpected(format!("{other:?} after exec"))),
        }
        ptrace::setoptions(
            self.pid,
            Options::PTRACE_O_TRACESYSGOOD | Options::PTRACE_O_EXITKILL,
        )?;
        Ok(())
    }

    /// Waits for the guest's next stop, noting when it is gone.
    fn wait(&mut self) -> Result<WaitStatus, Errno> {
        let status = waitpid(self.pid, None)?;
        if matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
            self.alive = false;
        }
        Ok(status)
    }

    /// Kills and reaps the guest.
    fn kill(&mut self) -> Result<(), Errno> {
        signal::kill(self.pid, Signal::SIGKILL)?;
        while self.alive {
            self.wait()?;
        }
        Ok(())
    }

    /// Resumes and answers the guest until it exits; an exit code other than
    /// zero is a [`Failure::Exit`].
    fn trace(&mut self) -> Result<(), Failure> {
        let mut signal = None;
        loop {
            self.place()?;
            if self.emulating {
                ptrace::sysemu(self.pid, signal.take())?;
            } else {
                ptrace::syscall(self.pid, signal.take())?;
            }
            match self.wait()? {
                WaitStatus::PtraceSyscall(_) => {
                    if let Some(code) = self.syscall_stop()? {
                        return match code {
                            0 => Ok(()),
                            code => Err(Failure::Exit(code)),
                        };
                    }
                }
                // A signal for the guest: deliver it with the next resume.
                WaitStatus::Stopped(_, sig) => signal = Some(sig),
                WaitStatus::Exited(_, 0) => return Ok(()),
                WaitStatus::Exited(_, code) => return Err(Failure::Exit(code)),
                WaitStatus::Signaled(_, sig, _) => return Err(Failure::Signal(sig as i32)),
                other => return Err(Failure::Unexpected(format!("{other:?}"))),
            }
        }
    }

    /// Binds the guest to the tracer's current CPU when that changed, as the
    /// sentry does before resuming a stub thread.
    fn place(&mut self) -> Result<(), Errno> {
        if self.placement == Placement::Unbound {
            return Ok(());
        }
        let cpu = sched_getcpu()?;
        if self.bound_to != Some(cpu) {
            let mut set = CpuSet::new();
            set.set(cpu)?;
            sched_setaffinity(self.pid, &set)?;
            self.bound_to = Some(cpu);
        }
        Ok(())
    }

    /// Handles one syscall stop. Returns the guest's exit code once it has
    /// called `exit` or `exit_group` (the guest is then dead and reaped).
    fn syscall_stop(&mut self) -> Result<Option<i32>, Failure> {
        let mut regs = ptrace::getregs(self.pid)?;
        let nr = regs.orig_rax as i64;
        if !self.emulating {
            // Start-up syscalls run for real. The first getppid stop is its
            // entry: it too runs for real, and every later stop is SYSEMU's.
            self.emulating = nr == libc::SYS_getppid;
            return Ok(None);
        }
        let ret = match nr {
            libc::SYS_getppid => i64::from(getpid().as_raw()),
            libc::SYS_write => self.write(regs.rdi, regs.rsi, regs.rdx),
            libc::SYS_exit | libc::SYS_exit_group => {
                self.kill()?;
                // The exit status is the low 8 bits of the argument.
                return Ok(Some((regs.rdi & 0xff) as i32));
            }
            _ => -i64::from(libc::ENOSYS),
        };
        regs.rax = ret as u64;
        ptrace::setregs(self.pid, regs)?;
        Ok(None)
    }

    /// Emulates `write(fd, buf, len)` to stdout or stderr; returns the
    /// syscall's result.
    fn write(&mut self, fd: u64, buf: u64, len: u64) -> i64 {
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(MAX_WRITE);
        match fd {
            1 => {
                let mut data = vec![0; len];
                let remote = [RemoteIoVec {
                    base: buf as usize,
                    len,
                }];
                match process_vm_readv(self.pid, &mut [IoSliceMut::new(&mut data)], &remote) {
                    Ok(n) => {
                        self.stdout.extend_from_slice(&data[..n]);
                        n as i64
                    }
                    Err(_) => -i64::from(libc::EFAULT),
                }
            }
            2 => len as i64,
            _ => -i64::from(libc::EBADF),
        }
    }
}

impl Drop for Tracer {
    /// A guest the tracer gave up on (EXITKILL would end it only with the
    /// bench) must not keep running through the rest of the bench.
    fn drop(&mut self) {
        if self.alive {
            let _ = self.kill();
        }
    }
}
