//! How a POSIX timer (`timer_create`) runs — on a wall-clock [`Timer`] or, for a CPU-time
//! clock, a [`CpuTimer`] — and notifies: a signal to the process or to one thread, at
//! most one pending per timer.
//!
//! While a timer's signal is pending, further expirations queue nothing: they are counted
//! in the pending siginfo's `si_overrun`. When the signal is taken off the queue (for a
//! handler, `sigtimedwait` or a signalfd read) its count becomes what `timer_getoverrun`
//! reports. Re-arming or deleting the timer retires a pending signal: it is dropped
//! instead of delivered, unless the re-armed timer expires first and takes it over, as on
//! Linux.
//!
//! A timer's queued siginfo carries the timer's current *tag* in the kernel-private
//! `si_sys_private` slot: a new tag at each (re-)arming tells a live signal from a retired
//! one. The tag is cleared before the guest sees the siginfo.

use super::Kernel;
use super::cputimer::CpuTimer;
use super::process::{Process, TaskHandle};
use super::sigframe::SigInfo;
use super::signal;
use super::timer::Timer;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Where a timer's signal goes (`sigev_notify`).
pub enum Target {
    /// Nowhere (`SIGEV_NONE`).
    None,
    /// To the process (`SIGEV_SIGNAL`).
    Process,
    /// To one thread (`SIGEV_THREAD_ID`).
    Thread(Arc<TaskHandle>),
}

/// The notification side of one POSIX timer.
pub struct Notify {
    id: i32,
    signo: i32,
    value: u64,
    target: Target,
    state: Mutex<State>,
}

struct State {
    /// Tag of the current arming.
    tag: u32,
    /// `si_overrun` of the last signal delivered since that arming.
    last_overrun: i32,
}

fn next_tag() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    loop {
        let tag = NEXT.fetch_add(1, Ordering::Relaxed);
        if tag != 0 {
            return tag;
        }
    }
}

impl Notify {
    /// Notification of timer `id`: signal `signo` with `sigev_value` `value` to `target`.
    pub fn new(id: i32, signo: i32, value: u64, target: Target) -> Notify {
        Notify {
            id,
            signo,
            value,
            target,
            state: Mutex::new(State {
                tag: next_tag(),
                last_overrun: 0,
            }),
        }
    }

    /// The timer expired `expirations` (>= 1) times: queues its signal, or counts them in
    /// the one still pending.
    pub fn fire(&self, process: &Process, expirations: u64) {
        let pending = match &self.target {
            Target::None => return,
            Target::Process => &process.pending,
            Target::Thread(t) => &t.pending,
        };
        let tag = self.state.lock().tag;
        let fresh = SigInfo::timer(
            self.signo,
            self.id,
            expirations.saturating_sub(1),
            self.value,
            tag,
        );
        {
            let mut pending = pending.lock();
            let ours = |i: &SigInfo| i.timer_tag().is_some_and(|(id, _)| id == self.id);
            if let Some(queued) = pending.queued_mut(self.signo, ours) {
                if queued.timer_tag() == Some((self.id, tag)) {
                    let total = queued.overrun() as u64 + expirations;
                    queued.set_overrun(total);
                } else {
                    // Retired by a re-arming, and now live again for the new one.
                    *queued = fresh;
                }
                return;
            }
        }
        match &self.target {
            Target::Thread(t) => signal::send_to_thread(process, t, fresh),
            _ => signal::send(process, fresh),
        }
    }

    /// The timer is re-armed or deleted: a signal still pending is retired, and
    /// `timer_getoverrun` reads 0 until the next delivery.
    pub fn rearm(&self) {
        let mut s = self.state.lock();
        s.tag = next_tag();
        s.last_overrun = 0;
    }

    /// `timer_getoverrun`: the overrun count of the last signal delivered.
    pub fn overrun(&self) -> i32 {
        self.state.lock().last_overrun
    }
}

/// Completes the delivery of `info`, just taken off a pending queue of `process`: a POSIX
/// timer's live signal records its overrun count for `timer_getoverrun` and loses its tag;
/// a retired one is dropped (`None`). Other signals pass unchanged.
pub fn deliver(process: &Process, mut info: SigInfo) -> Option<SigInfo> {
    let Some((id, tag)) = info.timer_tag() else {
        return Some(info);
    };
    let notify = process
        .posix_timers
        .lock()
        .get(&id)
        .map(|t| t.notify.clone())?;
    let mut state = notify.state.lock();
    if state.tag != tag {
        return None;
    }
    state.last_overrun = info.overrun();
    info.clear_timer_tag();
    Some(info)
}

/// What runs a POSIX timer: a wall-clock timer, or a timer on a CPU-time clock.
#[derive(Clone)]
pub enum Clocked {
    /// On a wall or monotonic clock.
    Wall(Arc<Timer>),
    /// On a CPU-time clock.
    Cpu(Arc<CpuTimer>),
}

impl Clocked {
    /// Time left until the next expiry (1 ns when due but not fired yet; zero when
    /// disarmed) and the interval.
    pub fn get(&self) -> (Duration, Duration) {
        match self {
            Clocked::Wall(t) => t.get(),
            Clocked::Cpu(t) => t.get(Duration::from_nanos(1)),
        }
    }

    /// Disarms the timer.
    pub fn disarm(&self, kernel: &Kernel) {
        match self {
            Clocked::Wall(t) => {
                kernel.timers.arm(t, None, Duration::ZERO);
            }
            Clocked::Cpu(t) => kernel.cpu_timers.arm(t, None, Duration::ZERO),
        }
    }
}

/// Deletes every POSIX timer of `process` (at `execve`, as on Linux).
pub fn delete_all(kernel: &Kernel, process: &Process) {
    let timers = std::mem::take(&mut *process.posix_timers.lock());
    for t in timers.values() {
        t.timer.disarm(kernel);
    }
}
