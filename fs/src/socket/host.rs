//! Host sockets, for a sandbox run with `--network=host` (gVisor's hostinet): the
//! guest's `AF_INET`/`AF_INET6` sockets, and its `NETLINK_ROUTE` ones, are host sockets
//! that the sentry creates and operates on the guest's behalf. The stub never holds one.
//!
//! The host socket is always nonblocking: a guest call that must wait sleeps on the
//! task's [`Waiter`] together with the host fd (so a signal interrupts it, and other
//! tasks run on), honouring the guest's `O_NONBLOCK`/`MSG_DONTWAIT` and its
//! `SO_RCVTIMEO`/`SO_SNDTIMEO`, which the sentry keeps since the host's never apply.
//! Readiness for poll and epoll is the host fd's ([`FileOps::host_fd`]).

use super::core::SOCKFS_DEV;
use super::{Family, SockType};
use crate::Result;
use crate::file::{FileOps, OpenFile, PollEvents};
use crate::inode::Stat;
use crate::synth::{anon_stat, next_ino};
use crate::wait::Waiter;
use nix::errno::Errno;
use parking_lot::Mutex;
use platform::hostsock::{self, Received};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events a wait always ends on: the socket failed or hung up.
const FAILED: i16 = libc::POLLERR | libc::POLLHUP;
/// Room for any `sockaddr` (`sizeof(struct sockaddr_storage)`).
const SOCKADDR_MAX: usize = 128;

/// One guest socket that is a host socket.
pub struct HostSocket {
    fd: OwnedFd,
    family: Family,
    kind: SockType,
    ino: u64,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` (`None`: wait forever).
    timeouts: Mutex<(Option<Duration>, Option<Duration>)>,
}

/// What a receive got.
pub struct HostReceived {
    /// The host's counts and flags.
    pub got: Received,
    /// The sender's `sockaddr` (empty when it has none).
    pub from: Vec<u8>,
}

impl HostSocket {
    /// A new host socket; `ty` is the `socket(2)` type without flags.
    pub fn open(family: Family, kind: SockType, ty: i32, protocol: i32) -> Result<Arc<Self>> {
        let fd = hostsock::socket(family.domain(), ty, protocol)?;
        Ok(Self::wrap(fd, family, kind))
    }

    fn wrap(fd: OwnedFd, family: Family, kind: SockType) -> Arc<Self> {
        Arc::new(HostSocket {
            fd,
            family,
            kind,
            ino: next_ino(),
            timeouts: Mutex::new((None, None)),
        })
    }

    /// The host socket behind an open file, if it is one.
    pub fn of(file: &OpenFile) -> Option<&Arc<HostSocket>> {
        file.ops
            .any()?
            .downcast_ref::<HostSocketFile>()
            .map(|f| &f.0)
    }

    /// An open file for it.
    pub fn file(self: &Arc<Self>) -> Box<dyn FileOps> {
        Box::new(HostSocketFile(self.clone()))
    }

    /// The host fd, for the calls that never wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Its address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Its type.
    pub fn kind(&self) -> SockType {
        self.kind
    }

    /// `SO_RCVTIMEO` (`receive`) or `SO_SNDTIMEO`: `None` if waits are unbounded.
    pub fn timeout(&self, receive: bool) -> Option<Duration> {
        let ts = self.timeouts.lock();
        if receive { ts.0 } else { ts.1 }
    }

    /// Records `SO_RCVTIMEO` (`receive`) or `SO_SNDTIMEO`, which the host accepted.
    pub fn set_timeout(&self, receive: bool, t: Option<Duration>) {
        let mut ts = self.timeouts.lock();
        if receive {
            ts.0 = t;
        } else {
            ts.1 = t;
        }
    }

    fn ready(&self, events: i16) -> i16 {
        hostsock::ready(self.fd(), events)
    }

    /// Runs `op` until it does not fail with `EAGAIN`, sleeping until the socket is ready
    /// for `events` between tries: `EAGAIN` at once when `nonblock`, and when `timeout`
    /// runs out; `EINTR` when a signal comes.
    fn retry<T>(
        &self,
        w: &Arc<Waiter>,
        events: i16,
        nonblock: bool,
        timeout: Option<Duration>,
        mut op: impl FnMut(BorrowedFd<'_>) -> Result<T>,
    ) -> Result<T> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            match op(self.fd()) {
                Err(Errno::EAGAIN) if !nonblock => {}
                r => return r,
            }
            match w.wait_fds(&[(self.fd(), events | FAILED)], deadline) {
                Err(Errno::ETIMEDOUT) => return Err(Errno::EAGAIN),
                r => r?,
            };
        }
    }

    /// `accept`: the connection and its peer's `sockaddr`.
    pub fn accept(&self, w: &Arc<Waiter>, nonblock: bool) -> Result<(Arc<Self>, Vec<u8>)> {
        let timeout = self.timeouts.lock().0;
        let mut addr = [0u8; SOCKADDR_MAX];
        let (fd, len) = self.retry(w, libc::POLLIN, nonblock, timeout, |fd| {
            hostsock::accept(fd, &mut addr)
        })?;
        let conn = Self::wrap(fd, self.family, self.kind);
        Ok((conn, addr[..len.min(SOCKADDR_MAX)].to_vec()))
    }

    /// `connect` to `addr`: a blocking connect waits for the outcome (`EINPROGRESS`
    /// when `SO_SNDTIMEO` runs out, as on Linux), and a restarted one waits again.
    pub fn connect(&self, w: &Arc<Waiter>, addr: &[u8], nonblock: bool) -> Result<()> {
        match hostsock::connect(self.fd(), addr) {
            Err(Errno::EINPROGRESS | Errno::EALREADY) if !nonblock => {}
            r => return r,
        }
        let deadline = self.timeouts.lock().1.map(|t| Instant::now() + t);
        while self.ready(libc::POLLOUT | FAILED) == 0 {
            match w.wait_fds(&[(self.fd(), libc::POLLOUT | FAILED)], deadline) {
                Err(Errno::ETIMEDOUT) => return Err(Errno::EINPROGRESS),
                r => r?,
            };
        }
        match self.take_error()? {
            0 => Ok(()),
            e => Err(Errno::from_raw(e)),
        }
    }

    /// The pending error (`SO_ERROR`), cleared.
    pub fn take_error(&self) -> Result<i32> {
        let mut v = [0u8; 4];
        hostsock::getsockopt(self.fd(), libc::SOL_SOCKET, libc::SO_ERROR, &mut v)?;
        Ok(i32::from_ne_bytes(v))
    }

    /// Sends `data` (to `name`; the control messages `control` go with its first
    /// bytes), waiting for room unless `nonblock`. A stream send goes on until all of
    /// `data` is out, as a blocking Linux send does: an error or a timeout after some
    /// bytes went returns their count.
    pub fn send(
        &self,
        w: &Arc<Waiter>,
        data: &[u8],
        name: Option<&[u8]>,
        control: &[u8],
        flags: i32,
        nonblock: bool,
    ) -> Result<usize> {
        let timeout = self.timeouts.lock().1;
        let mut sent = 0;
        loop {
            let control = if sent == 0 { control } else { &[] };
            let r = self.retry(w, libc::POLLOUT, nonblock, timeout, |fd| {
                hostsock::sendmsg(fd, &data[sent..], name, control, flags | libc::MSG_DONTWAIT)
            });
            match r {
                Ok(n) => {
                    sent += n;
                    if self.kind != SockType::Stream || sent == data.len() || n == 0 {
                        return Ok(sent);
                    }
                }
                Err(e) if sent == 0 => return Err(e),
                Err(_) => return Ok(sent),
            }
        }
    }

    /// Receives into `data` and up to `control_cap` bytes of control messages in one
    /// host call, waiting for data unless `nonblock` (an error queue read never waits).
    pub fn recv(
        &self,
        w: &Arc<Waiter>,
        data: &mut [u8],
        control: &mut [u8],
        flags: i32,
        nonblock: bool,
    ) -> Result<HostReceived> {
        let timeout = self.timeouts.lock().0;
        let nonblock = nonblock || flags & libc::MSG_ERRQUEUE != 0;
        let mut name = [0u8; SOCKADDR_MAX];
        let got = self.retry(w, libc::POLLIN, nonblock, timeout, |fd| {
            hostsock::recvmsg(fd, data, &mut name, control, flags | libc::MSG_DONTWAIT)
        })?;
        let from = name[..got.name_len.min(SOCKADDR_MAX)].to_vec();
        Ok(HostReceived { got, from })
    }
}

/// The open file of a [`HostSocket`].
struct HostSocketFile(Arc<HostSocket>);

impl FileOps for HostSocketFile {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        Ok(self.0.recv(w, buf, &mut [], 0, nonblock)?.got.len)
    }

    fn write(&self, w: &Arc<Waiter>, buf: &[u8], nonblock: bool) -> Result<usize> {
        self.0.send(w, buf, None, &[], 0, nonblock)
    }

    fn stat(&self) -> Result<Stat> {
        Ok(anon_stat(SOCKFS_DEV, self.0.ino, libc::S_IFSOCK | 0o777))
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        self.0.ready(events)
    }

    fn readable_bytes(&self) -> Result<usize> {
        Ok(hostsock::int_ioctl(self.0.fd(), libc::FIONREAD)?.max(0) as usize)
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.0.fd())
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn anon_name(&self) -> Option<String> {
        Some(format!("socket:[{}]", self.0.ino))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP listener on 127.0.0.1 and its `sockaddr_in`.
    fn listener() -> (Arc<HostSocket>, Vec<u8>) {
        let l = HostSocket::open(Family::Inet, SockType::Stream, libc::SOCK_STREAM, 0).unwrap();
        let mut any = vec![0u8; 16];
        any[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        any[4..8].copy_from_slice(&[127, 0, 0, 1]);
        hostsock::bind(l.fd(), &any).unwrap();
        hostsock::listen(l.fd(), 4).unwrap();
        let mut name = [0u8; SOCKADDR_MAX];
        let len = hostsock::name(l.fd(), &mut name, false).unwrap();
        (l, name[..len].to_vec())
    }

    #[test]
    fn blocking_accept_ends_on_interrupt_and_timeout() {
        let (l, _) = listener();
        let w = Waiter::new();
        assert_eq!(l.accept(&w, true).err(), Some(Errno::EAGAIN));
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            w2.interrupt();
        });
        assert_eq!(l.accept(&w, false).err(), Some(Errno::EINTR));
        t.join().unwrap();
        w.clear_interrupt();
        l.set_timeout(true, Some(Duration::from_millis(50)));
        assert_eq!(l.accept(&w, false).err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn connect_send_and_receive() {
        let (l, addr) = listener();
        let w = Waiter::new();
        let c = HostSocket::open(Family::Inet, SockType::Stream, libc::SOCK_STREAM, 0).unwrap();
        c.connect(&w, &addr, false).unwrap();
        let (s, peer) = l.accept(&w, false).unwrap();
        assert_eq!(&peer[4..8], &[127, 0, 0, 1]);
        let big = vec![7u8; 4 << 20];
        let reader = std::thread::spawn(move || {
            let mut got = 0;
            let mut buf = vec![0u8; 1 << 16];
            let w = Waiter::new();
            loop {
                match s.recv(&w, &mut buf, &mut [], 0, false).unwrap().got.len {
                    0 => return got,
                    n => got += n,
                }
            }
        });
        assert_eq!(c.send(&w, &big, None, &[], 0, false), Ok(big.len()));
        hostsock::shutdown(c.fd(), libc::SHUT_WR).unwrap();
        assert_eq!(reader.join().unwrap(), big.len());
    }
}
