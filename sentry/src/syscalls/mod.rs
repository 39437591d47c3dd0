//! The syscall table and its handlers, one module per area.
//!
//! [`table`] lists every syscall the sentry implements with its handler, how strace prints
//! its arguments, and a note where support is partial; anything else returns `ENOSYS` and
//! is logged once by name. Handlers take the [`Task`] and read their arguments from its
//! registers with [`Task::arg`].

pub mod adjtime;
pub mod aio;
pub mod fs;
pub mod futex;
pub mod inotify;
pub mod io;
pub mod ipc;
pub mod kcmp;
pub mod lock;
mod mapped_files;
pub mod misc;
pub mod mm;
pub mod mqueue;
pub mod names;
pub mod net;
pub mod numa;
pub mod pidfd;
pub mod poll;
pub mod process;
pub mod sched;
pub mod seccomp;
pub mod signal;
pub mod splice;
pub mod table;
pub mod time;
pub mod tty;
mod uaccess;
pub mod xattr;

use crate::errno::{SysErr, SysResult};
use crate::kernel::task::{Restart, Task};
use crate::strace;
use nix::errno::Errno;

/// A syscall handler.
pub type Handler = fn(&mut Task) -> SysResult;

/// Runs syscall `nr` for `task`, printing it when `--strace` is on. Also returns how the
/// call restarts if a signal interrupted it.
pub fn dispatch(task: &mut Task, nr: u64) -> (SysResult, Option<Restart>) {
    let entry = table::lookup(nr);
    let trace = task
        .kernel
        .opts
        .strace
        .then(|| strace::Call::before(task, nr, entry));
    let ret = match entry {
        Some(e) => (e.handler)(task),
        None => {
            if task.kernel.note_unimplemented(nr) {
                log::warn!(
                    "unimplemented syscall {} ({nr}): returning ENOSYS",
                    names::name(nr)
                );
            }
            Err(SysErr::Errno(Errno::ENOSYS))
        }
    };
    if let Some(call) = trace {
        call.finish(task, &ret);
    }
    (ret, entry.map(|e| e.on_intr))
}

/// For syscalls the sentry deliberately answers with ENOSYS, as a kernel without the
/// feature would (listed in the table, so not logged as unknown).
pub fn unsupported(_task: &mut Task) -> SysResult {
    Err(SysErr::Errno(Errno::ENOSYS))
}

/// For privileged operations the guest may not perform: EPERM, as Linux answers a process
/// without the capability.
pub fn eperm(_task: &mut Task) -> SysResult {
    Err(SysErr::Errno(Errno::EPERM))
}

/// For operations Linux refuses to unprivileged processes with EACCES (perf_event_open).
pub fn eacces(_task: &mut Task) -> SysResult {
    Err(SysErr::Errno(Errno::EACCES))
}
