//! Process and identity syscalls: exit, ids, limits, resource usage, uname, sysinfo,
//! arch_prctl, prctl, scheduling queries.

use super::uaccess::AT_FDCWD;
use crate::abi::{Rlimit, Rusage, Sysinfo, Timeval, Tms, Utsname};
use crate::errno::{SysErr, SysResult};
use crate::kernel::exec;
use crate::kernel::fork::{self, CloneArgs};
use crate::kernel::process::{COMM_LEN, Creds, Process, RLIM_NLIMITS};
use crate::kernel::task::{ExitStatus, Task, cpu_times_us};
use crate::kernel::tree::{Report, WaitFor, WaitOpts};
use crate::kernel::uts::{self, Uts};
use nix::errno::Errno;

/// `exit(status)`: the thread ends; with the last thread, so does the process.
pub fn exit(task: &mut Task) -> SysResult {
    task.exit = Some(ExitStatus::Code(task.arg(0) as i32 & 0xff));
    task.thread_exit = true;
    Ok(0)
}

/// `fork()`.
pub fn fork(task: &mut Task) -> SysResult {
    let args = CloneArgs {
        flags: 0,
        exit_signal: libc::SIGCHLD,
        stack: 0,
        parent_tid: 0,
        child_tid: 0,
        tls: 0,
        pidfd: 0,
    };
    fork::clone_process(task, args)
}

/// `vfork()`.
pub fn vfork(task: &mut Task) -> SysResult {
    let flags = (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD,
        stack: 0,
        parent_tid: 0,
        child_tid: 0,
        tls: 0,
        pidfd: 0,
    };
    fork::clone_process(task, args)
}

/// `clone(flags, stack, parent_tid, child_tid, tls)`.
pub fn clone(task: &mut Task) -> SysResult {
    let raw = task.arg(0);
    let args = CloneArgs {
        flags: raw & !0xff,
        exit_signal: (raw & 0xff) as i32,
        stack: task.arg(1),
        parent_tid: task.arg(2),
        child_tid: task.arg(3),
        tls: task.arg(4),
        // With CLONE_PIDFD, clone's parent_tid argument receives the pidfd.
        pidfd: task.arg(2),
    };
    fork::clone_process(task, args)
}

/// `clone3(args, size)`.
pub fn clone3(task: &mut Task) -> SysResult {
    let size = task.arg(1) as usize;
    // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
    // tls, set_tid, set_tid_size, cgroup (the first eight make CLONE_ARGS_SIZE_VER0).
    if !(64..=4096).contains(&size) {
        return Err(Errno::EINVAL.into());
    }
    let mut raw = vec![0u8; size];
    task.mm().read(task.arg(0), &mut raw)?;
    let word = |i: usize| {
        raw.get(i * 8..i * 8 + 8)
            .map_or(0, |b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
    };
    if raw.len() > 88 && raw[88..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG.into());
    }
    if word(8) != 0 || word(9) != 0 || word(10) != 0 {
        // set_tid and cgroups are not offered.
        return Err(Errno::EINVAL.into());
    }
    let (stack, stack_size) = (word(5), word(6));
    if (stack == 0) != (stack_size == 0) || word(4) > 64 {
        return Err(Errno::EINVAL.into());
    }
    let args = CloneArgs {
        flags: word(0),
        exit_signal: word(4) as i32,
        stack: if stack == 0 { 0 } else { stack + stack_size },
        parent_tid: word(3),
        child_tid: word(2),
        tls: word(7),
        pidfd: word(1),
    };
    fork::clone_process(task, args)
}

/// Reads a NULL-terminated array of strings (argv, envp), as execve limits them.
fn read_strings(task: &Task, addr: u64) -> Result<Vec<Vec<u8>>, SysErr> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mm = task.mm();
    let mut total = 0usize;
    for i in 0.. {
        let p: u64 = mm.read_obj(addr + i * 8)?;
        if p == 0 {
            break;
        }
        let s = mm
            .read_cstring(p, loader::MAX_ARG_STRLEN - 1)
            .map_err(|e| match e {
                mm::MmError::TooLong => SysErr::Errno(Errno::E2BIG),
                e => e.into(),
            })?;
        total += s.len() + 1 + 8;
        if total > loader::MAX_ARGS_TOTAL {
            return Err(Errno::E2BIG.into());
        }
        out.push(s);
    }
    Ok(out)
}

fn do_execve(
    task: &mut Task,
    dirfd: i32,
    path_addr: u64,
    argv: u64,
    envp: u64,
    flags: i32,
) -> SysResult {
    if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut path = task.read_path(path_addr)?;
    let argv = read_strings(task, argv)?;
    let envp = read_strings(task, envp)?;
    let mut fsctx = task.fs.lock().clone();
    if path.is_empty() {
        if flags & libc::AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT.into());
        }
        path = task.dentry_of_fd(dirfd)?.path().to_vec();
    } else if path[0] != b'/' && dirfd != AT_FDCWD {
        fsctx.cwd = task.dentry_of_fd(dirfd)?;
        if fsctx.cwd.inode().file_type() != ::fs::FileType::Dir {
            return Err(Errno::ENOTDIR.into());
        }
    }
    if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
        let d = task.lookup_at(dirfd, &path, false)?;
        if d.inode().file_type() == ::fs::FileType::Symlink {
            return Err(Errno::ELOOP.into());
        }
    }
    let creds = *task.process.creds.lock();
    let prepared = exec::prepare_in(&task.kernel.vfs, &fsctx, creds, &path, argv, envp)?;
    // Past here there is no old image to return to: a failure kills the process.
    exec::commit(task, prepared)?;
    Ok(0)
}

/// `execve(path, argv, envp)`.
pub fn execve(task: &mut Task) -> SysResult {
    do_execve(task, AT_FDCWD, task.arg(0), task.arg(1), task.arg(2), 0)
}

/// `execveat(dirfd, path, argv, envp, flags)`.
pub fn execveat(task: &mut Task) -> SysResult {
    do_execve(
        task,
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2),
        task.arg(3),
        task.arg(4) as i32,
    )
}

/// Which children `pid` selects for wait4 (-1 any, 0 own group, < -1 a group, > 0 one).
fn wait_selector(task: &Task, pid: i32) -> Result<WaitFor, SysErr> {
    Ok(match pid {
        -1 => WaitFor::Any,
        0 => WaitFor::Group(
            task.kernel
                .tree
                .lock()
                .get(task.process.pid)
                .map_or(0, |e| e.pgid),
        ),
        p if p < 0 => WaitFor::Group(-p),
        p => WaitFor::Pid(p),
    })
}

/// Waits until a child selected by `which` has something `opts` asks for; `None` with
/// `nohang` if none has yet.
fn wait_child(
    task: &Task,
    which: WaitFor,
    opts: WaitOpts,
    nohang: bool,
) -> Result<Option<(i32, Report)>, SysErr> {
    loop {
        let _reg = task.process.child_events.register(task.waiter());
        if let Some(found) = task
            .kernel
            .tree
            .lock()
            .wait(task.process.pid, which, opts)?
        {
            return Ok(Some(found));
        }
        if nohang {
            return Ok(None);
        }
        task.waiter().wait(None)?;
    }
}

fn rusage_of(report: &Report) -> Rusage {
    let cpu_us = match report {
        Report::Exited(z) => z.cpu_us,
        _ => (0, 0),
    };
    let tv = |us: u64| Timeval {
        tv_sec: (us / 1_000_000) as i64,
        tv_usec: (us % 1_000_000) as i64,
    };
    Rusage {
        utime: tv(cpu_us.0),
        stime: tv(cpu_us.1),
        ..Rusage::default()
    }
}

/// `wait4(pid, wstatus, options, rusage)`.
pub fn wait4(task: &mut Task) -> SysResult {
    let (pid, status_addr, options, ru_addr) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as i32,
        task.arg(3),
    );
    let known = libc::WNOHANG
        | libc::WUNTRACED
        | libc::WCONTINUED
        | libc::__WNOTHREAD
        | libc::__WCLONE
        | libc::__WALL;
    if options & !known != 0 {
        return Err(Errno::EINVAL.into());
    }
    let which = wait_selector(task, pid)?;
    let opts = WaitOpts {
        exited: true,
        stopped: options & libc::WUNTRACED != 0,
        continued: options & libc::WCONTINUED != 0,
        keep: false,
    };
    match wait_child(task, which, opts, options & libc::WNOHANG != 0)? {
        None => Ok(0),
        Some((child, report)) => {
            let status = match report {
                Report::Exited(z) => z.status.wait_status(),
                Report::Stopped(sig) => 0x7f | (sig << 8),
                Report::Continued => 0xffff,
            };
            if status_addr != 0 {
                task.write_obj(status_addr, &status)?;
            }
            if ru_addr != 0 {
                task.write_obj(ru_addr, &rusage_of(&report))?;
            }
            Ok(child as u64)
        }
    }
}

/// `waitid(idtype, id, infop, options, rusage)`.
pub fn waitid(task: &mut Task) -> SysResult {
    let (idtype, id, info_addr, options, ru_addr) = (
        task.arg(0) as u32,
        task.arg(1) as i32,
        task.arg(2),
        task.arg(3) as i32,
        task.arg(4),
    );
    let known = libc::WNOHANG
        | libc::WEXITED
        | libc::WSTOPPED
        | libc::WCONTINUED
        | libc::WNOWAIT
        | libc::__WNOTHREAD
        | libc::__WCLONE
        | libc::__WALL;
    if options & !known != 0 || options & (libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED) == 0 {
        return Err(Errno::EINVAL.into());
    }
    // A nonblocking pidfd makes the wait WNOHANG, and finding nothing then EAGAIN.
    let mut pidfd_nonblock = false;
    let which = match idtype {
        libc::P_ALL => WaitFor::Any,
        libc::P_PID if id > 0 => WaitFor::Pid(id),
        libc::P_PGID if id > 0 => WaitFor::Group(id),
        libc::P_PGID => wait_selector(task, 0)?,
        libc::P_PIDFD if id >= 0 => {
            let (pid, nonblock) = super::pidfd::waited_pid(task, id)?;
            pidfd_nonblock = nonblock;
            WaitFor::Pid(pid)
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    let opts = WaitOpts {
        exited: options & libc::WEXITED != 0,
        stopped: options & libc::WSTOPPED != 0,
        continued: options & libc::WCONTINUED != 0,
        keep: options & libc::WNOWAIT != 0,
    };
    let nohang = options & libc::WNOHANG != 0;
    let found = wait_child(task, which, opts, nohang || pidfd_nonblock)?;
    if found.is_none() && pidfd_nonblock && !nohang {
        return Err(Errno::EAGAIN.into());
    }
    let mut info = [0i32; 32];
    if let Some((child, report)) = found {
        let (code, status) = match report {
            Report::Exited(z) => match z.status {
                ExitStatus::Code(c) => (libc::CLD_EXITED, c),
                ExitStatus::Signal { sig, core: true } => (libc::CLD_DUMPED, sig),
                ExitStatus::Signal { sig, core: false } => (libc::CLD_KILLED, sig),
            },
            Report::Stopped(sig) => (libc::CLD_STOPPED, sig),
            Report::Continued => (libc::CLD_CONTINUED, libc::SIGCONT),
        };
        info[0] = libc::SIGCHLD;
        info[2] = code;
        info[4] = child;
        info[5] = task.process.creds.lock().uid as i32;
        info[6] = status;
        if ru_addr != 0 {
            task.write_obj(ru_addr, &rusage_of(&report))?;
        }
    }
    if info_addr != 0 {
        task.write_obj(info_addr, &info)?;
    }
    Ok(0)
}

/// `getpgid(pid)`.
pub fn getpgid(task: &mut Task) -> SysResult {
    let pid = match task.arg(0) as i32 {
        0 => task.process.pid,
        p => p,
    };
    Ok(task.kernel.tree.lock().get(pid).ok_or(Errno::ESRCH)?.pgid as u64)
}

/// `getpgrp()`.
pub fn getpgrp(task: &mut Task) -> SysResult {
    Ok(task
        .kernel
        .tree
        .lock()
        .get(task.process.pid)
        .map_or(0, |e| e.pgid) as u64)
}

/// `getsid(pid)`.
pub fn getsid(task: &mut Task) -> SysResult {
    let pid = match task.arg(0) as i32 {
        0 => task.process.pid,
        p => p,
    };
    Ok(task.kernel.tree.lock().get(pid).ok_or(Errno::ESRCH)?.sid as u64)
}

/// `setpgid(pid, pgid)`.
pub fn setpgid(task: &mut Task) -> SysResult {
    let me = task.process.pid;
    let pid = match task.arg(0) as i32 {
        0 => me,
        p => p,
    };
    let pgid = match task.arg(1) as i32 {
        0 => pid,
        g if g < 0 => return Err(Errno::EINVAL.into()),
        g => g,
    };
    let mut tree = task.kernel.tree.lock();
    let my_sid = tree.get(me).ok_or(Errno::ESRCH)?.sid;
    let target = tree.get(pid).ok_or(Errno::ESRCH)?;
    if pid != me {
        if target.ppid != me {
            return Err(Errno::ESRCH.into());
        }
        if target.sid != my_sid {
            return Err(Errno::EPERM.into());
        }
        if target.execed {
            return Err(Errno::EACCES.into());
        }
    }
    if target.sid == pid {
        // A session leader cannot change its group.
        return Err(Errno::EPERM.into());
    }
    if pgid != pid && !tree.group_in_session(pgid, my_sid) {
        return Err(Errno::EPERM.into());
    }
    tree.get_mut(pid).ok_or(Errno::ESRCH)?.pgid = pgid;
    Ok(0)
}

/// `setsid()`.
pub fn setsid(task: &mut Task) -> SysResult {
    let pid = task.process.pid;
    let mut tree = task.kernel.tree.lock();
    if tree.group(pid).iter().any(|p| p.pid != pid) || tree.get(pid).is_some_and(|e| e.pgid == pid)
    {
        return Err(Errno::EPERM.into());
    }
    let e = tree.get_mut(pid).ok_or(Errno::ESRCH)?;
    e.pgid = pid;
    e.sid = pid;
    drop(tree);
    *task.process.ctty.lock() = None;
    Ok(pid as u64)
}

/// `exit_group(status)`.
pub fn exit_group(task: &mut Task) -> SysResult {
    task.exit_group(ExitStatus::Code(task.arg(0) as i32 & 0xff));
    Ok(0)
}

/// `getpid()`.
pub fn getpid(task: &mut Task) -> SysResult {
    Ok(task.process.pid as u64)
}

/// `gettid()`.
pub fn gettid(task: &mut Task) -> SysResult {
    Ok(task.tid as u64)
}

/// `getppid()`: the first process's parent is outside the sandbox, so 0.
pub fn getppid(task: &mut Task) -> SysResult {
    Ok(task
        .kernel
        .tree
        .lock()
        .get(task.process.pid)
        .map_or(0, |e| e.ppid) as u64)
}

/// `set_tid_address(tidptr)`.
pub fn set_tid_address(task: &mut Task) -> SysResult {
    task.clear_child_tid = task.arg(0);
    Ok(task.tid as u64)
}

/// `set_robust_list(head, len)`.
pub fn set_robust_list(task: &mut Task) -> SysResult {
    if task.arg(1) != 24 {
        return Err(Errno::EINVAL.into());
    }
    task.robust_list = task.arg(0);
    Ok(0)
}

/// `get_robust_list(tid, head_ptr, len_ptr)`: only for the calling thread.
pub fn get_robust_list(task: &mut Task) -> SysResult {
    let tid = task.arg(0) as i32;
    if tid != 0 && tid != task.tid {
        return Err(Errno::EPERM.into());
    }
    task.write_obj(task.arg(1), &task.robust_list)?;
    task.write_obj(task.arg(2), &24u64)?;
    Ok(0)
}

/// `getuid()`.
pub fn getuid(task: &mut Task) -> SysResult {
    Ok(task.process.creds.lock().uid as u64)
}

/// `geteuid()`.
pub fn geteuid(task: &mut Task) -> SysResult {
    Ok(task.process.creds.lock().euid as u64)
}

/// `getgid()`.
pub fn getgid(task: &mut Task) -> SysResult {
    Ok(task.process.creds.lock().gid as u64)
}

/// `getegid()`.
pub fn getegid(task: &mut Task) -> SysResult {
    Ok(task.process.creds.lock().egid as u64)
}

/// `getresuid(ruid, euid, suid)`.
pub fn getresuid(task: &mut Task) -> SysResult {
    let c = *task.process.creds.lock();
    task.write_obj(task.arg(0), &c.uid)?;
    task.write_obj(task.arg(1), &c.euid)?;
    task.write_obj(task.arg(2), &c.suid)?;
    Ok(0)
}

/// `getresgid(rgid, egid, sgid)`.
pub fn getresgid(task: &mut Task) -> SysResult {
    let c = *task.process.creds.lock();
    task.write_obj(task.arg(0), &c.gid)?;
    task.write_obj(task.arg(1), &c.egid)?;
    task.write_obj(task.arg(2), &c.sgid)?;
    Ok(0)
}

/// `getgroups(size, list)`: the guest has no supplementary groups.
pub fn getgroups(task: &mut Task) -> SysResult {
    if (task.arg(0) as i32) < 0 {
        return Err(Errno::EINVAL.into());
    }
    Ok(0)
}

fn uts_field(s: &[u8]) -> [u8; 65] {
    let mut f = [0u8; 65];
    let n = s.len().min(uts::MAX_LEN);
    f[..n].copy_from_slice(&s[..n]);
    f
}

/// `uname(buf)`: the host's system and release, the sandbox's host and domain name.
pub fn uname(task: &mut Task) -> SysResult {
    let host = nix::sys::utsname::uname()?;
    let s = |o: &std::ffi::OsStr| uts_field(o.as_encoded_bytes());
    let uts = Utsname {
        sysname: s(host.sysname()),
        nodename: uts_field(&task.kernel.uts.hostname()),
        release: s(host.release()),
        version: s(host.version()),
        machine: s(host.machine()),
        domainname: uts_field(&task.kernel.uts.domainname()),
    };
    task.write_obj(task.arg(0), &uts)?;
    Ok(0)
}

/// `sethostname(name, len)`.
pub fn sethostname(task: &mut Task) -> SysResult {
    set_uts_name(task, Uts::set_hostname)
}

/// `setdomainname(name, len)`.
pub fn setdomainname(task: &mut Task) -> SysResult {
    set_uts_name(task, Uts::set_domainname)
}

/// Sets a UTS name to the `len` (argument 1) bytes at argument 0: `EPERM` without
/// `CAP_SYS_ADMIN`, then `EINVAL` for a length outside 0..=64, then `EFAULT`.
fn set_uts_name(task: &Task, set: fn(&Uts, &[u8])) -> SysResult {
    if !task.process.creds.lock().has_all_caps() {
        return Err(Errno::EPERM.into());
    }
    let len = usize::try_from(task.arg(1) as i32)
        .ok()
        .filter(|&l| l <= uts::MAX_LEN)
        .ok_or(Errno::EINVAL)?;
    let mut name = vec![0u8; len];
    task.mm().read(task.arg(0), &mut name)?;
    set(&task.kernel.uts, &name);
    Ok(0)
}

fn rlimit_index(v: u64) -> Result<usize, Errno> {
    let i = v as usize;
    if i < RLIM_NLIMITS {
        Ok(i)
    } else {
        Err(Errno::EINVAL)
    }
}

/// Replaces limit `which` with `new` (hard limits may only be raised by root).
fn set_rlimit(task: &Task, target: &Process, which: usize, new: Rlimit) -> Result<(), Errno> {
    if new.cur > new.max {
        return Err(Errno::EINVAL);
    }
    let mut limits = target.rlimits.lock();
    if new.max > limits[which].max && task.process.creds.lock().euid != 0 {
        return Err(Errno::EPERM);
    }
    limits[which] = new;
    drop(limits);
    if which == libc::RLIMIT_CPU as usize {
        crate::kernel::itimer::check_rlimit_cpu(&task.kernel, &task.process);
    }
    Ok(())
}

/// `getrlimit(resource, rlim)`.
pub fn getrlimit(task: &mut Task) -> SysResult {
    let which = rlimit_index(task.arg(0))?;
    let lim = task.process.rlimits.lock()[which];
    task.write_obj(task.arg(1), &lim)?;
    Ok(0)
}

/// `setrlimit(resource, rlim)`.
pub fn setrlimit(task: &mut Task) -> SysResult {
    let which = rlimit_index(task.arg(0))?;
    let new: Rlimit = task.read_obj(task.arg(1))?;
    set_rlimit(task, &task.process, which, new)?;
    Ok(0)
}

/// Linux's `check_prlimit_permission`: another process's limits are the caller's to
/// read or change if its real, effective and saved ids all are the caller's real ones,
/// or the caller has `CAP_SYS_RESOURCE` (root).
fn may_prlimit(caller: &Creds, target: &Creds) -> bool {
    caller.euid == 0
        || ([target.uid, target.euid, target.suid] == [caller.uid; 3]
            && [target.gid, target.egid, target.sgid] == [caller.gid; 3])
}

/// `prlimit64(pid, resource, new, old)`: the limits of any process of the sandbox (0:
/// the caller's).
pub fn prlimit64(task: &mut Task) -> SysResult {
    let pid = task.arg(0) as i32;
    let target = if pid == 0 || pid == task.process.pid {
        task.process.clone()
    } else {
        let target = task.kernel.tree.lock().live(pid).ok_or(Errno::ESRCH)?;
        if !may_prlimit(&task.process.creds.lock(), &target.creds.lock()) {
            return Err(Errno::EPERM.into());
        }
        target
    };
    let which = rlimit_index(task.arg(1))?;
    let new = match task.arg(2) {
        0 => None,
        addr => Some(task.read_obj::<Rlimit>(addr)?),
    };
    let old = target.rlimits.lock()[which];
    if let Some(new) = new {
        set_rlimit(task, &target, which, new)?;
    }
    if task.arg(3) != 0 {
        task.write_obj(task.arg(3), &old)?;
    }
    Ok(0)
}

/// CPU time the stub process has used, as (user, system).
fn cpu_times(task: &Task) -> (std::time::Duration, std::time::Duration) {
    let (u, s) = cpu_times_us(task.stub.tid());
    (
        std::time::Duration::from_micros(u),
        std::time::Duration::from_micros(s),
    )
}

/// `getrusage(who, usage)`.
pub fn getrusage(task: &mut Task) -> SysResult {
    let who = task.arg(0) as i32;
    let mut ru = Rusage::default();
    match who {
        libc::RUSAGE_SELF | libc::RUSAGE_THREAD => {
            let (u, s) = cpu_times(task);
            ru.utime = Timeval::from_duration(u);
            ru.stime = Timeval::from_duration(s);
        }
        libc::RUSAGE_CHILDREN => {}
        _ => return Err(Errno::EINVAL.into()),
    }
    task.write_obj(task.arg(1), &ru)?;
    Ok(0)
}

/// `times(buf)`: returns clock ticks since boot.
pub fn times(task: &mut Task) -> SysResult {
    let (u, s) = cpu_times(task);
    let to_ticks = |d: std::time::Duration| (d.as_millis() / 10) as i64;
    if task.arg(0) != 0 {
        let t = Tms {
            utime: to_ticks(u),
            stime: to_ticks(s),
            cutime: 0,
            cstime: 0,
        };
        task.write_obj(task.arg(0), &t)?;
    }
    let up = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)?;
    Ok((up.tv_sec() * 100 + up.tv_nsec() / 10_000_000) as u64)
}

/// `sysinfo(info)`: the host's memory figures, the sandbox's process count.
pub fn sysinfo(task: &mut Task) -> SysResult {
    let host = nix::sys::sysinfo::sysinfo()?;
    let loads = host.load_average();
    let scale = |l: f64| (l * 65536.0) as u64;
    let info = Sysinfo {
        uptime: task.kernel.boot.elapsed().as_secs() as i64,
        loads: [scale(loads.0), scale(loads.1), scale(loads.2)],
        totalram: host.ram_total(),
        freeram: host.ram_unused(),
        totalswap: host.swap_total(),
        freeswap: host.swap_free(),
        procs: task.kernel.processes().len() as u16,
        mem_unit: 1,
        ..Sysinfo::default()
    };
    task.write_obj(task.arg(0), &info)?;
    Ok(0)
}

/// `arch_prctl(code, addr)`.
pub fn arch_prctl(task: &mut Task) -> SysResult {
    const ARCH_SET_GS: u64 = 0x1001;
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    const ARCH_GET_GS: u64 = 0x1004;
    const ARCH_GET_CPUID: u64 = 0x1011;
    const ARCH_SET_CPUID: u64 = 0x1012;
    let (code, addr) = (task.arg(0), task.arg(1));
    match code {
        ARCH_SET_FS | ARCH_SET_GS => {
            if addr >= platform::GUEST_TOP {
                return Err(Errno::EPERM.into());
            }
            if code == ARCH_SET_FS {
                task.regs.fs_base = addr;
            } else {
                task.regs.gs_base = addr;
            }
            Ok(0)
        }
        ARCH_GET_FS => {
            task.write_obj(addr, &task.regs.fs_base)?;
            Ok(0)
        }
        ARCH_GET_GS => {
            task.write_obj(addr, &task.regs.gs_base)?;
            Ok(0)
        }
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(Errno::ENODEV.into()),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `prctl(option, ...)`: the options programs use at start-up.
pub fn prctl(task: &mut Task) -> SysResult {
    let (option, arg2) = (task.arg(0) as i32, task.arg(1));
    match option {
        libc::PR_SET_NAME => {
            // Up to the NUL or COMM_LEN bytes, whichever comes first (strncpy_from_user).
            let mm = task.mm();
            let mut name = Vec::with_capacity(COMM_LEN);
            for addr in (arg2..).take(COMM_LEN) {
                let mut c = [0u8];
                mm.read(addr, &mut c)?;
                if c[0] == 0 {
                    break;
                }
                name.push(c[0]);
            }
            task.process.set_comm(&task.handle, &name);
            Ok(0)
        }
        libc::PR_GET_NAME => {
            let mut name = task.handle.comm.lock().clone();
            name.resize(16, 0);
            task.mm().write(arg2, &name)?;
            Ok(0)
        }
        libc::PR_SET_PDEATHSIG => {
            if arg2 > 64 {
                return Err(Errno::EINVAL.into());
            }
            Ok(0)
        }
        libc::PR_GET_PDEATHSIG => {
            task.write_obj(arg2, &0i32)?;
            Ok(0)
        }
        libc::PR_GET_DUMPABLE => Ok(task.process.dumpable() as u64),
        libc::PR_SET_DUMPABLE => match arg2 {
            0 | 1 => {
                task.process.set_dumpable(arg2 == 1);
                Ok(0)
            }
            _ => Err(Errno::EINVAL.into()),
        },
        libc::PR_SET_KEEPCAPS | libc::PR_SET_CHILD_SUBREAPER => Ok(0),
        libc::PR_GET_KEEPCAPS => Ok(0),
        libc::PR_GET_CHILD_SUBREAPER => {
            task.write_obj(arg2, &0i32)?;
            Ok(0)
        }
        libc::PR_SET_NO_NEW_PRIVS => {
            if arg2 != 1 || (2..5).any(|i| task.arg(i) != 0) {
                return Err(Errno::EINVAL.into());
            }
            task.handle
                .no_new_privs
                .store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => {
            if (1..5).any(|i| task.arg(i) != 0) {
                return Err(Errno::EINVAL.into());
            }
            Ok(task.handle.no_new_privs().into())
        }
        libc::PR_CAPBSET_READ if arg2 <= super::misc::CAP_LAST_CAP => Ok(1),
        libc::PR_GET_SECUREBITS => Ok(0),
        libc::PR_CAP_AMBIENT => prctl_cap_ambient(task),
        libc::PR_GET_SECCOMP => super::seccomp::prctl_get_seccomp(task),
        libc::PR_SET_SECCOMP => super::seccomp::prctl_set_seccomp(task, arg2, task.arg(2)),
        libc::PR_SET_VMA => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `prctl(PR_CAP_AMBIENT, op, cap)`: the ambient set is always empty, since no
/// process holds inheritable capabilities in the sandbox's model, so raising one is
/// `EPERM` and the other operations have nothing to do; Linux's argument checks.
fn prctl_cap_ambient(task: &Task) -> SysResult {
    let (op, cap) = (task.arg(1), task.arg(2));
    let extra = |from: usize| (from..5).any(|i| task.arg(i) != 0);
    if op == libc::PR_CAP_AMBIENT_CLEAR_ALL as u64 {
        return if extra(2) {
            Err(Errno::EINVAL.into())
        } else {
            Ok(0)
        };
    }
    if extra(3) || cap > super::misc::CAP_LAST_CAP {
        return Err(Errno::EINVAL.into());
    }
    match op as i32 {
        libc::PR_CAP_AMBIENT_IS_SET | libc::PR_CAP_AMBIENT_LOWER => Ok(0),
        libc::PR_CAP_AMBIENT_RAISE => Err(Errno::EPERM.into()),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `sched_yield()`.
pub fn sched_yield(_task: &mut Task) -> SysResult {
    std::thread::yield_now();
    Ok(0)
}

/// `getcpu(cpu, node, cache)`.
pub fn getcpu(task: &mut Task) -> SysResult {
    let cpu = nix::sched::sched_getcpu().unwrap_or(0) as u32;
    if task.arg(0) != 0 {
        task.write_obj(task.arg(0), &cpu)?;
    }
    if task.arg(1) != 0 {
        task.write_obj(task.arg(1), &0u32)?;
    }
    Ok(0)
}

/// `getrandom(buf, len, flags)`.
pub fn getrandom(task: &mut Task) -> SysResult {
    let (addr, len, flags) = (
        task.arg(0),
        (task.arg(1) as usize).min(1 << 25),
        task.arg(2) as u32,
    );
    if flags & !(libc::GRND_NONBLOCK | libc::GRND_RANDOM | libc::GRND_INSECURE) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut buf = vec![0u8; len];
    platform::host::getrandom(&mut buf)?;
    task.mm().write(addr, &buf)?;
    Ok(len as u64)
}
