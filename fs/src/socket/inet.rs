//! `AF_INET` and `AF_INET6` sockets on the loopback interface, as on a host whose only
//! interface is `lo` (gVisor with `--network=none`). TCP is the shared stream core with
//! TCP's rules; UDP is datagrams delivered here to whoever is bound at the destination.
//!
//! - Addresses: 127.0.0.0/8 and ::1 are local; so are the wildcards, which receive
//!   loopback traffic. A destination elsewhere is `ENETUNREACH`; a wildcard destination
//!   means the loopback address (as Linux routes it). IPv4 traffic is kept as IPv4
//!   ([`SocketAddr::V4`]) even on an `AF_INET6` socket, which shows it v4-mapped; an
//!   `AF_INET6` socket is dual-stack unless `IPV6_V6ONLY`.
//! - Ports: TCP and UDP each have a port table shared by both families. Port 0 binds an
//!   ephemeral port from [`EPHEMERAL_PORTS`]; so do `connect`, a first `sendto` and
//!   `listen` on an unbound socket. Two bindings of one port conflict (`EADDRINUSE`) when
//!   their addresses overlap, unless both have `SO_REUSEADDR` and (TCP) the other one
//!   does not listen, or both have `SO_REUSEPORT` and the same owner. `listen` checks
//!   again. Ports below 1024 need euid 0 (`EACCES`). A connection's server end holds
//!   its port too, so an old server's connections keep a new server without
//!   `SO_REUSEADDR` off its port.
//! - TCP `connect` finds the best-matching listener (an exact address before a
//!   wildcard) and connects at once; nobody listening is `ECONNREFUSED`. A nonblocking
//!   `connect` still reports `EINPROGRESS`, as Linux's does for loopback: the socket is
//!   writable (or, refused, has `SO_ERROR` `ECONNREFUSED`), and the next `connect` reports
//!   the outcome (0, the error, or `ECONNABORTED` once the error was read).
//! - UDP: a datagram goes to the best-matching socket bound at its destination (a
//!   socket connected elsewhere does not match); it is dropped when the receiver's queue
//!   fills its `SO_RCVBUF`. A datagram nobody is bound for gives a connected sender
//!   `ECONNREFUSED` on its next call, as Linux's ICMP port-unreachable handling does.
//!
//! Not emulated: `TIME_WAIT` (a closed connection frees its port at once), urgent data,
//! multicast and broadcast delivery, IP options and ancillary data (`IP_PKTINFO`...).

use super::core::{Conn, Msg, SEND_SHUTDOWN, SHUTDOWN_MASK};
use super::{Address, Binding as AnyBinding, Family, SendArgs, SockOpts, SockType, Socket, Target};
use crate::Result;
use crate::wait::Waiter;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::ops::RangeInclusive;
use std::sync::{Arc, Weak};

/// Ports `bind` to port 0, `connect` and `listen` pick from
/// (`net.ipv4.ip_local_port_range`).
pub const EPHEMERAL_PORTS: RangeInclusive<u16> = 32768..=60999;
/// Ports below this need privilege (`net.ipv4.ip_unprivileged_port_start`).
const PRIVILEGED_PORTS: u16 = 1024;
/// Largest UDP payload over IPv4: 65535 less the IPv4 and UDP headers.
const MAX_UDP4: usize = 65507;
/// Largest UDP payload over IPv6: 65535 less the UDP header.
const MAX_UDP6: usize = 65527;
/// `sizeof(struct sockaddr_in)`.
const SOCKADDR_IN: usize = 16;
/// `sizeof(struct sockaddr_in6)`.
const SOCKADDR_IN6: usize = 28;
/// The shortest `sockaddr_in6` Linux takes (without `sin6_scope_id`).
const SIN6_LEN_RFC2133: usize = 24;

/// The `sockaddr` a socket of `family` shows for `addr`: a `sockaddr_in` on `AF_INET`,
/// a `sockaddr_in6` on `AF_INET6` (IPv4 v4-mapped). Ports in network byte order.
pub fn sockaddr(addr: SocketAddr, family: Family) -> Vec<u8> {
    match (family, addr) {
        (Family::Inet, SocketAddr::V4(a)) => {
            let mut out = vec![0u8; SOCKADDR_IN];
            out[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            out[2..4].copy_from_slice(&a.port().to_be_bytes());
            out[4..8].copy_from_slice(&a.ip().octets());
            out
        }
        (_, a) => {
            let ip = match a.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let mut out = vec![0u8; SOCKADDR_IN6];
            out[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            out[2..4].copy_from_slice(&a.port().to_be_bytes());
            out[8..24].copy_from_slice(&ip.octets());
            out
        }
    }
}

/// The wildcard address with port 0 (`getsockname` of an unbound socket).
fn unspecified(family: Family) -> SocketAddr {
    match family {
        Family::Inet6 => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
        _ => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
    }
}

/// What `getsockname` reports for an unbound socket: the wildcard address, port 0.
pub fn unnamed_sockaddr(family: Family) -> Vec<u8> {
    sockaddr(unspecified(family), family)
}

/// What a guest's `sockaddr` is given to: Linux checks it differently for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// `bind`.
    Bind,
    /// `connect`.
    Connect,
    /// `sendto`/`sendmsg` on a datagram socket.
    SendTo,
}

/// Parses a guest `sockaddr` for a socket of `family`, with Linux's checks for
/// `purpose`. `None` means no address: `AF_UNSPEC` given to `connect` (dissolve the
/// association) or to an `AF_INET6` `sendto` (the connected peer). A v4-mapped IPv6
/// address comes back as IPv4.
pub fn parse_sockaddr(family: Family, raw: &[u8], purpose: Purpose) -> Result<Option<SocketAddr>> {
    if raw.len() < 2 {
        return Err(Errno::EINVAL);
    }
    let fam = i32::from(u16::from_ne_bytes([raw[0], raw[1]]));
    if purpose == Purpose::Connect && fam == libc::AF_UNSPEC {
        return Ok(None);
    }
    let v4 = |raw: &[u8]| {
        let port = u16::from_be_bytes([raw[2], raw[3]]);
        let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
        SocketAddr::new(ip.into(), port)
    };
    if family == Family::Inet6 && purpose == Purpose::SendTo {
        match fam {
            libc::AF_UNSPEC => return Ok(None),
            libc::AF_INET if raw.len() >= SOCKADDR_IN => return Ok(Some(v4(raw))),
            libc::AF_INET6 => {}
            _ => return Err(Errno::EINVAL),
        }
    }
    match family {
        Family::Inet6 => {
            if raw.len() < SIN6_LEN_RFC2133 {
                return Err(Errno::EINVAL);
            }
            if fam != libc::AF_INET6 {
                return Err(Errno::EAFNOSUPPORT);
            }
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let octets: [u8; 16] = raw[8..24].try_into().expect("16 bytes");
            let ip = Ipv6Addr::from(octets);
            Ok(Some(match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(v4.into(), port),
                None => SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
            }))
        }
        _ => {
            if raw.len() < SOCKADDR_IN {
                return Err(Errno::EINVAL);
            }
            let addr = v4(raw);
            let ok = match purpose {
                Purpose::Bind => {
                    fam == libc::AF_INET || (fam == libc::AF_UNSPEC && addr.ip().is_unspecified())
                }
                Purpose::Connect => fam == libc::AF_INET,
                Purpose::SendTo => fam == libc::AF_INET || fam == libc::AF_UNSPEC,
            };
            if !ok {
                return Err(Errno::EAFNOSUPPORT);
            }
            Ok(Some(addr))
        }
    }
}

/// Where a socket is bound, as the port tables match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Local {
    /// `INADDR_ANY`.
    Any4,
    /// `in6addr_any`: also IPv4 unless `v6only`.
    Any6 {
        v6only: bool,
    },
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Local {
    fn of(ip: IpAddr, v6only: bool) -> Local {
        match ip {
            IpAddr::V4(a) if a.is_unspecified() => Local::Any4,
            IpAddr::V4(a) => Local::V4(a),
            IpAddr::V6(a) if a.is_unspecified() => Local::Any6 { v6only },
            IpAddr::V6(a) => Local::V6(a),
        }
    }

    /// Whether both bindings would receive some of the same traffic.
    fn overlaps(self, other: Local) -> bool {
        use Local::*;
        match (self, other) {
            (Any6 { v6only: false }, _) | (_, Any6 { v6only: false }) => true,
            (Any6 { .. }, Any6 { .. } | V6(_)) | (V6(_), Any6 { .. }) => true,
            (Any4, Any4 | V4(_)) | (V4(_), Any4) => true,
            (V4(a), V4(b)) => a == b,
            (V6(a), V6(b)) => a == b,
            _ => false,
        }
    }

    /// How well a socket bound here matches traffic to `ip`: 2 exactly, 1 as a
    /// wildcard, `None` not at all.
    fn score(self, ip: IpAddr) -> Option<u8> {
        match (self, ip) {
            (Local::V4(a), IpAddr::V4(b)) if a == b => Some(2),
            (Local::V6(a), IpAddr::V6(b)) if a == b => Some(2),
            (Local::Any4 | Local::Any6 { v6only: false }, IpAddr::V4(_)) => Some(1),
            (Local::Any6 { .. }, IpAddr::V6(_)) => Some(1),
            _ => None,
        }
    }
}

/// One socket's place on a port.
struct Entry {
    id: u64,
    local: Local,
    sock: Weak<Socket>,
    reuseaddr: bool,
    reuseport: bool,
    /// The owner's euid, for `SO_REUSEPORT`.
    uid: u32,
    /// A TCP socket listening here.
    listening: bool,
    /// A connected UDP socket's peer: it receives nothing else.
    remote: Option<SocketAddr>,
}

impl Entry {
    /// An entry for `sock` bound at `local`, with its options as they are.
    fn new(local: Local, sock: &Socket, opts: &SockOpts) -> Entry {
        Entry {
            id: 0,
            local,
            sock: sock.me.clone(),
            reuseaddr: opts.flag(libc::SO_REUSEADDR),
            reuseport: opts.flag(libc::SO_REUSEPORT),
            uid: sock.ns.caller().euid,
            listening: false,
            remote: None,
        }
    }

    /// Whether binding `self` next to `other` is refused (`tcp`: TCP's rules).
    fn conflicts(&self, other: &Entry, tcp: bool) -> bool {
        if self.id == other.id || other.sock.strong_count() == 0 {
            return false;
        }
        if !self.local.overlaps(other.local) {
            return false;
        }
        let reuse = self.reuseaddr && other.reuseaddr && !(tcp && other.listening);
        let reuseport = self.reuseport && other.reuseport && self.uid == other.uid;
        !(reuse || reuseport)
    }
}

/// The bindings of one protocol, by port.
#[derive(Default)]
struct Table {
    ports: HashMap<u16, Vec<Entry>>,
    next_id: u64,
}

impl Table {
    /// Adds `entry` at `port` (0: a free ephemeral port) unless it conflicts
    /// (`EADDRINUSE`); returns the port and the entry's id.
    fn insert(&mut self, entry: Entry, port: u16, tcp: bool) -> Result<(u16, u64)> {
        let port = if port == 0 {
            self.free_port().ok_or(Errno::EADDRINUSE)?
        } else {
            let taken = self
                .ports
                .get(&port)
                .is_some_and(|es| es.iter().any(|e| entry.conflicts(e, tcp)));
            if taken {
                return Err(Errno::EADDRINUSE);
            }
            port
        };
        Ok((port, self.push(entry, port)))
    }

    /// Adds `entry` at `port` unchecked; returns its id.
    fn push(&mut self, entry: Entry, port: u16) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.ports
            .entry(port)
            .or_default()
            .push(Entry { id, ..entry });
        id
    }

    /// An ephemeral port no live socket uses, searched from a random start as Linux does.
    fn free_port(&self) -> Option<u16> {
        let (lo, hi) = (*EPHEMERAL_PORTS.start(), *EPHEMERAL_PORTS.end());
        let span = u32::from(hi - lo) + 1;
        let start = std::collections::hash_map::RandomState::new()
            .hash_one(std::time::Instant::now()) as u32
            % span;
        (0..span)
            .map(|i| lo + ((start + i) % span) as u16)
            .find(|p| {
                self.ports
                    .get(p)
                    .is_none_or(|es| es.iter().all(|e| e.sock.strong_count() == 0))
            })
    }

    fn entry_mut(&mut self, port: u16, id: u64) -> Option<&mut Entry> {
        self.ports.get_mut(&port)?.iter_mut().find(|e| e.id == id)
    }

    fn remove(&mut self, port: u16, id: u64) {
        if let Some(es) = self.ports.get_mut(&port) {
            es.retain(|e| e.id != id);
            if es.is_empty() {
                self.ports.remove(&port);
            }
        }
    }

    /// The live socket bound at `port` that best matches traffic to `ip` from `from`
    /// (for UDP, `from` excludes sockets connected elsewhere) and passes `want`. Among
    /// equals (`SO_REUSEPORT`), the sender's port picks one.
    fn best(
        &self,
        port: u16,
        ip: IpAddr,
        from: Option<SocketAddr>,
        want: impl Fn(&Entry) -> bool,
    ) -> Option<Arc<Socket>> {
        let mut best: Vec<(u8, &Entry)> = Vec::new();
        for e in self.ports.get(&port)?.iter().filter(|e| want(e)) {
            let Some(mut score) = e.local.score(ip) else {
                continue;
            };
            match (e.remote, from) {
                (Some(r), Some(f)) if r == f => score += 4,
                (Some(_), _) => continue,
                _ => {}
            }
            match best.first() {
                Some((s, _)) if *s > score => {}
                Some((s, _)) if *s == score => best.push((score, e)),
                _ => best = vec![(score, e)],
            }
        }
        let pick = from.map_or(0, |f| usize::from(f.port())) % best.len().max(1);
        best.get(pick).and_then(|(_, e)| e.sock.upgrade())
    }
}

type SharedTable = Arc<Mutex<Table>>;

/// The TCP and UDP port tables of a namespace.
#[derive(Default)]
pub(crate) struct Ports {
    tcp: SharedTable,
    udp: SharedTable,
}

impl Ports {
    fn table(&self, kind: SockType) -> &SharedTable {
        if kind == SockType::Stream {
            &self.tcp
        } else {
            &self.udp
        }
    }
}

/// A socket's entry in a port table, removed when dropped.
pub(crate) struct Binding {
    table: Weak<Mutex<Table>>,
    port: u16,
    id: u64,
    /// The port was given to `bind` (Linux's `SOCK_BINDPORT_LOCK`): it stays when a
    /// connection fails or a UDP association is dissolved.
    port_locked: bool,
    /// A specific address was given to `bind` (`SOCK_BINDADDR_LOCK`).
    addr_locked: bool,
}

impl Binding {
    /// Takes changed `SO_REUSEADDR` and `SO_REUSEPORT` options into the entry.
    pub(super) fn sync_opts(&self, opts: &SockOpts) {
        self.update(|e| {
            e.reuseaddr = opts.flag(libc::SO_REUSEADDR);
            e.reuseport = opts.flag(libc::SO_REUSEPORT);
        });
    }

    fn update(&self, f: impl FnOnce(&mut Entry)) {
        if let Some(t) = self.table.upgrade()
            && let Some(e) = t.lock().entry_mut(self.port, self.id)
        {
            f(e);
        }
    }
}

impl Drop for Binding {
    fn drop(&mut self) {
        if let Some(t) = self.table.upgrade() {
            t.lock().remove(self.port, self.id);
        }
    }
}

fn inet_binding(b: &Option<AnyBinding>) -> Option<&Binding> {
    match b {
        Some(AnyBinding::Inet(b)) => Some(b),
        _ => None,
    }
}

/// The address a socket is bound to, if any.
fn bound_addr(addr: &Option<Address>) -> Option<SocketAddr> {
    match addr {
        Some(Address::Inet(a)) => Some(*a),
        _ => None,
    }
}

/// Whether `ip` is an address of this host that a socket may bind.
fn bindable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_loopback() || a.is_unspecified() || a.is_multicast() || a.is_broadcast()
        }
        IpAddr::V6(a) => a.is_loopback() || a.is_unspecified() || a.is_multicast(),
    }
}

/// Adds `sock` (whose state `st` is) to its protocol's table at `addr` (port 0: an
/// ephemeral one) and names it.
fn bind_locked(
    sock: &Socket,
    st: &mut super::core::State,
    addr: SocketAddr,
    port_locked: bool,
    addr_locked: bool,
) -> Result<()> {
    let table = sock.ns.inet.table(sock.kind());
    let entry = Entry::new(Local::of(addr.ip(), st.opts.v6only), sock, &st.opts);
    let (port, id) = table
        .lock()
        .insert(entry, addr.port(), sock.kind() == SockType::Stream)?;
    st.addr = Some(Address::Inet(SocketAddr::new(addr.ip(), port)));
    st.binding = Some(AnyBinding::Inet(Binding {
        table: Arc::downgrade(table),
        port,
        id,
        port_locked,
        addr_locked,
    }));
    Ok(())
}

/// `bind(addr)`: `EADDRNOTAVAIL` for an address that is not this host's, `EINVAL` for
/// a v4-mapped address on an `IPV6_V6ONLY` socket or a socket already bound, `EACCES`
/// for a privileged port without euid 0, `EADDRINUSE` for a conflicting binding.
pub fn bind(sock: &Socket, addr: SocketAddr) -> Result<()> {
    let mut st = sock.st.lock();
    if sock.family() == Family::Inet6 && addr.is_ipv4() && st.opts.v6only {
        return Err(Errno::EINVAL);
    }
    if !bindable(addr.ip()) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    if addr.port() != 0 && addr.port() < PRIVILEGED_PORTS && sock.ns.caller().euid != 0 {
        return Err(Errno::EACCES);
    }
    if st.addr.is_some() {
        return Err(Errno::EINVAL);
    }
    bind_locked(
        sock,
        &mut st,
        addr,
        addr.port() != 0,
        !addr.ip().is_unspecified(),
    )
}

/// Makes sure `sock` is bound before it sends or connects from `src` (`None`: keep the
/// wildcard): an unbound socket gets an ephemeral port, a wildcard one is narrowed to
/// `src`. Returns whether it was unbound.
fn bind_for(sock: &Socket, src: Option<IpAddr>) -> Result<bool> {
    let mut st = sock.st.lock();
    match bound_addr(&st.addr) {
        None => {
            let ip = src.unwrap_or(unspecified(sock.family()).ip());
            bind_locked(sock, &mut st, SocketAddr::new(ip, 0), false, false)?;
            Ok(true)
        }
        Some(a) => {
            if let Some(src) = src
                && a.ip().is_unspecified()
            {
                st.addr = Some(Address::Inet(SocketAddr::new(src, a.port())));
                if let Some(b) = inet_binding(&st.binding) {
                    b.update(|e| e.local = Local::of(src, false));
                }
            }
            Ok(false)
        }
    }
}

/// Undoes what a failed `connect` or a dissolved association bound implicitly: an
/// ephemeral port is given up, a narrowed wildcard restored.
fn unbind_implicit(sock: &Socket) {
    let mut st = sock.st.lock();
    let Some((port_locked, addr_locked)) =
        inet_binding(&st.binding).map(|b| (b.port_locked, b.addr_locked))
    else {
        return;
    };
    if !port_locked {
        st.addr = None;
        let old = st.binding.take();
        drop(st);
        drop(old);
        return;
    }
    if !addr_locked && let Some(a) = bound_addr(&st.addr) {
        let any = unspecified(sock.family()).ip();
        let v6only = st.opts.v6only;
        st.addr = Some(Address::Inet(SocketAddr::new(any, a.port())));
        if let Some(b) = inet_binding(&st.binding) {
            b.update(|e| e.local = Local::of(any, v6only));
        }
    }
}

/// Prepares `listen`: an unbound socket gets an ephemeral port on the wildcard address;
/// a bound one must not conflict with another listener (`EADDRINUSE`).
pub(super) fn listen(sock: &Socket) -> Result<()> {
    bind_for(sock, None)?;
    let st = sock.st.lock();
    let Some(b) = inet_binding(&st.binding) else {
        return Ok(());
    };
    let Some(table) = b.table.upgrade() else {
        return Ok(());
    };
    let mut t = table.lock();
    let Some(es) = t.ports.get_mut(&b.port) else {
        return Ok(());
    };
    let Some(i) = es.iter().position(|e| e.id == b.id) else {
        return Ok(());
    };
    es[i].listening = true;
    if es.iter().any(|e| es[i].conflicts(e, true)) {
        es[i].listening = false;
        return Err(Errno::EADDRINUSE);
    }
    Ok(())
}

/// The loopback route to `dst` for a socket of `family` bound at `bound`: the real
/// destination (a wildcard means the loopback address) and the source address.
/// `ENETUNREACH` for any other destination, or one of the other family than the bound
/// address (or IPv4 from an `IPV6_V6ONLY` socket).
fn route(
    family: Family,
    v6only: bool,
    bound: Option<SocketAddr>,
    dst: SocketAddr,
) -> Result<(SocketAddr, IpAddr)> {
    let bound_ip = bound.map(|b| b.ip()).filter(|ip| !ip.is_unspecified());
    let dst_ip = match dst.ip() {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    if !dst_ip.is_loopback() || (family == Family::Inet6 && v6only && dst_ip.is_ipv4()) {
        return Err(Errno::ENETUNREACH);
    }
    let src = match bound_ip {
        Some(b) if b.is_ipv4() != dst_ip.is_ipv4() => return Err(Errno::ENETUNREACH),
        Some(b) => b,
        None if dst_ip.is_ipv4() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        None => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    Ok((SocketAddr::new(dst_ip, dst.port()), src))
}

/// TCP `connect`: see the module doc. `target` `None` (`AF_UNSPEC`) aborts a connection
/// or stops listening.
pub(super) fn connect_stream(
    sock: &Socket,
    w: &Arc<Waiter>,
    target: Option<Target>,
    nonblock: bool,
) -> Result<()> {
    let dst = match target {
        None => {
            sock.abort();
            return Ok(());
        }
        Some(Target::Addr(Address::Inet(dst))) => dst,
        Some(_) => return Err(Errno::EINVAL),
    };
    let (bound, v6only) = {
        let mut st = sock.st.lock();
        if st.connecting {
            // The outcome of the nonblocking connect, reported once.
            st.connecting = false;
            let connected = matches!(st.conn, Conn::Connected(_));
            return match st.err.take() {
                Some(e) => {
                    st.shutdown = 0;
                    Err(e)
                }
                None if connected => Ok(()),
                None => {
                    st.shutdown = 0;
                    Err(Errno::ECONNABORTED)
                }
            };
        }
        match st.conn {
            Conn::Connected(_) => return Err(Errno::EISCONN),
            Conn::Listening { .. } => return Err(Errno::EINVAL),
            _ => {}
        }
        st.shutdown = 0;
        (bound_addr(&st.addr), st.opts.v6only)
    };
    let (dst, src) = route(sock.family(), v6only, bound, dst)?;
    bind_for(sock, Some(src))?;
    let listener = sock
        .ns
        .inet
        .tcp
        .lock()
        .best(dst.port(), dst.ip(), None, |e| e.listening);
    let connected = match listener {
        Some(l) => sock.connect_stream(w, &l, Some(Address::Inet(dst)), nonblock),
        None => Err(Errno::ECONNREFUSED),
    };
    match connected {
        Ok(server) => {
            // The server end shares its listener's port: nothing can conflict.
            let mut sst = server.st.lock();
            let entry = Entry::new(Local::of(dst.ip(), false), &server, &sst.opts);
            let table = &sock.ns.inet.tcp;
            let id = table.lock().push(entry, dst.port());
            sst.binding = Some(AnyBinding::Inet(Binding {
                table: Arc::downgrade(table),
                port: dst.port(),
                id,
                port_locked: true,
                addr_locked: true,
            }));
            drop(sst);
            if nonblock {
                sock.st.lock().connecting = true;
                return Err(Errno::EINPROGRESS);
            }
            Ok(())
        }
        Err(e) => {
            unbind_implicit(sock);
            if nonblock && e == Errno::ECONNREFUSED {
                let mut st = sock.st.lock();
                st.err = Some(e);
                st.shutdown = SHUTDOWN_MASK;
                st.connecting = true;
                drop(st);
                sock.set_remote(None);
                return Err(Errno::EINPROGRESS);
            }
            Err(e)
        }
    }
}

/// UDP `connect`: sets the default destination and narrows the local address to the
/// route's source; `None` (`AF_UNSPEC`) dissolves it, giving up an implicit binding.
pub(super) fn connect_dgram(sock: &Socket, target: Option<Target>) -> Result<()> {
    let dst = match target {
        None => {
            sock.set_remote(None);
            if let Some(b) = inet_binding(&sock.st.lock().binding) {
                b.update(|e| e.remote = None);
            }
            unbind_implicit(sock);
            return Ok(());
        }
        Some(Target::Addr(Address::Inet(dst))) => dst,
        Some(_) => return Err(Errno::EINVAL),
    };
    let (bound, v6only) = {
        let st = sock.st.lock();
        (bound_addr(&st.addr), st.opts.v6only)
    };
    let (dst, src) = route(sock.family(), v6only, bound, dst)?;
    bind_for(sock, Some(src))?;
    if let Some(b) = inet_binding(&sock.st.lock().binding) {
        b.update(|e| e.remote = Some(dst));
    }
    sock.set_remote(Some(Address::Inet(dst)));
    Ok(())
}

/// A UDP send: to `args.to` or the connected peer (`EDESTADDRREQ` without either;
/// `EINVAL` for port 0), at most [`MAX_UDP4`]/[`MAX_UDP6`] bytes (`EMSGSIZE`). An
/// unbound socket gets an ephemeral port. Delivered, dropped for a full receiver, or,
/// nobody bound there, lost (and `ECONNREFUSED` pending on a connected sender).
pub(super) fn send_dgram(sock: &Socket, data: &[u8], args: SendArgs) -> Result<usize> {
    let (dst, bound, v6only, connected) = {
        let mut st = sock.st.lock();
        let remote = match &st.conn {
            Conn::Remote(Address::Inet(r)) => Some(*r),
            _ => None,
        };
        let dst = match args.to {
            Some(Target::Addr(Address::Inet(d))) if d.port() == 0 => return Err(Errno::EINVAL),
            Some(Target::Addr(Address::Inet(d))) => d,
            Some(_) => return Err(Errno::EINVAL),
            None => remote.ok_or(Errno::EDESTADDRREQ)?,
        };
        let max = if sock.family() == Family::Inet || dst.is_ipv4() {
            MAX_UDP4
        } else {
            MAX_UDP6
        };
        if data.len() > max {
            return Err(Errno::EMSGSIZE);
        }
        if st.shutdown & SEND_SHUTDOWN != 0 {
            return Err(Errno::EPIPE);
        }
        if let Some(e) = st.err.take() {
            return Err(e);
        }
        (dst, bound_addr(&st.addr), st.opts.v6only, remote.is_some())
    };
    let (dst, src) = route(sock.family(), v6only, bound, dst)?;
    bind_for(sock, None)?;
    let port = bound_addr(&sock.st.lock().addr).map_or(0, |a| a.port());
    let from = SocketAddr::new(src, port);
    let receiver = sock
        .ns
        .inet
        .udp
        .lock()
        .best(dst.port(), dst.ip(), Some(from), |_| true);
    match receiver {
        Some(r) => {
            r.deliver(Msg::datagram(data.to_vec(), Address::Inet(from)), true);
        }
        None if connected => sock.set_error(Errno::ECONNREFUSED),
        None => {}
    }
    Ok(data.len())
}

#[cfg(test)]
mod tests {
    use super::super::{Caller, Namespace, RecvFlags, SliceSink, SocketFile};
    use super::*;
    use crate::file::FileOps;

    fn ns() -> Arc<Namespace> {
        Namespace::new(|| Caller {
            pid: 7,
            uid: 1000,
            gid: 1000,
            euid: 1000,
            egid: 1000,
        })
    }

    fn v4(ip: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::new(Ipv4Addr::from(ip).into(), port)
    }

    fn port_of(s: &SocketFile) -> u16 {
        match s.socket().name() {
            Some(Address::Inet(a)) => a.port(),
            other => panic!("not bound: {other:?}"),
        }
    }

    fn to(addr: SocketAddr) -> Option<Target> {
        Some(Target::Addr(Address::Inet(addr)))
    }

    fn recv(s: &SocketFile, len: usize) -> Result<(Vec<u8>, Option<Address>)> {
        let mut buf = vec![0u8; len];
        let f = RecvFlags {
            nonblock: true,
            ..RecvFlags::default()
        };
        let got = s
            .socket()
            .recv(&Waiter::new(), &mut SliceSink::new(&mut buf), f)?;
        buf.truncate(got.len.min(len));
        Ok((buf, got.from))
    }

    #[test]
    fn sockaddrs_have_linux_layouts() {
        let a = v4([127, 0, 0, 1], 0x1234);
        let sa = sockaddr(a, Family::Inet);
        assert_eq!(sa.len(), 16);
        assert_eq!(&sa[2..8], &[0x12, 0x34, 127, 0, 0, 1]);
        let sa6 = sockaddr(a, Family::Inet6);
        assert_eq!(sa6.len(), 28);
        assert_eq!(&sa6[18..24], &[0xff, 0xff, 127, 0, 0, 1]);
        assert_eq!(
            parse_sockaddr(Family::Inet6, &sa6, Purpose::Connect),
            Ok(Some(a))
        );
        assert_eq!(
            parse_sockaddr(Family::Inet6, &sa, Purpose::Bind),
            Err(Errno::EINVAL)
        );
        let mut unspec = sa.clone();
        unspec[..2].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(
            parse_sockaddr(Family::Inet, &unspec, Purpose::Bind),
            Err(Errno::EAFNOSUPPORT)
        );
        assert_eq!(
            parse_sockaddr(Family::Inet, &unspec, Purpose::Connect),
            Ok(None)
        );
    }

    #[test]
    fn bind_rules() {
        let ns = ns();
        let a = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        assert_eq!(
            bind(a.socket(), v4([192, 0, 2, 1], 0)),
            Err(Errno::EADDRNOTAVAIL)
        );
        assert_eq!(bind(a.socket(), v4([0, 0, 0, 0], 80)), Err(Errno::EACCES));
        bind(a.socket(), v4([0, 0, 0, 0], 0)).unwrap();
        let port = port_of(&a);
        assert!(EPHEMERAL_PORTS.contains(&port));
        assert_eq!(bind(a.socket(), v4([0, 0, 0, 0], 0)), Err(Errno::EINVAL));
        // The wildcard covers 127.0.0.1 and a dual-stack [::].
        let b = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        assert_eq!(
            bind(b.socket(), v4([127, 0, 0, 1], port)),
            Err(Errno::EADDRINUSE)
        );
        let c = SocketFile::new(&ns, Family::Inet6, SockType::Stream);
        let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
        assert_eq!(bind(c.socket(), any6), Err(Errno::EADDRINUSE));
        c.socket().set_opts(|o| o.v6only = true);
        bind(c.socket(), any6).unwrap();
        // SO_REUSEADDR on both: allowed until one listens.
        a.socket()
            .set_opts(|o| o.set_flag(libc::SO_REUSEADDR, true));
        b.socket()
            .set_opts(|o| o.set_flag(libc::SO_REUSEADDR, true));
        bind(b.socket(), v4([127, 0, 0, 1], port)).unwrap();
        a.socket().listen(1).unwrap();
        assert_eq!(b.socket().listen(1), Err(Errno::EADDRINUSE));
        // UDP has its own ports.
        let u = SocketFile::new(&ns, Family::Inet, SockType::Dgram);
        bind(u.socket(), v4([127, 0, 0, 1], port)).unwrap();
        // Closing frees the port.
        drop((a, b));
        let d = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        bind(d.socket(), v4([127, 0, 0, 1], port)).unwrap();
    }

    #[test]
    fn tcp_connect_accept_and_names() {
        let ns = ns();
        let l = SocketFile::new(&ns, Family::Inet6, SockType::Stream);
        l.socket().listen(4).unwrap();
        let port = port_of(&l);
        let c = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        let w = Waiter::new();
        c.socket()
            .connect(&w, to(v4([127, 0, 0, 5], port)), false)
            .unwrap();
        let s = l.socket().accept(&w, true).unwrap();
        // The server end is named after the destination; the client got 127.0.0.1.
        assert_eq!(
            s.socket().name(),
            Some(Address::Inet(v4([127, 0, 0, 5], port)))
        );
        let Some(Address::Inet(peer)) = s.socket().peer_name().unwrap() else {
            panic!("no peer name");
        };
        assert_eq!(peer.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(Some(Address::Inet(peer)), c.socket().name());
        // The v6 listener shows it v4-mapped.
        assert_eq!(sockaddr(peer, Family::Inet6).len(), 28);
        // Nobody on the port once the listener is gone; elsewhere is unreachable.
        drop(l);
        let c2 = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        assert_eq!(
            c2.socket().connect(&w, to(v4([127, 0, 0, 1], port)), false),
            Err(Errno::ECONNREFUSED)
        );
        assert_eq!(c2.socket().name(), None, "the implicit port is given back");
        assert_eq!(
            c2.socket().connect(&w, to(v4([192, 0, 2, 1], port)), false),
            Err(Errno::ENETUNREACH)
        );
    }

    #[test]
    fn nonblocking_connect_reports_in_progress_then_the_outcome() {
        let ns = ns();
        let w = Waiter::new();
        let c = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        let nowhere = v4([127, 0, 0, 1], 1);
        assert_eq!(
            c.socket().connect(&w, to(nowhere), true),
            Err(Errno::EINPROGRESS)
        );
        let all = libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP;
        assert_eq!(
            c.poll(all),
            libc::POLLIN | libc::POLLOUT | libc::POLLERR | libc::POLLHUP | libc::POLLRDHUP
        );
        assert_eq!(c.socket().take_error(), Some(Errno::ECONNREFUSED));
        assert_eq!(
            c.socket().connect(&w, to(nowhere), true),
            Err(Errno::ECONNABORTED)
        );
        let l = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        l.socket().listen(0).unwrap();
        let there = v4([127, 0, 0, 1], port_of(&l));
        let d = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        assert_eq!(
            d.socket().connect(&w, to(there), true),
            Err(Errno::EINPROGRESS)
        );
        assert_eq!(d.poll(all), libc::POLLOUT);
        d.socket().connect(&w, to(there), true).unwrap();
        assert_eq!(d.socket().connect(&w, to(there), true), Err(Errno::EISCONN));
    }

    #[test]
    fn tcp_close_is_a_fin_then_a_reset_for_the_writer() {
        let ns = ns();
        let w = Waiter::new();
        let l = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        l.socket().listen(1).unwrap();
        let c = SocketFile::new(&ns, Family::Inet, SockType::Stream);
        c.socket()
            .connect(&w, to(v4([127, 0, 0, 1], port_of(&l))), false)
            .unwrap();
        let s = l.socket().accept(&w, true).unwrap();
        drop(s);
        let all = libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP;
        assert_eq!(c.poll(all), libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP);
        assert_eq!(c.write(&w, b"x", true), Ok(1));
        assert_eq!(c.poll(all) & libc::POLLHUP, libc::POLLHUP);
        assert_eq!(recv(&c, 8).unwrap().0, b"");
        assert_eq!(c.write(&w, b"x", true), Err(Errno::EPIPE));
        assert_eq!(c.socket().peer_name(), Err(Errno::ENOTCONN));
    }

    #[test]
    fn udp_delivery_boundaries_and_refusal() {
        let ns = ns();
        let w = Waiter::new();
        let server = SocketFile::new(&ns, Family::Inet6, SockType::Dgram);
        bind(
            server.socket(),
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
        )
        .unwrap();
        let port = port_of(&server);
        let client = SocketFile::new(&ns, Family::Inet, SockType::Dgram);
        let send = |data: &[u8], dst| {
            let args = SendArgs {
                to: to(dst),
                ..SendArgs::default()
            };
            client.socket().send(&w, data, args)
        };
        send(b"one", v4([127, 0, 0, 1], port)).unwrap();
        send(b"two", v4([0, 0, 0, 0], port)).unwrap();
        let (data, from) = recv(&server, 64).unwrap();
        assert_eq!(data, b"one");
        assert_eq!(
            from,
            client.socket().name().map(|a| match a {
                Address::Inet(a) =>
                    Address::Inet(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), a.port())),
                other => other,
            })
        );
        assert_eq!(recv(&server, 2).unwrap().0, b"tw");
        assert_eq!(recv(&server, 64), Err(Errno::EAGAIN));
        assert_eq!(send(b"x", v4([127, 0, 0, 1], 0)), Err(Errno::EINVAL));
        assert_eq!(
            send(&vec![0; MAX_UDP4 + 1], v4([127, 0, 0, 1], port)),
            Err(Errno::EMSGSIZE)
        );
        // Connected to a port nobody has: the next call learns of it.
        let lonely = SocketFile::new(&ns, Family::Inet, SockType::Dgram);
        lonely
            .socket()
            .connect(&w, to(v4([127, 0, 0, 1], 9)), false)
            .unwrap();
        assert_eq!(lonely.write(&w, b"x", true), Ok(1));
        assert_eq!(recv(&lonely, 8), Err(Errno::ECONNREFUSED));
        assert_eq!(recv(&lonely, 8), Err(Errno::EAGAIN));
    }

    #[test]
    fn udp_receive_queue_is_bounded_by_rcvbuf() {
        let ns = ns();
        let w = Waiter::new();
        let server = SocketFile::new(&ns, Family::Inet, SockType::Dgram);
        bind(server.socket(), v4([127, 0, 0, 1], 0)).unwrap();
        server.socket().set_opts(|o| o.rcvbuf = 4096);
        let client = SocketFile::new(&ns, Family::Inet, SockType::Dgram);
        client
            .socket()
            .connect(&w, to(v4([127, 0, 0, 1], port_of(&server))), false)
            .unwrap();
        for _ in 0..100 {
            assert_eq!(client.write(&w, &[7; 1000], true), Ok(1000));
        }
        let mut got = 0;
        while recv(&server, 2000).is_ok() {
            got += 1;
        }
        assert!((1..100).contains(&got), "{got} of 100 queued");
    }
}
