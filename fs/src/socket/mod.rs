//! Sockets as sentry objects: one shared core and the address families built on it;
//! and, only for a sandbox run with `--network=host`, guest sockets that are host sockets.
//!
//! - [`core`]: one endpoint ([`Socket`]) and its open file ([`SocketFile`]): receive
//!   queues, send-buffer backpressure, connections and listen backlogs, shutdown,
//!   readiness. Stream, datagram and seqpacket sockets of every family run on it; the
//!   [`Family`] is a parameter of the core that selects the few rules where Linux's
//!   protocols differ (a TCP write to a closed peer goes out and is answered by a reset,
//!   a unix one fails at once; UDP drops what does not fit the receiver's buffer, unix
//!   datagram senders wait).
//! - [`unix`]: `AF_UNIX` names, filesystem and abstract (unix(7)).
//! - [`inet`]: `AF_INET` and `AF_INET6` on the loopback interface, as on a host whose only
//!   interface is `lo` (gVisor's `--network=none`): addresses, the TCP and UDP port
//!   tables with Linux's bind rules, ephemeral ports, connections and datagram delivery.
//! - [`netlink`]: `AF_NETLINK` sockets of protocol `NETLINK_ROUTE` answering link and
//!   address dumps (what `getifaddrs` and `if_nameindex` ask).
//! - [`loopback`]: the one interface, `lo`, as interface ioctls and netlink describe it.
//! - [`host`]: under `--network=host`, `AF_INET`/`AF_INET6` and `NETLINK_ROUTE` sockets
//!   are host sockets the sentry operates for the guest (none of the above is used for
//!   them).
//!
//! A sandbox's bound names live in one [`Namespace`] (Linux keeps them per network
//! namespace), which also tells who the caller is (pid and ids for credentials, port
//! privileges and `SO_REUSEPORT`), since this crate knows no tasks.
//!
//! Locking: each socket's state has its own mutex; only a stream `connect` holds two, in
//! address order. A family's name table may be locked while a socket's state is held,
//! never the other way round. A message may hold the last reference to other files (other
//! sockets), so messages are dropped only with no socket lock held.

pub mod core;
pub mod host;
pub mod inet;
pub mod loopback;
pub mod netlink;
pub mod unix;

pub use self::core::{Socket, SocketFile};

use crate::Result;
use crate::file::OpenFile;
use nix::errno::Errno;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Default `SO_SNDBUF` and `SO_RCVBUF` (Linux's `wmem_default` and `rmem_default`).
pub const DEFAULT_BUF: usize = 212_992;
/// Largest value `SO_SNDBUF`/`SO_RCVBUF` accept before doubling (`wmem_max`, `rmem_max`).
pub const MAX_BUF: usize = 212_992;
/// Smallest send buffer (`SOCK_MIN_SNDBUF`).
pub const MIN_SNDBUF: usize = 4608;
/// Smallest receive buffer (`SOCK_MIN_RCVBUF`).
pub const MIN_RCVBUF: usize = 2304;
/// A unix datagram socket's queue is full beyond this many messages from senders it is
/// not connected back to (`net.unix.max_dgram_qlen`).
pub const MAX_DGRAM_QLEN: usize = 10;
/// Largest listen backlog (`net.core.somaxconn`).
pub const SOMAXCONN: usize = 4096;
/// Most files one message may carry (`SCM_MAX_FD`).
pub const SCM_MAX_FD: usize = 253;
/// The id that credentials show when unknown (`overflowuid`).
pub const OVERFLOW_ID: u32 = 65534;

/// A socket's address family, the parameter of the shared core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `AF_UNIX`.
    Unix,
    /// `AF_INET`.
    Inet,
    /// `AF_INET6` (dual-stack unless `IPV6_V6ONLY`).
    Inet6,
    /// `AF_NETLINK` (`NETLINK_ROUTE`).
    Netlink,
}

impl Family {
    /// The `AF_*` value (`SO_DOMAIN`).
    pub fn domain(self) -> i32 {
        match self {
            Family::Unix => libc::AF_UNIX,
            Family::Inet => libc::AF_INET,
            Family::Inet6 => libc::AF_INET6,
            Family::Netlink => libc::AF_NETLINK,
        }
    }

    /// Whether it is `AF_INET` or `AF_INET6`.
    pub fn is_inet(self) -> bool {
        matches!(self, Family::Inet | Family::Inet6)
    }

    /// What `getsockname` reports for a socket of this family without a name.
    pub fn unnamed_sockaddr(self) -> Vec<u8> {
        match self {
            Family::Unix => unix::unnamed_sockaddr(),
            Family::Inet | Family::Inet6 => inet::unnamed_sockaddr(self),
            Family::Netlink => netlink::NlAddr::default().sockaddr(),
        }
    }
}

/// A socket's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    /// `SOCK_STREAM`: a connected byte stream.
    Stream,
    /// `SOCK_DGRAM`: datagrams, connected or addressed one by one.
    Dgram,
    /// `SOCK_SEQPACKET`: a connection that keeps message boundaries.
    Seqpacket,
    /// `SOCK_RAW` where a family keeps it (netlink): datagrams.
    Raw,
}

impl SockType {
    /// From an `AF_UNIX` `socket(2)` type without flags. `SOCK_RAW` makes a datagram
    /// socket, as on Linux; other types are `ESOCKTNOSUPPORT`.
    pub fn from_raw(ty: i32) -> Result<SockType> {
        match ty {
            libc::SOCK_STREAM => Ok(SockType::Stream),
            libc::SOCK_DGRAM | libc::SOCK_RAW => Ok(SockType::Dgram),
            libc::SOCK_SEQPACKET => Ok(SockType::Seqpacket),
            _ => Err(Errno::ESOCKTNOSUPPORT),
        }
    }

    /// The `SOCK_*` value (`SO_TYPE`).
    pub fn raw(self) -> i32 {
        match self {
            SockType::Stream => libc::SOCK_STREAM,
            SockType::Dgram => libc::SOCK_DGRAM,
            SockType::Seqpacket => libc::SOCK_SEQPACKET,
            SockType::Raw => libc::SOCK_RAW,
        }
    }

    /// Whether sockets of this type connect to one peer and shut it down on close.
    pub fn connection_oriented(self) -> bool {
        matches!(self, SockType::Stream | SockType::Seqpacket)
    }
}

/// Credentials as `SCM_CREDENTIALS` and `SO_PEERCRED` carry them (`struct ucred`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cred {
    /// Process id (in the guest's pid namespace).
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Cred {
    /// What a message sent without credentials shows: pid 0, the overflow ids.
    pub const NOBODY: Cred = Cred {
        pid: 0,
        uid: OVERFLOW_ID,
        gid: OVERFLOW_ID,
    };
}

/// Who is calling: the process and its ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// Process id (thread group id).
    pub pid: i32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective user id.
    pub euid: u32,
    /// Effective group id.
    pub egid: u32,
}

impl Caller {
    /// Real ids: what a message carries by default.
    pub fn real(&self) -> Cred {
        Cred {
            pid: self.pid,
            uid: self.uid,
            gid: self.gid,
        }
    }

    /// Effective ids: what `SO_PEERCRED` reports.
    pub fn effective(&self) -> Cred {
        Cred {
            pid: self.pid,
            uid: self.euid,
            gid: self.egid,
        }
    }
}

/// A socket's name, or the source of a message, in the form of its family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// An `AF_UNIX` name.
    Unix(unix::UnixAddr),
    /// An IPv4 or IPv6 address and port. IPv4 traffic is always `V4`, also on an
    /// `AF_INET6` socket (which shows it v4-mapped).
    Inet(SocketAddr),
    /// A netlink port id and multicast groups.
    Netlink(netlink::NlAddr),
}

impl Address {
    /// The `sockaddr` a socket of `family` reports for this address (`getsockname`,
    /// `getpeername`, `accept`, `recvfrom`).
    pub fn sockaddr(&self, family: Family) -> Vec<u8> {
        match self {
            Address::Unix(a) => a.sockaddr(),
            Address::Inet(a) => inet::sockaddr(*a, family),
            Address::Netlink(a) => a.sockaddr(),
        }
    }
}

/// Where a datagram goes when it does not go to the connected peer.
pub enum Target {
    /// A unix socket, found by its name.
    Socket(Arc<Socket>),
    /// An address, for the family to find who is bound there when the datagram goes.
    Addr(Address),
}

/// A socket's entry in its family's name table, given up when dropped (when the socket
/// is released, or rebinds).
pub(crate) enum Binding {
    /// A unix name.
    Unix(#[expect(dead_code, reason = "held for its drop, which frees the name")] unix::Binding),
    /// An inet port.
    Inet(inet::Binding),
    /// A netlink port id.
    Netlink(
        #[expect(dead_code, reason = "held for its drop, which frees the port id")]
        netlink::Binding,
    ),
}

/// The bound names of a sandbox (Linux keeps them per network namespace), and how to
/// learn who the caller is.
pub struct Namespace {
    unix: unix::Names,
    inet: inet::Ports,
    netlink: netlink::Ports,
    caller: fn() -> Caller,
}

impl Namespace {
    /// An empty namespace; `caller` returns the calling task's process and ids.
    pub fn new(caller: fn() -> Caller) -> Arc<Namespace> {
        Arc::new(Namespace {
            unix: unix::Names::default(),
            inet: inet::Ports::default(),
            netlink: netlink::Ports::default(),
            caller,
        })
    }

    /// The calling task's process and ids.
    pub fn caller(&self) -> Caller {
        (self.caller)()
    }

    /// The `AF_UNIX` names.
    pub fn unix(&self) -> &unix::Names {
        &self.unix
    }
}

/// Socket options the syscall layer reads and changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockOpts {
    /// `SO_PASSCRED`: receive `SCM_CREDENTIALS` with every message.
    pub passcred: bool,
    /// `SO_SNDBUF`, as `getsockopt` reports it (twice what was set).
    pub sndbuf: usize,
    /// `SO_RCVBUF`: bounds UDP and netlink receive queues; unix and TCP queues are
    /// bounded by their senders' buffers (TCP's by the sender's and this).
    pub rcvbuf: usize,
    /// `SO_RCVLOWAT`: bytes a stream read waits for.
    pub rcvlowat: usize,
    /// `SO_RCVTIMEO`: how long a receive or accept blocks (`None`: forever).
    pub rcvtimeo: Option<Duration>,
    /// `SO_SNDTIMEO`: how long a send or connect blocks (`None`: forever).
    pub sndtimeo: Option<Duration>,
    /// `SO_LINGER` as (`l_onoff`, `l_linger`): a TCP socket closed with (on, 0) resets
    /// its connection; otherwise recorded only.
    pub linger: (bool, i32),
    /// `IPV6_V6ONLY`: an `AF_INET6` socket neither binds nor reaches IPv4.
    pub v6only: bool,
    /// Boolean `SOL_SOCKET` options (`SO_REUSEADDR`, `SO_REUSEPORT`, `SO_KEEPALIVE`,
    /// ...): bit `n` is option `n`.
    pub flags: u64,
}

impl SockOpts {
    /// Whether the boolean `SOL_SOCKET` option `name` is on.
    pub fn flag(&self, name: i32) -> bool {
        self.flags >> name & 1 != 0
    }

    /// Sets the boolean `SOL_SOCKET` option `name`.
    pub fn set_flag(&mut self, name: i32, on: bool) {
        if on {
            self.flags |= 1 << name;
        } else {
            self.flags &= !(1 << name);
        }
    }
}

impl Default for SockOpts {
    fn default() -> Self {
        SockOpts {
            passcred: false,
            sndbuf: DEFAULT_BUF,
            rcvbuf: DEFAULT_BUF,
            rcvlowat: 1,
            rcvtimeo: None,
            sndtimeo: None,
            linger: (false, 0),
            v6only: false,
            flags: 0,
        }
    }
}

/// Where received bytes go, in order: guest memory in the sentry, a buffer in tests.
pub trait Sink {
    /// Bytes it can still take.
    fn room(&self) -> usize;
    /// Appends `data` (at most [`room`](Self::room) bytes). An error (`EFAULT`) leaves the
    /// bytes in the socket.
    fn put(&mut self, data: &[u8]) -> Result<()>;
}

/// A [`Sink`] filling a byte slice.
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    filled: usize,
}

impl<'a> SliceSink<'a> {
    /// A sink writing `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceSink { buf, filled: 0 }
    }
}

impl Sink for SliceSink<'_> {
    fn room(&self) -> usize {
        self.buf.len() - self.filled
    }

    fn put(&mut self, data: &[u8]) -> Result<()> {
        self.buf[self.filled..self.filled + data.len()].copy_from_slice(data);
        self.filled += data.len();
        Ok(())
    }
}

/// How to receive (`MSG_*` flags).
#[derive(Clone, Copy, Debug, Default)]
pub struct RecvFlags {
    /// `MSG_PEEK`: leave the data queued.
    pub peek: bool,
    /// `MSG_WAITALL`: a stream read waits for the whole buffer.
    pub waitall: bool,
    /// `MSG_TRUNC`: a datagram read returns the datagram's real length.
    pub trunc: bool,
    /// `MSG_DONTWAIT` or `O_NONBLOCK`.
    pub nonblock: bool,
}

/// What a receive got besides the bytes.
#[derive(Default)]
pub struct Received {
    /// What the call returns: bytes copied, or with [`RecvFlags::trunc`] on a datagram
    /// socket, the datagram's length.
    pub len: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC` in `msg_flags`).
    pub truncated: bool,
    /// The sender's name, if it had one.
    pub from: Option<Address>,
    /// Files passed with `SCM_RIGHTS`, for the caller to install as fds.
    pub fds: Vec<Arc<OpenFile>>,
    /// The sender's credentials, when the socket has `SO_PASSCRED`.
    pub creds: Option<Cred>,
}

/// What goes with the bytes of a send.
#[derive(Default)]
pub struct SendArgs {
    /// Destination of a datagram (`sendto`); `None` sends to the connected peer.
    pub to: Option<Target>,
    /// Files to pass (`SCM_RIGHTS`); a stream send attaches them to its first bytes.
    pub fds: Vec<Arc<OpenFile>>,
    /// Credentials given with `SCM_CREDENTIALS` (already checked); default: the caller's.
    pub creds: Option<Cred>,
    /// `MSG_DONTWAIT` or `O_NONBLOCK`.
    pub nonblock: bool,
}
