//! Process and identity syscalls: exit, ids, limits, resource usage, uname, sysinfo,
//! arch_prctl, prctl, scheduling queries.

use crate::abi::{Rlimit, Rusage, Sysinfo, Timeval, Tms, Utsname};
use crate::errno::SysResult;
use crate::kernel::process::RLIM_NLIMITS;
use crate::kernel::task::{ExitStatus, Task};
use nix::errno::Errno;

/// `exit(status)`: the thread ends; with one thread, so does the process.
pub fn exit(task: &mut Task) -> SysResult {
    task.exit = Some(ExitStatus::Code(task.arg(0) as i32 & 0xff));
    Ok(0)
}

/// `exit_group(status)`.
pub fn exit_group(task: &mut Task) -> SysResult {
    task.exit = Some(ExitStatus::Code(task.arg(0) as i32 & 0xff));
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
pub fn getppid(_task: &mut Task) -> SysResult {
    Ok(0)
}

/// `set_tid_address(tidptr)`.
pub fn set_tid_address(task: &mut Task) -> SysResult {
    task.clear_child_tid = task.arg(0);
    Ok(task.tid as u64)
}

/// `set_robust_list(head, len)`: recorded nowhere yet; the list is only needed when a
/// thread dies holding a robust mutex.
pub fn set_robust_list(task: &mut Task) -> SysResult {
    if task.arg(1) != 24 {
        return Err(Errno::EINVAL.into());
    }
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

fn uts_field(s: &str) -> [u8; 65] {
    let mut f = [0u8; 65];
    let n = s.len().min(64);
    f[..n].copy_from_slice(&s.as_bytes()[..n]);
    f
}

/// `uname(buf)`: the host's system and release, the sandbox's host name.
pub fn uname(task: &mut Task) -> SysResult {
    let host = nix::sys::utsname::uname()?;
    let s = |o: &std::ffi::OsStr| o.to_string_lossy().into_owned();
    let uts = Utsname {
        sysname: uts_field(&s(host.sysname())),
        nodename: uts_field(&s(host.nodename())),
        release: uts_field(&s(host.release())),
        version: uts_field(&s(host.version())),
        machine: uts_field(&s(host.machine())),
        domainname: uts_field("(none)"),
    };
    task.write_obj(task.arg(0), &uts)?;
    Ok(0)
}

fn rlimit_index(v: u64) -> Result<usize, Errno> {
    let i = v as usize;
    if i < RLIM_NLIMITS { Ok(i) } else { Err(Errno::EINVAL) }
}

/// Replaces limit `which` with `new` (hard limits may only be raised by root).
fn set_rlimit(task: &Task, which: usize, new: Rlimit) -> Result<(), Errno> {
    if new.cur > new.max {
        return Err(Errno::EINVAL);
    }
    let mut limits = task.process.rlimits.lock();
    if new.max > limits[which].max && task.process.creds.lock().euid != 0 {
        return Err(Errno::EPERM);
    }
    limits[which] = new;
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
    set_rlimit(task, which, new)?;
    Ok(0)
}

/// `prlimit64(pid, resource, new, old)`: only for the calling process.
pub fn prlimit64(task: &mut Task) -> SysResult {
    let pid = task.arg(0) as i32;
    if pid != 0 && pid != task.process.pid {
        return Err(Errno::ESRCH.into());
    }
    let which = rlimit_index(task.arg(1))?;
    let new = match task.arg(2) {
        0 => None,
        addr => Some(task.read_obj::<Rlimit>(addr)?),
    };
    let old = task.process.rlimits.lock()[which];
    if let Some(new) = new {
        set_rlimit(task, which, new)?;
    }
    if task.arg(3) != 0 {
        task.write_obj(task.arg(3), &old)?;
    }
    Ok(0)
}

/// CPU time the stub process has used, as (user, system).
fn cpu_times(task: &Task) -> (std::time::Duration, std::time::Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", task.stub.tid())).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let tick = std::time::Duration::from_millis(10);
    // After the command name: state is field 0, utime is field 11, stime field 12.
    (tick * ticks(11) as u32, tick * ticks(12) as u32)
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
        let t = Tms { utime: to_ticks(u), stime: to_ticks(s), cutime: 0, cstime: 0 };
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
            let name = task.mm().read_cstring(arg2, 4096)?;
            let mut comm = task.process.comm.lock();
            comm.clear();
            comm.extend_from_slice(&name[..name.len().min(15)]);
            Ok(0)
        }
        libc::PR_GET_NAME => {
            let mut name = task.process.comm.lock().clone();
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
        libc::PR_GET_DUMPABLE => Ok(1),
        libc::PR_SET_DUMPABLE | libc::PR_SET_KEEPCAPS | libc::PR_SET_CHILD_SUBREAPER => Ok(0),
        libc::PR_GET_KEEPCAPS => Ok(0),
        libc::PR_GET_CHILD_SUBREAPER => {
            task.write_obj(arg2, &0i32)?;
            Ok(0)
        }
        libc::PR_SET_NO_NEW_PRIVS => {
            if arg2 != 1 {
                return Err(Errno::EINVAL.into());
            }
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => Ok(0),
        libc::PR_CAPBSET_READ => Ok(1),
        libc::PR_GET_SECCOMP => Ok(0),
        libc::PR_SET_SECCOMP => Err(Errno::EINVAL.into()),
        libc::PR_SET_VMA => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `sched_getaffinity(pid, size, mask)`: the CPUs the host lets the sentry use.
pub fn sched_getaffinity(task: &mut Task) -> SysResult {
    let size = task.arg(1) as usize;
    if size < 8 || size % 8 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let host = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))?;
    let mut mask = vec![0u8; size.min(128)];
    for cpu in 0..(mask.len() * 8).min(nix::sched::CpuSet::count()) {
        if host.is_set(cpu).unwrap_or(false) {
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    task.mm().write(task.arg(2), &mask)?;
    Ok(mask.len() as u64)
}

/// `sched_setaffinity(pid, size, mask)`: accepted; the sentry places stubs itself.
pub fn sched_setaffinity(task: &mut Task) -> SysResult {
    let size = task.arg(1) as usize;
    let mut mask = vec![0u8; size.min(128)];
    task.mm().read(task.arg(2), &mut mask)?;
    if mask.iter().all(|&b| b == 0) {
        return Err(Errno::EINVAL.into());
    }
    Ok(0)
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
    let (addr, len, flags) = (task.arg(0), (task.arg(1) as usize).min(1 << 25), task.arg(2) as u32);
    if flags & !(libc::GRND_NONBLOCK | libc::GRND_RANDOM | libc::GRND_INSECURE) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut buf = vec![0u8; len];
    platform::host::getrandom(&mut buf)?;
    task.mm().write(addr, &buf)?;
    Ok(len as u64)
}
