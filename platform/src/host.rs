//! Safe wrappers for the few host syscalls that `nix` and `libc` leave unsafe and the
//! sentry's file layer needs (raw directory reads, terminal ioctls, extended attributes).
//! Each wrapper checks its arguments so that no caller can make the kernel write outside a
//! Rust buffer.

use nix::errno::Errno;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Reads `linux_dirent64` records from directory `fd` into `buf` (`getdents64(2)`).
pub fn getdents64(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we own mutably.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            fd.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    Errno::result(r).map(|n| n as usize)
}

/// Size of the kernel structure a terminal ioctl reads or writes (the kernel's
/// `struct termios` is 36 bytes, smaller than glibc's), or `None` for other requests.
pub fn tty_ioctl_size(request: u64) -> Option<usize> {
    Some(match request as libc::c_ulong {
        libc::TCGETS | libc::TCSETS | libc::TCSETSW | libc::TCSETSF => 36,
        libc::TIOCGWINSZ | libc::TIOCSWINSZ => 8,
        libc::TIOCGPGRP | libc::TIOCSPGRP | libc::TIOCGSID => 4,
        _ => return None,
    })
}

/// A terminal ioctl whose argument is a fixed-size structure in memory; `arg` must be at
/// least as large as the structure the request reads or writes.
pub fn tty_ioctl(fd: BorrowedFd<'_>, request: u64, arg: &mut [u8]) -> Result<i32, Errno> {
    let needed = tty_ioctl_size(request).ok_or(Errno::ENOTTY)?;
    if arg.len() < needed {
        return Err(Errno::EFAULT);
    }
    // SAFETY: the request is one of the terminal requests above, each of which reads or
    // writes exactly `needed` bytes at `arg`, and `arg` is at least that long.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::c_ulong, arg.as_mut_ptr()) };
    Errno::result(r)
}

/// Bytes readable from a pipe, socket or terminal without blocking (`FIONREAD`).
pub fn fionread(fd: BorrowedFd<'_>, out: &mut [u8; 4]) -> Result<i32, Errno> {
    // SAFETY: FIONREAD writes one int at the pointer, and `out` holds four bytes.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, out.as_mut_ptr()) };
    Errno::result(r)
}

/// Fills `buf` with random bytes from the host kernel (`getrandom(2)`).
pub fn getrandom(buf: &mut [u8]) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the kernel writes at most `rest.len()` bytes into `rest`, which we own.
        let r = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match Errno::result(r) {
            Ok(n) => done += n as usize,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sets the access and modification times of the object `fd` refers to (an `O_PATH` fd
/// of a symlink included), with `utimensat(fd, "", times, AT_EMPTY_PATH)`.
pub fn utimens_fd(fd: BorrowedFd<'_>, times: &[libc::timespec; 2]) -> Result<(), Errno> {
    // SAFETY: the path is a valid empty C string and `times` points at two timespecs,
    // which is all utimensat reads.
    let r = unsafe {
        libc::utimensat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            times.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    Errno::result(r).map(drop)
}

/// Sends `sig` to thread `tid` of thread group `tgid` (`tgkill(2)`).
pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: tgkill takes three integers and touches no memory of ours.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) };
    Errno::result(r).map(drop)
}

/// `/proc/self/fd/N` for `fd`: following it reaches the object itself (a symlink opened
/// `O_PATH | O_NOFOLLOW` included), which is how the `*xattr` calls reach an `O_PATH` fd.
fn proc_fd_cpath(fd: BorrowedFd<'_>) -> std::ffi::CString {
    std::ffi::CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

/// Reads extended attribute `name` of the object `fd` refers to into `buf`; with an
/// empty `buf`, returns the value's size (`getxattr(2)`).
pub fn fd_getxattr(fd: BorrowedFd<'_>, name: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let path = proc_fd_cpath(fd);
    // SAFETY: both strings are NUL-terminated, and the kernel writes at most `buf.len()`
    // bytes into `buf`, which we own mutably.
    let r = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    Errno::result(r).map(|n| n as usize)
}

/// Sets extended attribute `name` of the object `fd` refers to (`setxattr(2)`).
pub fn fd_setxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8], flags: i32) -> Result<(), Errno> {
    let path = proc_fd_cpath(fd);
    // SAFETY: both strings are NUL-terminated and the kernel reads `value.len()` bytes of
    // `value`.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    Errno::result(r).map(drop)
}

/// Reads the NUL-separated names of the extended attributes of the object `fd` refers to
/// into `buf`; with an empty `buf`, returns the list's size (`listxattr(2)`).
pub fn fd_listxattr(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    let path = proc_fd_cpath(fd);
    // SAFETY: the path is NUL-terminated and the kernel writes at most `buf.len()` bytes
    // into `buf`, which we own mutably.
    let r = unsafe { libc::listxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    Errno::result(r).map(|n| n as usize)
}

/// Removes extended attribute `name` of the object `fd` refers to (`removexattr(2)`).
pub fn fd_removexattr(fd: BorrowedFd<'_>, name: &CStr) -> Result<(), Errno> {
    let path = proc_fd_cpath(fd);
    // SAFETY: both strings are NUL-terminated; nothing is written.
    let r = unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) };
    Errno::result(r).map(drop)
}

/// The scheduling attributes the host gives the calling thread (`sched_getattr(2)`).
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedAttr {
    /// `SCHED_*` policy.
    pub policy: u32,
    /// `SCHED_FLAG_*` flags.
    pub flags: u64,
    /// Nice value.
    pub nice: i32,
    /// Real-time priority.
    pub priority: u32,
    /// Time slice, or a deadline task's runtime, in nanoseconds.
    pub runtime: u64,
}

/// The calling thread's scheduling attributes.
pub fn sched_attr() -> Result<SchedAttr, Errno> {
    // struct sched_attr as of SCHED_ATTR_SIZE_VER1: size, policy, flags, nice, priority,
    // runtime, deadline, period, util_min, util_max.
    let mut raw = [0u8; 56];
    // SAFETY: the kernel writes at most the size passed (56 bytes) into `raw`, which we
    // own mutably.
    let r = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, raw.as_mut_ptr(), 56, 0) };
    Errno::result(r)?;
    let word = |at: usize| u32::from_ne_bytes(raw[at..at + 4].try_into().expect("4 bytes"));
    let long = |at: usize| u64::from_ne_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
    Ok(SchedAttr {
        policy: word(4),
        flags: long(8),
        nice: word(16) as i32,
        priority: word(20),
        runtime: long(24),
    })
}

/// The calling thread's CPU affinity mask exactly as the host kernel reports it: the
/// returned bytes are the kernel's `cpumask_size()`, which a guest's
/// `sched_getaffinity(2)` also gets back as its length.
pub fn cpu_affinity() -> Result<Vec<u8>, Errno> {
    // Room for the largest cpumask Linux builds (NR_CPUS up to 8192).
    let mut mask = vec![0u8; 1024];
    // SAFETY: the kernel writes at most `mask.len()` bytes at its pointer, which we own
    // mutably.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_getaffinity,
            0,
            mask.len(),
            mask.as_mut_ptr(),
        )
    };
    let len = Errno::result(r)? as usize;
    mask.truncate(len);
    Ok(mask)
}

/// The round-robin interval the host reports for the calling thread
/// (`sched_rr_get_interval(2)`).
pub fn rr_interval() -> Result<std::time::Duration, Errno> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the kernel writes one timespec at the pointer, which points at `ts`.
    let r = unsafe { libc::sched_rr_get_interval(0, &mut ts) };
    Errno::result(r)?;
    Ok(std::time::Duration::new(
        ts.tv_sec as u64,
        ts.tv_nsec as u32,
    ))
}

/// Size of `struct timex` on x86_64.
pub const TIMEX_SIZE: usize = 208;
/// `ADJ_OFFSET_SS_READ`: the read-only form of a single-shot offset adjustment.
pub const ADJ_OFFSET_SS_READ: u32 = 0xa001;

/// Reads the host clock's adjustment state into `timex` (`adjtimex(2)` with `modes` 0 or
/// [`ADJ_OFFSET_SS_READ`], which change nothing; any other `modes` is refused with EPERM
/// here, never passed on). Returns the clock state (`TIME_OK`...).
pub fn adjtimex_read(timex: &mut [u8; TIMEX_SIZE], modes: u32) -> Result<i32, Errno> {
    if modes != 0 && modes != ADJ_OFFSET_SS_READ {
        return Err(Errno::EPERM);
    }
    timex[..4].copy_from_slice(&modes.to_ne_bytes());
    // SAFETY: `timex` is a whole `struct timex` (TIMEX_SIZE bytes) that we own mutably; with
    // these modes the kernel only reads its first word and writes the structure.
    let r = unsafe { libc::syscall(libc::SYS_adjtimex, timex.as_mut_ptr()) };
    Errno::result(r).map(|s| s as i32)
}
