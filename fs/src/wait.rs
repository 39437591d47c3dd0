//! Blocking: wait queues and the per-task [`Waiter`].
//!
//! A task that must block registers its [`Waiter`] on the [`WaitQueue`]s of what it waits
//! for, re-checks its condition (so a wake-up between the check and the registration is not
//! lost), then sleeps in [`Waiter::wait`]. Anything that changes the condition calls
//! [`WaitQueue::notify_all`]. A signal for the task sets the waiter's interrupt flag and
//! wakes it, and the blocking call returns `EINTR`.
//!
//! The waiter sleeps in `poll` on an eventfd, so the same waiter can also wait for a host
//! fd to become ready (a terminal or pipe the sentry inherited as guest stdio).
//!
//! Besides waiters, a queue can have watchers ([`Wake`]): objects told of every notify
//! without sleeping themselves, as an epoll instance is told of its files' changes.

use crate::Result;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// A task's means of sleeping until woken, interrupted, or a deadline.
pub struct Waiter {
    efd: OwnedFd,
    interrupted: AtomicBool,
    id: u64,
}

impl Waiter {
    /// A new waiter.
    pub fn new() -> Arc<Waiter> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let flags =
            nix::sys::eventfd::EfdFlags::EFD_CLOEXEC | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK;
        let efd = nix::sys::eventfd::EventFd::from_value_and_flags(0, flags).expect("eventfd");
        Arc::new(Waiter {
            efd: efd.into(),
            interrupted: AtomicBool::new(false),
            id: NEXT.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Wakes the waiter if it sleeps (or makes its next sleep return at once).
    pub fn wake(&self) {
        let _ = nix::unistd::write(&self.efd, &1u64.to_ne_bytes());
    }

    /// Marks the waiter interrupted (a signal is pending) and wakes it. Blocking calls
    /// fail with `EINTR` until [`clear_interrupt`](Self::clear_interrupt).
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Clears the interrupt flag.
    pub fn clear_interrupt(&self) {
        self.interrupted.store(false, Ordering::SeqCst);
    }

    /// Whether the waiter was interrupted.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn drain(&self) {
        let mut buf = [0u8; 8];
        let _ = nix::unistd::read(&self.efd, &mut buf);
    }

    /// Sleeps until woken. `EINTR` if interrupted, `ETIMEDOUT` at `deadline`.
    pub fn wait(&self, deadline: Option<Instant>) -> Result<()> {
        self.wait_fds(&[], deadline).map(|_| ())
    }

    /// Sleeps until woken or until one of the host `fds` reports one of its events;
    /// returns whether a host fd did. `EINTR` if interrupted, `ETIMEDOUT` at `deadline`.
    pub fn wait_fds(
        &self,
        fds: &[(BorrowedFd<'_>, i16)],
        deadline: Option<Instant>,
    ) -> Result<bool> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        loop {
            if self.is_interrupted() {
                return Err(Errno::EINTR);
            }
            let timeout = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Errno::ETIMEDOUT);
                    }
                    // Round up so a sub-millisecond remainder does not spin.
                    let ms = left.as_micros().div_ceil(1000).clamp(1, i32::MAX as u128) as i32;
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut polls = Vec::with_capacity(fds.len() + 1);
            polls.push(PollFd::new(self.efd.as_fd(), PollFlags::POLLIN));
            for (f, ev) in fds {
                polls.push(PollFd::new(*f, PollFlags::from_bits_truncate(*ev)));
            }
            match poll(&mut polls, timeout) {
                Err(Errno::EINTR) | Ok(0) => continue,
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            let host_ready = polls[1..]
                .iter()
                .any(|p| p.revents().is_some_and(|r| !r.is_empty()));
            let woken = polls[0].revents().is_some_and(|r| !r.is_empty());
            if woken {
                self.drain();
            }
            if self.is_interrupted() {
                return Err(Errno::EINTR);
            }
            if woken || host_ready {
                return Ok(host_ready);
            }
        }
    }

    /// The eventfd, for diagnostics.
    pub fn raw_fd(&self) -> i32 {
        self.efd.as_raw_fd()
    }
}

/// Tasks waiting for something to change.
#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Arc<Waiter>>>,
    watchers: Mutex<Vec<Weak<dyn Wake>>>,
}

/// Something a [`WaitQueue`] tells of every notify, like Linux's wait-queue callbacks
/// (epoll's items watch their files' queues this way).
pub trait Wake: Send + Sync {
    /// The queue was notified. Called without the queue's locks held.
    fn wake(&self);
}

/// Keeps a waiter registered on a queue until dropped.
pub struct Registration<'a> {
    queue: &'a WaitQueue,
    id: u64,
}

impl WaitQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `w` until the returned guard is dropped.
    pub fn register(&self, w: &Arc<Waiter>) -> Registration<'_> {
        self.waiters.lock().push(w.clone());
        Registration {
            queue: self,
            id: w.id,
        }
    }

    /// Wakes every registered waiter and tells every live watcher.
    pub fn notify_all(&self) {
        for w in self.waiters.lock().iter() {
            w.wake();
        }
        let watchers: Vec<Arc<dyn Wake>> = {
            let mut ws = self.watchers.lock();
            ws.retain(|w| w.strong_count() > 0);
            ws.iter().filter_map(Weak::upgrade).collect()
        };
        for w in watchers {
            w.wake();
        }
    }

    /// Tells `watcher` of every notify until its last `Arc` is dropped.
    pub fn watch(&self, watcher: Weak<dyn Wake>) {
        let mut ws = self.watchers.lock();
        ws.retain(|w| w.strong_count() > 0);
        ws.push(watcher);
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut ws = self.queue.waiters.lock();
        if let Some(i) = ws.iter().position(|w| w.id == self.id) {
            ws.swap_remove(i);
        }
    }
}
