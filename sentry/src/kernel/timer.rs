//! Timers: one sentry thread fires every armed timer of the sandbox at its deadline.
//!
//! A [`Timer`] has an action (send SIGALRM, queue a POSIX timer signal, tick a timerfd)
//! that runs on the timer thread, outside every lock of the timer service, with the number
//! of expirations since the last run (more than one when an interval timer fell behind).

use parking_lot::{Condvar, Mutex};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// What a timer does when it expires (`expirations` >= 1).
pub type Action = Box<dyn Fn(u64) + Send + Sync>;

struct Arm {
    deadline: Option<Instant>,
    interval: Duration,
    /// Bumped at every (re)arm, so stale heap entries are recognised.
    seq: u64,
}

/// One timer.
pub struct Timer {
    id: u64,
    arm: Mutex<Arm>,
    action: Action,
}

impl Timer {
    /// Time left until the next expiry (zero when disarmed) and the interval.
    pub fn get(&self) -> (Duration, Duration) {
        let a = self.arm.lock();
        let left = a.deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        // An armed timer never reports zero left (Linux rounds up to a nanosecond).
        let left = if a.deadline.is_some() && left.is_zero() {
            Duration::from_nanos(1)
        } else {
            left
        };
        (left, a.interval)
    }
}

struct Queue {
    heap: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    timers: HashMap<u64, Weak<Timer>>,
    thread_started: bool,
}

/// The sandbox's timers and the thread that fires them.
pub struct TimerService {
    queue: Mutex<Queue>,
    cv: Condvar,
    next_id: AtomicU64,
}

impl Default for TimerService {
    fn default() -> Self {
        TimerService {
            queue: Mutex::new(Queue {
                heap: BinaryHeap::new(),
                timers: HashMap::new(),
                thread_started: false,
            }),
            cv: Condvar::new(),
            next_id: AtomicU64::new(1),
        }
    }
}

impl TimerService {
    /// A new, disarmed timer running `action` at each expiry.
    pub fn create(&self, action: Action) -> Arc<Timer> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let t = Arc::new(Timer {
            id,
            arm: Mutex::new(Arm {
                deadline: None,
                interval: Duration::ZERO,
                seq: 0,
            }),
            action,
        });
        self.queue.lock().timers.insert(id, Arc::downgrade(&t));
        t
    }

    /// Arms `t` to expire at `deadline` (None disarms) and then every `interval` (zero:
    /// once); returns the previous (time left, interval).
    pub fn arm(
        self: &Arc<Self>,
        t: &Arc<Timer>,
        deadline: Option<Instant>,
        interval: Duration,
    ) -> (Duration, Duration) {
        let old = t.get();
        let seq = {
            let mut a = t.arm.lock();
            a.seq += 1;
            a.deadline = deadline;
            a.interval = interval;
            a.seq
        };
        if let Some(d) = deadline {
            let mut q = self.queue.lock();
            q.heap.push(Reverse((d, seq, t.id)));
            if !q.thread_started {
                q.thread_started = true;
                let me = self.clone();
                let _ = std::thread::Builder::new()
                    .name("timers".into())
                    .spawn(move || me.run());
            }
            drop(q);
            self.cv.notify_one();
        }
        old
    }

    fn run(self: Arc<Self>) {
        let mut q = self.queue.lock();
        loop {
            let Some(&Reverse((when, seq, id))) = q.heap.peek() else {
                self.cv.wait(&mut q);
                continue;
            };
            let now = Instant::now();
            if when > now {
                self.cv.wait_until(&mut q, when);
                continue;
            }
            q.heap.pop();
            let Some(timer) = q.timers.get(&id).and_then(Weak::upgrade) else {
                q.timers.remove(&id);
                continue;
            };
            let expirations = {
                let mut a = timer.arm.lock();
                if a.seq != seq || a.deadline != Some(when) {
                    continue;
                }
                if a.interval.is_zero() {
                    a.deadline = None;
                    1
                } else {
                    let behind = now.duration_since(when).as_nanos() / a.interval.as_nanos();
                    let n = behind as u64 + 1;
                    let next = when + a.interval * n as u32;
                    a.deadline = Some(next);
                    q.heap.push(Reverse((next, seq, id)));
                    n
                }
            };
            drop(q);
            (timer.action)(expirations);
            q = self.queue.lock();
        }
    }
}

/// Converts a deadline on a Linux clock (`abs` since the clock's epoch) to an `Instant`.
pub fn instant_for(clock: i32, abs: Duration) -> Instant {
    let id = match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_ALARM | libc::CLOCK_TAI => {
            nix::time::ClockId::CLOCK_REALTIME
        }
        libc::CLOCK_BOOTTIME | libc::CLOCK_BOOTTIME_ALARM => nix::time::ClockId::CLOCK_BOOTTIME,
        _ => nix::time::ClockId::CLOCK_MONOTONIC,
    };
    let now = nix::time::clock_gettime(id)
        .map(|t| Duration::new(t.tv_sec().max(0) as u64, t.tv_nsec() as u32))
        .unwrap_or_default();
    Instant::now() + abs.saturating_sub(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn one_shot_and_interval_timers_fire() {
        let svc = Arc::new(TimerService::default());
        let hits = Arc::new(AtomicU64::new(0));
        let h = hits.clone();
        let t = svc.create(Box::new(move |n| {
            h.fetch_add(n, Ordering::SeqCst);
        }));
        svc.arm(
            &t,
            Some(Instant::now() + Duration::from_millis(10)),
            Duration::ZERO,
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(
            t.get().0,
            Duration::ZERO,
            "a fired one-shot timer is disarmed"
        );
        svc.arm(
            &t,
            Some(Instant::now() + Duration::from_millis(5)),
            Duration::from_millis(10),
        );
        std::thread::sleep(Duration::from_millis(100));
        svc.arm(&t, None, Duration::ZERO);
        let n = hits.load(Ordering::SeqCst);
        assert!(
            (6..=12).contains(&n),
            "about 10 interval expirations, got {n}"
        );
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(hits.load(Ordering::SeqCst), n, "disarmed timers stay quiet");
    }
}
