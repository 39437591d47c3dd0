//! The guest's file tree: dentries, mounts, and the path walk.
//!
//! A [`Dentry`] is a step of a walk: an inode, its name and guest path, and its parent. The
//! walk starts at the caller's root or a directory, and resolves every component itself:
//! `.` and `..` by the dentry chain (never above the caller's root), mount points by the
//! mount table (keyed by guest path), symlinks by reading them and continuing inside the
//! root (at most [`MAX_SYMLINKS`] of them, then `ELOOP`). Filesystems only ever look up
//! one plain name in one directory, so no path can leave the guest root, whatever its
//! symlinks say.

use crate::Result;
use crate::file::{FileOps, MapKind, OpenFile, PollEvents};
use crate::inode::{FileType, Inode, Stat, StatFs};
use crate::notify;
use crate::synth::LinkTarget;
use crate::wait::{WaitQueue, Waiter};
use nix::errno::Errno;
use parking_lot::RwLock;
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Symlinks followed in one walk before `ELOOP` (Linux: 40).
pub const MAX_SYMLINKS: usize = 40;
/// Longest path accepted (Linux: PATH_MAX including the NUL).
pub const PATH_MAX: usize = 4096;

/// One resolved step of a path.
pub struct Dentry {
    inode: Arc<dyn Inode>,
    parent: Option<Arc<Dentry>>,
    path: Vec<u8>,
}

impl Dentry {
    /// A root dentry (`/`) for `inode`.
    pub fn root(inode: Arc<dyn Inode>) -> Arc<Dentry> {
        Arc::new(Dentry {
            inode,
            parent: None,
            path: b"/".to_vec(),
        })
    }

    /// The inode.
    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.inode
    }

    /// Absolute guest path.
    pub fn path(&self) -> &[u8] {
        &self.path
    }

    /// Last path component (`/` for the root).
    pub fn name(&self) -> &[u8] {
        match self.path.iter().rposition(|&c| c == b'/') {
            Some(i) if i + 1 < self.path.len() => &self.path[i + 1..],
            _ => &self.path,
        }
    }

    /// The parent, or `None` at the root of the tree.
    pub fn parent(&self) -> Option<&Arc<Dentry>> {
        self.parent.as_ref()
    }

    fn child(self: &Arc<Self>, name: &[u8], inode: Arc<dyn Inode>) -> Arc<Dentry> {
        let mut path = self.path.clone();
        if path != b"/" {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        Arc::new(Dentry {
            inode,
            parent: Some(self.clone()),
            path,
        })
    }

    fn child_path(&self, name: &[u8]) -> Vec<u8> {
        let mut path = self.path.clone();
        if path != b"/" {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        path
    }
}

/// The result of walking a path: the directory holding the last component, the
/// component's name, and the object if it exists.
pub struct Lookup {
    /// Directory containing the last component.
    pub parent: Arc<Dentry>,
    /// Last component (`.` or `..` when the path ends so, `/` for the root).
    pub name: Vec<u8>,
    /// The last component's dentry, if it exists.
    pub child: Option<Arc<Dentry>>,
    /// The path ended with `/`: the object must be (or become) a directory.
    pub trailing_slash: bool,
}

impl Lookup {
    /// The existing object, or `ENOENT`; with a trailing slash it must be a directory.
    pub fn existing(self) -> Result<Arc<Dentry>> {
        let child = self.child.ok_or(Errno::ENOENT)?;
        if self.trailing_slash && child.inode.file_type() != FileType::Dir {
            return Err(Errno::ENOTDIR);
        }
        Ok(child)
    }

    /// Whether the last component is `.` or `..` (which cannot be created or removed).
    pub fn is_dot(&self) -> bool {
        self.name == b"." || self.name == b".." || self.name == b"/"
    }
}

/// The guest's mount table and root.
pub struct Vfs {
    root: Arc<Dentry>,
    mounts: RwLock<HashMap<Vec<u8>, Arc<dyn Inode>>>,
}

/// Restrictions on a walk (`openat2`'s `RESOLVE_*` flags). The default restricts nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resolve {
    /// Crossing a mount point, in either direction, fails with `EXDEV`.
    pub no_xdev: bool,
    /// Following a magic link (`/proc/self/fd/N`, `/proc/self/exe`) fails with `ELOOP`.
    pub no_magiclinks: bool,
    /// Following any symlink fails with `ELOOP`.
    pub no_symlinks: bool,
    /// The walk must stay below its start: an absolute path or symlink, or `..` above
    /// the start, fails with `EXDEV`, as does a magic link.
    pub beneath: bool,
    /// The start is the root of the walk: absolute paths and symlinks and `..` stay
    /// inside it; a magic link fails with `EXDEV`.
    pub in_root: bool,
}

impl Resolve {
    /// Whether the walk is scoped to its start (`beneath` or `in_root`).
    fn scoped(&self) -> bool {
        self.beneath || self.in_root
    }
}

/// Where a walk starts and what it may not go above.
pub struct WalkCtx<'a> {
    /// The caller's root (`/`, or its chroot).
    pub root: &'a Arc<Dentry>,
    /// Directory relative paths start from.
    pub start: &'a Arc<Dentry>,
}

impl Vfs {
    /// A tree rooted at `root`.
    pub fn new(root: Arc<dyn Inode>) -> Vfs {
        Vfs {
            root: Dentry::root(root),
            mounts: RwLock::new(HashMap::new()),
        }
    }

    /// The root dentry.
    pub fn root(&self) -> Arc<Dentry> {
        self.root.clone()
    }

    /// `d`'s path as `/proc` shows it: with ` (deleted)` once the path no longer leads to
    /// the same object.
    pub fn shown_path(&self, d: &Arc<Dentry>) -> Vec<u8> {
        let ctx = WalkCtx {
            root: &self.root,
            start: &self.root,
        };
        let id = |s: Result<Stat>| s.ok().map(|s| (s.dev, s.ino));
        let same = self
            .walk(&ctx, &d.path, false)
            .ok()
            .and_then(|l| l.child)
            .is_some_and(|c| {
                Arc::ptr_eq(&c.inode, &d.inode) || id(c.inode.stat()) == id(d.inode.stat())
            });
        let mut path = d.path.clone();
        if !same {
            path.extend_from_slice(b" (deleted)");
        }
        path
    }

    /// Mounts `fs` at the absolute guest path `path`.
    pub fn mount(&self, path: &str, fs: Arc<dyn Inode>) {
        self.mounts.write().insert(path.as_bytes().to_vec(), fs);
    }

    /// Whether a mount sits at `d`.
    fn is_mount_point(&self, d: &Dentry) -> bool {
        self.mounts.read().contains_key(&d.path)
    }

    /// The guest path of the mount `d` is on (`/` for the root's).
    fn mount_of(&self, d: &Dentry) -> Vec<u8> {
        let mounts = self.mounts.read();
        let mut path = d.path.as_slice();
        loop {
            if mounts.contains_key(path) {
                return path.to_vec();
            }
            match path.iter().rposition(|&c| c == b'/') {
                Some(0) | None => return b"/".to_vec(),
                Some(i) => path = &path[..i],
            }
        }
    }

    /// Looks up `name` in directory `dir`, entering a mount if one sits there.
    fn step(&self, dir: &Arc<Dentry>, name: &[u8]) -> Result<Arc<Dentry>> {
        if dir.inode.file_type() != FileType::Dir {
            return Err(Errno::ENOTDIR);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let path = dir.child_path(name);
        let mounted = self.mounts.read().get(&path).cloned();
        let inode = match mounted {
            Some(fs) => fs,
            None => dir.inode.lookup(name)?,
        };
        Ok(dir.child(name, inode))
    }

    /// Walks `path`. The last component is followed if it is a symlink only when
    /// `follow_last` (or the path ends with `/`).
    pub fn walk(&self, ctx: &WalkCtx<'_>, path: &[u8], follow_last: bool) -> Result<Lookup> {
        self.walk_with(ctx, path, follow_last, Resolve::default())
    }

    /// [`walk`](Self::walk) under the restrictions of `resolve`.
    pub fn walk_with(
        &self,
        ctx: &WalkCtx<'_>,
        path: &[u8],
        follow_last: bool,
        resolve: Resolve,
    ) -> Result<Lookup> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let root = if resolve.scoped() {
            ctx.start
        } else {
            ctx.root
        };
        let trailing_slash = path.ends_with(b"/");
        let mut cur = if path[0] == b'/' {
            if resolve.beneath {
                return Err(Errno::EXDEV);
            }
            root.clone()
        } else {
            ctx.start.clone()
        };
        let mut queue: VecDeque<Vec<u8>> = components(path);
        let mut links = 0;
        let up = |d: &Arc<Dentry>| -> Arc<Dentry> {
            if Arc::ptr_eq(d, root) {
                d.clone()
            } else {
                d.parent.clone().unwrap_or_else(|| d.clone())
            }
        };
        let mut last: Option<LastStep> = None;
        while let Some(comp) = queue.pop_front() {
            let is_last = queue.is_empty();
            let (parent, child) = match comp.as_slice() {
                b"." => (up(&cur), Ok(cur.clone())),
                b".." => {
                    let at_root = Arc::ptr_eq(&cur, root);
                    if at_root && resolve.beneath {
                        return Err(Errno::EXDEV);
                    }
                    if !at_root && resolve.no_xdev && self.is_mount_point(&cur) {
                        return Err(Errno::EXDEV);
                    }
                    let p = up(&cur);
                    (up(&p), Ok(p))
                }
                name => {
                    let child = self.step(&cur, name);
                    if resolve.no_xdev && child.as_ref().is_ok_and(|c| self.is_mount_point(c)) {
                        return Err(Errno::EXDEV);
                    }
                    (cur.clone(), child)
                }
            };
            let child = match child {
                Ok(c) => c,
                Err(Errno::ENOENT) if is_last => {
                    last = Some((parent, comp, None));
                    break;
                }
                Err(e) => return Err(e),
            };
            if child.inode.file_type() == FileType::Symlink
                && (!is_last || follow_last || trailing_slash)
            {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                if resolve.no_symlinks {
                    return Err(Errno::ELOOP);
                }
                if let Some(magic) = child.inode.link_target()
                    && let LinkTarget::Magic { dentry, file, .. } = magic?
                {
                    if resolve.no_magiclinks {
                        return Err(Errno::ELOOP);
                    }
                    // An object without a dentry (a pipe) is on a mount of its own.
                    let crosses = dentry
                        .as_ref()
                        .is_none_or(|d| self.mount_of(d) != self.mount_of(&parent));
                    if (resolve.no_xdev && crosses) || resolve.scoped() {
                        return Err(Errno::EXDEV);
                    }
                    let target = match (dentry, file) {
                        (Some(d), _) => d,
                        (None, Some(f)) if is_last => {
                            parent.child(&comp, Arc::new(OpenFileInode(f)))
                        }
                        (None, Some(_)) => return Err(Errno::ENOTDIR),
                        (None, None) => return Err(Errno::ENOENT),
                    };
                    if is_last {
                        last = Some((parent, comp, Some(target)));
                        break;
                    }
                    cur = target;
                    continue;
                }
                let target = child.inode.readlink()?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                let mut more = components(&target);
                more.extend(queue.drain(..));
                queue = more;
                cur = if target[0] == b'/' {
                    let crosses = self.mount_of(&parent) != self.mount_of(root);
                    if resolve.beneath || (resolve.no_xdev && crosses) {
                        return Err(Errno::EXDEV);
                    }
                    root.clone()
                } else {
                    parent
                };
                if queue.is_empty() {
                    // The link pointed at "/" (or only slashes and dots resolved away).
                    last = Some((up(&cur), b"/".to_vec(), Some(cur.clone())));
                    break;
                }
                continue;
            }
            if is_last {
                last = Some((parent, comp, Some(child)));
                break;
            }
            cur = child;
        }
        let (parent, name, child) =
            last.unwrap_or_else(|| (up(&cur), b"/".to_vec(), Some(cur.clone())));
        Ok(Lookup {
            parent,
            name,
            child,
            trailing_slash,
        })
    }

    /// Opens `path` with `open(2)` semantics (`flags`, creation `mode` after umask), and
    /// raises the inotify events of the open (`IN_CREATE`, `IN_OPEN`, and `IN_MODIFY` for
    /// a truncation).
    pub fn open(
        &self,
        ctx: &WalkCtx<'_>,
        path: &[u8],
        flags: i32,
        mode: u32,
    ) -> Result<Arc<OpenFile>> {
        self.open_with(ctx, path, flags, mode, Resolve::default())
    }

    /// [`open`](Self::open) with the walk under the restrictions of `resolve`
    /// (`openat2`).
    pub fn open_with(
        &self,
        ctx: &WalkCtx<'_>,
        path: &[u8],
        flags: i32,
        mode: u32,
        resolve: Resolve,
    ) -> Result<Arc<OpenFile>> {
        let creat = flags & libc::O_CREAT != 0;
        let excl = creat && flags & libc::O_EXCL != 0;
        let nofollow = flags & libc::O_NOFOLLOW != 0;
        let lookup = self.walk_with(ctx, path, !(excl || nofollow), resolve)?;
        let dentry = match lookup.child {
            Some(d) => {
                if excl {
                    return Err(Errno::EEXIST);
                }
                d
            }
            None if creat => {
                if lookup.trailing_slash {
                    return Err(Errno::EISDIR);
                }
                let (inode, ops) = lookup.parent.inode.create(&lookup.name, flags, mode)?;
                notify::created(&lookup.parent, &lookup.name, false);
                let dentry = lookup.parent.child(&lookup.name, inode);
                let file = OpenFile::new(ops, flags, Some(dentry));
                notify::file_event(&file, libc::IN_OPEN);
                return Ok(file);
            }
            None => return Err(Errno::ENOENT),
        };
        let ft = dentry.inode.file_type();
        if lookup.trailing_slash && ft != FileType::Dir {
            return Err(Errno::ENOTDIR);
        }
        if flags & libc::O_PATH != 0 {
            let ops = Box::new(PathOnly(dentry.inode.clone()));
            return Ok(OpenFile::new(
                ops,
                flags & (libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW),
                Some(dentry),
            ));
        }
        if ft == FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        if flags & libc::O_DIRECTORY != 0 && ft != FileType::Dir {
            return Err(Errno::ENOTDIR);
        }
        if ft == FileType::Dir && (flags & libc::O_ACCMODE != libc::O_RDONLY || creat) {
            return Err(Errno::EISDIR);
        }
        let mut ops = dentry.inode.open(flags)?;
        if ft == FileType::Dir {
            let extra = self.unlisted_mounts(&dentry);
            if !extra.is_empty() {
                ops = Box::new(MountedDir {
                    inner: ops,
                    extra,
                    next_extra: parking_lot::Mutex::new(None),
                });
            }
        }
        let file = OpenFile::new(ops, flags, Some(dentry.clone()));
        notify::file_event(&file, libc::IN_OPEN);
        if flags & libc::O_TRUNC != 0 && ft == FileType::Regular {
            notify::dentry_event(&dentry, libc::IN_MODIFY);
        }
        Ok(file)
    }

    /// Mount points directly under `dir` that its own filesystem does not have (a root
    /// without `dev/` or `proc/`): `readdir` must list them all the same.
    fn unlisted_mounts(&self, dir: &Arc<Dentry>) -> Vec<(u64, FileType, Vec<u8>)> {
        let mounts = self.mounts.read();
        let mut extra: Vec<_> = mounts
            .iter()
            .filter_map(|(path, fs)| {
                let name = path
                    .rsplit(|&c| c == b'/')
                    .next()
                    .filter(|n| !n.is_empty())?;
                let under_dir = dir.child_path(name) == *path;
                (under_dir && dir.inode.lookup(name).is_err()).then(|| {
                    let ino = fs.stat().map_or(0, |s| s.ino);
                    (ino, FileType::Dir, name.to_vec())
                })
            })
            .collect();
        extra.sort_by(|a, b| a.2.cmp(&b.2));
        extra
    }
}

/// A directory listing followed by the mount points its filesystem lacks.
struct MountedDir {
    inner: Box<dyn FileOps>,
    extra: Vec<(u64, FileType, Vec<u8>)>,
    /// `None` while the filesystem's own entries are being read, then the next extra.
    next_extra: parking_lot::Mutex<Option<usize>>,
}

impl FileOps for MountedDir {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        self.inner.read(w, buf, nonblock)
    }
    fn getdents(&self, buf: &mut [u8]) -> Result<usize> {
        let mut next = self.next_extra.lock();
        if next.is_none() {
            let n = self.inner.getdents(buf)?;
            if n > 0 {
                return Ok(n);
            }
            *next = Some(0);
        }
        let Some(i) = next.as_mut() else {
            return Ok(0);
        };
        let mut used = 0;
        while let Some((ino, ft, name)) = self.extra.get(*i) {
            // Offsets past any the filesystem uses; seeking to them is not supported.
            let off = i64::MAX - (self.extra.len() - *i) as i64;
            if !crate::synth::put_dirent(buf, &mut used, *ino, off, ft.dirent_type(), name) {
                if used == 0 {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            *i += 1;
        }
        Ok(used)
    }
    fn seek(&self, off: i64, whence: i32) -> Result<u64> {
        let pos = self.inner.seek(off, whence)?;
        if whence == libc::SEEK_SET {
            *self.next_extra.lock() = None;
        }
        Ok(pos)
    }
    fn stat(&self) -> Result<Stat> {
        self.inner.stat()
    }
    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }
    fn poll(&self, events: PollEvents) -> PollEvents {
        self.inner.poll(events)
    }
    fn host_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.inner.host_fd()
    }
    fn any(&self) -> Option<&dyn Any> {
        self.inner.any()
    }
}

/// Where a walk ended: the parent, the last name, and the object if it exists.
type LastStep = (Arc<Dentry>, Vec<u8>, Option<Arc<Dentry>>);

/// Splits a path into its non-empty components.
fn components(path: &[u8]) -> VecDeque<Vec<u8>> {
    path.split(|&c| c == b'/')
        .filter(|c| !c.is_empty())
        .map(|c| c.to_vec())
        .collect()
}

/// An `O_PATH` description: no I/O, only the object's identity.
struct PathOnly(Arc<dyn Inode>);

impl FileOps for PathOnly {
    fn stat(&self) -> Result<Stat> {
        self.0.stat()
    }
    fn getdents(&self, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::EBADF)
    }
    fn poll(&self, _events: i16) -> i16 {
        libc::POLLNVAL
    }
}

/// The object behind a magic link to a file that has no dentry (a pipe): opening it gives
/// a new description sharing the same file.
struct OpenFileInode(Arc<OpenFile>);

impl Inode for OpenFileInode {
    fn file_type(&self) -> FileType {
        self.0
            .ops
            .stat()
            .map_or(FileType::Regular, |s| s.file_type())
    }
    fn stat(&self) -> Result<Stat> {
        self.0.ops.stat()
    }
    fn open(&self, _flags: i32) -> Result<Box<dyn FileOps>> {
        Ok(Box::new(SharedOps(self.0.clone())))
    }
    fn statfs(&self) -> Result<StatFs> {
        Ok(crate::synth::synth_statfs())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// File operations forwarded to another open file.
struct SharedOps(Arc<OpenFile>);

impl FileOps for SharedOps {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        self.0.ops.read(w, buf, nonblock)
    }
    fn write(&self, w: &Arc<Waiter>, buf: &[u8], nonblock: bool) -> Result<usize> {
        self.0.ops.write(w, buf, nonblock)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        self.0.ops.pread(buf, off)
    }
    fn pwrite(&self, buf: &[u8], off: u64) -> Result<usize> {
        self.0.ops.pwrite(buf, off)
    }
    fn seek(&self, off: i64, whence: i32) -> Result<u64> {
        self.0.ops.seek(off, whence)
    }
    fn stat(&self) -> Result<Stat> {
        self.0.ops.stat()
    }
    fn poll(&self, events: PollEvents) -> PollEvents {
        self.0.ops.poll(events)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        self.0.ops.wait_queue()
    }
    fn is_stream(&self) -> bool {
        self.0.ops.is_stream()
    }
    fn readable_bytes(&self) -> Result<usize> {
        self.0.ops.readable_bytes()
    }
    fn host_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.0.ops.host_fd()
    }
    fn map_kind(&self) -> MapKind {
        self.0.ops.map_kind()
    }
    fn anon_name(&self) -> Option<String> {
        self.0.ops.anon_name()
    }
    fn pipe_end(&self) -> Option<&crate::pipe::PipeEnd> {
        self.0.ops.pipe_end()
    }
}
