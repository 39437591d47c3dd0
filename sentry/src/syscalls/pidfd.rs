//! pidfd syscalls: `pidfd_open`, `pidfd_send_signal` and `pidfd_getfd`, and the pidfd
//! that `waitid(P_PIDFD)` takes ([`waited_pid`]). The files are [`PidFd`]s, naming a
//! process or (`PIDFD_THREAD`) one thread.

use super::signal::{SI_TKILL, check_sig, queued_info};
use crate::errno::{SysErr, SysResult};
use crate::kernel::pidfd::{PIDFD_THREAD, PidFd};
use crate::kernel::process::{ExitState, Process};
use crate::kernel::sigframe::SigInfo;
use crate::kernel::signal::{self as ksig, SI_USER};
use crate::kernel::task::Task;
use fs::OpenFile;
use nix::errno::Errno;
use std::sync::Arc;

/// `pidfd_send_signal` flags: the thread the pidfd names, its thread group, or the
/// process group it leads.
const PIDFD_SIGNAL_THREAD: u32 = 1;
const PIDFD_SIGNAL_THREAD_GROUP: u32 = 2;
const PIDFD_SIGNAL_PROCESS_GROUP: u32 = 4;
/// Pseudo pidfds naming the calling thread and its thread group.
const PIDFD_SELF_THREAD: i32 = -10000;
const PIDFD_SELF_THREAD_GROUP: i32 = -10001;

/// The pidfd open at `fd` (`EBADF` if `fd` is not open or not a pidfd); see [`PidFd::of`].
fn pidfd_file(task: &Task, fd: i32) -> Result<Arc<OpenFile>, SysErr> {
    let file = task.file(fd)?;
    PidFd::of(&file).ok_or(Errno::EBADF)?;
    Ok(file)
}

/// The pid a `waitid(P_PIDFD, fd)` waits for (a thread pidfd's tid, which only a
/// leader's matches a child), and whether the pidfd is nonblocking (the wait then does
/// not block, and finds nothing with `EAGAIN`).
pub(super) fn waited_pid(task: &Task, fd: i32) -> Result<(i32, bool), SysErr> {
    let file = pidfd_file(task, fd)?;
    let id = PidFd::of(&file).expect("a pidfd").id();
    Ok((id, file.nonblocking()))
}

/// `pidfd_open(pid, flags)`: a close-on-exec pidfd for process `pid` (a zombie
/// included), or with `PIDFD_THREAD` for thread `pid`; `ENOENT` for a thread that does
/// not lead its process without `PIDFD_THREAD` (`EINVAL` before Linux 6.9), `ESRCH` for
/// no such process or thread.
pub fn pidfd_open(task: &mut Task) -> SysResult {
    let (pid, flags) = (task.arg(0) as i32, task.arg(1) as i32);
    if flags & !(libc::O_NONBLOCK | PIDFD_THREAD) != 0 || pid <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let thread = flags & PIDFD_THREAD != 0;
    let process = {
        let tree = task.kernel.tree.lock();
        match (tree.get(pid), tree.thread(pid)) {
            (Some(e), _) => e.process.clone(),
            (None, Some((process, _))) if thread => process,
            (None, Some(_)) => return Err(Errno::ENOENT.into()),
            (None, None) => return Err(Errno::ESRCH.into()),
        }
    };
    let file = PidFd::open(
        process,
        thread.then_some(pid),
        flags & libc::O_NONBLOCK != 0,
    );
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task.files.lock().insert(file, true, 0, limit)? as u64)
}

/// What a `pidfd_send_signal` reaches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The thread the pidfd names (a process pidfd: the leader).
    Thread,
    /// The whole process.
    Process,
    /// The process group whose id the pidfd names.
    Group,
}

/// `pidfd_send_signal(pidfd, sig, info, flags)`: sends like `kill` (or, to a thread,
/// `tgkill`, the default for a thread pidfd), with the caller's siginfo if it gives one,
/// to processes the caller may signal (`EPERM` if none); a zombie takes the signal with
/// no effect, a reaped process or an exited thread is `ESRCH`.
pub fn pidfd_send_signal(task: &mut Task) -> SysResult {
    let (fd, sig, info_addr, flags) = (
        task.arg(0) as i32,
        task.arg(1) as i32,
        task.arg(2),
        task.arg(3) as u32,
    );
    let all = PIDFD_SIGNAL_THREAD | PIDFD_SIGNAL_THREAD_GROUP | PIDFD_SIGNAL_PROCESS_GROUP;
    if flags & !all != 0 || flags.count_ones() > 1 {
        return Err(Errno::EINVAL.into());
    }
    // The process; the id named (a thread-scoped signal goes to that thread, the leader
    // for a process pidfd; a group-scoped one to the group of that id); the default
    // scope; and whether the id names nothing any more.
    let (process, id, default, gone) = match fd {
        PIDFD_SELF_THREAD => (task.process.clone(), task.tid, Scope::Thread, false),
        PIDFD_SELF_THREAD_GROUP => (
            task.process.clone(),
            task.process.pid,
            Scope::Process,
            false,
        ),
        fd => {
            let file = pidfd_file(task, fd)?;
            let pidfd = PidFd::of(&file).expect("a pidfd");
            let default = match pidfd.thread() {
                Some(_) => Scope::Thread,
                None => Scope::Process,
            };
            (pidfd.process().clone(), pidfd.id(), default, pidfd.gone())
        }
    };
    let scope = match flags {
        PIDFD_SIGNAL_THREAD => Scope::Thread,
        PIDFD_SIGNAL_THREAD_GROUP => Scope::Process,
        PIDFD_SIGNAL_PROCESS_GROUP => Scope::Group,
        _ => default,
    };
    let info = if info_addr != 0 {
        if task.read_obj::<i32>(info_addr)? != sig {
            return Err(Errno::EINVAL.into());
        }
        // Only the calling thread itself may be sent a siginfo posing as the kernel's.
        let to_self = Arc::ptr_eq(&process, &task.process) && id == task.tid;
        queued_info(task, sig, info_addr, to_self && scope != Scope::Group)?
    } else {
        let code = if scope == Scope::Thread {
            SI_TKILL
        } else {
            SI_USER
        };
        let uid = task.process.creds.lock().uid;
        SigInfo::user(sig, code, task.process.pid, uid)
    };
    check_sig(sig)?;
    let targets = match scope {
        Scope::Group => task.kernel.tree.lock().group(id),
        _ if gone => Vec::new(),
        _ => vec![process.clone()],
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH.into());
    }
    let targets: Vec<Arc<Process>> = targets
        .into_iter()
        .filter(|t| ksig::may_signal(&task.kernel, &task.process, t, sig))
        .collect();
    if targets.is_empty() {
        return Err(Errno::EPERM.into());
    }
    // A zombie takes the signal with no effect.
    for target in targets
        .iter()
        .filter(|t| t.exit_state() == ExitState::Running)
    {
        if sig == libc::SIGCONT {
            ksig::continue_process(&task.kernel, target);
        }
        let thread = if scope == Scope::Thread {
            let handle = target.tasks.lock().iter().find(|t| t.tid == id).cloned();
            Some(handle.ok_or(Errno::ESRCH)?)
        } else {
            None
        };
        ksig::try_send(target, thread.as_deref(), info)?;
    }
    if targets.iter().any(|p| Arc::ptr_eq(p, &task.process)) {
        task.recheck_signals = true;
    }
    Ok(0)
}

/// `pidfd_getfd(pidfd, targetfd, flags)`: a close-on-exec duplicate of the file the
/// process (or thread) has open at `targetfd`. The caller must be allowed to
/// ptrace-access the process (`EPERM`); an exited process or thread is `ESRCH`.
pub fn pidfd_getfd(task: &mut Task) -> SysResult {
    let (fd, target_fd, flags) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2));
    if flags != 0 {
        return Err(Errno::EINVAL.into());
    }
    let file = pidfd_file(task, fd)?;
    let pidfd = PidFd::of(&file).expect("a pidfd");
    if pidfd.exited() {
        return Err(Errno::ESRCH.into());
    }
    let process = pidfd.process();
    if !process.accessible_by(&task.process) {
        return Err(Errno::EPERM.into());
    }
    let table = process.files.lock().clone();
    let file = table.lock().file(target_fd)?;
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task.files.lock().insert(file, true, 0, limit)? as u64)
}
