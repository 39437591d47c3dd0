//! Filesystem objects as the VFS sees them: the [`Inode`] trait every filesystem
//! implements, file types and attributes.

use crate::Result;
use crate::file::FileOps;
use nix::errno::Errno;
use std::any::Any;
use std::sync::Arc;

/// Kind of a filesystem object (the `S_IFMT` bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// Regular file.
    Regular,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Character device.
    CharDev,
    /// Block device.
    BlockDev,
    /// Named pipe.
    Fifo,
    /// Unix socket.
    Socket,
}

impl FileType {
    /// From `st_mode`.
    pub fn from_mode(mode: u32) -> FileType {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => FileType::Dir,
            libc::S_IFLNK => FileType::Symlink,
            libc::S_IFCHR => FileType::CharDev,
            libc::S_IFBLK => FileType::BlockDev,
            libc::S_IFIFO => FileType::Fifo,
            libc::S_IFSOCK => FileType::Socket,
            _ => FileType::Regular,
        }
    }

    /// The `S_IFMT` bits.
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => libc::S_IFREG,
            FileType::Dir => libc::S_IFDIR,
            FileType::Symlink => libc::S_IFLNK,
            FileType::CharDev => libc::S_IFCHR,
            FileType::BlockDev => libc::S_IFBLK,
            FileType::Fifo => libc::S_IFIFO,
            FileType::Socket => libc::S_IFSOCK,
        }
    }

    /// The `d_type` of a directory entry.
    pub fn dirent_type(self) -> u8 {
        match self {
            FileType::Regular => libc::DT_REG,
            FileType::Dir => libc::DT_DIR,
            FileType::Symlink => libc::DT_LNK,
            FileType::CharDev => libc::DT_CHR,
            FileType::BlockDev => libc::DT_BLK,
            FileType::Fifo => libc::DT_FIFO,
            FileType::Socket => libc::DT_SOCK,
        }
    }
}

/// A timestamp (seconds and nanoseconds since the epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: i64,
}

/// Attributes of a filesystem object, as `stat`/`statx` report them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// Device.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Type and permission bits.
    pub mode: u32,
    /// Link count.
    pub nlink: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number of a device file.
    pub rdev: u64,
    /// Size in bytes.
    pub size: i64,
    /// Preferred I/O size.
    pub blksize: i64,
    /// 512-byte blocks allocated.
    pub blocks: i64,
    /// Last access.
    pub atime: Time,
    /// Last modification.
    pub mtime: Time,
    /// Last status change.
    pub ctime: Time,
    /// Creation, when known.
    pub btime: Option<Time>,
}

impl Stat {
    /// The object's type.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }
}

/// A timestamp change for `utimensat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeChange {
    /// Leave as is (`UTIME_OMIT`).
    Omit,
    /// Set to now (`UTIME_NOW`).
    Now,
    /// Set to this time.
    Set(Time),
}

/// An attribute change (`chmod`, `chown`, `truncate`, `utimensat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetAttr {
    /// New permission bits.
    Mode(u32),
    /// New owner and/or group (`u32::MAX` keeps the current one).
    Owner(u32, u32),
    /// New size.
    Size(u64),
    /// New access and modification times.
    Times(TimeChange, TimeChange),
}

/// Filesystem statistics (`statfs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    /// Filesystem magic.
    pub fs_type: i64,
    /// Block size.
    pub bsize: i64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Blocks available to unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Longest name.
    pub namelen: i64,
    /// Fragment size.
    pub frsize: i64,
    /// Mount flags (`ST_*`).
    pub flags: i64,
}

/// A filesystem object. Directory operations take the name of a child; the VFS has
/// already resolved the directory itself inside the guest's root.
pub trait Inode: Send + Sync + Any {
    /// The object's type.
    fn file_type(&self) -> FileType;
    /// Its attributes.
    fn stat(&self) -> Result<Stat>;
    /// The child called `name` of this directory.
    fn lookup(&self, _name: &[u8]) -> Result<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }
    /// The target of this symlink.
    fn readlink(&self) -> Result<Vec<u8>> {
        Err(Errno::EINVAL)
    }
    /// Where following this symlink leads, for links that are not plain paths (magic
    /// links); `None` means: follow the path [`readlink`](Self::readlink) returns.
    fn link_target(&self) -> Option<Result<crate::synth::LinkTarget>> {
        None
    }
    /// Opens the object itself with `flags` (`O_*`; creation flags already handled).
    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>>;
    /// Creates and opens the regular file `name` in this directory.
    fn create(
        &self,
        _name: &[u8],
        _flags: i32,
        _mode: u32,
    ) -> Result<(Arc<dyn Inode>, Box<dyn FileOps>)> {
        Err(Errno::EACCES)
    }
    /// Creates directory `name`.
    fn mkdir(&self, _name: &[u8], _mode: u32) -> Result<()> {
        Err(Errno::EACCES)
    }
    /// Creates a device, FIFO or socket node `name`.
    fn mknod(&self, _name: &[u8], _mode: u32, _rdev: u64) -> Result<()> {
        Err(Errno::EACCES)
    }
    /// Creates symlink `name` pointing to `target`.
    fn symlink(&self, _name: &[u8], _target: &[u8]) -> Result<()> {
        Err(Errno::EACCES)
    }
    /// Creates hard link `name` to `target` (an inode of the same filesystem).
    fn link(&self, _name: &[u8], _target: &dyn Inode) -> Result<()> {
        Err(Errno::EXDEV)
    }
    /// Removes the non-directory `name`.
    fn unlink(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EACCES)
    }
    /// Removes the empty directory `name`.
    fn rmdir(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EACCES)
    }
    /// Renames `name` to `new_name` in `new_dir` (same filesystem), with `renameat2` flags.
    fn rename(
        &self,
        _name: &[u8],
        _new_dir: &dyn Inode,
        _new_name: &[u8],
        _flags: u32,
    ) -> Result<()> {
        Err(Errno::EXDEV)
    }
    /// Changes an attribute.
    fn setattr(&self, _attr: SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    /// The value of extended attribute `name` (`ENODATA` if it has none of that name;
    /// `EOPNOTSUPP` on filesystems without extended attributes).
    fn getxattr(&self, _name: &[u8]) -> Result<Vec<u8>> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Sets extended attribute `name`; `flags` may hold `XATTR_CREATE` (`EEXIST` if it
    /// exists) or `XATTR_REPLACE` (`ENODATA` if it does not).
    fn setxattr(&self, _name: &[u8], _value: &[u8], _flags: i32) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// The names of the object's extended attributes.
    fn listxattr(&self) -> Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }
    /// Removes extended attribute `name` (`ENODATA` if there is none).
    fn removexattr(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Statistics of the filesystem holding this object.
    fn statfs(&self) -> Result<StatFs>;
    /// For downcasting in same-filesystem operations (link, rename).
    fn as_any(&self) -> &dyn Any;
}
