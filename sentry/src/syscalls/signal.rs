//! Signal syscalls. Dispositions and masks are recorded; delivery comes with the signals
//! work (until then a handler is never invoked).

use crate::abi::{KSigaction, StackT};
use crate::errno::SysResult;
use crate::kernel::task::Task;
use nix::errno::Errno;

/// `SS_AUTODISARM` (missing from libc).
const SS_AUTODISARM: i32 = 1 << 31;
/// Signals whose disposition and mask cannot change.
const UNBLOCKABLE: u64 = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));

/// `rt_sigaction(sig, act, oldact, sigsetsize)`.
pub fn rt_sigaction(task: &mut Task) -> SysResult {
    let (sig, act, old, size) = (task.arg(0) as i32, task.arg(1), task.arg(2), task.arg(3));
    if size != 8 || !(1..=64).contains(&sig) {
        return Err(Errno::EINVAL.into());
    }
    let new = if act != 0 { Some(task.read_obj::<KSigaction>(act)?) } else { None };
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
    let prev = task.sigmask;
    if set != 0 {
        let s: u64 = task.read_obj(set)?;
        task.sigmask = match how {
            libc::SIG_BLOCK => prev | s,
            libc::SIG_UNBLOCK => prev & !s,
            libc::SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL.into()),
        } & !UNBLOCKABLE;
    }
    if old != 0 {
        task.write_obj(old, &prev)?;
    }
    Ok(0)
}

/// `sigaltstack(ss, old_ss)`.
pub fn sigaltstack(task: &mut Task) -> SysResult {
    let (ss, old) = (task.arg(0), task.arg(1));
    if old != 0 {
        let cur = task.altstack.unwrap_or(StackT { flags: libc::SS_DISABLE, ..StackT::default() });
        task.write_obj(old, &cur)?;
    }
    if ss != 0 {
        let new: StackT = task.read_obj(ss)?;
        if new.flags & libc::SS_DISABLE != 0 {
            task.altstack = None;
        } else if new.flags & !SS_AUTODISARM != 0 {
            return Err(Errno::EINVAL.into());
        } else if new.size < libc::MINSIGSTKSZ as u64 {
            return Err(Errno::ENOMEM.into());
        } else {
            task.altstack = Some(new);
        }
    }
    Ok(0)
}
