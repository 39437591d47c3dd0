//! Guest socket addresses: copying `sockaddr`s in and out, and what each family makes of
//! them for `bind`, `connect` and `sendto`. Unix filesystem names are resolved in the
//! guest's VFS here; inet and netlink addresses are parsed by their family
//! ([`fs::socket::inet`], [`fs::socket::netlink`]).

use super::NAMESPACE;
use crate::errno::SysErr;
use crate::kernel::task::Task;
use crate::syscalls::uaccess::AT_FDCWD;
use fs::FileType;
use fs::socket::inet::{self, Purpose};
use fs::socket::netlink::{self, NlAddr};
use fs::socket::unix::{self, Key};
use fs::socket::{Address, Family, SockType, Socket, Target};
use nix::errno::Errno;
use std::sync::Arc;

/// Largest `sockaddr` a call takes (`sizeof(struct sockaddr_storage)`).
pub const SOCKADDR_MAX: usize = 128;
/// `sizeof(struct sockaddr_un)`.
const SOCKADDR_UN_MAX: usize = 110;

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

/// The family field of a `sockaddr` of at least two bytes.
fn family(raw: &[u8]) -> i32 {
    u16::from_ne_bytes([raw[0], raw[1]]) as i32
}

/// Copies a socket address in (`EINVAL` for a negative or too long length).
pub fn read_sockaddr(task: &Task, addr: u64, len: i32) -> Result<Vec<u8>, SysErr> {
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
pub fn write_sockaddr(task: &Task, addr: u64, len_ptr: u64, bytes: &[u8]) -> Result<(), SysErr> {
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

/// The `sockaddr` `sock` reports for `name` (`None`: its family's unnamed address).
pub fn sockaddr_of(sock: &Socket, name: Option<Address>) -> Vec<u8> {
    let family = sock.family();
    name.map_or_else(|| family.unnamed_sockaddr(), |a| a.sockaddr(family))
}

/// Finds the socket a unix name refers to: a filesystem name by the socket inode at the
/// path (`ENOENT` and other walk errors; `ECONNREFUSED` if it is no socket or nobody is
/// bound to it; `EACCES` without write permission), an abstract one by the name.
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
    Ok(NAMESPACE.unix().lookup(&key, kind)?)
}

/// Binds to a unix filesystem name: creates the socket inode (`EADDRINUSE` if the path
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
    let bound = st.and_then(|st| unix::bind_path(sock, path, st.dev, st.ino));
    if let Err(e) = bound {
        let _ = dir.unlink(&l.name);
        return Err(e.into());
    }
    Ok(())
}

/// `bind` of `sock` to the guest's `sockaddr` `raw`, by its family.
pub fn bind(task: &Task, sock: &Socket, raw: Vec<u8>) -> Result<(), SysErr> {
    match sock.family() {
        Family::Unix => {
            if raw.len() == 2 && family(&raw) == libc::AF_UNIX {
                return Ok(unix::autobind(sock)?);
            }
            match parse_unix(&raw)? {
                UnixName::Path(p) => bind_path(task, sock, p)?,
                UnixName::Abstract(n) => unix::bind_abstract(sock, n)?,
            }
        }
        Family::Inet | Family::Inet6 => {
            let a = inet::parse_sockaddr(sock.family(), &raw, Purpose::Bind)?;
            inet::bind(sock, a.ok_or(Errno::EINVAL)?)?;
        }
        Family::Netlink => netlink::bind(sock, NlAddr::parse(&raw)?)?,
    }
    Ok(())
}

/// What `connect` of `sock` to `raw` connects to: `None` dissolves an association
/// (`AF_UNSPEC`).
pub fn connect_target(task: &Task, sock: &Socket, raw: &[u8]) -> Result<Option<Target>, SysErr> {
    let unspec = raw.len() >= 2 && family(raw) == libc::AF_UNSPEC;
    Ok(match sock.family() {
        Family::Unix if sock.kind() == SockType::Dgram && raw.len() < 2 => {
            return Err(Errno::EINVAL.into());
        }
        Family::Unix if sock.kind() == SockType::Dgram && unspec => None,
        Family::Unix => Some(Target::Socket(resolve(
            task,
            &parse_unix(raw)?,
            sock.kind(),
        )?)),
        Family::Inet | Family::Inet6 => inet::parse_sockaddr(sock.family(), raw, Purpose::Connect)?
            .map(|a| Target::Addr(Address::Inet(a))),
        Family::Netlink if raw.len() < 2 => return Err(Errno::EINVAL.into()),
        Family::Netlink if unspec => None,
        Family::Netlink => Some(Target::Addr(Address::Netlink(NlAddr::parse(raw)?))),
    })
}

/// Where a send with the guest's `sockaddr` `raw` goes: `None` to the connected peer
/// (a seqpacket or TCP socket ignores the address; a unix stream refuses it).
pub fn send_target(task: &Task, sock: &Socket, raw: &[u8]) -> Result<Option<Target>, SysErr> {
    Ok(match (sock.family(), sock.kind()) {
        (Family::Unix, SockType::Stream) => {
            return Err(if sock.is_connected() {
                Errno::EISCONN
            } else {
                Errno::EOPNOTSUPP
            }
            .into());
        }
        (Family::Unix, SockType::Dgram) => Some(Target::Socket(resolve(
            task,
            &parse_unix(raw)?,
            SockType::Dgram,
        )?)),
        (Family::Unix, _) | (_, SockType::Stream) => None,
        (Family::Netlink, _) => Some(Target::Addr(Address::Netlink(NlAddr::parse(raw)?))),
        (Family::Inet | Family::Inet6, _) => {
            inet::parse_sockaddr(sock.family(), raw, Purpose::SendTo)?
                .map(|a| Target::Addr(Address::Inet(a)))
        }
    })
}
