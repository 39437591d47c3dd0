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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// Wakes every waiter whatever its bitset.
pub const BITSET_ALL: u32 = u32::MAX;

struct Entry {
    id: u64,
    waiter: Arc<Waiter>,
    bitset: u32,
    /// Shared by the entries of one wait: 0, or 1 + the index of the word woken first.
    woken: Arc<AtomicUsize>,
    /// This entry's word among the wait's.
    index: usize,
}

/// One word of a wait: sleep on `addr` while it holds `val`, for wakes whose bitset
/// intersects `bitset`; `private` for `FUTEX_PRIVATE_FLAG`.
#[derive(Clone, Copy, Debug)]
pub struct Word {
    /// Address.
    pub addr: u64,
    /// Keyed by address space and address whatever the memory.
    pub private: bool,
    /// Expected value.
    pub val: u32,
    /// Wake bitset.
    pub bitset: u32,
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
        let word = Word {
            addr,
            private,
            val,
            bitset,
        };
        self.wait_any(mm, &[word], w, deadline).map(|_| ())
    }

    /// Sleeps on every word at once if each holds its value (else `Changed`, nothing
    /// queued), until one is woken (its index is returned), interrupted, or `deadline`
    /// (`futex_waitv`, and `FUTEX_WAIT` with one word).
    pub fn wait_any(
        &self,
        mm: &AddressSpace,
        words: &[Word],
        w: &Arc<Waiter>,
        deadline: Option<Instant>,
    ) -> Result<usize, WaitError> {
        let keys = words
            .iter()
            .map(|word| mm.futex_key(word.addr, word.private))
            .collect::<Result<Vec<_>, _>>()
            .map_err(WaitError::Mm)?;
        let woken = Arc::new(AtomicUsize::new(0));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut q = self.queues.lock();
            for word in words {
                let cur = mm
                    .with_futex_word(word.addr, false, |a| a.load(Ordering::SeqCst))
                    .map_err(WaitError::Mm)?;
                if cur != word.val {
                    return Err(WaitError::Changed);
                }
            }
            for (index, (word, key)) in words.iter().zip(keys).enumerate() {
                q.entry(key).or_default().push_back(Entry {
                    id,
                    waiter: w.clone(),
                    bitset: word.bitset,
                    woken: woken.clone(),
                    index,
                });
            }
        }
        let which = || woken.load(Ordering::SeqCst).checked_sub(1);
        loop {
            if let Some(i) = which() {
                if words.len() > 1 {
                    self.forget(id);
                }
                return Ok(i);
            }
            if let Err(e) = w.wait(deadline) {
                self.forget(id);
                // A wake that raced with the timeout or signal still counts.
                return which().ok_or(WaitError::Errno(e));
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
                let _ =
                    e.woken
                        .compare_exchange(0, e.index + 1, Ordering::SeqCst, Ordering::SeqCst);
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
