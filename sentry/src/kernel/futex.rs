//! Futexes: wait queues keyed like Linux's `futex_key` ([`FutexKey`]).
//!
//! A word in shared memory is keyed by its memory-file offset, so two processes sharing a
//! `MAP_SHARED` page meet on the same key; a word of private memory, or any word used with
//! `FUTEX_PRIVATE_FLAG`, is keyed by its address space and address, which stay valid when
//! the sentry moves private pages within the memory file. The value check and the enqueue
//! happen under the table lock, and a waker takes the same lock, so no wake-up is lost
//! between a waiter's check and its sleep.

use fs::Waiter;
use mm::io::FutexKey;
use mm::{AddressSpace, MmError};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Wakes every waiter whatever its bitset.
pub const BITSET_ALL: u32 = u32::MAX;

struct Entry {
    id: u64,
    waiter: Arc<Waiter>,
    bitset: u32,
    woken: Arc<AtomicBool>,
}

/// All futex queues of the sandbox.
#[derive(Default)]
pub struct Futexes {
    queues: Mutex<HashMap<FutexKey, VecDeque<Entry>>>,
    next_id: AtomicU64,
}

/// Why a futex wait ended without a wake-up.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitError {
    /// The word did not hold the expected value (EAGAIN).
    Changed,
    /// Bad address (EFAULT) or alignment (EINVAL).
    Mm(MmError),
    /// Interrupted (EINTR) or timed out (ETIMEDOUT).
    Errno(Errno),
}

impl Futexes {
    /// Sleeps on the word at `addr` if it holds `val`, until woken with a bitset that
    /// intersects `bitset`, interrupted, or `deadline`. `private` for
    /// `FUTEX_PRIVATE_FLAG` (here and in the other operations).
    #[allow(clippy::too_many_arguments)]
    pub fn wait(
        &self,
        mm: &AddressSpace,
        addr: u64,
        private: bool,
        val: u32,
        bitset: u32,
        w: &Arc<Waiter>,
        deadline: Option<Instant>,
    ) -> Result<(), WaitError> {
        let key = mm.futex_key(addr, private).map_err(WaitError::Mm)?;
        let woken = Arc::new(AtomicBool::new(false));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut q = self.queues.lock();
            let cur = mm
                .with_futex_word(addr, false, |a| a.load(Ordering::SeqCst))
                .map_err(WaitError::Mm)?;
            if cur != val {
                return Err(WaitError::Changed);
            }
            q.entry(key).or_default().push_back(Entry {
                id,
                waiter: w.clone(),
                bitset,
                woken: woken.clone(),
            });
        }
        loop {
            if woken.load(Ordering::SeqCst) {
                return Ok(());
            }
            match w.wait(deadline) {
                Ok(()) => {}
                Err(e) => {
                    self.forget(id);
                    // A wake that raced with the timeout or signal still counts.
                    return if woken.load(Ordering::SeqCst) {
                        Ok(())
                    } else {
                        Err(WaitError::Errno(e))
                    };
                }
            }
        }
    }

    fn forget(&self, id: u64) {
        let mut q = self.queues.lock();
        for queue in q.values_mut() {
            queue.retain(|e| e.id != id);
        }
        q.retain(|_, v| !v.is_empty());
    }

    fn wake_locked(
        q: &mut HashMap<FutexKey, VecDeque<Entry>>,
        key: FutexKey,
        n: usize,
        bitset: u32,
    ) -> usize {
        let Some(queue) = q.get_mut(&key) else {
            return 0;
        };
        let mut woken = 0;
        let mut i = 0;
        while i < queue.len() && woken < n {
            if queue[i].bitset & bitset != 0 {
                let e = queue.remove(i).expect("index in range");
                e.woken.store(true, Ordering::SeqCst);
                e.waiter.wake();
                woken += 1;
            } else {
                i += 1;
            }
        }
        if queue.is_empty() {
            q.remove(&key);
        }
        woken
    }

    /// Wakes up to `n` waiters on the word at `addr` whose bitset intersects `bitset`.
    pub fn wake(
        &self,
        mm: &AddressSpace,
        addr: u64,
        private: bool,
        n: usize,
        bitset: u32,
    ) -> Result<usize, MmError> {
        let key = mm.futex_key(addr, private)?;
        Ok(Self::wake_locked(&mut self.queues.lock(), key, n, bitset))
    }

    /// `FUTEX_REQUEUE`/`FUTEX_CMP_REQUEUE`: wakes `nwake` waiters of `addr`, moves up to
    /// `nmove` of the rest to `addr2`; with `cmp`, only if `addr` still holds it.
    pub fn requeue(
        &self,
        mm: &AddressSpace,
        (addr, addr2): (u64, u64),
        private: bool,
        nwake: usize,
        nmove: usize,
        cmp: Option<u32>,
    ) -> Result<usize, WaitError> {
        let key = mm.futex_key(addr, private).map_err(WaitError::Mm)?;
        let key2 = mm.futex_key(addr2, private).map_err(WaitError::Mm)?;
        let mut q = self.queues.lock();
        if let Some(expected) = cmp {
            let cur = mm
                .with_futex_word(addr, false, |a| a.load(Ordering::SeqCst))
                .map_err(WaitError::Mm)?;
            if cur != expected {
                return Err(WaitError::Changed);
            }
        }
        let woken = Self::wake_locked(&mut q, key, nwake, BITSET_ALL);
        let mut moved = 0;
        if key != key2 {
            let mut taken = VecDeque::new();
            if let Some(queue) = q.get_mut(&key) {
                while moved < nmove {
                    match queue.pop_front() {
                        Some(e) => {
                            taken.push_back(e);
                            moved += 1;
                        }
                        None => break,
                    }
                }
                if queue.is_empty() {
                    q.remove(&key);
                }
            }
            if !taken.is_empty() {
                q.entry(key2).or_default().extend(taken);
            }
        }
        Ok(woken + moved)
    }

    /// `FUTEX_WAKE_OP`: atomically applies `op` to the word at `addr2`, wakes `n` waiters of
    /// `addr`, and `n2` of `addr2` if the old value passes `op`'s comparison.
    pub fn wake_op(
        &self,
        mm: &AddressSpace,
        (addr, addr2): (u64, u64),
        private: bool,
        n: usize,
        n2: usize,
        op: u32,
    ) -> Result<usize, WaitError> {
        let key = mm.futex_key(addr, private).map_err(WaitError::Mm)?;
        let key2 = mm.futex_key(addr2, private).map_err(WaitError::Mm)?;
        let (kind, cmp) = ((op >> 28) & 7, (op >> 24) & 15);
        let mut oparg = (op >> 12) & 0xfff;
        let cmparg = op & 0xfff;
        if op & (8 << 28) != 0 {
            oparg = 1u32.checked_shl(oparg).unwrap_or(0);
        }
        let mut q = self.queues.lock();
        let old = mm
            .with_futex_word(addr2, true, |a| {
                a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                    Some(match kind {
                        0 => oparg,
                        1 => v.wrapping_add(oparg),
                        2 => v | oparg,
                        3 => v & !oparg,
                        _ => v ^ oparg,
                    })
                })
                .unwrap_or_else(|v| v)
            })
            .map_err(WaitError::Mm)?;
        if kind > 4 {
            return Err(WaitError::Errno(Errno::ENOSYS));
        }
        let mut woken = Self::wake_locked(&mut q, key, n, BITSET_ALL);
        let (o, c) = (old as i32, cmparg as i32);
        let pass = match cmp {
            0 => o == c,
            1 => o != c,
            2 => o < c,
            3 => o <= c,
            4 => o > c,
            5 => o >= c,
            _ => return Err(WaitError::Errno(Errno::ENOSYS)),
        };
        if pass {
            woken += Self::wake_locked(&mut q, key2, n2, BITSET_ALL);
        }
        Ok(woken)
    }
}
