//! A task: one guest thread, and the loop that runs it.
//!
//! Each task runs on its own sentry thread, which is the tracer of the stub thread that
//! executes the task's code. The loop switches into the guest until the next event,
//! answers syscalls through the syscall table, acts on pending signals, and turns faults
//! into signals. Blocking syscalls block only this sentry thread.

use super::Kernel;
use super::process::{FsContext, Process, TaskHandle};
use super::sigframe::{self, Delivery, SigInfo};
use super::signal::{self, DefaultAction, SIG_DFL, SIG_IGN, SigSet};
use super::tree::Zombie;
use crate::errno::SysErr;
use crate::syscalls;
use fs::{FdTable, Waiter};
use mm::AddressSpace;
use nix::errno::Errno;
use parking_lot::Mutex;
use platform::{Event, HostMapper, Regs, StubThread};
use std::sync::Arc;

/// How a task or process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`.
    Code(i32),
    /// Killed by a signal; `core` if the wait status reports a core dump.
    Signal {
        /// The signal.
        sig: i32,
        /// Core dumped.
        core: bool,
    },
}

impl ExitStatus {
    /// Killed by `sig`, no core.
    pub fn killed(sig: i32) -> ExitStatus {
        ExitStatus::Signal { sig, core: false }
    }

    /// The status a shell reports: the code, or 128 + the signal.
    pub fn shell_status(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c & 0xff,
            ExitStatus::Signal { sig, .. } => 128 + sig,
        }
    }

    /// The `wait(2)` status word.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Code(c) => (c & 0xff) << 8,
            ExitStatus::Signal { sig, core } => sig | if core { 0x80 } else { 0 },
        }
    }
}

/// One guest thread.
pub struct Task {
    /// The kernel.
    pub kernel: Arc<Kernel>,
    /// The thread group.
    pub process: Arc<Process>,
    /// What other threads see of this task.
    pub handle: Arc<TaskHandle>,
    /// Thread id (guest).
    pub tid: i32,
    /// Guest registers while the sentry handles an event.
    pub regs: Regs,
    /// The stub thread that runs this task's code.
    pub stub: StubThread,
    /// Open files.
    pub files: Arc<Mutex<FdTable>>,
    /// Root, cwd and umask.
    pub fs: Arc<Mutex<FsContext>>,
    /// `set_tid_address` / `CLONE_CHILD_CLEARTID` address.
    pub clear_child_tid: u64,
    /// Set when the task must stop running.
    pub exit: Option<ExitStatus>,
    /// `sigaltstack`.
    pub altstack: Option<crate::abi::StackT>,
    /// Bounce buffer for read and write, kept between calls.
    pub iobuf: Vec<u8>,
    /// Pending signals must be looked at before returning to the guest (the mask changed).
    pub recheck_signals: bool,
    /// The last syscall was interrupted: how to restart it (see [`Restart`]).
    pub restart: Option<Restart>,
    /// The mask `sigsuspend` replaced, to restore once a handler has run.
    pub saved_sigmask: Option<SigSet>,
    /// Where an interrupted `nanosleep` would have woken, for `restart_syscall`.
    pub restart_deadline: Option<SleepEnd>,
    /// The task is ending alone (`exit`), not with its whole process.
    pub thread_exit: bool,
    /// `set_robust_list` head.
    pub robust_list: u64,
    /// The last CPU fault, for the `sigcontext` of every later signal frame.
    pub trap: super::trap::Trap,
}

/// `si_code` of a fault at an unmapped address.
const SEGV_MAPERR: i32 = 1;

/// The instruction behind a syscall stop.
enum SyscallInsn {
    /// `syscall`: the x86_64 ABI.
    Syscall,
    /// `int 0x80` or `sysenter`: the 32-bit ABI.
    Other,
}

/// How a syscall interrupted by a signal continues (Linux's `-ERESTART*` codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Restarted if no handler runs or the handler has `SA_RESTART`; else EINTR.
    Sys,
    /// Restarted only if no handler runs (poll, select, sigsuspend, pause).
    NoHand,
    /// Like `NoHand`, but restarted through `restart_syscall` (nanosleep).
    Block,
}

/// Where a sleep ends: at a wall-clock instant, or when a CPU-time clock reaches a value.
#[derive(Clone)]
pub enum SleepEnd {
    /// At this instant.
    Wall(std::time::Instant),
    /// When this clock reads this much.
    Cpu(super::cpuclock::CpuClock, std::time::Duration),
}

impl Task {
    /// The current address space.
    pub fn mm(&self) -> Arc<AddressSpace> {
        self.process.mm()
    }

    /// The task's waiter, for blocking calls.
    pub fn waiter(&self) -> &Arc<Waiter> {
        &self.handle.waiter
    }

    /// Blocked signals.
    pub fn sigmask(&self) -> SigSet {
        self.handle.sigmask()
    }

    /// Replaces the signal mask (SIGKILL and SIGSTOP stay unblocked).
    pub fn set_sigmask(&mut self, mask: SigSet) {
        self.handle.sigmask.store(
            mask & !signal::UNBLOCKABLE,
            std::sync::atomic::Ordering::SeqCst,
        );
        self.recheck_signals = true;
    }

    /// Sends a signal to this thread alone (SIGPIPE after EPIPE, faults): a standard
    /// signal from the kernel, which the queue limit never refuses.
    pub fn raise(&mut self, info: SigInfo) {
        let to = signal::Receiver::of(&self.process);
        let _ = self.handle.pending.lock().add(info, to);
        self.recheck_signals = true;
    }

    /// Whether a signal is pending that the current mask lets through.
    pub fn has_deliverable(&self) -> bool {
        let allowed = !self.sigmask();
        self.handle.pending.lock().set() & allowed != 0
            || self.process.pending.lock().set() & allowed != 0
    }

    /// Runs `f` on the address space through this task's stub, keeping track of whether
    /// the stub's host mappings are still those of the address space. The process's
    /// threads take turns here (they share the stub's one host view).
    pub fn with_mm<R>(&mut self, f: impl FnOnce(&AddressSpace, &mut dyn HostMapper) -> R) -> R {
        let mm = self.mm();
        let process = self.process.clone();
        let mut synced = process.stub_gen.lock();
        let in_sync = mm.generation() == *synced;
        let r = f(&mm, &mut self.stub);
        if in_sync {
            *synced = mm.generation();
        }
        r
    }

    /// Records that the stub process's mappings match generation `g`.
    pub fn set_stub_gen(&self, g: u64) {
        *self.process.stub_gen.lock() = g;
    }

    /// Brings the stub's mappings up to date if another process sharing the address space
    /// (`CLONE_VM`) changed it.
    fn sync_mm(&mut self) {
        let mm = self.mm();
        let process = self.process.clone();
        let mut synced = process.stub_gen.lock();
        if mm.generation() == *synced {
            return;
        }
        let top = platform::GUEST_TOP;
        let resynced = self
            .stub
            .unmap(mm::MIN_ADDR, top - mm::MIN_ADDR)
            .map_err(|e| mm::MmError::Host("munmap in stub", e))
            .and_then(|()| mm.install(&mut self.stub));
        match resynced {
            Ok(g) => *synced = g,
            Err(e) => {
                log::warn!("task {}: resyncing shared address space: {e}", self.tid);
                self.exit = Some(ExitStatus::killed(libc::SIGKILL));
            }
        }
    }

    /// Runs the task until it exits; returns how.
    pub fn run(&mut self) -> ExitStatus {
        loop {
            if let Some(status) = self.process.group_exit_status() {
                self.exit = Some(status);
            }
            let dethread = self
                .process
                .dethread
                .load(std::sync::atomic::Ordering::SeqCst);
            if dethread != 0 && dethread != self.tid {
                self.thread_exit = true;
                self.exit = Some(ExitStatus::Code(0));
            }
            if self.process.is_stopped() {
                self.park_while_stopped();
            }
            self.handle_signals();
            if let Some(status) = self.exit {
                return status;
            }
            self.sync_mm();
            let event = match self.stub.switch(&mut self.regs) {
                Ok(e) => e,
                Err(e) => {
                    log::warn!("task {}: stub failed: {e}", self.tid);
                    Event::Exited
                }
            };
            match event {
                Event::Syscall => self.syscall(),
                Event::Vsyscall => self.vsyscall(),
                Event::Fault(f) => {
                    log::debug!(
                        "task {}: fault {:?} at rip {:#x}",
                        self.tid,
                        f,
                        self.regs.rip
                    );
                    self.trap = super::trap::Trap::of_fault(&f, &self.regs, &self.mm());
                    self.force_signal(SigInfo::fault(f.signo, f.code, f.addr));
                }
                Event::Interrupted => {}
                Event::Exited => {
                    let status = self
                        .process
                        .group_exit_status()
                        .unwrap_or(ExitStatus::killed(libc::SIGKILL));
                    self.exit = Some(status);
                }
            }
        }
    }

    /// Handles the syscall the guest just made.
    fn syscall(&mut self) {
        let nr = self.regs.orig_rax;
        match self.syscall_instruction() {
            Some(SyscallInsn::Syscall) => {}
            Some(SyscallInsn::Other) => {
                // `int 0x80`/`sysenter` from 64-bit code: the 32-bit ABI does not exist
                // here, so the call fails as on a kernel without IA-32 emulation.
                self.regs.rax = (-(Errno::ENOSYS as i64)) as u64;
                return;
            }
            None => {
                // The `syscall` is not in the guest's memory: it jumped into the stub page,
                // which lies above every guest address. Linux would fault on the fetch.
                self.force_signal(SigInfo::fault(
                    libc::SIGSEGV,
                    SEGV_MAPERR,
                    self.regs.rip.wrapping_sub(2),
                ));
                return;
            }
        }
        if !self.seccomp_permits() {
            return;
        }
        let (ret, on_intr) = syscalls::dispatch(self, nr);
        if self.exit.is_some() {
            return;
        }
        self.regs.rax = match ret {
            Ok(v) => v,
            Err(e) => {
                if e == SysErr::Errno(Errno::EINTR) {
                    self.restart = on_intr;
                }
                (-(e.errno() as i64)) as u64
            }
        };
    }

    /// Answers a call into the legacy vsyscall page (`gettimeofday`, `time`, `getcpu`, as
    /// the host numbered it) like the syscall itself, seccomp filters included; the host
    /// then skips its own emulation and returns to the caller.
    fn vsyscall(&mut self) {
        if self.seccomp_permits() {
            let (ret, _) = syscalls::dispatch(self, self.regs.orig_rax);
            self.regs.rax = match ret {
                Ok(v) => v,
                Err(e) => (-(e.errno() as i64)) as u64,
            };
        }
        if self.exit.is_some() {
            return;
        }
        // Back at the caller at once, so that a signal (a seccomp SIGSYS among them) can
        // be delivered from there.
        if let Err(e) = self.stub.finish_vsyscall(&mut self.regs) {
            log::warn!("task {}: stub failed: {e}", self.tid);
            let status = self.process.group_exit_status();
            self.exit = Some(status.unwrap_or(ExitStatus::killed(libc::SIGKILL)));
        }
    }

    /// Which instruction made the syscall: the 64-bit `syscall`, another one (`int 0x80`,
    /// `sysenter`), or none in guest memory (`None`).
    fn syscall_instruction(&self) -> Option<SyscallInsn> {
        let mut insn = [0u8; 2];
        self.mm()
            .read(self.regs.rip.wrapping_sub(2), &mut insn)
            .ok()?;
        Some(if insn == [0x0f, 0x05] {
            SyscallInsn::Syscall
        } else {
            SyscallInsn::Other
        })
    }

    /// Syscall argument `i` (0-based) as the guest passed it.
    pub fn arg(&self, i: usize) -> u64 {
        let r = &self.regs;
        [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9][i]
    }

    /// A signal the CPU raised (fault): it cannot be blocked or ignored; without a
    /// handler it kills the process.
    pub(super) fn force_signal(&mut self, info: SigInfo) {
        let sig = info.signo();
        let act = self.process.sigactions.lock()[sig as usize - 1];
        let blocked = self.sigmask() & signal::bit(sig) != 0;
        if act.handler == SIG_DFL || act.handler == SIG_IGN || blocked {
            self.die_of(sig);
        } else {
            self.raise(info);
        }
    }

    /// Ends the process because of `sig`'s default action.
    pub(super) fn die_of(&mut self, sig: i32) {
        let core = signal::default_action(sig) == DefaultAction::Core
            && self.process.rlimit(libc::RLIMIT_CORE as usize) > 0;
        self.exit_group(ExitStatus::Signal { sig, core });
    }

    /// Ends the whole process with `status` (`exit_group`, fatal signals).
    pub fn exit_group(&mut self, status: ExitStatus) {
        self.exit = Some(self.process.begin_group_exit(status, self.tid));
    }

    /// Takes the next deliverable signal off the thread's and the process's pending sets.
    fn next_signal(&self) -> Option<SigInfo> {
        let allowed = !self.sigmask();
        signal::dequeue(&self.process, &self.handle, allowed)
    }

    /// The default action of a stop signal: the whole process stops (its parent is told)
    /// and this task waits until SIGCONT or SIGKILL.
    fn stop_process(&mut self, sig: i32) {
        let first = {
            let mut job = self.process.job.lock();
            let first = job.stopped.is_none();
            if first {
                job.stopped = Some(sig);
                job.report = Some(super::tree::JobReport::Stopped(sig));
            }
            first
        };
        if first {
            for t in self
                .process
                .tasks
                .lock()
                .iter()
                .filter(|t| t.tid != self.tid)
            {
                t.interrupt();
            }
            signal::notify_parent_job(&self.kernel, &self.process, libc::CLD_STOPPED, sig);
        }
        self.park_while_stopped();
    }

    /// Waits while the process is stopped (a SIGKILL or the process's exit ends the wait).
    fn park_while_stopped(&mut self) {
        loop {
            let _reg = self.process.job_queue.register(self.waiter());
            let killed = (self.handle.pending.lock().set() | self.process.pending.lock().set())
                & signal::bit(libc::SIGKILL)
                != 0;
            if !self.process.is_stopped() || killed || self.process.group_exit_status().is_some() {
                break;
            }
            if self.waiter().wait(None).is_err() {
                self.waiter().clear_interrupt();
            }
        }
        self.recheck_signals = true;
    }

    /// Applies the restart rule for an interrupted syscall; `handler` is the flags of the
    /// handler about to run, or `None` if none does.
    fn restart_syscall(&mut self, handler: Option<u64>) {
        let Some(kind) = self.restart.take() else {
            return;
        };
        let again = match (kind, handler) {
            (_, None) => true,
            (Restart::Sys, Some(flags)) => flags & libc::SA_RESTART as u64 != 0,
            (Restart::NoHand | Restart::Block, Some(_)) => false,
        };
        if again {
            self.regs.rip -= 2;
            self.regs.rax = if kind == Restart::Block && handler.is_none() {
                libc::SYS_restart_syscall as u64
            } else {
                self.regs.orig_rax
            };
        } else {
            self.regs.rax = (-(Errno::EINTR as i64)) as u64;
        }
    }

    /// Acts on every pending, unblocked signal: default actions, or a frame for the
    /// handler (each further one nests on top, as on Linux).
    fn handle_signals(&mut self) {
        if !self.recheck_signals && !self.waiter().is_interrupted() && self.restart.is_none() {
            return;
        }
        self.recheck_signals = false;
        // Clear first: a signal sent while we look sets the flag again.
        self.waiter().clear_interrupt();
        while let Some(info) = self.next_signal() {
            let sig = info.signo();
            let act = self.process.sigactions.lock()[sig as usize - 1];
            match act.handler {
                SIG_IGN => {}
                SIG_DFL => match signal::default_action(sig) {
                    DefaultAction::Ignore | DefaultAction::Continue => {}
                    DefaultAction::Stop => self.stop_process(sig),
                    DefaultAction::Terminate | DefaultAction::Core => {
                        self.die_of(sig);
                        return;
                    }
                },
                handler => {
                    self.restart_syscall(Some(act.flags));
                    let saved_mask = self.saved_sigmask.take().unwrap_or(self.sigmask());
                    let d = Delivery {
                        sig,
                        info,
                        handler,
                        restorer: act.restorer,
                        flags: act.flags,
                        saved_mask,
                    };
                    if sigframe::setup(self, &d).is_err() {
                        // No room for the frame: Linux kills with SIGSEGV.
                        self.die_of(libc::SIGSEGV);
                        return;
                    }
                    let mut mask = self.sigmask() | act.mask;
                    if act.flags & libc::SA_NODEFER as u64 == 0 {
                        mask |= signal::bit(sig);
                    }
                    self.set_sigmask(mask);
                    if act.flags & libc::SA_RESETHAND as u64 != 0 {
                        // Only the handler goes back to SIG_DFL: flags, mask and restorer
                        // stay, and sigaction still reports SA_RESETHAND (as on Linux).
                        self.process.sigactions.lock()[sig as usize - 1].handler = SIG_DFL;
                    }
                }
            }
        }
        self.restart_syscall(None);
        if let Some(mask) = self.saved_sigmask.take() {
            self.set_sigmask(mask);
        }
    }

    /// Tears the task down after [`run`](Self::run). A thread leaving alone gives back
    /// its stub thread and wakes its joiner; the last task of a process (or any task of an
    /// exiting one) takes the stub process down, and the last one also closes the files,
    /// releases the memory and makes the process a zombie for its parent.
    pub fn finish(mut self, status: ExitStatus) {
        let group = self.process.group_exit_status();
        self.exit_robust_list();
        // The image the thread ran in (an exec may replace it once the thread is gone).
        let mm = self.mm();
        // Off the thread list before its joiner wakes: a `pthread_join` that returns no
        // longer finds it in `/proc/self/task` or the `Threads:` count.
        let last = {
            let mut tasks = self.process.tasks.lock();
            tasks.retain(|h| h.tid != self.tid);
            tasks.is_empty()
        };
        if group.is_none()
            && self.clear_child_tid != 0
            && mm.write_obj(self.clear_child_tid, &0u32).is_ok()
        {
            let _ = self.kernel.futexes.wake(
                &mm,
                self.clear_child_tid,
                false,
                1,
                super::futex::BITSET_ALL,
            );
        }
        // Let go of the image now: nothing may keep its System V shm attaches past the exit.
        drop(mm);
        if !last {
            // Its thread pidfds are ready now.
            self.process.exit_events.notify_all();
            if group.is_some() {
                self.stub.kill();
            } else {
                self.stub.exit_thread();
            }
            return;
        }
        let status = group.unwrap_or(status);
        if let Some(dump) = &self.kernel.opts.dump {
            dump.write(&self.process, "exit");
        }
        let cpu_us = cpu_times_us(self.stub.tgid());
        self.stub.kill();
        self.files = Arc::new(Mutex::new(FdTable::new()));
        exit_process(&self.kernel, &self.process, status, cpu_us);
    }

    /// Marks robust futexes the exiting thread still holds as owner-died and wakes one
    /// waiter of each (`set_robust_list`).
    fn exit_robust_list(&self) {
        const OWNER_DIED: u32 = 0x4000_0000;
        const WAITERS: u32 = 0x8000_0000;
        const TID_MASK: u32 = 0x3fff_ffff;
        if self.robust_list == 0 {
            return;
        }
        let mm = self.mm();
        let Ok(head) = mm.read_obj::<[u64; 3]>(self.robust_list) else {
            return;
        };
        let (mut entry, offset, pending) = (head[0], head[1] as i64, head[2]);
        let handle = |entry: u64| {
            let word = entry.wrapping_add(offset as u64);
            let r = mm.with_futex_word(word, true, |a| {
                let v = a.load(std::sync::atomic::Ordering::SeqCst);
                if v & TID_MASK != self.tid as u32 {
                    return false;
                }
                a.store(
                    (v & WAITERS) | OWNER_DIED,
                    std::sync::atomic::Ordering::SeqCst,
                );
                v & WAITERS != 0
            });
            if r == Ok(true) {
                let _ = self
                    .kernel
                    .futexes
                    .wake(&mm, word, false, 1, super::futex::BITSET_ALL);
            }
        };
        for _ in 0..2048 {
            if entry == self.robust_list || entry == 0 {
                break;
            }
            handle(entry);
            match mm.read_obj::<u64>(entry) {
                Ok(next) => entry = next,
                Err(_) => break,
            }
        }
        if pending != 0 {
            handle(pending);
        }
    }
}

/// Ends `process` after its last task (whose stub is gone): its files close, its memory
/// and System V IPC attaches go, a vfork parent is let go, and it becomes a zombie with
/// `status` and `cpu_us` (user, system) for its parent, who is signalled and woken.
pub fn exit_process(
    kernel: &Kernel,
    process: &Arc<Process>,
    status: ExitStatus,
    cpu_us: (u64, u64),
) {
    *process.files.lock() = Arc::new(Mutex::new(FdTable::new()));
    super::tty::exit(kernel, process);
    let empty = AddressSpace::new(kernel.mem.clone(), process.mm().layout());
    *process.mm.lock() = Arc::new(empty);
    kernel.ipc.exit_process(process.pid);
    process.release_vfork();
    let effects = kernel
        .tree
        .lock()
        .exit(process.pid, Zombie { status, cpu_us });
    if let Some((parent, sig)) = effects.parent {
        if sig != 0 && !effects.autoreaped {
            let (code, st) = match status {
                ExitStatus::Code(c) => (libc::CLD_EXITED, c),
                ExitStatus::Signal { sig, core: true } => (libc::CLD_DUMPED, sig),
                ExitStatus::Signal { sig, core: false } => (libc::CLD_KILLED, sig),
            };
            let uid = process.creds.lock().uid;
            let mut info = SigInfo::child(code, process.pid, uid, st, cpu_us);
            info.0[0..4].copy_from_slice(&sig.to_ne_bytes());
            signal::send(&parent, info);
        }
        parent.child_events.notify_all();
    }
}

/// User and system CPU time of a host process, in microseconds.
pub fn cpu_times_us(host_pid: i32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{host_pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 0, utime field 11, stime field 12 (in ticks
    // of 10 ms).
    (ticks(11) * 10_000, ticks(12) * 10_000)
}

/// The body of a task's sentry thread once its task exists: run, then tear down.
pub fn task_main(mut task: Task) -> ExitStatus {
    let status = task.run();
    let kernel = task.kernel.clone();
    task.finish(status);
    kernel.release_task();
    status
}
