//! Building blocks of synthetic filesystems (`/dev` now, `/proc` later): directories with
//! a fixed set of children, symlinks, and the `linux_dirent64` encoder they share with
//! anything else that lists entries itself.

use crate::Result;
use crate::file::FileOps;
use crate::inode::{FileType, Inode, Stat, StatFs, Time};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Device number reported for synthetic filesystems' objects.
pub const SYNTH_DEV: u64 = 0x05;
/// `TMPFS_MAGIC`, reported by `statfs` on synthetic directories.
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// A fresh inode number for a synthetic object.
pub fn next_ino() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The time the sentry started, used for synthetic objects' timestamps.
pub fn boot_time() -> Time {
    static BOOT: std::sync::OnceLock<Time> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Time {
            sec: d.as_secs() as i64,
            nsec: d.subsec_nanos() as i64,
        }
    })
}

/// Attributes of an object with no file behind it (a pipe, a socket) on the pseudo
/// filesystem `dev`: owned by the sentry's user, stamped with the sentry's start.
pub fn anon_stat(dev: u64, ino: u64, mode: u32) -> Stat {
    Stat {
        dev,
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
        ..synth_stat(ino, mode, 0, 0)
    }
}

/// Attributes of a synthetic object.
pub fn synth_stat(ino: u64, mode: u32, rdev: u64, size: i64) -> Stat {
    let t = boot_time();
    Stat {
        dev: SYNTH_DEV,
        ino,
        mode,
        nlink: if mode & libc::S_IFMT == libc::S_IFDIR {
            2
        } else {
            1
        },
        rdev,
        size,
        blksize: 4096,
        atime: t,
        mtime: t,
        ctime: t,
        ..Stat::default()
    }
}

/// `statfs` of synthetic filesystems.
pub fn synth_statfs() -> StatFs {
    StatFs {
        fs_type: TMPFS_MAGIC,
        bsize: 4096,
        namelen: 255,
        frsize: 4096,
        ..StatFs::default()
    }
}

/// Appends one `linux_dirent64` record to `buf` at `*used`; false if it does not fit.
pub fn put_dirent(
    buf: &mut [u8],
    used: &mut usize,
    ino: u64,
    off: i64,
    dtype: u8,
    name: &[u8],
) -> bool {
    let reclen = (19 + name.len() + 1).next_multiple_of(8);
    if *used + reclen > buf.len() {
        return false;
    }
    let rec = &mut buf[*used..*used + reclen];
    rec[..8].copy_from_slice(&ino.to_ne_bytes());
    rec[8..16].copy_from_slice(&off.to_ne_bytes());
    rec[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
    rec[18] = dtype;
    rec[19..19 + name.len()].copy_from_slice(name);
    rec[19 + name.len()..].fill(0);
    *used += reclen;
    true
}

/// A directory whose children are fixed when it is built.
pub struct SynthDir {
    ino: u64,
    children: Vec<(Vec<u8>, Arc<dyn Inode>)>,
}

impl SynthDir {
    /// A directory with `children`.
    pub fn new(children: Vec<(&str, Arc<dyn Inode>)>) -> Arc<SynthDir> {
        Arc::new(SynthDir {
            ino: next_ino(),
            children: children
                .into_iter()
                .map(|(n, i)| (n.as_bytes().to_vec(), i))
                .collect(),
        })
    }
}

impl Inode for SynthDir {
    fn file_type(&self) -> FileType {
        FileType::Dir
    }
    fn stat(&self) -> Result<Stat> {
        Ok(synth_stat(self.ino, libc::S_IFDIR | 0o755, 0, 0))
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i.clone())
            .ok_or(Errno::ENOENT)
    }
    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(Errno::EISDIR);
        }
        let mut entries = vec![
            (self.ino, FileType::Dir, b".".to_vec()),
            (self.ino, FileType::Dir, b"..".to_vec()),
        ];
        for (name, inode) in &self.children {
            let ino = inode.stat().map(|s| s.ino).unwrap_or(0);
            entries.push((ino, inode.file_type(), name.clone()));
        }
        Ok(Box::new(DirListing {
            ino: self.ino,
            entries,
            pos: Mutex::new(0),
        }))
    }
    fn statfs(&self) -> Result<StatFs> {
        Ok(synth_statfs())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open synthetic directory: a snapshot of its entries and a position.
pub struct DirListing {
    ino: u64,
    entries: Vec<(u64, FileType, Vec<u8>)>,
    pos: Mutex<usize>,
}

impl DirListing {
    /// A listing of directory `ino` with `entries` (`.` and `..` included) as (inode
    /// number, type, name).
    pub fn new(ino: u64, entries: Vec<(u64, FileType, Vec<u8>)>) -> DirListing {
        DirListing {
            ino,
            entries,
            pos: Mutex::new(0),
        }
    }
}

impl FileOps for DirListing {
    fn getdents(&self, buf: &mut [u8]) -> Result<usize> {
        let mut pos = self.pos.lock();
        let mut used = 0;
        while let Some((ino, ft, name)) = self.entries.get(*pos) {
            if !put_dirent(
                buf,
                &mut used,
                *ino,
                *pos as i64 + 1,
                ft.dirent_type(),
                name,
            ) {
                if used == 0 {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            *pos += 1;
        }
        Ok(used)
    }
    fn seek(&self, off: i64, whence: i32) -> Result<u64> {
        let mut pos = self.pos.lock();
        match whence {
            libc::SEEK_SET if off >= 0 => *pos = off as usize,
            libc::SEEK_CUR if *pos as i64 + off >= 0 => *pos = (*pos as i64 + off) as usize,
            _ => return Err(Errno::EINVAL),
        }
        Ok(*pos as u64)
    }
    fn stat(&self) -> Result<Stat> {
        Ok(synth_stat(self.ino, libc::S_IFDIR | 0o755, 0, 0))
    }
    fn read(
        &self,
        _w: &Arc<crate::wait::Waiter>,
        _buf: &mut [u8],
        _nonblock: bool,
    ) -> Result<usize> {
        Err(Errno::EISDIR)
    }
}

/// What a symlink points to.
pub enum LinkTarget {
    /// A path, resolved like any symlink's.
    Path(Vec<u8>),
    /// An object reached directly (a "magic link" such as `/proc/self/fd/N`): `readlink`
    /// shows `name`, following it lands on `dentry` or, for objects without one (pipes),
    /// on `file` itself.
    Magic {
        /// What readlink returns.
        name: Vec<u8>,
        /// Where a walk continues.
        dentry: Option<Arc<crate::vfs::Dentry>>,
        /// The open file, for objects without a dentry.
        file: Option<Arc<crate::file::OpenFile>>,
    },
}

/// Computes a symlink's target when it is read or followed.
pub type TargetFn = Box<dyn Fn() -> Result<LinkTarget> + Send + Sync>;

/// A symlink with a fixed or computed target.
pub struct SynthSymlink {
    ino: u64,
    target: TargetFn,
}

impl SynthSymlink {
    /// A symlink to `target`.
    pub fn new(target: &str) -> Arc<SynthSymlink> {
        let t = target.as_bytes().to_vec();
        Self::dynamic(Box::new(move || Ok(LinkTarget::Path(t.clone()))))
    }

    /// A symlink whose target `target` computes.
    pub fn dynamic(target: TargetFn) -> Arc<SynthSymlink> {
        Arc::new(SynthSymlink {
            ino: next_ino(),
            target,
        })
    }
}

impl Inode for SynthSymlink {
    fn file_type(&self) -> FileType {
        FileType::Symlink
    }
    fn stat(&self) -> Result<Stat> {
        let len = self.readlink().map_or(0, |t| t.len());
        Ok(synth_stat(self.ino, libc::S_IFLNK | 0o777, 0, len as i64))
    }
    fn readlink(&self) -> Result<Vec<u8>> {
        Ok(match (self.target)()? {
            LinkTarget::Path(p) => p,
            LinkTarget::Magic { name, .. } => name,
        })
    }
    fn link_target(&self) -> Option<Result<LinkTarget>> {
        Some((self.target)())
    }
    fn open(&self, _flags: i32) -> Result<Box<dyn FileOps>> {
        Err(Errno::ELOOP)
    }
    fn statfs(&self) -> Result<StatFs> {
        Ok(synth_statfs())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Produces a synthetic file's contents when it is opened.
pub type Generator = Box<dyn Fn() -> Result<Vec<u8>> + Send + Sync>;

/// Takes what is written to a synthetic file (each `write` call whole); returns how much
/// it took.
pub type Writer = Arc<dyn Fn(&[u8]) -> Result<usize> + Send + Sync>;

/// A file whose contents are generated at open (`/proc/meminfo`, ...), read-only unless
/// it has a [`Writer`] (`/proc/[pid]/comm`).
pub struct DataFile {
    ino: u64,
    mode: u32,
    contents: Generator,
    writer: Option<Writer>,
}

impl DataFile {
    /// A read-only file (permissions `mode`) whose contents `contents` produces.
    pub fn new(mode: u32, contents: Generator) -> Arc<DataFile> {
        Arc::new(DataFile {
            ino: next_ino(),
            mode,
            contents,
            writer: None,
        })
    }

    /// A file whose contents `contents` produces and whose writes go to `writer`.
    pub fn writable(mode: u32, contents: Generator, writer: Writer) -> Arc<DataFile> {
        Arc::new(DataFile {
            ino: next_ino(),
            mode,
            contents,
            writer: Some(writer),
        })
    }
}

impl Inode for DataFile {
    fn file_type(&self) -> FileType {
        FileType::Regular
    }
    fn stat(&self) -> Result<Stat> {
        Ok(synth_stat(self.ino, libc::S_IFREG | self.mode, 0, 0))
    }
    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        let writer = match (flags & libc::O_ACCMODE, &self.writer) {
            (libc::O_RDONLY, _) => None,
            (_, Some(w)) => Some(w.clone()),
            (_, None) => return Err(Errno::EACCES),
        };
        Ok(Box::new(Snapshot {
            ino: self.ino,
            mode: self.mode,
            data: (self.contents)()?,
            pos: Mutex::new(0),
            writer,
        }))
    }
    fn statfs(&self) -> Result<StatFs> {
        Ok(synth_statfs())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open [`DataFile`]: the contents as they were at open, and where writes go if it is
/// open for writing.
struct Snapshot {
    ino: u64,
    mode: u32,
    data: Vec<u8>,
    pos: Mutex<u64>,
    writer: Option<Writer>,
}

impl FileOps for Snapshot {
    fn read(
        &self,
        _w: &Arc<crate::wait::Waiter>,
        buf: &mut [u8],
        _nonblock: bool,
    ) -> Result<usize> {
        let mut pos = self.pos.lock();
        let n = self.pread(buf, *pos)?;
        *pos += n as u64;
        Ok(n)
    }
    fn write(&self, _w: &Arc<crate::wait::Waiter>, buf: &[u8], _nonblock: bool) -> Result<usize> {
        self.pwrite(buf, 0)
    }
    fn pwrite(&self, buf: &[u8], _off: u64) -> Result<usize> {
        self.writer.as_ref().ok_or(Errno::EBADF)?(buf)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        let start = (off as usize).min(self.data.len());
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Ok(n)
    }
    fn seek(&self, off: i64, whence: i32) -> Result<u64> {
        let mut pos = self.pos.lock();
        let base = match whence {
            libc::SEEK_SET => 0,
            libc::SEEK_CUR => *pos as i64,
            libc::SEEK_END => self.data.len() as i64,
            _ => return Err(Errno::EINVAL),
        };
        let new = base
            .checked_add(off)
            .filter(|&n| n >= 0)
            .ok_or(Errno::EINVAL)?;
        *pos = new as u64;
        Ok(*pos)
    }
    fn stat(&self) -> Result<Stat> {
        Ok(synth_stat(self.ino, libc::S_IFREG | self.mode, 0, 0))
    }
    fn read_for_map(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        self.pread(buf, off)
    }
}

/// Lists a dynamic directory's children at the moment of the call.
pub type Lister = Box<dyn Fn() -> Vec<(Vec<u8>, Arc<dyn Inode>)> + Send + Sync>;

/// Finds a child a directory does not list (`/proc/[tid]` of a thread that leads no
/// process).
pub type HiddenLookup = Box<dyn Fn(&[u8]) -> Option<Arc<dyn Inode>> + Send + Sync>;

/// A directory whose children are computed when looked at (`/proc`, `/proc/[pid]/fd`).
pub struct DynDir {
    ino: u64,
    list: Lister,
    hidden: Option<HiddenLookup>,
}

impl DynDir {
    /// A directory whose children `list` produces.
    pub fn new(list: Lister) -> Arc<DynDir> {
        Arc::new(DynDir {
            ino: next_ino(),
            list,
            hidden: None,
        })
    }

    /// A directory whose children `list` produces, where a lookup of a name it does not
    /// list asks `hidden`.
    pub fn with_hidden(list: Lister, hidden: HiddenLookup) -> Arc<DynDir> {
        Arc::new(DynDir {
            ino: next_ino(),
            list,
            hidden: Some(hidden),
        })
    }
}

impl Inode for DynDir {
    fn file_type(&self) -> FileType {
        FileType::Dir
    }
    fn stat(&self) -> Result<Stat> {
        Ok(synth_stat(self.ino, libc::S_IFDIR | 0o555, 0, 0))
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        (self.list)()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i)
            .or_else(|| self.hidden.as_ref().and_then(|h| h(name)))
            .ok_or(Errno::ENOENT)
    }
    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(Errno::EISDIR);
        }
        let mut entries = vec![
            (self.ino, FileType::Dir, b".".to_vec()),
            (self.ino, FileType::Dir, b"..".to_vec()),
        ];
        for (name, inode) in (self.list)() {
            let ino = inode.stat().map(|s| s.ino).unwrap_or(0);
            entries.push((ino, inode.file_type(), name));
        }
        Ok(Box::new(DirListing {
            ino: self.ino,
            entries,
            pos: Mutex::new(0),
        }))
    }
    fn statfs(&self) -> Result<StatFs> {
        Ok(synth_statfs())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
