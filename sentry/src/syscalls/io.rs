//! Reading, writing and managing fds: read/write and their vector and positional forms,
//! lseek, sendfile, getdents, getdents64, dup*, close, fcntl, ioctl, fsync.

use super::mapped_files;
use crate::abi::Iovec;
use crate::errno::{SysErr, SysResult};
use crate::kernel::sigframe::SigInfo;
use crate::kernel::task::Task;
use fs::OpenFile;
use fs::memfd::Memfd;
use nix::errno::Errno;
use std::sync::Arc;

/// Largest count one read or write transfers (Linux: MAX_RW_COUNT).
const MAX_RW: usize = 0x7fff_f000;
/// Size of one bounce-buffer transfer between guest memory and a file.
const CHUNK: usize = 1 << 20;
/// `F_SETSIG` and `F_GETSIG` (missing from libc).
const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;
/// Most iovecs in one call (UIO_MAXIOV).
const IOV_MAX: u64 = 1024;

/// Where a transfer happens in the file.
#[derive(Clone, Copy)]
pub(super) enum Pos {
    /// At the file's offset.
    Current,
    /// At this offset, without moving the file's offset.
    At(u64),
}

impl Pos {
    /// The offset, `None` for the file's own.
    fn offset(self) -> Option<u64> {
        match self {
            Pos::Current => None,
            Pos::At(off) => Some(off),
        }
    }
}

/// Alignment of every bounce-buffer transfer: a host file opened with `O_DIRECT` takes
/// only buffers aligned to its logical block size (at most a page).
const IO_ALIGN: usize = 4096;

/// The first `len` bytes of `buf` from its first `IO_ALIGN`-aligned byte, growing it as
/// needed.
fn aligned(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len + IO_ALIGN {
        buf.resize(len + IO_ALIGN, 0);
    }
    let start = buf.as_ptr().align_offset(IO_ALIGN);
    &mut buf[start..start + len]
}

/// Reads up to `count` bytes from `file` into guest memory at `addr`.
pub(super) fn read_into(
    task: &mut Task,
    file: &Arc<OpenFile>,
    addr: u64,
    count: usize,
    pos: Pos,
) -> SysResult {
    if !file.readable() || file.is_path_only() {
        return Err(Errno::EBADF.into());
    }
    let count = count.min(MAX_RW);
    if count == 0 {
        return Ok(0);
    }
    let mm = task.mm();
    mm.check_access(addr, count, true)?;
    mapped_files::before_read(&task.kernel, file, pos.offset(), count);
    let stream = file.ops.is_stream();
    let mut buf = std::mem::take(&mut task.iobuf);
    let mut done = 0usize;
    let result = loop {
        let want = (count - done).min(CHUNK);
        let chunk = aligned(&mut buf, want);
        let r = match pos {
            Pos::Current => file.read(task.waiter(), chunk),
            Pos::At(off) => file.ops.pread(chunk, off + done as u64),
        };
        match r {
            Ok(0) => break Ok(done),
            Ok(n) => {
                if let Err(e) = mm.write(addr + done as u64, &chunk[..n]) {
                    break if done > 0 { Ok(done) } else { Err(e.into()) };
                }
                done += n;
                if done == count || n < want || stream {
                    break Ok(done);
                }
            }
            Err(e) => {
                break if done > 0 {
                    Ok(done)
                } else {
                    Err(SysErr::from(e))
                };
            }
        }
    };
    task.iobuf = buf;
    result.map(|n| n as u64)
}

/// Writes `count` bytes from guest memory at `addr` to `file`.
pub(super) fn write_from(
    task: &mut Task,
    file: &Arc<OpenFile>,
    addr: u64,
    count: usize,
    pos: Pos,
) -> SysResult {
    if !file.writable() || file.is_path_only() {
        return Err(Errno::EBADF.into());
    }
    let count = count.min(MAX_RW);
    if count == 0 {
        return Ok(0);
    }
    let mm = task.mm();
    mm.check_access(addr, count, false)?;
    let mut buf = std::mem::take(&mut task.iobuf);
    let mut done = 0usize;
    let result = loop {
        let want = (count - done).min(CHUNK);
        let chunk = aligned(&mut buf, want);
        if let Err(e) = mm.read(addr + done as u64, chunk) {
            break if done > 0 { Ok(done) } else { Err(e.into()) };
        }
        let at = pos.offset().map(|off| off + done as u64);
        let r = mapped_files::write(&task.kernel, file, task.waiter(), chunk, at);
        match r {
            Ok(n) => {
                done += n;
                if done == count || n == 0 || (n < want && file.nonblocking()) {
                    break Ok(done);
                }
            }
            Err(e) => {
                break if done > 0 {
                    Ok(done)
                } else {
                    Err(SysErr::from(e))
                };
            }
        }
    };
    task.iobuf = buf;
    result.map(|n| n as u64)
}

/// `read(fd, buf, count)`.
pub fn read(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    let r = read_into(task, &file, task.arg(1), task.arg(2) as usize, Pos::Current);
    notify_moved(r, &file, libc::IN_ACCESS)
}

/// Tells the watchers of `file` (inotify) that a call moved bytes, once per call:
/// `event` is `IN_ACCESS` for a read, `IN_MODIFY` for a write.
pub(super) fn notify_moved(r: SysResult, file: &OpenFile, event: u32) -> SysResult {
    if matches!(r, Ok(n) if n > 0) {
        fs::notify::file_event(file, event);
    }
    r
}

/// Raises SIGPIPE for a write that failed because nobody reads the other end.
pub(super) fn sigpipe_on_epipe(task: &mut Task, r: SysResult) -> SysResult {
    if r == Err(SysErr::Errno(Errno::EPIPE)) {
        let uid = task.process.creds.lock().uid;
        task.raise(SigInfo::user(libc::SIGPIPE, 0, task.process.pid, uid));
    }
    r
}

/// `write(fd, buf, count)`.
pub fn write(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    let r = write_from(task, &file, task.arg(1), task.arg(2) as usize, Pos::Current);
    let r = notify_moved(r, &file, libc::IN_MODIFY);
    sigpipe_on_epipe(task, r)
}

fn offset_arg(v: u64) -> Result<u64, SysErr> {
    if (v as i64) < 0 {
        Err(Errno::EINVAL.into())
    } else {
        Ok(v)
    }
}

/// `pread64(fd, buf, count, offset)`.
pub fn pread64(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    let off = offset_arg(task.arg(3))?;
    let r = read_into(task, &file, task.arg(1), task.arg(2) as usize, Pos::At(off));
    notify_moved(r, &file, libc::IN_ACCESS)
}

/// `pwrite64(fd, buf, count, offset)`.
pub fn pwrite64(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    let off = offset_arg(task.arg(3))?;
    let r = write_from(task, &file, task.arg(1), task.arg(2) as usize, Pos::At(off));
    notify_moved(r, &file, libc::IN_MODIFY)
}

/// Reads an iovec array.
pub(super) fn iovecs(task: &Task, addr: u64, count: u64) -> Result<Vec<Iovec>, SysErr> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL.into());
    }
    let mm = task.mm();
    let mut out = Vec::with_capacity(count as usize);
    let mut total: u64 = 0;
    for i in 0..count {
        let v: Iovec = mm.read_obj(addr + i * 16)?;
        if (v.len as i64) < 0 {
            return Err(Errno::EINVAL.into());
        }
        total = total.saturating_add(v.len);
        out.push(v);
    }
    if total > isize::MAX as u64 {
        return Err(Errno::EINVAL.into());
    }
    Ok(out)
}

fn readv_at(task: &mut Task, pos: Pos) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    let vecs = iovecs(task, task.arg(1), task.arg(2))?;
    read_vectors(task, &file, &vecs, pos)
}

/// Reads from `file` into the guest buffers `vecs`, one after the other.
pub(super) fn read_vectors(
    task: &mut Task,
    file: &Arc<OpenFile>,
    vecs: &[Iovec],
    pos: Pos,
) -> SysResult {
    let mut total = 0u64;
    for v in vecs.iter().filter(|v| v.len > 0) {
        let at = match pos {
            Pos::Current => Pos::Current,
            Pos::At(off) => Pos::At(off + total),
        };
        let n = match read_into(task, file, v.base, v.len as usize, at) {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        if n < v.len {
            break;
        }
    }
    notify_moved(Ok(total), file, libc::IN_ACCESS)
}

fn writev_at(task: &mut Task, pos: Pos) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    let vecs = iovecs(task, task.arg(1), task.arg(2))?;
    write_vectors(task, &file, &vecs, pos)
}

/// Writes the guest buffers `vecs` to `file`.
pub(super) fn write_vectors(
    task: &mut Task,
    file: &Arc<OpenFile>,
    vecs: &[Iovec],
    pos: Pos,
) -> SysResult {
    // Gather into one buffer so a pipe or terminal sees one write, as with Linux.
    let total_len: u64 = vecs.iter().map(|v| v.len).sum();
    if total_len <= CHUNK as u64 {
        let mm = task.mm();
        let mut data = vec![0u8; total_len as usize];
        let mut at = 0usize;
        for v in vecs {
            mm.read(v.base, &mut data[at..at + v.len as usize])?;
            at += v.len as usize;
        }
        if data.is_empty() {
            return if file.writable() {
                Ok(0)
            } else {
                Err(Errno::EBADF.into())
            };
        }
        if !file.writable() || file.is_path_only() {
            return Err(Errno::EBADF.into());
        }
        let n = mapped_files::write(&task.kernel, file, task.waiter(), &data, pos.offset())?;
        return notify_moved(Ok(n as u64), file, libc::IN_MODIFY);
    }
    let mut total = 0u64;
    for v in vecs.iter().filter(|v| v.len > 0) {
        let at = match pos {
            Pos::Current => Pos::Current,
            Pos::At(off) => Pos::At(off + total),
        };
        let n = match write_from(task, file, v.base, v.len as usize, at) {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        if n < v.len {
            break;
        }
    }
    notify_moved(Ok(total), file, libc::IN_MODIFY)
}

/// `readv(fd, iov, iovcnt)`.
pub fn readv(task: &mut Task) -> SysResult {
    readv_at(task, Pos::Current)
}

/// `writev(fd, iov, iovcnt)`.
pub fn writev(task: &mut Task) -> SysResult {
    let r = writev_at(task, Pos::Current);
    sigpipe_on_epipe(task, r)
}

/// `preadv(fd, iov, iovcnt, offset)` (and `preadv2` without flags).
pub fn preadv(task: &mut Task) -> SysResult {
    let off = offset_arg(task.arg(3))?;
    readv_at(task, Pos::At(off))
}

/// `pwritev(fd, iov, iovcnt, offset)` (and `pwritev2` without flags).
pub fn pwritev(task: &mut Task) -> SysResult {
    let off = offset_arg(task.arg(3))?;
    writev_at(task, Pos::At(off))
}

/// `preadv2`/`pwritev2` with flags: only no flags, and offset -1 meaning "current".
fn v2(task: &mut Task, write: bool) -> SysResult {
    if task.arg(5) != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let pos = if task.arg(3) as i64 == -1 {
        Pos::Current
    } else {
        Pos::At(offset_arg(task.arg(3))?)
    };
    if write {
        writev_at(task, pos)
    } else {
        readv_at(task, pos)
    }
}

/// `preadv2(fd, iov, iovcnt, offset, flags)`.
pub fn preadv2(task: &mut Task) -> SysResult {
    v2(task, false)
}

/// `pwritev2(fd, iov, iovcnt, offset, flags)`.
pub fn pwritev2(task: &mut Task) -> SysResult {
    v2(task, true)
}

fn make_pipe(task: &mut Task, addr: u64, flags: i32) -> SysResult {
    if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (r, w) = fs::pipe::pipe();
    let nb = flags & libc::O_NONBLOCK;
    let rf = OpenFile::new(Box::new(r), libc::O_RDONLY | nb, None);
    let wf = OpenFile::new(Box::new(w), libc::O_WRONLY | nb, None);
    let cloexec = flags & libc::O_CLOEXEC != 0;
    let limit = nofile(task);
    let fds = {
        let mut files = task.files.lock();
        let a = files.insert(rf, cloexec, 0, limit)?;
        match files.insert(wf, cloexec, 0, limit) {
            Ok(b) => [a, b],
            Err(e) => {
                drop(files.remove(a));
                return Err(e.into());
            }
        }
    };
    if let Err(e) = task.write_obj(addr, &fds) {
        let mut files = task.files.lock();
        drop(files.remove(fds[0]));
        drop(files.remove(fds[1]));
        return Err(e);
    }
    Ok(0)
}

/// `pipe(fds)`.
pub fn pipe(task: &mut Task) -> SysResult {
    make_pipe(task, task.arg(0), 0)
}

/// `pipe2(fds, flags)`.
pub fn pipe2(task: &mut Task) -> SysResult {
    make_pipe(task, task.arg(0), task.arg(1) as i32)
}

/// `lseek(fd, offset, whence)`.
pub fn lseek(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    if file.is_path_only() {
        return Err(Errno::EBADF.into());
    }
    Ok(file.ops.seek(task.arg(1) as i64, task.arg(2) as i32)?)
}

fn sendfile_inner(task: &mut Task) -> SysResult {
    let out = task.file(task.arg(0) as i32)?;
    let inp = task.file(task.arg(1) as i32)?;
    let (off_ptr, count) = (task.arg(2), (task.arg(3) as usize).min(MAX_RW));
    if !inp.readable() || !out.writable() {
        return Err(Errno::EBADF.into());
    }
    if out.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut off = if off_ptr != 0 {
        Some(offset_arg(task.read_obj::<u64>(off_ptr)?)?)
    } else {
        None
    };
    mapped_files::before_read(&task.kernel, &inp, off, count);
    let mut buf = vec![0u8; count.min(CHUNK)];
    let mut done = 0usize;
    while done < count {
        let want = (count - done).min(buf.len());
        let r = match off {
            Some(o) => inp.ops.pread(&mut buf[..want], o),
            None => inp.read(task.waiter(), &mut buf[..want]),
        };
        let n = match r {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e.into()),
            Err(_) => break,
        };
        let mut written = 0;
        while written < n {
            match mapped_files::write(&task.kernel, &out, task.waiter(), &buf[written..n], None) {
                Ok(w) => written += w,
                Err(e) if done + written == 0 => return Err(e.into()),
                Err(_) => break,
            }
        }
        done += written;
        if let Some(o) = off.as_mut() {
            *o += written as u64;
        }
        if written < n || n < want {
            break;
        }
    }
    if let (Some(o), true) = (off, off_ptr != 0) {
        task.write_obj(off_ptr, &o)?;
    }
    let r = notify_moved(Ok(done as u64), &inp, libc::IN_ACCESS);
    notify_moved(r, &out, libc::IN_MODIFY)
}

/// `sendfile(out_fd, in_fd, offset, count)`.
pub fn sendfile(task: &mut Task) -> SysResult {
    let r = sendfile_inner(task);
    sigpipe_on_epipe(task, r)
}

/// Reads directory entries of `fd` into guest memory at `addr` (at most `count` bytes),
/// `linux_dirent64` records rewritten by `layout` first.
fn read_dirents(task: &mut Task, layout: fn(&mut [u8])) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    if file.is_path_only() {
        return Err(Errno::EBADF.into());
    }
    let (addr, count) = (task.arg(1), (task.arg(2) as usize).min(1 << 20));
    task.mm().check_access(addr, count, true)?;
    let mut buf = vec![0u8; count];
    let n = file.ops.getdents(&mut buf)?;
    fs::notify::file_event(&file, libc::IN_ACCESS);
    layout(&mut buf[..n]);
    task.mm().write(addr, &buf[..n])?;
    Ok(n as u64)
}

/// Rewrites `linux_dirent64` records in place as the old `linux_dirent` ones: the name
/// moves one byte down to where `d_type` was, and `d_type` goes to the record's last
/// byte. Both layouts give a name of `n` bytes a record of `align8(20 + n)` bytes, so the
/// records keep their sizes and offsets.
fn dirents_to_legacy(buf: &mut [u8]) {
    let mut at = 0;
    while at + 19 <= buf.len() {
        let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
        let rec = &mut buf[at..at + reclen];
        let dtype = rec[18];
        let len = rec[19..].iter().position(|&c| c == 0).unwrap_or(0);
        rec.copy_within(19..19 + len, 18);
        rec[18 + len..].fill(0);
        rec[reclen - 1] = dtype;
        at += reclen;
    }
}

/// `getdents64(fd, dirp, count)`.
pub fn getdents64(task: &mut Task) -> SysResult {
    read_dirents(task, |_| {})
}

/// `getdents(fd, dirp, count)`: the old `linux_dirent` layout, `d_type` in the last byte
/// of each record (on x86_64 every inode number fits its `unsigned long`).
pub fn getdents(task: &mut Task) -> SysResult {
    read_dirents(task, dirents_to_legacy)
}

/// `close(fd)`.
pub fn close(task: &mut Task) -> SysResult {
    task.files.lock().remove(task.arg(0) as i32)?;
    Ok(0)
}

/// `close_range(first, last, flags)`.
pub fn close_range(task: &mut Task) -> SysResult {
    let (first, last, flags) = (task.arg(0) as u32, task.arg(1) as u32, task.arg(2) as u32);
    if first > last || flags & !(libc::CLOSE_RANGE_CLOEXEC | libc::CLOSE_RANGE_UNSHARE) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut files = task.files.lock();
    if flags & libc::CLOSE_RANGE_CLOEXEC != 0 {
        let fds: Vec<i32> = files
            .iter()
            .map(|(fd, _)| fd)
            .filter(|&fd| fd as u32 >= first && fd as u32 <= last)
            .collect();
        for fd in fds {
            files.get_mut(fd)?.cloexec = true;
        }
    } else {
        drop(files.remove_range(first, last));
    }
    Ok(0)
}

fn nofile(task: &Task) -> u64 {
    task.process.rlimit(libc::RLIMIT_NOFILE as usize)
}

/// `dup(oldfd)`.
pub fn dup(task: &mut Task) -> SysResult {
    let limit = nofile(task);
    let mut files = task.files.lock();
    let file = files.file(task.arg(0) as i32)?;
    Ok(files.insert(file, false, 0, limit)? as u64)
}

fn dup_to(task: &mut Task, old: i32, new: i32, cloexec: bool) -> SysResult {
    let limit = nofile(task);
    let mut files = task.files.lock();
    let file = files.file(old)?;
    let replaced = files.install(new, file, cloexec, limit)?;
    drop(files);
    drop(replaced);
    Ok(new as u64)
}

/// `dup2(oldfd, newfd)`.
pub fn dup2(task: &mut Task) -> SysResult {
    let (old, new) = (task.arg(0) as i32, task.arg(1) as i32);
    if old == new {
        task.file(old)?;
        return Ok(new as u64);
    }
    dup_to(task, old, new, false)
}

/// `dup3(oldfd, newfd, flags)`.
pub fn dup3(task: &mut Task) -> SysResult {
    let (old, new, flags) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32);
    if old == new || flags & !libc::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL.into());
    }
    dup_to(task, old, new, flags & libc::O_CLOEXEC != 0)
}

/// `fcntl(fd, cmd, arg)`.
pub fn fcntl(task: &mut Task) -> SysResult {
    let (fd, cmd, arg) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2));
    let limit = nofile(task);
    let mut files = task.files.lock();
    let entry = files.get(fd)?.clone();
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = arg as i32;
            if min < 0 || min as u64 >= limit {
                return Err(Errno::EINVAL.into());
            }
            Ok(files.insert(entry.file, cmd == libc::F_DUPFD_CLOEXEC, min, limit)? as u64)
        }
        libc::F_GETFD => Ok(if entry.cloexec {
            libc::FD_CLOEXEC as u64
        } else {
            0
        }),
        libc::F_SETFD => {
            files.get_mut(fd)?.cloexec = arg as i32 & libc::FD_CLOEXEC != 0;
            Ok(0)
        }
        libc::F_GETFL => Ok(entry.file.flags() as u64),
        libc::F_SETFL => {
            entry.file.set_flags(arg as i32);
            Ok(0)
        }
        libc::F_GETLK
        | libc::F_SETLK
        | libc::F_SETLKW
        | libc::F_OFD_GETLK
        | libc::F_OFD_SETLK
        | libc::F_OFD_SETLKW => {
            drop(files);
            super::lock::fcntl(task, fd, entry.file, cmd, arg)
        }
        libc::F_GETOWN | libc::F_SETOWN | F_GETSIG | F_SETSIG => Ok(0),
        libc::F_GET_SEALS => Ok(u64::from(
            Memfd::of(&entry.file).ok_or(Errno::EINVAL)?.seals(),
        )),
        libc::F_ADD_SEALS => {
            let memfd = Memfd::of(&entry.file).ok_or(Errno::EINVAL)?;
            memfd.add_seals(&entry.file, arg as u32)?;
            Ok(0)
        }
        libc::F_GETPIPE_SZ => Ok(entry.file.ops.pipe_end().ok_or(Errno::EBADF)?.capacity() as u64),
        libc::F_SETPIPE_SZ => Ok(entry
            .file
            .ops
            .pipe_end()
            .ok_or(Errno::EBADF)?
            .set_capacity(arg as usize)? as u64),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `ioctl(fd, request, arg)`: terminal requests on sentry ptys are answered by
/// [`super::tty`], others are forwarded to a host terminal; socket
/// requests go to the socket layer (sentry or host sockets); FIONREAD, FIONBIO, FIOCLEX and FIONCLEX are answered
/// here; anything else is ENOTTY.
pub fn ioctl(task: &mut Task) -> SysResult {
    let (fd, req, arg) = (task.arg(0) as i32, task.arg(1), task.arg(2));
    let file = task.file(fd)?;
    match req as libc::c_ulong {
        libc::FIOCLEX | libc::FIONCLEX => {
            task.files.lock().get_mut(fd)?.cloexec = req as libc::c_ulong == libc::FIOCLEX;
            return Ok(0);
        }
        libc::FIONBIO => {
            let on: i32 = task.read_obj(arg)?;
            let flags = file.flags();
            file.set_flags(if on != 0 {
                flags | libc::O_NONBLOCK
            } else {
                flags & !libc::O_NONBLOCK
            });
            return Ok(0);
        }
        libc::FIONREAD => {
            let n = file.ops.readable_bytes()?;
            task.write_obj(arg, &(n.min(i32::MAX as usize) as i32))?;
            return Ok(0);
        }
        _ => {}
    }
    if let Some(sock) = fs::socket::Socket::of(&file) {
        return super::net::ioctl::ioctl(task, sock, req, arg);
    }
    if let Some(sock) = fs::socket::host::HostSocket::of(&file) {
        return super::net::host::ioctl(task, sock, req, arg);
    }
    if fs::pty::Pty::of(&file).is_some() {
        return super::tty::ioctl(task, &file, req, arg);
    }
    let size = platform::host::tty_ioctl_size(req).ok_or(Errno::ENOTTY)?;
    let host = file.ops.host_fd().ok_or(Errno::ENOTTY)?;
    if !nix::unistd::isatty(host).unwrap_or(false) {
        return Err(Errno::ENOTTY.into());
    }
    let mut buf = vec![0u8; 64];
    match req as libc::c_ulong {
        // The terminal's foreground group and session are host pids; the guest sees its own.
        libc::TIOCGPGRP => {
            task.write_obj(arg, &task.kernel.foreground_pgrp())?;
            return Ok(0);
        }
        libc::TIOCGSID => {
            let sid = task
                .kernel
                .tree
                .lock()
                .get(task.process.pid)
                .map_or(1, |e| e.sid);
            task.write_obj(arg, &sid)?;
            return Ok(0);
        }
        libc::TIOCSPGRP => {
            let pgrp: i32 = task.read_obj(arg)?;
            if pgrp <= 0 {
                return Err(Errno::EINVAL.into());
            }
            if task.kernel.tree.lock().group(pgrp).is_empty() {
                return Err(Errno::EPERM.into());
            }
            task.kernel.set_foreground_pgrp(pgrp);
            return Ok(0);
        }
        libc::TCSETS | libc::TCSETSW | libc::TCSETSF | libc::TIOCSWINSZ => {
            task.mm().read(arg, &mut buf[..size])?
        }
        _ => task.mm().check_access(arg, size, true)?,
    }
    let r = platform::host::tty_ioctl(host, req, &mut buf)?;
    if matches!(req as libc::c_ulong, libc::TCGETS | libc::TIOCGWINSZ) {
        task.mm().write(arg, &buf[..size])?;
    }
    Ok(r as u64)
}

/// `fsync(fd)`, `fdatasync(fd)`, `syncfs(fd)`: stores made through shared mappings of the
/// file are written back first.
pub fn fsync(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    mapped_files::sync(&task.kernel, &file)?;
    Ok(0)
}

/// `sync()`.
pub fn sync(_task: &mut Task) -> SysResult {
    Ok(0)
}

/// `fadvise64(fd, offset, len, advice)`: advice is accepted and ignored.
pub fn fadvise64(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    if task.arg(3) > 5 {
        return Err(Errno::EINVAL.into());
    }
    if file.ops.seek(0, libc::SEEK_CUR) == Err(Errno::ESPIPE) {
        return Err(Errno::ESPIPE.into());
    }
    Ok(0)
}
