//! Socket syscalls over the sentry's `AF_UNIX` sockets ([`fs::socket`]): socket,
//! socketpair, bind, listen, accept, accept4, connect, sendto, recvfrom, sendmsg, recvmsg,
//! sendmmsg, recvmmsg, shutdown, getsockname, getpeername, getsockopt, setsockopt.
//!
//! This layer owns what needs the task: guest memory (addresses, `msghdr`, iovecs,
//! control messages), fds (ENOTSOCK, installing passed files), the guest's VFS (the socket
//! inode of a filesystem name), credentials, and SIGPIPE. There is no network: every other
//! address family is `EAFNOSUPPORT`.

use super::uaccess::AT_FDCWD;
use crate::abi::{Iovec, Timespec, Timeval};
use crate::errno::{SysErr, SysResult, mm_errno};
use crate::kernel::sigframe::SigInfo;
use crate::kernel::task::Task;
use fs::socket::{
    Address, Caller, Cred, Key, Namespace, RecvFlags, SCM_MAX_FD, SendArgs, Sink, SockType, Socket,
    SocketFile, unnamed_sockaddr,
};
use fs::{FileType, OpenFile};
use mm::AddressSpace;
use nix::errno::Errno;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
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

/// `struct ucred`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Ucred {
    pid: i32,
    uid: u32,
    gid: u32,
}

/// `struct linger`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Linger {
    onoff: i32,
    linger: i32,
}

/// Largest `sockaddr` a call takes (`sizeof(struct sockaddr_storage)`).
const SOCKADDR_MAX: usize = 128;
/// `sizeof(struct sockaddr_un)`.
const SOCKADDR_UN_MAX: usize = 110;
/// Number of address families Linux knows (`AF_MAX`): others are `EAFNOSUPPORT` before
/// the type is checked.
const AF_MAX: i32 = 46;
/// `SOCK_MAX`: type numbers beyond are `EINVAL`.
const SOCK_MAX: i32 = 11;
const SOCK_TYPE_MASK: i32 = 0xf;
/// Most iovecs in one `msghdr` (`UIO_MAXIOV`).
const IOV_MAX: u64 = 1024;
/// Largest transfer of one call (`MAX_RW_COUNT`).
const MAX_RW: u64 = 0x7fff_f000;
/// Bytes of a stream send copied in from the guest at a time.
const CHUNK: usize = 1 << 20;
/// Largest control buffer `sendmsg` copies in (`optmem_max`).
const OPTMEM_MAX: u64 = 131_072;
/// Options whose value `setsockopt` records and `getsockopt` returns, nothing more.
const RECORDED_FLAGS: [i32; 5] = [
    libc::SO_REUSEADDR,
    libc::SO_KEEPALIVE,
    libc::SO_BROADCAST,
    libc::SO_DONTROUTE,
    libc::SO_OOBINLINE,
];

/// The calling task's process and ids, for the socket layer.
fn caller() -> Caller {
    match crate::kernel::current::get() {
        Some((process, _)) => {
            let c = *process.creds.lock();
            Caller {
                pid: process.pid,
                uid: c.uid,
                gid: c.gid,
                euid: c.euid,
                egid: c.egid,
            }
        }
        None => Caller::default(),
    }
}

/// The sandbox's socket names (one sandbox per sentry process).
static NAMESPACE: LazyLock<Arc<Namespace>> = LazyLock::new(|| Namespace::new(caller));

/// A `sockaddr_un` as the guest gave it.
enum UnixName {
    Path(Vec<u8>),
    Abstract(Vec<u8>),
}

/// Parses a `sockaddr_un`: `EINVAL` unless it is `AF_UNIX` and of a valid length. A
/// `sun_path` starting with NUL is an abstract name (the bytes after the NUL, up to the
/// length); else a path up to its first NUL.
fn parse_unix(raw: &[u8]) -> Result<UnixName, SysErr> {
    if raw.len() < 2 || raw.len() > SOCKADDR_UN_MAX || family(raw) != libc::AF_UNIX {
        return Err(Errno::EINVAL.into());
    }
    let path = &raw[2..];
    Ok(match path.first() {
        Some(&c) if c != 0 => {
            let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
            UnixName::Path(path[..end].to_vec())
        }
        _ => UnixName::Abstract(path.get(1..).unwrap_or_default().to_vec()),
    })
}

fn family(raw: &[u8]) -> i32 {
    u16::from_ne_bytes([raw[0], raw[1]]) as i32
}

/// Copies a socket address in (`EINVAL` for a negative or too long length).
fn read_sockaddr(task: &Task, addr: u64, len: i32) -> Result<Vec<u8>, SysErr> {
    if len < 0 || len as usize > SOCKADDR_MAX {
        return Err(Errno::EINVAL.into());
    }
    let mut raw = vec![0u8; len as usize];
    if len > 0 {
        task.mm().read(addr, &mut raw)?;
    }
    Ok(raw)
}

/// Copies a socket address out as Linux's `move_addr_to_user` does: at most `*len_ptr`
/// bytes of it, then its full length into `*len_ptr`.
fn write_sockaddr(task: &Task, addr: u64, len_ptr: u64, bytes: &[u8]) -> Result<(), SysErr> {
    let len: i32 = task.read_obj(len_ptr)?;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let n = (len as usize).min(bytes.len());
    if n > 0 {
        task.mm().write(addr, &bytes[..n])?;
    }
    task.write_obj(len_ptr, &(bytes.len() as u32))
}

fn sockaddr_of(name: Option<Address>) -> Vec<u8> {
    name.map_or_else(unnamed_sockaddr, |a| a.to_sockaddr())
}

/// The socket behind `fd` (`ENOTSOCK` if it is another file).
fn socket_of(task: &Task, fd: i32) -> Result<(Arc<OpenFile>, Arc<Socket>), SysErr> {
    let file = task.file(fd)?;
    let sock = Socket::of(&file).ok_or(Errno::ENOTSOCK)?.clone();
    Ok((file, sock))
}

/// Finds the socket a name refers to: a filesystem name by the socket inode at the path
/// (`ENOENT` and other walk errors; `ECONNREFUSED` if it is no socket or nobody is bound
/// to it; `EACCES` without write permission), an abstract one by the name.
fn resolve(task: &Task, name: &UnixName, kind: SockType) -> Result<Arc<Socket>, SysErr> {
    let key = match name {
        UnixName::Abstract(n) => Key::Abstract(n.clone()),
        UnixName::Path(p) => {
            let st = task.lookup_at(AT_FDCWD, p, true)?.inode().stat()?;
            if st.file_type() != FileType::Socket {
                return Err(Errno::ECONNREFUSED.into());
            }
            let creds = *task.process.creds.lock();
            if !creds.permits(st.mode, st.uid, st.gid, 2, false, false) {
                return Err(Errno::EACCES.into());
            }
            Key::Inode {
                dev: st.dev,
                ino: st.ino,
            }
        }
    };
    Ok(NAMESPACE.lookup(&key, kind)?)
}

/// Checks `socket(2)`'s arguments in Linux's order and returns the type and its
/// `SOCK_NONBLOCK`/`SOCK_CLOEXEC` flags.
fn socket_type(domain: i32, ty: i32, protocol: i32) -> Result<(SockType, i32), SysErr> {
    let flags = ty & !SOCK_TYPE_MASK;
    if flags & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    if !(0..AF_MAX).contains(&domain) {
        return Err(Errno::EAFNOSUPPORT.into());
    }
    if ty & SOCK_TYPE_MASK >= SOCK_MAX {
        return Err(Errno::EINVAL.into());
    }
    if domain != libc::AF_UNIX {
        return Err(Errno::EAFNOSUPPORT.into());
    }
    if protocol != 0 && protocol != libc::PF_UNIX {
        return Err(Errno::EPROTONOSUPPORT.into());
    }
    Ok((SockType::from_raw(ty & SOCK_TYPE_MASK)?, flags))
}

/// An open file for a socket: read-write, nonblocking with `SOCK_NONBLOCK`.
fn socket_open_file(sock: SocketFile, flags: i32) -> Arc<OpenFile> {
    OpenFile::new(
        Box::new(sock),
        libc::O_RDWR | (flags & libc::SOCK_NONBLOCK),
        None,
    )
}

fn nofile(task: &Task) -> u64 {
    task.process.rlimit(libc::RLIMIT_NOFILE as usize)
}

/// `socket(domain, type, protocol)`.
pub fn socket(task: &mut Task) -> SysResult {
    let (kind, flags) = socket_type(task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32)?;
    let file = socket_open_file(SocketFile::new(&NAMESPACE, kind), flags);
    let limit = nofile(task);
    let fd = task
        .files
        .lock()
        .insert(file, flags & libc::SOCK_CLOEXEC != 0, 0, limit)?;
    Ok(fd as u64)
}

/// `socketpair(domain, type, protocol, sv)`.
pub fn socketpair(task: &mut Task) -> SysResult {
    let (kind, flags) = socket_type(task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32)?;
    let (a, b) = SocketFile::pair(&NAMESPACE, kind);
    let (a, b) = (socket_open_file(a, flags), socket_open_file(b, flags));
    let cloexec = flags & libc::SOCK_CLOEXEC != 0;
    let limit = nofile(task);
    let fds = {
        let mut files = task.files.lock();
        let x = files.insert(a, cloexec, 0, limit)?;
        match files.insert(b, cloexec, 0, limit) {
            Ok(y) => [x, y],
            Err(e) => {
                drop(files.remove(x));
                return Err(e.into());
            }
        }
    };
    if let Err(e) = task.write_obj(task.arg(3), &fds) {
        let mut files = task.files.lock();
        drop(files.remove(fds[0]));
        drop(files.remove(fds[1]));
        return Err(e);
    }
    Ok(0)
}

/// Binds to a filesystem name: creates the socket inode (`EADDRINUSE` if the path
/// exists), then registers the socket under its identity.
fn bind_path(task: &Task, sock: &Socket, path: Vec<u8>) -> Result<(), SysErr> {
    let l = task.with_walk(AT_FDCWD, &path, |ctx| {
        Ok(task.kernel.vfs.walk(ctx, &path, false)?)
    })?;
    if l.child.is_some() || l.is_dot() {
        return Err(Errno::EADDRINUSE.into());
    }
    if sock.is_bound() {
        return Err(Errno::EINVAL.into());
    }
    let umask = task.fs.lock().umask;
    let dir = l.parent.inode();
    match dir.mknod(&l.name, libc::S_IFSOCK | (0o777 & !umask), 0) {
        Err(Errno::EEXIST) => return Err(Errno::EADDRINUSE.into()),
        r => r?,
    }
    let st = dir.lookup(&l.name).and_then(|i| i.stat());
    let bound = st.and_then(|st| sock.bind_path(path, st.dev, st.ino));
    if let Err(e) = bound {
        let _ = dir.unlink(&l.name);
        return Err(e.into());
    }
    Ok(())
}

/// `bind(fd, addr, addrlen)`.
pub fn bind(task: &mut Task) -> SysResult {
    let (_, sock) = socket_of(task, task.arg(0) as i32)?;
    let raw = read_sockaddr(task, task.arg(1), task.arg(2) as i32)?;
    if raw.len() == 2 && family(&raw) == libc::AF_UNIX {
        sock.autobind()?;
        return Ok(0);
    }
    match parse_unix(&raw)? {
        UnixName::Path(p) => bind_path(task, &sock, p)?,
        UnixName::Abstract(n) => sock.bind_abstract(n)?,
    }
    Ok(0)
}

/// `listen(fd, backlog)`.
pub fn listen(task: &mut Task) -> SysResult {
    let (_, sock) = socket_of(task, task.arg(0) as i32)?;
    sock.listen(task.arg(1) as i32)?;
    Ok(0)
}

fn do_accept(task: &mut Task, flags: i32) -> SysResult {
    if flags & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (addr, len_ptr) = (task.arg(1), task.arg(2));
    let (file, sock) = socket_of(task, task.arg(0) as i32)?;
    let conn = sock.accept(task.waiter(), file.nonblocking())?;
    let peer = conn.socket().peer_name().unwrap_or(None);
    let new = socket_open_file(conn, flags);
    if addr != 0 {
        // A fault here loses the connection, as on Linux.
        write_sockaddr(task, addr, len_ptr, &sockaddr_of(peer))?;
    }
    let limit = nofile(task);
    let fd = task
        .files
        .lock()
        .insert(new, flags & libc::SOCK_CLOEXEC != 0, 0, limit)?;
    Ok(fd as u64)
}

/// `accept(fd, addr, addrlen)`.
pub fn accept(task: &mut Task) -> SysResult {
    do_accept(task, 0)
}

/// `accept4(fd, addr, addrlen, flags)`.
pub fn accept4(task: &mut Task) -> SysResult {
    do_accept(task, task.arg(3) as i32)
}

/// `connect(fd, addr, addrlen)`.
pub fn connect(task: &mut Task) -> SysResult {
    let (file, sock) = socket_of(task, task.arg(0) as i32)?;
    let raw = read_sockaddr(task, task.arg(1), task.arg(2) as i32)?;
    let nonblock = file.nonblocking();
    if sock.kind() == SockType::Dgram {
        if raw.len() < 2 {
            return Err(Errno::EINVAL.into());
        }
        if family(&raw) == libc::AF_UNSPEC {
            sock.connect(task.waiter(), None, nonblock)?;
            return Ok(0);
        }
    }
    let target = resolve(task, &parse_unix(&raw)?, sock.kind())?;
    sock.connect(task.waiter(), Some(&target), nonblock)?;
    Ok(0)
}

/// `shutdown(fd, how)`.
pub fn shutdown(task: &mut Task) -> SysResult {
    let (_, sock) = socket_of(task, task.arg(0) as i32)?;
    sock.shutdown(task.arg(1) as i32)?;
    Ok(0)
}

/// `getsockname(fd, addr, addrlen)`.
pub fn getsockname(task: &mut Task) -> SysResult {
    let (_, sock) = socket_of(task, task.arg(0) as i32)?;
    write_sockaddr(task, task.arg(1), task.arg(2), &sockaddr_of(sock.name()))?;
    Ok(0)
}

/// `getpeername(fd, addr, addrlen)`.
pub fn getpeername(task: &mut Task) -> SysResult {
    let (_, sock) = socket_of(task, task.arg(0) as i32)?;
    let peer = sock.peer_name()?;
    write_sockaddr(task, task.arg(1), task.arg(2), &sockaddr_of(peer))?;
    Ok(0)
}

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
struct IovSink {
    mm: Arc<AddressSpace>,
    iovs: Vec<Iovec>,
    /// The iovec being filled and how far.
    at: usize,
    off: u64,
    room: usize,
}

impl IovSink {
    fn new(mm: Arc<AddressSpace>, iovs: Vec<Iovec>) -> IovSink {
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
fn gather(mm: &AddressSpace, iovs: &[Iovec], mut skip: u64, len: usize) -> Result<Vec<u8>, SysErr> {
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
/// `unix_stream_sendmsg` does (datagram sockets never raise it).
fn sigpipe(task: &mut Task) {
    let uid = task.process.creds.lock().uid;
    task.raise(SigInfo::user(libc::SIGPIPE, 0, task.process.pid, uid));
}

fn do_send(task: &mut Task, fd: i32, iovs: &[Iovec], out: Outgoing, flags: i32) -> SysResult {
    let (file, sock) = socket_of(task, fd)?;
    if flags & libc::MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let nonblock = file.nonblocking() || flags & libc::MSG_DONTWAIT != 0;
    let to = match (sock.kind(), &out.name) {
        (_, None) => None,
        (SockType::Stream, Some(_)) => {
            return Err(if sock.is_connected() {
                Errno::EISCONN
            } else {
                Errno::EOPNOTSUPP
            }
            .into());
        }
        // Seqpacket sends ignore the address, as on Linux.
        (SockType::Seqpacket, Some(_)) => None,
        (SockType::Dgram, Some(raw)) => Some(resolve(task, &parse_unix(raw)?, SockType::Dgram)?),
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
    let (addr, alen) = (task.arg(4), task.arg(5) as i32);
    let name = if addr != 0 {
        Some(read_sockaddr(task, addr, alen)?).filter(|n| !n.is_empty())
    } else {
        None
    };
    let iov = [Iovec { base: buf, len }];
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
        let len = (hdr.namelen as usize).min(SOCKADDR_MAX) as i32;
        Some(read_sockaddr(task, hdr.name, len)?)
    } else {
        None
    };
    let iovs = read_iovecs(task, hdr.iov, hdr.iovlen)?;
    let (fds, creds) = if hdr.controllen > 0 {
        if hdr.controllen > OPTMEM_MAX {
            return Err(Errno::ENOBUFS.into());
        }
        let mut ctl = vec![0u8; hdr.controllen as usize];
        task.mm().read(hdr.control, &mut ctl)?;
        parse_control(task, &ctl)?
    } else {
        (Vec::new(), None)
    };
    let total = iovs.iter().map(|v| v.len).sum();
    let done = do_send(task, fd, &iovs, Outgoing { name, fds, creds }, flags)?;
    Ok(Sent { done, total })
}

/// The result of a receive, for the caller to copy out.
struct Incoming {
    ret: u64,
    truncated: bool,
    from: Option<Address>,
    fds: Vec<Arc<OpenFile>>,
    creds: Option<Cred>,
}

fn do_recv(task: &mut Task, fd: i32, iovs: Vec<Iovec>, flags: i32) -> Result<Incoming, SysErr> {
    let (file, sock) = socket_of(task, fd)?;
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
        from: got.from,
        fds: got.fds,
        creds: got.creds,
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
    let (addr, len_ptr) = (task.arg(4), task.arg(5));
    let got = do_recv(task, fd, vec![Iovec { base: buf, len }], flags)?;
    if addr != 0 {
        let name = got.from.map(|a| a.to_sockaddr()).unwrap_or_default();
        write_sockaddr(task, addr, len_ptr, &name)?;
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
    let got = do_recv(task, fd, iovs, flags)?;
    if hdr.name != 0 {
        let name = got.from.map(|a| a.to_sockaddr()).unwrap_or_default();
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
    let mut msg_flags = flags & libc::MSG_CMSG_CLOEXEC;
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
    socket_of(task, fd)?;
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
    let (_, sock) = socket_of(task, fd)?;
    if flags & libc::MSG_ERRQUEUE == 0
        && let Some(e) = sock.take_error()
    {
        return Err(e.into());
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
            if e.errno() != Errno::EAGAIN {
                sock.set_error(e.errno());
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

fn int_bytes(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn timeval_of(t: Option<Duration>) -> Timeval {
    t.map_or(Timeval::default(), Timeval::from_duration)
}

/// `getsockopt(fd, level, optname, optval, optlen)`: `SOL_SOCKET` options only
/// (`EOPNOTSUPP` for other levels, as for Linux's unix sockets).
pub fn getsockopt(task: &mut Task) -> SysResult {
    let (fd, level, name) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32);
    let (val, len_ptr) = (task.arg(3), task.arg(4));
    let (_, sock) = socket_of(task, fd)?;
    let len: i32 = task.read_obj(len_ptr)?;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    if level != libc::SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let o = sock.opts();
    let bytes = match name {
        libc::SO_TYPE => int_bytes(sock.kind().raw()),
        libc::SO_PROTOCOL => int_bytes(0),
        libc::SO_DOMAIN => int_bytes(libc::AF_UNIX),
        libc::SO_ERROR => int_bytes(sock.take_error().map_or(0, |e| e as i32)),
        libc::SO_ACCEPTCONN => int_bytes(sock.is_listening() as i32),
        libc::SO_SNDBUF => int_bytes(o.sndbuf as i32),
        libc::SO_RCVBUF => int_bytes(o.rcvbuf as i32),
        libc::SO_RCVLOWAT => int_bytes(o.rcvlowat as i32),
        libc::SO_SNDLOWAT => int_bytes(1),
        libc::SO_PASSCRED => int_bytes(o.passcred as i32),
        libc::SO_PEERCRED => {
            let c = sock.peer_cred();
            let u = Ucred {
                pid: c.map_or(0, |c| c.pid),
                uid: c.map_or(u32::MAX, |c| c.uid),
                gid: c.map_or(u32::MAX, |c| c.gid),
            };
            u.as_bytes().to_vec()
        }
        libc::SO_LINGER => Linger {
            onoff: o.linger.0 as i32,
            linger: o.linger.1,
        }
        .as_bytes()
        .to_vec(),
        libc::SO_RCVTIMEO => timeval_of(o.rcvtimeo).as_bytes().to_vec(),
        libc::SO_SNDTIMEO => timeval_of(o.sndtimeo).as_bytes().to_vec(),
        n if RECORDED_FLAGS.contains(&n) => int_bytes((o.flags >> n & 1) as i32),
        _ => return Err(Errno::ENOPROTOOPT.into()),
    };
    let n = (len as usize).min(bytes.len());
    if n > 0 {
        task.mm().write(val, &bytes[..n])?;
    }
    task.write_obj(len_ptr, &(n as i32))?;
    Ok(0)
}

/// A `SO_RCVTIMEO`/`SO_SNDTIMEO` value: zero is "forever", a negative time "do not
/// wait"; microseconds out of range are `EDOM`.
fn timeout_of(tv: &Timeval) -> Result<Option<Duration>, SysErr> {
    if !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(Errno::EDOM.into());
    }
    Ok(match tv.tv_sec {
        s if s < 0 => Some(Duration::ZERO),
        0 if tv.tv_usec == 0 => None,
        s => Some(Duration::new(s as u64, tv.tv_usec as u32 * 1000)),
    })
}

/// `setsockopt(fd, level, optname, optval, optlen)`: `SOL_SOCKET` options only.
pub fn setsockopt(task: &mut Task) -> SysResult {
    let (fd, level, name) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32);
    let (val, len) = (task.arg(3), task.arg(4) as i32);
    let (_, sock) = socket_of(task, fd)?;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    if level != libc::SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP.into());
    }
    if len < 4 {
        return Err(Errno::EINVAL.into());
    }
    let v: i32 = task.read_obj(val)?;
    let buf_size = |v: i32, min: usize| ((v as u32 as usize).min(fs::socket::MAX_BUF) * 2).max(min);
    match name {
        libc::SO_SNDBUF => sock.set_opts(|o| o.sndbuf = buf_size(v, fs::socket::MIN_SNDBUF)),
        libc::SO_RCVBUF => sock.set_opts(|o| o.rcvbuf = buf_size(v, fs::socket::MIN_RCVBUF)),
        libc::SO_PASSCRED => sock.set_opts(|o| o.passcred = v != 0),
        libc::SO_RCVLOWAT => {
            let lowat = if v < 0 {
                i32::MAX as usize
            } else {
                (v as usize).max(1)
            };
            sock.set_opts(|o| o.rcvlowat = lowat)
        }
        libc::SO_LINGER => {
            if len < std::mem::size_of::<Linger>() as i32 {
                return Err(Errno::EINVAL.into());
            }
            let l: Linger = task.read_obj(val)?;
            sock.set_opts(|o| {
                o.linger = if l.onoff != 0 {
                    (true, l.linger)
                } else {
                    (false, o.linger.1)
                }
            });
        }
        libc::SO_RCVTIMEO | libc::SO_SNDTIMEO => {
            if len < std::mem::size_of::<Timeval>() as i32 {
                return Err(Errno::EINVAL.into());
            }
            let t = timeout_of(&task.read_obj::<Timeval>(val)?)?;
            if name == libc::SO_RCVTIMEO {
                sock.set_opts(|o| o.rcvtimeo = t);
            } else {
                sock.set_opts(|o| o.sndtimeo = t);
            }
        }
        n if RECORDED_FLAGS.contains(&n) => sock.set_opts(|o| {
            if v != 0 {
                o.flags |= 1 << n;
            } else {
                o.flags &= !(1 << n);
            }
        }),
        _ => return Err(Errno::ENOPROTOOPT.into()),
    }
    Ok(0)
}
