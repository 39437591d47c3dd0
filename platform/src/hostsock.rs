//! Safe wrappers for the host socket calls the sentry makes on a guest's behalf under
//! `--network=host`. Every socket is made nonblocking and close-on-exec (the sentry does
//! the waiting, and no host process it starts inherits one); sends never raise SIGPIPE in
//! the sentry (`MSG_NOSIGNAL`) and never pin sentry memory (`MSG_ZEROCOPY` is dropped).
//! Addresses, option values and control messages are passed as byte slices the kernel
//! reads or writes within their lengths; options whose values hold pointers or fds of
//! the caller (socket filters, BPF programs, zero-copy receive) are refused, since the
//! host would resolve them in the sentry.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Socket options whose values are plain bytes, by level: the only ones passed to the
/// host.
const PLAIN_OPTIONS: &[(i32, &[i32])] = &[
    (
        libc::SOL_SOCKET,
        &[
            libc::SO_DEBUG,
            libc::SO_REUSEADDR,
            libc::SO_TYPE,
            libc::SO_ERROR,
            libc::SO_DONTROUTE,
            libc::SO_BROADCAST,
            libc::SO_SNDBUF,
            libc::SO_RCVBUF,
            libc::SO_SNDBUFFORCE,
            libc::SO_RCVBUFFORCE,
            libc::SO_KEEPALIVE,
            libc::SO_OOBINLINE,
            libc::SO_NO_CHECK,
            libc::SO_PRIORITY,
            libc::SO_LINGER,
            libc::SO_REUSEPORT,
            libc::SO_PASSCRED,
            libc::SO_PEERCRED,
            libc::SO_RCVLOWAT,
            libc::SO_SNDLOWAT,
            libc::SO_RCVTIMEO,
            libc::SO_SNDTIMEO,
            libc::SO_BINDTODEVICE,
            libc::SO_TIMESTAMP,
            libc::SO_TIMESTAMPNS,
            libc::SO_ACCEPTCONN,
            libc::SO_PROTOCOL,
            libc::SO_DOMAIN,
            libc::SO_COOKIE,
            libc::SO_INCOMING_CPU,
            libc::SO_BUSY_POLL,
            libc::SO_BINDTOIFINDEX,
        ],
    ),
    (
        libc::IPPROTO_TCP,
        &[
            libc::TCP_NODELAY,
            libc::TCP_MAXSEG,
            libc::TCP_CORK,
            libc::TCP_KEEPIDLE,
            libc::TCP_KEEPINTVL,
            libc::TCP_KEEPCNT,
            libc::TCP_SYNCNT,
            libc::TCP_LINGER2,
            libc::TCP_DEFER_ACCEPT,
            libc::TCP_WINDOW_CLAMP,
            libc::TCP_INFO,
            libc::TCP_QUICKACK,
            libc::TCP_CONGESTION,
            libc::TCP_USER_TIMEOUT,
            libc::TCP_NOTSENT_LOWAT,
            libc::TCP_FASTOPEN,
            libc::TCP_FASTOPEN_CONNECT,
            libc::TCP_THIN_LINEAR_TIMEOUTS,
        ],
    ),
    (
        libc::IPPROTO_UDP,
        &[libc::UDP_CORK, libc::UDP_SEGMENT, libc::UDP_GRO],
    ),
    (
        libc::IPPROTO_IP,
        &[
            libc::IP_TOS,
            libc::IP_TTL,
            libc::IP_OPTIONS,
            libc::IP_RECVOPTS,
            libc::IP_RETOPTS,
            libc::IP_PKTINFO,
            libc::IP_MTU_DISCOVER,
            libc::IP_RECVERR,
            libc::IP_RECVTTL,
            libc::IP_RECVTOS,
            libc::IP_MTU,
            libc::IP_FREEBIND,
            libc::IP_MULTICAST_IF,
            libc::IP_MULTICAST_TTL,
            libc::IP_MULTICAST_LOOP,
            libc::IP_ADD_MEMBERSHIP,
            libc::IP_DROP_MEMBERSHIP,
            libc::IP_MULTICAST_ALL,
            libc::IP_BIND_ADDRESS_NO_PORT,
            libc::IP_RECVORIGDSTADDR,
            libc::IP_NODEFRAG,
            libc::IP_TRANSPARENT,
        ],
    ),
    (
        libc::IPPROTO_IPV6,
        &[
            libc::IPV6_V6ONLY,
            libc::IPV6_UNICAST_HOPS,
            libc::IPV6_MULTICAST_IF,
            libc::IPV6_MULTICAST_HOPS,
            libc::IPV6_MULTICAST_LOOP,
            libc::IPV6_ADD_MEMBERSHIP,
            libc::IPV6_DROP_MEMBERSHIP,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_MTU,
            libc::IPV6_RECVERR,
            libc::IPV6_RECVPKTINFO,
            libc::IPV6_TCLASS,
            libc::IPV6_RECVTCLASS,
            libc::IPV6_RECVHOPLIMIT,
            libc::IPV6_DONTFRAG,
            libc::IPV6_MULTICAST_ALL,
        ],
    ),
    (
        libc::SOL_NETLINK,
        &[
            libc::NETLINK_ADD_MEMBERSHIP,
            libc::NETLINK_DROP_MEMBERSHIP,
            libc::NETLINK_PKTINFO,
            libc::NETLINK_BROADCAST_ERROR,
            libc::NETLINK_NO_ENOBUFS,
            libc::NETLINK_CAP_ACK,
            libc::NETLINK_EXT_ACK,
            libc::NETLINK_GET_STRICT_CHK,
        ],
    ),
];

/// Whether option (`level`, `name`) is passed to the host: its value is plain bytes.
pub fn plain_option(level: i32, name: i32) -> bool {
    PLAIN_OPTIONS
        .iter()
        .any(|(l, names)| *l == level && names.contains(&name))
}

fn to_fd(r: libc::c_int) -> Result<OwnedFd, Errno> {
    let fd = Errno::result(r)?;
    // SAFETY: the call just returned `fd`, a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `socket(domain, ty, protocol)`, nonblocking and close-on-exec whatever `ty` asks.
pub fn socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd, Errno> {
    let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: no pointer arguments.
    to_fd(unsafe { libc::socket(domain, ty, protocol) })
}

/// `bind(fd, addr)`.
pub fn bind(fd: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: the kernel reads `addr.len()` bytes at `addr`.
    let r = unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len() as u32) };
    Errno::result(r).map(drop)
}

/// `connect(fd, addr)`.
pub fn connect(fd: BorrowedFd<'_>, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: the kernel reads `addr.len()` bytes at `addr`.
    let r = unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len() as u32) };
    Errno::result(r).map(drop)
}

/// `listen(fd, backlog)`.
pub fn listen(fd: BorrowedFd<'_>, backlog: i32) -> Result<(), Errno> {
    // SAFETY: no pointer arguments.
    Errno::result(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// `shutdown(fd, how)`.
pub fn shutdown(fd: BorrowedFd<'_>, how: i32) -> Result<(), Errno> {
    // SAFETY: no pointer arguments.
    Errno::result(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(drop)
}

/// `accept4` of a nonblocking, close-on-exec connection; the peer's address goes into
/// `addr` (truncated to it) and its full length is returned with the new socket.
pub fn accept(fd: BorrowedFd<'_>, addr: &mut [u8]) -> Result<(OwnedFd, usize), Errno> {
    let mut len = addr.len() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` (= `addr.len()`) bytes at `addr`.
    let r = unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            addr.as_mut_ptr().cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    Ok((to_fd(r)?, len as usize))
}

/// `getsockname` (`peer`: `getpeername`) into `addr`; returns the full length.
pub fn name(fd: BorrowedFd<'_>, addr: &mut [u8], peer: bool) -> Result<usize, Errno> {
    let mut len = addr.len() as libc::socklen_t;
    let call = if peer {
        libc::getpeername
    } else {
        libc::getsockname
    };
    // SAFETY: the kernel writes at most `len` (= `addr.len()`) bytes at `addr`.
    let r = unsafe { call(fd.as_raw_fd(), addr.as_mut_ptr().cast(), &mut len) };
    Errno::result(r).map(|_| len as usize)
}

/// `getsockopt` of a plain option into `val`; returns the length the kernel reports.
pub fn getsockopt(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    val: &mut [u8],
) -> Result<usize, Errno> {
    if !plain_option(level, name) {
        return Err(Errno::ENOPROTOOPT);
    }
    let mut len = val.len() as libc::socklen_t;
    // SAFETY: the option's value is plain bytes (no pointer the kernel would follow), and
    // the kernel writes at most `len` (= `val.len()`) bytes at `val`.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            val.as_mut_ptr().cast(),
            &mut len,
        )
    };
    Errno::result(r).map(|_| len as usize)
}

/// `setsockopt` of a plain option to `val`.
pub fn setsockopt(fd: BorrowedFd<'_>, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
    if !plain_option(level, name) {
        return Err(Errno::ENOPROTOOPT);
    }
    // SAFETY: the option's value is plain bytes, and the kernel reads at most
    // `val.len()` of them.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            val.as_ptr().cast(),
            val.len() as u32,
        )
    };
    Errno::result(r).map(drop)
}

/// What [`recvmsg`] received.
#[derive(Clone, Copy, Debug, Default)]
pub struct Received {
    /// What the call returned (with `MSG_TRUNC`, a datagram's full length).
    pub len: usize,
    /// The sender's address length (may exceed the buffer given).
    pub name_len: usize,
    /// Bytes of control messages written.
    pub control_len: usize,
    /// `msg_flags`.
    pub flags: i32,
}

/// `sendmsg(fd, {name, [data], control}, flags | MSG_NOSIGNAL)`.
pub fn sendmsg(
    fd: BorrowedFd<'_>,
    data: &[u8],
    name: Option<&[u8]>,
    control: &[u8],
    flags: i32,
) -> Result<usize, Errno> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid (no name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(n) = name {
        msg.msg_name = n.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = n.len() as u32;
    }
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len();
    }
    let flags = (flags | libc::MSG_NOSIGNAL) & !libc::MSG_ZEROCOPY;
    // SAFETY: the kernel only reads through `msg`: the name, the one iovec and the
    // control buffer, each within the length given with it.
    let r = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) };
    Errno::result(r).map(|n| n as usize)
}

/// `recvmsg(fd, {name, [data], control}, flags)`.
pub fn recvmsg(
    fd: BorrowedFd<'_>,
    data: &mut [u8],
    name: &mut [u8],
    control: &mut [u8],
    flags: i32,
) -> Result<Received, Errno> {
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid (no name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = name.len() as u32;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len();
    }
    // SAFETY: the kernel writes the name, the data and the control messages each within
    // the buffer and length given with it, and updates `msg`'s lengths and flags.
    let r = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) };
    let len = Errno::result(r)? as usize;
    Ok(Received {
        len,
        name_len: msg.msg_namelen as usize,
        control_len: msg.msg_controllen,
        flags: msg.msg_flags,
    })
}

/// Size of `struct ifreq`.
pub const IFREQ_SIZE: usize = 40;

/// Interface queries whose argument is one `struct ifreq` holding no pointer.
const IFREQ_GETS: &[libc::c_ulong] = &[
    libc::SIOCGIFNAME,
    libc::SIOCGIFINDEX,
    libc::SIOCGIFFLAGS,
    libc::SIOCGIFADDR,
    libc::SIOCGIFDSTADDR,
    libc::SIOCGIFBRDADDR,
    libc::SIOCGIFNETMASK,
    libc::SIOCGIFMETRIC,
    libc::SIOCGIFMTU,
    libc::SIOCGIFHWADDR,
    libc::SIOCGIFMAP,
    libc::SIOCGIFTXQLEN,
];

/// Whether `req` is an interface query [`ifreq`] answers.
pub fn is_ifreq_get(req: u64) -> bool {
    IFREQ_GETS.contains(&(req as libc::c_ulong))
}

/// An interface query (`SIOCGIF*`) on `ifr`.
pub fn ifreq(fd: BorrowedFd<'_>, req: u64, ifr: &mut [u8; IFREQ_SIZE]) -> Result<(), Errno> {
    if !is_ifreq_get(req) {
        return Err(Errno::ENOTTY);
    }
    // SAFETY: the request reads and writes one `struct ifreq`, which `ifr` holds.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as libc::c_ulong, ifr.as_mut_ptr()) };
    Errno::result(r).map(drop)
}

/// `SIOCGIFCONF` into `buf` (with an empty `buf`, asks for the size needed); returns the
/// bytes used or needed.
pub fn ifconf(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut conf = libc::ifconf {
        ifc_len: buf.len().min(i32::MAX as usize) as i32,
        ifc_ifcu: libc::__c_anonymous_ifc_ifcu {
            ifcu_buf: if buf.is_empty() {
                std::ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            },
        },
    };
    // SAFETY: the kernel writes at most `ifc_len` (= `buf.len()`) bytes at the buffer, or
    // none with a null buffer, and updates `conf`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFCONF, &mut conf) };
    Errno::result(r).map(|_| conf.ifc_len.max(0) as usize)
}

/// An ioctl that writes one `int`: `FIONREAD`, `SIOCOUTQ`, `SIOCOUTQNSD`, `SIOCATMARK`.
pub fn int_ioctl(fd: BorrowedFd<'_>, req: u64) -> Result<i32, Errno> {
    const SIOCATMARK: libc::c_ulong = 0x8905;
    let req = req as libc::c_ulong;
    if ![
        libc::FIONREAD,
        libc::TIOCOUTQ,
        libc::SIOCOUTQNSD,
        SIOCATMARK,
    ]
    .contains(&req)
    {
        return Err(Errno::ENOTTY);
    }
    let mut v: libc::c_int = 0;
    // SAFETY: each of these requests writes one int at the pointer.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req, &mut v) };
    Errno::result(r).map(|_| v)
}

/// Which of `events` (any `POLL*` bits, `POLLRDHUP` included) the socket reports now,
/// with `POLLERR`/`POLLHUP`/`POLLNVAL` as they happen (`poll` with no timeout).
pub fn ready(fd: BorrowedFd<'_>, events: i16) -> i16 {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: the kernel reads and writes the one pollfd it is given.
    match unsafe { libc::poll(&mut p, 1, 0) } {
        1 => p.revents,
        _ => 0,
    }
}
