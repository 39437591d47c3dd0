//! eventfd: a 64-bit counter as a file, with Linux's `eventfd(2)` semantics.
//!
//! - A write of an 8-byte value adds it to the counter, blocking while the sum would
//!   exceed [`MAX_COUNT`].
//! - A read returns the counter and resets it to 0 (or, in semaphore mode, returns 1 and
//!   decrements it), blocking while it is 0.
//! - Every change wakes the eventfd's wait queue, which readers, writers, `poll` and
//!   epoll share.
//!
//! Eventfds are anonymous: they have no path, and `fstat` shows Linux's shared anonymous
//! inode ([`anon_inode_stat`]).

use crate::Result;
use crate::file::{FileOps, PollEvents};
use crate::inode::Stat;
use crate::synth::{next_ino, synth_stat};
use crate::wait::{WaitQueue, Waiter};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::sync::{Arc, OnceLock};

/// The largest value the counter can hold (`ULLONG_MAX - 1`).
pub const MAX_COUNT: u64 = u64::MAX - 1;

/// Attributes of Linux's anonymous inode, which every eventfd and epoll instance shares:
/// mode 0600 with no file type bits, owned by root.
pub fn anon_inode_stat() -> Stat {
    static INO: OnceLock<u64> = OnceLock::new();
    synth_stat(*INO.get_or_init(next_ino), 0o600, 0, 0)
}

/// An eventfd.
pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    queue: WaitQueue,
}

/// A new eventfd whose counter starts at `initval` (`EFD_SEMAPHORE` when `semaphore`).
pub fn eventfd(initval: u32, semaphore: bool) -> EventFd {
    EventFd {
        count: Mutex::new(u64::from(initval)),
        semaphore,
        queue: WaitQueue::new(),
    }
}

impl EventFd {
    /// Takes what a read returns, if the counter allows it now.
    fn try_read(&self) -> Option<u64> {
        let mut count = self.count.lock();
        if *count == 0 {
            return None;
        }
        let value = if self.semaphore { 1 } else { *count };
        *count -= value;
        Some(value)
    }

    /// Adds `n` without blocking, saturating at [`MAX_COUNT`] (Linux's `eventfd_signal`,
    /// which the kernel uses to signal completions).
    pub fn signal(&self, n: u64) {
        {
            let mut count = self.count.lock();
            *count = count.saturating_add(n).min(MAX_COUNT);
        }
        self.queue.notify_all();
    }

    /// Adds `value`, if it fits now.
    fn try_add(&self, value: u64) -> bool {
        let mut count = self.count.lock();
        if MAX_COUNT - *count < value {
            return false;
        }
        *count += value;
        true
    }
}

impl FileOps for EventFd {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        loop {
            if let Some(value) = self.try_read() {
                self.queue.notify_all();
                buf[..8].copy_from_slice(&value.to_ne_bytes());
                return Ok(8);
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            let _reg = self.queue.register(w);
            if *self.count.lock() != 0 {
                continue;
            }
            w.wait(None)?;
        }
    }

    fn write(&self, w: &Arc<Waiter>, buf: &[u8], nonblock: bool) -> Result<usize> {
        let bytes: [u8; 8] = buf
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(Errno::EINVAL)?;
        let value = u64::from_ne_bytes(bytes);
        if value == u64::MAX {
            return Err(Errno::EINVAL);
        }
        loop {
            if self.try_add(value) {
                self.queue.notify_all();
                return Ok(8);
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            let _reg = self.queue.register(w);
            if MAX_COUNT - *self.count.lock() >= value {
                continue;
            }
            w.wait(None)?;
        }
    }

    fn any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn stat(&self) -> Result<Stat> {
        Ok(anon_inode_stat())
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        let count = *self.count.lock();
        let mut r = 0;
        if count > 0 {
            r |= libc::POLLIN;
        }
        if count < MAX_COUNT {
            r |= libc::POLLOUT;
        }
        r & (events | libc::POLLERR | libc::POLLHUP)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn anon_name(&self) -> Option<String> {
        Some("anon_inode:[eventfd]".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn read_u64(e: &EventFd, w: &Arc<Waiter>, nonblock: bool) -> Result<u64> {
        let mut buf = [0u8; 8];
        assert_eq!(e.read(w, &mut buf, nonblock)?, 8);
        Ok(u64::from_ne_bytes(buf))
    }

    fn write_u64(e: &EventFd, w: &Arc<Waiter>, v: u64, nonblock: bool) -> Result<usize> {
        e.write(w, &v.to_ne_bytes(), nonblock)
    }

    #[test]
    fn counter_adds_and_read_resets() {
        let w = Waiter::new();
        let e = eventfd(3, false);
        assert_eq!(
            e.poll(libc::POLLIN | libc::POLLOUT),
            libc::POLLIN | libc::POLLOUT
        );
        write_u64(&e, &w, 4, false).unwrap();
        assert_eq!(read_u64(&e, &w, true).unwrap(), 7);
        assert_eq!(read_u64(&e, &w, true), Err(Errno::EAGAIN));
        assert_eq!(e.poll(libc::POLLIN | libc::POLLOUT), libc::POLLOUT);
    }

    #[test]
    fn semaphore_mode_counts_down_by_one() {
        let w = Waiter::new();
        let e = eventfd(2, true);
        assert_eq!(read_u64(&e, &w, true).unwrap(), 1);
        assert_eq!(read_u64(&e, &w, true).unwrap(), 1);
        assert_eq!(read_u64(&e, &w, true), Err(Errno::EAGAIN));
    }

    #[test]
    fn short_buffers_and_max_value_are_invalid() {
        let w = Waiter::new();
        let e = eventfd(1, false);
        assert_eq!(e.read(&w, &mut [0u8; 7], true), Err(Errno::EINVAL));
        assert_eq!(e.write(&w, &[1u8; 7], true), Err(Errno::EINVAL));
        assert_eq!(write_u64(&e, &w, u64::MAX, true), Err(Errno::EINVAL));
        // Longer buffers use their first 8 bytes.
        let mut long = [0u8; 16];
        long[..8].copy_from_slice(&2u64.to_ne_bytes());
        assert_eq!(e.write(&w, &long, true).unwrap(), 8);
        assert_eq!(e.read(&w, &mut long, true).unwrap(), 8);
        assert_eq!(u64::from_ne_bytes(long[..8].try_into().unwrap()), 3);
    }

    #[test]
    fn overflow_would_block() {
        let w = Waiter::new();
        let e = eventfd(0, false);
        write_u64(&e, &w, MAX_COUNT, true).unwrap();
        assert_eq!(e.poll(libc::POLLOUT), 0);
        assert_eq!(write_u64(&e, &w, 1, true), Err(Errno::EAGAIN));
        // Adding nothing always fits.
        assert_eq!(write_u64(&e, &w, 0, true).unwrap(), 8);
        assert_eq!(read_u64(&e, &w, true).unwrap(), MAX_COUNT);
        assert_eq!(write_u64(&e, &w, 1, true).unwrap(), 8);
    }

    #[test]
    fn blocking_read_wakes_on_write_from_another_thread() {
        let e = Arc::new(eventfd(0, false));
        let e2 = e.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            write_u64(&e2, &Waiter::new(), 5, false).unwrap();
        });
        assert_eq!(read_u64(&e, &Waiter::new(), false).unwrap(), 5);
        t.join().unwrap();
    }

    #[test]
    fn blocking_write_wakes_on_read_from_another_thread() {
        let e = Arc::new(eventfd(0, false));
        write_u64(&e, &Waiter::new(), MAX_COUNT, false).unwrap();
        let e2 = e.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            read_u64(&e2, &Waiter::new(), false).unwrap()
        });
        write_u64(&e, &Waiter::new(), 9, false).unwrap();
        assert_eq!(t.join().unwrap(), MAX_COUNT);
        assert_eq!(read_u64(&e, &Waiter::new(), true).unwrap(), 9);
    }

    #[test]
    fn interrupt_ends_a_blocked_read() {
        let e = eventfd(0, false);
        let w = Waiter::new();
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.interrupt();
        });
        assert_eq!(read_u64(&e, &w, false), Err(Errno::EINTR));
        t.join().unwrap();
    }

    #[test]
    fn stat_is_the_anonymous_inode() {
        let st = eventfd(0, false).stat().unwrap();
        assert_eq!(st.mode, 0o600);
        assert_eq!(st.ino, anon_inode_stat().ino);
    }
}
