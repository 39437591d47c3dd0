//! A task: one guest thread, and the loop that runs it.
//!
//! Each task runs on its own sentry thread, which is the tracer of the stub thread that
//! executes the task's code. The loop switches into the guest until the next event,
//! answers syscalls through the syscall table, and turns faults into signals. Blocking
//! syscalls block only this sentry thread.

use super::Kernel;
use super::process::{FsContext, Process};
use crate::errno::SysErr;
use crate::syscalls;
use fs::{FdTable, Waiter};
use mm::AddressSpace;
use nix::errno::Errno;
use parking_lot::Mutex;
use platform::{Event, Regs, StubThread};
use std::sync::Arc;

/// How a task or process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`.
    Code(i32),
    /// Killed by a signal.
    Signal(i32),
}

impl ExitStatus {
    /// The status a shell reports: the code, or 128 + the signal.
    pub fn shell_status(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c & 0xff,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

/// One guest thread.
pub struct Task {
    /// The kernel.
    pub kernel: Arc<Kernel>,
    /// The thread group.
    pub process: Arc<Process>,
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
    /// For blocking interruptibly.
    pub waiter: Arc<Waiter>,
    /// Blocked signals.
    pub sigmask: u64,
    /// `set_tid_address` / `CLONE_CHILD_CLEARTID` address.
    pub clear_child_tid: u64,
    /// Set when the task must stop running.
    pub exit: Option<ExitStatus>,
    /// `sigaltstack`.
    pub altstack: Option<crate::abi::StackT>,
    /// Bounce buffer for read and write, kept between calls.
    pub iobuf: Vec<u8>,
}

impl Task {
    /// The current address space.
    pub fn mm(&self) -> Arc<AddressSpace> {
        self.process.mm()
    }

    /// Runs the task until it exits; returns how.
    pub fn run(&mut self) -> ExitStatus {
        loop {
            if let Some(status) = self.exit {
                return status;
            }
            let event = match self.stub.switch(&mut self.regs) {
                Ok(e) => e,
                Err(e) => {
                    log::warn!("task {}: stub failed: {e}", self.tid);
                    Event::Exited
                }
            };
            match event {
                Event::Syscall => self.syscall(),
                Event::Fault(f) => {
                    log::debug!("task {}: fault {:?} at rip {:#x}", self.tid, f, self.regs.rip);
                    self.exit = Some(ExitStatus::Signal(f.signo));
                }
                Event::Interrupted => {}
                Event::Exited => self.exit = Some(ExitStatus::Signal(libc::SIGKILL)),
            }
        }
    }

    /// Handles the syscall the guest just made.
    fn syscall(&mut self) {
        let nr = self.regs.orig_rax;
        if !self.syscall_instruction_ok() {
            // `int 0x80`/`sysenter` from 64-bit code: the 32-bit ABI does not exist here.
            self.regs.rax = (-(Errno::ENOSYS as i64)) as u64;
            return;
        }
        let ret = syscalls::dispatch(self, nr);
        if self.exit.is_some() {
            return;
        }
        self.regs.rax = match ret {
            Ok(v) => v,
            Err(SysErr::Errno(e)) => (-(e as i64)) as u64,
        };
    }

    /// Whether the syscall stop came from a 64-bit `syscall` instruction in guest code
    /// (not `int 0x80` or `sysenter`, which the 32-bit ABI uses).
    fn syscall_instruction_ok(&self) -> bool {
        let mut insn = [0u8; 2];
        match self.mm().read(self.regs.rip.wrapping_sub(2), &mut insn) {
            Ok(()) => insn == [0x0f, 0x05],
            // The instruction is not readable guest memory: the guest jumped into
            // something that is not its own (the stub page). Refuse it.
            Err(_) => false,
        }
    }

    /// Syscall argument `i` (0-based) as the guest passed it.
    pub fn arg(&self, i: usize) -> u64 {
        let r = &self.regs;
        [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9][i]
    }
}
