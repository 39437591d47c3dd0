//! Socket syscalls on host sockets (`sentry run --network=host`, [`HostSocket`]): the
//! sentry makes each call on the host socket for the guest, with the guest's arguments
//! copied out of guest memory and the results copied back, so the host kernel checks
//! addresses, options and states exactly as Linux does.
//!
//! What the sentry keeps to itself: waiting (the host socket is nonblocking; see
//! [`HostSocket`]), SIGPIPE (raised for the guest, never in the sentry), and what must
//! not reach the host: options whose values hold pointers or fds
//! ([`platform::hostsock::plain_option`]: others are `ENOPROTOOPT`), `SCM_RIGHTS` and
//! `SCM_CREDENTIALS` sent on an inet socket (ignored there, as Linux ignores them), and
//! netlink requests other than queries (`RTM_GET*`: a change of the host's links,
//! addresses or routes is `EPERM`).

use super::msg::{CHUNK, IovSink, gather, sigpipe};
use super::{addr, nofile};
use crate::abi::{Iovec, Timeval};
use crate::errno::{SysErr, SysResult};
use crate::kernel::task::Task;
use fs::OpenFile;
use fs::socket::host::HostSocket;
use fs::socket::{Family, Sink, SockType, loopback};
use nix::errno::Errno;
use platform::hostsock::{self, IFREQ_SIZE};

/// Largest option value passed either way (the largest plain option, `struct
/// group_source_req`, is 264 bytes).
const OPT_MAX: usize = 1024;
/// Largest control buffer a receive fills (`optmem_max`).
const CONTROL_MAX: usize = 131_072;
/// Largest `SIOCGIFCONF` buffer filled.
const IFCONF_MAX: usize = 65_536;
/// `struct nlmsghdr`: length, type, flags, sequence, port.
const NLMSG_HDR: usize = 16;
/// Netlink message types below this are control messages (`NLMSG_MIN_TYPE`).
const NLMSG_MIN_TYPE: u16 = 16;
/// `SIOCATMARK`.
const SIOCATMARK: u64 = 0x8905;

/// The error of a wait on `sock` bounded by its receive (`receive`) or send timeout: a
/// signal ends it with an `EINTR` that is never restarted when that timeout is set, as
/// Linux's `sock_intr_errno` decides.
fn wait_error(sock: &HostSocket, receive: bool, e: Errno) -> SysErr {
    if e == Errno::EINTR && sock.timeout(receive).is_some() {
        SysErr::Interrupted
    } else {
        e.into()
    }
}

/// `connect` of a host socket to the guest's `sockaddr` `raw`.
pub fn connect(task: &Task, file: &OpenFile, sock: &HostSocket, raw: &[u8]) -> SysResult {
    sock.connect(task.waiter(), raw, file.nonblocking())
        .map_err(|e| wait_error(sock, false, e))?;
    Ok(0)
}

/// `accept4` on a host listener: installs the connection and writes its peer's address.
pub fn accept(task: &mut Task, file: &OpenFile, sock: &HostSocket, flags: i32) -> SysResult {
    let (addr, len_ptr) = (task.arg(1), task.arg(2));
    let (conn, peer) = sock
        .accept(task.waiter(), file.nonblocking())
        .map_err(|e| wait_error(sock, true, e))?;
    let new = super::socket_open_file(conn.file(), flags);
    if addr != 0 {
        addr::write_sockaddr(task, addr, len_ptr, &peer)?;
    }
    let limit = nofile(task);
    let fd = task
        .files
        .lock()
        .insert(new, flags & libc::SOCK_CLOEXEC != 0, 0, limit)?;
    Ok(fd as u64)
}

/// `getsockname` (`peer`: `getpeername`) of a host socket, copied out.
pub fn name(task: &Task, sock: &HostSocket, peer: bool) -> SysResult {
    let mut buf = [0u8; addr::SOCKADDR_MAX];
    let len = hostsock::name(sock.fd(), &mut buf, peer)?;
    addr::write_sockaddr(task, task.arg(1), task.arg(2), &buf[..len.min(buf.len())])?;
    Ok(0)
}

/// Fails with `EPERM` unless every netlink message in `data` is a query or a control
/// message: the guest may read the host's interfaces and routes, never change them.
fn check_netlink(data: &[u8]) -> Result<(), SysErr> {
    let mut off = 0;
    while data.len() - off >= NLMSG_HDR {
        let len = u32::from_ne_bytes(data[off..off + 4].try_into().expect("4 bytes")) as usize;
        let ty = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
        if ty >= NLMSG_MIN_TYPE && ty % 4 != libc::RTM_GETLINK % 4 {
            return Err(Errno::EPERM.into());
        }
        if len < NLMSG_HDR {
            break;
        }
        off = off.saturating_add(len.next_multiple_of(4)).min(data.len());
    }
    Ok(())
}

/// Control messages of a send without those that carry the sender's fds or ids.
fn outgoing_control(ctl: &[u8]) -> Vec<u8> {
    const HDR: usize = 16;
    let mut out = Vec::with_capacity(ctl.len());
    let mut off = 0;
    while ctl.len() - off >= HDR {
        let len = u64::from_ne_bytes(ctl[off..off + 8].try_into().expect("8 bytes")) as usize;
        let level = i32::from_ne_bytes(ctl[off + 8..off + 12].try_into().expect("4 bytes"));
        let kind = i32::from_ne_bytes(ctl[off + 12..off + 16].try_into().expect("4 bytes"));
        if len < HDR || len > ctl.len() - off {
            // Malformed: the host rejects it as Linux does.
            out.extend_from_slice(&ctl[off..]);
            break;
        }
        let next = len.next_multiple_of(8).min(ctl.len() - off);
        let private =
            level == libc::SOL_SOCKET && matches!(kind, libc::SCM_RIGHTS | libc::SCM_CREDENTIALS);
        if !private {
            out.extend_from_slice(&ctl[off..off + next]);
        }
        off += next;
    }
    out
}

/// Sends the guest's iovecs (to `name`, with control messages `ctl`): a stream send goes
/// out in pieces, each sent whole unless a signal, timeout or error ends it (then the
/// count sent so far is returned); a datagram goes in one call.
pub fn send(
    task: &mut Task,
    sock: &HostSocket,
    nonblock: bool,
    iovs: &[Iovec],
    name: Option<&[u8]>,
    ctl: &[u8],
    flags: i32,
) -> SysResult {
    let nonblock = nonblock || flags & libc::MSG_DONTWAIT != 0;
    let ctl = outgoing_control(ctl);
    let total = iovs.iter().map(|v| v.len).sum::<u64>() as usize;
    let mm = task.mm();
    if sock.kind() != SockType::Stream {
        if total > CHUNK {
            return Err(Errno::EMSGSIZE.into());
        }
        let data = gather(&mm, iovs, 0, total)?;
        if sock.family() == Family::Netlink {
            check_netlink(&data)?;
        }
        return sock
            .send(task.waiter(), &data, name, &ctl, flags, nonblock)
            .map(|n| n as u64)
            .map_err(|e| wait_error(sock, false, e));
    }
    let mut sent = 0usize;
    let r = loop {
        let want = (total - sent).min(CHUNK);
        let data = match gather(&mm, iovs, sent as u64, want) {
            Ok(d) => d,
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break Ok(sent),
        };
        let control = if sent == 0 { &ctl[..] } else { &[] };
        match sock.send(task.waiter(), &data, name, control, flags, nonblock) {
            Ok(n) => {
                sent += n;
                if n < want || sent == total {
                    break Ok(sent);
                }
            }
            Err(e) if sent == 0 => break Err(e),
            Err(_) => break Ok(sent),
        }
    };
    if r == Err(Errno::EPIPE) && flags & libc::MSG_NOSIGNAL == 0 {
        sigpipe(task);
    }
    r.map(|n| n as u64).map_err(|e| wait_error(sock, false, e))
}

/// What a receive from a host socket got.
pub struct HostIncoming {
    /// What the call returns.
    pub ret: u64,
    /// `msg_flags` as the host set them.
    pub flags: i32,
    /// The sender's `sockaddr` (empty if none).
    pub from: Vec<u8>,
    /// Control messages, as the host wrote them.
    pub control: Vec<u8>,
}

/// Receives into the guest's iovecs and up to `control_cap` bytes of control messages;
/// `MSG_WAITALL` on a stream keeps receiving until the buffer is full, the peer has
/// closed, or a signal or timeout comes.
pub fn recv(
    task: &Task,
    sock: &HostSocket,
    nonblock: bool,
    iovs: Vec<Iovec>,
    control_cap: usize,
    flags: i32,
) -> Result<HostIncoming, SysErr> {
    let nonblock = nonblock || flags & libc::MSG_DONTWAIT != 0;
    let total = iovs.iter().map(|v| v.len as usize).sum::<usize>();
    let mut buf = vec![0u8; total.min(CHUNK)];
    let mut control = vec![0u8; control_cap.min(CONTROL_MAX)];
    let first = sock
        .recv(task.waiter(), &mut buf, &mut control, flags, nonblock)
        .map_err(|e| wait_error(sock, true, e))?;
    let stream = sock.kind() == SockType::Stream;
    let mut len = first.got.len;
    let waitall = stream && flags & libc::MSG_WAITALL != 0 && flags & libc::MSG_PEEK == 0;
    while waitall && len > 0 && len < buf.len() {
        match sock.recv(task.waiter(), &mut buf[len..], &mut [], flags, nonblock) {
            Ok(more) if more.got.len > 0 => len += more.got.len,
            _ => break,
        }
    }
    // A TCP receive with MSG_TRUNC discards the bytes instead of copying them.
    if !(stream && flags & libc::MSG_TRUNC != 0) {
        let mut sink = IovSink::new(task.mm(), iovs);
        let n = len.min(buf.len()).min(sink.room());
        sink.put(&buf[..n])?;
    }
    control.truncate(first.got.control_len.min(control.len()));
    Ok(HostIncoming {
        ret: len as u64,
        flags: first.got.flags,
        from: first.from,
        control,
    })
}

/// `getsockopt` on a host socket: the host's answer, for the options it is given.
pub fn getsockopt(task: &Task, sock: &HostSocket, level: i32, name: i32) -> SysResult {
    let (val, len_ptr) = (task.arg(3), task.arg(4));
    let len: i32 = task.read_obj(len_ptr)?;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut buf = vec![0u8; (len as usize).min(OPT_MAX)];
    let n = hostsock::getsockopt(sock.fd(), level, name, &mut buf)?.min(buf.len());
    if n > 0 {
        task.mm().write(val, &buf[..n])?;
    }
    task.write_obj(len_ptr, &(n as i32))?;
    Ok(0)
}

/// `setsockopt` on a host socket; the timeouts the host accepts are also kept by the
/// sentry, which does the waiting.
pub fn setsockopt(task: &Task, sock: &HostSocket, level: i32, name: i32) -> SysResult {
    let (val, len) = (task.arg(3), task.arg(4) as i32);
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut buf = vec![0u8; (len as usize).min(OPT_MAX)];
    task.mm().read(val, &mut buf)?;
    hostsock::setsockopt(sock.fd(), level, name, &buf)?;
    if level == libc::SOL_SOCKET && matches!(name, libc::SO_RCVTIMEO | libc::SO_SNDTIMEO) {
        let tv: Timeval = task.read_obj(val)?;
        sock.set_timeout(name == libc::SO_RCVTIMEO, super::opts::timeout_of(&tv)?);
    }
    Ok(0)
}

/// Socket ioctls on a host socket: the host's interface list and queries, and its
/// queue sizes; interface changes are `EPERM` (the guest configures no host
/// interface), anything else `ENOTTY`.
pub fn ioctl(task: &Task, sock: &HostSocket, req: u64, arg: u64) -> SysResult {
    match req {
        libc::SIOCGIFCONF => {
            let len: i32 = task.read_obj(arg)?;
            let ptr: u64 = task.read_obj(arg + 8)?;
            let cap = if ptr == 0 {
                0
            } else {
                (len.max(0) as usize).min(IFCONF_MAX)
            };
            let mut buf = vec![0u8; cap];
            let used = hostsock::ifconf(sock.fd(), &mut buf)?;
            if ptr != 0 {
                task.mm().write(ptr, &buf[..used.min(cap)])?;
            }
            task.write_obj(arg, &(used as i32))?;
        }
        libc::TIOCOUTQ | libc::SIOCOUTQNSD | SIOCATMARK => {
            let v = hostsock::int_ioctl(sock.fd(), req)?;
            task.write_obj(arg, &v)?;
        }
        _ if hostsock::is_ifreq_get(req) => {
            let mut ifr = [0u8; IFREQ_SIZE];
            task.mm().read(arg, &mut ifr)?;
            hostsock::ifreq(sock.fd(), req, &mut ifr)?;
            task.mm().write(arg, &ifr)?;
        }
        _ if loopback::is_ifreq(req) => return Err(Errno::EPERM.into()),
        _ => return Err(Errno::ENOTTY.into()),
    }
    Ok(0)
}
