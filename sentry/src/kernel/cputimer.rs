//! Timers on CPU-time clocks (`ITIMER_VIRTUAL`, `ITIMER_PROF`, `RLIMIT_CPU`, POSIX timers
//! and `clock_nanosleep` on a [`CpuClock`]), fired by sampling.
//!
//! The host tells nobody when a stub has used so much CPU time, so while at least one CPU
//! timer is armed a wall-clock *ticker* of the [`TimerService`] wakes every
//! [`SAMPLE_PERIOD`], reads the clock of every armed timer and fires those whose expiry it
//! has passed; with none armed the ticker is disarmed and nothing runs. A CPU timer thus
//! fires up to one sample period (plus the clock's own granularity, see
//! [`super::cpuclock`]) after its CPU time is reached — much as Linux checks CPU timers at
//! its scheduler tick. An interval timer that fell behind fires once with the number of
//! intervals that passed (a POSIX timer's overrun count) and next expires at the first
//! interval boundary after the sample.

use super::cpuclock::CpuClock;
use super::timer::{Action, Timer, TimerService};
use parking_lot::Mutex;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often armed CPU timers are checked (Linux checks them at each tick, every 4 ms at
/// `HZ=250`).
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(4);

struct Arm {
    /// CPU time at which the timer expires next.
    expires: Option<Duration>,
    interval: Duration,
}

/// One timer on a CPU-time clock.
pub struct CpuTimer {
    clock: CpuClock,
    arm: Mutex<Arm>,
    action: Action,
}

impl CpuTimer {
    /// The timer's clock.
    pub fn clock(&self) -> &CpuClock {
        &self.clock
    }

    /// Time left until the next expiry, measured on the clock now (zero when disarmed;
    /// `overdue` when it is due but not fired yet), and the interval.
    pub fn get(&self, overdue: Duration) -> (Duration, Duration) {
        let (expires, interval) = {
            let a = self.arm.lock();
            (a.expires, a.interval)
        };
        let left = match (expires, self.clock.now()) {
            (None, _) => Duration::ZERO,
            (Some(e), Some(now)) if e > now => e - now,
            (Some(_), _) => overdue,
        };
        (left, interval)
    }

    /// Expirations due at CPU time `now`, moving the expiry past it.
    fn due(&self, now: Duration) -> u64 {
        let mut a = self.arm.lock();
        let Some(expires) = a.expires.filter(|&e| e <= now) else {
            return 0;
        };
        if a.interval.is_zero() {
            a.expires = None;
            return 1;
        }
        let behind = ((now - expires).as_nanos() / a.interval.as_nanos()) as u64;
        let n = behind + 1;
        a.expires = Some(expires + a.interval * n as u32);
        n
    }
}

/// Every armed CPU timer of the sandbox, and the ticker that samples them.
pub struct CpuTimers {
    service: Arc<TimerService>,
    armed: Mutex<Armed>,
}

struct Armed {
    timers: Vec<Weak<CpuTimer>>,
    ticker: Option<Arc<Timer>>,
    ticking: bool,
}

impl CpuTimers {
    /// CPU timers whose sampling runs on `service`.
    pub fn new(service: Arc<TimerService>) -> Arc<CpuTimers> {
        Arc::new(CpuTimers {
            service,
            armed: Mutex::new(Armed {
                timers: Vec::new(),
                ticker: None,
                ticking: false,
            }),
        })
    }

    /// A new, disarmed timer on `clock` running `action` at each expiry (with the number
    /// of expirations, >= 1), on the timer thread.
    pub fn create(&self, clock: CpuClock, action: Action) -> Arc<CpuTimer> {
        Arc::new(CpuTimer {
            clock,
            arm: Mutex::new(Arm {
                expires: None,
                interval: Duration::ZERO,
            }),
            action,
        })
    }

    /// Arms `t` to expire at CPU time `expires` (`None` disarms) and then every
    /// `interval` (zero: once). An expiry already passed fires at the next sample.
    pub fn arm(self: &Arc<Self>, t: &Arc<CpuTimer>, expires: Option<Duration>, interval: Duration) {
        {
            let mut a = t.arm.lock();
            a.expires = expires;
            a.interval = interval;
        }
        if expires.is_none() {
            return;
        }
        let mut armed = self.armed.lock();
        if !armed
            .timers
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(t)))
        {
            armed.timers.push(Arc::downgrade(t));
        }
        if !armed.ticking {
            armed.ticking = true;
            let me = Arc::downgrade(self);
            let ticker = armed
                .ticker
                .get_or_insert_with(|| {
                    self.service.create(Box::new(move |_| {
                        if let Some(me) = me.upgrade() {
                            me.sample();
                        }
                    }))
                })
                .clone();
            self.service
                .arm(&ticker, Some(Instant::now() + SAMPLE_PERIOD), SAMPLE_PERIOD);
        }
    }

    /// One sample: fires every armed timer whose clock has reached its expiry; forgets
    /// timers that are disarmed, dropped, or whose process or thread is gone; stops the
    /// ticker when none is left.
    fn sample(&self) {
        let timers: Vec<Arc<CpuTimer>> = self
            .armed
            .lock()
            .timers
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for t in &timers {
            let n = match t.clock.now() {
                Some(now) => t.due(now),
                None => {
                    t.arm.lock().expires = None;
                    0
                }
            };
            if n > 0 {
                (t.action)(n);
            }
        }
        drop(timers);
        let mut armed = self.armed.lock();
        armed
            .timers
            .retain(|w| w.upgrade().is_some_and(|t| t.arm.lock().expires.is_some()));
        if armed.timers.is_empty() && armed.ticking {
            armed.ticking = false;
            if let Some(ticker) = &armed.ticker {
                self.service.arm(ticker, None, Duration::ZERO);
            }
        }
    }
}
