//! The syscall table: number, name, handler, how strace prints it, and what is partial.
//!
//! `sentry syscalls` prints this table; it doubles as the compatibility report.

use super::{
    Handler, adjtime, aio, fs, inotify, io, ipc, kcmp, lock, misc, mm, mqueue, net, numa, pidfd,
    process, sched, signal, splice, time, xattr,
};
use crate::kernel::task::Restart;
use crate::strace::{Arg, Arg::*, Ipc, Ret};
use std::sync::OnceLock;

/// One implemented syscall.
pub struct Syscall {
    /// Number on x86_64.
    pub nr: u64,
    /// Name.
    pub name: &'static str,
    /// Implementation.
    pub handler: Handler,
    /// How strace prints each argument.
    pub args: &'static [Arg],
    /// How strace prints the result.
    pub ret: Ret,
    /// What is missing, for partially supported calls.
    pub note: Option<&'static str>,
    /// How the call restarts when a signal interrupts it.
    pub on_intr: Restart,
}

const fn sys(nr: i64, name: &'static str, handler: Handler, args: &'static [Arg]) -> Syscall {
    Syscall {
        nr: nr as u64,
        name,
        handler,
        args,
        ret: Ret::Dec,
        note: None,
        on_intr: Restart::Sys,
    }
}

impl Syscall {
    const fn hex(mut self) -> Self {
        self.ret = Ret::Hex;
        self
    }

    const fn intr(mut self, how: Restart) -> Self {
        self.on_intr = how;
        self
    }

    const fn partial(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
}

use libc::*;

/// Every implemented syscall.
pub static TABLE: &[Syscall] = &[
    sys(SYS_read, "read", io::read, &[Fd, OutBuf, Uint]),
    sys(SYS_write, "write", io::write, &[Fd, InBuf(2), Uint]),
    sys(SYS_open, "open", fs::open, &[Str, OpenFlags, Mode]),
    sys(SYS_close, "close", io::close, &[Fd]),
    sys(SYS_stat, "stat", fs::stat, &[Str, Ptr]),
    sys(SYS_fstat, "fstat", fs::fstat, &[Fd, Ptr]),
    sys(SYS_lstat, "lstat", fs::lstat, &[Str, Ptr]),
    sys(SYS_poll, "poll", super::poll::poll, &[Ptr, Uint, Int]).intr(Restart::NoHand),
    sys(SYS_lseek, "lseek", io::lseek, &[Fd, Long, Whence]),
    sys(SYS_mmap, "mmap", mm::mmap, &[Ptr, Uint, Prot, MapFlags, Fd, Hex])
        .hex()
        .partial("pages past the end of a mapped file read as zero instead of raising SIGBUS"),
    sys(SYS_mprotect, "mprotect", mm::mprotect, &[Ptr, Uint, Prot]),
    sys(SYS_pkey_mprotect, "pkey_mprotect", mm::pkey_mprotect, &[Ptr, Uint, Prot, Int])
        .partial("no protection keys: only pkey -1 (plain mprotect)"),
    sys(SYS_pkey_alloc, "pkey_alloc", mm::pkey_unsupported, &[Hex, Hex])
        .partial("no protection keys: EINVAL, as on a CPU without them"),
    sys(SYS_pkey_free, "pkey_free", mm::pkey_unsupported, &[Int])
        .partial("no protection keys: EINVAL, as on a CPU without them"),
    sys(SYS_munmap, "munmap", mm::munmap, &[Ptr, Uint]),
    sys(SYS_brk, "brk", mm::brk, &[Ptr]).hex(),
    sys(SYS_rt_sigaction, "rt_sigaction", signal::rt_sigaction, &[Signal, Ptr, Ptr, Uint]),
    sys(SYS_rt_sigprocmask, "rt_sigprocmask", signal::rt_sigprocmask, &[SigHow, Ptr, Ptr, Uint]),
    sys(SYS_ioctl, "ioctl", io::ioctl, &[Fd, Hex, Ptr])
        .partial("sentry ptys (no TCGETS2/TCSETS2, packet mode, TIOCSTI); other terminal requests forwarded to a host tty; FIONREAD, FIONBIO, FIOCLEX, FIONCLEX"),
    sys(SYS_pread64, "pread64", io::pread64, &[Fd, OutBuf, Uint, Long]),
    sys(SYS_pwrite64, "pwrite64", io::pwrite64, &[Fd, InBuf(2), Uint, Long]),
    sys(SYS_readv, "readv", io::readv, &[Fd, Ptr, Uint]),
    sys(SYS_writev, "writev", io::writev, &[Fd, Ptr, Uint]),
    sys(SYS_access, "access", fs::access, &[Str, Int]),
    sys(SYS_select, "select", super::poll::select, &[Int, Ptr, Ptr, Ptr, Ptr]).intr(Restart::NoHand),
    sys(SYS_sched_yield, "sched_yield", process::sched_yield, &[]),
    sys(SYS_mremap, "mremap", mm::mremap, &[Ptr, Uint, Uint, Hex, Ptr])
        .hex(),
    sys(SYS_msync, "msync", mm::msync, &[Ptr, Uint, Hex]),
    sys(SYS_mincore, "mincore", mm::mincore, &[Ptr, Uint, Ptr]).partial("every mapped page is reported resident"),
    sys(SYS_madvise, "madvise", mm::madvise, &[Ptr, Uint, Int]),
    sys(SYS_dup, "dup", io::dup, &[Fd]),
    sys(SYS_dup2, "dup2", io::dup2, &[Fd, Fd]),
    sys(SYS_nanosleep, "nanosleep", time::nanosleep, &[Ptr, Ptr]).intr(Restart::Block),
    sys(SYS_getpid, "getpid", process::getpid, &[]),
    sys(SYS_sendfile, "sendfile", io::sendfile, &[Fd, Fd, Ptr, Uint]),
    sys(SYS_exit, "exit", process::exit, &[Int]),
    sys(SYS_uname, "uname", process::uname, &[Ptr]),
    sys(SYS_fcntl, "fcntl", io::fcntl, &[Fd, Fcntl, Hex]),
    sys(SYS_fsync, "fsync", io::fsync, &[Fd]),
    sys(SYS_fdatasync, "fdatasync", io::fsync, &[Fd]),
    sys(SYS_truncate, "truncate", fs::truncate, &[Str, Long]),
    sys(SYS_ftruncate, "ftruncate", fs::ftruncate, &[Fd, Long]),
    sys(SYS_getdents, "getdents", io::getdents, &[Fd, Ptr, Uint]),
    sys(SYS_getcwd, "getcwd", fs::getcwd, &[Ptr, Uint]),
    sys(SYS_chdir, "chdir", fs::chdir, &[Str]),
    sys(SYS_fchdir, "fchdir", fs::fchdir, &[Fd]),
    sys(SYS_rename, "rename", fs::rename, &[Str, Str]),
    sys(SYS_mkdir, "mkdir", fs::mkdir, &[Str, Mode]),
    sys(SYS_rmdir, "rmdir", fs::rmdir, &[Str]),
    sys(SYS_creat, "creat", fs::creat, &[Str, Mode]),
    sys(SYS_link, "link", fs::link, &[Str, Str]),
    sys(SYS_unlink, "unlink", fs::unlink, &[Str]),
    sys(SYS_symlink, "symlink", fs::symlink, &[Str, Str]),
    sys(SYS_readlink, "readlink", fs::readlink, &[Str, OutBuf, Uint]),
    sys(SYS_chmod, "chmod", fs::chmod, &[Str, Mode]),
    sys(SYS_fchmod, "fchmod", fs::fchmod, &[Fd, Mode]),
    sys(SYS_chown, "chown", fs::chown, &[Str, Int, Int]),
    sys(SYS_fchown, "fchown", fs::fchown, &[Fd, Int, Int]),
    sys(SYS_lchown, "lchown", fs::lchown, &[Str, Int, Int]),
    sys(SYS_umask, "umask", fs::umask, &[Mode]),
    sys(SYS_gettimeofday, "gettimeofday", time::gettimeofday, &[Ptr, Ptr]),
    sys(SYS_getrlimit, "getrlimit", process::getrlimit, &[Int, Ptr]),
    sys(SYS_getrusage, "getrusage", process::getrusage, &[Int, Ptr]),
    sys(SYS_sysinfo, "sysinfo", process::sysinfo, &[Ptr]),
    sys(SYS_times, "times", process::times, &[Ptr]),
    sys(SYS_getuid, "getuid", process::getuid, &[]),
    sys(SYS_getgid, "getgid", process::getgid, &[]),
    sys(SYS_geteuid, "geteuid", process::geteuid, &[]),
    sys(SYS_getegid, "getegid", process::getegid, &[]),
    sys(SYS_getppid, "getppid", process::getppid, &[]),
    sys(SYS_getgroups, "getgroups", process::getgroups, &[Int, Ptr]),
    sys(SYS_getresuid, "getresuid", process::getresuid, &[Ptr, Ptr, Ptr]),
    sys(SYS_getresgid, "getresgid", process::getresgid, &[Ptr, Ptr, Ptr]),
    sys(SYS_sigaltstack, "sigaltstack", signal::sigaltstack, &[Ptr, Ptr]),
    sys(SYS_utime, "utime", fs::utime, &[Str, Ptr]),
    sys(SYS_mknod, "mknod", fs::mknod, &[Str, Mode, Hex]).partial("device nodes are refused (EPERM)"),
    sys(SYS_statfs, "statfs", fs::statfs, &[Str, Ptr]),
    sys(SYS_fstatfs, "fstatfs", fs::fstatfs, &[Fd, Ptr]),
    sys(SYS_prctl, "prctl", process::prctl, &[Int, Hex, Hex, Hex, Hex]).partial("start-up options only"),
    sys(SYS_arch_prctl, "arch_prctl", process::arch_prctl, &[Hex, Hex]),
    sys(SYS_setrlimit, "setrlimit", process::setrlimit, &[Int, Ptr]),
    sys(SYS_chroot, "chroot", fs::chroot, &[Str]),
    sys(SYS_sync, "sync", io::sync, &[]),
    sys(SYS_gettid, "gettid", process::gettid, &[]),
    sys(SYS_time, "time", time::time, &[Ptr]),
    sys(SYS_sched_setaffinity, "sched_setaffinity", sched::sched_setaffinity, &[Int, Uint, Ptr]),
    sys(SYS_sched_getaffinity, "sched_getaffinity", sched::sched_getaffinity, &[Int, Uint, Ptr]),
    sys(SYS_getdents64, "getdents64", io::getdents64, &[Fd, Ptr, Uint]),
    sys(SYS_set_tid_address, "set_tid_address", process::set_tid_address, &[Ptr]),
    sys(SYS_fadvise64, "fadvise64", io::fadvise64, &[Fd, Long, Uint, Int]),
    sys(SYS_clock_gettime, "clock_gettime", time::clock_gettime, &[Clock, Ptr]),
    sys(SYS_clock_getres, "clock_getres", time::clock_getres, &[Clock, Ptr]),
    sys(SYS_clock_nanosleep, "clock_nanosleep", time::clock_nanosleep, &[Clock, Hex, Ptr, Ptr]).intr(Restart::Block),
    sys(SYS_exit_group, "exit_group", process::exit_group, &[Int]),
    sys(SYS_utimes, "utimes", fs::utimes, &[Str, Ptr]),
    sys(SYS_openat, "openat", fs::openat, &[Fd, Str, OpenFlags, Mode]),
    sys(SYS_openat2, "openat2", fs::openat2, &[Fd, Str, Ptr, Uint])
        .partial("O_TMPFILE is EOPNOTSUPP, as for openat"),
    sys(SYS_mkdirat, "mkdirat", fs::mkdirat, &[Fd, Str, Mode]),
    sys(SYS_mknodat, "mknodat", fs::mknodat, &[Fd, Str, Mode, Hex]).partial("device nodes are refused (EPERM)"),
    sys(SYS_fchownat, "fchownat", fs::fchownat, &[Fd, Str, Int, Int, AtFlags]),
    sys(SYS_futimesat, "futimesat", fs::futimesat, &[Fd, Str, Ptr]),
    sys(SYS_newfstatat, "newfstatat", fs::newfstatat, &[Fd, Str, Ptr, AtFlags]),
    sys(SYS_unlinkat, "unlinkat", fs::unlinkat, &[Fd, Str, AtFlags]),
    sys(SYS_renameat, "renameat", fs::renameat, &[Fd, Str, Fd, Str]),
    sys(SYS_linkat, "linkat", fs::linkat, &[Fd, Str, Fd, Str, AtFlags]),
    sys(SYS_symlinkat, "symlinkat", fs::symlinkat, &[Str, Fd, Str]),
    sys(SYS_readlinkat, "readlinkat", fs::readlinkat, &[Fd, Str, OutBuf, Uint]),
    sys(SYS_fchmodat, "fchmodat", fs::fchmodat, &[Fd, Str, Mode]),
    sys(SYS_faccessat, "faccessat", fs::faccessat, &[Fd, Str, Int]),
    sys(SYS_pselect6, "pselect6", super::poll::pselect6, &[Int, Ptr, Ptr, Ptr, Ptr, Ptr]).intr(Restart::NoHand),
    sys(SYS_ppoll, "ppoll", super::poll::ppoll, &[Ptr, Uint, Ptr, Ptr, Uint]).intr(Restart::NoHand),
    sys(SYS_set_robust_list, "set_robust_list", process::set_robust_list, &[Ptr, Uint]),
    sys(SYS_utimensat, "utimensat", fs::utimensat, &[Fd, Str, Ptr, AtFlags]),
    sys(SYS_dup3, "dup3", io::dup3, &[Fd, Fd, OpenFlags]),
    sys(SYS_preadv, "preadv", io::preadv, &[Fd, Ptr, Uint, Long]),
    sys(SYS_pwritev, "pwritev", io::pwritev, &[Fd, Ptr, Uint, Long]),
    sys(SYS_prlimit64, "prlimit64", process::prlimit64, &[Int, Int, Ptr, Ptr]),
    sys(SYS_syncfs, "syncfs", io::fsync, &[Fd]),
    sys(SYS_clock_adjtime, "clock_adjtime", adjtime::clock_adjtime, &[Clock, Ptr]).partial("reads only: changes are EPERM"),
    sys(SYS_getcpu, "getcpu", process::getcpu, &[Ptr, Ptr, Ptr]),
    sys(SYS_renameat2, "renameat2", fs::renameat2, &[Fd, Str, Fd, Str, Hex]),
    sys(SYS_seccomp, "seccomp", super::seccomp::seccomp, &[SeccompOp, SeccompFlags, Ptr])
        .partial("no user notification: USER_NOTIF fails the call with ENOSYS as without a listener, NEW_LISTENER and GET_NOTIF_SIZES are EINVAL as before Linux 5.0"),
    sys(SYS_getrandom, "getrandom", process::getrandom, &[Ptr, Uint, Hex]),
    sys(SYS_mlock, "mlock", mm::mlock, &[Ptr, Uint]),
    sys(SYS_munlock, "munlock", mm::mlock, &[Ptr, Uint]),
    sys(SYS_mlockall, "mlockall", mm::mlockall, &[Hex]),
    sys(SYS_munlockall, "munlockall", mm::mlockall, &[]),
    sys(SYS_mlock2, "mlock2", mm::mlock, &[Ptr, Uint, Hex]),
    sys(SYS_preadv2, "preadv2", io::preadv2, &[Fd, Ptr, Uint, Long, Hex]).partial("no RWF_* flags"),
    sys(SYS_pwritev2, "pwritev2", io::pwritev2, &[Fd, Ptr, Uint, Long, Hex]).partial("no RWF_* flags"),
    sys(SYS_statx, "statx", fs::statx, &[Fd, Str, AtFlags, Hex, Ptr]),
    sys(SYS_close_range, "close_range", io::close_range, &[Uint, Uint, Hex]),
    sys(SYS_faccessat2, "faccessat2", fs::faccessat2, &[Fd, Str, Int, AtFlags]),
    sys(452, "fchmodat2", fs::fchmodat2, &[Fd, Str, Mode, AtFlags]),
    sys(SYS_socket, "socket", net::socket, &[Int, Hex, Int])
        .partial("AF_UNIX; AF_INET/AF_INET6 TCP and UDP on the sandbox's loopback, or host sockets with --network=host; AF_NETLINK route only; other families are EAFNOSUPPORT"),
    sys(SYS_socketpair, "socketpair", net::socketpair, &[Int, Hex, Int, Ptr]),
    sys(SYS_bind, "bind", net::bind, &[Fd, Ptr, Uint]),
    sys(SYS_listen, "listen", net::listen, &[Fd, Int]),
    sys(SYS_accept, "accept", net::accept, &[Fd, Ptr, Ptr]),
    sys(SYS_accept4, "accept4", net::accept4, &[Fd, Ptr, Ptr, Hex]),
    sys(SYS_connect, "connect", net::connect, &[Fd, Ptr, Uint]),
    sys(SYS_sendto, "sendto", net::sendto, &[Fd, InBuf(2), Uint, Hex, Ptr, Uint])
        .partial("no MSG_OOB"),
    sys(SYS_recvfrom, "recvfrom", net::recvfrom, &[Fd, OutBuf, Uint, Hex, Ptr, Ptr])
        .partial("no MSG_OOB"),
    sys(SYS_sendmsg, "sendmsg", net::sendmsg, &[Fd, Ptr, Hex])
        .partial("no MSG_OOB; SCM_RIGHTS and SCM_CREDENTIALS only"),
    sys(SYS_recvmsg, "recvmsg", net::recvmsg, &[Fd, Ptr, Hex])
        .partial("no MSG_OOB or MSG_ERRQUEUE"),
    sys(SYS_sendmmsg, "sendmmsg", net::sendmmsg, &[Fd, Ptr, Uint, Hex])
        .partial("no MSG_OOB; SCM_RIGHTS and SCM_CREDENTIALS only"),
    sys(SYS_recvmmsg, "recvmmsg", net::recvmmsg, &[Fd, Ptr, Uint, Hex, Ptr])
        .partial("no MSG_OOB or MSG_ERRQUEUE"),
    sys(SYS_shutdown, "shutdown", net::shutdown, &[Fd, Int]),
    sys(SYS_getsockname, "getsockname", net::getsockname, &[Fd, Ptr, Ptr]),
    sys(SYS_getpeername, "getpeername", net::getpeername, &[Fd, Ptr, Ptr]),
    sys(SYS_getsockopt, "getsockopt", net::getsockopt, &[Fd, Int, Int, Ptr, Ptr])
        .partial("SOL_SOCKET only; buffer sizes, linger and keepalive are recorded, not acted on"),
    sys(SYS_setsockopt, "setsockopt", net::setsockopt, &[Fd, Int, Int, Ptr, Uint])
        .partial("SOL_SOCKET only; buffer sizes, linger and keepalive are recorded, not acted on"),
    sys(SYS_shmget, "shmget", ipc::shmget, &[IpcKey, Uint, IpcFlags])
        .partial("SHM_HUGETLB gives ordinary pages"),
    sys(SYS_shmat, "shmat", ipc::shmat, &[Int, Ptr, Hex]).hex(),
    sys(SYS_shmdt, "shmdt", ipc::shmdt, &[Ptr]),
    sys(SYS_shmctl, "shmctl", ipc::shmctl, &[Int, IpcCmd(Ipc::Shm), Ptr])
        .partial("SHM_LOCK only sets the flag; attach and detach by fork, exec and exit leave shm_atime, shm_dtime and shm_lpid alone"),
    sys(SYS_semget, "semget", ipc::semget, &[IpcKey, Int, IpcFlags]),
    sys(SYS_semop, "semop", ipc::semop, &[Int, Ptr, Uint])
        .intr(Restart::NoHand)
        .partial("SEM_UNDO adjustments belong to the process (as with CLONE_SYSVSEM threads); a wait ended by a signal without a handler restarts (Linux: EINTR)"),
    sys(SYS_semtimedop, "semtimedop", ipc::semtimedop, &[Int, Ptr, Uint, Ptr])
        .intr(Restart::NoHand)
        .partial("SEM_UNDO adjustments belong to the process (as with CLONE_SYSVSEM threads); a wait ended by a signal without a handler restarts (Linux: EINTR)"),
    sys(SYS_semctl, "semctl", ipc::semctl, &[Int, Int, IpcCmd(Ipc::Sem), Hex]),
    sys(SYS_msgget, "msgget", ipc::msgget, &[IpcKey, IpcFlags]),
    sys(SYS_msgsnd, "msgsnd", ipc::msgsnd, &[Int, Ptr, Uint, Hex]).intr(Restart::NoHand),
    sys(SYS_msgrcv, "msgrcv", ipc::msgrcv, &[Int, Ptr, Uint, Long, Hex]).intr(Restart::NoHand),
    sys(SYS_msgctl, "msgctl", ipc::msgctl, &[Int, IpcCmd(Ipc::Msg), Ptr]),
    sys(SYS_splice, "splice", splice::splice, &[Fd, Ptr, Fd, Ptr, Uint, Hex]),
    sys(SYS_tee, "tee", splice::tee, &[Fd, Fd, Uint, Hex]),
    sys(SYS_vmsplice, "vmsplice", splice::vmsplice, &[Fd, Ptr, Uint, Hex]),
    sys(SYS_pipe, "pipe", io::pipe, &[Ptr]),
    sys(SYS_pipe2, "pipe2", io::pipe2, &[Ptr, OpenFlags]),
    sys(SYS_fork, "fork", process::fork, &[]),
    sys(SYS_vfork, "vfork", process::vfork, &[]),
    sys(SYS_clone, "clone", process::clone, &[Hex, Ptr, Ptr, Ptr, Hex]).partial("no namespaces (EPERM)"),
    sys(SYS_futex, "futex", super::futex::futex, &[Ptr, Hex, Uint, Ptr, Ptr, Hex]).partial("no priority-inheritance operations (ENOSYS)"),
    sys(SYS_futex_waitv, "futex_waitv", super::futex::futex_waitv, &[Ptr, Uint, Hex, Ptr, Clock]),
    sys(SYS_get_robust_list, "get_robust_list", process::get_robust_list, &[Int, Ptr, Ptr]),
    sys(SYS_execve, "execve", process::execve, &[Str, StrArray, Ptr]),
    sys(SYS_execveat, "execveat", process::execveat, &[Fd, Str, StrArray, Ptr, AtFlags]),
    sys(SYS_wait4, "wait4", process::wait4, &[Int, Ptr, Hex, Ptr]),
    sys(SYS_waitid, "waitid", process::waitid, &[Int, Int, Ptr, Hex, Ptr]).partial("exits only"),
    sys(SYS_kill, "kill", signal::kill, &[Int, Signal]),
    sys(SYS_tkill, "tkill", signal::tkill, &[Int, Signal]),
    sys(SYS_tgkill, "tgkill", signal::tgkill, &[Int, Int, Signal]),
    sys(SYS_rt_sigpending, "rt_sigpending", signal::rt_sigpending, &[Ptr, Uint]),
    sys(SYS_rt_sigreturn, "rt_sigreturn", signal::rt_sigreturn, &[]),
    sys(SYS_rt_sigsuspend, "rt_sigsuspend", signal::rt_sigsuspend, &[Ptr, Uint]).intr(Restart::NoHand),
    sys(SYS_pause, "pause", signal::pause, &[]).intr(Restart::NoHand),
    sys(SYS_rt_sigtimedwait, "rt_sigtimedwait", signal::rt_sigtimedwait, &[Ptr, Ptr, Ptr, Uint]).intr(Restart::NoHand),
    sys(SYS_restart_syscall, "restart_syscall", time::restart_syscall, &[]).intr(Restart::Block),
    sys(SYS_getpgid, "getpgid", process::getpgid, &[Int]),
    sys(SYS_setpgid, "setpgid", process::setpgid, &[Int, Int]),
    sys(SYS_getpgrp, "getpgrp", process::getpgrp, &[]),
    sys(SYS_getsid, "getsid", process::getsid, &[Int]),
    sys(SYS_setsid, "setsid", process::setsid, &[]),
    sys(SYS_clone3, "clone3", process::clone3, &[Ptr, Uint]).partial("no set_tid or cgroup"),
    sys(SYS_pidfd_open, "pidfd_open", pidfd::pidfd_open, &[Int, Hex]),
    sys(SYS_pidfd_send_signal, "pidfd_send_signal", pidfd::pidfd_send_signal, &[Fd, Signal, Ptr, Hex]),
    sys(SYS_pidfd_getfd, "pidfd_getfd", pidfd::pidfd_getfd, &[Fd, Int, Hex]).partial("through a thread pidfd, the process's fd table even for a thread cloned without CLONE_FILES"),
    sys(SYS_kcmp, "kcmp", kcmp::kcmp, &[Int, Int, Int, Hex, Hex]).partial("KCMP_IO always compares equal (no I/O contexts); a thread's fd table and fs context are its process's"),
    sys(SYS_alarm, "alarm", time::alarm, &[Uint]),
    sys(SYS_getitimer, "getitimer", time::getitimer, &[Int, Ptr]),
    sys(SYS_setitimer, "setitimer", time::setitimer, &[Int, Ptr, Ptr]),
    sys(SYS_timer_create, "timer_create", time::timer_create, &[Clock, Ptr, Ptr]),
    sys(SYS_timer_settime, "timer_settime", time::timer_settime, &[Int, Hex, Ptr, Ptr]),
    sys(SYS_timer_gettime, "timer_gettime", time::timer_gettime, &[Int, Ptr]),
    sys(SYS_timer_getoverrun, "timer_getoverrun", time::timer_getoverrun, &[Int]),
    sys(SYS_timer_delete, "timer_delete", time::timer_delete, &[Int]),
    sys(SYS_timerfd_create, "timerfd_create", time::timerfd_create, &[Clock, Hex]),
    sys(SYS_timerfd_settime, "timerfd_settime", time::timerfd_settime, &[Fd, Hex, Ptr, Ptr]),
    sys(SYS_timerfd_gettime, "timerfd_gettime", time::timerfd_gettime, &[Fd, Ptr]),
    sys(SYS_eventfd, "eventfd", super::poll::eventfd, &[Uint]),
    sys(SYS_eventfd2, "eventfd2", super::poll::eventfd2, &[Uint, Hex]),
    sys(SYS_io_setup, "io_setup", aio::io_setup, &[Uint, Ptr]),
    sys(SYS_io_destroy, "io_destroy", aio::io_destroy, &[Hex]),
    sys(SYS_io_getevents, "io_getevents", aio::io_getevents, &[Hex, Long, Long, Ptr, Ptr]).intr(Restart::NoHand),
    sys(SYS_io_submit, "io_submit", aio::io_submit, &[Hex, Long, Ptr])
        .partial("reads, writes and syncs run at submission; no IOCB_CMD_POLL (EINVAL) or RWF_* flags"),
    sys(SYS_io_cancel, "io_cancel", aio::io_cancel, &[Hex, Ptr, Ptr]),
    sys(SYS_epoll_create, "epoll_create", super::poll::epoll_create, &[Int]),
    sys(SYS_epoll_create1, "epoll_create1", super::poll::epoll_create1, &[Hex]),
    sys(SYS_epoll_ctl, "epoll_ctl", super::poll::epoll_ctl, &[Fd, Int, Fd, Ptr]),
    sys(SYS_epoll_wait, "epoll_wait", super::poll::epoll_wait, &[Fd, Ptr, Int, Int]).intr(Restart::NoHand),
    sys(SYS_epoll_pwait, "epoll_pwait", super::poll::epoll_pwait, &[Fd, Ptr, Int, Int, Ptr, Uint]).intr(Restart::NoHand),
    sys(SYS_epoll_pwait2, "epoll_pwait2", super::poll::epoll_pwait2, &[Fd, Ptr, Int, Ptr, Ptr, Uint]).intr(Restart::NoHand),
    sys(SYS_signalfd, "signalfd", signal::signalfd, &[Fd, Ptr, Uint]),
    sys(SYS_signalfd4, "signalfd4", signal::signalfd4, &[Fd, Ptr, Uint, Hex]),
    sys(SYS_rt_sigqueueinfo, "rt_sigqueueinfo", signal::rt_sigqueueinfo, &[Int, Signal, Ptr]),
    sys(SYS_rt_tgsigqueueinfo, "rt_tgsigqueueinfo", signal::rt_tgsigqueueinfo, &[Int, Int, Signal, Ptr]),
    sys(SYS_setuid, "setuid", misc::setuid, &[Int]),
    sys(SYS_setgid, "setgid", misc::setgid, &[Int]),
    sys(SYS_setreuid, "setreuid", misc::setreuid, &[Int, Int]),
    sys(SYS_setregid, "setregid", misc::setregid, &[Int, Int]),
    sys(SYS_setresuid, "setresuid", misc::setresuid, &[Int, Int, Int]),
    sys(SYS_setresgid, "setresgid", misc::setresgid, &[Int, Int, Int]),
    sys(SYS_setfsuid, "setfsuid", misc::setfsuid, &[Int]).partial("file-system ids follow the effective ids"),
    sys(SYS_setfsgid, "setfsgid", misc::setfsgid, &[Int]).partial("file-system ids follow the effective ids"),
    sys(SYS_setgroups, "setgroups", misc::setgroups, &[Int, Ptr]).partial("no supplementary groups"),
    sys(SYS_capget, "capget", misc::capget, &[Ptr, Ptr]).partial("root has all capabilities, others none"),
    sys(SYS_capset, "capset", misc::capset, &[Ptr, Ptr]).partial("accepted for root, not enforced"),
    sys(SYS_sched_getscheduler, "sched_getscheduler", sched::sched_getscheduler, &[Int]),
    sys(SYS_sched_setscheduler, "sched_setscheduler", sched::sched_setscheduler, &[Int, Int, Ptr])
        .partial("policies and priorities are recorded, not applied"),
    sys(SYS_sched_getparam, "sched_getparam", sched::sched_getparam, &[Int, Ptr]),
    sys(SYS_sched_setparam, "sched_setparam", sched::sched_setparam, &[Int, Ptr])
        .partial("priorities are recorded, not applied"),
    sys(SYS_sched_setattr, "sched_setattr", sched::sched_setattr, &[Int, Ptr, Hex])
        .partial("recorded, not applied; no utilization clamps (EOPNOTSUPP)"),
    sys(SYS_sched_getattr, "sched_getattr", sched::sched_getattr, &[Int, Ptr, Uint, Hex]),
    sys(SYS_sched_get_priority_max, "sched_get_priority_max", sched::sched_get_priority_max, &[Int]),
    sys(SYS_sched_get_priority_min, "sched_get_priority_min", sched::sched_get_priority_min, &[Int]),
    sys(SYS_sched_rr_get_interval, "sched_rr_get_interval", sched::sched_rr_get_interval, &[Int, Ptr]),
    sys(SYS_getpriority, "getpriority", sched::getpriority, &[Int, Int]),
    sys(SYS_setpriority, "setpriority", sched::setpriority, &[Int, Int, Int]).partial("recorded, not applied"),
    sys(SYS_mbind, "mbind", numa::mbind, &[Ptr, Uint, Hex, Ptr, Uint, Hex])
        .partial("one node; policies are checked, not recorded per mapping"),
    sys(SYS_set_mempolicy, "set_mempolicy", numa::set_mempolicy, &[Hex, Ptr, Uint]).partial("one node"),
    sys(SYS_get_mempolicy, "get_mempolicy", numa::get_mempolicy, &[Ptr, Ptr, Uint, Ptr, Hex])
        .partial("one node; MPOL_F_ADDR reports the default policy (mbind is not recorded)"),
    sys(SYS_mq_open, "mq_open", mqueue::mq_open, &[Str, OpenFlags, Mode, Ptr])
        .partial("no mqueue filesystem to mount (/dev/mqueue)"),
    sys(SYS_mq_unlink, "mq_unlink", mqueue::mq_unlink, &[Str]),
    sys(SYS_mq_timedsend, "mq_timedsend", mqueue::mq_timedsend, &[Fd, Ptr, Uint, Uint, Ptr]),
    sys(SYS_mq_timedreceive, "mq_timedreceive", mqueue::mq_timedreceive, &[Fd, Ptr, Uint, Ptr, Ptr]),
    sys(SYS_mq_notify, "mq_notify", mqueue::mq_notify, &[Fd, Ptr])
        .partial("SIGEV_THREAD (netlink) is EINVAL; a registration outlives its owner's close of the descriptor"),
    sys(SYS_mq_getsetattr, "mq_getsetattr", mqueue::mq_getsetattr, &[Fd, Ptr, Ptr]),
    sys(SYS_set_mempolicy_home_node, "set_mempolicy_home_node", numa::set_mempolicy_home_node, &[Ptr, Uint, Uint, Hex])
        .partial("one node; no mapping carries a policy (ENOENT)"),
    sys(SYS_migrate_pages, "migrate_pages", numa::migrate_pages, &[Int, Uint, Ptr, Ptr]).partial("one node"),
    sys(SYS_move_pages, "move_pages", numa::move_pages, &[Int, Uint, Ptr, Ptr, Ptr, Hex])
        .partial("one node; every mapped page is reported present"),
    sys(SYS_ioprio_set, "ioprio_set", sched::ioprio_set, &[Int, Int, Hex]).partial("recorded, not applied"),
    sys(SYS_ioprio_get, "ioprio_get", sched::ioprio_get, &[Int, Int]),
    sys(SYS_personality, "personality", misc::personality, &[Hex]).partial("exec honours ADDR_NO_RANDOMIZE only; other flags and domains are recorded"),
    sys(SYS_membarrier, "membarrier", misc::membarrier, &[Int, Hex, Int]),
    sys(SYS_memfd_create, "memfd_create", misc::memfd_create, &[Str, Hex]),
    sys(SYS_inotify_init, "inotify_init", inotify::inotify_init, &[])
        .partial("events for the guest's own changes only, not the host's changes to bound directories"),
    sys(SYS_inotify_init1, "inotify_init1", inotify::inotify_init1, &[Hex])
        .partial("events for the guest's own changes only, not the host's changes to bound directories"),
    sys(SYS_inotify_add_watch, "inotify_add_watch", inotify::inotify_add_watch, &[Fd, Str, Hex]),
    sys(SYS_inotify_rm_watch, "inotify_rm_watch", inotify::inotify_rm_watch, &[Fd, Int]),
    sys(SYS_copy_file_range, "copy_file_range", misc::copy_file_range, &[Fd, Ptr, Fd, Ptr, Uint, Hex]),
    sys(SYS_flock, "flock", lock::flock, &[Fd, Int]),
    sys(SYS_fallocate, "fallocate", misc::fallocate, &[Fd, Hex, Long, Long]).partial("mode 0 and KEEP_SIZE only"),
    sys(SYS_getxattr, "getxattr", xattr::getxattr, &[Str, Str, Ptr, Uint]),
    sys(SYS_lgetxattr, "lgetxattr", xattr::lgetxattr, &[Str, Str, Ptr, Uint]),
    sys(SYS_fgetxattr, "fgetxattr", xattr::fgetxattr, &[Fd, Str, Ptr, Uint]),
    sys(SYS_listxattr, "listxattr", xattr::listxattr, &[Str, Ptr, Uint]),
    sys(SYS_llistxattr, "llistxattr", xattr::llistxattr, &[Str, Ptr, Uint]),
    sys(SYS_flistxattr, "flistxattr", xattr::flistxattr, &[Fd, Ptr, Uint]),
    sys(SYS_setxattr, "setxattr", xattr::setxattr, &[Str, Str, InBuf(3), Uint, Hex]),
    sys(SYS_lsetxattr, "lsetxattr", xattr::lsetxattr, &[Str, Str, InBuf(3), Uint, Hex]),
    sys(SYS_fsetxattr, "fsetxattr", xattr::fsetxattr, &[Fd, Str, InBuf(3), Uint, Hex]),
    sys(SYS_removexattr, "removexattr", xattr::removexattr, &[Str, Str]),
    sys(SYS_lremovexattr, "lremovexattr", xattr::lremovexattr, &[Str, Str]),
    sys(SYS_fremovexattr, "fremovexattr", xattr::fremovexattr, &[Fd, Str]),
    sys(SYS_readahead, "readahead", misc::readahead, &[Fd, Long, Uint]),
    sys(SYS_sync_file_range, "sync_file_range", misc::readahead, &[Fd, Long, Long, Hex]),
    sys(SYS_ptrace, "ptrace", super::eperm, &[Int, Int, Ptr, Ptr]).partial("always EPERM: guests cannot trace"),
    sys(SYS_process_vm_readv, "process_vm_readv", super::eperm, &[Int, Ptr, Uint, Ptr, Uint, Hex]).partial("always EPERM"),
    sys(SYS_process_vm_writev, "process_vm_writev", super::eperm, &[Int, Ptr, Uint, Ptr, Uint, Hex]).partial("always EPERM"),
    sys(SYS_kexec_load, "kexec_load", super::eperm, &[Ptr, Uint, Ptr, Hex]).partial("always EPERM"),
    sys(SYS_kexec_file_load, "kexec_file_load", super::eperm, &[Fd, Fd, Uint, Ptr, Hex]).partial("always EPERM"),
    sys(SYS_bpf, "bpf", super::eperm, &[Int, Ptr, Uint]).partial("always EPERM"),
    sys(SYS_perf_event_open, "perf_event_open", super::eacces, &[Ptr, Int, Int, Fd, Hex]).partial("always EACCES"),
    sys(SYS_mount, "mount", super::eperm, &[Str, Str, Str, Hex, Ptr]).partial("always EPERM"),
    sys(SYS_umount2, "umount2", super::eperm, &[Str, Hex]).partial("always EPERM"),
    sys(SYS_pivot_root, "pivot_root", super::eperm, &[Str, Str]).partial("always EPERM"),
    sys(SYS_unshare, "unshare", super::eperm, &[Hex]).partial("always EPERM: no namespaces"),
    sys(SYS_setns, "setns", super::eperm, &[Fd, Hex]).partial("always EPERM: no namespaces"),
    sys(SYS_init_module, "init_module", super::eperm, &[Ptr, Uint, Str]).partial("always EPERM"),
    sys(SYS_finit_module, "finit_module", super::eperm, &[Fd, Str, Hex]).partial("always EPERM"),
    sys(SYS_delete_module, "delete_module", super::eperm, &[Str, Hex]).partial("always EPERM"),
    sys(SYS_reboot, "reboot", super::eperm, &[Hex, Hex, Hex, Ptr]).partial("always EPERM"),
    sys(SYS_swapon, "swapon", super::eperm, &[Str, Hex]).partial("always EPERM"),
    sys(SYS_swapoff, "swapoff", super::eperm, &[Str]).partial("always EPERM"),
    sys(SYS_iopl, "iopl", super::eperm, &[Int]).partial("always EPERM"),
    sys(SYS_ioperm, "ioperm", super::eperm, &[Hex, Hex, Int]).partial("always EPERM"),
    sys(SYS_settimeofday, "settimeofday", super::eperm, &[Ptr, Ptr]).partial("always EPERM"),
    sys(SYS_clock_settime, "clock_settime", super::eperm, &[Clock, Ptr]).partial("always EPERM"),
    sys(SYS_sethostname, "sethostname", process::sethostname, &[Str, Int]),
    sys(SYS_setdomainname, "setdomainname", process::setdomainname, &[Str, Int]),
    sys(SYS_adjtimex, "adjtimex", adjtime::adjtimex, &[Ptr]).partial("reads only: changes are EPERM"),
    sys(SYS_acct, "acct", super::eperm, &[Str]).partial("always EPERM"),
    sys(SYS_syslog, "syslog", super::eperm, &[Int, Ptr, Int]).partial("always EPERM"),
    sys(SYS_vhangup, "vhangup", super::eperm, &[]).partial("always EPERM"),
    sys(SYS_quotactl, "quotactl", super::eperm, &[Hex, Str, Int, Ptr]).partial("always EPERM"),
    sys(SYS_userfaultfd, "userfaultfd", super::eperm, &[Hex]).partial("always EPERM"),
    sys(SYS_io_uring_setup, "io_uring_setup", super::unsupported, &[Uint, Ptr]).partial("always ENOSYS"),
    sys(SYS_io_uring_enter, "io_uring_enter", super::unsupported, &[Fd, Uint, Uint, Hex, Ptr]).partial("always ENOSYS"),
    sys(SYS_io_uring_register, "io_uring_register", super::unsupported, &[Fd, Uint, Ptr, Uint]).partial("always ENOSYS"),
    sys(SYS_rseq, "rseq", super::unsupported, &[Ptr, Uint, Hex, Hex])
        .partial("always ENOSYS: restartable sequences need preemption notices ptrace cannot give; glibc falls back"),
];

/// The entry for syscall `nr`.
pub fn lookup(nr: u64) -> Option<&'static Syscall> {
    static INDEX: OnceLock<Vec<Option<&'static Syscall>>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut v = vec![None; super::names::NAMES.len()];
        for s in TABLE {
            v[s.nr as usize] = Some(s);
        }
        v
    });
    index.get(nr as usize).copied().flatten()
}

/// The table as text: one line per syscall number known to Linux, saying how the sentry
/// answers it.
pub fn report() -> String {
    let mut out = String::new();
    for (nr, name) in super::names::NAMES.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        let status = match lookup(nr as u64) {
            Some(Syscall { note: Some(n), .. }) => format!("partial: {n}"),
            Some(_) => "supported".to_string(),
            None => "ENOSYS".to_string(),
        };
        out.push_str(&format!("{nr:4} {name:<24} {status}\n"));
    }
    out
}
