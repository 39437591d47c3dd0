//! Scheduling syscalls: policies and priorities (`sched_setscheduler`, `sched_getparam`,
//! `sched_setattr`, ...), nice values (`getpriority`, `setpriority`) and I/O priorities
//! (`ioprio_get`, `ioprio_set`), kept per thread in [`SchedAttrs`]; CPU affinity
//! (`sched_setaffinity`, `sched_getaffinity`), kept per thread as a [`CpuMask`].
//!
//! Targets are threads by id (0: the caller), process groups and users, found in the
//! process tree.

use crate::abi::{SchedAttr, Timespec};
use crate::errno::{SysErr, SysResult};
use crate::kernel::affinity::CpuMask;
use crate::kernel::process::{Process, TaskHandle};
use crate::kernel::sched::{self, Authority, Request, SCHED_DEADLINE, SchedAttrs, flags, ioprio};
use crate::kernel::task::Task;
use nix::errno::Errno;
use std::sync::Arc;
use zerocopy::IntoBytes;

/// `sizeof(struct sched_attr)` of the first version, and of the current one.
const SCHED_ATTR_SIZE_VER0: u32 = 48;
const SCHED_ATTR_SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;
/// Largest `sched_attr` size a caller may pass (a page).
const SCHED_ATTR_SIZE_MAX: u32 = 4096;

/// A thread and its process.
type Thread = (Arc<Process>, Arc<TaskHandle>);

/// Which threads a `getpriority`/`ioprio_get` family call addresses.
#[derive(Clone, Copy)]
enum Who {
    /// One thread (`PRIO_PROCESS`, `IOPRIO_WHO_PROCESS`).
    Thread(i32),
    /// Every thread of a process group.
    Group(i32),
    /// Every thread of a user's processes.
    User(u32),
}

impl Who {
    /// Decodes `which` (`first` for one thread, then a group, then a user: 0, 1, 2 for
    /// `getpriority`, 1, 2, 3 for `ioprio_get`) and `who` (0: the caller's own).
    fn of(task: &Task, which: u64, who: i32, first: u64) -> Result<Who, SysErr> {
        Ok(match which.wrapping_sub(first) {
            0 => Who::Thread(who),
            1 if who == 0 => Who::Group(own_group(task)),
            1 => Who::Group(who),
            2 if who == 0 => Who::User(task.process.creds.lock().uid),
            2 => Who::User(who as u32),
            _ => return Err(Errno::EINVAL.into()),
        })
    }

    /// The live threads addressed.
    fn threads(self, task: &Task) -> Vec<Thread> {
        let processes = match self {
            Who::Thread(tid) => return thread(task, tid).into_iter().collect(),
            Who::Group(pgid) => task.kernel.tree.lock().group(pgid),
            Who::User(uid) => task
                .kernel
                .processes()
                .into_iter()
                .filter(|p| p.creds.lock().uid == uid)
                .collect(),
        };
        processes
            .into_iter()
            .flat_map(|p| {
                let tasks = p.tasks.lock().clone();
                tasks.into_iter().map(move |t| (p.clone(), t))
            })
            .collect()
    }
}

fn own_group(task: &Task) -> i32 {
    task.kernel
        .tree
        .lock()
        .get(task.process.pid)
        .map_or(0, |e| e.pgid)
}

/// Thread `tid` (0: the caller), if it is alive.
fn thread(task: &Task, tid: i32) -> Option<Thread> {
    if tid == 0 || tid == task.tid {
        return Some((task.process.clone(), task.handle.clone()));
    }
    task.kernel.tree.lock().thread(tid)
}

/// The target of a `sched_*` call: `EINVAL` for a negative id, `ESRCH` for no such thread.
fn target(task: &Task, pid: u64) -> Result<Thread, SysErr> {
    let pid = pid as i32;
    if pid < 0 {
        return Err(Errno::EINVAL.into());
    }
    Ok(thread(task, pid).ok_or(Errno::ESRCH)?)
}

/// The caller's authority over a thread of `target`.
fn authority(task: &Task, target: &Process) -> Authority {
    let caller = *task.process.creds.lock();
    let target_creds = *target.creds.lock();
    Authority {
        caller,
        target: target_creds,
        nice_limit: target.rlimit(libc::RLIMIT_NICE as usize),
        rtprio_limit: target.rlimit(libc::RLIMIT_RTPRIO as usize),
    }
}

/// Applies `req` (with `keep_params`, the thread's own parameters first) to `target`.
fn apply(
    task: &Task,
    (process, handle): &Thread,
    mut req: Request,
    keep_params: bool,
) -> SysResult {
    let who = authority(task, process);
    let mut attrs = handle.sched.lock();
    if keep_params {
        attrs.keep_params(&mut req);
    }
    attrs.set(&req, &who)?;
    Ok(0)
}

/// The thread of a `sched_*affinity` call: `ESRCH` for a negative or unknown id.
fn affinity_target(task: &Task, pid: u64) -> Result<Thread, SysErr> {
    let pid = pid as i32;
    Ok((pid >= 0)
        .then(|| thread(task, pid))
        .flatten()
        .ok_or(Errno::ESRCH)?)
}

/// `sched_setaffinity(pid, size, mask)`: bytes past the kernel's mask size are ignored
/// and a shorter mask is zero-extended; the owner or root may set it; `EINVAL` if it
/// names no usable CPU.
pub fn sched_setaffinity(task: &mut Task) -> SysResult {
    let mut user = vec![0u8; CpuMask::user_len(task.arg(1) as usize)];
    task.mm().read(task.arg(2), &mut user)?;
    let (process, handle) = affinity_target(task, task.arg(0))?;
    if !authority(task, &process).may_set_affinity() {
        return Err(Errno::EPERM.into());
    }
    let mask = CpuMask::from_user(&user)?;
    *handle.affinity.lock() = mask;
    Ok(0)
}

/// `sched_getaffinity(pid, size, mask)`: returns how many bytes it wrote, the kernel's
/// mask size if the buffer is bigger.
pub fn sched_getaffinity(task: &mut Task) -> SysResult {
    let len = CpuMask::check_user_len(task.arg(1) as usize)?;
    let (_, handle) = affinity_target(task, task.arg(0))?;
    let mask = handle.affinity.lock().reported();
    task.mm().write(task.arg(2), &mask.bytes()[..len])?;
    Ok(len as u64)
}

/// `sched_setscheduler` and `sched_setparam`: the legacy calls, which keep the nice value
/// and a custom time slice.
fn set_legacy(task: &mut Task, pid: u64, policy: Option<i32>, param: u64) -> SysResult {
    if param == 0 || (pid as i32) < 0 {
        return Err(Errno::EINVAL.into());
    }
    let priority: i32 = task.read_obj(param)?;
    let t = target(task, pid)?;
    let current = *t.1.sched.lock();
    let req = Request {
        policy: policy.map(|p| p & !libc::SCHED_RESET_ON_FORK),
        flags: match policy {
            Some(p) if p & libc::SCHED_RESET_ON_FORK != 0 => flags::RESET_ON_FORK,
            _ => 0,
        },
        priority: priority as u32,
        nice: current.nice,
        deadline: sched::Deadline {
            runtime: current.slice.unwrap_or(0),
            ..sched::Deadline::default()
        },
    };
    apply(task, &t, req, false)
}

/// `sched_setscheduler(pid, policy, param)`.
pub fn sched_setscheduler(task: &mut Task) -> SysResult {
    let policy = task.arg(1) as i32;
    if policy < 0 {
        return Err(Errno::EINVAL.into());
    }
    set_legacy(task, task.arg(0), Some(policy), task.arg(2))
}

/// `sched_setparam(pid, param)`.
pub fn sched_setparam(task: &mut Task) -> SysResult {
    set_legacy(task, task.arg(0), None, task.arg(1))
}

/// `sched_getscheduler(pid)`.
pub fn sched_getscheduler(task: &mut Task) -> SysResult {
    let (_, handle) = target(task, task.arg(0))?;
    Ok(handle.sched.lock().policy_word() as u64)
}

/// `sched_getparam(pid, param)`: the real-time priority, 0 under other policies.
pub fn sched_getparam(task: &mut Task) -> SysResult {
    if task.arg(1) == 0 {
        return Err(Errno::EINVAL.into());
    }
    let (_, handle) = target(task, task.arg(0))?;
    let attrs = *handle.sched.lock();
    let priority = if sched::is_rt(attrs.policy) {
        attrs.rt_priority as i32
    } else {
        0
    };
    task.write_obj(task.arg(1), &priority)?;
    Ok(0)
}

/// Reads a `struct sched_attr` as Linux's `sched_copy_attr` does: a size of 0 means the
/// first version's; a size out of range, or bytes beyond the known structure that are not
/// zero, are `E2BIG` with the kernel's size written back.
fn read_sched_attr(task: &Task, addr: u64) -> Result<SchedAttr, SysErr> {
    let size = match task.read_obj::<u32>(addr)? {
        0 => SCHED_ATTR_SIZE_VER0,
        s => s,
    };
    let too_big = |task: &Task| -> SysErr {
        match task.write_obj(addr, &SCHED_ATTR_SIZE) {
            Ok(()) => Errno::E2BIG.into(),
            Err(e) => e,
        }
    };
    if !(SCHED_ATTR_SIZE_VER0..=SCHED_ATTR_SIZE_MAX).contains(&size) {
        return Err(too_big(task));
    }
    let mut raw = vec![0u8; size as usize];
    task.mm().read(addr, &mut raw)?;
    if raw.iter().skip(SCHED_ATTR_SIZE as usize).any(|&b| b != 0) {
        return Err(too_big(task));
    }
    raw.resize(SCHED_ATTR_SIZE as usize, 0);
    let mut attr = SchedAttr::default();
    attr.as_mut_bytes().copy_from_slice(&raw);
    if attr.sched_flags & flags::UTIL_CLAMP != 0 && size < SCHED_ATTR_SIZE {
        return Err(Errno::EINVAL.into());
    }
    attr.sched_nice = attr.sched_nice.clamp(sched::MIN_NICE, sched::MAX_NICE);
    Ok(attr)
}

/// `sched_setattr(pid, attr, flags)`.
pub fn sched_setattr(task: &mut Task) -> SysResult {
    let (pid, addr) = (task.arg(0), task.arg(1));
    if addr == 0 || (pid as i32) < 0 || task.arg(2) as u32 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let attr = read_sched_attr(task, addr)?;
    if (attr.sched_policy as i32) < 0 {
        return Err(Errno::EINVAL.into());
    }
    let t = target(task, pid)?;
    let req = Request {
        policy: (attr.sched_flags & flags::KEEP_POLICY == 0).then_some(attr.sched_policy as i32),
        flags: attr.sched_flags,
        priority: attr.sched_priority,
        nice: attr.sched_nice,
        deadline: sched::Deadline {
            runtime: attr.sched_runtime,
            deadline: attr.sched_deadline,
            period: attr.sched_period,
        },
    };
    apply(task, &t, req, attr.sched_flags & flags::KEEP_PARAMS != 0)
}

/// The `sched_attr` describing `attrs` (no utilization clamps, as without
/// `CONFIG_UCLAMP_TASK`).
fn sched_attr_of(attrs: &SchedAttrs) -> SchedAttr {
    let mut out = SchedAttr {
        size: SCHED_ATTR_SIZE,
        sched_policy: attrs.policy as u32,
        sched_flags: if attrs.reset_on_fork {
            flags::RESET_ON_FORK
        } else {
            0
        },
        ..SchedAttr::default()
    };
    if attrs.policy == SCHED_DEADLINE {
        out.sched_runtime = attrs.deadline.runtime;
        out.sched_deadline = attrs.deadline.deadline;
        out.sched_period = attrs.deadline.period;
    } else if sched::is_rt(attrs.policy) {
        out.sched_priority = attrs.rt_priority;
    } else {
        out.sched_nice = attrs.nice;
        out.sched_runtime = attrs.time_slice();
    }
    out
}

/// `sched_getattr(pid, attr, size, flags)`: as much of the structure as the caller's
/// size holds, the rest of its buffer zeroed, `size` set to what was written.
pub fn sched_getattr(task: &mut Task) -> SysResult {
    let (pid, addr, usize) = (task.arg(0), task.arg(1), task.arg(2));
    let size_ok = (SCHED_ATTR_SIZE_VER0 as u64..=SCHED_ATTR_SIZE_MAX as u64).contains(&usize);
    if addr == 0 || (pid as i32) < 0 || !size_ok || task.arg(3) as u32 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (_, handle) = target(task, pid)?;
    let mut attr = sched_attr_of(&handle.sched.lock());
    attr.size = attr.size.min(usize as u32);
    let mut out = vec![0u8; usize as usize];
    out[..attr.size as usize].copy_from_slice(&attr.as_bytes()[..attr.size as usize]);
    task.mm().write(addr, &out)?;
    Ok(0)
}

/// The priority range of `policy`: 1..99 for real-time ones, 0 for the others Linux
/// names (`SCHED_EXT` included, though no thread can enter it here).
fn priority_range(policy: i32) -> Result<(u64, u64), SysErr> {
    match policy {
        p if sched::is_rt(p) => Ok((1, sched::MAX_RT_PRIO as u64)),
        libc::SCHED_OTHER
        | libc::SCHED_BATCH
        | libc::SCHED_IDLE
        | SCHED_DEADLINE
        | sched::SCHED_EXT => Ok((0, 0)),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `sched_get_priority_max(policy)`.
pub fn sched_get_priority_max(task: &mut Task) -> SysResult {
    Ok(priority_range(task.arg(0) as i32)?.1)
}

/// `sched_get_priority_min(policy)`.
pub fn sched_get_priority_min(task: &mut Task) -> SysResult {
    Ok(priority_range(task.arg(0) as i32)?.0)
}

/// `sched_rr_get_interval(pid, tp)`.
pub fn sched_rr_get_interval(task: &mut Task) -> SysResult {
    let (_, handle) = target(task, task.arg(0))?;
    let interval = handle.sched.lock().rr_interval();
    task.write_obj(task.arg(1), &Timespec::from_duration(interval))?;
    Ok(0)
}

/// `getpriority(which, who)`: the highest priority (lowest nice value) among the
/// threads, returned as `20 - nice` as the raw syscall does.
pub fn getpriority(task: &mut Task) -> SysResult {
    let who = Who::of(task, task.arg(0), task.arg(1) as i32, 0)?;
    who.threads(task)
        .iter()
        .map(|(_, t)| (20 - t.sched.lock().nice) as u64)
        .max()
        .ok_or(Errno::ESRCH.into())
}

/// `setpriority(which, who, nice)`: every thread addressed gets the nice value (clamped
/// to -20..19); the result is the last refusal, if any.
pub fn setpriority(task: &mut Task) -> SysResult {
    let who = Who::of(task, task.arg(0), task.arg(1) as i32, 0)?;
    let nice = (task.arg(2) as i32).clamp(sched::MIN_NICE, sched::MAX_NICE);
    let threads = who.threads(task);
    if threads.is_empty() {
        return Err(Errno::ESRCH.into());
    }
    let mut result = Ok(0);
    for (process, handle) in &threads {
        let authority = authority(task, process);
        if let Err(e) = handle.sched.lock().renice(nice, &authority) {
            result = Err(e.into());
        }
    }
    result
}

/// `ioprio_set(which, who, ioprio)`: the value is checked first; the first refusal stops.
pub fn ioprio_set(task: &mut Task) -> SysResult {
    let privileged = task.process.creds.lock().euid == 0;
    let value = ioprio::check(task.arg(2) as i32, privileged)?;
    let who = Who::of(task, task.arg(0), task.arg(1) as i32, 1)?;
    let threads = who.threads(task);
    if threads.is_empty() {
        return Err(Errno::ESRCH.into());
    }
    for (process, handle) in &threads {
        let authority = authority(task, process);
        handle.sched.lock().set_ioprio(value, &authority)?;
    }
    Ok(0)
}

/// `ioprio_get(which, who)`: a thread's I/O priority as set (0 if never set); for a group
/// or a user, the best of their threads' effective ones (see
/// [`SchedAttrs::effective_ioprio`]).
pub fn ioprio_get(task: &mut Task) -> SysResult {
    let who = Who::of(task, task.arg(0), task.arg(1) as i32, 1)?;
    let threads = who.threads(task);
    let value = match who {
        Who::Thread(_) => threads.first().map(|(_, t)| t.sched.lock().ioprio),
        _ => threads
            .iter()
            .map(|(_, t)| t.sched.lock().effective_ioprio())
            .min(),
    };
    Ok(value.ok_or(Errno::ESRCH)? as u64)
}
