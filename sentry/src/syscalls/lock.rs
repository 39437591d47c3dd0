//! Advisory file locks: `fcntl`'s record locks (`F_GETLK`, `F_SETLK`, `F_SETLKW` and their
//! open file description forms `F_OFD_*`) and `flock`, kept in the sandbox's lock table
//! ([`fs::lock`]) and never passed on to the host. `lockf` is libc's, on top of `fcntl`.

use crate::abi::Flock;
use crate::errno::SysResult;
use crate::kernel::task::Task;
use fs::OpenFile;
use fs::lock::{Holder, LockKind};
use nix::errno::Errno;
use std::sync::Arc;

/// The lock kind of an `l_type` (`None` for `F_UNLCK`).
fn kind_of(l_type: i16) -> Result<Option<LockKind>, Errno> {
    match i32::from(l_type) {
        libc::F_RDLCK => Ok(Some(LockKind::Read)),
        libc::F_WRLCK => Ok(Some(LockKind::Write)),
        libc::F_UNLCK => Ok(None),
        _ => Err(Errno::EINVAL),
    }
}

/// The `l_type` of a lock kind.
fn type_of(kind: LockKind) -> i16 {
    match kind {
        LockKind::Read => libc::F_RDLCK as i16,
        LockKind::Write => libc::F_WRLCK as i16,
    }
}

/// `fcntl(fd, cmd, &flock)` for the record lock commands, on `file` (what `fd` refers
/// to). Checks come in Linux's order: the request's range and type (`EINVAL`,
/// `EOVERFLOW`), the access mode a lock needs (`EBADF`), then `l_pid` of an OFD request.
pub fn fcntl(task: &Task, fd: i32, file: Arc<OpenFile>, cmd: i32, arg: u64) -> SysResult {
    if file.is_path_only() {
        return Err(Errno::EBADF.into());
    }
    let mut fl: Flock = task.read_obj(arg)?;
    let ofd = matches!(
        cmd,
        libc::F_OFD_GETLK | libc::F_OFD_SETLK | libc::F_OFD_SETLKW
    );
    let test = matches!(cmd, libc::F_GETLK | libc::F_OFD_GETLK);
    if test && !ofd && !matches!(i32::from(fl.l_type), libc::F_RDLCK | libc::F_WRLCK) {
        return Err(Errno::EINVAL.into());
    }
    let range = fs::lock::range_of(&file, fl.l_whence, fl.l_start, fl.l_len)?;
    let kind = kind_of(fl.l_type)?;
    let permitted = match kind {
        Some(LockKind::Read) => file.readable(),
        Some(LockKind::Write) => file.writable(),
        None => true,
    };
    if !test && !permitted {
        return Err(Errno::EBADF.into());
    }
    if ofd && fl.l_pid != 0 {
        return Err(Errno::EINVAL.into());
    }
    let owner = task.files.lock().lock_owner().clone();
    let holder = if ofd {
        Holder::Description
    } else {
        Holder::Process(&owner, task.process.pid)
    };
    let locks = &task.kernel.locks;
    if test {
        match locks.test_record(&file, holder, kind, range)? {
            Some(l) => {
                fl.l_type = type_of(l.kind);
                fl.l_whence = libc::SEEK_SET as i16;
                fl.l_start = l.start;
                fl.l_len = l.l_len();
                fl.l_pid = l.pid;
            }
            None => fl.l_type = libc::F_UNLCK as i16,
        }
        task.write_obj(arg, &fl)?;
        return Ok(0);
    }
    let wait = matches!(cmd, libc::F_SETLKW | libc::F_OFD_SETLKW).then(|| task.waiter());
    locks.set_record(&file, holder, kind, range, wait)?;
    // Another thread may have closed the fd while the lock was being taken: the close
    // could not drop a lock that did not exist yet, so drop it now (as Linux does).
    if !ofd && kind.is_some() {
        let still_open = task
            .files
            .lock()
            .file(fd)
            .is_ok_and(|f| Arc::ptr_eq(&f, &file));
        if !still_open {
            locks.set_record(&file, holder, None, range, None)?;
            return Err(Errno::EBADF.into());
        }
    }
    Ok(0)
}

/// `flock(fd, op)`: `LOCK_SH`, `LOCK_EX` or `LOCK_UN` on the open file description, with
/// `LOCK_NB` failing with `EWOULDBLOCK` instead of waiting. As on Linux, the operation is
/// checked before the fd.
pub fn flock(task: &mut Task) -> SysResult {
    let op = task.arg(1) as i32;
    let kind = match op & !libc::LOCK_NB {
        libc::LOCK_SH => Some(LockKind::Read),
        libc::LOCK_EX => Some(LockKind::Write),
        libc::LOCK_UN => None,
        _ => return Err(Errno::EINVAL.into()),
    };
    let file = task.file(task.arg(0) as i32)?;
    if file.is_path_only() {
        return Err(Errno::EBADF.into());
    }
    let wait = (op & libc::LOCK_NB == 0).then(|| task.waiter());
    task.kernel
        .locks
        .flock(&file, task.process.pid, kind, wait)?;
    Ok(0)
}
