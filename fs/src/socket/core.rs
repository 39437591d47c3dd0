//! The socket core every family shares: one endpoint's queues, connections and readiness.
//!
//! - A [`Socket`]'s receive queue holds messages: bytes with the sender's address and,
//!   for unix sockets, credentials and the files passed with them (`SCM_RIGHTS`). A
//!   connection's send appends to the peer's queue and charges the sender (its `wmem`)
//!   until the bytes are read, like Linux's `sk_wmem_alloc`: a sender blocks while its
//!   charge reaches its limit, and polls writable while the charge is at most a quarter
//!   of it. The limit is `SO_SNDBUF`; a TCP sender also has its peer's `SO_RCVBUF`, since
//!   TCP buffers on both ends.
//! - Stream reads run across messages, stopping only after a message that carried files
//!   (and, with `SO_PASSCRED`, where the writer changes). Datagram and seqpacket reads take
//!   one message each, truncating it to the buffer.
//! - Connection-oriented sockets: `connect` to a listener creates the server end at once
//!   (the client is connected and may write before `accept`) and queues it on the
//!   listener's backlog; `accept` takes it off. Closing an end with data left unread
//!   resets the peer (`ECONNRESET`). Otherwise a unix peer is shut down both ways (`EPIPE`
//!   for its writes), while a TCP peer only reads end of file: its next write still goes
//!   out and is answered by a reset (`EPIPE` from then on), as on Linux.
//! - Datagrams: unix senders are found by name and wait for room in a full receiver
//!   ([`MAX_DGRAM_QLEN`]); UDP and netlink datagrams are delivered by their family
//!   ([`inet`](super::inet), [`netlink`](super::netlink)) with [`Socket::deliver`], which
//!   drops what does not fit the receiver's `SO_RCVBUF`.
//! - A socket is released (peer shut down, name freed, queue purged) when its last file
//!   reference goes ([`SocketFile`]'s drop), or for a connection never accepted, when its
//!   listener is released.
//!
//! Not implemented: `MSG_OOB`, `SO_PEEK_OFF`, and the garbage collection of sockets that
//! are only reachable through fds in flight to themselves (they leak, as they would on a
//! Linux without its unix GC).

use super::{
    Address, Binding, Cred, Family, MAX_DGRAM_QLEN, Namespace, Received, RecvFlags, SOMAXCONN,
    SendArgs, Sink, SliceSink, SockOpts, SockType, Target, inet, netlink,
};
use crate::Result;
use crate::file::{FileOps, OpenFile, PollEvents};
use crate::inode::Stat;
use crate::synth::{anon_stat, next_ino};
use crate::wait::{WaitQueue, Waiter};
use nix::errno::Errno;
use parking_lot::{Mutex, MutexGuard};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Largest piece of a stream write queued as one message.
const STREAM_CHUNK: usize = 65536;
/// Device number of sockets (sockfs).
pub(super) const SOCKFS_DEV: u64 = 0x08;
/// What a queued datagram costs its receiver's `SO_RCVBUF` besides its bytes (about an
/// `sk_buff`'s truesize overhead).
const DGRAM_OVERHEAD: usize = 768;
/// A fresh TCP socket's `SO_SNDBUF` and `SO_RCVBUF` (`tcp_wmem[1]`, `tcp_rmem[1]`).
const TCP_SNDBUF: usize = 16384;
const TCP_RCVBUF: usize = 131_072;

pub(super) const RCV_SHUTDOWN: u8 = 1;
pub(super) const SEND_SHUTDOWN: u8 = 2;
pub(super) const SHUTDOWN_MASK: u8 = RCV_SHUTDOWN | SEND_SHUTDOWN;

/// Queued bytes with what came with them.
pub(super) struct Msg {
    data: Vec<u8>,
    /// Bytes of `data` already read (stream reads may take part of a message).
    off: usize,
    fds: Vec<Arc<OpenFile>>,
    creds: Option<Cred>,
    from: Option<Address>,
    /// Charged for the unread bytes; told when they are read or dropped.
    sender: Weak<Socket>,
}

impl Msg {
    /// A datagram that charges no sender (UDP and netlink: the receiver's buffer bounds
    /// them).
    pub(super) fn datagram(data: Vec<u8>, from: Address) -> Msg {
        Msg {
            data,
            off: 0,
            fds: Vec::new(),
            creds: None,
            from: Some(from),
            sender: Weak::new(),
        }
    }

    fn len(&self) -> usize {
        self.data.len() - self.off
    }

    /// Gives `n` bytes back to the sender's send buffer.
    fn uncharge(&self, n: usize) {
        if n > 0
            && let Some(s) = self.sender.upgrade()
        {
            s.wmem.fetch_sub(n, Ordering::SeqCst);
            s.queue.notify_all();
        }
    }

    /// Marks `n` bytes read.
    fn consume(&mut self, n: usize) {
        self.uncharge(n);
        self.off += n;
    }

    /// Whether `next` may be appended to this message: a stream read would glue them
    /// anyway, since neither carries files and both come from the same writer.
    fn can_merge(&self, next: &Msg) -> bool {
        self.fds.is_empty()
            && next.fds.is_empty()
            && self.creds == next.creds
            && self.from == next.from
            && Weak::ptr_eq(&self.sender, &next.sender)
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.uncharge(self.len());
    }
}

/// Whom a socket is connected to.
#[derive(Default)]
pub(super) enum Conn {
    /// Not connected (Linux's `TCP_CLOSE`).
    #[default]
    None,
    /// Listening: connections not yet accepted, and how many more than that may wait.
    Listening {
        backlog: VecDeque<Arc<Socket>>,
        max: usize,
    },
    /// Connected to a socket; for unix datagram sockets, the default destination.
    Connected(Arc<Socket>),
    /// A UDP or netlink socket's default destination: whoever is bound there when a
    /// datagram goes.
    Remote(Address),
}

/// A socket's state, under its mutex. The family modules read and change the naming
/// fields (`addr`, `binding`) and the connection.
#[derive(Default)]
pub(super) struct State {
    pub(super) conn: Conn,
    /// Its name (`getsockname`).
    pub(super) addr: Option<Address>,
    /// The name-table entry behind `addr` (the server end of a unix connection shares its
    /// listener's name but owns no entry).
    pub(super) binding: Option<Binding>,
    pub(super) shutdown: u8,
    /// Pending error (`SO_ERROR`), reported once.
    pub(super) err: Option<Errno>,
    /// Released: no file refers to it any more.
    pub(super) dead: bool,
    rx: VecDeque<Msg>,
    rx_bytes: usize,
    peer_cred: Option<Cred>,
    pub(super) opts: SockOpts,
    /// Datagram senders waiting for room in this socket's queue.
    room_waiters: Vec<Weak<Socket>>,
    /// TCP: the peer's FIN arrived, so reads end there even if a reset follows.
    fin: bool,
    /// TCP: the connection was reset.
    reset: bool,
    /// TCP: a nonblocking connect returned `EINPROGRESS`; the next `connect` reports how
    /// it went.
    pub(super) connecting: bool,
    /// TCP: the peer's `SO_RCVBUF`, which a writer may fill besides its own send buffer.
    peer_rcvbuf: usize,
}

impl State {
    fn push(&mut self, mut msg: Msg, merge: bool) {
        self.rx_bytes += msg.len();
        if merge
            && let Some(tail) = self.rx.back_mut()
            && tail.can_merge(&msg)
        {
            if tail.off > 0 && tail.off >= tail.data.len() / 2 {
                tail.data.drain(..tail.off);
                tail.off = 0;
            }
            tail.data.extend_from_slice(&msg.data[msg.off..]);
            // Emptied, so dropping it gives nothing back: the tail carries the charge now.
            msg.off = msg.data.len();
            return;
        }
        self.rx.push_back(msg);
    }

    pub(super) fn peer(&self) -> Option<&Arc<Socket>> {
        match &self.conn {
            Conn::Connected(p) => Some(p),
            _ => None,
        }
    }

    fn connected_to(&self, s: &Socket) -> bool {
        self.peer().is_some_and(|p| std::ptr::eq(Arc::as_ptr(p), s))
    }

    fn dgram_queue_full(&self) -> bool {
        self.rx.len() > MAX_DGRAM_QLEN
    }

    /// What the queued datagrams cost the receive buffer.
    fn rmem(&self) -> usize {
        self.rx_bytes + self.rx.len() * DGRAM_OVERHEAD
    }

    /// TCP: the connection is over (reset, or finished both ways): Linux's `TCP_CLOSE`.
    fn tcp_closed(&self) -> bool {
        self.reset || (self.fin && self.shutdown & SEND_SHUTDOWN != 0)
    }

    /// The most a stream writer may have unread.
    fn send_limit(&self) -> usize {
        self.opts.sndbuf + self.peer_rcvbuf
    }
}

/// One socket endpoint.
pub struct Socket {
    family: Family,
    kind: SockType,
    pub(super) ns: Arc<Namespace>,
    ino: u64,
    pub(super) me: Weak<Socket>,
    /// Woken on every change of this socket: data queued or read, its sent bytes read,
    /// connections, shutdowns, errors.
    queue: WaitQueue,
    /// Bytes sent and not yet read (Linux's `sk_wmem_alloc`).
    wmem: AtomicUsize,
    pub(super) st: Mutex<State>,
    /// Options kept only for `getsockopt`, by (level, name).
    recorded: Mutex<BTreeMap<(i32, i32), Vec<u8>>>,
}

/// Locks two different sockets in address order.
fn lock2<'a>(a: &'a Socket, b: &'a Socket) -> (MutexGuard<'a, State>, MutexGuard<'a, State>) {
    if (a as *const Socket) < (b as *const Socket) {
        let ga = a.st.lock();
        (ga, b.st.lock())
    } else {
        let gb = b.st.lock();
        (a.st.lock(), gb)
    }
}

/// Sleeps on `queues` unless `blocked()` turned false after registering; a deadline that
/// passes is `EAGAIN`, as a socket timeout is.
fn sleep(
    w: &Arc<Waiter>,
    queues: &[&WaitQueue],
    deadline: Option<Instant>,
    blocked: impl Fn() -> bool,
) -> Result<()> {
    let _regs: Vec<_> = queues.iter().map(|q| q.register(w)).collect();
    if !blocked() {
        return Ok(());
    }
    match w.wait(deadline) {
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        r => r,
    }
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|d| Instant::now() + d)
}

/// Bytes moved before an error are the result; the error only if nothing moved.
fn partial(done: usize, e: Errno) -> Result<usize> {
    if done > 0 { Ok(done) } else { Err(e) }
}

fn wake_all(socks: Vec<Weak<Socket>>) {
    for s in socks.iter().filter_map(Weak::upgrade) {
        s.queue.notify_all();
    }
}

impl Socket {
    fn alloc(ns: &Arc<Namespace>, family: Family, kind: SockType) -> Arc<Socket> {
        let mut opts = SockOpts::default();
        if family.is_inet() && kind == SockType::Stream {
            opts.sndbuf = TCP_SNDBUF;
            opts.rcvbuf = TCP_RCVBUF;
        }
        Arc::new_cyclic(|me| Socket {
            family,
            kind,
            ns: ns.clone(),
            ino: next_ino(),
            me: me.clone(),
            queue: WaitQueue::new(),
            wmem: AtomicUsize::new(0),
            st: Mutex::new(State {
                opts,
                ..State::default()
            }),
            recorded: Mutex::new(BTreeMap::new()),
        })
    }

    /// The socket behind an open file, if it is one.
    pub fn of(file: &OpenFile) -> Option<&Arc<Socket>> {
        file.ops
            .any()?
            .downcast_ref::<SocketFile>()
            .map(|f| &f.sock)
    }

    /// Its address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Its type.
    pub fn kind(&self) -> SockType {
        self.kind
    }

    /// Its protocol (`SO_PROTOCOL`): TCP or UDP for inet sockets, else 0 (unix, and
    /// netlink's `NETLINK_ROUTE`).
    pub fn protocol(&self) -> i32 {
        match (self.family.is_inet(), self.kind) {
            (true, SockType::Stream) => libc::IPPROTO_TCP,
            (true, _) => libc::IPPROTO_UDP,
            (false, _) => 0,
        }
    }

    /// Whether TCP's rules apply (an inet stream socket).
    pub(super) fn tcp(&self) -> bool {
        self.family.is_inet() && self.kind == SockType::Stream
    }

    /// Its inode number (`socket:[ino]`).
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// A copy of its options.
    pub fn opts(&self) -> SockOpts {
        self.st.lock().opts
    }

    /// Changes its options.
    pub fn set_opts(&self, f: impl FnOnce(&mut SockOpts)) {
        let mut st = self.st.lock();
        f(&mut st.opts);
        if let Some(Binding::Inet(b)) = &st.binding {
            // The port table judges conflicts by the options as they are now.
            b.sync_opts(&st.opts);
        }
        drop(st);
        // A bigger send buffer may unblock a writer.
        self.queue.notify_all();
    }

    /// The value last set for a recorded option (one that only `getsockopt` reads).
    pub fn recorded_opt(&self, level: i32, name: i32) -> Option<Vec<u8>> {
        self.recorded.lock().get(&(level, name)).cloned()
    }

    /// Records an option's value for `getsockopt`.
    pub fn record_opt(&self, level: i32, name: i32, value: Vec<u8>) {
        self.recorded.lock().insert((level, name), value);
    }

    /// Takes the pending error (`SO_ERROR`).
    pub fn take_error(&self) -> Option<Errno> {
        self.st.lock().err.take()
    }

    /// Makes `e` the pending error, for the next receive or `SO_ERROR` to report.
    pub fn set_error(&self, e: Errno) {
        self.st.lock().err = Some(e);
        self.queue.notify_all();
    }

    /// Whether it listens (`SO_ACCEPTCONN`).
    pub fn is_listening(&self) -> bool {
        matches!(self.st.lock().conn, Conn::Listening { .. })
    }

    /// Whether it is connected (for datagram sockets: has a default destination).
    pub fn is_connected(&self) -> bool {
        matches!(self.st.lock().conn, Conn::Connected(_) | Conn::Remote(_))
    }

    /// Whether it has a name.
    pub fn is_bound(&self) -> bool {
        self.st.lock().addr.is_some()
    }

    /// Its name (`getsockname`); `None` if unbound.
    pub fn name(&self) -> Option<Address> {
        self.st.lock().addr.clone()
    }

    /// The peer's name (`getpeername`, `accept`): `Ok(None)` if the peer has none,
    /// `ENOTCONN` without a peer (for TCP, also once reset).
    pub fn peer_name(&self) -> Result<Option<Address>> {
        let peer = {
            let st = self.st.lock();
            let closed = self.tcp() && st.tcp_closed();
            match &st.conn {
                Conn::Remote(a) => return Ok(Some(a.clone())),
                Conn::Connected(p) if !closed => p.clone(),
                _ => return Err(Errno::ENOTCONN),
            }
        };
        let addr = peer.st.lock().addr.clone();
        Ok(addr)
    }

    /// Credentials of the peer's creator (`SO_PEERCRED`): for a unix pair, the process
    /// that made it; for a client, the listener's; for an accepted socket, the client's.
    /// Inet sockets have none.
    pub fn peer_cred(&self) -> Option<Cred> {
        self.st.lock().peer_cred
    }

    /// Bytes sent and not yet read by the peer (`SIOCOUTQ`).
    pub fn unread_sent(&self) -> usize {
        self.wmem.load(Ordering::SeqCst)
    }

    /// Its TCP state number (`tcpi_state`): listening, established, close-wait (the peer
    /// finished), fin-wait-2 (this end finished), or closed.
    pub fn tcp_state(&self) -> u8 {
        const ESTABLISHED: u8 = 1;
        const FIN_WAIT2: u8 = 5;
        const CLOSE: u8 = 7;
        const CLOSE_WAIT: u8 = 8;
        const LISTEN: u8 = 10;
        let st = self.st.lock();
        match &st.conn {
            Conn::Listening { .. } => LISTEN,
            Conn::Connected(_) if st.tcp_closed() => CLOSE,
            Conn::Connected(_) if st.fin => CLOSE_WAIT,
            Conn::Connected(_) if st.shutdown & SEND_SHUTDOWN != 0 => FIN_WAIT2,
            Conn::Connected(_) => ESTABLISHED,
            _ => CLOSE,
        }
    }

    /// `listen(backlog)`: `EOPNOTSUPP` for datagram sockets, `EINVAL` if connected. A unix
    /// socket must be bound (`EINVAL`); an inet one gets an ephemeral port. Listening
    /// again changes the backlog.
    pub fn listen(&self, backlog: i32) -> Result<()> {
        if !self.kind.connection_oriented() {
            return Err(Errno::EOPNOTSUPP);
        }
        if matches!(self.st.lock().conn, Conn::Connected(_)) {
            return Err(Errno::EINVAL);
        }
        if self.family.is_inet() {
            inet::listen(self)?;
        }
        let max = (backlog as u32 as usize).min(SOMAXCONN);
        let mut st = self.st.lock();
        if st.addr.is_none() {
            return Err(Errno::EINVAL);
        }
        match &mut st.conn {
            Conn::Listening { max: m, .. } => *m = max,
            Conn::Connected(_) => return Err(Errno::EINVAL),
            _ => {
                st.conn = Conn::Listening {
                    backlog: VecDeque::new(),
                    max,
                }
            }
        }
        if self.family == Family::Unix {
            // Clients copy these when they connect.
            st.peer_cred = Some(self.ns.caller().effective());
        }
        drop(st);
        self.queue.notify_all();
        Ok(())
    }

    /// Takes a connection off the backlog, waiting for one unless `nonblock` (`EAGAIN`).
    /// `EINVAL` if not listening (or shut down for reading while waiting).
    pub fn accept(&self, w: &Arc<Waiter>, nonblock: bool) -> Result<SocketFile> {
        if !self.kind.connection_oriented() {
            return Err(Errno::EOPNOTSUPP);
        }
        let until = deadline(self.opts().rcvtimeo);
        loop {
            {
                let mut st = self.st.lock();
                let passcred = st.opts.passcred;
                if let Some(e) = st.err.take() {
                    return Err(e);
                }
                let Conn::Listening { backlog, .. } = &mut st.conn else {
                    return Err(Errno::EINVAL);
                };
                if let Some(sock) = backlog.pop_front() {
                    drop(st);
                    if self.family == Family::Unix {
                        // The accepted end inherits the listener's SO_PASSCRED.
                        sock.st.lock().opts.passcred = passcred;
                    }
                    // Room in the backlog for a blocked connect.
                    self.queue.notify_all();
                    return Ok(SocketFile { sock });
                }
                if st.shutdown & RCV_SHUTDOWN != 0 {
                    return Err(Errno::EINVAL);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            sleep(w, &[&self.queue], until, || {
                let st = self.st.lock();
                match &st.conn {
                    Conn::Listening { backlog, .. } => {
                        backlog.is_empty() && st.err.is_none() && st.shutdown & RCV_SHUTDOWN == 0
                    }
                    _ => false,
                }
            })?;
        }
    }

    /// `connect`: to a listener for connection-oriented sockets, a default destination
    /// for datagram sockets (`None` dissolves the association, as `AF_UNSPEC` does). Unix
    /// targets are sockets found by name, the others addresses. Unix streams:
    /// `ECONNREFUSED` if the target does not listen; `EAGAIN` if its backlog is full and
    /// `nonblock`, else waits; `EISCONN` if already connected. TCP: see
    /// [`inet`](super::inet).
    pub fn connect(&self, w: &Arc<Waiter>, target: Option<Target>, nonblock: bool) -> Result<()> {
        match (self.family, target) {
            (Family::Unix, target) => {
                let target = match target {
                    Some(Target::Socket(s)) => Some(s),
                    Some(Target::Addr(_)) => return Err(Errno::EINVAL),
                    None => None,
                };
                if self.opts().passcred {
                    self.autobind_unix()?;
                }
                if !self.kind.connection_oriented() {
                    return self.connect_dgram(target.as_ref());
                }
                let target = target.ok_or(Errno::EINVAL)?;
                self.connect_stream(w, &target, None, nonblock).map(drop)
            }
            (Family::Netlink, target) => netlink::connect(self, target),
            (_, target) if self.kind == SockType::Stream => {
                inet::connect_stream(self, w, target, nonblock)
            }
            (_, target) => inet::connect_dgram(self, target),
        }
    }

    fn autobind_unix(&self) -> Result<()> {
        super::unix::autobind(self)
    }

    /// Connects this stream or seqpacket socket to `target`, which must listen, and
    /// returns the server end queued on its backlog. The server end is named `server_name`
    /// (default: the listener's name). A full backlog makes a blocking caller wait; a
    /// nonblocking unix caller gets `EAGAIN`, while a TCP connection is queued anyway (a
    /// TCP client does not learn of the full queue).
    pub(super) fn connect_stream(
        &self,
        w: &Arc<Waiter>,
        target: &Arc<Socket>,
        server_name: Option<Address>,
        nonblock: bool,
    ) -> Result<Arc<Socket>> {
        if std::ptr::eq(Arc::as_ptr(target), self) {
            let st = self.st.lock();
            return Err(match st.conn {
                Conn::Listening { .. } => Errno::EINVAL,
                _ => Errno::ECONNREFUSED,
            });
        }
        let caller = self.ns.caller();
        let until = deadline(self.opts().sndtimeo);
        let tcp = self.tcp();
        loop {
            {
                let (mut me, mut other) = lock2(self, target);
                if other.dead || other.shutdown & RCV_SHUTDOWN != 0 {
                    return Err(Errno::ECONNREFUSED);
                }
                let listener_addr = other.addr.clone();
                let listener_cred = other.peer_cred;
                let listener_opts = other.opts;
                let Conn::Listening { backlog, max } = &mut other.conn else {
                    return Err(Errno::ECONNREFUSED);
                };
                if backlog.len() <= *max || (tcp && nonblock) {
                    match me.conn {
                        Conn::None => {}
                        Conn::Connected(_) | Conn::Remote(_) => return Err(Errno::EISCONN),
                        Conn::Listening { .. } => return Err(Errno::EINVAL),
                    }
                    let server = Socket::alloc(&self.ns, target.family, self.kind);
                    {
                        let mut sst = server.st.lock();
                        sst.conn = Conn::Connected(self.me.upgrade().expect("socket is alive"));
                        sst.addr = server_name.or(listener_addr);
                        if tcp {
                            // The accepted socket is a copy of the listener.
                            sst.opts = listener_opts;
                            sst.peer_rcvbuf = me.opts.rcvbuf;
                            me.peer_rcvbuf = listener_opts.rcvbuf;
                        } else {
                            sst.peer_cred = Some(caller.effective());
                            me.peer_cred = listener_cred;
                        }
                    }
                    if tcp {
                        *server.recorded.lock() = target.recorded.lock().clone();
                    }
                    backlog.push_back(server.clone());
                    me.conn = Conn::Connected(server.clone());
                    drop((me, other));
                    target.queue.notify_all();
                    self.queue.notify_all();
                    return Ok(server);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            sleep(w, &[&target.queue], until, || {
                let st = target.st.lock();
                match &st.conn {
                    Conn::Listening { backlog, max } => backlog.len() > *max && !st.dead,
                    _ => false,
                }
            })?;
        }
    }

    /// A unix datagram socket's default destination.
    fn connect_dgram(&self, target: Option<&Arc<Socket>>) -> Result<()> {
        if let Some(t) = target
            && !std::ptr::eq(Arc::as_ptr(t), self)
        {
            let tst = t.st.lock();
            if !(tst.peer().is_none() || tst.connected_to(self)) {
                return Err(Errno::EPERM);
            }
        }
        let new = match target {
            Some(t) => Conn::Connected(t.clone()),
            None => Conn::None,
        };
        let old = match std::mem::replace(&mut self.st.lock().conn, new) {
            Conn::Connected(old) => Some(old),
            _ => None,
        };
        if let Some(old) = old {
            if !target.is_some_and(|t| Arc::ptr_eq(t, &old)) {
                self.dgram_disconnected(&old);
            }
            old.queue.notify_all();
        }
        Ok(())
    }

    /// This unix datagram socket stopped talking to `old`: its queue is purged, and
    /// `old`, if it was connected back, learns of it (`ECONNRESET`), as Linux does.
    fn dgram_disconnected(&self, old: &Arc<Socket>) {
        let purged = {
            let mut st = self.st.lock();
            st.rx_bytes = 0;
            std::mem::take(&mut st.rx)
        };
        if !purged.is_empty() {
            let mut ost = old.st.lock();
            if !ost.dead && ost.connected_to(self) {
                ost.err = Some(Errno::ECONNRESET);
            }
            drop(ost);
            old.queue.notify_all();
        }
        drop(purged);
        self.queue.notify_all();
    }

    /// Sets (`Some`) or dissolves (`None`) the default destination of a UDP or netlink
    /// socket.
    pub(super) fn set_remote(&self, remote: Option<Address>) {
        self.st.lock().conn = match remote {
            Some(a) => Conn::Remote(a),
            None => Conn::None,
        };
        self.queue.notify_all();
    }

    /// `shutdown(how)`: stops receiving (`SHUT_RD`), sending (`SHUT_WR`) or both. A unix
    /// stream or seqpacket peer sees the other half; a TCP peer only learns that this end
    /// stopped sending. An unconnected inet socket is `ENOTCONN` (with the halves still
    /// shut, as on Linux); netlink sockets cannot be shut down (`EOPNOTSUPP`).
    pub fn shutdown(&self, how: i32) -> Result<()> {
        if self.family == Family::Netlink {
            return Err(Errno::EOPNOTSUPP);
        }
        if !(libc::SHUT_RD..=libc::SHUT_RDWR).contains(&how) {
            return Err(Errno::EINVAL);
        }
        let mode = (how + 1) as u8;
        let (peer, unconnected) = {
            let mut st = self.st.lock();
            st.shutdown |= mode;
            (st.peer().cloned(), matches!(st.conn, Conn::None))
        };
        self.queue.notify_all();
        if let Some(peer) = peer
            && self.kind.connection_oriented()
        {
            let mut peer_mode = 0;
            if mode & RCV_SHUTDOWN != 0 && !self.tcp() {
                peer_mode |= SEND_SHUTDOWN;
            }
            if mode & SEND_SHUTDOWN != 0 {
                peer_mode |= RCV_SHUTDOWN;
            }
            let mut pst = peer.st.lock();
            pst.shutdown |= peer_mode;
            if self.tcp() && peer_mode & RCV_SHUTDOWN != 0 {
                pst.fin = true;
            }
            drop(pst);
            peer.queue.notify_all();
        }
        if unconnected && self.family.is_inet() {
            return Err(Errno::ENOTCONN);
        }
        Ok(())
    }

    /// Waits until this socket's charge is below `limit` (a pending error or a send
    /// shutdown ends the wait).
    fn wait_sndbuf(
        &self,
        w: &Arc<Waiter>,
        nonblock: bool,
        until: Option<Instant>,
        limit: usize,
    ) -> Result<()> {
        let check = || -> Option<Result<()>> {
            let mut st = self.st.lock();
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Some(Err(Errno::EPIPE));
            }
            (self.wmem.load(Ordering::SeqCst) < limit).then_some(Ok(()))
        };
        loop {
            if let Some(r) = check() {
                return r;
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            let _reg = self.queue.register(w);
            if let Some(r) = check() {
                return r;
            }
            match w.wait(until) {
                Err(Errno::ETIMEDOUT) => return Err(Errno::EAGAIN),
                r => r?,
            }
        }
    }

    fn new_msg(
        &self,
        data: Vec<u8>,
        fds: Vec<Arc<OpenFile>>,
        creds: Option<Cred>,
        from: Option<Address>,
    ) -> Msg {
        self.wmem.fetch_add(data.len(), Ordering::SeqCst);
        Msg {
            data,
            off: 0,
            fds,
            creds,
            from,
            sender: self.me.clone(),
        }
    }

    /// Sends `data` (`send`, `sendto`, `sendmsg`, `write`). Stream sends block until all is
    /// queued (or return what was, when interrupted or nonblocking); datagram and seqpacket
    /// sends queue one message or nothing. `EPIPE` when the peer is gone or shut down (the
    /// caller raises SIGPIPE for streams); `ENOTCONN` (unix) or `EPIPE` (TCP) unconnected.
    pub fn send(&self, w: &Arc<Waiter>, data: &[u8], args: SendArgs) -> Result<usize> {
        match (self.family, self.kind) {
            (_, SockType::Stream) => self.send_stream(w, data, args),
            (Family::Unix, _) => self.send_dgram(w, data, args),
            (Family::Netlink, _) => netlink::send(self, data, args),
            _ => inet::send_dgram(self, data, args),
        }
    }

    fn send_stream(&self, w: &Arc<Waiter>, data: &[u8], mut args: SendArgs) -> Result<usize> {
        let tcp = self.tcp();
        // TCP ignores a destination; a unix stream refuses one.
        if args.to.is_some() && !tcp {
            return Err(if self.is_connected() {
                Errno::EISCONN
            } else {
                Errno::EOPNOTSUPP
            });
        }
        let (peer, opts, limit) = {
            let mut st = self.st.lock();
            let Some(peer) = st.peer().cloned() else {
                if tcp && let Some(e) = st.err.take() {
                    return Err(e);
                }
                return Err(if tcp { Errno::EPIPE } else { Errno::ENOTCONN });
            };
            if tcp && let Some(e) = st.err.take() {
                return Err(e);
            }
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            (peer, st.opts, st.send_limit())
        };
        let creds = if tcp {
            None
        } else {
            Some(args.creds.unwrap_or_else(|| self.ns.caller().real()))
        };
        let until = deadline(opts.sndtimeo);
        let chunk = (limit / 2).saturating_sub(64).clamp(1, STREAM_CHUNK);
        let mut sent = 0;
        while sent < data.len() {
            if let Err(e) = self.wait_sndbuf(w, args.nonblock, until, limit) {
                return partial(sent, e);
            }
            let size = (data.len() - sent).min(chunk);
            let from = if tcp {
                None
            } else {
                self.st.lock().addr.clone()
            };
            let fds = std::mem::take(&mut args.fds);
            let msg = self.new_msg(data[sent..sent + size].to_vec(), fds, creds, from);
            let mut pst = peer.st.lock();
            if pst.dead && tcp {
                // The peer is gone: the bytes go out, and its reset comes back.
                drop(pst);
                drop(msg);
                let mut st = self.st.lock();
                st.err = Some(Errno::EPIPE);
                st.shutdown = SHUTDOWN_MASK;
                st.reset = true;
                drop(st);
                self.queue.notify_all();
                return Ok(data.len());
            }
            if pst.dead || (!tcp && pst.shutdown & RCV_SHUTDOWN != 0) {
                drop(pst);
                drop(msg);
                return partial(sent, Errno::EPIPE);
            }
            pst.push(msg, true);
            drop(pst);
            peer.queue.notify_all();
            sent += size;
        }
        Ok(sent)
    }

    /// The destination of a unix datagram: `to`, or the connected peer.
    fn dgram_target(&self, to: &Option<Target>) -> Result<Arc<Socket>> {
        match to {
            Some(Target::Socket(t)) => Ok(t.clone()),
            Some(Target::Addr(_)) => Err(Errno::EINVAL),
            None => self.st.lock().peer().cloned().ok_or(Errno::ENOTCONN),
        }
    }

    fn send_dgram(&self, w: &Arc<Waiter>, data: &[u8], mut args: SendArgs) -> Result<usize> {
        let seqpacket = self.kind == SockType::Seqpacket;
        if seqpacket {
            if !self.is_connected() {
                return Err(Errno::ENOTCONN);
            }
            args.to = None;
        }
        let opts = self.opts();
        if opts.passcred {
            self.autobind_unix()?;
        }
        if data.len() + 32 > opts.sndbuf {
            return Err(Errno::EMSGSIZE);
        }
        self.dgram_target(&args.to)?;
        let until = deadline(opts.sndtimeo);
        self.wait_sndbuf(w, args.nonblock, until, opts.sndbuf)?;
        let creds = args.creds.unwrap_or_else(|| self.ns.caller().real());
        let from = self.st.lock().addr.clone();
        let fds = std::mem::take(&mut args.fds);
        let mut msg = Some(self.new_msg(data.to_vec(), fds, Some(creds), from));
        enum Verdict {
            Sent,
            Fail(Errno),
            Dead,
            Full,
        }
        loop {
            let other = self.dgram_target(&args.to)?;
            let to_self = std::ptr::eq(Arc::as_ptr(&other), self);
            let verdict = {
                let mut ost = other.st.lock();
                if !(to_self || ost.peer().is_none() || ost.connected_to(self)) {
                    Verdict::Fail(Errno::EPERM)
                } else if ost.dead {
                    Verdict::Dead
                } else if ost.shutdown & RCV_SHUTDOWN != 0 {
                    Verdict::Fail(Errno::EPIPE)
                } else if !to_self && !ost.connected_to(self) && ost.dgram_queue_full() {
                    if args.nonblock {
                        Verdict::Fail(Errno::EAGAIN)
                    } else {
                        ost.room_waiters.push(self.me.clone());
                        Verdict::Full
                    }
                } else {
                    ost.push(msg.take().expect("message not sent yet"), false);
                    Verdict::Sent
                }
            };
            match verdict {
                Verdict::Sent => {
                    other.queue.notify_all();
                    return Ok(data.len());
                }
                Verdict::Fail(e) => return Err(e),
                Verdict::Dead if seqpacket => return Err(Errno::EPIPE),
                Verdict::Dead => {
                    let was_peer = {
                        let mut st = self.st.lock();
                        st.connected_to(&other)
                            .then(|| std::mem::take(&mut st.conn))
                    };
                    if let Some(conn) = was_peer {
                        drop(conn);
                        self.dgram_disconnected(&other);
                    }
                    return Err(Errno::ECONNREFUSED);
                }
                Verdict::Full => sleep(w, &[&other.queue, &self.queue], until, || {
                    let ost = other.st.lock();
                    !ost.dead && ost.shutdown & RCV_SHUTDOWN == 0 && ost.dgram_queue_full()
                })?,
            }
        }
    }

    /// Queues a datagram a family delivers (UDP, netlink replies). With `bounded`, it is
    /// dropped when the queued datagrams already fill `SO_RCVBUF` (one always fits), as
    /// UDP drops them; returns whether it was queued.
    pub(super) fn deliver(&self, msg: Msg, bounded: bool) -> bool {
        let mut st = self.st.lock();
        if st.dead || (bounded && !st.rx.is_empty() && st.rmem() + msg.len() > st.opts.rcvbuf) {
            drop(st);
            drop(msg);
            return false;
        }
        st.push(msg, false);
        drop(st);
        self.queue.notify_all();
        true
    }

    /// Receives into `sink` (`recv`, `recvfrom`, `recvmsg`, `read`). Stream sockets:
    /// `EINVAL` (unix) or `ENOTCONN` (TCP) unless connected; 0 at end of stream.
    /// Seqpacket: `ENOTCONN` unless connected. Blocks for data unless `nonblock`
    /// (`EAGAIN`); a pending error (`ECONNRESET`, a UDP `ECONNREFUSED`) is reported first.
    pub fn recv(&self, w: &Arc<Waiter>, sink: &mut dyn Sink, f: RecvFlags) -> Result<Received> {
        match self.kind {
            SockType::Stream => self.recv_stream(w, sink, f),
            SockType::Dgram | SockType::Seqpacket | SockType::Raw => self.recv_dgram(w, sink, f),
        }
    }

    /// Whether a stream read must wait for the message at queue index `idx`.
    fn stream_empty_at(&self, idx: usize) -> bool {
        let st = self.st.lock();
        st.rx.len() <= idx && st.err.is_none() && st.shutdown & RCV_SHUTDOWN == 0
    }

    fn recv_stream(&self, w: &Arc<Waiter>, sink: &mut dyn Sink, f: RecvFlags) -> Result<Received> {
        let opts = {
            let st = self.st.lock();
            if !matches!(st.conn, Conn::Connected(_)) {
                return Err(if self.tcp() {
                    Errno::ENOTCONN
                } else {
                    Errno::EINVAL
                });
            }
            st.opts
        };
        let len = sink.room();
        let target = if f.waitall {
            len
        } else {
            opts.rcvlowat.min(len)
        }
        .max(1);
        let until = deadline(opts.rcvtimeo);
        let mut out = Received::default();
        let mut copied = 0;
        // With SO_PASSCRED, the writer of the first message read: others are not glued on.
        let mut writer: Option<Option<Cred>> = None;
        let mut addr_done = false;
        let mut peek_at = 0;
        let mut garbage = Vec::new();
        let mut error = None;
        loop {
            let mut st = self.st.lock();
            let idx = if f.peek { peek_at } else { 0 };
            if idx >= st.rx.len() {
                if copied >= target || st.fin {
                    break;
                }
                if let Some(e) = st.err.take() {
                    error = Some(e);
                    break;
                }
                if st.shutdown & RCV_SHUTDOWN != 0 {
                    break;
                }
                if f.nonblock {
                    error = Some(Errno::EAGAIN);
                    break;
                }
                drop(st);
                if let Err(e) = sleep(w, &[&self.queue], until, || self.stream_empty_at(idx)) {
                    error = Some(e);
                    break;
                }
                continue;
            }
            let passcred = st.opts.passcred;
            let msg = &mut st.rx[idx];
            if passcred {
                match writer {
                    Some(c) if c != msg.creds => break,
                    Some(_) => {}
                    None => writer = Some(msg.creds),
                }
            }
            if !addr_done {
                out.from = msg.from.clone();
                addr_done = true;
            }
            let chunk = msg.len().min(len - copied);
            if let Err(e) = sink.put(&msg.data[msg.off..msg.off + chunk]) {
                if copied == 0 {
                    error = Some(e);
                }
                break;
            }
            copied += chunk;
            if f.peek {
                if !msg.fds.is_empty() {
                    out.fds = msg.fds.clone();
                    break;
                }
                peek_at += 1;
                if peek_at >= st.rx.len() {
                    break;
                }
            } else {
                msg.consume(chunk);
                let had_fds = !msg.fds.is_empty();
                if had_fds {
                    out.fds = std::mem::take(&mut msg.fds);
                }
                let rest = msg.len();
                st.rx_bytes -= chunk;
                if rest > 0 {
                    break;
                }
                garbage.extend(st.rx.pop_front());
                if had_fds {
                    break;
                }
            }
            if copied == len {
                break;
            }
        }
        drop(garbage);
        if let Some(e) = error
            && copied == 0
        {
            return Err(e);
        }
        out.len = copied;
        if opts.passcred && self.family == Family::Unix {
            out.creds = Some(writer.flatten().unwrap_or(Cred::NOBODY));
        }
        Ok(out)
    }

    fn recv_dgram(&self, w: &Arc<Waiter>, sink: &mut dyn Sink, f: RecvFlags) -> Result<Received> {
        if self.kind == SockType::Seqpacket && !self.is_connected() {
            return Err(Errno::ENOTCONN);
        }
        let unix = self.family == Family::Unix;
        let until = deadline(self.opts().rcvtimeo);
        let (mut msg, passcred, waiters) = loop {
            {
                let mut st = self.st.lock();
                if let Some(e) = st.err.take() {
                    return Err(e);
                }
                let passcred = st.opts.passcred && unix;
                if f.peek
                    && let Some(m) = st.rx.front()
                {
                    let n = m.len().min(sink.room());
                    let put = sink.put(&m.data[m.off..m.off + n]);
                    let out = Received {
                        len: if f.trunc { m.len() } else { n },
                        truncated: m.len() > n,
                        from: m.from.clone(),
                        fds: m.fds.clone(),
                        creds: passcred.then(|| m.creds.unwrap_or(Cred::NOBODY)),
                    };
                    drop(st);
                    put?;
                    return Ok(out);
                }
                if let Some(m) = st.rx.pop_front() {
                    st.rx_bytes -= m.len();
                    break (m, passcred, std::mem::take(&mut st.room_waiters));
                }
                // A blocking UDP read waits out a read shutdown, as Linux's does not look.
                if st.shutdown & RCV_SHUTDOWN != 0 && (unix || f.nonblock) {
                    if unix {
                        return Ok(Received::default());
                    }
                    return Err(Errno::EAGAIN);
                }
            }
            if f.nonblock {
                return Err(Errno::EAGAIN);
            }
            sleep(w, &[&self.queue], until, || {
                let st = self.st.lock();
                st.rx.is_empty() && st.err.is_none() && (st.shutdown & RCV_SHUTDOWN == 0 || !unix)
            })?;
        };
        wake_all(waiters);
        let full = msg.len();
        let n = full.min(sink.room());
        // The message is off the queue: a fault loses it, as on Linux.
        sink.put(&msg.data[msg.off..msg.off + n])?;
        Ok(Received {
            len: if f.trunc { full } else { n },
            truncated: full > n,
            from: msg.from.take(),
            fds: std::mem::take(&mut msg.fds),
            creds: passcred.then(|| msg.creds.unwrap_or(Cred::NOBODY)),
        })
    }

    /// Readiness, as Linux's `unix_poll`, `unix_dgram_poll`, `tcp_poll` and
    /// `datagram_poll` compute it.
    pub fn poll(&self, events: PollEvents) -> PollEvents {
        let st = self.st.lock();
        let mut mask = 0;
        if st.err.is_some() {
            mask |= libc::POLLERR;
        }
        if st.shutdown == SHUTDOWN_MASK {
            mask |= libc::POLLHUP;
        }
        if st.shutdown & RCV_SHUTDOWN != 0 {
            mask |= libc::POLLRDHUP | libc::POLLIN | libc::POLLRDNORM;
        }
        let (readable, listening) = match &st.conn {
            Conn::Listening { backlog, .. } => (!backlog.is_empty(), true),
            _ => (!st.rx.is_empty(), false),
        };
        if readable {
            mask |= libc::POLLIN | libc::POLLRDNORM;
        }
        if self.kind.connection_oriented() && matches!(st.conn, Conn::None) {
            mask |= libc::POLLHUP;
        }
        let limit = if self.kind == SockType::Stream {
            st.send_limit()
        } else {
            st.opts.sndbuf
        };
        let mut writable = !listening && self.wmem.load(Ordering::SeqCst) * 4 <= limit;
        let peer = st.peer().cloned();
        drop(st);
        let wants_out = events & (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND) != 0;
        if writable
            && wants_out
            && self.kind != SockType::Stream
            && let Some(peer) = peer
            && !std::ptr::eq(Arc::as_ptr(&peer), self)
        {
            let mut pst = peer.st.lock();
            if !pst.dead && !pst.connected_to(self) && pst.dgram_queue_full() {
                // Be woken when the peer's queue drains.
                if !pst.room_waiters.iter().any(|s| s.ptr_eq(&self.me)) {
                    pst.room_waiters.push(self.me.clone());
                }
                writable = false;
            }
        }
        if writable {
            mask |= libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND;
        }
        mask & (events | libc::POLLERR | libc::POLLHUP)
    }

    /// Bytes a read would find (`FIONREAD`): all queued bytes for streams and seqpacket
    /// sockets, the next datagram's length for datagram sockets; `EINVAL` for a listener.
    pub fn readable_bytes(&self) -> Result<usize> {
        let st = self.st.lock();
        match (&st.conn, self.kind) {
            (Conn::Listening { .. }, _) => Err(Errno::EINVAL),
            (_, SockType::Dgram | SockType::Raw) => Ok(st.rx.front().map_or(0, Msg::len)),
            _ => Ok(st.rx_bytes),
        }
    }

    /// The socket lost its last file (or, never accepted, its listener): its name is
    /// freed, its queue and pending connections dropped, and its peer told. A unix peer is
    /// shut down; a TCP peer reads end of file. Either is reset (`ECONNRESET`) if data
    /// was left unread here, the connection was never accepted, or (TCP) `SO_LINGER` was
    /// on with a zero timeout.
    fn release(&self, never_accepted: bool) {
        let (conn, binding, purged, waiters, linger) = {
            let mut st = self.st.lock();
            st.dead = true;
            st.shutdown = SHUTDOWN_MASK;
            st.rx_bytes = 0;
            (
                std::mem::take(&mut st.conn),
                st.binding.take(),
                std::mem::take(&mut st.rx),
                std::mem::take(&mut st.room_waiters),
                st.opts.linger,
            )
        };
        drop(binding);
        self.queue.notify_all();
        match conn {
            Conn::Connected(peer) => {
                if self.kind.connection_oriented() {
                    let reset =
                        !purged.is_empty() || never_accepted || (self.tcp() && linger == (true, 0));
                    if reset {
                        peer.reset();
                    } else {
                        let mut pst = peer.st.lock();
                        if self.tcp() {
                            pst.shutdown |= RCV_SHUTDOWN;
                            pst.fin = true;
                        } else {
                            pst.shutdown = SHUTDOWN_MASK;
                        }
                    }
                }
                peer.queue.notify_all();
            }
            Conn::Listening { backlog, .. } => {
                for sock in backlog {
                    sock.release(true);
                }
            }
            Conn::Remote(_) | Conn::None => {}
        }
        wake_all(waiters);
        drop(purged);
    }
}

impl Socket {
    /// The peer reset the connection: both halves shut, `ECONNRESET` pending (`EPIPE`
    /// after the peer's FIN, in close-wait, as Linux's `tcp_reset`).
    fn reset(&self) {
        let mut st = self.st.lock();
        st.shutdown = SHUTDOWN_MASK;
        st.err = Some(if st.fin {
            Errno::EPIPE
        } else {
            Errno::ECONNRESET
        });
        st.reset = true;
        drop(st);
        self.queue.notify_all();
    }

    /// TCP `connect(AF_UNSPEC)`: drops the connection (resetting the peer) or stops
    /// listening (resetting the connections not accepted), and leaves the socket
    /// unconnected, ready to connect or listen again.
    pub(super) fn abort(&self) {
        let (conn, purged) = {
            let mut st = self.st.lock();
            st.shutdown = 0;
            st.err = None;
            st.fin = false;
            st.reset = false;
            st.connecting = false;
            st.rx_bytes = 0;
            (std::mem::take(&mut st.conn), std::mem::take(&mut st.rx))
        };
        match conn {
            Conn::Connected(peer) => peer.reset(),
            Conn::Listening { backlog, .. } => {
                for sock in backlog {
                    sock.release(true);
                }
            }
            Conn::Remote(_) | Conn::None => {}
        }
        drop(purged);
        self.queue.notify_all();
    }
}

/// A socket as an open file; dropping it releases the socket.
pub struct SocketFile {
    sock: Arc<Socket>,
}

impl SocketFile {
    /// A new unconnected socket of `family` and type `kind` in namespace `ns`.
    pub fn new(ns: &Arc<Namespace>, family: Family, kind: SockType) -> SocketFile {
        SocketFile {
            sock: Socket::alloc(ns, family, kind),
        }
    }

    /// Two unix sockets connected to each other (`socketpair`); each reports the caller
    /// as its peer's creator.
    pub fn pair(ns: &Arc<Namespace>, kind: SockType) -> (SocketFile, SocketFile) {
        let (a, b) = (
            Socket::alloc(ns, Family::Unix, kind),
            Socket::alloc(ns, Family::Unix, kind),
        );
        let cred = Some(ns.caller().effective());
        {
            let (mut sa, mut sb) = lock2(&a, &b);
            sa.conn = Conn::Connected(b.clone());
            sb.conn = Conn::Connected(a.clone());
            sa.peer_cred = cred;
            sb.peer_cred = cred;
        }
        (SocketFile { sock: a }, SocketFile { sock: b })
    }

    /// The socket.
    pub fn socket(&self) -> &Arc<Socket> {
        &self.sock
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        self.sock.release(false);
    }
}

impl FileOps for SocketFile {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        let flags = RecvFlags {
            nonblock,
            ..RecvFlags::default()
        };
        Ok(self.sock.recv(w, &mut SliceSink::new(buf), flags)?.len)
    }

    fn write(&self, w: &Arc<Waiter>, buf: &[u8], nonblock: bool) -> Result<usize> {
        let args = SendArgs {
            nonblock,
            ..SendArgs::default()
        };
        self.sock.send(w, buf, args)
    }

    fn stat(&self) -> Result<Stat> {
        Ok(anon_stat(SOCKFS_DEV, self.sock.ino, libc::S_IFSOCK | 0o777))
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        self.sock.poll(events)
    }

    fn readable_bytes(&self) -> Result<usize> {
        self.sock.readable_bytes()
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.sock.queue)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn anon_name(&self) -> Option<String> {
        Some(format!("socket:[{}]", self.sock.ino))
    }
}
#[cfg(test)]
mod tests {
    use super::super::unix::{self, Key, UnixAddr};
    use super::super::{Caller, DEFAULT_BUF, Target};
    use super::*;
    use std::time::Duration;

    fn caller() -> Caller {
        Caller {
            pid: 42,
            uid: 1000,
            gid: 100,
            euid: 1000,
            egid: 100,
        }
    }

    fn ns() -> Arc<Namespace> {
        Namespace::new(caller)
    }

    fn send(s: &SocketFile, data: &[u8]) -> Result<usize> {
        s.write(&Waiter::new(), data, true)
    }

    fn recv(s: &SocketFile, len: usize, f: RecvFlags) -> Result<(Vec<u8>, Received)> {
        let mut buf = vec![0u8; len];
        let got = s
            .sock
            .recv(&Waiter::new(), &mut SliceSink::new(&mut buf), f)?;
        buf.truncate(got.len.min(len));
        Ok((buf, got))
    }

    fn nb() -> RecvFlags {
        RecvFlags {
            nonblock: true,
            ..RecvFlags::default()
        }
    }

    fn pipe_file() -> (Arc<OpenFile>, Arc<OpenFile>) {
        let (r, w) = crate::pipe::pipe();
        (
            OpenFile::new(Box::new(r), libc::O_RDONLY, None),
            OpenFile::new(Box::new(w), libc::O_WRONLY, None),
        )
    }

    /// A listener bound to abstract `name`, and a client connected to it.
    fn connected(ns: &Arc<Namespace>, kind: SockType, name: &[u8]) -> (SocketFile, SocketFile) {
        let l = SocketFile::new(ns, Family::Unix, kind);
        unix::bind_abstract(&l.sock, name.to_vec()).unwrap();
        l.sock.listen(4).unwrap();
        let c = SocketFile::new(ns, Family::Unix, kind);
        let target = ns
            .unix()
            .lookup(&Key::Abstract(name.to_vec()), kind)
            .unwrap();
        c.sock
            .connect(&Waiter::new(), Some(Target::Socket(target.clone())), true)
            .unwrap();
        (l, c)
    }

    #[test]
    fn stream_pair_io_and_eof_after_close() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Stream);
        assert_eq!(send(&a, b"hello ").unwrap(), 6);
        assert_eq!(send(&a, b"world").unwrap(), 5);
        // Stream reads run across writes.
        assert_eq!(recv(&b, 64, nb()).unwrap().0, b"hello world");
        assert_eq!(recv(&b, 64, nb()).err(), Some(Errno::EAGAIN));
        send(&a, b"last").unwrap();
        drop(a);
        assert_eq!(recv(&b, 2, nb()).unwrap().0, b"la");
        assert_eq!(recv(&b, 64, nb()).unwrap().0, b"st");
        assert_eq!(recv(&b, 64, nb()).unwrap().1.len, 0);
        let hup = b.poll(libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP);
        assert_eq!(
            hup & (libc::POLLHUP | libc::POLLIN | libc::POLLRDHUP),
            libc::POLLHUP | libc::POLLIN | libc::POLLRDHUP
        );
    }

    #[test]
    fn epipe_after_peer_close_or_shutdown() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Stream);
        a.sock.shutdown(libc::SHUT_WR).unwrap();
        assert_eq!(send(&a, b"x"), Err(Errno::EPIPE));
        // The peer reads end of file, and can still write back.
        assert_eq!(recv(&b, 8, nb()).unwrap().1.len, 0);
        send(&b, b"back").unwrap();
        assert_eq!(recv(&a, 8, nb()).unwrap().0, b"back");
        drop(a);
        assert_eq!(send(&b, b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn unread_data_at_close_resets_the_peer() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Stream);
        send(&b, b"never read").unwrap();
        drop(a);
        assert_eq!(b.poll(libc::POLLIN) & libc::POLLERR, libc::POLLERR);
        assert_eq!(recv(&b, 8, nb()).err(), Some(Errno::ECONNRESET));
        assert_eq!(recv(&b, 8, nb()).unwrap().1.len, 0);
    }

    #[test]
    fn datagrams_keep_boundaries_and_truncate() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Dgram);
        send(&a, b"first message").unwrap();
        send(&a, b"").unwrap();
        send(&a, b"third").unwrap();
        assert_eq!(b.readable_bytes().unwrap(), 13);
        let (data, got) = recv(&b, 5, nb()).unwrap();
        assert_eq!((data.as_slice(), got.truncated), (&b"first"[..], true));
        assert_eq!(recv(&b, 64, nb()).unwrap().1.len, 0);
        let trunc = RecvFlags {
            trunc: true,
            ..nb()
        };
        let (data, got) = recv(&b, 2, trunc).unwrap();
        assert_eq!(
            (data.as_slice(), got.len, got.truncated),
            (&b"th"[..], 5, true)
        );
        assert_eq!(recv(&b, 64, nb()).err(), Some(Errno::EAGAIN));
        // A closed datagram peer is refused once, then the socket is unconnected.
        drop(a);
        assert_eq!(send(&b, b"x"), Err(Errno::ECONNREFUSED));
        assert_eq!(send(&b, b"x"), Err(Errno::ENOTCONN));
    }

    #[test]
    fn peek_leaves_data_queued() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Stream);
        send(&a, b"abc").unwrap();
        send(&a, b"def").unwrap();
        let peek = RecvFlags { peek: true, ..nb() };
        assert_eq!(recv(&b, 4, peek).unwrap().0, b"abcd");
        assert_eq!(recv(&b, 64, nb()).unwrap().0, b"abcdef");
        let (c, d) = SocketFile::pair(&ns, SockType::Dgram);
        send(&c, b"one").unwrap();
        send(&c, b"two").unwrap();
        assert_eq!(recv(&d, 64, peek).unwrap().0, b"one");
        assert_eq!(recv(&d, 64, nb()).unwrap().0, b"one");
        assert_eq!(recv(&d, 64, nb()).unwrap().0, b"two");
    }

    #[test]
    fn passed_files_stay_alive_and_end_a_stream_read() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Stream);
        let (r, w) = pipe_file();
        send(&a, b"before ").unwrap();
        let args = SendArgs {
            fds: vec![r],
            nonblock: true,
            ..SendArgs::default()
        };
        assert_eq!(a.sock.send(&Waiter::new(), b"with", args).unwrap(), 4);
        send(&a, b" after").unwrap();
        // The read glues the plain bytes to the message carrying the file, then stops.
        let (data, got) = recv(&b, 64, nb()).unwrap();
        assert_eq!(data, b"before with");
        assert_eq!(got.fds.len(), 1);
        assert_eq!(recv(&b, 64, nb()).unwrap().0, b" after");
        // The only reference to the read end was the message: it still works.
        let passed = got.fds.into_iter().next().unwrap();
        w.write(&Waiter::new(), b"via pipe").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(passed.read(&Waiter::new(), &mut buf).unwrap(), 8);
        assert_eq!(&buf[..8], b"via pipe");
    }

    #[test]
    fn files_in_unread_messages_are_dropped_with_the_socket() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Dgram);
        let (r, w) = pipe_file();
        let args = SendArgs {
            fds: vec![r.clone()],
            ..SendArgs::default()
        };
        a.sock.send(&Waiter::new(), b"x", args).unwrap();
        assert_eq!(Arc::strong_count(&r), 2);
        drop(b);
        assert_eq!(Arc::strong_count(&r), 1);
        drop(r);
        // No reader is left: the pipe reports it.
        assert_eq!(w.write(&Waiter::new(), b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn listener_accepts_through_the_namespace() {
        let ns = ns();
        let (l, c) = connected(&ns, SockType::Stream, b"srv");
        assert_eq!(l.poll(libc::POLLIN | libc::POLLOUT), libc::POLLIN);
        // The client may write before the server accepts.
        send(&c, b"early").unwrap();
        let s = l.sock.accept(&Waiter::new(), true).unwrap();
        assert_eq!(
            l.sock.accept(&Waiter::new(), true).err(),
            Some(Errno::EAGAIN)
        );
        assert_eq!(recv(&s, 64, nb()).unwrap().0, b"early");
        send(&s, b"reply").unwrap();
        assert_eq!(recv(&c, 64, nb()).unwrap().0, b"reply");
        // Names: the server end shares the listener's, the client has none.
        assert_eq!(
            s.sock.name(),
            Some(Address::Unix(UnixAddr::Abstract(b"srv".to_vec())))
        );
        assert_eq!(
            c.sock.peer_name().unwrap(),
            Some(Address::Unix(UnixAddr::Abstract(b"srv".to_vec())))
        );
        assert_eq!(s.sock.peer_name().unwrap(), None);
        assert_eq!(c.sock.name(), None);
        assert_eq!(c.sock.peer_cred(), Some(caller().effective()));
        assert_eq!(s.sock.peer_cred(), Some(caller().effective()));
        // Connected already; and a second bind of the name is refused.
        let target = ns
            .unix()
            .lookup(&Key::Abstract(b"srv".to_vec()), SockType::Stream)
            .unwrap();
        assert_eq!(
            c.sock
                .connect(&Waiter::new(), Some(Target::Socket(target.clone())), true),
            Err(Errno::EISCONN)
        );
        let other = SocketFile::new(&ns, Family::Unix, SockType::Stream);
        assert_eq!(
            unix::bind_abstract(&other.sock, b"srv".to_vec()),
            Err(Errno::EADDRINUSE)
        );
        // Closing the listener frees the name.
        drop(l);
        drop(target);
        let key = Key::Abstract(b"srv".to_vec());
        assert_eq!(
            ns.unix().lookup(&key, SockType::Stream).err(),
            Some(Errno::ECONNREFUSED)
        );
        unix::bind_abstract(&other.sock, b"srv".to_vec()).unwrap();
    }

    #[test]
    fn connection_errors() {
        let ns = ns();
        let key = Key::Abstract(b"nobody".to_vec());
        assert_eq!(
            ns.unix().lookup(&key, SockType::Stream).err(),
            Some(Errno::ECONNREFUSED)
        );
        // Bound but not listening: refused; wrong type: EPROTOTYPE.
        let s = SocketFile::new(&ns, Family::Unix, SockType::Stream);
        unix::bind_abstract(&s.sock, b"nobody".to_vec()).unwrap();
        let c = SocketFile::new(&ns, Family::Unix, SockType::Stream);
        let target = ns.unix().lookup(&key, SockType::Stream).unwrap();
        assert_eq!(
            c.sock
                .connect(&Waiter::new(), Some(Target::Socket(target.clone())), true),
            Err(Errno::ECONNREFUSED)
        );
        assert_eq!(
            ns.unix().lookup(&key, SockType::Dgram).err(),
            Some(Errno::EPROTOTYPE)
        );
        // listen needs a name; datagram sockets cannot listen.
        assert_eq!(c.sock.listen(1), Err(Errno::EINVAL));
        let d = SocketFile::new(&ns, Family::Unix, SockType::Dgram);
        assert_eq!(d.sock.listen(1), Err(Errno::EOPNOTSUPP));
        // Unconnected streams: no reads or writes.
        assert_eq!(send(&c, b"x"), Err(Errno::ENOTCONN));
        assert_eq!(recv(&c, 1, nb()).err(), Some(Errno::EINVAL));
        assert_eq!(
            c.poll(libc::POLLIN | libc::POLLOUT),
            libc::POLLOUT | libc::POLLHUP
        );
    }

    #[test]
    fn full_backlog_and_closed_listener() {
        let ns = ns();
        let l = SocketFile::new(&ns, Family::Unix, SockType::Stream);
        unix::bind_abstract(&l.sock, b"tiny".to_vec()).unwrap();
        l.sock.listen(0).unwrap();
        let target = ns
            .unix()
            .lookup(&Key::Abstract(b"tiny".to_vec()), SockType::Stream)
            .unwrap();
        // Backlog 0 still holds one connection, as on Linux.
        let c1 = SocketFile::new(&ns, Family::Unix, SockType::Stream);
        c1.sock
            .connect(&Waiter::new(), Some(Target::Socket(target.clone())), true)
            .unwrap();
        let c2 = SocketFile::new(&ns, Family::Unix, SockType::Stream);
        assert_eq!(
            c2.sock
                .connect(&Waiter::new(), Some(Target::Socket(target.clone())), true),
            Err(Errno::EAGAIN)
        );
        // The listener goes away before accepting: the client is reset.
        drop(target);
        drop(l);
        assert_eq!(recv(&c1, 8, nb()).err(), Some(Errno::ECONNRESET));
        assert_eq!(send(&c1, b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn nonblocking_stream_send_fills_the_buffer() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Stream);
        let chunk = vec![1u8; 100_000];
        let mut total = 0;
        loop {
            match send(&a, &chunk) {
                Ok(n) => total += n,
                Err(e) => {
                    assert_eq!(e, Errno::EAGAIN);
                    break;
                }
            }
        }
        assert!(total >= DEFAULT_BUF, "queued {total}");
        assert_eq!(a.poll(libc::POLLOUT), 0);
        let mut got = 0;
        while let Ok((data, _)) = recv(&b, 65536, nb()) {
            got += data.len();
        }
        assert_eq!(got, total);
        assert_eq!(a.poll(libc::POLLOUT), libc::POLLOUT);
    }

    #[test]
    fn unconnected_datagram_queue_is_bounded() {
        let ns = ns();
        let server = SocketFile::new(&ns, Family::Unix, SockType::Dgram);
        unix::bind_abstract(&server.sock, b"dg".to_vec()).unwrap();
        let client = SocketFile::new(&ns, Family::Unix, SockType::Dgram);
        unix::bind_abstract(&client.sock, b"dgc".to_vec()).unwrap();
        let to = ns
            .unix()
            .lookup(&Key::Abstract(b"dg".to_vec()), SockType::Dgram)
            .unwrap();
        let args = || SendArgs {
            to: Some(Target::Socket(to.clone())),
            nonblock: true,
            ..SendArgs::default()
        };
        for _ in 0..=MAX_DGRAM_QLEN {
            client.sock.send(&Waiter::new(), b"m", args()).unwrap();
        }
        assert_eq!(
            client.sock.send(&Waiter::new(), b"m", args()),
            Err(Errno::EAGAIN)
        );
        let (_, got) = recv(&server, 8, nb()).unwrap();
        assert_eq!(
            got.from,
            Some(Address::Unix(UnixAddr::Abstract(b"dgc".to_vec())))
        );
        client.sock.send(&Waiter::new(), b"m", args()).unwrap();
        // A connected socket not connected back may not send.
        let third = SocketFile::new(&ns, Family::Unix, SockType::Dgram);
        third
            .sock
            .connect(&Waiter::new(), Some(Target::Socket(to.clone())), true)
            .unwrap();
        let back = ns
            .unix()
            .lookup(&Key::Abstract(b"dgc".to_vec()), SockType::Dgram)
            .unwrap();
        server
            .sock
            .connect(&Waiter::new(), Some(Target::Socket(back.clone())), true)
            .unwrap();
        assert_eq!(send(&third, b"x"), Err(Errno::EPERM));
    }

    #[test]
    fn credentials_with_passcred() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Dgram);
        b.sock.set_opts(|o| o.passcred = true);
        send(&a, b"x").unwrap();
        let given = Cred {
            pid: 42,
            uid: 0,
            gid: 0,
        };
        let args = SendArgs {
            creds: Some(given),
            ..SendArgs::default()
        };
        a.sock.send(&Waiter::new(), b"y", args).unwrap();
        assert_eq!(recv(&b, 8, nb()).unwrap().1.creds, Some(caller().real()));
        assert_eq!(recv(&b, 8, nb()).unwrap().1.creds, Some(given));
    }

    #[test]
    fn blocking_read_wakes_on_write_and_interrupt_ends_it() {
        let ns = ns();
        let (a, b) = SocketFile::pair(&ns, SockType::Stream);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            a.write(&Waiter::new(), b"hi", false).unwrap();
            a
        });
        let w = Waiter::new();
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&w, &mut buf, false).unwrap(), 2);
        let _a = t.join().unwrap();
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.interrupt();
        });
        assert_eq!(b.read(&w, &mut buf, false), Err(Errno::EINTR));
        t.join().unwrap();
    }

    #[test]
    fn receive_timeout_is_eagain() {
        let ns = ns();
        let (_a, b) = SocketFile::pair(&ns, SockType::Seqpacket);
        b.sock
            .set_opts(|o| o.rcvtimeo = Some(Duration::from_millis(10)));
        let start = Instant::now();
        assert_eq!(recv(&b, 8, RecvFlags::default()).err(), Some(Errno::EAGAIN));
        assert!(start.elapsed() >= Duration::from_millis(10));
    }

    #[test]
    fn blocked_accept_wakes_on_connect() {
        let ns = ns();
        let l = SocketFile::new(&ns, Family::Unix, SockType::Seqpacket);
        unix::bind_abstract(&l.sock, b"wake".to_vec()).unwrap();
        l.sock.listen(8).unwrap();
        let ns2 = ns.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let c = SocketFile::new(&ns2, Family::Unix, SockType::Seqpacket);
            let target = ns2
                .unix()
                .lookup(&Key::Abstract(b"wake".to_vec()), SockType::Seqpacket)
                .unwrap();
            c.sock
                .connect(&Waiter::new(), Some(Target::Socket(target.clone())), false)
                .unwrap();
            c.write(&Waiter::new(), b"packet one", false).unwrap();
            c
        });
        let s = l.sock.accept(&Waiter::new(), false).unwrap();
        let c = t.join().unwrap();
        let (data, got) = recv(&s, 6, RecvFlags::default()).unwrap();
        assert_eq!((data.as_slice(), got.truncated), (&b"packet"[..], true));
        // Seqpacket end of file when the peer goes.
        drop(c);
        assert_eq!(recv(&s, 6, nb()).unwrap().1.len, 0);
    }

    #[test]
    fn autobind_names_are_abstract_and_distinct() {
        let ns = ns();
        let a = SocketFile::new(&ns, Family::Unix, SockType::Dgram);
        let b = SocketFile::new(&ns, Family::Unix, SockType::Dgram);
        unix::autobind(&a.sock).unwrap();
        unix::autobind(&b.sock).unwrap();
        let (
            Some(Address::Unix(UnixAddr::Abstract(x))),
            Some(Address::Unix(UnixAddr::Abstract(y))),
        ) = (a.sock.name(), b.sock.name())
        else {
            panic!("autobind gives abstract names");
        };
        assert_eq!((x.len(), y.len()), (5, 5));
        assert_ne!(x, y);
        assert_eq!(
            unix::bind_abstract(&a.sock, b"again".to_vec()),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            UnixAddr::Abstract(x).sockaddr().len(),
            8,
            "family, NUL and five hex digits"
        );
    }
}
