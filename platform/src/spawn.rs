//! Creating a stub process.
//!
//! The calling thread clones a child with `CLONE_VM | CLONE_VFORK` (no copy of the sentry's
//! address space, parent suspended until the exec), the child makes the caller its tracer
//! (`PTRACE_TRACEME`), leaves the sentry's session, arranges to die with its creator,
//! keeps only the memory file as fd [`STUB_MEMFD`], and `execveat`s the stub image. The
//! tracer then strips every host mapping but the stub page and installs the stub's seccomp
//! filter by injecting syscalls at the gadget.

use crate::error::PlatformError;
use crate::stub::{self, FPROG_ADDR, STUB_BASE};
use crate::thread::StubThread;
use nix::sys::ptrace;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The fd number of the memory file inside every stub (its only fd).
pub const STUB_MEMFD: i32 = 3;

/// Everything the vfork child needs, prepared by the parent so the child allocates nothing.
struct ChildArgs {
    memfd: i32,
    image: i32,
    /// The sentry's pid: if the child's parent is no longer it, the sentry died.
    sentry: i32,
    argv: [*const libc::c_char; 2],
    envp: [*const libc::c_char; 1],
}

/// The vfork child: only raw, async-signal-safe calls, no allocation, no panics.
fn child_main(args: &ChildArgs) -> isize {
    // SAFETY: each call below is a plain syscall wrapper on integers or on pointers into
    // `args`, which stays alive because the parent is suspended until this child execs or
    // exits (CLONE_VFORK). No Rust state is touched, so sharing the parent's memory
    // (CLONE_VM) is harmless.
    unsafe {
        // Die with the sentry. If it was killed before this point, the child was already
        // handed to init, and PTRACE_TRACEME would make init its tracer: leave instead.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) < 0 || libc::getppid() != args.sentry {
            return 126;
        }
        libc::setsid();
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mem = libc::fcntl(args.memfd, libc::F_DUPFD, 10);
        let image = libc::fcntl(args.image, libc::F_DUPFD_CLOEXEC, 10);
        if mem < 0 || image < 0 || libc::dup2(mem, STUB_MEMFD) != STUB_MEMFD {
            return 126;
        }
        libc::syscall(libc::SYS_close_range, 0u32, 2u32, 0u32);
        libc::syscall(
            libc::SYS_close_range,
            (STUB_MEMFD + 1) as u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        libc::syscall(
            libc::SYS_execveat,
            image,
            c"".as_ptr(),
            args.argv.as_ptr(),
            args.envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    127
}

/// Starts a stub process traced by the calling thread, with `memfd` as its fd
/// [`STUB_MEMFD`], an empty address space but for the stub page, and its seccomp filter on.
pub fn spawn(memfd: BorrowedFd<'_>) -> Result<StubThread, PlatformError> {
    let image = stub::image_fd()?;
    let args = ChildArgs {
        memfd: memfd.as_raw_fd(),
        image: image.as_raw_fd(),
        sentry: std::process::id() as i32,
        argv: [c"sentry-stub".as_ptr(), std::ptr::null()],
        envp: [std::ptr::null()],
    };
    let mut stack = vec![0u8; 64 * 1024];
    let flags = nix::sched::CloneFlags::CLONE_VM | nix::sched::CloneFlags::CLONE_VFORK;
    // SAFETY: with CLONE_VM the child runs `child_main` on `stack` in our address space
    // while we are suspended (CLONE_VFORK); it only issues raw syscalls and reads `args`,
    // both of which outlive the child's use of them. The child never returns into our
    // frames: it execs or returns from the callback, which exits the child.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(|| child_main(&args)),
            &mut stack,
            flags,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| PlatformError::Errno("clone(stub)", e))?;

    match waitpid(pid, Some(WaitPidFlag::__WALL)) {
        Ok(WaitStatus::Stopped(_, nix::sys::signal::Signal::SIGTRAP)) => {}
        Ok(WaitStatus::Exited(_, code)) => {
            return Err(PlatformError::UnexpectedStop(format!(
                "stub exec failed (child exit {code})"
            )));
        }
        Ok(other) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(pid, Some(WaitPidFlag::__WALL));
            return Err(PlatformError::UnexpectedStop(format!("{other:?}")));
        }
        Err(e) => return Err(PlatformError::Errno("waitpid(stub)", e)),
    }
    // From here the StubThread owns the process: dropping it kills and reaps the stub.
    let mut thread = StubThread::adopt(pid)?;
    ptrace::setoptions(pid, crate::TRACE_OPTIONS)
        .map_err(|e| PlatformError::Errno("PTRACE_SETOPTIONS", e))?;
    strip_host_mappings(&mut thread, pid)?;
    install_seccomp(&mut thread)?;
    Ok(thread)
}

/// Unmaps everything the host kernel put in the stub (its stack, vDSO, vvar) except the
/// stub page, so the whole range below [`STUB_BASE`] is the guest's.
fn strip_host_mappings(thread: &mut StubThread, pid: Pid) -> Result<(), PlatformError> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| PlatformError::Io("reading the stub's maps", e))?;
    for line in maps.lines() {
        let Some((range, _)) = line.split_once(' ') else {
            continue;
        };
        let Some((lo, hi)) = range.split_once('-') else {
            continue;
        };
        let (Ok(lo), Ok(hi)) = (u64::from_str_radix(lo, 16), u64::from_str_radix(hi, 16)) else {
            continue;
        };
        // The stub page stays; the vsyscall page is not a real mapping and cannot go.
        if lo == STUB_BASE || lo >= 0xffff_8000_0000_0000 {
            continue;
        }
        let r = thread.syscall(libc::SYS_munmap, &[lo, hi - lo])?;
        if r < 0 {
            return Err(PlatformError::Errno(
                "munmap in stub",
                nix::errno::Errno::from_raw(-r as i32),
            ));
        }
    }
    Ok(())
}

fn install_seccomp(thread: &mut StubThread) -> Result<(), PlatformError> {
    let r = thread.syscall(libc::SYS_prctl, &[libc::PR_SET_NO_NEW_PRIVS as u64, 1])?;
    if r < 0 {
        return Err(PlatformError::Errno(
            "prctl(NO_NEW_PRIVS) in stub",
            nix::errno::Errno::from_raw(-r as i32),
        ));
    }
    let r = thread.syscall(
        libc::SYS_seccomp,
        &[libc::SECCOMP_SET_MODE_FILTER as u64, 0, FPROG_ADDR],
    )?;
    if r < 0 {
        return Err(PlatformError::Errno(
            "seccomp in stub",
            nix::errno::Errno::from_raw(-r as i32),
        ));
    }
    Ok(())
}
