//! Helpers handlers share: guest memory access, fds, and where `*at` paths start.

use crate::errno::SysErr;
use crate::kernel::task::Task;
use fs::{Dentry, OpenFile, WalkCtx};
use nix::errno::Errno;
use std::sync::Arc;
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// `AT_FDCWD`.
pub const AT_FDCWD: i32 = -100;

impl Task {
    /// Reads a path argument: at most PATH_MAX bytes, `ENAMETOOLONG` beyond.
    pub fn read_path(&self, addr: u64) -> Result<Vec<u8>, SysErr> {
        Ok(self.mm().read_cstring(addr, fs::vfs::PATH_MAX - 1)?)
    }

    /// Copies a plain-data value out to guest memory.
    pub fn write_obj<T: IntoBytes + Immutable>(&self, addr: u64, v: &T) -> Result<(), SysErr> {
        Ok(self.mm().write_obj(addr, v)?)
    }

    /// Copies a plain-data value in from guest memory.
    pub fn read_obj<T: FromBytes + IntoBytes>(&self, addr: u64) -> Result<T, SysErr> {
        Ok(self.mm().read_obj(addr)?)
    }

    /// The open file behind guest fd `fd`.
    pub fn file(&self, fd: i32) -> Result<Arc<OpenFile>, SysErr> {
        Ok(self.files.lock().file(fd)?)
    }

    /// Runs `f` with the walk context for a path relative to `dirfd` (`AT_FDCWD` or a
    /// directory fd), as `*at` syscalls resolve paths.
    pub fn with_walk<R>(
        &self,
        dirfd: i32,
        path: &[u8],
        f: impl FnOnce(&WalkCtx<'_>) -> Result<R, SysErr>,
    ) -> Result<R, SysErr> {
        let dirfd = if path.first() == Some(&b'/') {
            AT_FDCWD
        } else {
            dirfd
        };
        self.with_dir_walk(dirfd, f)
    }

    /// Runs `f` with the walk context starting at `dirfd` (`AT_FDCWD` or a directory fd)
    /// whatever the path: for walks scoped to their start, whose absolute paths start
    /// there too.
    pub fn with_dir_walk<R>(
        &self,
        dirfd: i32,
        f: impl FnOnce(&WalkCtx<'_>) -> Result<R, SysErr>,
    ) -> Result<R, SysErr> {
        let (root, cwd) = {
            let fsctx = self.fs.lock();
            (fsctx.root.clone(), fsctx.cwd.clone())
        };
        let start: Arc<Dentry> = if dirfd == AT_FDCWD {
            cwd
        } else {
            let file = self.file(dirfd)?;
            let d = file.dentry.clone().ok_or(Errno::ENOTDIR)?;
            if d.inode().file_type() != fs::FileType::Dir {
                return Err(Errno::ENOTDIR.into());
            }
            d
        };
        f(&WalkCtx {
            root: &root,
            start: &start,
        })
    }

    /// Resolves an existing object for a path syscall.
    pub fn lookup_at(&self, dirfd: i32, path: &[u8], follow: bool) -> Result<Arc<Dentry>, SysErr> {
        if path.is_empty() {
            return Err(Errno::ENOENT.into());
        }
        self.with_walk(dirfd, path, |ctx| {
            Ok(self.kernel.vfs.walk(ctx, path, follow)?.existing()?)
        })
    }

    /// The open file for `AT_EMPTY_PATH` calls: `dirfd` itself (`AT_FDCWD`: the cwd).
    pub fn dentry_of_fd(&self, dirfd: i32) -> Result<Arc<Dentry>, SysErr> {
        if dirfd == AT_FDCWD {
            return Ok(self.fs.lock().cwd.clone());
        }
        self.file(dirfd)?
            .dentry
            .clone()
            .ok_or(SysErr::Errno(Errno::EBADF))
    }
}
