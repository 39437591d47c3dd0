//! Host-backed files: the guest root and bind mounts are host directories.
//!
//! A [`HostInode`] holds an `O_PATH | O_NOFOLLOW` fd of the host object. Children are
//! looked up one name at a time with `O_NOFOLLOW`, and the host kernel never follows a
//! symlink or `..` for the guest: the VFS walk does that itself, inside the guest root.
//! Opening for I/O re-opens the very inode through `/proc/self/fd`, so a path that changes
//! between lookup and open cannot redirect it. [`HostFile`] forwards I/O to a host fd,
//! using the host file's own offset (shared by dup and fork exactly like Linux's).

use crate::Result;
use crate::file::{FileOps, MapKind, PollEvents};
use crate::inode::{FileType, Inode, SetAttr, Stat, StatFs, Time, TimeChange};
use crate::wait::Waiter;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstatat};
use std::any::Any;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// Converts a host `stat`.
pub fn stat_from_host(st: &FileStat) -> Stat {
    Stat {
        dev: st.st_dev,
        ino: st.st_ino,
        mode: st.st_mode,
        nlink: st.st_nlink,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        size: st.st_size,
        blksize: st.st_blksize,
        blocks: st.st_blocks,
        atime: Time {
            sec: st.st_atime,
            nsec: st.st_atime_nsec,
        },
        mtime: Time {
            sec: st.st_mtime,
            nsec: st.st_mtime_nsec,
        },
        ctime: Time {
            sec: st.st_ctime,
            nsec: st.st_ctime_nsec,
        },
        btime: None,
    }
}

fn proc_fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// A host filesystem object, by `O_PATH` fd.
pub struct HostInode {
    fd: OwnedFd,
    ftype: FileType,
}

impl HostInode {
    /// Opens host directory `path` as the root of a host-backed tree.
    pub fn open_root(path: &std::path::Path) -> Result<Arc<HostInode>> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Arc::new(HostInode {
            fd,
            ftype: FileType::Dir,
        }))
    }

    fn from_fd(fd: OwnedFd) -> Result<Arc<HostInode>> {
        let st = fstatat(
            &fd,
            "",
            AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        Ok(Arc::new(HostInode {
            fd,
            ftype: FileType::from_mode(st.st_mode),
        }))
    }

    fn child_name(name: &[u8]) -> Result<&std::ffi::OsStr> {
        if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
            return Err(Errno::ENOENT);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(std::os::unix::ffi::OsStrExt::from_bytes(name))
    }

    fn other(inode: &dyn Inode) -> Result<&HostInode> {
        inode
            .as_any()
            .downcast_ref::<HostInode>()
            .ok_or(Errno::EXDEV)
    }
}

/// Flags the host sees on open: creation and fd flags are the VFS's business; the host
/// fd never follows a final symlink and never becomes the sentry's controlling terminal.
fn host_open_flags(flags: i32) -> OFlag {
    let drop = libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NOFOLLOW;
    OFlag::from_bits_truncate(flags & !drop) | OFlag::O_CLOEXEC | OFlag::O_NOCTTY
}

impl Inode for HostInode {
    fn file_type(&self) -> FileType {
        self.ftype
    }

    fn stat(&self) -> Result<Stat> {
        let st = fstatat(
            &self.fd,
            "",
            AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        Ok(stat_from_host(&st))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let name = Self::child_name(name)?;
        // Most lookups are of directories: one openat tells that.
        let dir = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_DIRECTORY;
        match openat(&self.fd, name, dir, Mode::empty()) {
            Ok(fd) => {
                return Ok(Arc::new(HostInode {
                    fd,
                    ftype: FileType::Dir,
                }));
            }
            Err(Errno::ENOTDIR) => {}
            Err(e) => return Err(e),
        }
        let fd = openat(
            &self.fd,
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(HostInode::from_fd(fd)?)
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        if self.ftype != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        let target = nix::fcntl::readlinkat(&self.fd, "")?;
        Ok(std::os::unix::ffi::OsStringExt::into_vec(target))
    }

    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        if self.ftype == FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        let fd = nix::fcntl::open(
            proc_fd_path(self.fd.as_fd()).as_str(),
            host_open_flags(flags),
            Mode::empty(),
        )?;
        Ok(Box::new(HostFile::new(fd, self.ftype)))
    }

    fn create(
        &self,
        name: &[u8],
        flags: i32,
        mode: u32,
    ) -> Result<(Arc<dyn Inode>, Box<dyn FileOps>)> {
        let name = Self::child_name(name)?;
        let oflags = host_open_flags(flags)
            | OFlag::O_CREAT
            | OFlag::O_NOFOLLOW
            | OFlag::from_bits_truncate(flags & libc::O_EXCL);
        let fd = openat(&self.fd, name, oflags, Mode::from_bits_truncate(mode))?;
        let path_fd = openat(
            &self.fd,
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let inode = HostInode::from_fd(path_fd)?;
        Ok((inode, Box::new(HostFile::new(fd, FileType::Regular))))
    }

    fn mkdir(&self, name: &[u8], mode: u32) -> Result<()> {
        nix::sys::stat::mkdirat(
            &self.fd,
            Self::child_name(name)?,
            Mode::from_bits_truncate(mode),
        )
    }

    fn mknod(&self, name: &[u8], mode: u32, rdev: u64) -> Result<()> {
        let kind = nix::sys::stat::SFlag::from_bits_truncate(mode & libc::S_IFMT);
        let perm = Mode::from_bits_truncate(mode & 0o7777);
        nix::sys::stat::mknodat(&self.fd, Self::child_name(name)?, kind, perm, rdev)
    }

    fn symlink(&self, name: &[u8], target: &[u8]) -> Result<()> {
        let target: &std::ffi::OsStr = std::os::unix::ffi::OsStrExt::from_bytes(target);
        nix::unistd::symlinkat(target, &self.fd, Self::child_name(name)?)
    }

    fn link(&self, name: &[u8], target: &dyn Inode) -> Result<()> {
        let target = Self::other(target)?;
        if target.ftype == FileType::Dir {
            return Err(Errno::EPERM);
        }
        nix::unistd::linkat(
            &target.fd,
            "",
            &self.fd,
            Self::child_name(name)?,
            AtFlags::AT_EMPTY_PATH,
        )
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        nix::unistd::unlinkat(
            &self.fd,
            Self::child_name(name)?,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        nix::unistd::unlinkat(
            &self.fd,
            Self::child_name(name)?,
            nix::unistd::UnlinkatFlags::RemoveDir,
        )
    }

    fn rename(&self, name: &[u8], new_dir: &dyn Inode, new_name: &[u8], flags: u32) -> Result<()> {
        let new_dir = Self::other(new_dir)?;
        nix::fcntl::renameat2(
            &self.fd,
            Self::child_name(name)?,
            &new_dir.fd,
            Self::child_name(new_name)?,
            nix::fcntl::RenameFlags::from_bits_truncate(flags),
        )
    }

    fn setattr(&self, attr: SetAttr) -> Result<()> {
        match attr {
            SetAttr::Mode(mode) => {
                if self.ftype == FileType::Symlink {
                    return Err(Errno::EOPNOTSUPP);
                }
                nix::sys::stat::fchmodat(
                    nix::fcntl::AT_FDCWD,
                    proc_fd_path(self.fd.as_fd()).as_str(),
                    Mode::from_bits_truncate(mode & 0o7777),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
            }
            SetAttr::Owner(uid, gid) => nix::unistd::fchownat(
                &self.fd,
                "",
                (uid != u32::MAX).then(|| nix::unistd::Uid::from_raw(uid)),
                (gid != u32::MAX).then(|| nix::unistd::Gid::from_raw(gid)),
                AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
            SetAttr::Size(len) => {
                if self.ftype == FileType::Dir {
                    return Err(Errno::EISDIR);
                }
                nix::unistd::truncate(proc_fd_path(self.fd.as_fd()).as_str(), len as i64)
            }
            SetAttr::Times(atime, mtime) => {
                let conv = |t: TimeChange| match t {
                    TimeChange::Omit => libc::timespec {
                        tv_sec: 0,
                        tv_nsec: libc::UTIME_OMIT,
                    },
                    TimeChange::Now => libc::timespec {
                        tv_sec: 0,
                        tv_nsec: libc::UTIME_NOW,
                    },
                    TimeChange::Set(t) => libc::timespec {
                        tv_sec: t.sec,
                        tv_nsec: t.nsec,
                    },
                };
                platform::host::utimens_fd(self.fd.as_fd(), &[conv(atime), conv(mtime)])
            }
        }
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>> {
        let name = xattr_name(name)?;
        loop {
            let size = platform::host::fd_getxattr(self.fd.as_fd(), &name, &mut [])?;
            let mut value = vec![0u8; size];
            match platform::host::fd_getxattr(self.fd.as_fd(), &name, &mut value) {
                Ok(n) => {
                    value.truncate(n);
                    return Ok(value);
                }
                // The value grew between the two calls.
                Err(Errno::ERANGE) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: i32) -> Result<()> {
        platform::host::fd_setxattr(self.fd.as_fd(), &xattr_name(name)?, value, flags)
    }

    fn listxattr(&self) -> Result<Vec<Vec<u8>>> {
        loop {
            let size = platform::host::fd_listxattr(self.fd.as_fd(), &mut [])?;
            let mut list = vec![0u8; size];
            match platform::host::fd_listxattr(self.fd.as_fd(), &mut list) {
                Ok(n) => {
                    return Ok(list[..n]
                        .split(|&c| c == 0)
                        .filter(|n| !n.is_empty())
                        .map(<[u8]>::to_vec)
                        .collect());
                }
                Err(Errno::ERANGE) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn removexattr(&self, name: &[u8]) -> Result<()> {
        platform::host::fd_removexattr(self.fd.as_fd(), &xattr_name(name)?)
    }

    fn statfs(&self) -> Result<StatFs> {
        statfs_of(self.fd.as_fd())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An extended attribute name as the host takes it (the syscall layer has already
/// limited its length and excluded NUL).
fn xattr_name(name: &[u8]) -> Result<std::ffi::CString> {
    std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)
}

/// `fstatfs` of a host fd.
pub fn statfs_of(fd: BorrowedFd<'_>) -> Result<StatFs> {
    let s = nix::sys::statfs::fstatfs(fd)?;
    Ok(StatFs {
        fs_type: s.filesystem_type().0 as i64,
        bsize: s.block_size() as i64,
        blocks: s.blocks(),
        bfree: s.blocks_free(),
        bavail: s.blocks_available(),
        files: s.files(),
        ffree: s.files_free(),
        namelen: s.maximum_name_length() as i64,
        frsize: s.block_size() as i64,
        flags: s.flags().bits() as i64,
    })
}

/// An open host file.
pub struct HostFile {
    fd: OwnedFd,
    /// Pipes, terminals and sockets: reads and writes may block and must stay
    /// interruptible.
    stream: bool,
    regular: bool,
}

impl HostFile {
    /// Wraps an open host fd of type `ftype`.
    pub fn new(fd: OwnedFd, ftype: FileType) -> HostFile {
        let stream = matches!(ftype, FileType::Fifo | FileType::Socket | FileType::CharDev);
        HostFile {
            fd,
            stream,
            regular: ftype == FileType::Regular,
        }
    }

    /// Wraps an inherited host fd, finding out what it is.
    pub fn inherit(fd: OwnedFd) -> Result<HostFile> {
        let st = nix::sys::stat::fstat(&fd)?;
        Ok(HostFile::new(fd, FileType::from_mode(st.st_mode)))
    }

    fn ready(&self, events: i16) -> i16 {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [PollFd::new(
            self.fd.as_fd(),
            PollFlags::from_bits_truncate(events),
        )];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(n) if n > 0 => fds[0].revents().map_or(0, |r| r.bits()),
            _ => 0,
        }
    }

    /// Waits (interruptibly) until the stream is ready for `events` or fails.
    fn wait_ready(&self, w: &Arc<Waiter>, events: i16, nonblock: bool) -> Result<()> {
        if !self.stream {
            return Ok(());
        }
        let err = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
        if self.ready(events | err) != 0 {
            return Ok(());
        }
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        while !w.wait_fds(&[(self.fd.as_fd(), events | err)], None)? {}
        Ok(())
    }
}

impl FileOps for HostFile {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        loop {
            self.wait_ready(w, libc::POLLIN, nonblock)?;
            match nix::unistd::read(&self.fd, buf) {
                // Another reader took the data between poll and read.
                Err(Errno::EAGAIN) if self.stream && !nonblock => continue,
                r => return r,
            }
        }
    }

    fn write(&self, w: &Arc<Waiter>, buf: &[u8], nonblock: bool) -> Result<usize> {
        loop {
            self.wait_ready(w, libc::POLLOUT, nonblock)?;
            match nix::unistd::write(&self.fd, buf) {
                Err(Errno::EAGAIN) if self.stream && !nonblock => continue,
                r => return r,
            }
        }
    }

    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        nix::sys::uio::pread(&self.fd, buf, off as i64)
    }

    fn pwrite(&self, buf: &[u8], off: u64) -> Result<usize> {
        nix::sys::uio::pwrite(&self.fd, buf, off as i64)
    }

    fn seek(&self, off: i64, whence: i32) -> Result<u64> {
        let whence = match whence {
            libc::SEEK_SET => nix::unistd::Whence::SeekSet,
            libc::SEEK_CUR => nix::unistd::Whence::SeekCur,
            libc::SEEK_END => nix::unistd::Whence::SeekEnd,
            libc::SEEK_DATA => nix::unistd::Whence::SeekData,
            libc::SEEK_HOLE => nix::unistd::Whence::SeekHole,
            _ => return Err(Errno::EINVAL),
        };
        nix::unistd::lseek(&self.fd, off, whence).map(|o| o as u64)
    }

    fn getdents(&self, buf: &mut [u8]) -> Result<usize> {
        platform::host::getdents64(self.fd.as_fd(), buf)
    }

    fn stat(&self) -> Result<Stat> {
        Ok(stat_from_host(&nix::sys::stat::fstat(&self.fd)?))
    }

    fn truncate(&self, len: u64) -> Result<()> {
        nix::unistd::ftruncate(&self.fd, len as i64)
    }

    fn allocate(&self, keep_size: bool, off: u64, len: u64) -> Result<()> {
        let mode = if keep_size {
            nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE
        } else {
            nix::fcntl::FallocateFlags::empty()
        };
        nix::fcntl::fallocate(&self.fd, mode, off as i64, len as i64)
    }

    fn sync(&self) -> Result<()> {
        nix::unistd::fsync(&self.fd)
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        if self.stream {
            self.ready(events)
        } else {
            events & (libc::POLLIN | libc::POLLOUT)
        }
    }

    fn readable_bytes(&self) -> Result<usize> {
        if self.regular {
            let st = nix::sys::stat::fstat(&self.fd)?;
            let pos = nix::unistd::lseek(&self.fd, 0, nix::unistd::Whence::SeekCur)?;
            return Ok((st.st_size - pos).max(0) as usize);
        }
        let mut n = [0u8; 4];
        platform::host::fionread(self.fd.as_fd(), &mut n)?;
        Ok(i32::from_ne_bytes(n).max(0) as usize)
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }

    fn is_stream(&self) -> bool {
        self.stream
    }

    fn set_status_flags(&self, flags: i32) {
        let Ok(host) = nix::fcntl::fcntl(&self.fd, nix::fcntl::FcntlArg::F_GETFL) else {
            return;
        };
        // The flags that change what host I/O does: where writes land, and whether they
        // bypass the page cache (with its alignment rules).
        let passed = libc::O_APPEND | libc::O_DIRECT;
        let new = OFlag::from_bits_truncate((host & !passed) | (flags & passed));
        let _ = nix::fcntl::fcntl(&self.fd, nix::fcntl::FcntlArg::F_SETFL(new));
    }

    fn map_kind(&self) -> MapKind {
        if self.regular {
            MapKind::Data
        } else {
            MapKind::NotMappable
        }
    }
}
