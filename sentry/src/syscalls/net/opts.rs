//! Socket options: getsockopt and setsockopt.
//!
//! `SOL_SOCKET` options exist on every socket; `IPPROTO_IP` ones on inet sockets,
//! `IPPROTO_IPV6` ones on `AF_INET6` sockets, `IPPROTO_TCP` and `IPPROTO_UDP` ones on
//! TCP and UDP sockets, `SOL_NETLINK` ones on netlink sockets. An option either acts
//! (buffer sizes, timeouts, `SO_PASSCRED`, `SO_REUSEADDR`/`SO_REUSEPORT` for binding,
//! `SO_LINGER` for a TCP close, `IPV6_V6ONLY`) or, harmless on a loopback, is recorded
//! and read back with Linux's default ([`RECORDED`]: `TCP_NODELAY`, `IP_TOS`, ...).
//! Multicast membership fails as on a host whose only interface, `lo`, has no multicast
//! (`ENODEV`); privileged options are `EPERM`.

use super::{AnySocket, Ucred, any_socket_of, host};
use crate::abi::Timeval;
use crate::errno::{SysErr, SysResult};
use crate::kernel::task::Task;
use fs::socket::{Family, MAX_BUF, MIN_RCVBUF, MIN_SNDBUF, SockType, Socket, loopback};
use nix::errno::Errno;
use std::time::Duration;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct linger`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Linger {
    onoff: i32,
    linger: i32,
}

/// Boolean `SOL_SOCKET` options kept in the socket's option flags.
const FLAGS: [i32; 6] = [
    libc::SO_REUSEADDR,
    libc::SO_REUSEPORT,
    libc::SO_KEEPALIVE,
    libc::SO_BROADCAST,
    libc::SO_DONTROUTE,
    libc::SO_OOBINLINE,
];

/// Which sockets an option belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Any,
    Inet,
    Inet6,
    Tcp,
    Udp,
    Netlink,
}

impl Owner {
    fn of(self, sock: &Socket) -> bool {
        let inet = sock.family().is_inet();
        match self {
            Owner::Any => true,
            Owner::Inet => inet,
            Owner::Inet6 => sock.family() == Family::Inet6,
            Owner::Tcp => inet && sock.kind() == SockType::Stream,
            Owner::Udp => inet && sock.kind() == SockType::Dgram,
            Owner::Netlink => sock.family() == Family::Netlink,
        }
    }
}

/// Integer options that are only recorded and read back: (level, name, owner, Linux's
/// default).
const RECORDED: &[(i32, i32, Owner, i32)] = &[
    (libc::SOL_SOCKET, libc::SO_PRIORITY, Owner::Any, 0),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMP, Owner::Any, 0),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, Owner::Any, 0),
    (libc::SOL_SOCKET, libc::SO_NO_CHECK, Owner::Any, 0),
    (libc::SOL_SOCKET, libc::SO_BUSY_POLL, Owner::Any, 0),
    (libc::SOL_SOCKET, libc::SO_ZEROCOPY, Owner::Any, 0),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY, Owner::Tcp, 0),
    (libc::IPPROTO_TCP, libc::TCP_CORK, Owner::Tcp, 0),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, Owner::Tcp, 7200),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, Owner::Tcp, 75),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, Owner::Tcp, 9),
    (libc::IPPROTO_TCP, libc::TCP_SYNCNT, Owner::Tcp, 6),
    (libc::IPPROTO_TCP, libc::TCP_LINGER2, Owner::Tcp, 60),
    (libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, Owner::Tcp, 0),
    (libc::IPPROTO_TCP, libc::TCP_WINDOW_CLAMP, Owner::Tcp, 0),
    (libc::IPPROTO_TCP, libc::TCP_QUICKACK, Owner::Tcp, 1),
    (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, Owner::Tcp, 0),
    (libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT, Owner::Tcp, 0),
    (libc::IPPROTO_TCP, libc::TCP_FASTOPEN, Owner::Tcp, 0),
    (libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, Owner::Tcp, 0),
    (
        libc::IPPROTO_TCP,
        libc::TCP_THIN_LINEAR_TIMEOUTS,
        Owner::Tcp,
        0,
    ),
    (libc::IPPROTO_UDP, libc::UDP_CORK, Owner::Udp, 0),
    (libc::IPPROTO_UDP, libc::UDP_SEGMENT, Owner::Udp, 0),
    (libc::IPPROTO_UDP, libc::UDP_GRO, Owner::Udp, 0),
    (libc::IPPROTO_IP, libc::IP_TOS, Owner::Inet, 0),
    (libc::IPPROTO_IP, libc::IP_TTL, Owner::Inet, -1),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, Owner::Inet, 1),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, Owner::Inet, 1),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, Owner::Inet, 1),
    (libc::IPPROTO_IP, libc::IP_RECVERR, Owner::Inet, 0),
    (libc::IPPROTO_IP, libc::IP_PKTINFO, Owner::Inet, 0),
    (libc::IPPROTO_IP, libc::IP_RECVTOS, Owner::Inet, 0),
    (libc::IPPROTO_IP, libc::IP_RECVTTL, Owner::Inet, 0),
    (libc::IPPROTO_IP, libc::IP_RECVOPTS, Owner::Inet, 0),
    (libc::IPPROTO_IP, libc::IP_RETOPTS, Owner::Inet, 0),
    (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, Owner::Inet, 1),
    (libc::IPPROTO_IP, libc::IP_FREEBIND, Owner::Inet, 0),
    (
        libc::IPPROTO_IP,
        libc::IP_BIND_ADDRESS_NO_PORT,
        Owner::Inet,
        0,
    ),
    (libc::IPPROTO_IP, libc::IP_RECVORIGDSTADDR, Owner::Inet, 0),
    (libc::IPPROTO_IP, libc::IP_NODEFRAG, Owner::Inet, 0),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_UNICAST_HOPS,
        Owner::Inet6,
        -1,
    ),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_HOPS,
        Owner::Inet6,
        1,
    ),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_LOOP,
        Owner::Inet6,
        1,
    ),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_ALL,
        Owner::Inet6,
        1,
    ),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, Owner::Inet6, 0),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, Owner::Inet6, 0),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, Owner::Inet6, 0),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVERR, Owner::Inet6, 0),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS, Owner::Inet6, 0),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, Owner::Inet6, 0),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER, Owner::Inet6, 1),
    (libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG, Owner::Inet6, 0),
    (libc::SOL_NETLINK, libc::NETLINK_PKTINFO, Owner::Netlink, 0),
    (
        libc::SOL_NETLINK,
        libc::NETLINK_BROADCAST_ERROR,
        Owner::Netlink,
        0,
    ),
    (
        libc::SOL_NETLINK,
        libc::NETLINK_NO_ENOBUFS,
        Owner::Netlink,
        0,
    ),
    (
        libc::SOL_NETLINK,
        libc::NETLINK_LISTEN_ALL_NSID,
        Owner::Netlink,
        0,
    ),
    (libc::SOL_NETLINK, libc::NETLINK_CAP_ACK, Owner::Netlink, 0),
    (libc::SOL_NETLINK, libc::NETLINK_EXT_ACK, Owner::Netlink, 0),
    (
        libc::SOL_NETLINK,
        libc::NETLINK_GET_STRICT_CHK,
        Owner::Netlink,
        0,
    ),
];

/// The default time to live and hop limit (`ip_default_ttl`, `hop_limit`).
const DEFAULT_TTL: i32 = 64;
/// What `TCP_MAXSEG` reports: a connection over `lo`, or none (`TCP_MSS_DEFAULT`).
const LOOPBACK_MSS: i32 = 32768;
const DEFAULT_MSS: i32 = 536;
/// The congestion control TCP reports, and what it accepts.
const CONGESTION: [&[u8]; 2] = [b"cubic", b"reno"];
/// `TCP_CA_NAME_MAX`.
const CA_NAME_MAX: usize = 16;
/// `IFNAMSIZ`.
const IFNAMSIZ: usize = 16;

/// The recorded option (level, name) of `sock`, if there is one.
fn recorded(sock: &Socket, level: i32, name: i32) -> Option<i32> {
    RECORDED
        .iter()
        .find(|(l, n, owner, _)| *l == level && *n == name && owner.of(sock))
        .map(|&(_, _, _, default)| default)
}

/// The error for an option `level` that `sock` does not have, if it does not: Linux's
/// families answer differently, and `getsockopt` and `setsockopt` too.
fn level_error(sock: &Socket, level: i32, get: bool) -> Option<Errno> {
    let tcp = sock.kind() == SockType::Stream;
    match (sock.family(), level) {
        (_, libc::SOL_SOCKET) => None,
        (Family::Unix, _) => Some(Errno::EOPNOTSUPP),
        (Family::Netlink, libc::SOL_NETLINK) => None,
        (Family::Netlink, _) => Some(Errno::ENOPROTOOPT),
        (_, libc::IPPROTO_IP) | (Family::Inet6, libc::IPPROTO_IPV6) => None,
        (_, libc::IPPROTO_TCP) if tcp => None,
        (_, libc::IPPROTO_UDP) if !tcp => None,
        (Family::Inet, _) if get => Some(Errno::EOPNOTSUPP),
        _ => Some(Errno::ENOPROTOOPT),
    }
}

fn int_bytes(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn timeval_of(t: Option<Duration>) -> Timeval {
    t.map_or(Timeval::default(), Timeval::from_duration)
}

/// The value of a recorded option: what was set, else the default.
fn recorded_value(sock: &Socket, level: i32, name: i32, default: i32) -> i32 {
    sock.recorded_opt(level, name)
        .and_then(|b| b.try_into().ok())
        .map_or(default, i32::from_ne_bytes)
}

/// A minimal `struct tcp_info` (its first 104 bytes, the fields every kernel has): the
/// state, loopback's segment sizes and MTU, nothing lost or retransmitted.
fn tcp_info(sock: &Socket) -> Vec<u8> {
    const OPT_TIMESTAMPS_SACK_WSCALE: u8 = 1 | 2 | 4;
    let state = sock.tcp_state();
    let connected = sock.is_connected();
    let mut info = vec![0u8; 8];
    info[0] = state;
    if connected {
        info[5] = OPT_TIMESTAMPS_SACK_WSCALE;
        info[6] = 0x77;
    }
    let mss = if connected { LOOPBACK_MSS } else { DEFAULT_MSS } as u32;
    let fields: [u32; 24] = [
        if connected { 200_000 } else { 1_000_000 }, // rto (µs)
        if connected { 40_000 } else { 0 },          // ato
        mss,                                         // snd_mss
        mss,                                         // rcv_mss
        0,                                           // unacked
        0,                                           // sacked
        0,                                           // lost
        0,                                           // retrans
        0,                                           // fackets
        0,                                           // last_data_sent
        0,                                           // last_ack_sent
        0,                                           // last_data_recv
        0,                                           // last_ack_recv
        if connected { loopback::MTU } else { 0 },   // pmtu
        if connected { 65483 } else { 0 },           // rcv_ssthresh
        if connected { 50 } else { 0 },              // rtt (µs)
        if connected { 25 } else { 0 },              // rttvar
        i32::MAX as u32,                             // snd_ssthresh
        10,                                          // snd_cwnd
        if connected { 65483 } else { 0 },           // advmss
        3,                                           // reordering
        0,                                           // rcv_rtt
        if connected { 65483 } else { 0 },           // rcv_space
        0,                                           // total_retrans
    ];
    info.extend(fields.iter().flat_map(|v| v.to_ne_bytes()));
    info
}

/// `getsockopt(fd, level, optname, optval, optlen)`.
pub fn getsockopt(task: &mut Task) -> SysResult {
    let (fd, level, name) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32);
    let (val, len_ptr) = (task.arg(3), task.arg(4));
    let sock = match any_socket_of(task, fd)?.1 {
        AnySocket::Sentry(s) => s,
        AnySocket::Host(h) => return host::getsockopt(task, &h, level, name),
    };
    let len: i32 = task.read_obj(len_ptr)?;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    if let Some(e) = level_error(&sock, level, true) {
        return Err(e.into());
    }
    let o = sock.opts();
    let bytes = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_TYPE) => int_bytes(sock.kind().raw()),
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => int_bytes(sock.protocol()),
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => int_bytes(sock.family().domain()),
        (libc::SOL_SOCKET, libc::SO_ERROR) => int_bytes(sock.take_error().map_or(0, |e| e as i32)),
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => int_bytes(sock.is_listening() as i32),
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => int_bytes(o.sndbuf as i32),
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => int_bytes(o.rcvbuf as i32),
        (libc::SOL_SOCKET, libc::SO_RCVLOWAT) => int_bytes(o.rcvlowat as i32),
        (libc::SOL_SOCKET, libc::SO_SNDLOWAT) => int_bytes(1),
        (libc::SOL_SOCKET, libc::SO_PASSCRED) => int_bytes(o.passcred as i32),
        (libc::SOL_SOCKET, libc::SO_COOKIE) => sock.ino().to_ne_bytes().to_vec(),
        (libc::SOL_SOCKET, libc::SO_PEERCRED) => {
            let c = sock.peer_cred();
            let u = Ucred {
                pid: c.map_or(0, |c| c.pid),
                uid: c.map_or(u32::MAX, |c| c.uid),
                gid: c.map_or(u32::MAX, |c| c.gid),
            };
            u.as_bytes().to_vec()
        }
        (libc::SOL_SOCKET, libc::SO_LINGER) => Linger {
            onoff: o.linger.0 as i32,
            linger: o.linger.1,
        }
        .as_bytes()
        .to_vec(),
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => timeval_of(o.rcvtimeo).as_bytes().to_vec(),
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => timeval_of(o.sndtimeo).as_bytes().to_vec(),
        (libc::SOL_SOCKET, libc::SO_BINDTODEVICE) => {
            sock.recorded_opt(level, name).unwrap_or_default()
        }
        (libc::SOL_SOCKET, libc::SO_BINDTOIFINDEX) => {
            int_bytes(recorded_value(&sock, level, name, 0))
        }
        (libc::SOL_SOCKET, n) if FLAGS.contains(&n) => int_bytes(o.flag(n) as i32),
        (libc::IPPROTO_TCP, libc::TCP_INFO) => tcp_info(&sock),
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => int_bytes(if sock.is_connected() {
            LOOPBACK_MSS
        } else {
            recorded_value(&sock, level, name, DEFAULT_MSS)
        }),
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => {
            let mut v = sock
                .recorded_opt(level, name)
                .unwrap_or_else(|| CONGESTION[0].to_vec());
            v.resize(CA_NAME_MAX, 0);
            v
        }
        (libc::IPPROTO_IP, libc::IP_MTU) | (libc::IPPROTO_IPV6, libc::IPV6_MTU) => {
            if !sock.is_connected() {
                return Err(Errno::ENOTCONN.into());
            }
            int_bytes(loopback::MTU as i32)
        }
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => int_bytes(o.v6only as i32),
        (l, n) => {
            let default = recorded(&sock, l, n).ok_or(Errno::ENOPROTOOPT)?;
            match recorded_value(&sock, l, n, default) {
                // The hop limits report the default for "default".
                -1 => int_bytes(DEFAULT_TTL),
                v => int_bytes(v),
            }
        }
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
pub(super) fn timeout_of(tv: &Timeval) -> Result<Option<Duration>, SysErr> {
    if !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(Errno::EDOM.into());
    }
    Ok(match tv.tv_sec {
        s if s < 0 => Some(Duration::ZERO),
        0 if tv.tv_usec == 0 => None,
        s => Some(Duration::new(s as u64, tv.tv_usec as u32 * 1000)),
    })
}

/// An integer option value: an `int`, or for `IPPROTO_IP` options, also a single byte
/// (as Linux takes them); `EINVAL` if shorter.
fn int_value(task: &Task, level: i32, val: u64, len: i32) -> Result<i32, SysErr> {
    if len >= 4 {
        return task.read_obj(val);
    }
    if level == libc::IPPROTO_IP && len >= 1 {
        return Ok(i32::from(task.read_obj::<u8>(val)?));
    }
    Err(Errno::EINVAL.into())
}

/// `setsockopt(fd, level, optname, optval, optlen)`.
pub fn setsockopt(task: &mut Task) -> SysResult {
    let (fd, level, name) = (task.arg(0) as i32, task.arg(1) as i32, task.arg(2) as i32);
    let (val, len) = (task.arg(3), task.arg(4) as i32);
    let sock = match any_socket_of(task, fd)?.1 {
        AnySocket::Sentry(s) => s,
        AnySocket::Host(h) => return host::setsockopt(task, &h, level, name),
    };
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    if let Some(e) = level_error(&sock, level, false) {
        return Err(e.into());
    }
    // Options whose value is not an int.
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_BINDTODEVICE) => {
            let mut dev = vec![0u8; (len as usize).min(IFNAMSIZ)];
            task.mm().read(val, &mut dev)?;
            let end = dev.iter().position(|&c| c == 0).unwrap_or(dev.len());
            dev.truncate(end);
            if !dev.is_empty() && dev != loopback::NAME {
                return Err(Errno::ENODEV.into());
            }
            if !dev.is_empty() {
                dev.push(0);
            }
            sock.record_opt(level, name, dev);
            return Ok(0);
        }
        (libc::SOL_SOCKET, libc::SO_LINGER) => {
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
            return Ok(0);
        }
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO | libc::SO_SNDTIMEO) => {
            if len < std::mem::size_of::<Timeval>() as i32 {
                return Err(Errno::EINVAL.into());
            }
            let t = timeout_of(&task.read_obj::<Timeval>(val)?)?;
            if name == libc::SO_RCVTIMEO {
                sock.set_opts(|o| o.rcvtimeo = t);
            } else {
                sock.set_opts(|o| o.sndtimeo = t);
            }
            return Ok(0);
        }
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => {
            let mut algo = vec![0u8; (len as usize).min(CA_NAME_MAX)];
            task.mm().read(val, &mut algo)?;
            let end = algo.iter().position(|&c| c == 0).unwrap_or(algo.len());
            algo.truncate(end);
            if !CONGESTION.contains(&algo.as_slice()) {
                return Err(Errno::ENOENT.into());
            }
            sock.record_opt(level, name, algo);
            return Ok(0);
        }
        (libc::IPPROTO_IP, libc::IP_MULTICAST_IF) => {
            let mut v = vec![0u8; (len as usize).min(12)];
            task.mm().read(val, &mut v)?;
            sock.record_opt(level, name, v);
            return Ok(0);
        }
        (
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP | libc::IP_ADD_SOURCE_MEMBERSHIP | libc::MCAST_JOIN_GROUP,
        )
        | (libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP | libc::MCAST_JOIN_GROUP) => {
            return Err(Errno::ENODEV.into());
        }
        (
            libc::IPPROTO_IP,
            libc::IP_DROP_MEMBERSHIP | libc::IP_DROP_SOURCE_MEMBERSHIP | libc::MCAST_LEAVE_GROUP,
        )
        | (libc::IPPROTO_IPV6, libc::IPV6_DROP_MEMBERSHIP | libc::MCAST_LEAVE_GROUP) => {
            return Err(Errno::EADDRNOTAVAIL.into());
        }
        (libc::IPPROTO_IP, libc::IP_TRANSPARENT) | (libc::SOL_SOCKET, libc::SO_MARK) => {
            return Err(Errno::EPERM.into());
        }
        _ => {}
    }
    let v = int_value(task, level, val, len)?;
    let buf_size = |v: i32, min: usize| ((v as u32 as usize).min(MAX_BUF) * 2).max(min);
    let root = task.process.creds.lock().euid == 0;
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => {
            sock.set_opts(|o| o.sndbuf = buf_size(v, MIN_SNDBUF))
        }
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => {
            sock.set_opts(|o| o.rcvbuf = buf_size(v, MIN_RCVBUF))
        }
        (libc::SOL_SOCKET, libc::SO_SNDBUFFORCE | libc::SO_RCVBUFFORCE) if !root => {
            return Err(Errno::EPERM.into());
        }
        (libc::SOL_SOCKET, libc::SO_SNDBUFFORCE) => {
            sock.set_opts(|o| o.sndbuf = (v.max(0) as usize * 2).max(MIN_SNDBUF))
        }
        (libc::SOL_SOCKET, libc::SO_RCVBUFFORCE) => {
            sock.set_opts(|o| o.rcvbuf = (v.max(0) as usize * 2).max(MIN_RCVBUF))
        }
        (libc::SOL_SOCKET, libc::SO_PASSCRED) => sock.set_opts(|o| o.passcred = v != 0),
        (libc::SOL_SOCKET, libc::SO_RCVLOWAT) => {
            let lowat = if v < 0 {
                i32::MAX as usize
            } else {
                (v as usize).max(1)
            };
            sock.set_opts(|o| o.rcvlowat = lowat)
        }
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) if v != 0 && !sock.family().is_inet() => {
            return Err(Errno::EOPNOTSUPP.into());
        }
        (libc::SOL_SOCKET, libc::SO_PRIORITY) if !(0..=6).contains(&v) && !root => {
            return Err(Errno::EPERM.into());
        }
        (libc::SOL_SOCKET, libc::SO_BINDTOIFINDEX) => {
            if v != 0 && v != loopback::INDEX {
                return Err(Errno::ENODEV.into());
            }
            sock.record_opt(level, name, int_bytes(v));
        }
        (libc::SOL_SOCKET, n) if FLAGS.contains(&n) => sock.set_opts(|o| o.set_flag(n, v != 0)),
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => {
            // Only before the socket has an address.
            if sock.is_bound() {
                return Err(Errno::EINVAL.into());
            }
            sock.set_opts(|o| o.v6only = v != 0);
        }
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => {
            if v != 0 && !(88..=65535).contains(&v) {
                return Err(Errno::EINVAL.into());
            }
            sock.record_opt(level, name, int_bytes(if v == 0 { DEFAULT_MSS } else { v }));
        }
        (libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP | libc::NETLINK_DROP_MEMBERSHIP) => {}
        (l, n) => {
            let default = recorded(&sock, l, n).ok_or(Errno::ENOPROTOOPT)?;
            let hop_limit = matches!(
                (l, n),
                (libc::IPPROTO_IP, libc::IP_TTL)
                    | (
                        libc::IPPROTO_IPV6,
                        libc::IPV6_UNICAST_HOPS | libc::IPV6_MULTICAST_HOPS
                    )
            );
            let ttl_zero = (l, n) == (libc::IPPROTO_IP, libc::IP_TTL) && v == 0;
            if hop_limit && (!(-1..=255).contains(&v) || ttl_zero) {
                return Err(Errno::EINVAL.into());
            }
            // A hop limit of -1 asks for the default.
            let v = if hop_limit && v == -1 { default } else { v };
            sock.record_opt(l, n, int_bytes(v));
        }
    }
    Ok(0)
}
