//! Unix-domain sockets (`AF_UNIX`): stream, datagram and seqpacket sockets with Linux's
//! semantics (unix(7)), as sentry objects.
//!
//! - A [`Socket`] is one endpoint. Its receive queue holds messages: bytes with the
//!   sender's address, credentials and the files passed with them (`SCM_RIGHTS`). A send
//!   appends to the receiver's queue and charges the sender (its `wmem`) until the bytes
//!   are read, like Linux's `sk_wmem_alloc`: a sender blocks while its charge reaches its
//!   `SO_SNDBUF`, and polls writable while the charge is at most a quarter of it.
//! - Stream reads run across messages, stopping only after a message that carried files
//!   (and, with `SO_PASSCRED`, where the writer changes). Datagram and seqpacket reads take
//!   one message each, truncating it to the buffer. A datagram socket queues at most
//!   [`MAX_DGRAM_QLEN`] + 1 messages from senders it is not connected back to.
//! - Connection-oriented sockets: `connect` to a listener creates the server end at once
//!   (the client is connected and may write before `accept`) and queues it on the
//!   listener's backlog; `accept` takes it off. Closing an end shuts the peer down (EOF for
//!   its reads, `EPIPE` for its writes; `ECONNRESET` first if data was left unread).
//! - Names live in a [`Namespace`]: filesystem sockets by the (dev, ino) of the socket inode
//!   `bind` created (the syscall layer makes and resolves the inode in the guest's VFS),
//!   abstract names by their bytes. The namespace also tells who the caller is (pid and
//!   ids for `SO_PEERCRED` and `SCM_CREDENTIALS`), since this crate knows no tasks.
//! - A socket is released (peer shut down, name freed, queue purged) when its last file
//!   reference goes ([`SocketFile`]'s drop), or for a connection never accepted, when its
//!   listener is released.
//!
//! Locking: each socket's state has its own mutex; only `connect` holds two, in address
//! order. A message may hold the last reference to other files (other sockets), so messages
//! are dropped only with no socket lock held.
//!
//! Not implemented: `MSG_OOB`, `SO_PEEK_OFF`, and the garbage collection of sockets that
//! are only reachable through fds in flight to themselves (they leak, as they would on a
//! Linux without its unix GC).

use crate::Result;
use crate::file::{FileOps, OpenFile, PollEvents};
use crate::inode::Stat;
use crate::synth::{anon_stat, next_ino};
use crate::wait::{WaitQueue, Waiter};
use nix::errno::Errno;
use parking_lot::{Mutex, MutexGuard};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Default `SO_SNDBUF` and `SO_RCVBUF` (Linux's `wmem_default` and `rmem_default`).
pub const DEFAULT_BUF: usize = 212_992;
/// Largest value `SO_SNDBUF`/`SO_RCVBUF` accept before doubling (`wmem_max`, `rmem_max`).
pub const MAX_BUF: usize = 212_992;
/// Smallest send buffer (`SOCK_MIN_SNDBUF`).
pub const MIN_SNDBUF: usize = 4608;
/// Smallest receive buffer (`SOCK_MIN_RCVBUF`).
pub const MIN_RCVBUF: usize = 2304;
/// A datagram socket's queue is full beyond this many messages from senders it is not
/// connected back to (`net.unix.max_dgram_qlen`).
pub const MAX_DGRAM_QLEN: usize = 10;
/// Largest listen backlog (`net.core.somaxconn`).
pub const SOMAXCONN: usize = 4096;
/// Most files one message may carry (`SCM_MAX_FD`).
pub const SCM_MAX_FD: usize = 253;
/// The id that credentials show when unknown (`overflowuid`).
pub const OVERFLOW_ID: u32 = 65534;
/// Largest piece of a stream write queued as one message.
const STREAM_CHUNK: usize = 65536;
/// Device number of sockets (sockfs).
const SOCKFS_DEV: u64 = 0x08;

const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = RCV_SHUTDOWN | SEND_SHUTDOWN;

/// A socket's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    /// `SOCK_STREAM`: a connected byte stream.
    Stream,
    /// `SOCK_DGRAM`: datagrams, connected or addressed one by one.
    Dgram,
    /// `SOCK_SEQPACKET`: a connection that keeps message boundaries.
    Seqpacket,
}

impl SockType {
    /// From `socket(2)`'s type without flags. `SOCK_RAW` makes a datagram socket, as on
    /// Linux; other types are `ESOCKTNOSUPPORT`.
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
        }
    }

    /// Whether sockets of this type connect to one peer and shut it down on close.
    fn connection_oriented(self) -> bool {
        self != SockType::Dgram
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

/// A bound socket's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A filesystem path, as given to `bind` (without a NUL).
    Path(Vec<u8>),
    /// An abstract name: the bytes after `sun_path`'s leading NUL.
    Abstract(Vec<u8>),
}

/// `AF_UNIX` as the first two bytes of a `sockaddr_un`.
const FAMILY: [u8; 2] = (libc::AF_UNIX as u16).to_ne_bytes();

impl Address {
    /// The `sockaddr_un` `getsockname` reports: the family, then the path and its NUL, or
    /// a NUL and the abstract name.
    pub fn to_sockaddr(&self) -> Vec<u8> {
        let mut out = FAMILY.to_vec();
        match self {
            Address::Path(p) => {
                out.extend_from_slice(p);
                out.push(0);
            }
            Address::Abstract(n) => {
                out.push(0);
                out.extend_from_slice(n);
            }
        }
        out
    }
}

/// The `sockaddr_un` of a socket without a name: the family alone.
pub fn unnamed_sockaddr() -> Vec<u8> {
    FAMILY.to_vec()
}

/// What a name is registered under in a [`Namespace`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A filesystem socket: the identity of the socket inode `bind` created.
    Inode {
        /// Device of the inode.
        dev: u64,
        /// Inode number.
        ino: u64,
    },
    /// An abstract name (without its leading NUL).
    Abstract(Vec<u8>),
}

/// The bound names of a sandbox (Linux keeps them per network namespace), and how to
/// learn who the caller is.
pub struct Namespace {
    names: Mutex<HashMap<Key, Weak<Socket>>>,
    next_auto: Mutex<u32>,
    caller: fn() -> Caller,
}

impl Namespace {
    /// An empty namespace; `caller` returns the calling task's process and ids.
    pub fn new(caller: fn() -> Caller) -> Arc<Namespace> {
        Arc::new(Namespace {
            names: Mutex::new(HashMap::new()),
            next_auto: Mutex::new(0),
            caller,
        })
    }

    /// The calling task's process and ids.
    pub fn caller(&self) -> Caller {
        (self.caller)()
    }

    /// The live socket bound at `key`: `ECONNREFUSED` if none, `EPROTOTYPE` if it is not
    /// of type `kind`.
    pub fn lookup(&self, key: &Key, kind: SockType) -> Result<Arc<Socket>> {
        let sock = self
            .names
            .lock()
            .get(key)
            .and_then(Weak::upgrade)
            .ok_or(Errno::ECONNREFUSED)?;
        if sock.kind != kind {
            return Err(Errno::EPROTOTYPE);
        }
        Ok(sock)
    }

    /// Registers `sock` at `key`. An abstract name in use is `EADDRINUSE`; an inode key is
    /// always fresh (bind just created the inode), so it replaces a stale entry.
    fn register(&self, key: &Key, sock: &Weak<Socket>) -> Result<()> {
        let mut names = self.names.lock();
        if let Key::Abstract(_) = key
            && names.get(key).is_some_and(|s| s.strong_count() > 0)
        {
            return Err(Errno::EADDRINUSE);
        }
        names.insert(key.clone(), sock.clone());
        Ok(())
    }

    /// Removes `key` if it still names `sock`.
    fn unregister(&self, key: &Key, sock: &Socket) {
        let mut names = self.names.lock();
        if names
            .get(key)
            .is_some_and(|s| std::ptr::eq(s.as_ptr(), sock))
        {
            names.remove(key);
        }
    }

    /// A free autobind name: five hex digits, as Linux picks them.
    fn auto_name(&self, sock: &Weak<Socket>) -> Result<Vec<u8>> {
        let mut next = self.next_auto.lock();
        for _ in 0..=0xfffff {
            let name = format!("{:05x}", *next).into_bytes();
            *next = (*next + 1) & 0xfffff;
            if self.register(&Key::Abstract(name.clone()), sock).is_ok() {
                return Ok(name);
            }
        }
        Err(Errno::ENOSPC)
    }
}

/// Socket options the syscall layer reads and changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockOpts {
    /// `SO_PASSCRED`: receive `SCM_CREDENTIALS` with every message.
    pub passcred: bool,
    /// `SO_SNDBUF`, as `getsockopt` reports it (twice what was set).
    pub sndbuf: usize,
    /// `SO_RCVBUF` (recorded only: queues are bounded by the senders' buffers).
    pub rcvbuf: usize,
    /// `SO_RCVLOWAT`: bytes a stream read waits for.
    pub rcvlowat: usize,
    /// `SO_RCVTIMEO`: how long a receive or accept blocks (`None`: forever).
    pub rcvtimeo: Option<Duration>,
    /// `SO_SNDTIMEO`: how long a send or connect blocks (`None`: forever).
    pub sndtimeo: Option<Duration>,
    /// `SO_LINGER` as (`l_onoff`, `l_linger`): recorded only.
    pub linger: (bool, i32),
    /// Boolean options recorded for `getsockopt` only (`SO_REUSEADDR`, `SO_KEEPALIVE`,
    /// ...): bit `n` is option `n`.
    pub flags: u64,
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
    pub to: Option<Arc<Socket>>,
    /// Files to pass (`SCM_RIGHTS`); a stream send attaches them to its first bytes.
    pub fds: Vec<Arc<OpenFile>>,
    /// Credentials given with `SCM_CREDENTIALS` (already checked); default: the caller's.
    pub creds: Option<Cred>,
    /// `MSG_DONTWAIT` or `O_NONBLOCK`.
    pub nonblock: bool,
}

/// Queued bytes with what came with them.
struct Msg {
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
enum Conn {
    /// Not connected (Linux's `TCP_CLOSE`).
    #[default]
    None,
    /// Listening: connections not yet accepted, and how many more than that may wait.
    Listening {
        backlog: VecDeque<Arc<Socket>>,
        max: usize,
    },
    /// Connected; for datagram sockets, the default destination.
    Connected(Arc<Socket>),
}

#[derive(Default)]
struct State {
    conn: Conn,
    addr: Option<Address>,
    /// The namespace entry this socket owns (the server end of a connection shares its
    /// listener's address but owns no entry).
    key: Option<Key>,
    shutdown: u8,
    /// Pending error (`SO_ERROR`), reported once.
    err: Option<Errno>,
    /// Released: no file refers to it any more.
    dead: bool,
    rx: VecDeque<Msg>,
    rx_bytes: usize,
    peer_cred: Option<Cred>,
    opts: SockOpts,
    /// Datagram senders waiting for room in this socket's queue.
    room_waiters: Vec<Weak<Socket>>,
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

    fn peer(&self) -> Option<&Arc<Socket>> {
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
}

/// One socket endpoint.
pub struct Socket {
    kind: SockType,
    ns: Arc<Namespace>,
    ino: u64,
    me: Weak<Socket>,
    /// Woken on every change of this socket: data queued or read, its sent bytes read,
    /// connections, shutdowns, errors.
    queue: WaitQueue,
    /// Bytes sent and not yet read (Linux's `sk_wmem_alloc`).
    wmem: AtomicUsize,
    st: Mutex<State>,
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
    fn alloc(ns: &Arc<Namespace>, kind: SockType) -> Arc<Socket> {
        Arc::new_cyclic(|me| Socket {
            kind,
            ns: ns.clone(),
            ino: next_ino(),
            me: me.clone(),
            queue: WaitQueue::new(),
            wmem: AtomicUsize::new(0),
            st: Mutex::new(State::default()),
        })
    }

    /// The socket behind an open file, if it is one.
    pub fn of(file: &OpenFile) -> Option<&Arc<Socket>> {
        file.ops
            .any()?
            .downcast_ref::<SocketFile>()
            .map(|f| &f.sock)
    }

    /// Its type.
    pub fn kind(&self) -> SockType {
        self.kind
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
        f(&mut self.st.lock().opts);
        // A bigger send buffer may unblock a writer.
        self.queue.notify_all();
    }

    /// Takes the pending error (`SO_ERROR`).
    pub fn take_error(&self) -> Option<Errno> {
        self.st.lock().err.take()
    }

    /// Makes `e` the pending error, for the next receive or `SO_ERROR` to report.
    pub fn set_error(&self, e: Errno) {
        self.st.lock().err = Some(e);
    }

    /// Whether it listens (`SO_ACCEPTCONN`).
    pub fn is_listening(&self) -> bool {
        matches!(self.st.lock().conn, Conn::Listening { .. })
    }

    /// Whether it is connected (for datagram sockets: has a default destination).
    pub fn is_connected(&self) -> bool {
        matches!(self.st.lock().conn, Conn::Connected(_))
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
    /// `ENOTCONN` without a peer.
    pub fn peer_name(&self) -> Result<Option<Address>> {
        let peer = self.st.lock().peer().cloned().ok_or(Errno::ENOTCONN)?;
        let addr = peer.st.lock().addr.clone();
        Ok(addr)
    }

    /// Credentials of the peer's creator (`SO_PEERCRED`): for a pair, the process that
    /// made it; for a client, the listener's; for an accepted socket, the client's.
    pub fn peer_cred(&self) -> Option<Cred> {
        self.st.lock().peer_cred
    }

    fn bind_key(&self, addr: Address, key: Key) -> Result<()> {
        let mut st = self.st.lock();
        if st.addr.is_some() {
            return Err(Errno::EINVAL);
        }
        self.ns.register(&key, &self.me)?;
        st.addr = Some(addr);
        st.key = Some(key);
        Ok(())
    }

    /// Binds to a filesystem path whose socket inode the caller just created as
    /// (`dev`, `ino`). `EINVAL` if already bound.
    pub fn bind_path(&self, path: Vec<u8>, dev: u64, ino: u64) -> Result<()> {
        self.bind_key(Address::Path(path), Key::Inode { dev, ino })
    }

    /// Binds to an abstract name (without its leading NUL): `EADDRINUSE` if taken,
    /// `EINVAL` if already bound.
    pub fn bind_abstract(&self, name: Vec<u8>) -> Result<()> {
        self.bind_key(Address::Abstract(name.clone()), Key::Abstract(name))
    }

    /// Binds to a fresh abstract name unless bound already (`bind` with only the family,
    /// and the implicit bind of `SO_PASSCRED` senders).
    pub fn autobind(&self) -> Result<()> {
        let mut st = self.st.lock();
        if st.addr.is_some() {
            return Ok(());
        }
        let name = self.ns.auto_name(&self.me)?;
        st.addr = Some(Address::Abstract(name.clone()));
        st.key = Some(Key::Abstract(name));
        Ok(())
    }

    /// `listen(backlog)`: `EOPNOTSUPP` for datagram sockets, `EINVAL` if unbound or
    /// connected. Listening again changes the backlog.
    pub fn listen(&self, backlog: i32) -> Result<()> {
        if !self.kind.connection_oriented() {
            return Err(Errno::EOPNOTSUPP);
        }
        let max = (backlog as u32 as usize).min(SOMAXCONN);
        let mut st = self.st.lock();
        if st.addr.is_none() {
            return Err(Errno::EINVAL);
        }
        match &mut st.conn {
            Conn::None => {
                st.conn = Conn::Listening {
                    backlog: VecDeque::new(),
                    max,
                }
            }
            Conn::Listening { max: m, .. } => *m = max,
            Conn::Connected(_) => return Err(Errno::EINVAL),
        }
        // Clients copy these when they connect.
        st.peer_cred = Some(self.ns.caller().effective());
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
                    // The accepted end inherits the listener's SO_PASSCRED.
                    sock.st.lock().opts.passcred = passcred;
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

    /// Connects to `target`: a listener for connection-oriented sockets (`ECONNREFUSED`
    /// if it does not listen; `EAGAIN` if its backlog is full and `nonblock`, else waits;
    /// `EISCONN` if already connected), the default destination of a datagram socket
    /// (`None` dissolves the association, as `AF_UNSPEC` does).
    pub fn connect(
        &self,
        w: &Arc<Waiter>,
        target: Option<&Arc<Socket>>,
        nonblock: bool,
    ) -> Result<()> {
        if self.opts().passcred {
            self.autobind()?;
        }
        if !self.kind.connection_oriented() {
            return self.connect_dgram(target);
        }
        let target = target.ok_or(Errno::EINVAL)?;
        if std::ptr::eq(Arc::as_ptr(target), self) {
            let st = self.st.lock();
            return Err(match st.conn {
                Conn::Listening { .. } => Errno::EINVAL,
                _ => Errno::ECONNREFUSED,
            });
        }
        let caller = self.ns.caller();
        let until = deadline(self.opts().sndtimeo);
        loop {
            {
                let (mut me, mut other) = lock2(self, target);
                if other.dead || other.shutdown & RCV_SHUTDOWN != 0 {
                    return Err(Errno::ECONNREFUSED);
                }
                let listener_addr = other.addr.clone();
                let listener_cred = other.peer_cred;
                let Conn::Listening { backlog, max } = &mut other.conn else {
                    return Err(Errno::ECONNREFUSED);
                };
                if backlog.len() <= *max {
                    match me.conn {
                        Conn::None => {}
                        Conn::Connected(_) => return Err(Errno::EISCONN),
                        Conn::Listening { .. } => return Err(Errno::EINVAL),
                    }
                    let server = Socket::alloc(&self.ns, self.kind);
                    {
                        let mut sst = server.st.lock();
                        sst.conn = Conn::Connected(self.me.upgrade().expect("socket is alive"));
                        sst.addr = listener_addr;
                        sst.peer_cred = Some(caller.effective());
                    }
                    backlog.push_back(server.clone());
                    me.conn = Conn::Connected(server);
                    me.peer_cred = listener_cred;
                    drop((me, other));
                    target.queue.notify_all();
                    self.queue.notify_all();
                    return Ok(());
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

    /// This datagram socket stopped talking to `old`: its queue is purged, and `old`, if
    /// it was connected back, learns of it (`ECONNRESET`), as Linux does.
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

    /// `shutdown(how)`: stops receiving (`SHUT_RD`), sending (`SHUT_WR`) or both; a
    /// connected stream or seqpacket peer sees the other half.
    pub fn shutdown(&self, how: i32) -> Result<()> {
        if !(libc::SHUT_RD..=libc::SHUT_RDWR).contains(&how) {
            return Err(Errno::EINVAL);
        }
        let mode = (how + 1) as u8;
        let peer = {
            let mut st = self.st.lock();
            st.shutdown |= mode;
            st.peer().cloned()
        };
        self.queue.notify_all();
        if let Some(peer) = peer
            && self.kind.connection_oriented()
        {
            let mut peer_mode = 0;
            if mode & RCV_SHUTDOWN != 0 {
                peer_mode |= SEND_SHUTDOWN;
            }
            if mode & SEND_SHUTDOWN != 0 {
                peer_mode |= RCV_SHUTDOWN;
            }
            peer.st.lock().shutdown |= peer_mode;
            peer.queue.notify_all();
        }
        Ok(())
    }

    /// Waits until this socket's charge is below its send buffer (a pending error or a
    /// send shutdown ends the wait).
    fn wait_sndbuf(&self, w: &Arc<Waiter>, nonblock: bool, until: Option<Instant>) -> Result<()> {
        let check = || -> Option<Result<()>> {
            let mut st = self.st.lock();
            if let Some(e) = st.err.take() {
                return Some(Err(e));
            }
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Some(Err(Errno::EPIPE));
            }
            (self.wmem.load(Ordering::SeqCst) < st.opts.sndbuf).then_some(Ok(()))
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
        creds: Cred,
        from: Option<Address>,
    ) -> Msg {
        self.wmem.fetch_add(data.len(), Ordering::SeqCst);
        Msg {
            data,
            off: 0,
            fds,
            creds: Some(creds),
            from,
            sender: self.me.clone(),
        }
    }

    /// Sends `data` (`send`, `sendto`, `sendmsg`, `write`). Stream sends block until all is
    /// queued (or return what was, when interrupted or nonblocking); datagram and seqpacket
    /// sends queue one message or nothing. `EPIPE` when the peer is gone or shut down (the
    /// caller raises SIGPIPE for streams), `ENOTCONN` without a destination.
    pub fn send(&self, w: &Arc<Waiter>, data: &[u8], args: SendArgs) -> Result<usize> {
        match self.kind {
            SockType::Stream => self.send_stream(w, data, args),
            SockType::Dgram | SockType::Seqpacket => self.send_dgram(w, data, args),
        }
    }

    fn send_stream(&self, w: &Arc<Waiter>, data: &[u8], mut args: SendArgs) -> Result<usize> {
        if args.to.is_some() {
            return Err(if self.is_connected() {
                Errno::EISCONN
            } else {
                Errno::EOPNOTSUPP
            });
        }
        let (peer, opts) = {
            let st = self.st.lock();
            let peer = st.peer().cloned().ok_or(Errno::ENOTCONN)?;
            if st.shutdown & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            (peer, st.opts)
        };
        let creds = args.creds.unwrap_or_else(|| self.ns.caller().real());
        let until = deadline(opts.sndtimeo);
        let chunk = (opts.sndbuf / 2).saturating_sub(64).clamp(1, STREAM_CHUNK);
        let mut sent = 0;
        while sent < data.len() {
            if let Err(e) = self.wait_sndbuf(w, args.nonblock, until) {
                return partial(sent, e);
            }
            let size = (data.len() - sent).min(chunk);
            let from = self.st.lock().addr.clone();
            let fds = std::mem::take(&mut args.fds);
            let msg = self.new_msg(data[sent..sent + size].to_vec(), fds, creds, from);
            let mut pst = peer.st.lock();
            if pst.dead || pst.shutdown & RCV_SHUTDOWN != 0 {
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

    /// The destination of a datagram: `to`, or the connected peer.
    fn dgram_target(&self, to: &Option<Arc<Socket>>) -> Result<Arc<Socket>> {
        match to {
            Some(t) => Ok(t.clone()),
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
            self.autobind()?;
        }
        if data.len() + 32 > opts.sndbuf {
            return Err(Errno::EMSGSIZE);
        }
        self.dgram_target(&args.to)?;
        let until = deadline(opts.sndtimeo);
        self.wait_sndbuf(w, args.nonblock, until)?;
        let creds = args.creds.unwrap_or_else(|| self.ns.caller().real());
        let from = self.st.lock().addr.clone();
        let fds = std::mem::take(&mut args.fds);
        let mut msg = Some(self.new_msg(data.to_vec(), fds, creds, from));
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

    /// Receives into `sink` (`recv`, `recvfrom`, `recvmsg`, `read`). Stream sockets:
    /// `EINVAL` unless connected; 0 at end of stream. Seqpacket: `ENOTCONN` unless
    /// connected. Blocks for data unless `nonblock` (`EAGAIN`); a pending error
    /// (`ECONNRESET`) is reported first.
    pub fn recv(&self, w: &Arc<Waiter>, sink: &mut dyn Sink, f: RecvFlags) -> Result<Received> {
        match self.kind {
            SockType::Stream => self.recv_stream(w, sink, f),
            SockType::Dgram | SockType::Seqpacket => self.recv_dgram(w, sink, f),
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
                return Err(Errno::EINVAL);
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
                if copied >= target {
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
        if opts.passcred {
            out.creds = Some(writer.flatten().unwrap_or(Cred::NOBODY));
        }
        Ok(out)
    }

    fn recv_dgram(&self, w: &Arc<Waiter>, sink: &mut dyn Sink, f: RecvFlags) -> Result<Received> {
        if self.kind == SockType::Seqpacket && !self.is_connected() {
            return Err(Errno::ENOTCONN);
        }
        let until = deadline(self.opts().rcvtimeo);
        let (mut msg, passcred, waiters) = loop {
            {
                let mut st = self.st.lock();
                if let Some(e) = st.err.take() {
                    return Err(e);
                }
                let passcred = st.opts.passcred;
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
                if st.shutdown & RCV_SHUTDOWN != 0 {
                    return Ok(Received::default());
                }
            }
            if f.nonblock {
                return Err(Errno::EAGAIN);
            }
            sleep(w, &[&self.queue], until, || {
                let st = self.st.lock();
                st.rx.is_empty() && st.err.is_none() && st.shutdown & RCV_SHUTDOWN == 0
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

    /// Readiness, as Linux's `unix_poll` (streams) and `unix_dgram_poll` compute it.
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
        let mut writable = !listening && self.wmem.load(Ordering::SeqCst) * 4 <= st.opts.sndbuf;
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
            (_, SockType::Dgram) => Ok(st.rx.front().map_or(0, Msg::len)),
            _ => Ok(st.rx_bytes),
        }
    }

    /// The socket lost its last file (or, never accepted, its listener): its peer is shut
    /// down (with `ECONNRESET` pending if data was left unread here), its name freed, its
    /// queue and pending connections dropped.
    fn release(&self, never_accepted: bool) {
        let (conn, key, purged, waiters) = {
            let mut st = self.st.lock();
            st.dead = true;
            st.shutdown = SHUTDOWN_MASK;
            st.rx_bytes = 0;
            (
                std::mem::take(&mut st.conn),
                st.key.take(),
                std::mem::take(&mut st.rx),
                std::mem::take(&mut st.room_waiters),
            )
        };
        if let Some(key) = key {
            self.ns.unregister(&key, self);
        }
        self.queue.notify_all();
        match conn {
            Conn::Connected(peer) => {
                if self.kind.connection_oriented() {
                    let mut pst = peer.st.lock();
                    pst.shutdown = SHUTDOWN_MASK;
                    if !purged.is_empty() || never_accepted {
                        pst.err = Some(Errno::ECONNRESET);
                    }
                }
                peer.queue.notify_all();
            }
            Conn::Listening { backlog, .. } => {
                for sock in backlog {
                    sock.release(true);
                }
            }
            Conn::None => {}
        }
        wake_all(waiters);
        drop(purged);
    }
}

/// A socket as an open file; dropping it releases the socket.
pub struct SocketFile {
    sock: Arc<Socket>,
}

impl SocketFile {
    /// A new unconnected socket of type `kind` in namespace `ns`.
    pub fn new(ns: &Arc<Namespace>, kind: SockType) -> SocketFile {
        SocketFile {
            sock: Socket::alloc(ns, kind),
        }
    }

    /// Two sockets connected to each other (`socketpair`); each reports the caller as
    /// its peer's creator.
    pub fn pair(ns: &Arc<Namespace>, kind: SockType) -> (SocketFile, SocketFile) {
        let (a, b) = (Socket::alloc(ns, kind), Socket::alloc(ns, kind));
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
        let l = SocketFile::new(ns, kind);
        l.sock.bind_abstract(name.to_vec()).unwrap();
        l.sock.listen(4).unwrap();
        let c = SocketFile::new(ns, kind);
        let target = ns.lookup(&Key::Abstract(name.to_vec()), kind).unwrap();
        c.sock.connect(&Waiter::new(), Some(&target), true).unwrap();
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
        assert_eq!(s.sock.name(), Some(Address::Abstract(b"srv".to_vec())));
        assert_eq!(
            c.sock.peer_name().unwrap(),
            Some(Address::Abstract(b"srv".to_vec()))
        );
        assert_eq!(s.sock.peer_name().unwrap(), None);
        assert_eq!(c.sock.name(), None);
        assert_eq!(c.sock.peer_cred(), Some(caller().effective()));
        assert_eq!(s.sock.peer_cred(), Some(caller().effective()));
        // Connected already; and a second bind of the name is refused.
        let target = ns
            .lookup(&Key::Abstract(b"srv".to_vec()), SockType::Stream)
            .unwrap();
        assert_eq!(
            c.sock.connect(&Waiter::new(), Some(&target), true),
            Err(Errno::EISCONN)
        );
        let other = SocketFile::new(&ns, SockType::Stream);
        assert_eq!(
            other.sock.bind_abstract(b"srv".to_vec()),
            Err(Errno::EADDRINUSE)
        );
        // Closing the listener frees the name.
        drop(l);
        drop(target);
        let key = Key::Abstract(b"srv".to_vec());
        assert_eq!(
            ns.lookup(&key, SockType::Stream).err(),
            Some(Errno::ECONNREFUSED)
        );
        other.sock.bind_abstract(b"srv".to_vec()).unwrap();
    }

    #[test]
    fn connection_errors() {
        let ns = ns();
        let key = Key::Abstract(b"nobody".to_vec());
        assert_eq!(
            ns.lookup(&key, SockType::Stream).err(),
            Some(Errno::ECONNREFUSED)
        );
        // Bound but not listening: refused; wrong type: EPROTOTYPE.
        let s = SocketFile::new(&ns, SockType::Stream);
        s.sock.bind_abstract(b"nobody".to_vec()).unwrap();
        let c = SocketFile::new(&ns, SockType::Stream);
        let target = ns.lookup(&key, SockType::Stream).unwrap();
        assert_eq!(
            c.sock.connect(&Waiter::new(), Some(&target), true),
            Err(Errno::ECONNREFUSED)
        );
        assert_eq!(
            ns.lookup(&key, SockType::Dgram).err(),
            Some(Errno::EPROTOTYPE)
        );
        // listen needs a name; datagram sockets cannot listen.
        assert_eq!(c.sock.listen(1), Err(Errno::EINVAL));
        let d = SocketFile::new(&ns, SockType::Dgram);
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
        let l = SocketFile::new(&ns, SockType::Stream);
        l.sock.bind_abstract(b"tiny".to_vec()).unwrap();
        l.sock.listen(0).unwrap();
        let target = ns
            .lookup(&Key::Abstract(b"tiny".to_vec()), SockType::Stream)
            .unwrap();
        // Backlog 0 still holds one connection, as on Linux.
        let c1 = SocketFile::new(&ns, SockType::Stream);
        c1.sock
            .connect(&Waiter::new(), Some(&target), true)
            .unwrap();
        let c2 = SocketFile::new(&ns, SockType::Stream);
        assert_eq!(
            c2.sock.connect(&Waiter::new(), Some(&target), true),
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
        let server = SocketFile::new(&ns, SockType::Dgram);
        server.sock.bind_abstract(b"dg".to_vec()).unwrap();
        let client = SocketFile::new(&ns, SockType::Dgram);
        client.sock.bind_abstract(b"dgc".to_vec()).unwrap();
        let to = ns
            .lookup(&Key::Abstract(b"dg".to_vec()), SockType::Dgram)
            .unwrap();
        let args = || SendArgs {
            to: Some(to.clone()),
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
        assert_eq!(got.from, Some(Address::Abstract(b"dgc".to_vec())));
        client.sock.send(&Waiter::new(), b"m", args()).unwrap();
        // A connected socket not connected back may not send.
        let third = SocketFile::new(&ns, SockType::Dgram);
        third.sock.connect(&Waiter::new(), Some(&to), true).unwrap();
        let back = ns
            .lookup(&Key::Abstract(b"dgc".to_vec()), SockType::Dgram)
            .unwrap();
        server
            .sock
            .connect(&Waiter::new(), Some(&back), true)
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
        let l = SocketFile::new(&ns, SockType::Seqpacket);
        l.sock.bind_abstract(b"wake".to_vec()).unwrap();
        l.sock.listen(8).unwrap();
        let ns2 = ns.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let c = SocketFile::new(&ns2, SockType::Seqpacket);
            let target = ns2
                .lookup(&Key::Abstract(b"wake".to_vec()), SockType::Seqpacket)
                .unwrap();
            c.sock
                .connect(&Waiter::new(), Some(&target), false)
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
        let a = SocketFile::new(&ns, SockType::Dgram);
        let b = SocketFile::new(&ns, SockType::Dgram);
        a.sock.autobind().unwrap();
        b.sock.autobind().unwrap();
        let (Some(Address::Abstract(x)), Some(Address::Abstract(y))) =
            (a.sock.name(), b.sock.name())
        else {
            panic!("autobind gives abstract names");
        };
        assert_eq!((x.len(), y.len()), (5, 5));
        assert_ne!(x, y);
        assert_eq!(a.sock.bind_abstract(b"again".to_vec()), Err(Errno::EINVAL));
        assert_eq!(
            Address::Abstract(x).to_sockaddr().len(),
            8,
            "family, NUL and five hex digits"
        );
    }
}
