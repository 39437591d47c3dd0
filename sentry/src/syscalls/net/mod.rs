//! Socket syscalls over the sentry's sockets ([`fs::socket`]): socket, socketpair, bind,
//! listen, accept, accept4, connect, shutdown, getsockname and getpeername here; the
//! transfers in [`msg`], the options in [`opts`], socket ioctls in [`ioctl`], guest
//! socket addresses in [`addr`].
//!
//! This layer owns what needs the task: guest memory (addresses, `msghdr`, iovecs,
//! control messages), fds (ENOTSOCK, installing passed files), the guest's VFS (the socket
//! inode of a unix filesystem name), credentials, and SIGPIPE. The families are `AF_UNIX`,
//! `AF_INET` and `AF_INET6` on the loopback interface, and `AF_NETLINK` (`NETLINK_ROUTE`);
//! every other family is `EAFNOSUPPORT`. By default no guest socket ever reaches a host
//! socket; under `--network=host` the inet and netlink ones are host sockets, answered
//! by [`host`].
//!
//! Raw sockets are refused as gVisor refuses them without `--net-raw` and an unprivileged
//! Linux does: `SOCK_RAW` is `EPERM` (with protocol 0, `EPROTONOSUPPORT`, as on Linux).

pub mod addr;
pub mod host;
pub mod ioctl;
pub mod msg;
pub mod opts;

pub use msg::{recvfrom, recvmmsg, recvmsg, sendmmsg, sendmsg, sendto};
pub use opts::{getsockopt, setsockopt};

use crate::errno::{SysErr, SysResult};
use crate::kernel::Network;
use crate::kernel::task::Task;
use fs::socket::host::HostSocket;
use fs::socket::{Caller, Family, Namespace, SockType, Socket, SocketFile};
use fs::{FileOps, OpenFile};
use nix::errno::Errno;
use std::sync::{Arc, LazyLock};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct ucred`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Ucred {
    pid: i32,
    uid: u32,
    gid: u32,
}

/// Number of address families Linux knows (`AF_MAX`): others are `EAFNOSUPPORT` before
/// the type is checked.
const AF_MAX: i32 = 46;
/// `SOCK_MAX`: type numbers beyond are `EINVAL`.
const SOCK_MAX: i32 = 11;
const SOCK_TYPE_MASK: i32 = 0xf;

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

/// The sentry socket behind `fd` (`ENOTSOCK` if it is another file).
fn socket_of(task: &Task, fd: i32) -> Result<(Arc<OpenFile>, Arc<Socket>), SysErr> {
    let file = task.file(fd)?;
    let sock = Socket::of(&file).ok_or(Errno::ENOTSOCK)?.clone();
    Ok((file, sock))
}

/// A guest socket: the sentry's own, or a host socket (`--network=host`).
enum AnySocket {
    Sentry(Arc<Socket>),
    Host(Arc<HostSocket>),
}

/// The socket behind `fd`, of either kind (`ENOTSOCK` if it is another file).
fn any_socket_of(task: &Task, fd: i32) -> Result<(Arc<OpenFile>, AnySocket), SysErr> {
    let file = task.file(fd)?;
    let sock = match (Socket::of(&file), HostSocket::of(&file)) {
        (Some(s), _) => AnySocket::Sentry(s.clone()),
        (None, Some(h)) => AnySocket::Host(h.clone()),
        (None, None) => return Err(Errno::ENOTSOCK.into()),
    };
    Ok((file, sock))
}

/// The type of an `AF_INET`/`AF_INET6` socket: TCP streams and UDP datagrams.
fn inet_type(ty: i32, protocol: i32) -> Result<SockType, SysErr> {
    let (kind, proto) = match ty {
        libc::SOCK_STREAM => (SockType::Stream, libc::IPPROTO_TCP),
        libc::SOCK_DGRAM => (SockType::Dgram, libc::IPPROTO_UDP),
        libc::SOCK_RAW if protocol == 0 => return Err(Errno::EPROTONOSUPPORT.into()),
        libc::SOCK_RAW => return Err(Errno::EPERM.into()),
        _ => return Err(Errno::ESOCKTNOSUPPORT.into()),
    };
    if protocol != 0 && protocol != proto {
        return Err(Errno::EPROTONOSUPPORT.into());
    }
    Ok(kind)
}

/// The type of an `AF_NETLINK` socket: raw or datagram, protocol `NETLINK_ROUTE` only
/// (the others are `EPROTONOSUPPORT`, as on a kernel built without them).
fn netlink_type(ty: i32, protocol: i32) -> Result<SockType, SysErr> {
    let kind = match ty {
        libc::SOCK_RAW => SockType::Raw,
        libc::SOCK_DGRAM => SockType::Dgram,
        _ => return Err(Errno::ESOCKTNOSUPPORT.into()),
    };
    if protocol != fs::socket::netlink::NETLINK_ROUTE {
        return Err(Errno::EPROTONOSUPPORT.into());
    }
    Ok(kind)
}

/// Checks `socket(2)`'s arguments in Linux's order and returns the family, the type and
/// its `SOCK_NONBLOCK`/`SOCK_CLOEXEC` flags.
fn socket_type(domain: i32, ty: i32, protocol: i32) -> Result<(Family, SockType, i32), SysErr> {
    let flags = ty & !SOCK_TYPE_MASK;
    if flags & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    if !(0..AF_MAX).contains(&domain) {
        return Err(Errno::EAFNOSUPPORT.into());
    }
    let ty = ty & SOCK_TYPE_MASK;
    if ty >= SOCK_MAX {
        return Err(Errno::EINVAL.into());
    }
    let (family, kind) = match domain {
        libc::AF_UNIX => {
            if protocol != 0 && protocol != libc::PF_UNIX {
                return Err(Errno::EPROTONOSUPPORT.into());
            }
            (Family::Unix, SockType::from_raw(ty)?)
        }
        libc::AF_INET => (Family::Inet, inet_type(ty, protocol)?),
        libc::AF_INET6 => (Family::Inet6, inet_type(ty, protocol)?),
        libc::AF_NETLINK => (Family::Netlink, netlink_type(ty, protocol)?),
        _ => return Err(Errno::EAFNOSUPPORT.into()),
    };
    Ok((family, kind, flags))
}

/// An open file for a socket: read-write, nonblocking with `SOCK_NONBLOCK`.
fn socket_open_file(sock: Box<dyn FileOps>, flags: i32) -> Arc<OpenFile> {
    OpenFile::new(sock, libc::O_RDWR | (flags & libc::SOCK_NONBLOCK), None)
}

fn nofile(task: &Task) -> u64 {
    task.process.rlimit(libc::RLIMIT_NOFILE as usize)
}

/// `socket(domain, type, protocol)`.
pub fn socket(task: &mut Task) -> SysResult {
    let (ty, protocol) = (task.arg(1) as i32, task.arg(2) as i32);
    let (family, kind, flags) = socket_type(task.arg(0) as i32, ty, protocol)?;
    let ops: Box<dyn FileOps> =
        if task.kernel.opts.network == Network::Host && family != Family::Unix {
            HostSocket::open(family, kind, ty & SOCK_TYPE_MASK, protocol)?.file()
        } else {
            Box::new(SocketFile::new(&NAMESPACE, family, kind))
        };
    let file = socket_open_file(ops, flags);
    let limit = nofile(task);
    let fd = task
        .files
        .lock()
        .insert(file, flags & libc::SOCK_CLOEXEC != 0, 0, limit)?;
    Ok(fd as u64)
}

/// `socketpair(domain, type, protocol, sv)`: `AF_UNIX` only (`EOPNOTSUPP` for the
/// families that have no pairs).
pub fn socketpair(task: &mut Task) -> SysResult {
    let (family, kind, flags) =
        socket_type(task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32)?;
    if family != Family::Unix {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let (a, b) = SocketFile::pair(&NAMESPACE, kind);
    let (a, b) = (
        socket_open_file(Box::new(a), flags),
        socket_open_file(Box::new(b), flags),
    );
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

/// `bind(fd, addr, addrlen)`.
pub fn bind(task: &mut Task) -> SysResult {
    let (_, sock) = any_socket_of(task, task.arg(0) as i32)?;
    let raw = addr::read_sockaddr(task, task.arg(1), task.arg(2) as i32)?;
    match sock {
        AnySocket::Sentry(s) => addr::bind(task, &s, raw)?,
        AnySocket::Host(h) => platform::hostsock::bind(h.fd(), &raw)?,
    }
    Ok(0)
}

/// `listen(fd, backlog)`.
pub fn listen(task: &mut Task) -> SysResult {
    match any_socket_of(task, task.arg(0) as i32)?.1 {
        AnySocket::Sentry(s) => s.listen(task.arg(1) as i32)?,
        AnySocket::Host(h) => platform::hostsock::listen(h.fd(), task.arg(1) as i32)?,
    }
    Ok(0)
}

fn do_accept(task: &mut Task, flags: i32) -> SysResult {
    if flags & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (addr, len_ptr) = (task.arg(1), task.arg(2));
    let (file, sock) = match any_socket_of(task, task.arg(0) as i32)? {
        (file, AnySocket::Sentry(s)) => (file, s),
        (file, AnySocket::Host(h)) => return host::accept(task, &file, &h, flags),
    };
    let conn = sock.accept(task.waiter(), file.nonblocking())?;
    let peer = conn.socket().peer_name().unwrap_or(None);
    let new = socket_open_file(Box::new(conn), flags);
    if addr != 0 {
        // A fault here loses the connection, as on Linux.
        let name = addr::sockaddr_of(&sock, peer);
        addr::write_sockaddr(task, addr, len_ptr, &name)?;
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
    let (file, sock) = any_socket_of(task, task.arg(0) as i32)?;
    let raw = addr::read_sockaddr(task, task.arg(1), task.arg(2) as i32)?;
    let sock = match sock {
        AnySocket::Sentry(s) => s,
        AnySocket::Host(h) => return host::connect(task, &file, &h, &raw),
    };
    let target = addr::connect_target(task, &sock, &raw)?;
    sock.connect(task.waiter(), target, file.nonblocking())?;
    Ok(0)
}

/// `shutdown(fd, how)`.
pub fn shutdown(task: &mut Task) -> SysResult {
    match any_socket_of(task, task.arg(0) as i32)?.1 {
        AnySocket::Sentry(s) => s.shutdown(task.arg(1) as i32)?,
        AnySocket::Host(h) => platform::hostsock::shutdown(h.fd(), task.arg(1) as i32)?,
    }
    Ok(0)
}

/// `getsockname(fd, addr, addrlen)`.
pub fn getsockname(task: &mut Task) -> SysResult {
    let sock = match any_socket_of(task, task.arg(0) as i32)?.1 {
        AnySocket::Sentry(s) => s,
        AnySocket::Host(h) => return host::name(task, &h, false),
    };
    let name = addr::sockaddr_of(&sock, sock.name());
    addr::write_sockaddr(task, task.arg(1), task.arg(2), &name)?;
    Ok(0)
}

/// `getpeername(fd, addr, addrlen)`.
pub fn getpeername(task: &mut Task) -> SysResult {
    let sock = match any_socket_of(task, task.arg(0) as i32)?.1 {
        AnySocket::Sentry(s) => s,
        AnySocket::Host(h) => return host::name(task, &h, true),
    };
    let peer = sock.peer_name()?;
    let name = addr::sockaddr_of(&sock, peer);
    addr::write_sockaddr(task, task.arg(1), task.arg(2), &name)?;
    Ok(0)
}
