//! The synthetic `/dev`: the guest never opens a host device node.
//!
//! `null`, `zero`, `full`, `random` and `urandom` are implemented here; `tty` forwards to
//! the sentry's controlling terminal if it has one; `fd` and `std{in,out,err}` are
//! symlinks into `/proc/self/fd` as on Linux; `ptmx` and `pts` are [`crate::pty`]'s.

use crate::Result;
use crate::file::{FileOps, MapKind};
use crate::host::HostFile;
use crate::inode::{FileType, Inode, Stat, StatFs};
use crate::synth::{SynthDir, SynthSymlink, next_ino, synth_stat, synth_statfs};
use crate::wait::Waiter;
use nix::errno::Errno;
use std::any::Any;
use std::sync::Arc;

/// Which device a [`CharDevice`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKind {
    /// `/dev/null`.
    Null,
    /// `/dev/zero`.
    Zero,
    /// `/dev/full`.
    Full,
    /// `/dev/random`.
    Random,
    /// `/dev/urandom`.
    Urandom,
    /// `/dev/tty`.
    Tty,
}

impl DevKind {
    fn rdev(self) -> u64 {
        let (major, minor) = match self {
            DevKind::Null => (1, 3),
            DevKind::Zero => (1, 5),
            DevKind::Full => (1, 7),
            DevKind::Random => (1, 8),
            DevKind::Urandom => (1, 9),
            DevKind::Tty => (5, 0),
        };
        nix::sys::stat::makedev(major, minor)
    }
}

/// A character device node.
pub struct CharDevice {
    kind: DevKind,
    ino: u64,
}

impl CharDevice {
    /// Whether this is `/dev/tty`, which a process with a sentry pty as its controlling
    /// terminal opens as that pty's replica.
    pub fn is_tty(&self) -> bool {
        self.kind == DevKind::Tty
    }

    fn new(kind: DevKind) -> Arc<CharDevice> {
        Arc::new(CharDevice {
            kind,
            ino: next_ino(),
        })
    }

    fn stat_of(kind: DevKind, ino: u64) -> Stat {
        synth_stat(ino, libc::S_IFCHR | 0o666, kind.rdev(), 0)
    }
}

impl Inode for CharDevice {
    fn file_type(&self) -> FileType {
        FileType::CharDev
    }
    fn stat(&self) -> Result<Stat> {
        Ok(Self::stat_of(self.kind, self.ino))
    }
    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        if self.kind == DevKind::Tty {
            let acc = flags & (libc::O_ACCMODE | libc::O_NONBLOCK);
            let oflags = nix::fcntl::OFlag::from_bits_truncate(acc) | nix::fcntl::OFlag::O_CLOEXEC;
            let fd = nix::fcntl::open("/dev/tty", oflags, nix::sys::stat::Mode::empty())
                .map_err(|_| Errno::ENXIO)?;
            return Ok(Box::new(HostFile::new(fd, FileType::CharDev)));
        }
        Ok(Box::new(DeviceFile {
            kind: self.kind,
            ino: self.ino,
        }))
    }
    fn setattr(&self, _attr: crate::inode::SetAttr) -> Result<()> {
        Ok(())
    }
    fn statfs(&self) -> Result<StatFs> {
        Ok(synth_statfs())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open memory-like device.
struct DeviceFile {
    kind: DevKind,
    ino: u64,
}

impl DeviceFile {
    fn fill(&self, buf: &mut [u8]) -> Result<usize> {
        match self.kind {
            DevKind::Null => Ok(0),
            DevKind::Zero | DevKind::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
            DevKind::Random | DevKind::Urandom => {
                platform::host::getrandom(buf)?;
                Ok(buf.len())
            }
            DevKind::Tty => Err(Errno::ENXIO),
        }
    }
}

impl FileOps for DeviceFile {
    fn read(&self, _w: &Arc<Waiter>, buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        self.fill(buf)
    }
    fn write(&self, _w: &Arc<Waiter>, buf: &[u8], _nonblock: bool) -> Result<usize> {
        if self.kind == DevKind::Full {
            Err(Errno::ENOSPC)
        } else {
            Ok(buf.len())
        }
    }
    fn pread(&self, buf: &mut [u8], _off: u64) -> Result<usize> {
        self.fill(buf)
    }
    fn pwrite(&self, buf: &[u8], _off: u64) -> Result<usize> {
        if self.kind == DevKind::Full {
            Err(Errno::ENOSPC)
        } else {
            Ok(buf.len())
        }
    }
    fn seek(&self, _off: i64, _whence: i32) -> Result<u64> {
        Ok(0)
    }
    fn stat(&self) -> Result<Stat> {
        Ok(CharDevice::stat_of(self.kind, self.ino))
    }
    fn map_kind(&self) -> MapKind {
        if self.kind == DevKind::Zero {
            MapKind::Zero
        } else {
            MapKind::NotMappable
        }
    }
    fn readable_bytes(&self) -> Result<usize> {
        Err(Errno::ENOTTY)
    }
}

/// Builds the `/dev` directory.
pub fn devfs() -> Arc<dyn Inode> {
    let (ptmx, pts) = crate::pty::devpts();
    SynthDir::new(vec![
        ("null", CharDevice::new(DevKind::Null)),
        ("zero", CharDevice::new(DevKind::Zero)),
        ("full", CharDevice::new(DevKind::Full)),
        ("random", CharDevice::new(DevKind::Random)),
        ("urandom", CharDevice::new(DevKind::Urandom)),
        ("tty", CharDevice::new(DevKind::Tty)),
        ("fd", SynthSymlink::new("/proc/self/fd")),
        ("stdin", SynthSymlink::new("/proc/self/fd/0")),
        ("stdout", SynthSymlink::new("/proc/self/fd/1")),
        ("stderr", SynthSymlink::new("/proc/self/fd/2")),
        ("shm", SynthDir::new(vec![])),
        ("ptmx", ptmx),
        ("pts", pts),
    ])
}
