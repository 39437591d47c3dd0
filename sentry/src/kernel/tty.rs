//! Controlling terminals that are sentry ptys (Linux's `tty_jobctrl.c`): which session
//! a pty belongs to, which processes have it as their terminal, and the signals the
//! terminal raises for its session (`ISIG` characters, SIGWINCH, hangups).

use super::Kernel;
use super::process::Process;
use super::sigframe::SigInfo;
use super::signal as ksig;
use fs::pty::{JobControl, Pty};
use nix::errno::Errno;
use std::sync::{Arc, Weak};

/// Raises a pty's signals in the kernel that owns its session.
struct Session {
    kernel: Weak<Kernel>,
    pty: Weak<Pty>,
}

/// Sends a terminal's signal to every process of group `pgrp`.
fn signal_group(kernel: &Kernel, pgrp: i32, sig: i32) {
    let targets = kernel.tree.lock().group(pgrp);
    for p in targets {
        send(kernel, &p, sig);
    }
}

fn send(kernel: &Kernel, p: &Process, sig: i32) {
    if sig == libc::SIGCONT {
        ksig::continue_process(kernel, p);
    }
    ksig::send(p, SigInfo::kernel(sig));
}

/// Every live process of session `sid`.
fn session_members(kernel: &Kernel, sid: i32) -> Vec<Arc<Process>> {
    let tree = kernel.tree.lock();
    tree.all_live()
        .into_iter()
        .filter(|p| tree.get(p.pid).is_some_and(|e| e.sid == sid))
        .collect()
}

/// Makes every process of session `sid` lose `pty` as its terminal.
fn forget(kernel: &Kernel, sid: i32, pty: &Arc<Pty>) {
    for p in session_members(kernel, sid) {
        let mut ctty = p.ctty.lock();
        if ctty.as_ref().is_some_and(|t| Arc::ptr_eq(t, pty)) {
            *ctty = None;
        }
    }
}

impl JobControl for Session {
    fn signal_group(&self, pgrp: i32, sig: i32) {
        if let Some(kernel) = self.kernel.upgrade() {
            signal_group(&kernel, pgrp, sig);
        }
    }

    fn hangup(&self, sid: i32) {
        let (Some(kernel), Some(pty)) = (self.kernel.upgrade(), self.pty.upgrade()) else {
            return;
        };
        forget(&kernel, sid, &pty);
        if let Some(leader) = kernel.tree.lock().live(sid) {
            send(&kernel, &leader, libc::SIGHUP);
            send(&kernel, &leader, libc::SIGCONT);
        }
    }
}

/// `(session, process group)` of `process`.
fn ids(kernel: &Kernel, process: &Process) -> Result<(i32, i32), Errno> {
    let tree = kernel.tree.lock();
    let e = tree.get(process.pid).ok_or(Errno::ESRCH)?;
    Ok((e.sid, e.pgid))
}

fn attach(kernel: &Arc<Kernel>, process: &Process, pty: &Arc<Pty>, sid: i32, pgid: i32) {
    let session = Session {
        kernel: Arc::downgrade(kernel),
        pty: Arc::downgrade(pty),
    };
    pty.set_session(sid, pgid, Some(Arc::new(session)));
    *process.ctty.lock() = Some(pty.clone());
}

/// An open of `pty`'s replica without `O_NOCTTY`: a session leader without a terminal
/// acquires it if no session has it.
pub fn opened(kernel: &Arc<Kernel>, process: &Process, pty: &Arc<Pty>) {
    let Ok((sid, pgid)) = ids(kernel, process) else {
        return;
    };
    if sid == process.pid && process.ctty.lock().is_none() && pty.session() == 0 {
        attach(kernel, process, pty, sid, pgid);
    }
}

/// `TIOCSCTTY`: the calling session leader takes `pty` as its terminal; `steal` (by
/// root) takes it from another session.
pub fn set_ctty(
    kernel: &Arc<Kernel>,
    process: &Process,
    pty: &Arc<Pty>,
    steal: bool,
) -> Result<(), Errno> {
    let (sid, pgid) = ids(kernel, process)?;
    if sid == process.pid && pty.session() == sid {
        return Ok(());
    }
    if sid != process.pid || process.ctty.lock().is_some() {
        return Err(Errno::EPERM);
    }
    let owner = pty.session();
    if owner != 0 {
        if !steal || process.creds.lock().euid != 0 {
            return Err(Errno::EPERM);
        }
        forget(kernel, owner, pty);
    }
    attach(kernel, process, pty, sid, pgid);
    Ok(())
}

/// `TIOCNOTTY`: the caller gives up `pty`, its terminal; a session leader detaches it
/// from the whole session, whose foreground group gets SIGHUP and SIGCONT.
pub fn give_up(kernel: &Kernel, process: &Process, pty: &Arc<Pty>) -> Result<(), Errno> {
    if !process
        .ctty
        .lock()
        .as_ref()
        .is_some_and(|t| Arc::ptr_eq(t, pty))
    {
        return Err(Errno::ENOTTY);
    }
    let (sid, _) = ids(kernel, process)?;
    if sid == process.pid {
        disassociate(kernel, pty, sid, false);
    } else {
        *process.ctty.lock() = None;
    }
    Ok(())
}

/// Linux's `disassociate_ctty`: the foreground group gets SIGHUP (and SIGCONT unless
/// the leader is exiting), and the session loses its terminal.
fn disassociate(kernel: &Kernel, pty: &Arc<Pty>, sid: i32, on_exit: bool) {
    let pgrp = pty.pgrp();
    if pgrp > 0 {
        signal_group(kernel, pgrp, libc::SIGHUP);
        if !on_exit {
            signal_group(kernel, pgrp, libc::SIGCONT);
        }
    }
    if pty.session() == sid {
        pty.set_session(0, 0, None);
    }
    forget(kernel, sid, pty);
}

/// `process` is exiting: a session leader's terminal leaves the session.
pub fn exit(kernel: &Kernel, process: &Process) {
    let Some(pty) = process.ctty.lock().take() else {
        return;
    };
    if let Ok((sid, _)) = ids(kernel, process)
        && sid == process.pid
    {
        disassociate(kernel, &pty, sid, true);
    }
}
