//! Moving data through pipes without a user buffer: `splice` (pipe to pipe, pipe to a file
//! or socket, a file or socket to a pipe), `tee` (pipe to pipe, the input left in place)
//! and `vmsplice` (guest memory to or from a pipe).
//!
//! The sentry copies through its own memory; the guest sees Linux's rules: which side must
//! be a pipe (`EINVAL` when neither is), offsets only on the side that is not (`ESPIPE`),
//! waiting for data or room unless `SPLICE_F_NONBLOCK` or the pipe's `O_NONBLOCK` says
//! not to (`EAGAIN`), `EPIPE` and SIGPIPE when a pipe has no reader, and as much moved as
//! the pipe holds or has room for.

use super::io::{iovecs, notify_moved, sigpipe_on_epipe};
use super::mapped_files;
use crate::errno::{SysErr, SysResult};
use crate::kernel::task::Task;
use fs::OpenFile;
use fs::pipe::PipeEnd;
use nix::errno::Errno;
use std::sync::Arc;

/// `SPLICE_F_NONBLOCK`.
const SPLICE_F_NONBLOCK: u32 = 2;
/// Every `SPLICE_F_*` flag (`MOVE`, `NONBLOCK`, `MORE`, `GIFT`).
const SPLICE_F_ALL: u32 = 0xf;

/// The pipe end behind `file`, if it is one.
fn pipe_of(file: &OpenFile) -> Option<&PipeEnd> {
    file.ops.pipe_end()
}

/// Reads the offset a caller passed for the side that is not a pipe.
fn read_offset(task: &Task, addr: u64) -> Result<Option<u64>, SysErr> {
    Ok(match addr {
        0 => None,
        a => Some(task.read_obj::<u64>(a)?),
    })
}

/// Checks an offset for a file that is to be read or written at it: the file must allow
/// positional I/O, and the offset must not be negative (`EINVAL`).
fn check_offset(file: &OpenFile, off: Option<u64>) -> Result<(), SysErr> {
    match off {
        Some(o) if (o as i64) < 0 || file.ops.seek(0, libc::SEEK_CUR) == Err(Errno::ESPIPE) => {
            Err(Errno::EINVAL.into())
        }
        _ => Ok(()),
    }
}

/// Waits for data in `inp` (Linux's `ipipe_prep`), then for room in `out`
/// (`opipe_prep`, which fails with `EPIPE` even when the input is at its end); returns
/// the room, or `None` at the end of the input.
fn prepare_pipes(
    task: &Task,
    inp: &PipeEnd,
    out: &PipeEnd,
    nb: bool,
) -> Result<Option<usize>, SysErr> {
    let data = inp.wait_data(task.waiter(), nb)?;
    let room = out.wait_room(task.waiter(), nb)?;
    Ok(data.then_some(room))
}

/// Pipe to pipe: waits for input, then for room, and moves what fits.
fn pipe_to_pipe(task: &Task, inp: &PipeEnd, out: &PipeEnd, len: usize, nb: bool) -> SysResult {
    loop {
        let Some(room) = prepare_pipes(task, inp, out, nb)? else {
            return Ok(0);
        };
        let data = inp.take(len.min(room));
        // Empty if another reader emptied the pipe since: wait again.
        if data.is_empty() {
            continue;
        }
        if let Err(e) = out.push(&data) {
            inp.give_back(&data);
            return Err(e.into());
        }
        return Ok(data.len() as u64);
    }
}

/// Pipe to a file or socket at `off` (`None`: at its offset): waits for data, then
/// writes what the pipe holds, up to `len`. Bytes the output does not take stay in the
/// pipe.
fn pipe_to_file(
    task: &Task,
    inp: &PipeEnd,
    out: &Arc<OpenFile>,
    off: Option<u64>,
    len: usize,
    nb: bool,
) -> SysResult {
    if !inp.wait_data(task.waiter(), nb)? {
        return Ok(0);
    }
    let data = inp.take(len);
    let mut done = 0;
    while done < data.len() {
        let at = off.map(|o| o + done as u64);
        match mapped_files::write(&task.kernel, out, task.waiter(), &data[done..], at) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if done == 0 => {
                inp.give_back(&data);
                return Err(e.into());
            }
            Err(_) => break,
        }
    }
    inp.give_back(&data[done..]);
    notify_moved(Ok(done as u64), out, libc::IN_MODIFY)
}

/// A file or socket at `off` (`None`: at its offset) to a pipe: waits for room, then reads
/// at most what fits.
fn file_to_pipe(
    task: &Task,
    inp: &Arc<OpenFile>,
    off: Option<u64>,
    out: &PipeEnd,
    len: usize,
    nb: bool,
) -> SysResult {
    let room = out.wait_room(task.waiter(), nb)?;
    let want = len.min(room);
    mapped_files::before_read(&task.kernel, inp, off, want);
    let mut buf = vec![0u8; want];
    let n = match off {
        Some(o) => inp.ops.pread(&mut buf, o)?,
        None => inp
            .ops
            .read(task.waiter(), &mut buf, nb || inp.nonblocking())?,
    };
    out.push(&buf[..n])?;
    notify_moved(Ok(n as u64), inp, libc::IN_ACCESS)
}

fn do_splice(task: &mut Task) -> SysResult {
    let (fd_in, off_in, fd_out, off_out) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as i32,
        task.arg(3),
    );
    let (len, flags) = (task.arg(4) as usize, task.arg(5) as u32);
    if len == 0 {
        return Ok(0);
    }
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (inp, out) = (task.file(fd_in)?, task.file(fd_out)?);
    let (ipipe, opipe) = (pipe_of(&inp), pipe_of(&out));
    if (ipipe.is_some() && off_in != 0) || (opipe.is_some() && off_out != 0) {
        return Err(Errno::ESPIPE.into());
    }
    let (oi, oo) = (read_offset(task, off_in)?, read_offset(task, off_out)?);
    let usable = |f: &OpenFile, write: bool| {
        !f.is_path_only() && if write { f.writable() } else { f.readable() }
    };
    if !usable(&inp, false) || !usable(&out, true) {
        return Err(Errno::EBADF.into());
    }
    let nb = flags & SPLICE_F_NONBLOCK != 0;
    let n = match (ipipe, opipe) {
        (Some(i), Some(o)) => {
            if i.same_pipe(o) {
                return Err(Errno::EINVAL.into());
            }
            let nb = nb || inp.nonblocking() || out.nonblocking();
            pipe_to_pipe(task, i, o, len, nb)?
        }
        (Some(i), None) => {
            check_offset(&out, oo)?;
            if out.flags() & libc::O_APPEND != 0 {
                return Err(Errno::EINVAL.into());
            }
            pipe_to_file(task, i, &out, oo, len, nb || inp.nonblocking())?
        }
        (None, Some(o)) => {
            check_offset(&inp, oi)?;
            file_to_pipe(task, &inp, oi, o, len, nb || out.nonblocking())?
        }
        (None, None) => return Err(Errno::EINVAL.into()),
    };
    for (addr, off) in [(off_in, oi), (off_out, oo)] {
        if let Some(o) = off {
            task.write_obj(addr, &(o + n))?;
        }
    }
    Ok(n)
}

/// `splice(fd_in, off_in, fd_out, off_out, len, flags)`.
pub fn splice(task: &mut Task) -> SysResult {
    let r = do_splice(task);
    sigpipe_on_epipe(task, r)
}

fn do_tee(task: &mut Task) -> SysResult {
    let (len, flags) = (task.arg(2) as usize, task.arg(3) as u32);
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL.into());
    }
    if len == 0 {
        return Ok(0);
    }
    let (inp, out) = (
        task.file(task.arg(0) as i32)?,
        task.file(task.arg(1) as i32)?,
    );
    if !inp.readable() || !out.writable() || inp.is_path_only() || out.is_path_only() {
        return Err(Errno::EBADF.into());
    }
    let (Some(i), Some(o)) = (pipe_of(&inp), pipe_of(&out)) else {
        return Err(Errno::EINVAL.into());
    };
    if i.same_pipe(o) {
        return Err(Errno::EINVAL.into());
    }
    let nb = flags & SPLICE_F_NONBLOCK != 0 || inp.nonblocking() || out.nonblocking();
    let Some(room) = prepare_pipes(task, i, o, nb)? else {
        return Ok(0);
    };
    let data = i.peek(len.min(room));
    o.push(&data)?;
    Ok(data.len() as u64)
}

/// `tee(fd_in, fd_out, len, flags)`: copies what the input pipe holds (up to `len` and
/// the output's room) to the output pipe, leaving the input as it was.
pub fn tee(task: &mut Task) -> SysResult {
    let r = do_tee(task);
    sigpipe_on_epipe(task, r)
}

fn do_vmsplice(task: &mut Task) -> SysResult {
    let flags = task.arg(3) as u32;
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL.into());
    }
    let file = task.file(task.arg(0) as i32)?;
    if file.is_path_only() || !(file.writable() || file.readable()) {
        return Err(Errno::EBADF.into());
    }
    let vecs = iovecs(task, task.arg(1), task.arg(2))?;
    let total: usize = vecs.iter().map(|v| v.len as usize).sum();
    if total == 0 {
        return Ok(0);
    }
    let pipe = pipe_of(&file).ok_or(Errno::EBADF)?;
    let nb = flags & SPLICE_F_NONBLOCK != 0;
    let mm = task.mm();
    if file.writable() {
        // Guest memory into the pipe, as much as there is room for.
        let room = pipe.wait_room(task.waiter(), nb)?;
        let mut data = Vec::with_capacity(total.min(room));
        for v in &vecs {
            let n = (v.len as usize).min(room - data.len());
            let at = data.len();
            data.resize(at + n, 0);
            if let Err(e) = mm.read(v.base, &mut data[at..]) {
                data.truncate(at);
                if data.is_empty() {
                    return Err(e.into());
                }
                break;
            }
        }
        pipe.push(&data)?;
        return Ok(data.len() as u64);
    }
    // The pipe into guest memory, as much as it holds.
    if !pipe.wait_data(task.waiter(), nb)? {
        return Ok(0);
    }
    let data = pipe.take(total);
    let mut done = 0;
    for v in &vecs {
        let n = (v.len as usize).min(data.len() - done);
        if let Err(e) = mm.write(v.base, &data[done..done + n]) {
            pipe.give_back(&data[done..]);
            if done == 0 {
                return Err(e.into());
            }
            return Ok(done as u64);
        }
        done += n;
    }
    Ok(done as u64)
}

/// `vmsplice(fd, iov, nr_segs, flags)`: into the pipe if `fd` is its write end, out of
/// it if its read end.
pub fn vmsplice(task: &mut Task) -> SysResult {
    let r = do_vmsplice(task);
    sigpipe_on_epipe(task, r)
}
