//! Socket ioctls: the interface queries every socket answers about `lo` (`SIOCGIFCONF`
//! and the `SIOCGIF*` requests of [`loopback::ifreq`]), and the send queue
//! (`SIOCOUTQ`, `SIOCOUTQNSD`, `SIOCATMARK`). `FIONREAD`/`SIOCINQ`, `FIONBIO` and the
//! close-on-exec requests are answered for every file by the generic ioctl.

use crate::errno::SysResult;
use crate::kernel::Network;
use crate::kernel::task::Task;
use fs::socket::host::HostSocket;
use fs::socket::loopback::{self, IFREQ_SIZE};
use fs::socket::{Family, SockType, Socket};
use nix::errno::Errno;

/// `SIOCOUTQ`: bytes not yet taken by the peer (`TIOCOUTQ`'s number).
const SIOCOUTQ: u64 = libc::TIOCOUTQ;
/// `SIOCATMARK`: whether the urgent mark is next.
const SIOCATMARK: u64 = 0x8905;
/// `struct ifconf`: a buffer length, then the buffer.
const IFCONF_LEN: u64 = 0;
const IFCONF_BUF: u64 = 8;

/// `SIOCGIFCONF`: as many `ifreq` records as fit the guest's buffer, and their size (with
/// no buffer, the size all of them need).
fn ifconf(task: &Task, arg: u64) -> SysResult {
    let len: i32 = task.read_obj(arg + IFCONF_LEN)?;
    let buf: u64 = task.read_obj(arg + IFCONF_BUF)?;
    let records = loopback::ifconf();
    let used = if buf == 0 {
        records.len() * IFREQ_SIZE
    } else {
        let fit = (len.max(0) as usize / IFREQ_SIZE).min(records.len());
        for (i, r) in records.iter().take(fit).enumerate() {
            task.mm().write(buf + (i * IFREQ_SIZE) as u64, r)?;
        }
        fit * IFREQ_SIZE
    };
    task.write_obj(arg + IFCONF_LEN, &(used as i32))?;
    Ok(0)
}

/// Answers `ioctl(fd, req, arg)` for socket `sock`: `ENOTTY` for what is no socket ioctl.
/// Under `--network=host` the interfaces are the host's: their queries go to a host
/// socket of `sock`'s family, made for the call.
pub fn ioctl(task: &mut Task, sock: &Socket, req: u64, arg: u64) -> SysResult {
    if task.kernel.opts.network == Network::Host
        && (req == libc::SIOCGIFCONF || loopback::is_ifreq(req))
    {
        let probe = HostSocket::open(sock.family(), SockType::Dgram, libc::SOCK_DGRAM, 0)?;
        return super::host::ioctl(task, &probe, req, arg);
    }
    let tcp = sock.family().is_inet() && sock.kind() == SockType::Stream;
    let queued = match req {
        libc::SIOCGIFCONF => return ifconf(task, arg),
        SIOCOUTQ if sock.family() == Family::Netlink => return Err(Errno::ENOTTY.into()),
        SIOCOUTQ | libc::SIOCOUTQNSD | SIOCATMARK if tcp && sock.is_listening() => {
            return Err(Errno::EINVAL.into());
        }
        // Loopback takes what TCP and UDP send at once; urgent data is never sent.
        SIOCOUTQ if sock.family().is_inet() => 0,
        libc::SIOCOUTQNSD | SIOCATMARK if tcp => 0,
        SIOCOUTQ => sock.unread_sent(),
        _ if !loopback::is_ifreq(req) => return Err(Errno::ENOTTY.into()),
        _ => {
            let mut ifr = [0u8; IFREQ_SIZE];
            task.mm().read(arg, &mut ifr)?;
            loopback::ifreq(req, sock.family(), &mut ifr)?;
            task.mm().write(arg, &ifr)?;
            return Ok(0);
        }
    };
    task.write_obj(arg, &(queued.min(i32::MAX as usize) as i32))?;
    Ok(0)
}
