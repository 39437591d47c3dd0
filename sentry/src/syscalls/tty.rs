//! Terminal ioctls on sentry ptys (Linux's `tty_ioctl`, `tty_mode_ioctl` and the pty
//! driver's): settings and window size are the pty's whichever end asks; the devpts
//! requests (`TIOCGPTN`, `TIOCSPTLCK`, `TIOCGPTLCK`, `TIOCGPTPEER`) are the master's;
//! the job-control ones follow the controlling-terminal rules of [`crate::kernel::tty`].
//! Missing: `TCGETS2`/`TCSETS2`, packet mode, `TIOCSTI`, and SIGTTOU/SIGTTIN for
//! background process groups.

use crate::errno::{SysErr, SysResult};
use crate::kernel::task::Task;
use crate::kernel::tty;
use fs::OpenFile;
use fs::pty::termios::{Termios, Winsize};
use fs::pty::{Pty, ReplicaOpen, Side};
use nix::errno::Errno;
use std::sync::Arc;

/// Flags `TIOCGPTPEER` takes for the new replica description.
const PEER_FLAGS: i32 = libc::O_ACCMODE | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;

/// Whether `pty` is the calling process's controlling terminal.
fn is_ctty(task: &Task, pty: &Arc<Pty>) -> bool {
    task.process
        .ctty
        .lock()
        .as_ref()
        .is_some_and(|t| Arc::ptr_eq(t, pty))
}

/// `ioctl(fd, req, arg)` on an end of a pty.
pub fn ioctl(task: &mut Task, file: &Arc<OpenFile>, req: u64, arg: u64) -> SysResult {
    let (pty, side) = Pty::of(file).ok_or(Errno::ENOTTY)?;
    let pty = pty.clone();
    let req = req as libc::c_ulong;
    if side == Side::Replica && pty.hung_up() {
        // A hung-up terminal's file answers nothing but this.
        return Err(if req == libc::TIOCSPGRP {
            Errno::ENOTTY
        } else {
            Errno::EIO
        }
        .into());
    }
    let master_only = |ok: SysResult| {
        if side == Side::Master {
            ok
        } else {
            Err(SysErr::from(Errno::ENOTTY))
        }
    };
    match req {
        libc::TIOCGPTN => master_only(task.write_obj(arg, &pty.index()).map(|_| 0)),
        libc::TIOCSPTLCK if side == Side::Master => {
            let lock: i32 = task.read_obj(arg)?;
            pty.set_locked(lock != 0);
            Ok(0)
        }
        libc::TIOCGPTLCK if side == Side::Master => {
            task.write_obj(arg, &i32::from(pty.locked()))?;
            Ok(0)
        }
        libc::TIOCGPTPEER if side == Side::Master => {
            let flags = arg as i32 & PEER_FLAGS;
            let ops = pty.open_replica(ReplicaOpen::Peer)?;
            let peer = OpenFile::new(ops, flags, None);
            let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
            let fd = task
                .files
                .lock()
                .insert(peer, flags & libc::O_CLOEXEC != 0, 0, limit)?;
            Ok(fd as u64)
        }
        // `ptm_open_peer` refuses any tty but a master so.
        libc::TIOCGPTPEER => Err(Errno::EIO.into()),
        libc::TIOCSPTLCK | libc::TIOCGPTLCK => Err(Errno::ENOTTY.into()),
        libc::TCGETS => {
            task.write_obj(arg, &pty.termios())?;
            Ok(0)
        }
        libc::TCSETS | libc::TCSETSW | libc::TCSETSF => {
            let t: Termios = task.read_obj(arg)?;
            pty.set_termios(t, req == libc::TCSETSF);
            Ok(0)
        }
        libc::TIOCGWINSZ => {
            task.write_obj(arg, &pty.winsize())?;
            Ok(0)
        }
        libc::TIOCSWINSZ => {
            let ws: Winsize = task.read_obj(arg)?;
            pty.set_winsize(ws);
            Ok(0)
        }
        libc::TIOCSCTTY => {
            tty::set_ctty(&task.kernel, &task.process, &pty, arg == 1)?;
            Ok(0)
        }
        libc::TIOCNOTTY => {
            tty::give_up(&task.kernel, &task.process, &pty)?;
            Ok(0)
        }
        libc::TIOCGPGRP => {
            if side == Side::Replica && !is_ctty(task, &pty) {
                return Err(Errno::ENOTTY.into());
            }
            task.write_obj(arg, &pty.pgrp())?;
            Ok(0)
        }
        libc::TIOCGSID => {
            if side == Side::Replica && !is_ctty(task, &pty) {
                return Err(Errno::ENOTTY.into());
            }
            match pty.session() {
                0 => Err(Errno::ENOTTY.into()),
                sid => task.write_obj(arg, &sid).map(|_| 0),
            }
        }
        libc::TIOCSPGRP => set_pgrp(task, &pty, arg),
        libc::TCFLSH => {
            let (input, output) = match arg as i32 {
                libc::TCIFLUSH => (true, false),
                libc::TCOFLUSH => (false, true),
                libc::TCIOFLUSH => (true, true),
                _ => return Err(Errno::EINVAL.into()),
            };
            pty.flush(side, input, output);
            Ok(0)
        }
        // A pty keeps no output of its own: what is written is already the other end's.
        libc::TIOCOUTQ => task.write_obj(arg, &0i32).map(|_| 0),
        libc::TCSBRK | libc::TCSBRKP | libc::TCXONC => Ok(0),
        _ => Err(Errno::ENOTTY.into()),
    }
}

/// `TIOCSPGRP`: only on the caller's controlling terminal, to a group of its session.
fn set_pgrp(task: &mut Task, pty: &Arc<Pty>, arg: u64) -> SysResult {
    let pgrp: i32 = task.read_obj(arg)?;
    let sid = {
        let tree = task.kernel.tree.lock();
        tree.get(task.process.pid).map_or(0, |e| e.sid)
    };
    if !is_ctty(task, pty) || pty.session() != sid {
        return Err(Errno::ENOTTY.into());
    }
    if pgrp < 0 {
        return Err(Errno::EINVAL.into());
    }
    let tree = task.kernel.tree.lock();
    if tree.group(pgrp).is_empty() {
        return Err(Errno::ESRCH.into());
    }
    if !tree.group_in_session(pgrp, sid) {
        return Err(Errno::EPERM.into());
    }
    drop(tree);
    pty.set_pgrp(pgrp);
    Ok(0)
}
