//! The overlay: a read-only lower tree (the host root) under a writable tmpfs upper tree.
//!
//! Every object is looked up in the upper layer first, then in the lower one. Writing an
//! object that exists only below copies it up first (its parent directories too), so the
//! lower layer is never written. Removing a lower object leaves a *whiteout* in the upper
//! directory that hides it; a directory created over a whiteout is *opaque* (it hides the
//! lower directory's entries). Directories list the union of both layers.

use crate::Result;
use crate::file::FileOps;
use crate::inode::{FileType, Inode, SetAttr, Stat, StatFs, TimeChange};
use crate::synth::{DirListing, next_ino};
use crate::tmpfs::{TmpFs, TmpNode};
use crate::wait::Waiter;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An object of the merged tree.
pub struct OvInode {
    /// The directory it was found in (`None` for the root); copy-up walks up through it.
    parent: Option<Arc<OvInode>>,
    name: Vec<u8>,
    lower: Option<Arc<dyn Inode>>,
    /// The upper copy once known (found through the parent's upper directory).
    upper: Mutex<Option<Arc<TmpNode>>>,
    me: std::sync::Weak<OvInode>,
}

/// Builds an overlay of `lower` (never written) under a fresh tmpfs of `limit` bytes.
pub fn overlay(lower: Arc<dyn Inode>, limit: u64) -> Result<Arc<OvInode>> {
    let mode = lower.stat()?.mode;
    let upper = TmpFs::root(limit, mode & 0o7777);
    Ok(OvInode::new(None, Vec::new(), Some(lower), Some(upper)))
}

fn is_dir(i: &dyn Inode) -> bool {
    i.file_type() == FileType::Dir
}

/// Every entry of a directory that is not `.`/`..`, as (name, type).
fn list(dir: &Arc<dyn Inode>) -> Result<Vec<(Vec<u8>, u8)>> {
    let file = dir.open(libc::O_RDONLY | libc::O_DIRECTORY)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32768];
    loop {
        let n = file.getdents(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        let mut at = 0;
        while at < n {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let dtype = buf[at + 18];
            let name: Vec<u8> = buf[at + 19..at + reclen]
                .iter()
                .take_while(|&&c| c != 0)
                .copied()
                .collect();
            if name != b"." && name != b".." {
                out.push((name, dtype));
            }
            at += reclen;
        }
    }
}

impl OvInode {
    fn new(
        parent: Option<Arc<OvInode>>,
        name: Vec<u8>,
        lower: Option<Arc<dyn Inode>>,
        upper: Option<Arc<TmpNode>>,
    ) -> Arc<OvInode> {
        Arc::new_cyclic(|me| OvInode {
            parent,
            name,
            lower,
            upper: Mutex::new(upper),
            me: me.clone(),
        })
    }

    /// The tmpfs holding the upper layer (for memory accounting).
    pub fn upper_fs(&self) -> Option<Arc<TmpFs>> {
        self.upper().map(|u| u.fs().clone())
    }

    /// The upper copy: known already, or looked up in the parent's upper directory (an
    /// object copied up through another handle of it).
    fn upper(&self) -> Option<Arc<TmpNode>> {
        if let Some(u) = self.upper.lock().clone() {
            return Some(u);
        }
        let found = self
            .parent
            .as_ref()?
            .upper()?
            .child(&self.name)
            .filter(|c| !c.is_whiteout())?;
        *self.upper.lock() = Some(found.clone());
        Some(found)
    }

    /// The lower directory's entries are visible (no opaque upper directory hides them).
    fn lower_visible(&self) -> Option<&Arc<dyn Inode>> {
        match self.upper() {
            Some(u) if u.is_opaque() => None,
            _ => self.lower.as_ref(),
        }
    }

    /// Whether `name` exists in the lower layer of this directory (and is not hidden).
    fn lower_has(&self, name: &[u8]) -> bool {
        self.lower_visible().is_some_and(|l| l.lookup(name).is_ok())
    }

    /// Makes sure this object has an upper copy, copying it (and its parents) up.
    fn copy_up(self: &Arc<Self>) -> Result<Arc<TmpNode>> {
        if let Some(u) = self.upper() {
            return Ok(u);
        }
        let parent = self.parent.as_ref().ok_or(Errno::EROFS)?;
        let pu = parent.copy_up()?;
        let lower = self.lower.as_ref().ok_or(Errno::ENOENT)?;
        let mut slot = self.upper.lock();
        if let Some(u) = slot.as_ref() {
            return Ok(u.clone());
        }
        // Another lookup of the same name may have copied it up already.
        if let Some(existing) = pu.child(&self.name).filter(|c| !c.is_whiteout()) {
            *slot = Some(existing.clone());
            return Ok(existing);
        }
        let st = lower.stat()?;
        let perm = st.mode & 0o7777;
        match st.file_type() {
            FileType::Dir => pu.mkdir(&self.name, perm)?,
            FileType::Regular => {
                let (_, out) = pu.create(&self.name, libc::O_WRONLY | libc::O_EXCL, perm)?;
                let src = lower.open(libc::O_RDONLY)?;
                let mut buf = vec![0u8; 1 << 20];
                let mut off = 0u64;
                loop {
                    let n = src.pread(&mut buf, off)?;
                    if n == 0 {
                        break;
                    }
                    out.pwrite(&buf[..n], off)?;
                    off += n as u64;
                }
            }
            FileType::Symlink => pu.symlink(&self.name, &lower.readlink()?)?,
            _ => pu.mknod(&self.name, st.mode, st.rdev)?,
        }
        let node = pu.child(&self.name).ok_or(Errno::EIO)?;
        node.setattr(SetAttr::Owner(st.uid, st.gid))?;
        if st.file_type() != FileType::Symlink {
            node.setattr(SetAttr::Mode(perm))?;
        }
        node.setattr(SetAttr::Times(
            TimeChange::Set(st.atime),
            TimeChange::Set(st.mtime),
        ))?;
        // Attributes the upper layer cannot hold (POSIX ACLs) are left behind.
        for name in lower.listxattr().unwrap_or_default() {
            if let Ok(value) = lower.getxattr(&name) {
                let _ = node.setxattr(&name, &value, 0);
            }
        }
        if let Ok(copied) = node.stat() {
            crate::notify::identity_changed(&st, &copied);
        }
        *slot = Some(node.clone());
        Ok(node)
    }

    /// Copies a directory and everything below it up (before a rename of a lower
    /// directory), then marks it opaque: the upper copy is complete.
    fn copy_up_tree(self: &Arc<Self>) -> Result<Arc<TmpNode>> {
        let upper = self.copy_up()?;
        if !is_dir(upper.as_ref()) {
            return Ok(upper);
        }
        if let Some(lower) = self.lower_visible().cloned() {
            for (name, _) in list(&lower)? {
                if upper.child(&name).is_some() {
                    continue;
                }
                let child = self.child_of(&name)?;
                child.copy_up_tree()?;
            }
        }
        upper.set_opaque(true);
        Ok(upper)
    }

    /// The merged child `name` of this directory.
    fn child_of(self: &Arc<Self>, name: &[u8]) -> Result<Arc<OvInode>> {
        let upper = self.upper().and_then(|u| u.child(name));
        if let Some(u) = &upper
            && u.is_whiteout()
        {
            return Err(Errno::ENOENT);
        }
        // A lower object shows through unless the upper one hides it: an upper
        // non-directory or an opaque upper directory.
        let lower = match &upper {
            Some(u) if !is_dir(u.as_ref()) || u.is_opaque() => None,
            _ => self.lower_visible().and_then(|l| l.lookup(name).ok()),
        };
        let lower = match (&upper, lower) {
            // Only directories merge.
            (Some(_), Some(l)) if !is_dir(l.as_ref()) => None,
            (_, l) => l,
        };
        if upper.is_none() && lower.is_none() {
            return Err(Errno::ENOENT);
        }
        Ok(OvInode::new(
            Some(self.clone()),
            name.to_vec(),
            lower,
            upper,
        ))
    }

    /// Clears a whiteout at `name` before creating something there; returns whether one
    /// was there (a directory created over it must be opaque).
    fn clear_whiteout(upper: &TmpNode, name: &[u8]) -> bool {
        match upper.child(name) {
            Some(c) if c.is_whiteout() => {
                upper.remove_entry(name);
                true
            }
            _ => false,
        }
    }

    /// Prepares a create of `name`: the directory is copied up and no merged object of
    /// that name may exist.
    fn for_create(self: &Arc<Self>, name: &[u8]) -> Result<(Arc<TmpNode>, bool)> {
        if self.child_of(name).is_ok() {
            return Err(Errno::EEXIST);
        }
        let upper = self.copy_up()?;
        let was_whiteout = Self::clear_whiteout(&upper, name);
        Ok((upper, was_whiteout))
    }

    fn arc(&self) -> Arc<OvInode> {
        self.me.upgrade().expect("overlay inodes live in Arcs")
    }

    fn other(inode: &dyn Inode) -> Result<&OvInode> {
        inode.as_any().downcast_ref::<OvInode>().ok_or(Errno::EXDEV)
    }

    /// Whether the merged directory has entries.
    fn has_entries(self: &Arc<Self>) -> Result<bool> {
        if let Some(u) = self.upper()
            && u.entries().iter().any(|(_, c)| !c.is_whiteout())
        {
            return Ok(true);
        }
        if let Some(l) = self.lower_visible() {
            for (name, _) in list(l)? {
                if self.child_of(&name).is_ok() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

impl Inode for OvInode {
    fn file_type(&self) -> FileType {
        match (self.upper(), &self.lower) {
            (Some(u), _) => u.file_type(),
            (None, Some(l)) => l.file_type(),
            (None, None) => FileType::Regular,
        }
    }

    fn stat(&self) -> Result<Stat> {
        match (self.upper(), &self.lower) {
            (Some(u), _) => u.stat(),
            (None, Some(l)) => l.stat(),
            (None, None) => Err(Errno::ENOENT),
        }
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if !is_dir(self) {
            return Err(Errno::ENOTDIR);
        }
        Ok(self.arc().child_of(name)?)
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        match (self.upper(), &self.lower) {
            (Some(u), _) => u.readlink(),
            (None, Some(l)) => l.readlink(),
            (None, None) => Err(Errno::ENOENT),
        }
    }

    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        let me = self.arc();
        if is_dir(self) {
            if flags & libc::O_ACCMODE != libc::O_RDONLY {
                return Err(Errno::EISDIR);
            }
            return me.open_dir();
        }
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        if writes || self.upper().is_some() {
            let upper = me.copy_up()?;
            // Remember the copy for later operations through this inode too.
            *self.upper.lock() = Some(upper.clone());
            return upper.open(flags);
        }
        self.lower.as_ref().ok_or(Errno::ENOENT)?.open(flags)
    }

    fn create(
        &self,
        name: &[u8],
        flags: i32,
        mode: u32,
    ) -> Result<(Arc<dyn Inode>, Box<dyn FileOps>)> {
        let me = self.arc();
        let (upper, _) = me.for_create(name)?;
        let (node, ops) = upper.create(name, flags, mode)?;
        let node = node
            .as_any()
            .downcast_ref::<TmpNode>()
            .and_then(|_| upper.child(name))
            .ok_or(Errno::EIO)?;
        let inode = OvInode::new(Some(me), name.to_vec(), None, Some(node));
        Ok((inode, ops))
    }

    fn mkdir(&self, name: &[u8], mode: u32) -> Result<()> {
        let me = self.arc();
        let (upper, was_whiteout) = me.for_create(name)?;
        upper.mkdir(name, mode)?;
        if was_whiteout && let Some(d) = upper.child(name) {
            d.set_opaque(true);
        }
        Ok(())
    }

    fn mknod(&self, name: &[u8], mode: u32, rdev: u64) -> Result<()> {
        let (upper, _) = self.arc().for_create(name)?;
        upper.mknod(name, mode, rdev)
    }

    fn symlink(&self, name: &[u8], target: &[u8]) -> Result<()> {
        let (upper, _) = self.arc().for_create(name)?;
        upper.symlink(name, target)
    }

    fn link(&self, name: &[u8], target: &dyn Inode) -> Result<()> {
        let target = Self::other(target)?.arc();
        let (upper, _) = self.arc().for_create(name)?;
        let node = target.copy_up()?;
        upper.link(name, node.as_ref())
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        let me = self.arc();
        let child = me.child_of(name)?;
        if is_dir(child.as_ref()) {
            return Err(Errno::EISDIR);
        }
        let upper = me.copy_up()?;
        if me.lower_has(name) {
            upper.whiteout(name)
        } else {
            upper.unlink(name)
        }
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        let me = self.arc();
        let child = me.child_of(name)?;
        if !is_dir(child.as_ref()) {
            return Err(Errno::ENOTDIR);
        }
        if child.has_entries()? {
            return Err(Errno::ENOTEMPTY);
        }
        let upper = me.copy_up()?;
        if me.lower_has(name) {
            upper.whiteout(name)
        } else {
            upper.remove_entry(name);
            Ok(())
        }
    }

    fn rename(&self, name: &[u8], new_dir: &dyn Inode, new_name: &[u8], flags: u32) -> Result<()> {
        if flags & libc::RENAME_EXCHANGE != 0 {
            return Err(Errno::EINVAL);
        }
        let me = self.arc();
        let dst_dir = Self::other(new_dir)?.arc();
        let src = me.child_of(name)?;
        match dst_dir.child_of(new_name) {
            Ok(dst) => {
                if flags & libc::RENAME_NOREPLACE != 0 {
                    return Err(Errno::EEXIST);
                }
                match (is_dir(src.as_ref()), is_dir(dst.as_ref())) {
                    (true, true) if dst.has_entries()? => return Err(Errno::ENOTEMPTY),
                    (true, false) => return Err(Errno::ENOTDIR),
                    (false, true) => return Err(Errno::EISDIR),
                    _ => {}
                }
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        src.copy_up_tree()?;
        let from = me.copy_up()?;
        let to = dst_dir.copy_up()?;
        let covered_lower = dst_dir.lower_has(new_name);
        OvInode::clear_whiteout(&to, new_name);
        from.rename(name, to.as_ref(), new_name, 0)?;
        if covered_lower
            && let Some(moved) = to.child(new_name)
            && is_dir(moved.as_ref())
        {
            moved.set_opaque(true);
        }
        if me.lower_has(name) {
            from.whiteout(name)?;
        }
        Ok(())
    }

    fn setattr(&self, attr: SetAttr) -> Result<()> {
        let upper = self.arc().copy_up()?;
        *self.upper.lock() = Some(upper.clone());
        upper.setattr(attr)
    }

    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>> {
        match (self.upper(), &self.lower) {
            (Some(u), _) => u.getxattr(name),
            (None, Some(l)) => l.getxattr(name),
            (None, None) => Err(Errno::ENOENT),
        }
    }

    fn setxattr(&self, name: &[u8], value: &[u8], flags: i32) -> Result<()> {
        let upper = self.arc().copy_up()?;
        *self.upper.lock() = Some(upper.clone());
        upper.setxattr(name, value, flags)
    }

    fn listxattr(&self) -> Result<Vec<Vec<u8>>> {
        match (self.upper(), &self.lower) {
            (Some(u), _) => u.listxattr(),
            (None, Some(l)) => l.listxattr(),
            (None, None) => Err(Errno::ENOENT),
        }
    }

    fn removexattr(&self, name: &[u8]) -> Result<()> {
        let upper = self.arc().copy_up()?;
        *self.upper.lock() = Some(upper.clone());
        upper.removexattr(name)
    }

    fn statfs(&self) -> Result<StatFs> {
        match &self.lower {
            Some(l) => l.statfs(),
            None => self.upper().ok_or(Errno::ENOENT)?.statfs(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl OvInode {
    /// Opens a merged directory: a snapshot of both layers' entries.
    fn open_dir(self: &Arc<Self>) -> Result<Box<dyn FileOps>> {
        let mut names: BTreeMap<Vec<u8>, (u64, FileType)> = BTreeMap::new();
        if let Some(l) = self.lower_visible() {
            for (name, _) in list(l)? {
                if let Ok(c) = self.child_of(&name) {
                    let st = c.stat()?;
                    names.insert(name, (st.ino, st.file_type()));
                }
            }
        }
        if let Some(u) = self.upper() {
            for (name, c) in u.entries() {
                if !c.is_whiteout() {
                    let st = c.stat()?;
                    names.insert(name, (st.ino, st.file_type()));
                }
            }
        }
        let ino = self.stat().map(|s| s.ino).unwrap_or_else(|_| next_ino());
        let mut entries = vec![
            (ino, FileType::Dir, b".".to_vec()),
            (ino, FileType::Dir, b"..".to_vec()),
        ];
        entries.extend(names.into_iter().map(|(n, (i, t))| (i, t, n)));
        Ok(Box::new(MergedDir {
            listing: DirListing::new(ino, entries),
            stat: self.stat()?,
        }))
    }
}

/// An open merged directory.
struct MergedDir {
    listing: DirListing,
    stat: Stat,
}

impl FileOps for MergedDir {
    fn getdents(&self, buf: &mut [u8]) -> Result<usize> {
        self.listing.getdents(buf)
    }
    fn seek(&self, off: i64, whence: i32) -> Result<u64> {
        self.listing.seek(off, whence)
    }
    fn stat(&self) -> Result<Stat> {
        Ok(self.stat)
    }
    fn read(&self, _w: &Arc<Waiter>, _buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::EISDIR)
    }
}

/// A read-only view of a tree (`--bind HOST:GUEST:ro`): every change fails with EROFS.
pub struct ReadOnly(pub Arc<dyn Inode>);

impl Inode for ReadOnly {
    fn file_type(&self) -> FileType {
        self.0.file_type()
    }
    fn stat(&self) -> Result<Stat> {
        self.0.stat()
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        Ok(Arc::new(ReadOnly(self.0.lookup(name)?)))
    }
    fn readlink(&self) -> Result<Vec<u8>> {
        self.0.readlink()
    }
    fn open(&self, flags: i32) -> Result<Box<dyn FileOps>> {
        if flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0 {
            return Err(Errno::EROFS);
        }
        self.0.open(flags)
    }
    fn create(
        &self,
        _name: &[u8],
        _flags: i32,
        _mode: u32,
    ) -> Result<(Arc<dyn Inode>, Box<dyn FileOps>)> {
        Err(Errno::EROFS)
    }
    fn mkdir(&self, _name: &[u8], _mode: u32) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn mknod(&self, _name: &[u8], _mode: u32, _rdev: u64) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn symlink(&self, _name: &[u8], _target: &[u8]) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn link(&self, _name: &[u8], _target: &dyn Inode) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn unlink(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn rmdir(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn rename(
        &self,
        _name: &[u8],
        _new_dir: &dyn Inode,
        _new_name: &[u8],
        _flags: u32,
    ) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn setattr(&self, _attr: SetAttr) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn getxattr(&self, name: &[u8]) -> Result<Vec<u8>> {
        self.0.getxattr(name)
    }
    fn setxattr(&self, _name: &[u8], _value: &[u8], _flags: i32) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn listxattr(&self) -> Result<Vec<Vec<u8>>> {
        self.0.listxattr()
    }
    fn removexattr(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn statfs(&self) -> Result<StatFs> {
        let mut s = self.0.statfs()?;
        s.flags |= libc::ST_RDONLY as i64;
        Ok(s)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostInode;

    fn tree() -> (std::path::PathBuf, Arc<OvInode>) {
        let base =
            std::env::temp_dir().join(format!("sentry-ovl-{}-{}", std::process::id(), next_ino()));
        std::fs::create_dir_all(base.join("d/sub")).unwrap();
        std::fs::write(base.join("d/f"), b"lower").unwrap();
        std::fs::write(base.join("d/sub/g"), b"deep").unwrap();
        let ov = overlay(HostInode::open_root(&base).unwrap(), 1 << 24).unwrap();
        (base, ov)
    }

    fn read_all(i: &Arc<dyn Inode>) -> Vec<u8> {
        let f = i.open(libc::O_RDONLY).unwrap();
        let mut b = vec![0u8; 100];
        let n = f.pread(&mut b, 0).unwrap();
        b.truncate(n);
        b
    }

    #[test]
    fn extended_attributes_copy_up_and_never_reach_the_lower_layer() {
        let (base, ov) = tree();
        let lower = HostInode::open_root(&base).unwrap();
        let lower_f = lower.lookup(b"d").unwrap().lookup(b"f").unwrap();
        lower_f.setxattr(b"user.low", b"1", 0).unwrap();
        let f = ov.lookup(b"d").unwrap().lookup(b"f").unwrap();
        assert_eq!(f.getxattr(b"user.low").unwrap(), b"1");
        f.setxattr(b"user.up", b"2", 0).unwrap();
        f.removexattr(b"user.low").unwrap();
        assert_eq!(f.listxattr().unwrap(), vec![b"user.up".to_vec()]);
        assert_eq!(read_all(&f), b"lower");
        let again = ov.lookup(b"d").unwrap().lookup(b"f").unwrap();
        assert_eq!(again.getxattr(b"user.up").unwrap(), b"2");
        assert_eq!(again.getxattr(b"user.low"), Err(Errno::ENODATA));
        assert_eq!(lower_f.listxattr().unwrap(), vec![b"user.low".to_vec()]);
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn writes_copy_up_and_never_reach_the_lower_layer() {
        let (base, ov) = tree();
        let d = ov.lookup(b"d").unwrap();
        let f = d.lookup(b"f").unwrap();
        let w = Waiter::new();
        let out = f.open(libc::O_WRONLY | libc::O_TRUNC).unwrap();
        out.write(&w, b"upper", false).unwrap();
        assert_eq!(read_all(&d.lookup(b"f").unwrap()), b"upper");
        assert_eq!(std::fs::read(base.join("d/f")).unwrap(), b"lower");
        d.unlink(b"f").unwrap();
        assert_eq!(d.lookup(b"f").err(), Some(Errno::ENOENT));
        assert!(base.join("d/f").exists());
        d.mkdir(b"new", 0o755).unwrap();
        assert!(!base.join("d/new").exists());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn removing_and_renaming_directories() {
        let (base, ov) = tree();
        let d = ov.lookup(b"d").unwrap();
        assert_eq!(ov.rmdir(b"d"), Err(Errno::ENOTEMPTY));
        ov.rename(b"d", ov.as_ref(), b"e", 0).unwrap();
        assert_eq!(ov.lookup(b"d").err(), Some(Errno::ENOENT));
        let e = ov.lookup(b"e").unwrap();
        assert_eq!(
            read_all(&e.lookup(b"sub").unwrap().lookup(b"g").unwrap()),
            b"deep"
        );
        assert!(base.join("d/sub/g").exists(), "the host keeps its tree");
        drop(d);
        let sub = e.lookup(b"sub").unwrap();
        sub.unlink(b"g").unwrap();
        e.rmdir(b"sub").unwrap();
        e.unlink(b"f").unwrap();
        ov.rmdir(b"e").unwrap();
        // A directory made where a lower one was removed starts empty.
        ov.mkdir(b"d", 0o755).unwrap();
        let fresh = ov.lookup(b"d").unwrap();
        let listing = fresh.open(libc::O_RDONLY).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = listing.getdents(&mut buf).unwrap();
        assert_eq!(n, 48, "only . and .. in the new directory");
        let _ = std::fs::remove_dir_all(&base);
    }
}
