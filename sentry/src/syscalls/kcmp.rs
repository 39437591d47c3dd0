//! `kcmp`: whether two processes share a kernel object (an open file, the address space,
//! the fd table, the file-system context, the signal dispositions, an epoll target), with
//! objects ordered by address as Linux orders its obfuscated pointers: 0 for the same
//! object, 1 or 2 for the first below or above the second.
//!
//! Objects are those of the processes the thread ids belong to. Semaphore undo lists are
//! compared by identity, none being the lowest. No I/O context is ever made here, so
//! those compare equal, as for two Linux processes that never set an I/O priority.

use crate::errno::{SysErr, SysResult};
use crate::kernel::process::Process;
use crate::kernel::task::Task;
use fs::OpenFile;
use fs::epoll::Epoll;
use nix::errno::Errno;
use std::cmp::Ordering;
use std::sync::Arc;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `KCMP_*` types.
const KCMP_FILE: u64 = 0;
const KCMP_VM: u64 = 1;
const KCMP_FILES: u64 = 2;
const KCMP_FS: u64 = 3;
const KCMP_SIGHAND: u64 = 4;
const KCMP_IO: u64 = 5;
const KCMP_SYSVSEM: u64 = 6;
const KCMP_EPOLL_TFD: u64 = 7;

/// `struct kcmp_epoll_slot`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct EpollSlot {
    efd: u32,
    tfd: u32,
    toff: u32,
}

/// The live process thread `tid` belongs to (`ESRCH` if none).
fn process_of(task: &Task, tid: i32) -> Result<Arc<Process>, SysErr> {
    let (process, _) = task.kernel.tree.lock().thread(tid).ok_or(Errno::ESRCH)?;
    Ok(process)
}

/// The open file `process` has at `fd` (`EBADF` if none).
fn file_of(process: &Process, fd: u64) -> Result<Arc<OpenFile>, SysErr> {
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    let table = process.files.lock().clone();
    let file = table.lock().file(fd)?;
    Ok(file)
}

/// The order of two objects by address.
fn order<T: ?Sized>(a: *const T, b: *const T) -> Ordering {
    (a as *const u8 as usize).cmp(&(b as *const u8 as usize))
}

/// `kcmp(pid1, pid2, type, idx1, idx2)`: the caller must be allowed to inspect both
/// processes (`EPERM`); an fd that is not open is `EBADF`; an unknown type `EINVAL`.
pub fn kcmp(task: &mut Task) -> SysResult {
    let (pid1, pid2, kind, idx1, idx2) = (
        task.arg(0) as i32,
        task.arg(1) as i32,
        task.arg(2),
        task.arg(3),
        task.arg(4),
    );
    let (p1, p2) = (process_of(task, pid1)?, process_of(task, pid2)?);
    if !p1.accessible_by(&task.process) || !p2.accessible_by(&task.process) {
        return Err(Errno::EPERM.into());
    }
    let ord = match kind {
        KCMP_FILE => order(
            Arc::as_ptr(&file_of(&p1, idx1)?),
            Arc::as_ptr(&file_of(&p2, idx2)?),
        ),
        KCMP_VM => order(Arc::as_ptr(&p1.mm()), Arc::as_ptr(&p2.mm())),
        KCMP_FILES => {
            // One lock at a time: the two may be the same process.
            let first = p1.files.lock().clone();
            let second = p2.files.lock().clone();
            order(Arc::as_ptr(&first), Arc::as_ptr(&second))
        }
        KCMP_FS => {
            let first = p1.fs.lock().clone();
            let second = p2.fs.lock().clone();
            order(Arc::as_ptr(&first), Arc::as_ptr(&second))
        }
        KCMP_SIGHAND => order(Arc::as_ptr(&p1), Arc::as_ptr(&p2)),
        KCMP_IO => Ordering::Equal,
        KCMP_SYSVSEM => p1.sem_undo_list().cmp(&p2.sem_undo_list()),
        KCMP_EPOLL_TFD => {
            let slot: EpollSlot = task.read_obj(idx2)?;
            let file = file_of(&p1, idx1)?;
            let epoll_file = file_of(&p2, u64::from(slot.efd))?;
            let epoll = Epoll::from_file(&epoll_file).ok_or(Errno::EINVAL)?;
            let target = epoll
                .target(slot.tfd as i32, slot.toff as usize)
                .ok_or(Errno::ENOENT)?;
            order(Arc::as_ptr(&file), Arc::as_ptr(&target))
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    Ok(match ord {
        Ordering::Equal => 0,
        Ordering::Less => 1,
        Ordering::Greater => 2,
    })
}
