//! Linux x86_64 ABI structures the guest passes to and receives from syscalls.
//!
//! Each is `repr(C)` with explicit padding fields and derives zerocopy's traits, which
//! check at compile time that the layout has no implicit padding, so copying one to or from
//! guest memory never leaks or misreads a byte.

// Field names are the kernel's; documenting each again would only repeat the man pages.
#![allow(missing_docs)]

use fs::{Stat, StatFs, Time};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct timespec`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds.
    pub tv_nsec: i64,
}

impl Timespec {
    /// From a duration.
    pub fn from_duration(d: std::time::Duration) -> Self {
        Timespec {
            tv_sec: d.as_secs() as i64,
            tv_nsec: d.subsec_nanos() as i64,
        }
    }

    /// To a duration; `None` if negative or nanoseconds out of range.
    pub fn to_duration(self) -> Option<std::time::Duration> {
        if self.tv_sec < 0 || !(0..1_000_000_000).contains(&self.tv_nsec) {
            return None;
        }
        Some(std::time::Duration::new(
            self.tv_sec as u64,
            self.tv_nsec as u32,
        ))
    }
}

/// `struct timeval`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Timeval {
    /// Seconds.
    pub tv_sec: i64,
    /// Microseconds.
    pub tv_usec: i64,
}

impl Timeval {
    /// From a duration.
    pub fn from_duration(d: std::time::Duration) -> Self {
        Timeval {
            tv_sec: d.as_secs() as i64,
            tv_usec: d.subsec_micros() as i64,
        }
    }
}

/// The kernel's `struct stat` on x86_64.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct KStat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_nlink: u64,
    pub st_mode: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub pad0: u32,
    pub st_rdev: u64,
    pub st_size: i64,
    pub st_blksize: i64,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: i64,
    pub st_mtime: i64,
    pub st_mtime_nsec: i64,
    pub st_ctime: i64,
    pub st_ctime_nsec: i64,
    pub unused: [i64; 3],
}

impl From<&Stat> for KStat {
    fn from(s: &Stat) -> Self {
        KStat {
            st_dev: s.dev,
            st_ino: s.ino,
            st_nlink: s.nlink,
            st_mode: s.mode,
            st_uid: s.uid,
            st_gid: s.gid,
            st_rdev: s.rdev,
            st_size: s.size,
            st_blksize: s.blksize,
            st_blocks: s.blocks,
            st_atime: s.atime.sec,
            st_atime_nsec: s.atime.nsec,
            st_mtime: s.mtime.sec,
            st_mtime_nsec: s.mtime.nsec,
            st_ctime: s.ctime.sec,
            st_ctime_nsec: s.ctime.nsec,
            ..KStat::default()
        }
    }
}

/// `struct statx_timestamp`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct StatxTimestamp {
    pub tv_sec: i64,
    pub tv_nsec: u32,
    pub reserved: i32,
}

impl From<Time> for StatxTimestamp {
    fn from(t: Time) -> Self {
        StatxTimestamp {
            tv_sec: t.sec,
            tv_nsec: t.nsec as u32,
            reserved: 0,
        }
    }
}

/// `struct statx`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Statx {
    pub stx_mask: u32,
    pub stx_blksize: u32,
    pub stx_attributes: u64,
    pub stx_nlink: u32,
    pub stx_uid: u32,
    pub stx_gid: u32,
    pub stx_mode: u16,
    pub spare0: u16,
    pub stx_ino: u64,
    pub stx_size: u64,
    pub stx_blocks: u64,
    pub stx_attributes_mask: u64,
    pub stx_atime: StatxTimestamp,
    pub stx_btime: StatxTimestamp,
    pub stx_ctime: StatxTimestamp,
    pub stx_mtime: StatxTimestamp,
    pub stx_rdev_major: u32,
    pub stx_rdev_minor: u32,
    pub stx_dev_major: u32,
    pub stx_dev_minor: u32,
    pub stx_mnt_id: u64,
    pub stx_dio_mem_align: u32,
    pub stx_dio_offset_align: u32,
    pub spare3: [u64; 12],
}

/// `STATX_BASIC_STATS`.
pub const STATX_BASIC_STATS: u32 = 0x7ff;
/// `STATX_BTIME`.
pub const STATX_BTIME: u32 = 0x800;

impl From<&Stat> for Statx {
    fn from(s: &Stat) -> Self {
        Statx {
            stx_mask: STATX_BASIC_STATS | if s.btime.is_some() { STATX_BTIME } else { 0 },
            stx_blksize: s.blksize as u32,
            stx_nlink: s.nlink as u32,
            stx_uid: s.uid,
            stx_gid: s.gid,
            stx_mode: s.mode as u16,
            stx_ino: s.ino,
            stx_size: s.size as u64,
            stx_blocks: s.blocks as u64,
            stx_atime: s.atime.into(),
            stx_btime: s.btime.unwrap_or_default().into(),
            stx_ctime: s.ctime.into(),
            stx_mtime: s.mtime.into(),
            stx_rdev_major: nix::sys::stat::major(s.rdev) as u32,
            stx_rdev_minor: nix::sys::stat::minor(s.rdev) as u32,
            stx_dev_major: nix::sys::stat::major(s.dev) as u32,
            stx_dev_minor: nix::sys::stat::minor(s.dev) as u32,
            ..Statx::default()
        }
    }
}

/// The kernel's `struct statfs` on x86_64.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct KStatfs {
    pub f_type: i64,
    pub f_bsize: i64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [i32; 2],
    pub f_namelen: i64,
    pub f_frsize: i64,
    pub f_flags: i64,
    pub f_spare: [i64; 4],
}

impl From<&StatFs> for KStatfs {
    fn from(s: &StatFs) -> Self {
        KStatfs {
            f_type: s.fs_type,
            f_bsize: s.bsize,
            f_blocks: s.blocks,
            f_bfree: s.bfree,
            f_bavail: s.bavail,
            f_files: s.files,
            f_ffree: s.ffree,
            f_namelen: s.namelen,
            f_frsize: s.frsize,
            f_flags: s.flags,
            ..KStatfs::default()
        }
    }
}

/// `struct flock`: a record lock request or report (`fcntl` `F_GETLK`, `F_SETLK`...).
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Flock {
    pub l_type: i16,
    pub l_whence: i16,
    pub pad0: u32,
    pub l_start: i64,
    pub l_len: i64,
    pub l_pid: i32,
    pub pad1: u32,
}

/// `struct utsname`.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Utsname {
    pub sysname: [u8; 65],
    pub nodename: [u8; 65],
    pub release: [u8; 65],
    pub version: [u8; 65],
    pub machine: [u8; 65],
    pub domainname: [u8; 65],
}

/// `struct rlimit`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Rlimit {
    /// Soft limit.
    pub cur: u64,
    /// Hard limit.
    pub max: u64,
}

/// `struct sysinfo`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Sysinfo {
    pub uptime: i64,
    pub loads: [u64; 3],
    pub totalram: u64,
    pub freeram: u64,
    pub sharedram: u64,
    pub bufferram: u64,
    pub totalswap: u64,
    pub freeswap: u64,
    pub procs: u16,
    pub pad: u16,
    pub pad2: u32,
    pub totalhigh: u64,
    pub freehigh: u64,
    pub mem_unit: u32,
    pub pad3: u32,
}

/// `struct tms`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Tms {
    pub utime: i64,
    pub stime: i64,
    pub cutime: i64,
    pub cstime: i64,
}

/// `struct rusage`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Rusage {
    pub utime: Timeval,
    pub stime: Timeval,
    pub rest: [i64; 14],
}

/// `struct iovec`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Iovec {
    pub base: u64,
    pub len: u64,
}

/// `struct pollfd`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Pollfd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

/// The kernel's `struct sigaction` (not glibc's).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct KSigaction {
    /// Handler address, `SIG_DFL` (0) or `SIG_IGN` (1).
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// `SA_RESTORER` trampoline.
    pub restorer: u64,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

/// `stack_t`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct StackT {
    pub sp: u64,
    pub flags: i32,
    pub pad: u32,
    pub size: u64,
}

/// `struct timezone`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Timezone {
    pub minuteswest: i32,
    pub dsttime: i32,
}

/// `struct sched_attr` (`SCHED_ATTR_SIZE_VER1`).
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

/// `struct sock_filter`: one classic BPF instruction.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `struct sock_fprog`: a classic BPF program (`len` instructions at `filter`).
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SockFprog {
    pub len: u16,
    pub pad: [u8; 6],
    pub filter: u64,
}
