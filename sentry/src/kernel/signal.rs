//! Signal numbers, sets and default actions, and sending a signal to a process.
//!
//! A signal sent to a process becomes pending on it; every task of the process that does
//! not block it is interrupted (its waiter woken with EINTR, its stub kicked out of guest
//! code with a host SIGCHLD), and the first one to look acts on it
//! ([`super::task::Task::handle_signals`]).
//!
//! A standard signal is pending at most once; each real-time one is queued with its own
//! siginfo, up to the receiving user's `RLIMIT_SIGPENDING`. A signal that its disposition
//! ignores is discarded on arrival only if it is not blocked, and at delivery otherwise.

use super::process::{Process, TaskHandle};
use super::sigframe::SigInfo;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The first real-time signal (the kernel's numbering; glibc keeps 32 and 33 for itself).
pub const SIGRTMIN: i32 = 32;

/// `si_code` of a signal sent with `kill`.
pub const SI_USER: i32 = 0;

/// Whether a disposition throws `sig` away: `SIG_IGN`, or `SIG_DFL` for a signal whose
/// default action does nothing at delivery (SIGCHLD, SIGURG, SIGWINCH, SIGCONT).
pub fn handler_ignores(handler: u64, sig: i32) -> bool {
    handler == SIG_IGN
        || (handler == SIG_DFL
            && matches!(
                default_action(sig),
                DefaultAction::Ignore | DefaultAction::Continue
            ))
}

/// Whether `sig` is discarded on arrival at `process` (at its thread `thread`, or, for a
/// signal to the whole process, as its leader sees it). As on Linux, a blocked signal is
/// never discarded, whatever its disposition: the disposition may change before it is
/// unblocked, and `sigwaitinfo` or a signalfd may take it.
fn discarded_on_arrival(process: &Process, thread: Option<&TaskHandle>, sig: i32) -> bool {
    if sig == libc::SIGKILL || sig == libc::SIGSTOP {
        return false;
    }
    let blocked = match thread {
        Some(t) => t.sigmask() & bit(sig) != 0,
        None => {
            let tasks = process.tasks.lock();
            tasks
                .iter()
                .find(|t| t.tid == process.pid)
                .or(tasks.first())
                .is_some_and(|t| t.sigmask() & bit(sig) != 0)
        }
    };
    !blocked && handler_ignores(process.sigactions.lock()[sig as usize - 1].handler, sig)
}

/// Signals queued and not yet taken, by the real uid of the receiving process: the count
/// `RLIMIT_SIGPENDING` limits (per user, across processes, as on Linux).
static QUEUED_BY_USER: Mutex<BTreeMap<u32, Arc<AtomicU64>>> = Mutex::new(BTreeMap::new());

/// One queued signal counted against its receiving user; dropping it uncounts it.
struct Charge(Arc<AtomicU64>);

impl Charge {
    /// Counts one more signal for `to`; `None` if that would exceed its limit, unless
    /// `force`d.
    fn take(to: Receiver, force: bool) -> Option<Charge> {
        let count = QUEUED_BY_USER.lock().entry(to.uid).or_default().clone();
        let before = count.fetch_add(1, Ordering::SeqCst);
        if before >= to.limit && !force {
            count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Charge(count))
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whose queue limit a signal counts against: the receiving process's real user and its
/// `RLIMIT_SIGPENDING`.
#[derive(Clone, Copy, Debug)]
pub struct Receiver {
    uid: u32,
    limit: u64,
}

impl Receiver {
    /// The receiver for signals to `process` or one of its threads.
    pub fn of(process: &Process) -> Receiver {
        Receiver {
            uid: process.creds.lock().uid,
            limit: process.rlimit(libc::RLIMIT_SIGPENDING as usize),
        }
    }
}

/// A queued signal.
struct Queued {
    info: SigInfo,
    _charge: Charge,
}

/// Signals pending on a thread or a process, each with the siginfo it arrived with, in
/// arrival order. A standard signal is pending at most once (a second one merges into
/// the first); every real-time signal is queued.
#[derive(Default)]
pub struct Pending {
    set: SigSet,
    queue: VecDeque<Queued>,
}

/// `si_code` of `info`.
fn si_code(info: &SigInfo) -> i32 {
    i32::from_ne_bytes(info.0[8..12].try_into().expect("4 bytes"))
}

impl Pending {
    /// The pending set.
    pub fn set(&self) -> SigSet {
        self.set
    }

    /// Adds a signal for `to`. Beyond the receiver's `RLIMIT_SIGPENDING`, a real-time
    /// signal that did not come from `kill` fails with EAGAIN; any other signal is still
    /// made pending, but a user-queued one loses its siginfo (like Linux, which lets the
    /// kernel's and `kill`'s standard signals past the limit). A POSIX timer's signal is
    /// queued even behind a pending instance of its standard signal: each timer has its
    /// own entry on Linux.
    pub fn add(&mut self, info: SigInfo, to: Receiver) -> Result<(), Errno> {
        let sig = info.signo();
        let code = si_code(&info);
        if sig < SIGRTMIN && self.set & bit(sig) != 0 && info.timer_tag().is_none() {
            return Ok(());
        }
        match Charge::take(to, sig < SIGRTMIN && code >= 0) {
            Some(charge) => self.queue.push_back(Queued {
                info,
                _charge: charge,
            }),
            None if sig >= SIGRTMIN && code != SI_USER => return Err(Errno::EAGAIN),
            None => {}
        }
        self.set |= bit(sig);
        Ok(())
    }

    /// A queued instance of `sig` that `matches`, to change in place (a POSIX timer counts
    /// further expirations in its pending signal).
    pub fn queued_mut(
        &mut self,
        sig: i32,
        matches: impl Fn(&SigInfo) -> bool,
    ) -> Option<&mut SigInfo> {
        self.queue
            .iter_mut()
            .map(|q| &mut q.info)
            .find(|i| i.signo() == sig && matches(i))
    }

    /// Discards every pending signal in `mask`.
    pub fn discard(&mut self, mask: SigSet) {
        self.set &= !mask;
        self.queue.retain(|q| bit(q.info.signo()) & mask == 0);
    }

    /// Removes and returns the lowest pending signal in `allowed` (its oldest instance).
    pub fn take(&mut self, allowed: SigSet) -> Option<SigInfo> {
        let ready = self.set & allowed;
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        let info = self
            .queue
            .iter()
            .position(|q| q.info.signo() == sig)
            .and_then(|at| self.queue.remove(at))
            .map(|q| q.info);
        if !self.queue.iter().any(|q| q.info.signo() == sig) {
            self.set &= !bit(sig);
        }
        // Pending without its siginfo (it did not fit the queue): what Linux reports then.
        Some(info.unwrap_or_else(|| SigInfo::user(sig, SI_USER, 0, 0)))
    }
}

/// Takes the lowest pending signal in `allowed` off `thread`'s queue, else off `process`'s:
/// the signal a handler, `sigtimedwait` or a signalfd read receives. A POSIX timer's
/// signal is completed on the way ([`super::posix_timer::deliver`]); one its timer has
/// retired is dropped.
pub fn dequeue(process: &Process, thread: &TaskHandle, allowed: SigSet) -> Option<SigInfo> {
    loop {
        let own = thread.pending.lock().take(allowed);
        let info = own.or_else(|| process.pending.lock().take(allowed))?;
        if let Some(info) = super::posix_timer::deliver(process, info) {
            return Some(info);
        }
    }
}

/// The stop signals.
pub const STOP_SIGNALS: SigSet = (1 << (libc::SIGSTOP - 1))
    | (1 << (libc::SIGTSTP - 1))
    | (1 << (libc::SIGTTIN - 1))
    | (1 << (libc::SIGTTOU - 1));

/// Discards the signals in `mask` pending on `process` and on each of its threads.
pub fn discard_everywhere(process: &Process, mask: SigSet) {
    process.pending.lock().discard(mask);
    for t in process.tasks.lock().iter() {
        t.pending.lock().discard(mask);
    }
}

/// Whether `sender` may signal `target` (Linux's `check_kill_permission`): a process may
/// signal itself, root any process, others those whose real or saved user id is their
/// real or effective one; `SIGCONT` also reaches any process of the sender's session.
pub fn may_signal(kernel: &super::Kernel, sender: &Process, target: &Process, sig: i32) -> bool {
    if std::ptr::eq(sender, target) {
        return true;
    }
    let by = *sender.creds.lock();
    let to = *target.creds.lock();
    if by.has_all_caps()
        || [by.uid, by.euid]
            .iter()
            .any(|&id| id == to.uid || id == to.suid)
    {
        return true;
    }
    sig == libc::SIGCONT && {
        let tree = kernel.tree.lock();
        let sid = |p: &Process| tree.get(p.pid).map(|e| e.sid);
        sid(sender).is_some() && sid(sender) == sid(target)
    }
}

/// Makes a signal pending on `process`, or on its thread `thread`, and interrupts the
/// tasks that can take it. A stop signal cancels a pending SIGCONT (a SIGCONT resumes
/// the process first: see [`continue_process`]). EAGAIN if the signal cannot be queued
/// (see [`Pending::add`]).
pub fn try_send(
    process: &Process,
    thread: Option<&TaskHandle>,
    info: SigInfo,
) -> Result<(), Errno> {
    let sig = info.signo();
    if bit(sig) & STOP_SIGNALS != 0 {
        discard_everywhere(process, bit(libc::SIGCONT));
    }
    if sig == 0 || discarded_on_arrival(process, thread, sig) {
        return Ok(());
    }
    let to = Receiver::of(process);
    match thread {
        Some(t) => {
            t.pending.lock().add(info, to)?;
            t.interrupt_if_unblocked(sig);
        }
        None => {
            process.pending.lock().add(info, to)?;
            for t in process.tasks.lock().iter() {
                t.interrupt_if_unblocked(sig);
            }
        }
    }
    process.signal_events.notify_all();
    Ok(())
}

/// Sends a signal to `process` as a whole; a real-time signal the queue limit refuses
/// is lost (see [`try_send`]).
pub fn send(process: &Process, info: SigInfo) {
    let _ = try_send(process, None, info);
}

/// Sends a signal to one thread of `process`; a real-time signal the queue limit refuses
/// is lost (see [`try_send`]).
pub fn send_to_thread(process: &Process, handle: &TaskHandle, info: SigInfo) {
    let _ = try_send(process, Some(handle), info);
}

/// SIGCONT's effect at sending time: pending stop signals go, and a stopped process
/// resumes, its parent told with SIGCHLD (`CLD_CONTINUED`) and a wait report.
pub fn continue_process(kernel: &super::Kernel, process: &Process) {
    discard_everywhere(process, STOP_SIGNALS);
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
