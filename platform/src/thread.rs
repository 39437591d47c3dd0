//! A traced stub thread: running guest code and injecting host syscalls.
//!
//! Only the thread that created a stub (its tracer) may use its [`StubThread`]; ptrace
//! enforces that, and the type is deliberately `!Sync`.

use crate::cpu::Placement;
use crate::error::PlatformError;
use crate::regs::{FpState, Regs};
use crate::spawn::STUB_MEMFD;
use crate::stub::{CLONE_GADGET, GADGET};
use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::marker::PhantomData;

/// Why [`StubThread::switch`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The guest made a syscall; its number is `regs.orig_rax`, its arguments are in the
    /// registers, and it has not been executed by the host.
    Syscall,
    /// Guest code faulted (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP raised by the CPU).
    Fault(FaultInfo),
    /// The guest called into the legacy vsyscall page: the call's number is in
    /// `regs.orig_rax`, its arguments in the registers, `regs.rip` is the entry called.
    /// The stub is still inside the host's emulation of the call, which kills it unless
    /// it resumes at that same `rip`: the sentry answers in `regs.rax` and completes the
    /// call with [`StubThread::finish_vsyscall`] before changing anything else.
    Vsyscall,
    /// A host signal that is not a fault stopped the stub (the sentry interrupting the
    /// guest, or somebody outside signalling the stub); it was suppressed.
    Interrupted,
    /// The stub process is gone.
    Exited,
}

/// A synchronous fault in guest code, as the host kernel reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultInfo {
    /// Signal number (SIGSEGV, ...).
    pub signo: i32,
    /// `si_code` (SEGV_MAPERR, SEGV_ACCERR, ...).
    pub code: i32,
    /// Faulting address (`si_addr`).
    pub addr: u64,
}

/// Applies guest address-space changes to a host stub. Implemented by [`StubThread`];
/// `mm` talks to the host only through this.
pub trait HostMapper {
    /// Maps `len` bytes of the memory file at `offset` to `addr`, shared and fixed.
    fn map(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> Result<(), Errno>;
    /// Removes any mapping in `[addr, addr + len)`.
    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno>;
    /// Changes the protection of `[addr, addr + len)`.
    fn protect(&mut self, addr: u64, len: u64, prot: i32) -> Result<(), Errno>;
}

/// A handle other threads use to kick a stub thread out of guest code: the stub gets a
/// host SIGCHLD, its tracer sees [`Event::Interrupted`], and the signal goes no further.
#[derive(Clone, Copy, Debug)]
pub struct Kicker {
    tgid: i32,
    tid: i32,
}

impl Kicker {
    /// Interrupts the stub thread if it is running guest code (harmless otherwise: the
    /// next switch returns [`Event::Interrupted`] at once).
    pub fn kick(&self) {
        let _ = crate::host::tgkill(self.tgid, self.tid, libc::SIGCHLD);
    }

    /// The host (pid, tid) of the stub thread it kicks, whose CPU time is its task's.
    pub fn host_thread(&self) -> (i32, i32) {
        (self.tgid, self.tid)
    }
}

/// A stub thread traced by the current sentry thread.
pub struct StubThread {
    tgid: Pid,
    tid: Pid,
    alive: bool,
    placement: Placement,
    /// ptrace requests are only valid from the tracer thread.
    _not_send_sync: PhantomData<*const ()>,
}

impl StubThread {
    /// Takes ownership of a freshly exec'd stub stopped in its exec trap.
    pub(crate) fn adopt(tid: Pid) -> Result<Self, PlatformError> {
        Ok(StubThread {
            tgid: tid,
            tid,
            alive: true,
            placement: Placement::new(),
            _not_send_sync: PhantomData,
        })
    }

    /// Host tid of the stub thread.
    pub fn tid(&self) -> i32 {
        self.tid.as_raw()
    }

    /// Host pid of the stub process.
    pub fn tgid(&self) -> i32 {
        self.tgid.as_raw()
    }

    /// Creates another thread in this stub process, parked until a tracer takes it with
    /// [`StubThread::attach`]; returns its host tid.
    pub fn spawn_thread(&mut self) -> Result<i32, PlatformError> {
        let flags = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_UNTRACED) as u64;
        let tid = self.inject_at(CLONE_GADGET, libc::SYS_clone, &[flags, 0, 0, 0, 0])?;
        if tid <= 0 {
            return Err(PlatformError::Errno(
                "clone in stub",
                Errno::from_raw(-tid as i32),
            ));
        }
        Ok(tid as i32)
    }

    /// Becomes the tracer of thread `tid` of stub process `tgid` (made by
    /// [`spawn_thread`](Self::spawn_thread)) and stops it.
    pub fn attach(tgid: i32, tid: i32) -> Result<StubThread, PlatformError> {
        let pid = Pid::from_raw(tid);
        ptrace::seize(pid, crate::TRACE_OPTIONS)
            .map_err(|e| PlatformError::Errno("PTRACE_SEIZE", e))?;
        let mut t = StubThread {
            tgid: Pid::from_raw(tgid),
            tid: pid,
            alive: true,
            placement: Placement::new(),
            _not_send_sync: PhantomData,
        };
        ptrace::interrupt(pid).map_err(|e| t.died_or("PTRACE_INTERRUPT", e))?;
        loop {
            match t.wait()? {
                WaitStatus::PtraceEvent(_, _, libc::PTRACE_EVENT_STOP) => return Ok(t),
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                    t.alive = false;
                    return Err(PlatformError::StubDied);
                }
                // A signal reached the parked thread first: drop it and stop again.
                _ => {
                    ptrace::cont(pid, None).map_err(|e| t.died_or("PTRACE_CONT", e))?;
                    ptrace::interrupt(pid).map_err(|e| t.died_or("PTRACE_INTERRUPT", e))?;
                }
            }
        }
    }

    /// Ends this thread of the stub process (the others go on) and waits until it is gone.
    pub fn exit_thread(&mut self) {
        if !self.alive {
            return;
        }
        if self.inject_at(GADGET, libc::SYS_exit, &[0]).is_err() {
            // The thread is gone (the exit made the wait report its death).
            self.alive = false;
            return;
        }
        self.kill();
    }

    /// A handle to interrupt this thread from elsewhere.
    pub fn kicker(&self) -> Kicker {
        Kicker {
            tgid: self.tgid.as_raw(),
            tid: self.tid.as_raw(),
        }
    }

    /// Whether the stub is still alive as far as this tracer knows.
    pub fn is_alive(&self) -> bool {
        self.alive
    }

    /// Registers for a fresh guest image: the stub's segment selectors and flags, every
    /// general-purpose register zero.
    pub fn initial_regs(&mut self) -> Result<Regs, PlatformError> {
        let mut regs = self.getregs()?;
        regs.r15 = 0;
        regs.r14 = 0;
        regs.r13 = 0;
        regs.r12 = 0;
        regs.rbp = 0;
        regs.rbx = 0;
        regs.r11 = 0;
        regs.r10 = 0;
        regs.r9 = 0;
        regs.r8 = 0;
        regs.rax = 0;
        regs.rcx = 0;
        regs.rdx = 0;
        regs.rsi = 0;
        regs.rdi = 0;
        regs.orig_rax = u64::MAX;
        regs.fs_base = 0;
        regs.gs_base = 0;
        regs.eflags = 0x202;
        Ok(regs)
    }

    /// Runs guest code with `regs` until the next syscall, fault or interruption, and
    /// stores the guest's registers back into `regs`.
    pub fn switch(&mut self, regs: &mut Regs) -> Result<Event, PlatformError> {
        self.placement.follow_tracer(self.tid);
        self.setregs(regs)?;
        ptrace::sysemu(self.tid, None).map_err(|e| self.died_or("PTRACE_SYSEMU", e))?;
        match self.wait()? {
            WaitStatus::PtraceSyscall(_) => {
                *regs = self.getregs()?;
                Ok(Event::Syscall)
            }
            WaitStatus::Stopped(_, sig) => {
                *regs = self.getregs()?;
                let info = ptrace::getsiginfo(self.tid)
                    .map_err(|e| self.died_or("PTRACE_GETSIGINFO", e))?;
                let synchronous = matches!(
                    sig,
                    Signal::SIGSEGV
                        | Signal::SIGBUS
                        | Signal::SIGFPE
                        | Signal::SIGILL
                        | Signal::SIGTRAP
                ) && info.si_code > 0;
                if synchronous {
                    // SAFETY: for these kernel-generated fault signals the kernel filled the
                    // `si_addr` member of the union.
                    let addr = unsafe { info.si_addr() } as u64;
                    Ok(Event::Fault(FaultInfo {
                        signo: sig as i32,
                        code: info.si_code,
                        addr,
                    }))
                } else {
                    Ok(Event::Interrupted)
                }
            }
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                self.alive = false;
                Ok(Event::Exited)
            }
            WaitStatus::PtraceEvent(_, _, libc::PTRACE_EVENT_SECCOMP) => {
                *regs = self.getregs()?;
                Ok(Event::Vsyscall)
            }
            // A group stop or PTRACE_INTERRUPT: nothing for the guest.
            WaitStatus::PtraceEvent(..) => Ok(Event::Interrupted),
            other => Err(PlatformError::UnexpectedStop(format!("{other:?}"))),
        }
    }

    /// Completes a call into the vsyscall page after [`Event::Vsyscall`]: the host skips
    /// the call, returns to the caller with `regs.rax` as the result, and stops the stub
    /// again before the caller's next instruction (a kick is pending). `regs` becomes the
    /// caller's state, which the sentry may then change freely, to deliver a signal say.
    pub fn finish_vsyscall(&mut self, regs: &mut Regs) -> Result<(), PlatformError> {
        regs.orig_rax = u64::MAX;
        self.placement.follow_tracer(self.tid);
        self.setregs(regs)?;
        self.kicker().kick();
        ptrace::sysemu(self.tid, None).map_err(|e| self.died_or("PTRACE_SYSEMU", e))?;
        loop {
            match self.wait()? {
                WaitStatus::Stopped(..) => {
                    *regs = self.getregs()?;
                    return Ok(());
                }
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                    self.alive = false;
                    return Err(PlatformError::StubDied);
                }
                // A group stop on the way: let the return go on to the kick.
                WaitStatus::PtraceEvent(..) => {
                    ptrace::sysemu(self.tid, None).map_err(|e| self.died_or("PTRACE_SYSEMU", e))?;
                }
                other => return Err(PlatformError::UnexpectedStop(format!("{other:?}"))),
            }
        }
    }

    /// Executes host syscall `nr` with `args` in the stub (at the gadget) and returns its
    /// raw result (negative errno on failure). Clobbers the stub's registers; the guest's
    /// live in the sentry and are restored by the next [`switch`](Self::switch).
    pub fn syscall(&mut self, nr: i64, args: &[u64]) -> Result<i64, PlatformError> {
        self.inject_at(GADGET, nr, args)
    }

    fn inject_at(&mut self, gadget: u64, nr: i64, args: &[u64]) -> Result<i64, PlatformError> {
        let mut regs = self.getregs()?;
        regs.rip = gadget;
        regs.rax = nr as u64;
        regs.orig_rax = u64::MAX;
        let mut a = [0u64; 6];
        a[..args.len()].copy_from_slice(args);
        (regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9) =
            (a[0], a[1], a[2], a[3], a[4], a[5]);
        self.placement.follow_tracer(self.tid);
        self.setregs(&regs)?;
        loop {
            ptrace::cont(self.tid, None).map_err(|e| self.died_or("PTRACE_CONT", e))?;
            match self.wait()? {
                WaitStatus::Stopped(_, Signal::SIGTRAP) => return Ok(self.getregs()?.rax as i64),
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                    self.alive = false;
                    return Err(PlatformError::StubDied);
                }
                // A kick (or any other signal) or a group stop on the way: suppress it and
                // let the injected syscall go on.
                WaitStatus::Stopped(..) | WaitStatus::PtraceEvent(..) => continue,
                other => {
                    return Err(PlatformError::UnexpectedStop(format!(
                        "injected syscall {nr}: {other:?}"
                    )));
                }
            }
        }
    }

    /// Reads the thread's x87/SSE state.
    pub fn fpregs(&mut self) -> Result<FpState, PlatformError> {
        ptrace::getregset::<ptrace::regset::NT_PRFPREG>(self.tid)
            .map_err(|e| self.died_or("PTRACE_GETREGSET(NT_PRFPREG)", e))
    }

    /// Replaces the thread's x87/SSE state.
    pub fn set_fpregs(&mut self, fp: FpState) -> Result<(), PlatformError> {
        ptrace::setregset::<ptrace::regset::NT_PRFPREG>(self.tid, fp)
            .map_err(|e| self.died_or("PTRACE_SETREGSET(NT_PRFPREG)", e))
    }

    /// Kills the stub process and reaps it.
    pub fn kill(&mut self) {
        if !self.alive {
            return;
        }
        let _ = kill(self.tid, Signal::SIGKILL);
        loop {
            match waitpid(self.tid, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => break,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        self.alive = false;
    }

    fn getregs(&mut self) -> Result<Regs, PlatformError> {
        ptrace::getregs(self.tid).map_err(|e| self.died_or("PTRACE_GETREGS", e))
    }

    fn setregs(&mut self, regs: &Regs) -> Result<(), PlatformError> {
        ptrace::setregs(self.tid, *regs).map_err(|e| self.died_or("PTRACE_SETREGS", e))
    }

    fn wait(&mut self) -> Result<WaitStatus, PlatformError> {
        loop {
            match waitpid(self.tid, Some(WaitPidFlag::__WALL)) {
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    self.alive = false;
                    return Err(PlatformError::Errno("waitpid(stub)", e));
                }
                Ok(status) => return Ok(status),
            }
        }
    }

    /// ESRCH from a ptrace request means the stub was killed under us.
    fn died_or(&mut self, what: &'static str, e: Errno) -> PlatformError {
        if e == Errno::ESRCH {
            // Reap it so it does not linger as a zombie.
            self.kill();
            PlatformError::StubDied
        } else {
            PlatformError::Errno(what, e)
        }
    }

    fn inject(&mut self, nr: i64, args: &[u64]) -> Result<(), Errno> {
        match self.syscall(nr, args) {
            Ok(r) if r < 0 => Err(Errno::from_raw(-r as i32)),
            Ok(_) => Ok(()),
            Err(e) => {
                log::warn!("injecting syscall {nr} into stub {}: {e}", self.tid);
                Err(Errno::EFAULT)
            }
        }
    }
}

impl HostMapper for StubThread {
    fn map(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> Result<(), Errno> {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        self.inject(
            libc::SYS_mmap,
            &[addr, len, prot as u64, flags, STUB_MEMFD as u64, offset],
        )
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        self.inject(libc::SYS_munmap, &[addr, len])
    }

    fn protect(&mut self, addr: u64, len: u64, prot: i32) -> Result<(), Errno> {
        self.inject(libc::SYS_mprotect, &[addr, len, prot as u64])
    }
}

impl Drop for StubThread {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `NT_X86_XSTATE`: the XSAVE area as ptrace exposes it.
const NT_X86_XSTATE: i32 = 0x202;
/// Room for the largest XSAVE area a CPU may have (AMX tiles included).
const XSTATE_MAX: usize = 16384;

impl StubThread {
    /// Reads the thread's full extended state (the XSAVE layout a signal frame holds).
    pub fn xstate(&mut self) -> Result<Vec<u8>, PlatformError> {
        let mut buf = vec![0u8; XSTATE_MAX];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: PTRACE_GETREGSET writes at most `iov_len` bytes to `iov_base`, which is
        // `buf`, alive and exclusively ours for the call; it then updates `iov_len`.
        let r = unsafe {
            libc::ptrace(
                libc::PTRACE_GETREGSET,
                self.tid.as_raw(),
                NT_X86_XSTATE,
                &mut iov,
            )
        };
        if r < 0 {
            return Err(self.died_or("PTRACE_GETREGSET(NT_X86_XSTATE)", Errno::last()));
        }
        buf.truncate(iov.iov_len);
        Ok(buf)
    }

    /// Replaces the thread's extended state with an XSAVE image from [`xstate`](Self::xstate)
    /// (possibly modified by the guest in a signal frame).
    pub fn set_xstate(&mut self, state: &[u8]) -> Result<(), PlatformError> {
        let mut copy = state.to_vec();
        let mut iov = libc::iovec {
            iov_base: copy.as_mut_ptr().cast(),
            iov_len: copy.len(),
        };
        // SAFETY: PTRACE_SETREGSET reads at most `iov_len` bytes from `iov_base`, which
        // points at `copy`, alive for the call.
        let r = unsafe {
            libc::ptrace(
                libc::PTRACE_SETREGSET,
                self.tid.as_raw(),
                NT_X86_XSTATE,
                &mut iov,
            )
        };
        if r < 0 {
            return Err(self.died_or("PTRACE_SETREGSET(NT_X86_XSTATE)", Errno::last()));
        }
        Ok(())
    }
}
