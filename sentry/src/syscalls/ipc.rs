//! System V IPC syscalls: `shm*`, `sem*` and `msg*` over the sandbox's own IPC namespace
//! ([`crate::kernel::ipc`]). Handlers decode arguments, copy structures in and out of
//! guest memory, and map guest memory for `shmat`/`shmdt`.

use crate::abi::Timespec;
use crate::errno::{SysResult, mm_errno};
use crate::kernel::ipc::abi::{Msqid64Ds, Sembuf, Semid64Ds, Shmid64Ds};
use crate::kernel::ipc::msg::{
    MSG_COPY, MSG_EXCEPT, MSG_INFO, MSG_STAT, MSG_STAT_ANY, MSGMAX, Message, Select,
};
use crate::kernel::ipc::sem::{
    GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, SEM_INFO, SEM_STAT, SEM_STAT_ANY, SEM_UNDO, SEMOPM,
    SETALL, SETVAL, SemQuery,
};
use crate::kernel::ipc::shm::{SHM_INFO, SHM_LOCK, SHM_STAT, SHM_STAT_ANY, SHM_UNLOCK};
use crate::kernel::ipc::{
    Caller, EXEC, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, READ, StatBy, WRITE,
};
use crate::kernel::task::Task;
use mm::{Content, MapRequest, MmError, PAGE_SIZE, Placement, Prot};
use nix::errno::Errno;
use std::time::Instant;
use zerocopy::FromBytes;

/// `shmat`: attach read-only.
const SHM_RDONLY: i32 = 0o10000;
/// `shmat`: round the address down to `SHMLBA`.
const SHM_RND: i32 = 0o20000;
/// `shmat`: replace mappings in the way.
const SHM_REMAP: i32 = 0o40000;
/// `shmat`: executable mapping.
const SHM_EXEC: i32 = 0o100000;
/// Attach addresses are multiples of this (a page on x86_64).
const SHMLBA: u64 = PAGE_SIZE;

fn caller(task: &Task) -> Caller {
    Caller {
        creds: *task.process.creds.lock(),
        pid: task.process.pid,
    }
}

/// A non-negative int argument (ids, `*ctl` commands); `EINVAL` otherwise.
fn index_arg(v: u64) -> Result<i32, Errno> {
    let v = v as i32;
    if v < 0 { Err(Errno::EINVAL) } else { Ok(v) }
}

/// What a `*ctl` command asks, for the commands the three kinds share.
enum Ctl {
    Stat(StatBy),
    Set,
    Remove,
    Limits,
    Usage,
    Other(i32),
}

impl Ctl {
    /// Decodes `cmd` given the kind's numbers for `*_STAT`, `*_INFO` and `*_STAT_ANY`.
    fn of(cmd: i32, stat: i32, info: i32, stat_any: i32) -> Ctl {
        match cmd {
            IPC_STAT => Ctl::Stat(StatBy::Id),
            c if c == stat => Ctl::Stat(StatBy::Index),
            c if c == stat_any => Ctl::Stat(StatBy::IndexAny),
            IPC_SET => Ctl::Set,
            IPC_RMID => Ctl::Remove,
            IPC_INFO => Ctl::Limits,
            c if c == info => Ctl::Usage,
            c => Ctl::Other(c),
        }
    }
}

/// `shmget(key, size, shmflg)`.
pub fn shmget(task: &mut Task) -> SysResult {
    let (key, size, flags) = (task.arg(0) as i32, task.arg(1), task.arg(2) as i32);
    let id = task
        .kernel
        .ipc
        .shm
        .get(&task.kernel, &caller(task), key, size, flags)?;
    Ok(id as u64)
}

/// `shmat(shmid, shmaddr, shmflg)`: maps the segment and returns its address.
pub fn shmat(task: &mut Task) -> SysResult {
    let (id, mut addr, flags) = (index_arg(task.arg(0))?, task.arg(1), task.arg(2) as i32);
    let placement = if addr == 0 {
        if flags & SHM_REMAP != 0 {
            return Err(Errno::EINVAL.into());
        }
        Placement::Hint
    } else {
        if !addr.is_multiple_of(SHMLBA) {
            if flags & SHM_RND == 0 {
                return Err(Errno::EINVAL.into());
            }
            addr -= addr % SHMLBA;
            if addr == 0 && flags & SHM_REMAP != 0 {
                return Err(Errno::EINVAL.into());
            }
        }
        if flags & SHM_REMAP != 0 || addr == 0 {
            Placement::Fixed
        } else {
            Placement::FixedNoReplace
        }
    };
    let (mut prot, mut want) = if flags & SHM_RDONLY != 0 {
        (Prot::READ, READ)
    } else {
        (Prot::RW, READ | WRITE)
    };
    if flags & SHM_EXEC != 0 {
        prot = Prot(prot.0 | Prot::EXEC.0);
        want |= EXEC;
    }
    let attach = task.kernel.ipc.shm.attach(&caller(task), id, want)?;
    let req = MapRequest {
        addr,
        len: attach.mem.len(),
        prot,
        shared: true,
        placement,
        low_2g: false,
        content: Content::Object {
            mem: attach.mem,
            name: attach.name,
        },
        name: None,
    };
    let at = task.with_mm(|mm, host| mm.mmap(host, req));
    // Without SHM_REMAP, an attach over existing mappings is EINVAL.
    at.map_err(|e| match e {
        MmError::Exists => Errno::EINVAL.into(),
        e => mm_errno(e).into(),
    })
}

/// `shmdt(shmaddr)`: unmaps the attach at `shmaddr` (with the pieces `mprotect` or
/// `munmap` made of it).
pub fn shmdt(task: &mut Task) -> SysResult {
    let addr = task.arg(0);
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL.into());
    }
    let kernel = task.kernel.clone();
    let shm = &kernel.ipc.shm;
    let detached = task.with_mm(|mm, host| mm.detach(host, addr, |m| shm.is_segment(m)))?;
    let mem = detached.ok_or(Errno::EINVAL)?;
    shm.detached(&caller(task), &mem);
    Ok(0)
}

/// `shmctl(shmid, cmd, buf)`.
pub fn shmctl(task: &mut Task) -> SysResult {
    let (id, cmd, buf) = (
        index_arg(task.arg(0))?,
        index_arg(task.arg(1))?,
        task.arg(2),
    );
    let (who, shm) = (caller(task), &task.kernel.ipc.shm);
    let ret = match Ctl::of(cmd, SHM_STAT, SHM_INFO, SHM_STAT_ANY) {
        Ctl::Limits => {
            let (info, max) = shm.ipc_info();
            task.write_obj(buf, &info)?;
            max
        }
        Ctl::Usage => {
            let (info, max) = shm.shm_info();
            task.write_obj(buf, &info)?;
            max
        }
        Ctl::Stat(by) => {
            let (ds, ret) = shm.stat(&who, id, by)?;
            task.write_obj(buf, &ds)?;
            ret
        }
        Ctl::Set => {
            let ds: Shmid64Ds = task.read_obj(buf)?;
            shm.set(&who, id, &ds.shm_perm)?;
            0
        }
        Ctl::Remove => {
            shm.remove(&who, id)?;
            0
        }
        Ctl::Other(c @ (SHM_LOCK | SHM_UNLOCK)) => {
            let memlock = task.process.rlimit(libc::RLIMIT_MEMLOCK as usize);
            shm.lock(&who, id, c == SHM_LOCK, memlock)?;
            0
        }
        Ctl::Other(_) => return Err(Errno::EINVAL.into()),
    };
    Ok(ret as u64)
}

/// `semget(key, nsems, semflg)`.
pub fn semget(task: &mut Task) -> SysResult {
    let (key, nsems, flags) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32);
    let id = task.kernel.ipc.sem.get(&caller(task), key, nsems, flags)?;
    Ok(id as u64)
}

/// `semop(semid, sops, nsops)`.
pub fn semop(task: &mut Task) -> SysResult {
    do_semop(task, None)
}

/// `semtimedop(semid, sops, nsops, timeout)`: a relative timeout ends the wait with EAGAIN.
pub fn semtimedop(task: &mut Task) -> SysResult {
    let timeout = match task.arg(3) {
        0 => None,
        addr => Some(task.read_obj::<Timespec>(addr)?),
    };
    do_semop(task, timeout)
}

fn do_semop(task: &mut Task, timeout: Option<Timespec>) -> SysResult {
    let (id, sops, nsops) = (task.arg(0) as i32, task.arg(1), task.arg(2) as u32 as usize);
    if nsops > SEMOPM {
        return Err(Errno::E2BIG.into());
    }
    if nsops < 1 {
        return Err(Errno::EINVAL.into());
    }
    let mut raw = vec![0u8; nsops * size_of::<Sembuf>()];
    task.mm().read(sops, &mut raw)?;
    let ops: Vec<Sembuf> = raw
        .chunks_exact(size_of::<Sembuf>())
        .map(|c| Sembuf::read_from_bytes(c).expect("chunk of a sembuf's size"))
        .collect();
    if id < 0 {
        return Err(Errno::EINVAL.into());
    }
    let deadline = match timeout {
        None => None,
        Some(ts) => Some(Instant::now() + ts.to_duration().ok_or(Errno::EINVAL)?),
    };
    if ops.iter().any(|o| o.sem_flg & SEM_UNDO != 0) {
        task.process.make_sem_undo_list();
    }
    let who = caller(task);
    task.kernel
        .ipc
        .sem
        .op(&who, id, ops, deadline, task.waiter())?;
    Ok(0)
}

/// `semctl(semid, semnum, cmd, arg)`: `arg` is the value for `SETVAL`, else a pointer.
pub fn semctl(task: &mut Task) -> SysResult {
    let (id, num, cmd, arg) = (
        index_arg(task.arg(0))?,
        task.arg(1) as i32,
        task.arg(2) as i32,
        task.arg(3),
    );
    let (who, sem) = (caller(task), &task.kernel.ipc.sem);
    let query = |what| sem.query(&who, id, num, what);
    let ret = match Ctl::of(cmd, SEM_STAT, SEM_INFO, SEM_STAT_ANY) {
        Ctl::Limits | Ctl::Usage => {
            let (info, max) = sem.info(cmd == SEM_INFO);
            task.write_obj(arg, &info)?;
            max
        }
        Ctl::Stat(by) => {
            let (ds, ret) = sem.stat(&who, id, by)?;
            task.write_obj(arg, &ds)?;
            ret
        }
        Ctl::Set => {
            let ds: Semid64Ds = task.read_obj(arg)?;
            sem.set(&who, id, &ds.sem_perm)?;
            0
        }
        Ctl::Remove => {
            sem.remove(&who, id)?;
            0
        }
        Ctl::Other(GETVAL) => query(SemQuery::Val)?,
        Ctl::Other(GETPID) => query(SemQuery::Pid)?,
        Ctl::Other(GETNCNT) => query(SemQuery::Ncnt)?,
        Ctl::Other(GETZCNT) => query(SemQuery::Zcnt)?,
        Ctl::Other(GETALL) => {
            let vals = sem.get_all(&who, id)?;
            let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
            task.mm().write(arg, &bytes)?;
            0
        }
        Ctl::Other(SETALL) => {
            let mm = task.mm();
            sem.set_all(&who, id, |n| {
                let mut bytes = vec![0u8; n * 2];
                mm.read(arg, &mut bytes).map_err(mm_errno)?;
                Ok(bytes
                    .chunks_exact(2)
                    .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                    .collect())
            })?;
            0
        }
        Ctl::Other(SETVAL) => {
            sem.set_val(&who, id, num, arg as i32)?;
            0
        }
        Ctl::Other(_) => return Err(Errno::EINVAL.into()),
    };
    Ok(ret as u64)
}

/// `msgget(key, msgflg)`.
pub fn msgget(task: &mut Task) -> SysResult {
    let (key, flags) = (task.arg(0) as i32, task.arg(1) as i32);
    let id = task.kernel.ipc.msg.get(&caller(task), key, flags)?;
    Ok(id as u64)
}

/// `msgsnd(msqid, msgp, msgsz, msgflg)`: `msgp` is a `long` type and `msgsz` bytes.
pub fn msgsnd(task: &mut Task) -> SysResult {
    let (id, msgp, size, flags) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2),
        task.arg(3) as i32,
    );
    if size > MSGMAX as u64 || id < 0 {
        return Err(Errno::EINVAL.into());
    }
    let mtype: i64 = task.read_obj(msgp)?;
    if mtype < 1 {
        return Err(Errno::EINVAL.into());
    }
    let mut text = vec![0u8; size as usize];
    task.mm().read(msgp.wrapping_add(8), &mut text)?;
    let who = caller(task);
    let msg = Message { mtype, text };
    let nowait = flags & IPC_NOWAIT != 0;
    task.kernel
        .ipc
        .msg
        .send(&who, id, msg, nowait, task.waiter())?;
    Ok(0)
}

/// `msgrcv(msqid, msgp, msgsz, msgtyp, msgflg)`: returns the bytes copied after the type.
pub fn msgrcv(task: &mut Task) -> SysResult {
    let (id, msgp, size, msgtyp, flags) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2),
        task.arg(3) as i64,
        task.arg(4) as i32,
    );
    if id < 0 || (size as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    if flags & MSG_COPY != 0 && (flags & MSG_EXCEPT != 0 || flags & IPC_NOWAIT == 0) {
        return Err(Errno::EINVAL.into());
    }
    let who = caller(task);
    let select = Select::of(msgtyp, flags);
    let msg = task
        .kernel
        .ipc
        .msg
        .receive(&who, id, size as usize, select, flags, task.waiter())?;
    let n = msg.text.len().min(size as usize);
    task.write_obj(msgp, &msg.mtype)?;
    task.mm().write(msgp.wrapping_add(8), &msg.text[..n])?;
    Ok(n as u64)
}

/// `msgctl(msqid, cmd, buf)`.
pub fn msgctl(task: &mut Task) -> SysResult {
    let (id, cmd, buf) = (
        index_arg(task.arg(0))?,
        index_arg(task.arg(1))?,
        task.arg(2),
    );
    let (who, msg) = (caller(task), &task.kernel.ipc.msg);
    let ret = match Ctl::of(cmd, MSG_STAT, MSG_INFO, MSG_STAT_ANY) {
        Ctl::Limits | Ctl::Usage => {
            let (info, max) = msg.info(cmd == MSG_INFO);
            task.write_obj(buf, &info)?;
            max
        }
        Ctl::Stat(by) => {
            let (ds, ret) = msg.stat(&who, id, by)?;
            task.write_obj(buf, &ds)?;
            ret
        }
        Ctl::Set => {
            let ds: Msqid64Ds = task.read_obj(buf)?;
            msg.set(&who, id, &ds.msg_perm, ds.msg_qbytes)?;
            0
        }
        Ctl::Remove => {
            msg.remove(&who, id)?;
            0
        }
        Ctl::Other(_) => return Err(Errno::EINVAL.into()),
    };
    Ok(ret as u64)
}
