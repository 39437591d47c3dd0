//! Linux native AIO contexts (`io_setup`...): each context is a completion ring in the
//! guest's memory, laid out as Linux's `struct aio_ring` so that libaio can read
//! completions without a syscall, plus the count of requests not yet reaped.
//!
//! Requests run when they are submitted (as Linux runs buffered I/O: `io_submit` itself
//! does the read or write), and their completions are queued on the ring at once;
//! `io_getevents` waits on the context's queue for completions to reap.
//!
//! The ring: a 32-byte header (`id`, `nr`, `head`, `tail`, `magic`, `compat_features`,
//! `incompat_features`, `header_length`) and `nr` 32-byte `struct io_event`s. The sentry
//! writes events at `tail` and advances it; whoever reaps advances `head` (the sentry in
//! `io_getevents`, or libaio itself).

use fs::{WaitQueue, Waiter};
use mm::{AddressSpace, MmError};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

/// `AIO_RING_MAGIC`.
const RING_MAGIC: u32 = 0xa10a_10a1;
/// Size of the ring header and of one event.
const HEADER: u64 = 32;
const EVENT: u64 = 32;
/// Contexts' events the whole sandbox may hold (`/proc/sys/fs/aio-max-nr`).
pub const MAX_EVENTS: u64 = 65536;

/// One completion (`struct io_event`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The request's `aio_data`.
    pub data: u64,
    /// The request's `struct iocb` address.
    pub obj: u64,
    /// Bytes moved, or a negative errno.
    pub res: i64,
    /// Always 0 here.
    pub res2: i64,
}

/// An AIO context.
pub struct Context {
    /// The ring's address, which is also the context's id.
    pub ring: u64,
    /// Events the ring holds (one slot stays free, as in Linux).
    pub nr: u32,
    /// Mapped length of the ring.
    pub len: u64,
    /// Requests submitted and not yet reaped (at most `nr - 1`).
    outstanding: Mutex<u32>,
    /// Woken when a completion is queued.
    completed: WaitQueue,
}

/// Ring size for a request of `nr_events` with `cpus` possible CPUs: Linux gives at least
/// four per CPU, doubles that, adds two, then fills whole pages.
pub fn ring_layout(nr_events: u32, cpus: u32) -> (u32, u64) {
    let want = u64::from(nr_events.max(cpus * 4)) * 2 + 2;
    let len = (HEADER + want * EVENT).div_ceil(mm::PAGE_SIZE) * mm::PAGE_SIZE;
    (((len - HEADER) / EVENT) as u32, len)
}

impl Context {
    /// A context whose ring of `nr` events is mapped at `ring`, `len` bytes long; writes the
    /// ring's header.
    pub fn new(mm: &AddressSpace, ring: u64, nr: u32, len: u64) -> Result<Context, MmError> {
        let header: [u32; 8] = [0, nr, 0, 0, RING_MAGIC, 1, 0, HEADER as u32];
        let mut bytes = [0u8; 32];
        for (i, w) in header.iter().enumerate() {
            bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
        }
        mm.write(ring, &bytes)?;
        Ok(Context {
            ring,
            nr,
            len,
            outstanding: Mutex::new(0),
            completed: WaitQueue::new(),
        })
    }

    /// Reserves room for `n` more requests; `EAGAIN` if none is left.
    pub fn reserve(&self, n: u32) -> Result<u32, Errno> {
        let mut out = self.outstanding.lock();
        let room = (self.nr - 1).saturating_sub(*out);
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = n.min(room);
        *out += n;
        Ok(n)
    }

    /// Gives back `n` reserved requests that were not submitted.
    pub fn unreserve(&self, n: u32) {
        *self.outstanding.lock() -= n;
    }

    fn word(&self, mm: &AddressSpace, i: u64) -> Result<u32, MmError> {
        mm.read_obj(self.ring + i * 4)
    }

    fn set_word(&self, mm: &AddressSpace, i: u64, v: u32) -> Result<(), MmError> {
        mm.write(self.ring + i * 4, &v.to_ne_bytes())
    }

    /// Queues the completion of a submitted request at the ring's tail.
    pub fn complete(&self, mm: &AddressSpace, ev: Event) -> Result<(), MmError> {
        let tail = self.word(mm, 3)? % self.nr;
        let mut bytes = [0u8; 32];
        bytes[0..8].copy_from_slice(&ev.data.to_ne_bytes());
        bytes[8..16].copy_from_slice(&ev.obj.to_ne_bytes());
        bytes[16..24].copy_from_slice(&ev.res.to_ne_bytes());
        bytes[24..32].copy_from_slice(&ev.res2.to_ne_bytes());
        mm.write(self.ring + HEADER + u64::from(tail) * EVENT, &bytes)?;
        self.set_word(mm, 3, (tail + 1) % self.nr)?;
        self.completed.notify_all();
        Ok(())
    }

    /// Takes up to `max` completions from the ring's head.
    fn take(&self, mm: &AddressSpace, max: usize) -> Result<Vec<Event>, MmError> {
        let (mut head, tail) = (self.word(mm, 2)? % self.nr, self.word(mm, 3)? % self.nr);
        let mut out = Vec::new();
        while head != tail && out.len() < max {
            let at = self.ring + HEADER + u64::from(head) * EVENT;
            let raw: [u64; 4] = mm.read_obj(at)?;
            out.push(Event {
                data: raw[0],
                obj: raw[1],
                res: raw[2] as i64,
                res2: raw[3] as i64,
            });
            head = (head + 1) % self.nr;
        }
        self.set_word(mm, 2, head)?;
        let mut outstanding = self.outstanding.lock();
        *outstanding = outstanding.saturating_sub(out.len() as u32);
        Ok(out)
    }

    /// `io_getevents`: at least `min` and at most `max` completions, or fewer when
    /// `deadline` passes or a signal comes (`EINTR` if none was reaped).
    pub fn get_events(
        &self,
        mm: &AddressSpace,
        min: usize,
        max: usize,
        deadline: Option<Instant>,
        w: &Arc<Waiter>,
    ) -> Result<Vec<Event>, Errno> {
        let mut got = Vec::new();
        loop {
            let _reg = self.completed.register(w);
            got.extend(self.take(mm, max - got.len()).map_err(|_| Errno::EFAULT)?);
            if got.len() >= min || got.len() == max {
                return Ok(got);
            }
            match w.wait(deadline) {
                Ok(()) => {}
                Err(Errno::ETIMEDOUT) => return Ok(got),
                Err(e) if got.is_empty() => return Err(e),
                Err(_) => return Ok(got),
            }
        }
    }
}

/// Contexts by (address space id, ring address), with their address space (gone: the
/// context goes too).
type ContextMap = HashMap<(u64, u64), (Weak<AddressSpace>, Arc<Context>)>;

/// Every AIO context of the sandbox.
#[derive(Default)]
pub struct AioContexts {
    contexts: Mutex<ContextMap>,
}

impl AioContexts {
    /// Events held by live contexts (against [`MAX_EVENTS`]).
    fn events_in_use(map: &ContextMap) -> u64 {
        map.values().map(|(_, c)| u64::from(c.nr)).sum()
    }

    /// Registers `ctx` for `mm` if the sandbox's event limit allows (`EAGAIN`).
    pub fn add(&self, mm: &Arc<AddressSpace>, ctx: Arc<Context>) -> Result<(), Errno> {
        let mut map = self.contexts.lock();
        map.retain(|_, (space, _)| space.strong_count() > 0);
        if Self::events_in_use(&map) + u64::from(ctx.nr) > MAX_EVENTS * 2 {
            return Err(Errno::EAGAIN);
        }
        map.insert((mm.id(), ctx.ring), (Arc::downgrade(mm), ctx));
        Ok(())
    }

    /// The context `id` of `mm` (`EINVAL` if there is none).
    pub fn get(&self, mm: &AddressSpace, id: u64) -> Result<Arc<Context>, Errno> {
        self.contexts
            .lock()
            .get(&(mm.id(), id))
            .map(|(_, c)| c.clone())
            .ok_or(Errno::EINVAL)
    }

    /// Forgets context `id` of `mm` (`io_destroy`).
    pub fn remove(&self, mm: &AddressSpace, id: u64) -> Result<Arc<Context>, Errno> {
        self.contexts
            .lock()
            .remove(&(mm.id(), id))
            .map(|(_, c)| c)
            .ok_or(Errno::EINVAL)
    }
}

/// The host's possible CPUs (`/sys/devices/system/cpu/possible`, as `0-3,8`), which Linux
/// sizes rings by; the CPUs this process may use if that cannot be read.
pub fn possible_cpus() -> u32 {
    let count = |list: &str| -> Option<u32> {
        list.trim().split(',').try_fold(0, |n, part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            Some(n + b.parse::<u32>().ok()? + 1 - a.parse::<u32>().ok()?)
        })
    };
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| count(&s))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_fills_whole_pages_with_at_least_twice_the_events() {
        // 2 CPUs: at least 8 asked, doubled, plus two: one page.
        assert_eq!(ring_layout(1, 2), ((4096 - 32) / 32, 4096));
        let (nr, len) = ring_layout(128, 2);
        assert!(nr > 256 && len % 4096 == 0);
        assert_eq!(u64::from(nr), (len - HEADER) / EVENT);
    }
}
