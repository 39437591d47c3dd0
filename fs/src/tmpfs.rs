//! tmpfs: a filesystem that lives in the sentry's memory.
//!
//! It backs `--tmpfs` mounts and the writable upper layer of the overlay. Directories are
//! sorted maps of names to nodes; regular files are byte vectors; symlinks hold their
//! target. Every node counts its bytes against the filesystem's usage, which a size limit
//! caps (ENOSPC).

use crate::Result;
use crate::file::{FileOps, MapKind, PollEvents};
use crate::inode::{FileType, Inode, SetAttr, Stat, StatFs, Time, TimeChange};
use crate::pipe::{Fifo, PipeEnd};
use crate::synth::put_dirent;
use crate::wait::Waiter;
use crate::xattr::Xattrs;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// `TMPFS_MAGIC`.
const TMPFS_MAGIC: i64 = 0x0102_1994;
/// Device numbers handed to tmpfs instances.
static NEXT_DEV: AtomicU64 = AtomicU64::new(0x40);

fn now() -> Time {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Time {
        sec: d.as_secs() as i64,
        nsec: d.subsec_nanos() as i64,
    }
}

/// What one tmpfs instance shares among its nodes.
pub struct TmpFs {
    dev: u64,
    next_ino: AtomicU64,
    used: AtomicU64,
    limit: u64,
}

impl TmpFs {
    /// A new empty tmpfs holding at most `limit` bytes; returns its root directory.
    pub fn root(limit: u64, mode: u32) -> Arc<TmpNode> {
        let fs = Arc::new(TmpFs {
            dev: NEXT_DEV.fetch_add(1, Ordering::Relaxed),
            next_ino: AtomicU64::new(1),
            used: AtomicU64::new(0),
            limit,
        });
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        TmpNode::new(
            &fs,
            Kind::Dir(Mutex::new(BTreeMap::new())),
            libc::S_IFDIR | (mode & 0o7777),
            uid,
            gid,
            None,
        )
    }

    fn charge(&self, bytes: u64) -> Result<()> {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let new = cur.checked_add(bytes).ok_or(Errno::ENOSPC)?;
            if new > self.limit {
                return Err(Errno::ENOSPC);
            }
            match self
                .used
                .compare_exchange(cur, new, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(v) => cur = v,
            }
        }
    }

    fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::SeqCst);
    }

    /// Bytes in use.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

/// What a node is.
enum Kind {
    Dir(Mutex<BTreeMap<Vec<u8>, Arc<TmpNode>>>),
    File(Mutex<Vec<u8>>),
    Symlink(Vec<u8>),
    /// A named pipe, whose ends are opened through it.
    Fifo(Fifo),
    /// Sockets and device nodes: a name with attributes only.
    Special,
}

struct Attr {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: u64,
    atime: Time,
    mtime: Time,
    ctime: Time,
}

/// A tmpfs file, directory or link.
pub struct TmpNode {
    fs: Arc<TmpFs>,
    ino: u64,
    kind: Kind,
    attr: Mutex<Attr>,
    /// The directory holding this one (directories only; for `..` counting and rename
    /// loop checks).
    parent: Mutex<Weak<TmpNode>>,
    /// An overlay upper directory that hides the lower one entirely.
    opaque: std::sync::atomic::AtomicBool,
    xattrs: Xattrs,
    me: Weak<TmpNode>,
}

impl TmpNode {
    fn new(
        fs: &Arc<TmpFs>,
        kind: Kind,
        mode: u32,
        uid: u32,
        gid: u32,
        parent: Option<&Arc<TmpNode>>,
    ) -> Arc<TmpNode> {
        let t = now();
        let nlink = if mode & libc::S_IFMT == libc::S_IFDIR {
            2
        } else {
            1
        };
        Arc::new_cyclic(|me| TmpNode {
            fs: fs.clone(),
            ino: fs.next_ino.fetch_add(1, Ordering::Relaxed),
            kind,
            attr: Mutex::new(Attr {
                mode,
                uid,
                gid,
                nlink,
                rdev: 0,
                atime: t,
                mtime: t,
                ctime: t,
            }),
            parent: Mutex::new(parent.map(Arc::downgrade).unwrap_or_default()),
            opaque: std::sync::atomic::AtomicBool::new(false),
            xattrs: Xattrs::default(),
            me: me.clone(),
        })
    }

    fn arc(&self) -> Arc<TmpNode> {
        self.me.upgrade().expect("live node")
    }

    fn dir(&self) -> Result<&Mutex<BTreeMap<Vec<u8>, Arc<TmpNode>>>> {
        match &self.kind {
            Kind::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn touch_dir(&self) {
        let t = now();
        let mut a = self.attr.lock();
        a.mtime = t;
        a.ctime = t;
    }

    fn check_name(name: &[u8]) -> Result<()> {
        if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
            return Err(Errno::EINVAL);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(())
    }

    /// Adds `node` as `name`; EEXIST if taken.
    fn add(&self, name: &[u8], node: Arc<TmpNode>) -> Result<()> {
        Self::check_name(name)?;
        let mut d = self.dir()?.lock();
        if d.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        self.fs.charge(name.len() as u64 + 64)?;
        if matches!(node.kind, Kind::Dir(_)) {
            self.attr.lock().nlink += 1;
        }
        d.insert(name.to_vec(), node);
        drop(d);
        self.touch_dir();
        Ok(())
    }

    fn other(inode: &dyn Inode) -> Result<&TmpNode> {
        inode.as_any().downcast_ref::<TmpNode>().ok_or(Errno::EXDEV)
    }

    fn creds() -> (u32, u32) {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    }

    fn size(&self) -> i64 {
        match &self.kind {
            Kind::File(d) => d.lock().len() as i64,
            Kind::Symlink(t) => t.len() as i64,
            Kind::Dir(_) => 4096,
            Kind::Fifo(_) | Kind::Special => 0,
        }
    }

    /// Forgets a node removed from its last directory: its bytes are no longer used.
    fn dropped(&self, name_len: usize) {
        self.fs.release(name_len as u64 + 64);
    }
}

/// Support for the overlay, which keeps its upper layer in a tmpfs.
impl TmpNode {
    /// The child called `name`, whiteouts included.
    pub fn child(&self, name: &[u8]) -> Option<Arc<TmpNode>> {
        self.dir().ok()?.lock().get(name).cloned()
    }

    /// Names and nodes of this directory's entries, whiteouts included.
    pub fn entries(&self) -> Vec<(Vec<u8>, Arc<TmpNode>)> {
        self.dir()
            .map(|d| {
                d.lock()
                    .iter()
                    .map(|(n, c)| (n.clone(), c.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether this node is a whiteout (a character device 0:0, as overlayfs marks one).
    pub fn is_whiteout(&self) -> bool {
        let a = self.attr.lock();
        a.mode & libc::S_IFMT == libc::S_IFCHR && a.rdev == 0
    }

    /// Puts a whiteout at `name`, replacing whatever upper entry is there.
    pub fn whiteout(&self, name: &[u8]) -> Result<()> {
        self.remove_entry(name);
        self.mknod(name, libc::S_IFCHR, 0)
    }

    /// Removes the entry `name` whatever it is (a whiteout before a create over it).
    pub fn remove_entry(&self, name: &[u8]) {
        if let Ok(d) = self.dir()
            && let Some(node) = d.lock().remove(name)
        {
            if matches!(node.kind, Kind::Dir(_)) {
                self.attr.lock().nlink -= 1;
            }
            node.dropped(name.len());
        }
    }

    /// Marks the directory opaque (the lower layer's entries are hidden) or not.
    pub fn set_opaque(&self, opaque: bool) {
        self.opaque.store(opaque, Ordering::SeqCst);
    }

    /// Whether the directory is opaque.
    pub fn is_opaque(&self) -> bool {
        self.opaque.load(Ordering::SeqCst)
    }

    /// The tmpfs instance (for its usage).
    pub fn fs(&self) -> &Arc<TmpFs> {
        &self.fs
    }
}

impl Drop for TmpNode {
    fn drop(&mut self) {
        if let Kind::File(d) = &self.kind {
            self.fs.release(d.lock().len() as u64);
        }
        self.fs.release(self.xattrs.bytes());
    }
}

impl Inode for TmpNode {
    fn file_type(&self) -> FileType {
        FileType::from_mode(self.attr.lock().mode)
    }

    fn stat(&self) -> Result<Stat> {
        let a = self.attr.lock();
        let size = self.size();
        Ok(Stat {
            dev: self.fs.dev,
            ino: self.ino,
            mode: a.mode,
            nlink: a.nlink,
            uid: a.uid,
            gid: a.gid,
            rdev: a.rdev,
            size,
            blksize: 4096,
            blocks: (size + 511) / 512,
            atime: a.atime,
            mtime: a.mtime,
            ctime: a.ctime,
            btime: None,
        })
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let d = self.dir()?.lock();
        d.get(name)
            .map(|n| n.clone() as Arc<dyn Inode>)
            .ok_or(Errno::ENOENT)
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        match &self.kind {
            Kind::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        match &self.kind {
            Kind::Dir(_) => Ok(Box::new(TmpDirFile {
                node: self.arc(),
                pos: Mutex::new(0),
            })),
            Kind::File(data) => {
                if flags & libc::O_TRUNC != 0 && flags & libc::O_ACCMODE != libc::O_RDONLY {
                    let mut d = data.lock();
                    self.fs.release(d.len() as u64);
                    d.clear();
                    drop(d);
                    self.touch_dir();
                }
                Ok(Box::new(TmpFile {
                    node: self.arc(),
                    pos: Mutex::new(0),
                    append: Mutex::new(flags & libc::O_APPEND != 0),
                }))
            }
            Kind::Symlink(_) => Err(Errno::ELOOP),
            Kind::Fifo(fifo) => Ok(Box::new(FifoFile {
                end: fifo.open(flags)?,
                node: self.arc(),
            })),
            Kind::Special => Err(Errno::ENXIO),
        }
    }

    fn create(
        &self,
        name: &[u8],
        flags: i32,
        mode: u32,
    ) -> Result<(Arc<dyn Inode>, Box<dyn FileOps>)> {
        let (uid, gid) = Self::creds();
        let node = TmpNode::new(
            &self.fs,
            Kind::File(Mutex::new(Vec::new())),
            libc::S_IFREG | (mode & 0o7777),
            uid,
            gid,
            None,
        );
        self.add(name, node.clone())?;
        let ops = node.open(flags & !libc::O_TRUNC)?;
        Ok((node, ops))
    }

    fn mkdir(&self, name: &[u8], mode: u32) -> Result<()> {
        let (uid, gid) = Self::creds();
        let me = self.arc();
        let node = TmpNode::new(
            &self.fs,
            Kind::Dir(Mutex::new(BTreeMap::new())),
            libc::S_IFDIR | (mode & 0o7777),
            uid,
            gid,
            Some(&me),
        );
        self.add(name, node)
    }

    fn mknod(&self, name: &[u8], mode: u32, rdev: u64) -> Result<()> {
        let (uid, gid) = Self::creds();
        let kind = if mode & libc::S_IFMT == libc::S_IFIFO {
            Kind::Fifo(Fifo::default())
        } else {
            Kind::Special
        };
        let node = TmpNode::new(&self.fs, kind, mode, uid, gid, None);
        node.attr.lock().rdev = rdev;
        self.add(name, node)
    }

    fn symlink(&self, name: &[u8], target: &[u8]) -> Result<()> {
        let (uid, gid) = Self::creds();
        self.fs.charge(target.len() as u64)?;
        let node = TmpNode::new(
            &self.fs,
            Kind::Symlink(target.to_vec()),
            libc::S_IFLNK | 0o777,
            uid,
            gid,
            None,
        );
        let r = self.add(name, node);
        if r.is_err() {
            self.fs.release(target.len() as u64);
        }
        r
    }

    fn link(&self, name: &[u8], target: &dyn Inode) -> Result<()> {
        let target = Self::other(target)?;
        if matches!(target.kind, Kind::Dir(_)) {
            return Err(Errno::EPERM);
        }
        self.add(name, target.arc())?;
        let mut a = target.attr.lock();
        a.nlink += 1;
        a.ctime = now();
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        let mut d = self.dir()?.lock();
        let node = d.get(name).ok_or(Errno::ENOENT)?;
        if matches!(node.kind, Kind::Dir(_)) {
            return Err(Errno::EISDIR);
        }
        let node = d.remove(name).expect("present");
        drop(d);
        {
            let mut a = node.attr.lock();
            a.nlink = a.nlink.saturating_sub(1);
            a.ctime = now();
        }
        node.dropped(name.len());
        self.touch_dir();
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        let mut d = self.dir()?.lock();
        let node = d.get(name).ok_or(Errno::ENOENT)?;
        if !node.dir()?.lock().is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        let node = d.remove(name).expect("present");
        drop(d);
        node.attr.lock().nlink = 0;
        node.dropped(name.len());
        self.attr.lock().nlink -= 1;
        self.touch_dir();
        Ok(())
    }

    fn rename(&self, name: &[u8], new_dir: &dyn Inode, new_name: &[u8], flags: u32) -> Result<()> {
        let new_dir = Self::other(new_dir)?;
        Self::check_name(new_name)?;
        if !Arc::ptr_eq(&self.fs, &new_dir.fs) {
            return Err(Errno::EXDEV);
        }
        let node = self.dir()?.lock().get(name).cloned().ok_or(Errno::ENOENT)?;
        // A directory may not move into itself or below itself.
        if matches!(node.kind, Kind::Dir(_)) {
            let mut p = Some(new_dir.arc());
            while let Some(d) = p {
                if Arc::ptr_eq(&d, &node) {
                    return Err(Errno::EINVAL);
                }
                p = d.parent.lock().upgrade();
            }
        }
        let existing = new_dir.dir()?.lock().get(new_name).cloned();
        if flags & libc::RENAME_EXCHANGE != 0 {
            let other = existing.ok_or(Errno::ENOENT)?;
            self.dir()?.lock().insert(name.to_vec(), other.clone());
            new_dir
                .dir()?
                .lock()
                .insert(new_name.to_vec(), node.clone());
            *other.parent.lock() = Arc::downgrade(&self.arc());
            *node.parent.lock() = Arc::downgrade(&new_dir.arc());
            return Ok(());
        }
        if let Some(old) = &existing {
            if Arc::ptr_eq(old, &node) {
                return Ok(());
            }
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            match (&node.kind, &old.kind) {
                (Kind::Dir(_), Kind::Dir(o)) if !o.lock().is_empty() => {
                    return Err(Errno::ENOTEMPTY);
                }
                (Kind::Dir(_), Kind::Dir(_)) => {}
                (Kind::Dir(_), _) => return Err(Errno::ENOTDIR),
                (_, Kind::Dir(_)) => return Err(Errno::EISDIR),
                _ => {}
            }
        }
        self.dir()?.lock().remove(name);
        let is_dir = matches!(node.kind, Kind::Dir(_));
        if let Some(old) = new_dir
            .dir()?
            .lock()
            .insert(new_name.to_vec(), node.clone())
        {
            let mut a = old.attr.lock();
            a.nlink = a.nlink.saturating_sub(1);
            old.dropped(new_name.len());
            if is_dir {
                new_dir.attr.lock().nlink -= 1;
            }
        } else {
            self.fs.charge(new_name.len() as u64).ok();
        }
        self.fs.release(name.len() as u64);
        if is_dir {
            self.attr.lock().nlink -= 1;
            new_dir.attr.lock().nlink += 1;
            *node.parent.lock() = Arc::downgrade(&new_dir.arc());
        }
        node.attr.lock().ctime = now();
        self.touch_dir();
        new_dir.touch_dir();
        Ok(())
    }

    fn setattr(&self, attr: SetAttr) -> Result<()> {
        let t = now();
        match attr {
            SetAttr::Mode(m) => {
                let mut a = self.attr.lock();
                a.mode = (a.mode & libc::S_IFMT) | (m & 0o7777);
                a.ctime = t;
            }
            SetAttr::Owner(uid, gid) => {
                let mut a = self.attr.lock();
                if uid != u32::MAX {
                    a.uid = uid;
                }
                if gid != u32::MAX {
                    a.gid = gid;
                }
                a.ctime = t;
            }
            SetAttr::Size(len) => match &self.kind {
                Kind::File(d) => {
                    let mut d = d.lock();
                    let old = d.len() as u64;
                    if len > old {
                        self.fs.charge(len - old)?;
                    } else {
                        self.fs.release(old - len);
                    }
                    d.resize(len as usize, 0);
                    let mut a = self.attr.lock();
                    a.mtime = t;
                    a.ctime = t;
                }
                Kind::Dir(_) => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            },
            SetAttr::Times(at, mt) => {
                let mut a = self.attr.lock();
                let pick = |c: TimeChange, cur: Time| match c {
                    TimeChange::Omit => cur,
                    TimeChange::Now => t,
                    TimeChange::Set(v) => v,
                };
                a.atime = pick(at, a.atime);
                a.mtime = pick(mt, a.mtime);
                a.ctime = t;
            }
        }
        Ok(())
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>> {
        self.xattrs.get(name)
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: i32) -> Result<()> {
        let old = self
            .xattrs
            .set(name, value, flags, |bytes| self.fs.charge(bytes))?;
        self.fs.release(old);
        self.attr.lock().ctime = now();
        Ok(())
    }

    fn listxattr(&self) -> Result<Vec<Vec<u8>>> {
        Ok(self.xattrs.list())
    }

    fn removexattr(&self, name: &[u8]) -> Result<()> {
        self.fs.release(self.xattrs.remove(name)?);
        self.attr.lock().ctime = now();
        Ok(())
    }

    fn statfs(&self) -> Result<StatFs> {
        let blocks = self.fs.limit / 4096;
        let used = self.fs.used() / 4096;
        Ok(StatFs {
            fs_type: TMPFS_MAGIC,
            bsize: 4096,
            blocks,
            bfree: blocks.saturating_sub(used),
            bavail: blocks.saturating_sub(used),
            files: 1 << 20,
            ffree: 1 << 20,
            namelen: 255,
            frsize: 4096,
            flags: 0,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An open end of a tmpfs named pipe: pipe I/O, the node's attributes.
struct FifoFile {
    end: PipeEnd,
    node: Arc<TmpNode>,
}

impl FileOps for FifoFile {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        self.end.read(w, buf, nonblock)
    }
    fn write(&self, w: &Arc<Waiter>, buf: &[u8], nonblock: bool) -> Result<usize> {
        self.end.write(w, buf, nonblock)
    }
    fn stat(&self) -> Result<Stat> {
        self.node.stat()
    }
    fn poll(&self, events: PollEvents) -> PollEvents {
        self.end.poll(events)
    }
    fn readable_bytes(&self) -> Result<usize> {
        self.end.readable_bytes()
    }
    fn wait_queue(&self) -> Option<&crate::wait::WaitQueue> {
        self.end.wait_queue()
    }
    fn is_stream(&self) -> bool {
        true
    }
    fn pipe_end(&self) -> Option<&PipeEnd> {
        Some(&self.end)
    }
}

/// An open tmpfs regular file.
struct TmpFile {
    node: Arc<TmpNode>,
    pos: Mutex<u64>,
    append: Mutex<bool>,
}

impl TmpFile {
    fn data(&self) -> &Mutex<Vec<u8>> {
        match &self.node.kind {
            Kind::File(d) => d,
            _ => unreachable!("TmpFile over a non-file"),
        }
    }

    fn write_at(&self, buf: &[u8], off: u64) -> Result<usize> {
        let mut d = self.data().lock();
        let end = off.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        if end > d.len() as u64 {
            self.node.fs.charge(end - d.len() as u64)?;
            d.resize(end as usize, 0);
        }
        d[off as usize..end as usize].copy_from_slice(buf);
        drop(d);
        let t = now();
        let mut a = self.node.attr.lock();
        a.mtime = t;
        a.ctime = t;
        Ok(buf.len())
    }
}

impl FileOps for TmpFile {
    fn read(&self, _w: &Arc<Waiter>, buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        let mut pos = self.pos.lock();
        let n = self.pread(buf, *pos)?;
        *pos += n as u64;
        Ok(n)
    }
    fn write(&self, _w: &Arc<Waiter>, buf: &[u8], _nonblock: bool) -> Result<usize> {
        let mut pos = self.pos.lock();
        if *self.append.lock() {
            *pos = self.data().lock().len() as u64;
        }
        let n = self.write_at(buf, *pos)?;
        *pos += n as u64;
        Ok(n)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        let d = self.data().lock();
        let start = (off as usize).min(d.len());
        let n = buf.len().min(d.len() - start);
        buf[..n].copy_from_slice(&d[start..start + n]);
        Ok(n)
    }
    fn pwrite(&self, buf: &[u8], off: u64) -> Result<usize> {
        self.write_at(buf, off)
    }
    fn seek(&self, off: i64, whence: i32) -> Result<u64> {
        let mut pos = self.pos.lock();
        let len = self.data().lock().len() as i64;
        let new = match whence {
            libc::SEEK_SET => off,
            libc::SEEK_CUR => *pos as i64 + off,
            libc::SEEK_END => len + off,
            libc::SEEK_DATA if off < len => off,
            libc::SEEK_HOLE if off <= len => len,
            libc::SEEK_DATA | libc::SEEK_HOLE => return Err(Errno::ENXIO),
            _ => return Err(Errno::EINVAL),
        };
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(*pos)
    }
    fn stat(&self) -> Result<Stat> {
        self.node.stat()
    }
    fn truncate(&self, len: u64) -> Result<()> {
        self.node.setattr(SetAttr::Size(len))
    }
    fn set_status_flags(&self, flags: i32) {
        *self.append.lock() = flags & libc::O_APPEND != 0;
    }
    fn map_kind(&self) -> MapKind {
        MapKind::Data
    }
    fn readable_bytes(&self) -> Result<usize> {
        let len = self.data().lock().len() as u64;
        Ok(len.saturating_sub(*self.pos.lock()) as usize)
    }
}

/// An open tmpfs directory.
struct TmpDirFile {
    node: Arc<TmpNode>,
    pos: Mutex<usize>,
}

impl FileOps for TmpDirFile {
    fn getdents(&self, buf: &mut [u8]) -> Result<usize> {
        let mut pos = self.pos.lock();
        let parent_ino = self
            .node
            .parent
            .lock()
            .upgrade()
            .map_or(self.node.ino, |p| p.ino);
        let mut entries: Vec<(u64, u8, Vec<u8>)> = vec![
            (self.node.ino, libc::DT_DIR, b".".to_vec()),
            (parent_ino, libc::DT_DIR, b"..".to_vec()),
        ];
        for (name, n) in self.node.dir()?.lock().iter() {
            entries.push((n.ino, n.file_type().dirent_type(), name.clone()));
        }
        let mut used = 0;
        while let Some((ino, t, name)) = entries.get(*pos) {
            if !put_dirent(buf, &mut used, *ino, *pos as i64 + 1, *t, name) {
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
        self.node.stat()
    }
    fn read(&self, _w: &Arc<Waiter>, _buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::EISDIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_dirs_links_and_limits() {
        let root = TmpFs::root(1 << 20, 0o755);
        let w = Waiter::new();
        let (f, ops) = root.create(b"a", libc::O_RDWR, 0o644).unwrap();
        assert_eq!(ops.write(&w, b"hello", false).unwrap(), 5);
        assert_eq!(f.stat().unwrap().size, 5);
        root.mkdir(b"d", 0o755).unwrap();
        assert_eq!(root.mkdir(b"d", 0o755), Err(Errno::EEXIST));
        root.symlink(b"l", b"a").unwrap();
        assert_eq!(root.lookup(b"l").unwrap().readlink().unwrap(), b"a");
        let d = root.lookup(b"d").unwrap();
        root.rename(b"a", d.as_ref(), b"b", 0).unwrap();
        assert_eq!(root.lookup(b"a").err(), Some(Errno::ENOENT));
        assert_eq!(d.lookup(b"b").unwrap().stat().unwrap().size, 5);
        assert_eq!(root.rmdir(b"d"), Err(Errno::ENOTEMPTY));
        d.unlink(b"b").unwrap();
        root.rmdir(b"d").unwrap();
        let (_, big) = root.create(b"big", libc::O_RDWR, 0o644).unwrap();
        assert_eq!(
            big.write(&w, &vec![0u8; 2 << 20], false),
            Err(Errno::ENOSPC)
        );
    }

    #[test]
    fn a_directory_cannot_move_below_itself() {
        let root = TmpFs::root(1 << 20, 0o755);
        root.mkdir(b"a", 0o755).unwrap();
        let a = root.lookup(b"a").unwrap();
        a.mkdir(b"b", 0o755).unwrap();
        let b = a.lookup(b"b").unwrap();
        assert_eq!(root.rename(b"a", b.as_ref(), b"x", 0), Err(Errno::EINVAL));
    }
}
