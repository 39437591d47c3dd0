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
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Time { sec: d.as_secs() as i64, nsec: d.subsec_nanos() as i64 }
    })
}

/// Attributes of a synthetic object.
pub fn synth_stat(ino: u64, mode: u32, rdev: u64, size: i64) -> Stat {
    let t = boot_time();
    Stat {
        dev: SYNTH_DEV,
        ino,
        mode,
        nlink: if mode & libc::S_IFMT == libc::S_IFDIR { 2 } else { 1 },
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
    StatFs { fs_type: TMPFS_MAGIC, bsize: 4096, namelen: 255, frsize: 4096, ..StatFs::default() }
}

/// Appends one `linux_dirent64` record to `buf` at `*used`; false if it does not fit.
pub fn put_dirent(buf: &mut [u8], used: &mut usize, ino: u64, off: i64, dtype: u8, name: &[u8]) -> bool {
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
            children: children.into_iter().map(|(n, i)| (n.as_bytes().to_vec(), i)).collect(),
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
        self.children.iter().find(|(n, _)| n == name).map(|(_, i)| i.clone()).ok_or(Errno::ENOENT)
    }
    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(Errno::EISDIR);
        }
        let mut entries = vec![(self.ino, FileType::Dir, b".".to_vec()), (self.ino, FileType::Dir, b"..".to_vec())];
        for (name, inode) in &self.children {
            let ino = inode.stat().map(|s| s.ino).unwrap_or(0);
            entries.push((ino, inode.file_type(), name.clone()));
        }
        Ok(Box::new(DirListing { ino: self.ino, entries, pos: Mutex::new(0) }))
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

impl FileOps for DirListing {
    fn getdents(&self, buf: &mut [u8]) -> Result<usize> {
        let mut pos = self.pos.lock();
        let mut used = 0;
        while let Some((ino, ft, name)) = self.entries.get(*pos) {
            if !put_dirent(buf, &mut used, *ino, *pos as i64 + 1, ft.dirent_type(), name) {
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
    fn read(&self, _w: &Arc<crate::wait::Waiter>, _buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::EISDIR)
    }
}

/// A symlink with a fixed target.
pub struct SynthSymlink {
    ino: u64,
    target: Vec<u8>,
}

impl SynthSymlink {
    /// A symlink to `target`.
    pub fn new(target: &str) -> Arc<SynthSymlink> {
        Arc::new(SynthSymlink { ino: next_ino(), target: target.as_bytes().to_vec() })
    }
}

impl Inode for SynthSymlink {
    fn file_type(&self) -> FileType {
        FileType::Symlink
    }
    fn stat(&self) -> Result<Stat> {
        Ok(synth_stat(self.ino, libc::S_IFLNK | 0o777, 0, self.target.len() as i64))
    }
    fn readlink(&self) -> Result<Vec<u8>> {
        Ok(self.target.clone())
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
