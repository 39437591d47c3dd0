//! Moving data through sockets: sendto, sendmsg, sendmmsg, recvfrom, recvmsg,
//! recvmmsg; iovecs in guest memory, control messages (`SCM_RIGHTS`, `SCM_CREDENTIALS`),
//! SIGPIPE for streams.

use super::{AnySocket, Ucred, addr, any_socket_of, host, nofile, socket_of};
use crate::abi::{Iovec, Timespec};
use crate::errno::{SysErr, SysResult, mm_errno};
use crate::kernel::sigframe::SigInfo;
use crate::kernel::task::Task;
use fs::OpenFile;
use fs::socket::{Cred, RecvFlags, SCM_MAX_FD, SendArgs, Sink, SockType};
use mm::AddressSpace;
use nix::errno::Errno;
use std::sync::Arc;
use std::time::Instant;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct msghdr` (user side).
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct MsgHdr {
    name: u64,
    namelen: i32,
    pad0: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
    flags: i32,
    pad1: u32,
}

/// Offsets of the fields `recvmsg` writes back.
const MSGHDR_NAMELEN: u64 = 8;
const MSGHDR_CONTROLLEN: u64 = 40;
const MSGHDR_FLAGS: u64 = 48;

/// `struct cmsghdr`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct CmsgHdr {
    len: u64,
    level: i32,
    kind: i32,
}

const CMSG_HDR: usize = std::mem::size_of::<CmsgHdr>();

/// Most iovecs in one `msghdr` (`UIO_MAXIOV`).
const IOV_MAX: u64 = 1024;
/// Largest transfer of one call (`MAX_RW_COUNT`).
const MAX_RW: u64 = 0x7fff_f000;
/// Bytes of a stream send copied in from the guest at a time.
pub(super) const CHUNK: usize = 1 << 20;
/// Largest control buffer `sendmsg` copies in (`optmem_max`).
const OPTMEM_MAX: u64 = 131_072;

/// Reads an iovec array, with its total length capped like Linux's.
fn read_iovecs(task: &Task, addr: u64, count: u64) -> Result<Vec<Iovec>, SysErr> {
    if count > IOV_MAX {
        return Err(Errno::EMSGSIZE.into());
    }
    let mm = task.mm();
    let mut out = Vec::with_capacity(count as usize);
    let mut total = 0u64;
    for i in 0..count {
        let mut v: Iovec = mm.read_obj(addr + i * 16)?;
        if (v.len as i64) < 0 {
            return Err(Errno::EINVAL.into());
        }
        v.len = v.len.min(MAX_RW - total);
        total += v.len;
        out.push(v);
    }
    Ok(out)
}

/// Received bytes going into guest iovecs.
pub(super) struct IovSink {
    mm: Arc<AddressSpace>,
    iovs: Vec<Iovec>,
    /// The iovec being filled and how far.
    at: usize,
    off: u64,
    room: usize,
}

impl IovSink {
    pub(super) fn new(mm: Arc<AddressSpace>, iovs: Vec<Iovec>) -> IovSink {
        let room = iovs.iter().map(|v| v.len as usize).sum();
        IovSink {
            mm,
            iovs,
            at: 0,
            off: 0,
            room,
        }
    }
}

impl Sink for IovSink {
    fn room(&self) -> usize {
        self.room
    }

    fn put(&mut self, mut data: &[u8]) -> fs::Result<()> {
        while !data.is_empty() {
            let v = self.iovs[self.at];
            let n = ((v.len - self.off) as usize).min(data.len());
            self.mm
                .write(v.base + self.off, &data[..n])
                .map_err(mm_errno)?;
            data = &data[n..];
            self.room -= n;
            self.off += n as u64;
            if self.off == v.len {
                self.at += 1;
                self.off = 0;
            }
        }
        Ok(())
    }
}

/// Gathers `len` bytes from iovecs, starting `skip` bytes in.
pub(super) fn gather(
    mm: &AddressSpace,
    iovs: &[Iovec],
    mut skip: u64,
    len: usize,
) -> Result<Vec<u8>, SysErr> {
    let mut out = Vec::with_capacity(len);
    for v in iovs {
        if out.len() == len {
            break;
        }
        if skip >= v.len {
            skip -= v.len;
            continue;
        }
        let n = ((v.len - skip) as usize).min(len - out.len());
        let at = out.len();
        out.resize(at + n, 0);
        mm.read(v.base + skip, &mut out[at..])?;
        skip = 0;
    }
    Ok(out)
}

/// What a send carries besides its bytes.
struct Outgoing {
    name: Option<Vec<u8>>,
    fds: Vec<Arc<OpenFile>>,
    creds: Option<Cred>,
}

/// Raises SIGPIPE for a stream send that failed because the peer is gone, as Linux's
/// `unix_stream_sendmsg` and TCP do (datagram sockets never raise it).
pub(super) fn sigpipe(task: &mut Task) {
    let uid = task.process.creds.lock().uid;
    task.raise(SigInfo::user(libc::SIGPIPE, 0, task.process.pid, uid));
}

fn do_send(task: &mut Task, fd: i32, iovs: &[Iovec], out: Outgoing, flags: i32) -> SysResult {
    let (file, sock) = socket_of(task, fd)?;
    if flags & libc::MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let nonblock = file.nonblocking() || flags & libc::MSG_DONTWAIT != 0;
    let to = match &out.name {
        Some(raw) => addr::send_target(task, &sock, raw)?,
        None => None,
    };
    let total = iovs.iter().map(|v| v.len).sum::<u64>() as usize;
    let mm = task.mm();
    let r = if sock.kind() == SockType::Stream {
        // In pieces, so a large send needs no large buffer; the files go with the first.
        let mut fds = out.fds;
        let mut sent = 0usize;
        loop {
            let want = (total - sent).min(CHUNK);
            let data = match gather(&mm, iovs, sent as u64, want) {
                Ok(d) => d,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break Ok(sent),
            };
            let args = SendArgs {
                to: None,
                fds: std::mem::take(&mut fds),
                creds: out.creds,
                nonblock,
            };
            match sock.send(task.waiter(), &data, args) {
                Ok(n) => {
                    sent += n;
                    if n < want || sent == total {
                        break Ok(sent);
                    }
                }
                Err(e) if sent == 0 => break Err(e),
                Err(_) => break Ok(sent),
            }
        }
    } else {
        if total > CHUNK {
            return Err(Errno::EMSGSIZE.into());
        }
        let data = gather(&mm, iovs, 0, total)?;
        let args = SendArgs {
            to,
            fds: out.fds,
            creds: out.creds,
            nonblock,
        };
        sock.send(task.waiter(), &data, args)
    };
    if r == Err(Errno::EPIPE) && sock.kind() == SockType::Stream && flags & libc::MSG_NOSIGNAL == 0
    {
        sigpipe(task);
    }
    Ok(r? as u64)
}

/// `sendto(fd, buf, len, flags, dest_addr, addrlen)`.
pub fn sendto(task: &mut Task) -> SysResult {
    let (fd, buf, len, flags) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2).min(MAX_RW),
        task.arg(3) as i32,
    );
    let (name_ptr, name_len) = (task.arg(4), task.arg(5) as i32);
    let name = if name_ptr != 0 {
        Some(addr::read_sockaddr(task, name_ptr, name_len)?).filter(|n| !n.is_empty())
    } else {
        None
    };
    let iov = [Iovec { base: buf, len }];
    if let (file, AnySocket::Host(h)) = any_socket_of(task, fd)? {
        return host::send(
            task,
            &h,
            file.nonblocking(),
            &iov,
            name.as_deref(),
            &[],
            flags,
        );
    }
    let out = Outgoing {
        name,
        fds: Vec::new(),
        creds: None,
    };
    do_send(task, fd, &iov, out, flags)
}

/// Checks credentials a sender claims (`SCM_CREDENTIALS`): its own pid and one of its
/// ids, unless it is root.
fn check_creds(task: &Task, u: &Ucred) -> Result<Cred, SysErr> {
    let c = *task.process.creds.lock();
    let root = c.euid == 0;
    let pid_ok = u.pid == task.process.pid || root;
    let uid_ok = [c.uid, c.euid, c.suid].contains(&u.uid) || root;
    let gid_ok = [c.gid, c.egid, c.sgid].contains(&u.gid) || root;
    if !(pid_ok && uid_ok && gid_ok) {
        return Err(Errno::EPERM.into());
    }
    if u.uid == u32::MAX || u.gid == u32::MAX {
        return Err(Errno::EINVAL.into());
    }
    Ok(Cred {
        pid: u.pid,
        uid: u.uid,
        gid: u.gid,
    })
}

/// Parses the control messages of a send: `SCM_RIGHTS` (the files behind the fds) and
/// `SCM_CREDENTIALS`; other `SOL_SOCKET` types and malformed headers are `EINVAL`,
/// other levels are ignored.
fn parse_control(task: &Task, ctl: &[u8]) -> Result<(Vec<Arc<OpenFile>>, Option<Cred>), SysErr> {
    let mut fds = Vec::new();
    let mut creds = None;
    let mut off = 0usize;
    while ctl.len() - off >= CMSG_HDR {
        let h = CmsgHdr::read_from_bytes(&ctl[off..off + CMSG_HDR]).expect("header size");
        if h.len < CMSG_HDR as u64 || h.len > (ctl.len() - off) as u64 {
            return Err(Errno::EINVAL.into());
        }
        let data = &ctl[off + CMSG_HDR..off + h.len as usize];
        if h.level == libc::SOL_SOCKET {
            match h.kind {
                libc::SCM_RIGHTS => {
                    let n = data.len() / 4;
                    if fds.len() + n > SCM_MAX_FD {
                        return Err(Errno::EINVAL.into());
                    }
                    for c in data.chunks_exact(4) {
                        let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                        fds.push(task.file(fd)?);
                    }
                }
                libc::SCM_CREDENTIALS => {
                    let u = Ucred::read_from_bytes(data).map_err(|_| Errno::EINVAL)?;
                    creds = Some(check_creds(task, &u)?);
                }
                _ => return Err(Errno::EINVAL.into()),
            }
        }
        let next = (h.len as usize).next_multiple_of(8);
        if next > ctl.len() - off {
            break;
        }
        off += next;
    }
    Ok((fds, creds))
}

/// `sendmsg(fd, msg, flags)`.
pub fn sendmsg(task: &mut Task) -> SysResult {
    let sent = send_msghdr(task, task.arg(0) as i32, task.arg(1), task.arg(2) as i32)?;
    Ok(sent.done)
}

/// How much of a message went out.
struct Sent {
    /// Bytes sent.
    done: u64,
    /// Bytes the message holds.
    total: u64,
}

/// Sends the message the `msghdr` at `msg_ptr` describes.
fn send_msghdr(task: &mut Task, fd: i32, msg_ptr: u64, flags: i32) -> Result<Sent, SysErr> {
    let hdr: MsgHdr = task.read_obj(msg_ptr)?;
    if hdr.namelen < 0 {
        return Err(Errno::EINVAL.into());
    }
    let name = if hdr.name != 0 && hdr.namelen > 0 {
        let len = (hdr.namelen as usize).min(addr::SOCKADDR_MAX) as i32;
        Some(addr::read_sockaddr(task, hdr.name, len)?)
    } else {
        None
    };
    let iovs = read_iovecs(task, hdr.iov, hdr.iovlen)?;
    if hdr.controllen > OPTMEM_MAX {
        return Err(Errno::ENOBUFS.into());
    }
    let mut ctl = vec![0u8; hdr.controllen as usize];
    if !ctl.is_empty() {
        task.mm().read(hdr.control, &mut ctl)?;
    }
    let total = iovs.iter().map(|v| v.len).sum();
    if let (file, AnySocket::Host(h)) = any_socket_of(task, fd)? {
        let nonblock = file.nonblocking();
        let done = host::send(task, &h, nonblock, &iovs, name.as_deref(), &ctl, flags)?;
        return Ok(Sent { done, total });
    }
    let (fds, creds) = parse_control(task, &ctl)?;
    let done = do_send(task, fd, &iovs, Outgoing { name, fds, creds }, flags)?;
    Ok(Sent { done, total })
}

/// The result of a receive, for the caller to copy out.
struct Incoming {
    ret: u64,
    truncated: bool,
    /// The sender's `sockaddr`, as the receiving socket's family shows it.
    from: Option<Vec<u8>>,
    fds: Vec<Arc<OpenFile>>,
    creds: Option<Cred>,
    /// Control messages a host socket received, as the host laid them out.
    control: Vec<u8>,
    /// `msg_flags` a host socket reported.
    flags: i32,
}

/// Receives into `iovs`, with room for `control_cap` bytes of control messages.
fn do_recv(
    task: &mut Task,
    fd: i32,
    iovs: Vec<Iovec>,
    control_cap: usize,
    flags: i32,
) -> Result<Incoming, SysErr> {
    let (file, sock) = match any_socket_of(task, fd)? {
        (file, AnySocket::Sentry(s)) => (file, s),
        (file, AnySocket::Host(h)) => {
            let got = host::recv(task, &h, file.nonblocking(), iovs, control_cap, flags)?;
            return Ok(Incoming {
                ret: got.ret,
                truncated: got.flags & libc::MSG_TRUNC != 0,
                from: Some(got.from).filter(|f| !f.is_empty()),
                fds: Vec::new(),
                creds: None,
                control: got.control,
                flags: got.flags,
            });
        }
    };
    if flags & libc::MSG_ERRQUEUE != 0 && sock.family().is_inet() {
        // No ICMP errors are ever queued.
        return Err(Errno::EAGAIN.into());
    }
    if flags & libc::MSG_OOB != 0 {
        return Err(if sock.kind() == SockType::Stream {
            Errno::EINVAL
        } else {
            Errno::EOPNOTSUPP
        }
        .into());
    }
    let f = RecvFlags {
        peek: flags & libc::MSG_PEEK != 0,
        waitall: flags & libc::MSG_WAITALL != 0,
        trunc: flags & libc::MSG_TRUNC != 0,
        nonblock: file.nonblocking() || flags & libc::MSG_DONTWAIT != 0,
    };
    let mut sink = IovSink::new(task.mm(), iovs);
    let got = sock.recv(task.waiter(), &mut sink, f)?;
    Ok(Incoming {
        ret: got.len as u64,
        truncated: got.truncated,
        from: got.from.map(|a| a.sockaddr(sock.family())),
        fds: got.fds,
        creds: got.creds,
        control: Vec::new(),
        flags: 0,
    })
}

/// `recvfrom(fd, buf, len, flags, src_addr, addrlen)`.
pub fn recvfrom(task: &mut Task) -> SysResult {
    let (fd, buf, len, flags) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2).min(MAX_RW),
        task.arg(3) as i32,
    );
    let (name_ptr, len_ptr) = (task.arg(4), task.arg(5));
    let got = do_recv(task, fd, vec![Iovec { base: buf, len }], 0, flags)?;
    if name_ptr != 0 {
        let name = got.from.unwrap_or_default();
        addr::write_sockaddr(task, name_ptr, len_ptr, &name)?;
    }
    Ok(got.ret)
}

/// Control messages being written into a `recvmsg` control buffer, as Linux's
/// `put_cmsg` and `scm_detach_fds` lay them out.
struct CmsgOut {
    addr: u64,
    cap: usize,
    used: usize,
    truncated: bool,
}

impl CmsgOut {
    fn room(&self) -> usize {
        self.cap - self.used
    }

    /// Writes one message; a buffer too small for all of it gets what fits and
    /// `MSG_CTRUNC`. Returns whether the header was written.
    fn put(&mut self, mm: &AddressSpace, level: i32, kind: i32, data: &[u8]) -> bool {
        let room = self.room();
        if self.addr == 0 || room < CMSG_HDR {
            self.truncated = true;
            return false;
        }
        let mut len = CMSG_HDR + data.len();
        if room < len {
            self.truncated = true;
            len = room;
        }
        let h = CmsgHdr {
            len: len as u64,
            level,
            kind,
        };
        let at = self.addr + self.used as u64;
        let ok = mm.write(at, h.as_bytes()).is_ok()
            && mm
                .write(at + CMSG_HDR as u64, &data[..len - CMSG_HDR])
                .is_ok();
        if ok {
            self.used += (CMSG_HDR + data.len()).next_multiple_of(8).min(room);
        }
        ok
    }
}

/// Installs received files as fds and describes them in an `SCM_RIGHTS` message, as
/// many as the buffer has room for (`MSG_CTRUNC` for the rest, which are closed).
fn put_rights(task: &Task, out: &mut CmsgOut, fds: Vec<Arc<OpenFile>>, cloexec: bool) {
    let fit = if out.addr == 0 || out.room() <= CMSG_HDR {
        0
    } else {
        (out.room() - CMSG_HDR) / 4
    };
    let limit = nofile(task);
    let count = fds.len();
    let mut installed = Vec::new();
    {
        let mut files = task.files.lock();
        for f in fds.into_iter().take(fit) {
            match files.insert(f, cloexec, 0, limit) {
                Ok(fd) => installed.push(fd),
                Err(_) => break,
            }
        }
    }
    if installed.len() < count {
        out.truncated = true;
    }
    if installed.is_empty() {
        return;
    }
    let data: Vec<u8> = installed.iter().flat_map(|fd| fd.to_ne_bytes()).collect();
    if !out.put(&task.mm(), libc::SOL_SOCKET, libc::SCM_RIGHTS, &data) {
        // The guest cannot learn the numbers: do not leave them open.
        let mut files = task.files.lock();
        for fd in installed {
            drop(files.remove(fd));
        }
    }
}

/// `recvmsg(fd, msg, flags)`.
pub fn recvmsg(task: &mut Task) -> SysResult {
    recv_msghdr(task, task.arg(0) as i32, task.arg(1), task.arg(2) as i32)
}

/// Receives a message into the `msghdr` at `msg_ptr`, writing back its name, control
/// and flag fields.
fn recv_msghdr(task: &mut Task, fd: i32, msg_ptr: u64, flags: i32) -> SysResult {
    let hdr: MsgHdr = task.read_obj(msg_ptr)?;
    if hdr.namelen < 0 {
        return Err(Errno::EINVAL.into());
    }
    let iovs = read_iovecs(task, hdr.iov, hdr.iovlen)?;
    let cap = if hdr.control == 0 { 0 } else { hdr.controllen };
    let got = do_recv(task, fd, iovs, cap.min(i32::MAX as u64) as usize, flags)?;
    if hdr.name != 0 {
        let name = got.from.unwrap_or_default();
        let n = (hdr.namelen as usize).min(name.len());
        if n > 0 {
            task.mm().write(hdr.name, &name[..n])?;
        }
        task.write_obj(msg_ptr + MSGHDR_NAMELEN, &(name.len() as u32))?;
    }
    let mut out = CmsgOut {
        addr: hdr.control,
        cap: hdr.controllen.min(i32::MAX as u64) as usize,
        used: 0,
        truncated: false,
    };
    if !got.control.is_empty() {
        task.mm().write(hdr.control, &got.control)?;
        out.used = got.control.len();
    }
    if hdr.control == 0 {
        out.truncated = got.creds.is_some() || !got.fds.is_empty();
    } else {
        if let Some(c) = got.creds {
            let u = Ucred {
                pid: c.pid,
                uid: c.uid,
                gid: c.gid,
            };
            out.put(
                &task.mm(),
                libc::SOL_SOCKET,
                libc::SCM_CREDENTIALS,
                u.as_bytes(),
            );
        }
        if !got.fds.is_empty() {
            put_rights(task, &mut out, got.fds, flags & libc::MSG_CMSG_CLOEXEC != 0);
        }
    }
    let mut msg_flags = (flags & libc::MSG_CMSG_CLOEXEC) | got.flags;
    if got.truncated {
        msg_flags |= libc::MSG_TRUNC;
    }
    if out.truncated {
        msg_flags |= libc::MSG_CTRUNC;
    }
    task.write_obj(msg_ptr + MSGHDR_FLAGS, &msg_flags)?;
    task.write_obj(msg_ptr + MSGHDR_CONTROLLEN, &(out.used as u64))?;
    Ok(got.ret)
}

/// `sizeof(struct mmsghdr)`: a `msghdr` and the length of its message.
const MMSGHDR_SIZE: u64 = std::mem::size_of::<MsgHdr>() as u64 + 8;
/// Offset of `msg_len` in a `struct mmsghdr`.
const MMSGHDR_LEN: u64 = std::mem::size_of::<MsgHdr>() as u64;

/// `sendmmsg(fd, msgvec, vlen, flags)`: sends the messages in turn (at most
/// `UIO_MAXIOV`), storing each one's length, until one fails or goes out only in part.
/// An error after the first message is dropped: the count of those sent is returned.
pub fn sendmmsg(task: &mut Task) -> SysResult {
    let (fd, vec, flags) = (task.arg(0) as i32, task.arg(1), task.arg(3) as i32);
    let vlen = (task.arg(2) as u32).min(IOV_MAX as u32) as u64;
    any_socket_of(task, fd)?;
    let mut sent = 0;
    while sent < vlen {
        let entry = vec + sent * MMSGHDR_SIZE;
        let r = send_msghdr(task, fd, entry, flags).and_then(|m| {
            task.write_obj(entry + MMSGHDR_LEN, &(m.done as u32))?;
            Ok(m)
        });
        let m = match r {
            Ok(m) => m,
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        };
        sent += 1;
        if m.done < m.total {
            break;
        }
    }
    Ok(sent)
}

/// `recvmmsg(fd, msgvec, vlen, flags, timeout)`: receives messages in turn, storing each
/// one's length. A pending socket error comes first. `MSG_WAITFORONE` makes every
/// receive after the first nonblocking; the timeout, as on Linux, is only looked at
/// after each message (a receive still blocks), and what is left of it is written back.
/// An error after the first message is kept for the next call (`SO_ERROR`), unless it is
/// `EAGAIN`, and the count of messages received is returned.
pub fn recvmmsg(task: &mut Task) -> SysResult {
    let (fd, vec, vlen, timeout_ptr) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as u32 as u64,
        task.arg(4),
    );
    let mut flags = task.arg(3) as i32;
    let deadline = if timeout_ptr == 0 {
        None
    } else {
        let ts: Timespec = task.read_obj(timeout_ptr)?;
        Some(Instant::now() + ts.to_duration().ok_or(Errno::EINVAL)?)
    };
    let (_, sock) = any_socket_of(task, fd)?;
    if flags & libc::MSG_ERRQUEUE == 0 {
        let pending = match &sock {
            AnySocket::Sentry(s) => s.take_error(),
            AnySocket::Host(h) => Some(h.take_error()?)
                .filter(|&e| e != 0)
                .map(Errno::from_raw),
        };
        if let Some(e) = pending {
            return Err(e.into());
        }
    }
    let mut got = 0;
    let mut left = None;
    while got < vlen {
        let entry = vec + got * MMSGHDR_SIZE;
        let r = recv_msghdr(task, fd, entry, flags & !libc::MSG_WAITFORONE).and_then(|n| {
            task.write_obj(entry + MMSGHDR_LEN, &(n as u32))?;
            Ok(n)
        });
        if let Err(e) = r {
            if got == 0 {
                return Err(e);
            }
            // A host socket's error cannot be put back: it is dropped.
            if let AnySocket::Sentry(s) = &sock
                && e.errno() != Errno::EAGAIN
            {
                s.set_error(e.errno());
            }
            break;
        }
        got += 1;
        if flags & libc::MSG_WAITFORONE != 0 {
            flags |= libc::MSG_DONTWAIT;
        }
        if let Some(d) = deadline {
            let rest = d.saturating_duration_since(Instant::now());
            left = Some(rest);
            if rest.is_zero() {
                break;
            }
        }
    }
    if let Some(rest) = left {
        task.write_obj(timeout_ptr, &Timespec::from_duration(rest))?;
    }
    Ok(got)
}
