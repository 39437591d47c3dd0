//! POSIX message queue calls (`mq_open`, `mq_unlink`, `mq_timedsend`, `mq_timedreceive`,
//! `mq_notify`, `mq_getsetattr`) over the sandbox's [`MqNamespace`](crate::kernel::mqueue),
//! with Linux's argument checks in Linux's order.

use crate::abi::Timespec;
use crate::errno::{SysErr, SysResult};
use crate::kernel::ipc::Caller;
use crate::kernel::mqueue::{Attr, MqFile, Notify, PRIO_MAX, Wait};
use crate::kernel::task::Task;
use crate::kernel::timer;
use fs::OpenFile;
use nix::errno::Errno;
use std::sync::Arc;
use std::time::Instant;

/// `struct mq_attr` as the guest lays it out: flags, maxmsg, msgsize, curmsgs, 4 spare.
type RawAttr = [i64; 8];

fn caller(task: &Task) -> Caller {
    Caller {
        creds: *task.process.creds.lock(),
        pid: task.process.pid,
    }
}

/// The queue name at argument 0 (`ENAMETOOLONG` past `PATH_MAX`).
fn name_arg(task: &Task) -> Result<Vec<u8>, SysErr> {
    task.mm()
        .read_cstring(task.arg(0), libc::PATH_MAX as usize)
        .map_err(|e| match e {
            mm::MmError::TooLong => SysErr::Errno(Errno::ENAMETOOLONG),
            e => e.into(),
        })
}

/// The absolute `CLOCK_REALTIME` timeout at `addr` as a deadline (`None`: wait forever);
/// `EINVAL` for a malformed one, even if the call would not wait.
fn deadline_arg(task: &Task, addr: u64) -> Result<Option<Instant>, SysErr> {
    if addr == 0 {
        return Ok(None);
    }
    let ts: Timespec = task.read_obj(addr)?;
    let abs = ts.to_duration().ok_or(Errno::EINVAL)?;
    Ok(Some(timer::instant_for(libc::CLOCK_REALTIME, abs)))
}

/// The open message queue description at fd argument 0 (`EBADF` for any other file).
fn queue_file(task: &Task) -> Result<Arc<OpenFile>, SysErr> {
    let file = task.file(task.arg(0) as i32)?;
    MqFile::of(&file).ok_or(Errno::EBADF)?;
    Ok(file)
}

/// `mq_open(name, oflag, mode, attr)`: always close-on-exec, as Linux makes it.
pub fn mq_open(task: &mut Task) -> SysResult {
    let (oflag, mode, attr_addr) = (task.arg(1) as i32, task.arg(2) as u32, task.arg(3));
    let attr = if attr_addr == 0 {
        None
    } else {
        let raw: RawAttr = task.read_obj(attr_addr)?;
        Some(Attr {
            maxmsg: raw[1],
            msgsize: raw[2],
        })
    };
    let name = name_arg(task)?;
    let umask = task.fs.lock().umask;
    let rlimit = task.process.rlimit(libc::RLIMIT_MSGQUEUE as usize);
    let queue = task.kernel.mqueues.open(
        &caller(task),
        &name,
        oflag,
        mode & !umask,
        attr.filter(|_| oflag & libc::O_CREAT != 0),
        rlimit,
    )?;
    let file = OpenFile::new(
        Box::new(MqFile::new(queue, &name)),
        oflag & (libc::O_ACCMODE | libc::O_NONBLOCK),
        None,
    );
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task.files.lock().insert(file, true, 0, limit)? as u64)
}

/// `mq_unlink(name)`.
pub fn mq_unlink(task: &mut Task) -> SysResult {
    let name = name_arg(task)?;
    task.kernel.mqueues.unlink(&caller(task), &name)?;
    Ok(0)
}

/// `mq_timedsend(mqdes, msg, len, prio, abs_timeout)`.
pub fn mq_timedsend(task: &mut Task) -> SysResult {
    let (addr, len, prio) = (task.arg(1), task.arg(2), task.arg(3));
    if prio >= u64::from(PRIO_MAX) {
        return Err(Errno::EINVAL.into());
    }
    let deadline = deadline_arg(task, task.arg(4))?;
    let file = queue_file(task)?;
    if !file.writable() {
        return Err(Errno::EBADF.into());
    }
    let mq = MqFile::of(&file).expect("a queue file");
    if len > mq.queue.attr().0.msgsize as u64 {
        return Err(Errno::EMSGSIZE.into());
    }
    let mut msg = vec![0u8; len as usize];
    task.mm().read(addr, &mut msg)?;
    let wait = Wait {
        nonblock: file.nonblocking(),
        deadline,
        waiter: task.waiter(),
    };
    mq.queue
        .send(&task.kernel, &caller(task), msg, prio as u32, wait)?;
    Ok(0)
}

/// `mq_timedreceive(mqdes, buf, len, prio_ptr, abs_timeout)`: the message's length. A
/// message that cannot be stored at `buf` is lost (`EFAULT`), as on Linux.
pub fn mq_timedreceive(task: &mut Task) -> SysResult {
    let (addr, len, prio_addr) = (task.arg(1), task.arg(2), task.arg(3));
    let deadline = deadline_arg(task, task.arg(4))?;
    let file = queue_file(task)?;
    if !file.readable() {
        return Err(Errno::EBADF.into());
    }
    let mq = MqFile::of(&file).expect("a queue file");
    let room = usize::try_from(len).unwrap_or(usize::MAX);
    let wait = Wait {
        nonblock: file.nonblocking(),
        deadline,
        waiter: task.waiter(),
    };
    let (msg, prio) = mq.queue.receive(room, wait)?;
    task.mm().write(addr, &msg)?;
    if prio_addr != 0 {
        task.write_obj(prio_addr, &prio)?;
    }
    Ok(msg.len() as u64)
}

/// `mq_notify(mqdes, sevp)`: `SIGEV_SIGNAL` and `SIGEV_NONE` registrations; `NULL`
/// removes the caller's.
pub fn mq_notify(task: &mut Task) -> SysResult {
    let addr = task.arg(1);
    let notify = if addr == 0 {
        None
    } else {
        // struct sigevent { sigval value; int signo; int notify; ... }
        let ev: [u8; 64] = task.read_obj(addr)?;
        let value = u64::from_ne_bytes(ev[0..8].try_into().expect("8 bytes"));
        let signo = i32::from_ne_bytes(ev[8..12].try_into().expect("4 bytes"));
        let how = i32::from_ne_bytes(ev[12..16].try_into().expect("4 bytes"));
        let signo = match how {
            libc::SIGEV_NONE => None,
            libc::SIGEV_SIGNAL if (0..=64).contains(&signo) => Some(signo),
            _ => return Err(Errno::EINVAL.into()),
        };
        Some(Notify {
            process: Arc::downgrade(&task.process),
            pid: task.process.pid,
            signo,
            value,
        })
    };
    let file = queue_file(task)?;
    let mq = MqFile::of(&file).expect("a queue file");
    mq.queue.set_notify(task.process.pid, notify)?;
    Ok(0)
}

/// `mq_getsetattr(mqdes, newattr, oldattr)`: only `O_NONBLOCK` of the description changes.
pub fn mq_getsetattr(task: &mut Task) -> SysResult {
    let (new_addr, old_addr) = (task.arg(1), task.arg(2));
    let new = if new_addr == 0 {
        None
    } else {
        let raw: RawAttr = task.read_obj(new_addr)?;
        if raw[0] & !i64::from(libc::O_NONBLOCK) != 0 {
            return Err(Errno::EINVAL.into());
        }
        Some(raw[0] as i32)
    };
    let file = queue_file(task)?;
    let mq = MqFile::of(&file).expect("a queue file");
    let (attr, count) = mq.queue.attr();
    let old: RawAttr = [
        i64::from(file.flags() & libc::O_NONBLOCK),
        attr.maxmsg,
        attr.msgsize,
        count as i64,
        0,
        0,
        0,
        0,
    ];
    if let Some(flags) = new {
        file.set_flags((file.flags() & !libc::O_NONBLOCK) | flags);
    }
    if old_addr != 0 {
        task.write_obj(old_addr, &old)?;
    }
    Ok(0)
}
