//! Signal numbers, sets and default actions, and sending a signal to a process.
//!
//! A signal sent to a process becomes pending on it; every task of the process that does
//! not block it is interrupted (its waiter woken with EINTR, its stub kicked out of guest
//! code with a host SIGCHLD), and the first one to look acts on it
//! ([`super::task::Task::handle_signals`]).

use super::process::Process;
use super::sigframe::SigInfo;

/// A set of signals 1..=64, bit `n - 1` for signal `n`.
pub type SigSet = u64;

/// The bit of signal `sig` in a [`SigSet`].
pub fn bit(sig: i32) -> SigSet {
    1u64 << (sig - 1)
}

/// Signals that cannot be caught, blocked or ignored.
pub const UNBLOCKABLE: SigSet = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));

/// What a signal does when its disposition is `SIG_DFL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// End the process.
    Terminate,
    /// End the process and report a core dump in the wait status.
    Core,
    /// Nothing.
    Ignore,
    /// Stop the process.
    Stop,
    /// Continue a stopped process.
    Continue,
}

/// Linux's default action for `sig` (signal(7)).
pub fn default_action(sig: i32) -> DefaultAction {
    match sig {
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => DefaultAction::Ignore,
        libc::SIGCONT => DefaultAction::Continue,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => DefaultAction::Stop,
        libc::SIGQUIT
        | libc::SIGILL
        | libc::SIGTRAP
        | libc::SIGABRT
        | libc::SIGBUS
        | libc::SIGFPE
        | libc::SIGSEGV
        | libc::SIGXCPU
        | libc::SIGXFSZ
        | libc::SIGSYS => DefaultAction::Core,
        _ => DefaultAction::Terminate,
    }
}

/// `SIG_DFL`.
pub const SIG_DFL: u64 = 0;
/// `SIG_IGN`.
pub const SIG_IGN: u64 = 1;

/// Whether `sig` would be discarded on arrival: ignored explicitly, or by default.
pub fn is_ignored(process: &Process, sig: i32) -> bool {
    if sig == libc::SIGKILL || sig == libc::SIGSTOP {
        return false;
    }
    let handler = process.sigactions.lock()[sig as usize - 1].handler;
    handler == SIG_IGN || (handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore)
}

/// Signals pending on a thread or a process, with the siginfo each arrived with (a
/// standard signal is pending at most once; a second one merges into the first).
pub struct Pending {
    set: SigSet,
    info: Vec<Option<SigInfo>>,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            set: 0,
            info: vec![None; 64],
        }
    }
}

impl Pending {
    /// The pending set.
    pub fn set(&self) -> SigSet {
        self.set
    }

    /// Adds a signal.
    pub fn add(&mut self, info: SigInfo) {
        let sig = info.signo();
        if self.set & bit(sig) == 0 {
            self.set |= bit(sig);
            self.info[sig as usize - 1] = Some(info);
        }
    }

    /// Discards every pending signal in `mask`.
    pub fn discard(&mut self, mask: SigSet) {
        self.set &= !mask;
    }

    /// Removes and returns the lowest pending signal in `allowed`.
    pub fn take(&mut self, allowed: SigSet) -> Option<SigInfo> {
        let ready = self.set & allowed;
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        self.set &= !bit(sig);
        Some(
            self.info[sig as usize - 1]
                .take()
                .unwrap_or_else(|| SigInfo::kernel(sig)),
        )
    }
}

/// The stop signals.
pub const STOP_SIGNALS: SigSet = (1 << (libc::SIGSTOP - 1))
    | (1 << (libc::SIGTSTP - 1))
    | (1 << (libc::SIGTTIN - 1))
    | (1 << (libc::SIGTTOU - 1));

/// Makes a signal pending on `process` and interrupts its tasks that can take it. A stop
/// signal cancels a pending SIGCONT (a SIGCONT resumes the process first: see
/// [`continue_process`]).
pub fn send(process: &Process, info: SigInfo) {
    let sig = info.signo();
    if bit(sig) & STOP_SIGNALS != 0 {
        process.pending.lock().discard(bit(libc::SIGCONT));
    }
    if sig == 0 || is_ignored(process, sig) {
        return;
    }
    process.pending.lock().add(info);
    for t in process.tasks.lock().iter() {
        t.interrupt_if_unblocked(sig);
    }
    process.signal_events.notify_all();
}

/// Makes a signal pending on one thread of `process` and interrupts it if it can take it.
pub fn send_to_thread(process: &Process, handle: &super::process::TaskHandle, info: SigInfo) {
    let sig = info.signo();
    if sig == 0 || is_ignored(process, sig) {
        return;
    }
    handle.pending.lock().add(info);
    handle.interrupt_if_unblocked(sig);
    process.signal_events.notify_all();
}

/// SIGCONT's effect at sending time: pending stop signals go, and a stopped process
/// resumes, its parent told with SIGCHLD (`CLD_CONTINUED`) and a wait report.
pub fn continue_process(kernel: &super::Kernel, process: &Process) {
    process.pending.lock().discard(STOP_SIGNALS);
    for t in process.tasks.lock().iter() {
        t.pending.lock().discard(STOP_SIGNALS);
    }
    let resumed = {
        let mut job = process.job.lock();
        let was = job.stopped.take().is_some();
        if was {
            job.report = Some(super::tree::JobReport::Continued);
        }
        was
    };
    if resumed {
        process.job_queue.notify_all();
        for t in process.tasks.lock().iter() {
            t.interrupt();
        }
        notify_parent_job(kernel, process, libc::CLD_CONTINUED, libc::SIGCONT);
    }
}

/// Tells `child`'s parent that it stopped or continued: SIGCHLD (unless the parent set
/// SA_NOCLDSTOP) and a wake-up for its wait calls.
pub fn notify_parent_job(kernel: &super::Kernel, child: &Process, code: i32, status: i32) {
    let parent = {
        let tree = kernel.tree.lock();
        tree.get(child.pid).and_then(|e| tree.live(e.ppid))
    };
    let Some(parent) = parent else { return };
    let flags = parent.sigactions.lock()[libc::SIGCHLD as usize - 1].flags;
    if flags & libc::SA_NOCLDSTOP as u64 == 0 {
        let uid = child.creds.lock().uid;
        send(
            &parent,
            SigInfo::child(code, child.pid, uid, status, (0, 0)),
        );
    }
    parent.child_events.notify_all();
}
