//! Extended attribute syscalls: `getxattr`, `setxattr`, `listxattr` and `removexattr`,
//! each on a path (following a final symlink), on a path without following it (the `l`
//! forms) and on an open file (the `f` forms).
//!
//! This layer applies the rules Linux's VFS checks before a filesystem sees the call:
//! name and size limits, which namespaces exist, that `trusted.` attributes are root's
//! and `user.` ones belong to regular files and directories only. Filesystems store the
//! attributes ([`fs::Inode::getxattr`] and relatives): host files on the host, in-memory
//! ones in the sentry.

use super::uaccess::AT_FDCWD;
use crate::errno::{SysErr, SysResult};
use crate::kernel::task::Task;
use fs::{Dentry, FileType, Inode, Stat};
use nix::errno::Errno;
use std::sync::Arc;

/// Longest attribute name (`XATTR_NAME_MAX`).
const NAME_MAX: usize = 255;
/// Largest attribute value (`XATTR_SIZE_MAX`).
const SIZE_MAX: usize = 65536;
/// Largest name list `listxattr` returns (`XATTR_LIST_MAX`).
const LIST_MAX: usize = 65536;

/// How a call names its object: argument 0 is a path whose final symlink is followed, a
/// path whose final symlink is the object, or an fd.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Path,
    LinkPath,
    Fd,
}

/// The object of the call: its attributes, and its dentry unless it is an open file that
/// has none (a pipe or a socket), which has no extended attributes.
struct Object {
    stat: Stat,
    dentry: Option<Arc<Dentry>>,
}

impl Object {
    fn find(task: &Task, target: Target) -> Result<Object, SysErr> {
        let dentry = if target == Target::Fd {
            let file = task.file(task.arg(0) as i32)?;
            match &file.dentry {
                Some(d) => d.clone(),
                None => {
                    return Ok(Object {
                        stat: file.ops.stat()?,
                        dentry: None,
                    });
                }
            }
        } else {
            let path = task.read_path(task.arg(0))?;
            task.lookup_at(AT_FDCWD, &path, target == Target::Path)?
        };
        Ok(Object {
            stat: dentry.inode().stat()?,
            dentry: Some(dentry),
        })
    }

    /// The inode, for the calls only filesystems answer.
    fn inode(&self) -> Result<&Arc<dyn Inode>, SysErr> {
        self.dentry
            .as_ref()
            .map(|d| d.inode())
            .ok_or(SysErr::Errno(Errno::EOPNOTSUPP))
    }

    /// The attributes changed: inotify's `IN_ATTRIB`.
    fn changed(&self) {
        if let Some(d) = &self.dentry {
            fs::notify::dentry_event(d, libc::IN_ATTRIB);
        }
    }

    /// Whether the caller may read (or, with `write`, change) attribute `name`, as
    /// Linux's `xattr_permission` decides, then whether the name is one Linux knows.
    fn check(&self, task: &Task, name: &[u8], write: bool) -> Result<(), SysErr> {
        permission(task, &self.stat, name, write)?;
        check_namespace(name)
    }
}

/// Reads an attribute name: 1 to 255 bytes, else `ERANGE`.
fn read_name(task: &Task, addr: u64) -> Result<Vec<u8>, SysErr> {
    let name = task
        .mm()
        .read_cstring(addr, NAME_MAX)
        .map_err(|e| match e {
            mm::MmError::TooLong => SysErr::Errno(Errno::ERANGE),
            e => e.into(),
        })?;
    if name.is_empty() {
        return Err(Errno::ERANGE.into());
    }
    Ok(name)
}

/// Linux's `xattr_permission` for an object with attributes `st`: `trusted.` is root's;
/// `user.` attributes belong to regular files and directories (a sticky directory's to
/// its owner); otherwise the object's permission bits decide.
fn permission(task: &Task, st: &Stat, name: &[u8], write: bool) -> Result<(), SysErr> {
    let denied = if write { Errno::EPERM } else { Errno::ENODATA };
    let creds = *task.process.creds.lock();
    let privileged = creds.euid == 0;
    if name.starts_with(b"security.") || name.starts_with(b"system.") {
        return Ok(());
    }
    if name.starts_with(b"trusted.") {
        return if privileged {
            Ok(())
        } else {
            Err(denied.into())
        };
    }
    let ft = st.file_type();
    if name.starts_with(b"user.") {
        if ft != FileType::Regular && ft != FileType::Dir {
            return Err(denied.into());
        }
        let sticky_dir = ft == FileType::Dir && st.mode & libc::S_ISVTX != 0;
        if sticky_dir && write && !privileged && creds.euid != st.uid {
            return Err(Errno::EPERM.into());
        }
    }
    let want = if write { 2 } else { 4 };
    if creds.permits(st.mode, st.uid, st.gid, want, false, ft == FileType::Dir) {
        Ok(())
    } else {
        Err(Errno::EACCES.into())
    }
}

/// Checks that `name` is in a namespace Linux knows and goes beyond its prefix
/// (`system.` names are the filesystem's to judge).
fn check_namespace(name: &[u8]) -> Result<(), SysErr> {
    for prefix in [&b"user."[..], b"trusted.", b"security."] {
        if name.starts_with(prefix) {
            return if name.len() == prefix.len() {
                Err(Errno::EINVAL.into())
            } else {
                Ok(())
            };
        }
    }
    if name.starts_with(b"system.") {
        Ok(())
    } else {
        Err(Errno::EOPNOTSUPP.into())
    }
}

/// Copies `data` to the guest buffer of `size` bytes at `addr` as the `get` and `list`
/// calls do: `size` 0 only asks for the length; a buffer too small is `ERANGE`.
fn copy_out(task: &Task, addr: u64, size: usize, data: &[u8], max: usize) -> SysResult {
    if size == 0 {
        return Ok(data.len() as u64);
    }
    if data.len() > size.min(max) {
        return Err(if size >= max {
            Errno::E2BIG
        } else {
            Errno::ERANGE
        }
        .into());
    }
    task.mm().write(addr, data)?;
    Ok(data.len() as u64)
}

fn get(task: &mut Task, target: Target) -> SysResult {
    let name = read_name(task, task.arg(1))?;
    let obj = Object::find(task, target)?;
    obj.check(task, &name, false)?;
    let value = obj.inode()?.getxattr(&name)?;
    copy_out(task, task.arg(2), task.arg(3) as usize, &value, SIZE_MAX)
}

fn set(task: &mut Task, target: Target) -> SysResult {
    let flags = task.arg(4) as i32;
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let name = read_name(task, task.arg(1))?;
    let size = task.arg(3) as usize;
    if size > SIZE_MAX {
        return Err(Errno::E2BIG.into());
    }
    let mut value = vec![0u8; size];
    task.mm().read(task.arg(2), &mut value)?;
    let obj = Object::find(task, target)?;
    obj.check(task, &name, true)?;
    obj.inode()?.setxattr(&name, &value, flags)?;
    obj.changed();
    Ok(0)
}

fn list(task: &mut Task, target: Target) -> SysResult {
    let names = match Object::find(task, target)?.dentry {
        Some(d) => d.inode().listxattr()?,
        None => Vec::new(),
    };
    let privileged = task.process.creds.lock().euid == 0;
    let mut out = Vec::new();
    for name in names {
        if privileged || !name.starts_with(b"trusted.") {
            out.extend_from_slice(&name);
            out.push(0);
        }
    }
    copy_out(task, task.arg(1), task.arg(2) as usize, &out, LIST_MAX)
}

fn remove(task: &mut Task, target: Target) -> SysResult {
    let name = read_name(task, task.arg(1))?;
    let obj = Object::find(task, target)?;
    obj.check(task, &name, true)?;
    obj.inode()?.removexattr(&name)?;
    obj.changed();
    Ok(0)
}

/// `getxattr(path, name, value, size)`.
pub fn getxattr(task: &mut Task) -> SysResult {
    get(task, Target::Path)
}

/// `lgetxattr(path, name, value, size)`.
pub fn lgetxattr(task: &mut Task) -> SysResult {
    get(task, Target::LinkPath)
}

/// `fgetxattr(fd, name, value, size)`.
pub fn fgetxattr(task: &mut Task) -> SysResult {
    get(task, Target::Fd)
}

/// `setxattr(path, name, value, size, flags)`.
pub fn setxattr(task: &mut Task) -> SysResult {
    set(task, Target::Path)
}

/// `lsetxattr(path, name, value, size, flags)`.
pub fn lsetxattr(task: &mut Task) -> SysResult {
    set(task, Target::LinkPath)
}

/// `fsetxattr(fd, name, value, size, flags)`.
pub fn fsetxattr(task: &mut Task) -> SysResult {
    set(task, Target::Fd)
}

/// `listxattr(path, list, size)`.
pub fn listxattr(task: &mut Task) -> SysResult {
    list(task, Target::Path)
}

/// `llistxattr(path, list, size)`.
pub fn llistxattr(task: &mut Task) -> SysResult {
    list(task, Target::LinkPath)
}

/// `flistxattr(fd, list, size)`.
pub fn flistxattr(task: &mut Task) -> SysResult {
    list(task, Target::Fd)
}

/// `removexattr(path, name)`.
pub fn removexattr(task: &mut Task) -> SysResult {
    remove(task, Target::Path)
}

/// `lremovexattr(path, name)`.
pub fn lremovexattr(task: &mut Task) -> SysResult {
    remove(task, Target::LinkPath)
}

/// `fremovexattr(fd, name)`.
pub fn fremovexattr(task: &mut Task) -> SysResult {
    remove(task, Target::Fd)
}
