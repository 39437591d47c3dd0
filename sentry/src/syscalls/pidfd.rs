//! pidfd syscalls: `pidfd_open`, `pidfd_send_signal` and `pidfd_getfd`, and the pidfd
//! that `waitid(P_PIDFD)` takes ([`waited_pid`]). The files are [`PidFd`]s; only
//! process pidfds exist (no `PIDFD_THREAD`).

use super::signal::{SI_TKILL, check_sig, queued_info};
use crate::errno::{SysErr, SysResult};
use crate::kernel::pidfd::PidFd;
use crate::kernel::process::{ExitState, Process};
use crate::kernel::sigframe::SigInfo;
use crate::kernel::signal::{self as ksig, SI_USER};
use crate::kernel::task::Task;
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

/// The process pidfd `fd` names (`EBADF` if `fd` is not open or not a pidfd), and
/// whether the pidfd is nonblocking.
fn process_of(task: &Task, fd: i32) -> Result<(Arc<Process>, bool), SysErr> {
    let file = task.file(fd)?;
    let process = PidFd::process_of(&file).ok_or(Errno::EBADF)?.clone();
    Ok((process, file.nonblocking()))
}

/// The pid a `waitid(P_PIDFD, fd)` waits for, and whether the pidfd is nonblocking (the
/// wait then does not block, and finds nothing with `EAGAIN`).
pub(super) fn waited_pid(task: &Task, fd: i32) -> Result<(i32, bool), SysErr> {
    let (process, nonblock) = process_of(task, fd)?;
    Ok((process.pid, nonblock))
}

/// `pidfd_open(pid, flags)`: a close-on-exec pidfd for process `pid` (a zombie
/// included); `EINVAL` for a thread that does not lead its process, `ESRCH` for no such
/// process.
pub fn pidfd_open(task: &mut Task) -> SysResult {
    let (pid, flags) = (task.arg(0) as i32, task.arg(1) as u32);
    if flags & !(libc::O_NONBLOCK as u32) != 0 || pid <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let process = {
        let tree = task.kernel.tree.lock();
        match tree.get(pid) {
            Some(e) => e.process.clone(),
            None if tree.thread(pid).is_some() => return Err(Errno::EINVAL.into()),
            None => return Err(Errno::ESRCH.into()),
        }
    };
    let file = PidFd::open(process, flags != 0);
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
    /// The process group the process leads.
    Group,
}

/// `pidfd_send_signal(pidfd, sig, info, flags)`: sends like `kill` (or, to a thread,
/// `tgkill`), with the caller's siginfo if it gives one, to processes the caller may
/// signal (`EPERM` if none); a zombie takes the signal with no effect, a reaped process
/// is `ESRCH`.
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
    let (process, default) = match fd {
        PIDFD_SELF_THREAD => (task.process.clone(), Scope::Thread),
        PIDFD_SELF_THREAD_GROUP => (task.process.clone(), Scope::Process),
        fd => (process_of(task, fd)?.0, Scope::Process),
    };
    let scope = match flags {
        PIDFD_SIGNAL_THREAD => Scope::Thread,
        PIDFD_SIGNAL_THREAD_GROUP => Scope::Process,
        PIDFD_SIGNAL_PROCESS_GROUP => Scope::Group,
        _ => default,
    };
    // The thread the pidfd names: the calling one for PIDFD_SELF_THREAD, else the leader.
    let tid = if fd == PIDFD_SELF_THREAD {
        task.tid
    } else {
        process.pid
    };
    let info = if info_addr != 0 {
        if task.read_obj::<i32>(info_addr)? != sig {
            return Err(Errno::EINVAL.into());
        }
        // Only the calling thread itself may be sent a siginfo posing as the kernel's.
        let to_self = Arc::ptr_eq(&process, &task.process) && tid == task.tid;
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
        Scope::Group => task.kernel.tree.lock().group(process.pid),
        _ if process.exit_state() == ExitState::Reaped => Vec::new(),
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
            let handle = target.tasks.lock().iter().find(|t| t.tid == tid).cloned();
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
/// process has open at `targetfd`. The caller must be allowed to ptrace-access the
/// process (`EPERM`); an exited process is `ESRCH`.
pub fn pidfd_getfd(task: &mut Task) -> SysResult {
    let (fd, target_fd, flags) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2));
    if flags != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (process, _) = process_of(task, fd)?;
    if process.exit_state() != ExitState::Running {
        return Err(Errno::ESRCH.into());
    }
    if !process.accessible_by(&task.process) {
        return Err(Errno::EPERM.into());
    }
    let table = process.files.lock().clone();
    let file = table.lock().file(target_fd)?;
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task.files.lock().insert(file, true, 0, limit)? as u64)
}
