//! Signal syscalls: dispositions, masks and the alternate stack; sending (`kill`,
//! `tgkill`, `sigqueue`); waiting (`sigsuspend`, `pause`, `sigtimedwait`); signalfd.

use crate::abi::Timespec;
use crate::abi::{KSigaction, StackT};
use crate::errno::{SysErr, SysResult};
use crate::kernel::process::Process;
use crate::kernel::sigframe::{self, SIGINFO_SIZE, SigInfo};
use crate::kernel::signal::{self as ksig, SI_USER, UNBLOCKABLE};
use crate::kernel::signalfd::SignalFd;
use crate::kernel::task::Task;
use crate::kernel::tree::INIT_PID;
use fs::OpenFile;
use nix::errno::Errno;
use std::time::Instant;

/// `SS_AUTODISARM` (missing from libc).
const SS_AUTODISARM: i32 = 1 << 31;

/// `rt_sigaction(sig, act, oldact, sigsetsize)`.
pub fn rt_sigaction(task: &mut Task) -> SysResult {
    let (sig, act, old, size) = (task.arg(0) as i32, task.arg(1), task.arg(2), task.arg(3));
    if size != 8 || !(1..=64).contains(&sig) {
        return Err(Errno::EINVAL.into());
    }
    let new = if act != 0 {
        Some(task.read_obj::<KSigaction>(act)?)
    } else {
        None
    };
    if new.is_some() && (sig == libc::SIGKILL || sig == libc::SIGSTOP) {
        return Err(Errno::EINVAL.into());
    }
    let prev = {
        let mut acts = task.process.sigactions.lock();
        let prev = acts[sig as usize - 1];
        if let Some(mut n) = new {
            n.mask &= !UNBLOCKABLE;
            acts[sig as usize - 1] = n;
        }
        prev
    };
    if new.is_some_and(|n| ksig::handler_ignores(n.handler, sig)) {
        // Pending instances go, blocked or not, as on Linux.
        ksig::discard_everywhere(&task.process, ksig::bit(sig));
    }
    if old != 0 {
        task.write_obj(old, &prev)?;
    }
    Ok(0)
}

/// `rt_sigprocmask(how, set, oldset, sigsetsize)`.
pub fn rt_sigprocmask(task: &mut Task) -> SysResult {
    let (how, set, old, size) = (task.arg(0) as i32, task.arg(1), task.arg(2), task.arg(3));
    if size != 8 {
        return Err(Errno::EINVAL.into());
    }
    let prev = task.sigmask();
    if set != 0 {
        let s: u64 = task.read_obj(set)?;
        let new = match how {
            libc::SIG_BLOCK => prev | s,
            libc::SIG_UNBLOCK => prev & !s,
            libc::SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL.into()),
        };
        task.set_sigmask(new);
    }
    if old != 0 {
        task.write_obj(old, &prev)?;
    }
    Ok(0)
}

/// `sigaltstack(ss, old_ss)`. The old stack's flags say `SS_ONSTACK` while the caller
/// runs on it (by its stack pointer), and the stack cannot be changed then (EPERM).
pub fn sigaltstack(task: &mut Task) -> SysResult {
    let (ss, old) = (task.arg(0), task.arg(1));
    let sp = task.regs.rsp;
    let onstack = task.altstack.is_some_and(|a| sigframe::on_stack(&a, sp));
    if old != 0 {
        let cur = match task.altstack {
            None => StackT {
                flags: libc::SS_DISABLE,
                ..StackT::default()
            },
            Some(a) => StackT {
                flags: (a.flags & SS_AUTODISARM) | if onstack { libc::SS_ONSTACK } else { 0 },
                ..a
            },
        };
        task.write_obj(old, &cur)?;
    }
    if ss != 0 {
        let new: StackT = task.read_obj(ss)?;
        if onstack {
            return Err(Errno::EPERM.into());
        }
        match new.flags & !SS_AUTODISARM {
            libc::SS_DISABLE => task.altstack = None,
            0 | libc::SS_ONSTACK if new.size < libc::MINSIGSTKSZ as u64 => {
                return Err(Errno::ENOMEM.into());
            }
            0 | libc::SS_ONSTACK => task.altstack = Some(StackT { pad: 0, ..new }),
            _ => return Err(Errno::EINVAL.into()),
        }
    }
    Ok(0)
}

/// `rt_sigpending(set, sigsetsize)`.
pub fn rt_sigpending(task: &mut Task) -> SysResult {
    if task.arg(1) != 8 {
        return Err(Errno::EINVAL.into());
    }
    let pending =
        (task.handle.pending.lock().set() | task.process.pending.lock().set()) & task.sigmask();
    task.write_obj(task.arg(0), &pending)?;
    Ok(0)
}

/// `si_code` of a signal sent with `tkill`/`tgkill`.
pub(super) const SI_TKILL: i32 = -6;

/// Signal numbers a caller may send (0 only checks the target).
pub(super) fn check_sig(sig: i32) -> Result<(), Errno> {
    if (0..=64).contains(&sig) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// `kill(pid, sig)`: a process, the caller's group (0), every process but init and the
/// caller (-1), or a group (< -1).
pub fn kill(task: &mut Task) -> SysResult {
    let (pid, sig) = (task.arg(0) as i32, task.arg(1) as i32);
    check_sig(sig)?;
    let targets = {
        let tree = task.kernel.tree.lock();
        if pid > 0 && tree.get(pid).is_some_and(|e| e.zombie.is_some()) {
            // A zombie still exists: the signal is accepted and has no effect.
            return Ok(0);
        }
        match pid {
            p if p > 0 => tree.live(p).into_iter().collect::<Vec<_>>(),
            0 => tree
                .get(task.process.pid)
                .map(|e| tree.group(e.pgid))
                .unwrap_or_default(),
            -1 => tree
                .all_live()
                .into_iter()
                .filter(|p| p.pid != INIT_PID && p.pid != task.process.pid)
                .collect(),
            p => tree.group(-p),
        }
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH.into());
    }
    let targets: Vec<_> = targets
        .into_iter()
        .filter(|p| ksig::may_signal(&task.kernel, &task.process, p, sig))
        .collect();
    if targets.is_empty() {
        return Err(Errno::EPERM.into());
    }
    let uid = task.process.creds.lock().uid;
    for p in &targets {
        if sig == libc::SIGCONT {
            ksig::continue_process(&task.kernel, p);
        }
        ksig::send(p, SigInfo::user(sig, SI_USER, task.process.pid, uid));
    }
    if targets.iter().any(|p| p.pid == task.process.pid) {
        task.recheck_signals = true;
    }
    Ok(0)
}

fn thread_kill(task: &mut Task, tgid: Option<i32>, tid: i32, sig: i32) -> SysResult {
    check_sig(sig)?;
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL.into());
    }
    let process = {
        let tree = task.kernel.tree.lock();
        match tgid {
            Some(g) => tree.live(g),
            None => tree
                .all_live()
                .into_iter()
                .find(|p| p.tasks.lock().iter().any(|t| t.tid == tid)),
        }
    }
    .ok_or(Errno::ESRCH)?;
    let handle = process
        .tasks
        .lock()
        .iter()
        .find(|t| t.tid == tid)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    permitted(task, &process, sig)?;
    if sig == 0 {
        return Ok(0);
    }
    if sig == libc::SIGCONT {
        ksig::continue_process(&task.kernel, &process);
    }
    let uid = task.process.creds.lock().uid;
    ksig::try_send(
        &process,
        Some(&handle),
        SigInfo::user(sig, SI_TKILL, task.process.pid, uid),
    )?;
    if tid == task.tid {
        task.recheck_signals = true;
    }
    Ok(0)
}

/// `tkill(tid, sig)`.
pub fn tkill(task: &mut Task) -> SysResult {
    thread_kill(task, None, task.arg(0) as i32, task.arg(1) as i32)
}

/// `tgkill(tgid, tid, sig)`.
pub fn tgkill(task: &mut Task) -> SysResult {
    thread_kill(
        task,
        Some(task.arg(0) as i32),
        task.arg(1) as i32,
        task.arg(2) as i32,
    )
}

/// `rt_sigreturn()`: back from a handler to the interrupted context.
pub fn rt_sigreturn(task: &mut Task) -> SysResult {
    match sigframe::restore(task) {
        Ok(rax) => Ok(rax),
        Err(_) => {
            // A frame that cannot be read back: Linux kills with SIGSEGV.
            task.exit = Some(crate::kernel::task::ExitStatus::Signal {
                sig: libc::SIGSEGV,
                core: false,
            });
            Ok(0)
        }
    }
}

/// Sleeps until a signal is delivered.
fn wait_for_signal(task: &mut Task) -> SysResult {
    loop {
        if task.has_deliverable() {
            return Err(Errno::EINTR.into());
        }
        task.waiter().wait(None)?;
    }
}

/// `rt_sigsuspend(mask, sigsetsize)`.
pub fn rt_sigsuspend(task: &mut Task) -> SysResult {
    if task.arg(1) != 8 {
        return Err(Errno::EINVAL.into());
    }
    let mask: u64 = task.read_obj(task.arg(0))?;
    let old = task.sigmask();
    task.saved_sigmask = Some(old);
    task.set_sigmask(mask);
    wait_for_signal(task)
}

/// `pause()`.
pub fn pause(task: &mut Task) -> SysResult {
    wait_for_signal(task)
}

/// `rt_sigtimedwait(set, info, timeout, sigsetsize)`.
pub fn rt_sigtimedwait(task: &mut Task) -> SysResult {
    if task.arg(3) != 8 {
        return Err(Errno::EINVAL.into());
    }
    let set: u64 = task.read_obj::<u64>(task.arg(0))? & !UNBLOCKABLE;
    let deadline = match task.arg(2) {
        0 => None,
        addr => {
            let ts: Timespec = task.read_obj(addr)?;
            Some(Instant::now() + ts.to_duration().ok_or(Errno::EINVAL)?)
        }
    };
    // The mask stays as it is: a waited-for signal that the caller blocks is kept pending
    // even if its disposition ignores it, and its arrival wakes us through the process's
    // signal queue, which every signal sent to the process or a thread of it notifies.
    let events = task.process.signal_events.clone();
    let info = loop {
        let _reg = events.register(task.waiter());
        let taken = ksig::dequeue(&task.process, &task.handle, set);
        if let Some(info) = taken {
            break info;
        }
        if task.has_deliverable() {
            return Err(Errno::EINTR.into());
        }
        match task.waiter().wait(deadline) {
            Ok(()) => {}
            Err(Errno::ETIMEDOUT) => return Err(Errno::EAGAIN.into()),
            Err(e) => return Err(e.into()),
        }
    };
    if task.arg(1) != 0 {
        let bytes: [u8; SIGINFO_SIZE] = info.0;
        task.mm().write(task.arg(1), &bytes)?;
    }
    Ok(info.signo() as u64)
}

fn do_signalfd(task: &mut Task, fd: i32, mask_addr: u64, size: u64, flags: i32) -> SysResult {
    if size != 8 || flags & !(libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mask = task.read_obj::<u64>(mask_addr)? & !UNBLOCKABLE;
    if fd != -1 {
        let file = task.file(fd)?;
        let sfd = file
            .ops
            .any()
            .and_then(|a| a.downcast_ref::<SignalFd>())
            .ok_or(Errno::EINVAL)?;
        *sfd.mask.lock() = mask;
        return Ok(fd as u64);
    }
    let sfd = SignalFd::new(mask, task.process.signal_events.clone());
    let file = OpenFile::new(
        Box::new(sfd),
        libc::O_RDONLY | (flags & libc::O_NONBLOCK),
        None,
    );
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task
        .files
        .lock()
        .insert(file, flags & libc::SFD_CLOEXEC != 0, 0, limit)? as u64)
}

/// `signalfd(fd, mask, sizemask)`.
pub fn signalfd(task: &mut Task) -> SysResult {
    do_signalfd(task, task.arg(0) as i32, task.arg(1), task.arg(2), 0)
}

/// `signalfd4(fd, mask, sizemask, flags)`.
pub fn signalfd4(task: &mut Task) -> SysResult {
    do_signalfd(
        task,
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2),
        task.arg(3) as i32,
    )
}

/// Reads the siginfo a caller queues; like Linux, a caller may not pose as the kernel or
/// as `kill` unless it signals itself.
pub(super) fn queued_info(
    task: &Task,
    sig: i32,
    addr: u64,
    to_self: bool,
) -> Result<SigInfo, SysErr> {
    let bytes: [u8; SIGINFO_SIZE] = task.read_obj(addr)?;
    let code = i32::from_ne_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if (code >= 0 || code == SI_TKILL) && !to_self {
        return Err(Errno::EPERM.into());
    }
    Ok(SigInfo::raw(sig, bytes))
}

/// `EPERM` unless the caller may signal `target` ([`ksig::may_signal`]).
fn permitted(task: &Task, target: &Process, sig: i32) -> Result<(), Errno> {
    if ksig::may_signal(&task.kernel, &task.process, target, sig) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// `rt_sigqueueinfo(tgid, sig, info)`.
pub fn rt_sigqueueinfo(task: &mut Task) -> SysResult {
    let (pid, sig) = (task.arg(0) as i32, task.arg(1) as i32);
    check_sig(sig)?;
    let info = queued_info(task, sig, task.arg(2), pid == task.process.pid)?;
    let target = task.kernel.tree.lock().live(pid).ok_or(Errno::ESRCH)?;
    permitted(task, &target, sig)?;
    if sig == libc::SIGCONT {
        ksig::continue_process(&task.kernel, &target);
    }
    if sig != 0 {
        ksig::try_send(&target, None, info)?;
    }
    task.recheck_signals = true;
    Ok(0)
}

/// `rt_tgsigqueueinfo(tgid, tid, sig, info)`.
pub fn rt_tgsigqueueinfo(task: &mut Task) -> SysResult {
    let (tgid, tid, sig) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32);
    check_sig(sig)?;
    let info = queued_info(task, sig, task.arg(3), tgid == task.process.pid)?;
    let process = task.kernel.tree.lock().live(tgid).ok_or(Errno::ESRCH)?;
    let handle = process
        .tasks
        .lock()
        .iter()
        .find(|t| t.tid == tid)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    permitted(task, &process, sig)?;
    if sig != 0 {
        ksig::try_send(&process, Some(&handle), info)?;
    }
    task.recheck_signals = true;
    Ok(0)
}
