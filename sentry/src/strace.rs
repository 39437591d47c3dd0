//! `--strace`: each guest syscall printed like strace prints it.
//!
//! Arguments are rendered before the call (paths and input buffers are still there), except
//! output buffers, which are rendered after it from what the call wrote. Lines go to the
//! sentry's stderr as `[pid N] name(args) = result`.

use crate::errno::{SysResult, errno_name};
use crate::kernel::task::Task;
use crate::syscalls::names;
use crate::syscalls::table::Syscall;
use nix::errno::Errno;
use std::fmt::Write;

/// How to print one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Signed decimal (int-sized).
    Int,
    /// Signed decimal (long-sized).
    Long,
    /// Unsigned decimal.
    Uint,
    /// Hexadecimal.
    Hex,
    /// A pointer (`NULL` or hex).
    Ptr,
    /// An fd or `AT_FDCWD`.
    Fd,
    /// A NUL-terminated path or string.
    Str,
    /// A buffer the call reads; its length is argument `n`.
    InBuf(usize),
    /// A buffer the call fills; its length is the return value.
    OutBuf,
    /// `open` flags.
    OpenFlags,
    /// Octal mode.
    Mode,
    /// `AT_*` flags.
    AtFlags,
    /// `PROT_*`.
    Prot,
    /// `MAP_*`.
    MapFlags,
    /// `SEEK_*`.
    Whence,
    /// A signal number.
    Signal,
    /// `SIG_BLOCK`/`SIG_UNBLOCK`/`SIG_SETMASK`.
    SigHow,
    /// A clock id.
    Clock,
    /// An `F_*` fcntl command.
    Fcntl,
    /// An array of `argc`-less NUL-terminated strings (`argv`, `envp`).
    StrArray,
    /// A System V IPC key (`IPC_PRIVATE`).
    IpcKey,
    /// `IPC_CREAT`/`IPC_EXCL`/`IPC_NOWAIT` and permission bits of a `*get` call.
    IpcFlags,
    /// A `*ctl` command of the given kind.
    IpcCmd(Ipc),
    /// A `SECCOMP_*` operation.
    SeccompOp,
    /// `SECCOMP_FILTER_FLAG_*`.
    SeccompFlags,
}

/// Which System V IPC kind a `*ctl` command belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipc {
    /// `shmctl`.
    Shm,
    /// `semctl`.
    Sem,
    /// `msgctl`.
    Msg,
}

/// How to print the return value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// Decimal.
    Dec,
    /// Hexadecimal (addresses).
    Hex,
}

/// A call being traced.
pub struct Call {
    nr: u64,
    name: String,
    args: Vec<Option<String>>,
    entry: Option<&'static Syscall>,
}

const MAX_STR: usize = 32;

fn quote(bytes: &[u8], limit: usize) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(limit) {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\{b:o}");
            }
        }
    }
    s.push('"');
    if bytes.len() > limit {
        s.push_str("...");
    }
    s
}

fn flags(value: u64, table: &[(u64, &str)], zero: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = value;
    for &(bit, name) in table {
        if bit != 0 && rest & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        zero.to_string()
    } else {
        parts.join("|")
    }
}

fn open_flags(v: u64) -> String {
    let acc = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let table = [
        (libc::O_CREAT as u64, "O_CREAT"),
        (libc::O_EXCL as u64, "O_EXCL"),
        (libc::O_NOCTTY as u64, "O_NOCTTY"),
        (libc::O_TRUNC as u64, "O_TRUNC"),
        (libc::O_APPEND as u64, "O_APPEND"),
        (libc::O_NONBLOCK as u64, "O_NONBLOCK"),
        (libc::O_DSYNC as u64, "O_DSYNC"),
        (libc::O_DIRECT as u64, "O_DIRECT"),
        (libc::O_LARGEFILE as u64, "O_LARGEFILE"),
        (libc::O_DIRECTORY as u64, "O_DIRECTORY"),
        (libc::O_NOFOLLOW as u64, "O_NOFOLLOW"),
        (libc::O_NOATIME as u64, "O_NOATIME"),
        (libc::O_CLOEXEC as u64, "O_CLOEXEC"),
        (libc::O_PATH as u64, "O_PATH"),
        (
            libc::O_TMPFILE as u64 & !(libc::O_DIRECTORY as u64),
            "O_TMPFILE",
        ),
    ];
    let rest = flags(v & !3, &table, "");
    if rest.is_empty() {
        acc.to_string()
    } else {
        format!("{acc}|{rest}")
    }
}

fn ipc_cmd(kind: Ipc, cmd: i32) -> String {
    let specific: &[&str] = match kind {
        Ipc::Shm => &[
            "SHM_LOCK",
            "SHM_UNLOCK",
            "SHM_STAT",
            "SHM_INFO",
            "SHM_STAT_ANY",
        ],
        Ipc::Sem => &[
            "GETPID",
            "GETVAL",
            "GETALL",
            "GETNCNT",
            "GETZCNT",
            "SETVAL",
            "SETALL",
            "SEM_STAT",
            "SEM_INFO",
            "SEM_STAT_ANY",
        ],
        Ipc::Msg => &["MSG_STAT", "MSG_INFO", "MSG_STAT_ANY"],
    };
    match cmd {
        0 => "IPC_RMID".into(),
        1 => "IPC_SET".into(),
        2 => "IPC_STAT".into(),
        3 => "IPC_INFO".into(),
        c => usize::try_from(c - 11)
            .ok()
            .and_then(|i| specific.get(i))
            .map_or_else(|| c.to_string(), |s| s.to_string()),
    }
}

fn signal_name(sig: u64) -> String {
    match nix::sys::signal::Signal::try_from(sig as i32) {
        Ok(s) => s.as_str().to_string(),
        Err(_) if (32..=64).contains(&sig) => format!("SIGRT_{}", sig - 32),
        Err(_) => sig.to_string(),
    }
}

impl Call {
    /// Renders the arguments of the syscall `task` is making.
    pub fn before(task: &Task, nr: u64, entry: Option<&'static Syscall>) -> Call {
        let name = entry.map_or_else(|| names::name(nr).into_owned(), |e| e.name.to_string());
        let args = match entry {
            None => (0..6)
                .map(|i| Some(format!("{:#x}", task.arg(i))))
                .collect(),
            Some(e) => e
                .args
                .iter()
                .enumerate()
                .map(|(i, fmt)| render(task, *fmt, task.arg(i), i, e.args))
                .collect(),
        };
        Call {
            nr,
            name,
            args,
            entry,
        }
    }

    /// Completes and prints the line with the result.
    pub fn finish(self, task: &Task, ret: &SysResult) {
        let mut result = match ret {
            Ok(v) if self.entry.is_some_and(|e| e.ret == Ret::Hex) => format!("{v:#x}"),
            Ok(v) => (*v as i64).to_string(),
            Err(e) => errno_result(e.errno()),
        };
        if self.entry.is_none() {
            let _ = write!(result, " (syscall {} not implemented)", self.nr);
        }
        self.print(task, ret.ok(), &result);
    }

    /// Completes and prints the line of a call the guest's seccomp filters did not let
    /// run: it returned `rax` at once, or (`None`) did not return (SIGSYS).
    pub fn finish_filtered(self, task: &Task, rax: Option<u64>) {
        let result = match rax.map(|v| v as i64) {
            Some(e @ -4095..=-1) => match Errno::from_raw(-e as i32) {
                Errno::UnknownErrno => format!("-1 errno {}", -e),
                known => errno_result(known),
            },
            Some(v) => v.to_string(),
            None => "?".to_string(),
        };
        self.print(task, None, &format!("{result} (seccomp)"));
    }

    /// Prints the line: the arguments (buffers the call filled, `filled` bytes of them,
    /// as strings) and the result.
    fn print(self, task: &Task, filled: Option<u64>, result: &str) {
        let mut line = format!("[pid {}] {}(", task.tid, self.name);
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                line.push_str(", ");
            }
            match a {
                Some(s) => line.push_str(s),
                None => {
                    let addr = task.arg(i);
                    let s = match filled {
                        Some(n) => {
                            let mut buf = vec![0u8; (n as usize).min(MAX_STR + 1)];
                            match task.mm().read(addr, &mut buf) {
                                Ok(()) => {
                                    let mut q = quote(&buf, MAX_STR);
                                    if n as usize > MAX_STR && !q.ends_with("...") {
                                        q.push_str("...");
                                    }
                                    q
                                }
                                Err(_) => format!("{addr:#x}"),
                            }
                        }
                        None => format!("{addr:#x}"),
                    };
                    line.push_str(&s);
                }
            }
        }
        let _ = writeln!(line, ") = {result}");
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }
}

/// A failed call's result as strace prints it: `-1 ENOENT (No such file or directory)`.
fn errno_result(e: Errno) -> String {
    format!("-1 {} ({})", errno_name(e), e.desc())
}

fn render(task: &Task, fmt: Arg, v: u64, _i: usize, all: &[Arg]) -> Option<String> {
    let ptr = |v: u64| {
        if v == 0 {
            "NULL".to_string()
        } else {
            format!("{v:#x}")
        }
    };
    Some(match fmt {
        Arg::Int => (v as i32).to_string(),
        Arg::Long => (v as i64).to_string(),
        Arg::Uint => v.to_string(),
        Arg::Hex => format!("{v:#x}"),
        Arg::Ptr => ptr(v),
        Arg::Fd => {
            if v as i32 == libc::AT_FDCWD {
                "AT_FDCWD".to_string()
            } else {
                (v as i32).to_string()
            }
        }
        Arg::Str => match task.mm().read_cstring(v, 4096) {
            Ok(s) => quote(&s, 4096),
            Err(_) => ptr(v),
        },
        Arg::InBuf(n) => {
            let len = all.get(n).map(|_| task.arg(n) as usize).unwrap_or(0);
            let mut buf = vec![0u8; len.min(MAX_STR + 1)];
            match task.mm().read(v, &mut buf) {
                Ok(()) => {
                    let mut q = quote(&buf, MAX_STR);
                    if len > MAX_STR && !q.ends_with("...") {
                        q.push_str("...");
                    }
                    q
                }
                Err(_) => ptr(v),
            }
        }
        Arg::OutBuf => return None,
        Arg::OpenFlags => open_flags(v),
        Arg::Mode => format!("{:#o}", v),
        Arg::AtFlags => flags(
            v,
            &[
                (libc::AT_SYMLINK_NOFOLLOW as u64, "AT_SYMLINK_NOFOLLOW"),
                (libc::AT_REMOVEDIR as u64, "AT_REMOVEDIR"),
                (libc::AT_SYMLINK_FOLLOW as u64, "AT_SYMLINK_FOLLOW"),
                (libc::AT_NO_AUTOMOUNT as u64, "AT_NO_AUTOMOUNT"),
                (libc::AT_EMPTY_PATH as u64, "AT_EMPTY_PATH"),
                (libc::AT_EACCESS as u64, "AT_EACCESS"),
            ],
            "0",
        ),
        Arg::Prot => flags(
            v,
            &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")],
            "PROT_NONE",
        ),
        Arg::MapFlags => {
            let kind = match v & 3 {
                1 => "MAP_SHARED",
                2 => "MAP_PRIVATE",
                3 => "MAP_SHARED_VALIDATE",
                _ => "0",
            };
            let rest = flags(
                v & !3,
                &[
                    (libc::MAP_FIXED as u64, "MAP_FIXED"),
                    (libc::MAP_ANONYMOUS as u64, "MAP_ANONYMOUS"),
                    (libc::MAP_32BIT as u64, "MAP_32BIT"),
                    (libc::MAP_GROWSDOWN as u64, "MAP_GROWSDOWN"),
                    (libc::MAP_DENYWRITE as u64, "MAP_DENYWRITE"),
                    (libc::MAP_EXECUTABLE as u64, "MAP_EXECUTABLE"),
                    (libc::MAP_LOCKED as u64, "MAP_LOCKED"),
                    (libc::MAP_NORESERVE as u64, "MAP_NORESERVE"),
                    (libc::MAP_POPULATE as u64, "MAP_POPULATE"),
                    (libc::MAP_NONBLOCK as u64, "MAP_NONBLOCK"),
                    (libc::MAP_STACK as u64, "MAP_STACK"),
                    (libc::MAP_HUGETLB as u64, "MAP_HUGETLB"),
                    (libc::MAP_FIXED_NOREPLACE as u64, "MAP_FIXED_NOREPLACE"),
                ],
                "",
            );
            if rest.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}|{rest}")
            }
        }
        Arg::Whence => match v as i32 {
            libc::SEEK_SET => "SEEK_SET".into(),
            libc::SEEK_CUR => "SEEK_CUR".into(),
            libc::SEEK_END => "SEEK_END".into(),
            libc::SEEK_DATA => "SEEK_DATA".into(),
            libc::SEEK_HOLE => "SEEK_HOLE".into(),
            w => w.to_string(),
        },
        Arg::Signal => signal_name(v),
        Arg::SigHow => match v as i32 {
            libc::SIG_BLOCK => "SIG_BLOCK".into(),
            libc::SIG_UNBLOCK => "SIG_UNBLOCK".into(),
            libc::SIG_SETMASK => "SIG_SETMASK".into(),
            h => h.to_string(),
        },
        Arg::Clock => match v as i32 {
            libc::CLOCK_REALTIME => "CLOCK_REALTIME".into(),
            libc::CLOCK_MONOTONIC => "CLOCK_MONOTONIC".into(),
            libc::CLOCK_PROCESS_CPUTIME_ID => "CLOCK_PROCESS_CPUTIME_ID".into(),
            libc::CLOCK_THREAD_CPUTIME_ID => "CLOCK_THREAD_CPUTIME_ID".into(),
            libc::CLOCK_MONOTONIC_RAW => "CLOCK_MONOTONIC_RAW".into(),
            libc::CLOCK_REALTIME_COARSE => "CLOCK_REALTIME_COARSE".into(),
            libc::CLOCK_MONOTONIC_COARSE => "CLOCK_MONOTONIC_COARSE".into(),
            libc::CLOCK_BOOTTIME => "CLOCK_BOOTTIME".into(),
            c => c.to_string(),
        },
        Arg::Fcntl => match v as i32 {
            libc::F_DUPFD => "F_DUPFD".into(),
            libc::F_GETFD => "F_GETFD".into(),
            libc::F_SETFD => "F_SETFD".into(),
            libc::F_GETFL => "F_GETFL".into(),
            libc::F_SETFL => "F_SETFL".into(),
            libc::F_GETLK => "F_GETLK".into(),
            libc::F_SETLK => "F_SETLK".into(),
            libc::F_SETLKW => "F_SETLKW".into(),
            libc::F_DUPFD_CLOEXEC => "F_DUPFD_CLOEXEC".into(),
            libc::F_GETPIPE_SZ => "F_GETPIPE_SZ".into(),
            libc::F_SETPIPE_SZ => "F_SETPIPE_SZ".into(),
            c => c.to_string(),
        },
        Arg::StrArray => {
            let mut out = String::from("[");
            let mm = task.mm();
            for i in 0..64u64 {
                let Ok(p) = mm.read_obj::<u64>(v + i * 8) else {
                    break;
                };
                if p == 0 {
                    break;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                match mm.read_cstring(p, 4096) {
                    Ok(s) => out.push_str(&quote(&s, MAX_STR)),
                    Err(_) => out.push_str(&ptr(p)),
                }
            }
            out.push(']');
            if v == 0 { "NULL".into() } else { out }
        }
        Arg::IpcKey => match v as i32 {
            0 => "IPC_PRIVATE".into(),
            k => format!("{:#x}", k as u32),
        },
        Arg::IpcFlags => {
            let named = flags(
                v & !0o777,
                &[
                    (0o1000, "IPC_CREAT"),
                    (0o2000, "IPC_EXCL"),
                    (0o4000, "IPC_NOWAIT"),
                ],
                "",
            );
            match (named.is_empty(), v & 0o777) {
                (true, mode) => format!("0{mode:o}"),
                (false, 0) => named,
                (false, mode) => format!("{named}|0{mode:o}"),
            }
        }
        Arg::IpcCmd(kind) => ipc_cmd(kind, v as i32),
        Arg::SeccompOp => match v as u32 {
            0 => "SECCOMP_SET_MODE_STRICT".into(),
            1 => "SECCOMP_SET_MODE_FILTER".into(),
            2 => "SECCOMP_GET_ACTION_AVAIL".into(),
            3 => "SECCOMP_GET_NOTIF_SIZES".into(),
            op => op.to_string(),
        },
        Arg::SeccompFlags => flags(
            u64::from(v as u32),
            &[
                (1, "SECCOMP_FILTER_FLAG_TSYNC"),
                (2, "SECCOMP_FILTER_FLAG_LOG"),
                (4, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
                (8, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
                (16, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
                (32, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
            ],
            "0",
        ),
    })
}
