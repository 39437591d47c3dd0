//! inotify: `inotify_init`, `inotify_init1`, `inotify_add_watch` and `inotify_rm_watch`.
//!
//! Instances, watches and events live in [`fs::notify`]; this layer applies Linux's
//! argument checks, in Linux's order: the mask's bits, the fd, the flag combination, that
//! the fd is an inotify instance, the path (followed unless `IN_DONT_FOLLOW`, a directory
//! with `IN_ONLYDIR`), then read permission on the object.

use super::uaccess::AT_FDCWD;
use crate::errno::SysResult;
use crate::kernel::task::Task;
use fs::notify::{self, Inotify};
use fs::{FileType, OpenFile};
use libc::{IN_CLOEXEC, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_NONBLOCK, IN_ONLYDIR};
use nix::errno::Errno;
use std::sync::Arc;

/// `inotify_init()`.
pub fn inotify_init(task: &mut Task) -> SysResult {
    init(task, 0)
}

/// `inotify_init1(flags)`.
pub fn inotify_init1(task: &mut Task) -> SysResult {
    init(task, task.arg(0) as i32)
}

fn init(task: &mut Task, flags: i32) -> SysResult {
    if flags & !(IN_CLOEXEC | IN_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let euid = task.process.creds.lock().euid;
    let file = OpenFile::new(
        Box::new(Inotify::new(euid)?),
        libc::O_RDONLY | (flags & IN_NONBLOCK),
        None,
    );
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    let fd = task
        .files
        .lock()
        .insert(file, flags & IN_CLOEXEC != 0, 0, limit)?;
    Ok(fd as u64)
}

/// The inotify instance open as `file`, or `EINVAL`.
fn instance(file: &Arc<OpenFile>) -> Result<&Inotify, Errno> {
    Inotify::of(file).ok_or(Errno::EINVAL)
}

/// `inotify_add_watch(fd, path, mask)`.
pub fn inotify_add_watch(task: &mut Task) -> SysResult {
    let (fd, mask) = (task.arg(0) as i32, task.arg(2) as u32);
    notify::check_mask(mask)?;
    let file = task.file(fd)?;
    if mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0 {
        return Err(Errno::EINVAL.into());
    }
    let inotify = instance(&file)?;
    let path = task.read_path(task.arg(1))?;
    let target = task.lookup_at(AT_FDCWD, &path, mask & IN_DONT_FOLLOW == 0)?;
    let st = target.inode().stat()?;
    let is_dir = st.file_type() == FileType::Dir;
    if mask & IN_ONLYDIR != 0 && !is_dir {
        return Err(Errno::ENOTDIR.into());
    }
    let creds = *task.process.creds.lock();
    if !creds.permits(st.mode, st.uid, st.gid, 4, false, is_dir) {
        return Err(Errno::EACCES.into());
    }
    Ok(inotify.add_watch(&target, mask)? as u64)
}

/// `inotify_rm_watch(fd, wd)`.
pub fn inotify_rm_watch(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    instance(&file)?.rm_watch(task.arg(1) as i32)?;
    Ok(0)
}
