//! `AF_UNIX` names (unix(7)): filesystem sockets by the (dev, ino) of the socket inode
//! `bind` created (the syscall layer makes and resolves the inode in the guest's VFS),
//! abstract names by their bytes, and autobind's five hex digits.

use super::{Address, Binding as AnyBinding, SockType, Socket};
use crate::Result;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// A bound unix socket's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixAddr {
    /// A filesystem path, as given to `bind` (without a NUL).
    Path(Vec<u8>),
    /// An abstract name: the bytes after `sun_path`'s leading NUL.
    Abstract(Vec<u8>),
}

/// `AF_UNIX` as the first two bytes of a `sockaddr_un`.
const FAMILY: [u8; 2] = (libc::AF_UNIX as u16).to_ne_bytes();

impl UnixAddr {
    /// The `sockaddr_un` `getsockname` reports: the family, then the path and its NUL, or
    /// a NUL and the abstract name.
    pub fn sockaddr(&self) -> Vec<u8> {
        let mut out = FAMILY.to_vec();
        match self {
            UnixAddr::Path(p) => {
                out.extend_from_slice(p);
                out.push(0);
            }
            UnixAddr::Abstract(n) => {
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

/// What a name is registered under.
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

/// The unix names of a namespace.
#[derive(Default)]
pub struct Names {
    names: Arc<Mutex<HashMap<Key, Weak<Socket>>>>,
    next_auto: Mutex<u32>,
}

/// A socket's unix name entry, removed when dropped if it still names the socket.
pub(crate) struct Binding {
    names: Weak<Mutex<HashMap<Key, Weak<Socket>>>>,
    key: Key,
    sock: Weak<Socket>,
}

impl Drop for Binding {
    fn drop(&mut self) {
        if let Some(names) = self.names.upgrade() {
            let mut names = names.lock();
            if names.get(&self.key).is_some_and(|s| s.ptr_eq(&self.sock)) {
                names.remove(&self.key);
            }
        }
    }
}

impl Names {
    /// The live socket bound at `key`: `ECONNREFUSED` if none, `EPROTOTYPE` if it is not
    /// of type `kind`.
    pub fn lookup(&self, key: &Key, kind: SockType) -> Result<Arc<Socket>> {
        let sock = self
            .names
            .lock()
            .get(key)
            .and_then(Weak::upgrade)
            .ok_or(Errno::ECONNREFUSED)?;
        if sock.kind() != kind {
            return Err(Errno::EPROTOTYPE);
        }
        Ok(sock)
    }

    /// Registers `sock` at `key`. An abstract name in use is `EADDRINUSE`; an inode key is
    /// always fresh (bind just created the inode), so it replaces a stale entry.
    fn register(&self, key: &Key, sock: &Weak<Socket>) -> Result<AnyBinding> {
        let mut names = self.names.lock();
        if let Key::Abstract(_) = key
            && names.get(key).is_some_and(|s| s.strong_count() > 0)
        {
            return Err(Errno::EADDRINUSE);
        }
        names.insert(key.clone(), sock.clone());
        Ok(AnyBinding::Unix(Binding {
            names: Arc::downgrade(&self.names),
            key: key.clone(),
            sock: sock.clone(),
        }))
    }

    /// Registers `sock` under a free autobind name (five hex digits, as Linux picks
    /// them) and returns the name.
    fn auto_name(&self, sock: &Weak<Socket>) -> Result<(Vec<u8>, AnyBinding)> {
        let mut next = self.next_auto.lock();
        for _ in 0..=0xfffff {
            let name = format!("{:05x}", *next).into_bytes();
            *next = (*next + 1) & 0xfffff;
            if let Ok(b) = self.register(&Key::Abstract(name.clone()), sock) {
                return Ok((name, b));
            }
        }
        Err(Errno::ENOSPC)
    }
}

fn bind_key(sock: &Socket, addr: UnixAddr, key: Key) -> Result<()> {
    let mut st = sock.st.lock();
    if st.addr.is_some() {
        return Err(Errno::EINVAL);
    }
    let binding = sock.ns.unix.register(&key, &sock.me)?;
    st.addr = Some(Address::Unix(addr));
    st.binding = Some(binding);
    Ok(())
}

/// Binds `sock` to a filesystem path whose socket inode the caller just created as
/// (`dev`, `ino`). `EINVAL` if already bound.
pub fn bind_path(sock: &Socket, path: Vec<u8>, dev: u64, ino: u64) -> Result<()> {
    bind_key(sock, UnixAddr::Path(path), Key::Inode { dev, ino })
}

/// Binds `sock` to an abstract name (without its leading NUL): `EADDRINUSE` if taken,
/// `EINVAL` if already bound.
pub fn bind_abstract(sock: &Socket, name: Vec<u8>) -> Result<()> {
    bind_key(sock, UnixAddr::Abstract(name.clone()), Key::Abstract(name))
}

/// Binds `sock` to a fresh abstract name unless bound already (`bind` with only the
/// family, and the implicit bind of `SO_PASSCRED` senders).
pub fn autobind(sock: &Socket) -> Result<()> {
    let mut st = sock.st.lock();
    if st.addr.is_some() {
        return Ok(());
    }
    let (name, binding) = sock.ns.unix.auto_name(&sock.me)?;
    st.addr = Some(Address::Unix(UnixAddr::Abstract(name)));
    st.binding = Some(binding);
    Ok(())
}
