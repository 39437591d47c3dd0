//! `timerfd`: a timer whose expirations are read from a file descriptor.

use super::timer::Timer;
use fs::{Errno, FileOps, Stat, WaitQueue, Waiter};
use parking_lot::Mutex;
use std::sync::Arc;

/// Expirations not yet read, and the queue readers and pollers sleep on.
#[derive(Default)]
pub struct Ticks {
    count: Mutex<u64>,
    queue: WaitQueue,
}

impl Ticks {
    /// Adds `n` expirations (run by the timer).
    pub fn add(&self, n: u64) {
        *self.count.lock() += n;
        self.queue.notify_all();
    }

    /// Forgets unread expirations (re-arming discards them, as on Linux).
    pub fn clear(&self) {
        *self.count.lock() = 0;
    }
}

/// An open timerfd.
pub struct TimerFd {
    /// The timer (armed with `timerfd_settime`).
    pub timer: Arc<Timer>,
    /// Its clock (`CLOCK_*`), for absolute settings.
    pub clock: i32,
    /// Expirations so far.
    pub ticks: Arc<Ticks>,
    ino: u64,
}

impl TimerFd {
    /// A timerfd over `timer`, which must add to `ticks` when it fires.
    pub fn new(timer: Arc<Timer>, clock: i32, ticks: Arc<Ticks>) -> TimerFd {
        TimerFd {
            timer,
            clock,
            ticks,
            ino: fs::synth::next_ino(),
        }
    }
}

impl FileOps for TimerFd {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> fs::Result<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        loop {
            let _reg = self.ticks.queue.register(w);
            {
                let mut c = self.ticks.count.lock();
                if *c > 0 {
                    buf[..8].copy_from_slice(&c.to_ne_bytes());
                    *c = 0;
                    return Ok(8);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            w.wait(None)?;
        }
    }

    fn stat(&self) -> fs::Result<Stat> {
        Ok(fs::synth::synth_stat(self.ino, 0o600, 0, 0))
    }

    fn poll(&self, events: fs::PollEvents) -> fs::PollEvents {
        if *self.ticks.count.lock() > 0 {
            events & libc::POLLIN
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.ticks.queue)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn anon_name(&self) -> Option<String> {
        Some("anon_inode:[timerfd]".into())
    }

    fn any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
