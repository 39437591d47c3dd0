//! The synthetic `/proc`: guest pids, guest paths, guest memory maps; never the host's.
//!
//! `/proc/self` is the calling task's process: each task runs on its own sentry thread,
//! which records its pid in [`set_current`].

use crate::kernel::Kernel;
use crate::kernel::process::{COMM_LEN, Process, TaskHandle, comm_from};
use crate::kernel::signal::{SIG_DFL, SIG_IGN};
use crate::kernel::uts::Uts;
use fs::synth::{DataFile, DynDir, LinkTarget, SynthDir, SynthSymlink};
use fs::{Errno, Inode};
use std::fmt::Write;
use std::sync::{Arc, Weak};

fn current() -> i32 {
    crate::kernel::current::pid()
}

type Gen = fs::synth::Generator;

fn text(f: impl Fn() -> String + Send + Sync + 'static) -> Gen {
    Box::new(move || Ok(f().into_bytes()))
}

fn file(f: impl Fn() -> String + Send + Sync + 'static) -> Arc<dyn Inode> {
    DataFile::new(0o444, text(f))
}

fn host_file(path: &'static str) -> Arc<dyn Inode> {
    DataFile::new(
        0o444,
        Box::new(move || {
            std::fs::read(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
        }),
    )
}

/// Builds `/proc` for `kernel`.
pub fn procfs(kernel: Weak<Kernel>) -> Arc<dyn Inode> {
    let sys = sys_dir(kernel.clone());
    let k = kernel.clone();
    let uptime = file(move || {
        let up = k.upgrade().map_or(0.0, |k| k.boot.elapsed().as_secs_f64());
        format!("{up:.2} {:.2}\n", up * 0.9)
    });
    let k = kernel.clone();
    let loadavg = file(move || {
        let n = k.upgrade().map_or(0, |k| k.processes().len());
        format!("0.00 0.00 0.00 1/{n} {n}\n")
    });
    let fixed: Vec<(Vec<u8>, Arc<dyn Inode>)> = vec![
        (
            b"self".to_vec(),
            SynthSymlink::dynamic(Box::new(|| {
                Ok(LinkTarget::Path(current().to_string().into_bytes()))
            })),
        ),
        (
            b"thread-self".to_vec(),
            SynthSymlink::dynamic(Box::new(|| {
                let (pid, tid) =
                    crate::kernel::current::get().map_or((0, 0), |(p, t)| (p.pid, t.tid));
                Ok(LinkTarget::Path(format!("{pid}/task/{tid}").into_bytes()))
            })),
        ),
        (b"mounts".to_vec(), SynthSymlink::new("self/mounts")),
        (b"meminfo".to_vec(), host_file("/proc/meminfo")),
        (b"vmstat".to_vec(), host_file("/proc/vmstat")),
        (b"cpuinfo".to_vec(), host_file("/proc/cpuinfo")),
        (b"stat".to_vec(), {
            let k = kernel.clone();
            file(move || proc_stat(k.upgrade()))
        }),
        (b"version".to_vec(), host_file("/proc/version")),
        (
            b"filesystems".to_vec(),
            file(|| "nodev\tproc\nnodev\ttmpfs\nnodev\tdevtmpfs\n".to_string()),
        ),
        (b"uptime".to_vec(), uptime),
        (b"locks".to_vec(), {
            let k = kernel.clone();
            file(move || k.upgrade().map_or_else(String::new, |k| locks(&k)))
        }),
        (b"loadavg".to_vec(), loadavg),
        (b"sys".to_vec(), sys),
    ];
    let k = kernel.clone();
    // A thread that leads no process has a directory too, unlisted (as on Linux).
    let thread_dir = Box::new(move |name: &[u8]| {
        let tid: i32 = std::str::from_utf8(name).ok()?.parse().ok()?;
        let (p, _) = k.upgrade()?.tree.lock().thread(tid)?;
        Some(pid_dir(&k, &p, tid))
    });
    DynDir::with_hidden(
        Box::new(move || {
            let mut out = fixed.clone();
            if let Some(k) = kernel.upgrade() {
                for p in k.processes() {
                    out.push((p.pid.to_string().into_bytes(), pid_dir(&kernel, &p, p.pid)));
                }
            }
            out
        }),
        thread_dir,
    )
}

/// A `/proc/sys/kernel` file showing one of the sandbox's UTS names.
fn uts_file(kernel: Weak<Kernel>, name: fn(&Uts) -> Vec<u8>) -> Arc<dyn Inode> {
    file(move || {
        let v = kernel.upgrade().map(|k| name(&k.uts)).unwrap_or_default();
        format!("{}\n", String::from_utf8_lossy(&v))
    })
}

fn sys_dir(kernel: Weak<Kernel>) -> Arc<dyn Inode> {
    let uts = nix::sys::utsname::uname().ok();
    let field = move |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        let v = uts
            .as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default();
        file(move || format!("{v}\n"))
    };
    let kernel = SynthDir::new(vec![
        ("ostype", field(|u| u.sysname())),
        ("osrelease", field(|u| u.release())),
        ("version", field(|u| u.version())),
        ("hostname", uts_file(kernel.clone(), Uts::hostname)),
        ("domainname", uts_file(kernel, Uts::domainname)),
        ("pid_max", file(|| "4194304\n".into())),
        ("ngroups_max", file(|| "65536\n".into())),
        ("cap_last_cap", file(|| "40\n".into())),
        ("overflowuid", file(|| "65534\n".into())),
        ("overflowgid", file(|| "65534\n".into())),
    ]);
    let vm = SynthDir::new(vec![
        ("overcommit_memory", file(|| "0\n".into())),
        ("max_map_count", file(|| "65530\n".into())),
        ("mmap_min_addr", file(|| "65536\n".into())),
    ]);
    let fsd = SynthDir::new(vec![
        (
            "pipe-max-size",
            file(|| format!("{}\n", fs::pipe::MAX_CAPACITY)),
        ),
        ("file-max", file(|| "9223372036854775807\n".into())),
        ("nr_open", file(|| "1048576\n".into())),
        ("inotify", inotify_dir()),
        ("mqueue", mqueue_dir()),
    ]);
    SynthDir::new(vec![("kernel", kernel), ("vm", vm), ("fs", fsd)])
}

/// `/proc/sys/fs/inotify`: the sandbox's inotify limits.
fn inotify_dir() -> Arc<dyn Inode> {
    let limits = fs::notify::limits();
    let value = |v: usize| file(move || format!("{v}\n"));
    SynthDir::new(vec![
        ("max_queued_events", value(limits.max_queued_events)),
        ("max_user_instances", value(limits.max_user_instances)),
        ("max_user_watches", value(limits.max_user_watches)),
    ])
}

/// `/proc/sys/fs/mqueue`: the sandbox's POSIX message queue limits.
fn mqueue_dir() -> Arc<dyn Inode> {
    use crate::kernel::mqueue::{MSG_MAX, MSGSIZE_MAX, QUEUES_MAX};
    let value = |v: i64| file(move || format!("{v}\n"));
    SynthDir::new(vec![
        ("msg_default", value(MSG_MAX)),
        ("msg_max", value(MSG_MAX)),
        ("msgsize_default", value(MSGSIZE_MAX)),
        ("msgsize_max", value(MSGSIZE_MAX)),
        ("queues_max", value(QUEUES_MAX as i64)),
    ])
}

/// `/proc/[pid]`: the process as its thread `tid` sees it (the leader's for a listed
/// pid), and `task/`.
fn pid_dir(kernel: &Weak<Kernel>, p: &Arc<Process>, tid: i32) -> Arc<dyn Inode> {
    let mut children = thread_entries(kernel, p, tid);
    children.push((b"task".to_vec(), task_dir(kernel, p)));
    DynDir::new(Box::new(move || children.clone()))
}

/// `/proc/[pid]/task`: a `[tid]` directory for each live thread.
fn task_dir(kernel: &Weak<Kernel>, p: &Arc<Process>) -> Arc<dyn Inode> {
    let (kernel, weak) = (kernel.clone(), Arc::downgrade(p));
    DynDir::new(Box::new(move || {
        let Some(p) = weak.upgrade() else {
            return Vec::new();
        };
        let mut tids: Vec<i32> = p.tasks.lock().iter().map(|t| t.tid).collect();
        tids.sort_unstable();
        tids.into_iter()
            .map(|tid| {
                let children = thread_entries(&kernel, &p, tid);
                let dir: Arc<dyn Inode> = DynDir::new(Box::new(move || children.clone()));
                (tid.to_string().into_bytes(), dir)
            })
            .collect()
    }))
}

/// The name of thread `tid` of `p`: the leader's stays the process's after it exits.
fn comm(p: &Process, tid: i32) -> String {
    let name = match thread(p, tid) {
        Some(t) if tid != p.pid => t.comm.lock().clone(),
        _ => p.comm.lock().clone(),
    };
    String::from_utf8_lossy(&name).into_owned()
}

/// `comm` of thread `tid` of the process: its name, which the process's own threads may
/// change by writing (what `pthread_setname_np` does for another thread); as Linux, the
/// first [`COMM_LEN`] bytes written are the new name, newline included.
fn comm_file(process: &Weak<Process>, tid: i32) -> Arc<dyn Inode> {
    let (r, w) = (process.clone(), process.clone());
    DataFile::writable(
        0o644,
        Box::new(move || {
            let p = r.upgrade().ok_or(Errno::ESRCH)?;
            Ok(format!("{}\n", comm(&p, tid)).into_bytes())
        }),
        Arc::new(move |buf: &[u8]| {
            let p = w.upgrade().ok_or(Errno::ESRCH)?;
            if current() != p.pid {
                return Err(Errno::EINVAL);
            }
            let name = &buf[..buf.len().min(COMM_LEN)];
            match thread(&p, tid) {
                Some(t) => p.set_comm(&t, name),
                // The leader has exited: its name is still the process's.
                None if tid == p.pid => *p.comm.lock() = comm_from(name),
                None => return Err(Errno::ESRCH),
            }
            Ok(buf.len())
        }),
    )
}

/// Thread `tid` of `p`, if it is alive.
fn thread(p: &Process, tid: i32) -> Option<Arc<TaskHandle>> {
    p.tasks.lock().iter().find(|t| t.tid == tid).cloned()
}

/// What `/proc/[pid]` and `/proc/[pid]/task/[tid]` both hold, for thread `tid` of `p`.
fn thread_entries(
    kernel: &Weak<Kernel>,
    p: &Arc<Process>,
    tid: i32,
) -> Vec<(Vec<u8>, Arc<dyn Inode>)> {
    let weak = Arc::downgrade(p);
    let kern = kernel.clone();
    let link = |f: fn(&Process) -> Option<Arc<fs::Dentry>>, w: Weak<Process>| -> Arc<dyn Inode> {
        let k = kern.clone();
        SynthSymlink::dynamic(Box::new(move || {
            let d = f(&*w.upgrade().ok_or(Errno::ESRCH)?).ok_or(Errno::ENOENT)?;
            let kernel = k.upgrade().ok_or(Errno::ESRCH)?;
            Ok(LinkTarget::Magic {
                name: kernel.vfs.shown_path(&d),
                dentry: Some(d),
                file: None,
            })
        }))
    };
    let generated = |f: fn(&Process, i32, Option<Arc<Kernel>>) -> String| -> Arc<dyn Inode> {
        let (w, k) = (weak.clone(), kern.clone());
        DataFile::new(
            0o444,
            Box::new(move || {
                let p = w.upgrade().ok_or(Errno::ESRCH)?;
                Ok(f(&p, tid, k.upgrade()).into_bytes())
            }),
        )
    };
    let shown_by = kern.clone();
    let fd_dir = fd_entries(&weak, move |e| {
        let (f, k) = (e.file.clone(), shown_by.clone());
        SynthSymlink::dynamic(Box::new(move || {
            let name = match (&f.dentry, f.ops.anon_name(), k.upgrade()) {
                (Some(d), None, Some(kernel)) => kernel.vfs.shown_path(d),
                _ => f.display_path().into_bytes(),
            };
            Ok(LinkTarget::Magic {
                name,
                dentry: f.dentry.clone(),
                file: Some(f.clone()),
            })
        }))
    });
    let fdinfo_dir = fd_entries(&weak, |e| {
        let (f, cloexec) = (e.file.clone(), e.cloexec);
        DataFile::new(0o400, text(move || fdinfo(&f, cloexec)))
    });
    vec![
        (
            b"exe".to_vec(),
            link(|p| p.exe.lock().clone(), weak.clone()),
        ),
        (
            b"cwd".to_vec(),
            link(|p| Some(p.fs.lock().lock().cwd.clone()), weak.clone()),
        ),
        (
            b"root".to_vec(),
            link(|p| Some(p.fs.lock().lock().root.clone()), weak.clone()),
        ),
        (b"fd".to_vec(), fd_dir),
        (b"fdinfo".to_vec(), fdinfo_dir),
        (
            b"cmdline".to_vec(),
            generated(|p, _, _| String::from_utf8_lossy(&p.cmdline.lock()).into_owned()),
        ),
        (b"comm".to_vec(), comm_file(&weak, tid)),
        (
            b"maps".to_vec(),
            generated(|p, _, _| mm::dump::render_proc_maps(&p.mm().vmas())),
        ),
        (b"stat".to_vec(), generated(stat)),
        (b"status".to_vec(), generated(status)),
        (b"limits".to_vec(), generated(|p, _, _| limits(p))),
        (b"environ".to_vec(), {
            let w = weak.clone();
            DataFile::new(
                0o400,
                Box::new(move || Ok(w.upgrade().ok_or(Errno::ESRCH)?.environ.lock().clone())),
            )
        }),
        (
            b"personality".to_vec(),
            generated(|p, tid, _| {
                format!("{:08x}\n", thread(p, tid).map_or(0, |t| t.personality()))
            }),
        ),
        (b"mounts".to_vec(), generated(|_, _, _| mounts())),
    ]
}

/// A directory with an entry per open fd of the process `p` names, made by `entry`.
fn fd_entries(
    p: &Weak<Process>,
    entry: impl Fn(&fs::FdEntry) -> Arc<dyn Inode> + Send + Sync + 'static,
) -> Arc<dyn Inode> {
    let w = p.clone();
    DynDir::new(Box::new(move || {
        let Some(p) = w.upgrade() else {
            return Vec::new();
        };
        let files = p.files.lock().clone();
        let table = files.lock();
        table
            .iter()
            .map(|(fd, e)| (fd.to_string().into_bytes(), entry(e)))
            .collect()
    }))
}

/// `/proc/[pid]/fdinfo/[fd]`: offset, flags (with `O_CLOEXEC` for a close-on-exec fd),
/// mount id and inode, then the file type's own lines. There is one mount id for all.
fn fdinfo(f: &fs::OpenFile, cloexec: bool) -> String {
    let pos = f.ops.seek(0, libc::SEEK_CUR).unwrap_or(0);
    let flags = f.flags() | if cloexec { libc::O_CLOEXEC } else { 0 };
    let ino = f.ops.stat().map_or(0, |st| st.ino);
    format!(
        "pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t{MNT_ID}\nino:\t{ino}\n{}",
        f.ops.fdinfo()
    )
}

/// The mount id `/proc/[pid]/fdinfo` gives every file.
const MNT_ID: u32 = 1;

/// `/proc/[pid]/limits`: each resource limit with its name and unit, in Linux's columns.
fn limits(p: &Process) -> String {
    const NAMES: [(&str, &str); crate::kernel::process::RLIM_NLIMITS] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let value = |v: u64| {
        if v == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    let mut out = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for ((name, unit), lim) in NAMES.iter().zip(p.rlimits.lock().iter()) {
        let _ = write!(
            out,
            "{name:<25} {:<20} {:<20} ",
            value(lim.cur),
            value(lim.max)
        );
        if !unit.is_empty() {
            let _ = write!(out, "{unit:<10}");
        }
        out.push('\n');
    }
    out
}

fn mounts() -> String {
    "/ / rootfs rw 0 0\nproc /proc proc rw,nosuid,nodev,noexec 0 0\ndev /dev tmpfs rw,nosuid 0 0\n"
        .to_string()
}

/// `/proc/locks`: every advisory lock of the sandbox, in Linux's format.
fn locks(k: &Kernel) -> String {
    use fs::lock::{LockClass, LockKind, OFFSET_MAX};
    let mut out = String::new();
    for (i, l) in k.locks.list().iter().enumerate() {
        let class = match l.class {
            LockClass::Posix => "POSIX ",
            LockClass::Ofd => "OFDLCK",
            LockClass::Flock => "FLOCK ",
        };
        let kind = match l.kind {
            LockKind::Read => "READ",
            LockKind::Write => "WRITE",
        };
        let (major, minor) = (
            nix::sys::stat::major(l.key.dev),
            nix::sys::stat::minor(l.key.dev),
        );
        let end = if l.end == OFFSET_MAX {
            "EOF".to_string()
        } else {
            l.end.to_string()
        };
        let _ = writeln!(
            out,
            "{}: {class} ADVISORY  {kind} {} {major:02x}:{minor:02x}:{} {} {end}",
            i + 1,
            l.pid,
            l.key.ino,
            l.start
        );
    }
    out
}

/// (ppid, pgid, sid) of `p`.
fn family(p: &Process, k: &Option<Arc<Kernel>>) -> (i32, i32, i32) {
    k.as_ref()
        .and_then(|k| k.tree.lock().get(p.pid).map(|e| (e.ppid, e.pgid, e.sid)))
        .unwrap_or((0, p.pid, p.pid))
}

/// Clock ticks per second of `/proc` times (`USER_HZ`).
const USER_HZ: u64 = 100;

fn stat(p: &Process, tid: i32, k: Option<Arc<Kernel>>) -> String {
    let (ppid, pgid, sid) = family(p, &k);
    let comm = comm(p, tid);
    let state = if p.is_stopped() { 'T' } else { 'R' };
    let vsize: u64 = p.mm().vmas().iter().map(|v| v.end - v.start).sum();
    let threads = p.tasks.lock().len().max(1);
    let (utime_us, stime_us) = crate::kernel::task::cpu_times_us(p.stub_pid());
    let (utime, stime) = (
        utime_us * USER_HZ / 1_000_000,
        stime_us * USER_HZ / 1_000_000,
    );
    let start = k.map_or(0, |k| {
        let since_boot = p.started.saturating_duration_since(k.boot);
        since_boot.as_millis() as u64 * USER_HZ / 1000
    });
    let mut s = format!(
        "{tid} ({comm}) {state} {ppid} {pgid} {sid} 0 -1 4194304 0 0 0 0 {utime} {stime} 0 0 20 0 \
         {threads} 0 {start} {vsize} 0"
    );
    for _ in 0..28 {
        s.push_str(" 0");
    }
    s.push('\n');
    s
}

/// `/proc/stat`: the host's CPU figures, with the sandbox's boot time and running count.
fn proc_stat(k: Option<Arc<Kernel>>) -> String {
    let host = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(k) = k else {
        return host;
    };
    let booted = std::time::SystemTime::now() - k.boot.elapsed();
    let btime = booted
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let procs = k.processes().len();
    host.lines()
        .map(|line| match line.split_whitespace().next() {
            Some("btime") => format!("btime {btime}\n"),
            Some("procs_running") => format!("procs_running {}\n", procs.min(1)),
            Some("procs_blocked") => "procs_blocked 0\n".to_string(),
            _ => format!("{line}\n"),
        })
        .collect()
}

fn status(p: &Process, tid: i32, k: Option<Arc<Kernel>>) -> String {
    let (ppid, _, _) = family(p, &k);
    let c = *p.creds.lock();
    let vsize: u64 = p.mm().vmas().iter().map(|v| v.end - v.start).sum();
    let t = thread(p, tid);
    let (own_pending, blocked) = t
        .as_ref()
        .map_or((0, 0), |t| (t.pending.lock().set(), t.sigmask()));
    let (mut ignored, mut caught) = (0u64, 0u64);
    for (i, act) in p.sigactions.lock().iter().enumerate() {
        match act.handler {
            SIG_DFL => {}
            SIG_IGN => ignored |= 1 << i,
            _ => caught |= 1 << i,
        }
    }
    let mut s = String::new();
    let _ = writeln!(s, "Name:\t{}", comm(p, tid));
    let _ = writeln!(s, "Umask:\t{:04o}", p.fs.lock().lock().umask);
    let _ = writeln!(s, "State:\tR (running)");
    let _ = writeln!(
        s,
        "Tgid:\t{}\nNgid:\t0\nPid:\t{tid}\nPPid:\t{ppid}\nTracerPid:\t0",
        p.pid
    );
    let _ = writeln!(s, "Uid:\t{}\t{}\t{}\t{}", c.uid, c.euid, c.suid, c.euid);
    let _ = writeln!(s, "Gid:\t{}\t{}\t{}\t{}", c.gid, c.egid, c.sgid, c.egid);
    let _ = writeln!(s, "FDSize:\t64\nGroups:\t");
    let _ = writeln!(s, "VmSize:\t{} kB", vsize / 1024);
    let _ = writeln!(s, "Threads:\t{}", p.tasks.lock().len().max(1));
    let _ = writeln!(
        s,
        "SigPnd:\t{own_pending:016x}\nShdPnd:\t{:016x}",
        p.pending.lock().set()
    );
    let _ = writeln!(
        s,
        "SigBlk:\t{blocked:016x}\nSigIgn:\t{ignored:016x}\nSigCgt:\t{caught:016x}"
    );
    // The sandbox's capability model: root holds every capability, others none; the
    // bounding set is always full.
    let all: u64 = (1 << (crate::syscalls::misc::CAP_LAST_CAP + 1)) - 1;
    let held = if c.has_all_caps() { all } else { 0 };
    let _ = writeln!(
        s,
        "CapInh:\t{:016x}\nCapPrm:\t{held:016x}\nCapEff:\t{held:016x}\nCapBnd:\t{all:016x}\nCapAmb:\t{:016x}",
        0, 0
    );
    let (nnp, seccomp, filters) = t.as_ref().map_or((false, 0, 0), |t| {
        let mode = t.seccomp.mode() as u8;
        (t.no_new_privs(), mode, t.seccomp.filter_count())
    });
    let _ = writeln!(
        s,
        "NoNewPrivs:\t{}\nSeccomp:\t{seccomp}\nSeccomp_filters:\t{filters}",
        u8::from(nnp)
    );
    s
}
