//! Linux native AIO (`io_setup`, `io_submit`, `io_getevents`, `io_cancel`, `io_destroy`)
//! over [`kernel::aio`](crate::kernel::aio): reads, writes (plain and vectored) and syncs
//! run at submission and complete on the context's ring, with an eventfd signalled per
//! completion (`IOCB_FLAG_RESFD`) when asked; Linux's checks in Linux's order.

use super::io::{self, Pos};
use crate::abi::Timespec;
use crate::errno::{SysErr, SysResult};
use crate::kernel::aio::{Context, Event, MAX_EVENTS, possible_cpus, ring_layout};
use crate::kernel::task::Task;
use fs::OpenFile;
use fs::eventfd::EventFd;
use mm::{MapRequest, Prot};
use nix::errno::Errno;
use std::sync::Arc;
use std::time::Instant;

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_CMD_FSYNC: u16 = 2;
const IOCB_CMD_FDSYNC: u16 = 3;
const IOCB_CMD_PREADV: u16 = 7;
const IOCB_CMD_PWRITEV: u16 = 8;
/// `IOCB_FLAG_RESFD`: signal the eventfd in `aio_resfd` at completion.
const IOCB_FLAG_RESFD: u32 = 1;

/// `struct iocb`, decoded.
struct Iocb {
    data: u64,
    rw_flags: i32,
    opcode: u16,
    fd: i32,
    buf: u64,
    nbytes: u64,
    offset: i64,
    reserved2: u64,
    flags: u32,
    resfd: i32,
}

impl Iocb {
    fn read(task: &Task, addr: u64) -> Result<Iocb, SysErr> {
        let raw: [u8; 64] = task.read_obj(addr)?;
        let u64_at = |o: usize| u64::from_ne_bytes(raw[o..o + 8].try_into().expect("8 bytes"));
        let u32_at = |o: usize| u32::from_ne_bytes(raw[o..o + 4].try_into().expect("4 bytes"));
        Ok(Iocb {
            data: u64_at(0),
            rw_flags: u32_at(12) as i32,
            opcode: u16::from_ne_bytes([raw[16], raw[17]]),
            fd: u32_at(20) as i32,
            buf: u64_at(24),
            nbytes: u64_at(32),
            offset: u64_at(40) as i64,
            reserved2: u64_at(48),
            flags: u32_at(56),
            resfd: u32_at(60) as i32,
        })
    }
}

/// `io_setup(nr_events, ctxp)`: maps a ring and stores its address, the context id.
pub fn io_setup(task: &mut Task) -> SysResult {
    let (nr_events, ctxp) = (task.arg(0) as u32, task.arg(1));
    let current: u64 = task.read_obj(ctxp)?;
    if current != 0 || nr_events == 0 {
        return Err(Errno::EINVAL.into());
    }
    if u64::from(nr_events) > MAX_EVENTS {
        return Err(Errno::EAGAIN.into());
    }
    let (nr, len) = ring_layout(nr_events, possible_cpus());
    let req = MapRequest {
        shared: true,
        ..MapRequest::anon(len, Prot((libc::PROT_READ | libc::PROT_WRITE) as u32))
    };
    let ring = task.with_mm(|mm, host| mm.mmap(host, req))?;
    let mm = task.mm();
    let setup = Context::new(&mm, ring, nr, len)
        .map_err(SysErr::from)
        .and_then(|ctx| Ok(task.kernel.aio.add(&mm, Arc::new(ctx))?))
        .and_then(|()| task.write_obj(ctxp, &ring));
    if let Err(e) = setup {
        let _ = task.kernel.aio.remove(&mm, ring);
        let _ = task.with_mm(|mm, host| mm.munmap(host, ring, len));
        return Err(e);
    }
    Ok(0)
}

/// `io_destroy(ctx)`: forgets the context and unmaps its ring.
pub fn io_destroy(task: &mut Task) -> SysResult {
    let ctx = task.kernel.aio.remove(&task.mm(), task.arg(0))?;
    task.with_mm(|mm, host| mm.munmap(host, ctx.ring, ctx.len))?;
    Ok(0)
}

/// `io_submit(ctx, nr, iocbpp)`: how many requests were submitted; an error only if the
/// first one could not be.
pub fn io_submit(task: &mut Task) -> SysResult {
    let (id, nr, list) = (task.arg(0), task.arg(1) as i64, task.arg(2));
    if nr < 0 {
        return Err(Errno::EINVAL.into());
    }
    let ctx = task.kernel.aio.get(&task.mm(), id)?;
    let nr = nr.min(i64::from(ctx.nr)) as u32;
    if nr == 0 {
        return Ok(0);
    }
    let reserved = ctx.reserve(nr)?;
    let mut done = 0;
    let mut first_error = None;
    while done < reserved {
        let r = task
            .read_obj::<u64>(list + u64::from(done) * 8)
            .and_then(|addr| submit(task, &ctx, addr));
        if let Err(e) = r {
            first_error = Some(e);
            break;
        }
        done += 1;
    }
    ctx.unreserve(reserved - done);
    match first_error {
        Some(e) if done == 0 => Err(e),
        _ => Ok(u64::from(done)),
    }
}

/// Runs one request and queues its completion.
fn submit(task: &mut Task, ctx: &Context, addr: u64) -> Result<(), SysErr> {
    let cb = Iocb::read(task, addr)?;
    // The kernel stamps its key (0) into the guest's iocb.
    task.write_obj(addr + 8, &0u32)?;
    if cb.reserved2 != 0 || (cb.nbytes as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    let file = task.file(cb.fd)?;
    let eventfd = if cb.flags & IOCB_FLAG_RESFD != 0 {
        let efd = task.file(cb.resfd)?;
        efd.ops
            .any()
            .and_then(|a| a.downcast_ref::<EventFd>())
            .ok_or(Errno::EINVAL)?;
        Some(efd)
    } else {
        None
    };
    let res = match cb.opcode {
        IOCB_CMD_PREAD | IOCB_CMD_PWRITE | IOCB_CMD_PREADV | IOCB_CMD_PWRITEV => {
            rw(task, &file, &cb)?
        }
        IOCB_CMD_FSYNC | IOCB_CMD_FDSYNC => {
            if cb.buf != 0 || cb.offset != 0 || cb.nbytes != 0 || cb.rw_flags != 0 {
                return Err(Errno::EINVAL.into());
            }
            file.ops.sync().map_or_else(|e| -(e as i64), |()| 0)
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    let ev = Event {
        data: cb.data,
        obj: addr,
        res,
        res2: 0,
    };
    ctx.complete(&task.mm(), ev)?;
    if let Some(efd) = eventfd {
        let counter = efd.ops.any().and_then(|a| a.downcast_ref::<EventFd>());
        counter.expect("checked as an eventfd").signal(1);
    }
    Ok(())
}

/// A read or write request: submission errors (`EBADF` for the file's mode, `EINVAL`,
/// `EOPNOTSUPP` for `RWF_*` flags) fail `io_submit`; the I/O's own result, bytes or
/// errno, is the completion's.
fn rw(task: &mut Task, file: &Arc<OpenFile>, cb: &Iocb) -> Result<i64, SysErr> {
    let write = matches!(cb.opcode, IOCB_CMD_PWRITE | IOCB_CMD_PWRITEV);
    if (write && !file.writable()) || (!write && !file.readable()) {
        return Err(Errno::EBADF.into());
    }
    if cb.rw_flags != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    // A stream (pipe, socket) has no position: the I/O goes where the file is.
    let pos = if file.ops.is_stream() {
        Pos::Current
    } else if cb.offset < 0 {
        return Err(Errno::EINVAL.into());
    } else {
        Pos::At(cb.offset as u64)
    };
    let r = match cb.opcode {
        IOCB_CMD_PREAD => io::read_into(task, file, cb.buf, cb.nbytes as usize, pos),
        IOCB_CMD_PWRITE => io::write_from(task, file, cb.buf, cb.nbytes as usize, pos),
        _ => {
            let vecs = io::iovecs(task, cb.buf, cb.nbytes)?;
            if write {
                io::write_vectors(task, file, &vecs, pos)
            } else {
                io::read_vectors(task, file, &vecs, pos)
            }
        }
    };
    Ok(match r {
        Ok(n) => n as i64,
        Err(e) => -(e.errno() as i64),
    })
}

/// `io_getevents(ctx, min_nr, nr, events, timeout)`: the completions reaped.
pub fn io_getevents(task: &mut Task) -> SysResult {
    let (id, min, nr, out, timeout) = (
        task.arg(0),
        task.arg(1) as i64,
        task.arg(2) as i64,
        task.arg(3),
        task.arg(4),
    );
    let deadline = if timeout == 0 {
        None
    } else {
        let ts: Timespec = task.read_obj(timeout)?;
        Some(Instant::now() + ts.to_duration().unwrap_or_default())
    };
    let ctx = task.kernel.aio.get(&task.mm(), id)?;
    if min < 0 || nr < 0 || min > nr {
        return Err(Errno::EINVAL.into());
    }
    let events = ctx.get_events(
        &task.mm(),
        min as usize,
        nr as usize,
        deadline,
        task.waiter(),
    )?;
    for (i, ev) in events.iter().enumerate() {
        let raw = [ev.data, ev.obj, ev.res as u64, ev.res2 as u64];
        task.write_obj(out + i as u64 * 32, &raw)?;
    }
    Ok(events.len() as u64)
}

/// `io_cancel(ctx, iocb, result)`: requests complete when submitted, so none is ever
/// found in flight (`EINVAL`), as for a request Linux already finished.
pub fn io_cancel(task: &mut Task) -> SysResult {
    let key: u32 = task.read_obj(task.arg(1) + 8)?;
    if key != 0 {
        return Err(Errno::EINVAL.into());
    }
    task.kernel.aio.get(&task.mm(), task.arg(0))?;
    Err(Errno::EINVAL.into())
}
