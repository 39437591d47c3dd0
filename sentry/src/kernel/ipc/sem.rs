//! System V semaphores: sets of counters changed atomically by `semop`.
//!
//! A `semop` applies all its operations or none. One that cannot proceed waits in the
//! set's FIFO list of pending operations; after every change the list is retried in order
//! and each operation that now completes (or fails) is finished on its caller's behalf,
//! as Linux's `update_queue` does. `SEM_UNDO` adjustments are kept per set and process
//! and applied, clamped to `0..=SEMVMX`, when the process exits; `SETVAL` and `SETALL`
//! clear them.

use super::abi::{Ipc64Perm, Sembuf, Semid64Ds, Seminfo};
use super::{Caller, IPC_NOWAIT, READ, Registry, Slot, StatBy, WRITE, now, sleep};
use fs::Waiter;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// Most semaphores in a set (`SEMMSL`).
pub const SEMMSL: usize = 32000;
/// Most semaphores in all sets (`SEMMNS`).
pub const SEMMNS: usize = 1_024_000_000;
/// Most operations in one `semop` (`SEMOPM`).
pub const SEMOPM: usize = 500;
/// Most sets (`SEMMNI`).
pub const SEMMNI: usize = 32000;
/// Largest semaphore value (`SEMVMX`).
pub const SEMVMX: i32 = 32767;
/// Largest undo adjustment (`SEMAEM`).
const SEMAEM: i32 = SEMVMX;
/// `sem_flg`: undo the operation when the process exits.
pub const SEM_UNDO: i16 = 0x1000;
/// `semctl`: pid of the last operation.
pub const GETPID: i32 = 11;
/// `semctl`: value of one semaphore.
pub const GETVAL: i32 = 12;
/// `semctl`: every value.
pub const GETALL: i32 = 13;
/// `semctl`: callers waiting for a semaphore to grow.
pub const GETNCNT: i32 = 14;
/// `semctl`: callers waiting for a semaphore to be zero.
pub const GETZCNT: i32 = 15;
/// `semctl`: set one value.
pub const SETVAL: i32 = 16;
/// `semctl`: set every value.
pub const SETALL: i32 = 17;
/// `semctl`: `IPC_STAT` by index.
pub const SEM_STAT: i32 = 18;
/// `semctl`: usage figures.
pub const SEM_INFO: i32 = 19;
/// `semctl`: `SEM_STAT` without a permission check.
pub const SEM_STAT_ANY: i32 = 20;

#[derive(Clone, Copy, Default)]
struct Semaphore {
    val: i32,
    pid: i32,
}

/// A `semop` waiting for its operations to become possible.
struct Pending {
    ops: Vec<Sembuf>,
    pid: i32,
    alter: bool,
    /// The operation it waits on (for `GETNCNT`/`GETZCNT`).
    blocking: usize,
    slot: Arc<Slot<Result<(), Errno>>>,
}

/// What trying a list of operations gave.
enum Attempt {
    Done,
    /// The operation at this index cannot proceed yet.
    Blocked(usize),
    Failed(Errno),
}

/// One semaphore set.
pub struct SemSet {
    sems: Vec<Semaphore>,
    otime: i64,
    ctime: i64,
    pending: VecDeque<Pending>,
    /// `SEM_UNDO` adjustments by process.
    undo: HashMap<i32, Vec<i32>>,
}

impl SemSet {
    /// Linux's `perform_atomic_semop`: applies every operation or none.
    fn attempt(&mut self, ops: &[Sembuf], pid: i32) -> Attempt {
        let needs_undo = ops.iter().any(|o| o.sem_flg & SEM_UNDO != 0);
        let nsems = self.sems.len();
        let mut undo = needs_undo.then(|| self.undo.entry(pid).or_insert_with(|| vec![0; nsems]));
        let mut outcome = Attempt::Done;
        let mut applied = 0;
        for (i, op) in ops.iter().enumerate() {
            let num = op.sem_num as usize;
            let (cur, delta) = (self.sems[num].val, op.sem_op as i32);
            let new = cur + delta;
            if (delta == 0 && cur != 0) || new < 0 {
                outcome = if op.sem_flg & IPC_NOWAIT as i16 != 0 {
                    Attempt::Failed(Errno::EAGAIN)
                } else {
                    Attempt::Blocked(i)
                };
                break;
            }
            if new > SEMVMX {
                outcome = Attempt::Failed(Errno::ERANGE);
                break;
            }
            if op.sem_flg & SEM_UNDO != 0 {
                let adj = undo.as_deref_mut().expect("undo entry");
                let a = adj[num] - delta;
                if !(-SEMAEM - 1..=SEMAEM).contains(&a) {
                    outcome = Attempt::Failed(Errno::ERANGE);
                    break;
                }
                adj[num] = a;
            }
            self.sems[num].val = new;
            applied = i + 1;
        }
        if !matches!(outcome, Attempt::Done) {
            for op in ops[..applied].iter().rev() {
                let num = op.sem_num as usize;
                self.sems[num].val -= op.sem_op as i32;
                if op.sem_flg & SEM_UNDO != 0 {
                    undo.as_deref_mut().expect("undo entry")[num] += op.sem_op as i32;
                }
            }
            return outcome;
        }
        for op in ops {
            self.sems[op.sem_num as usize].pid = pid;
        }
        Attempt::Done
    }

    /// Retries the pending operations in order after a change, finishing each one that
    /// completes or fails; starts over whenever one changed the values.
    fn update_queue(&mut self) {
        let mut queue = std::mem::take(&mut self.pending);
        let mut i = 0;
        while i < queue.len() {
            let result = match self.attempt(&queue[i].ops, queue[i].pid) {
                Attempt::Blocked(at) => {
                    queue[i].blocking = at;
                    i += 1;
                    continue;
                }
                Attempt::Done => Ok(()),
                Attempt::Failed(e) => Err(e),
            };
            let p = queue.remove(i).expect("index in range");
            p.slot.complete(result);
            if result.is_ok() {
                self.otime = now();
                if p.alter {
                    i = 0;
                }
            }
        }
        self.pending = queue;
    }

    /// Callers waiting on semaphore `num`: to grow (`zero` false) or to be zero.
    fn waiting(&self, num: usize, zero: bool) -> i32 {
        self.pending
            .iter()
            .filter(|p| {
                let op = p.ops[p.blocking];
                op.sem_num as usize == num && (if zero { op.sem_op == 0 } else { op.sem_op < 0 })
            })
            .count() as i32
    }
}

struct Sets {
    reg: Registry<SemSet>,
    /// Semaphores in all sets.
    used: usize,
}

/// The semaphore sets of a namespace.
pub struct Sem {
    sets: Mutex<Sets>,
}

impl Default for Sem {
    fn default() -> Self {
        Sem {
            sets: Mutex::new(Sets {
                reg: Registry::new(SEMMNI),
                used: 0,
            }),
        }
    }
}

/// What `semctl` asks of one semaphore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SemQuery {
    /// `GETVAL`.
    Val,
    /// `GETPID`.
    Pid,
    /// `GETNCNT`.
    Ncnt,
    /// `GETZCNT`.
    Zcnt,
}

impl Sem {
    /// `semget`: the id of the set with `key`, or a new set of `nsems` semaphores.
    pub fn get(&self, who: &Caller, key: i32, nsems: i32, flags: i32) -> Result<i32, Errno> {
        if nsems < 0 || nsems as usize > SEMMSL {
            return Err(Errno::EINVAL);
        }
        let nsems = nsems as usize;
        let mut sets = self.sets.lock();
        let used = sets.used;
        let id = sets.reg.get_or_create(
            who,
            key,
            flags,
            |set| {
                if nsems > set.sems.len() {
                    return Err(Errno::EINVAL);
                }
                Ok(())
            },
            || {
                if nsems == 0 {
                    return Err(Errno::EINVAL);
                }
                if used + nsems > SEMMNS {
                    return Err(Errno::ENOSPC);
                }
                Ok(SemSet {
                    sems: vec![Semaphore::default(); nsems],
                    otime: 0,
                    ctime: now(),
                    pending: VecDeque::new(),
                    undo: HashMap::new(),
                })
            },
        )?;
        sets.used = sets.reg.iter().map(|s| s.data.sems.len()).sum();
        Ok(id)
    }

    /// `semop`/`semtimedop`: applies `ops` atomically, waiting (until `deadline`) while
    /// one cannot proceed, unless it has `IPC_NOWAIT` (`EAGAIN`). A timeout is `EAGAIN`,
    /// a signal `EINTR`, removal of the set `EIDRM`.
    pub fn op(
        &self,
        who: &Caller,
        id: i32,
        ops: Vec<Sembuf>,
        deadline: Option<Instant>,
        waiter: &Arc<Waiter>,
    ) -> Result<(), Errno> {
        let alter = ops.iter().any(|o| o.sem_op != 0);
        let max = ops.iter().map(|o| o.sem_num as usize).max().unwrap_or(0);
        let slot = {
            let mut sets = self.sets.lock();
            let set = sets.reg.get(id)?;
            if max >= set.data.sems.len() {
                return Err(Errno::EFBIG);
            }
            if !set.perm.allows(who, if alter { WRITE } else { READ }) {
                return Err(Errno::EACCES);
            }
            let set = &mut set.data;
            match set.attempt(&ops, who.pid) {
                Attempt::Done => {
                    set.otime = now();
                    if alter {
                        set.update_queue();
                    }
                    return Ok(());
                }
                Attempt::Failed(e) => return Err(e),
                Attempt::Blocked(blocking) => {
                    let slot = Slot::new(waiter);
                    set.pending.push_back(Pending {
                        ops,
                        pid: who.pid,
                        alter,
                        blocking,
                        slot: slot.clone(),
                    });
                    slot
                }
            }
        };
        let outcome = sleep(&self.sets, &slot, deadline, |sets| {
            if let Ok(set) = sets.reg.get(id) {
                set.data.pending.retain(|p| !Arc::ptr_eq(&p.slot, &slot));
            }
        });
        match outcome {
            Ok(r) => r,
            Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
            Err(e) => Err(e),
        }
    }

    /// `GETVAL`, `GETPID`, `GETNCNT`, `GETZCNT` of semaphore `num`.
    pub fn query(&self, who: &Caller, id: i32, num: i32, what: SemQuery) -> Result<i32, Errno> {
        let mut sets = self.sets.lock();
        let set = sets.reg.get(id)?;
        if !set.perm.allows(who, READ) {
            return Err(Errno::EACCES);
        }
        let set = &set.data;
        let num = usize::try_from(num)
            .ok()
            .filter(|&n| n < set.sems.len())
            .ok_or(Errno::EINVAL)?;
        Ok(match what {
            SemQuery::Val => set.sems[num].val,
            SemQuery::Pid => set.sems[num].pid,
            SemQuery::Ncnt => set.waiting(num, false),
            SemQuery::Zcnt => set.waiting(num, true),
        })
    }

    /// `GETALL`.
    pub fn get_all(&self, who: &Caller, id: i32) -> Result<Vec<u16>, Errno> {
        let mut sets = self.sets.lock();
        let set = sets.reg.get(id)?;
        if !set.perm.allows(who, READ) {
            return Err(Errno::EACCES);
        }
        Ok(set.data.sems.iter().map(|s| s.val as u16).collect())
    }

    /// `SETVAL`: sets semaphore `num` to `val` and clears its undo adjustments.
    pub fn set_val(&self, who: &Caller, id: i32, num: i32, val: i32) -> Result<(), Errno> {
        if !(0..=SEMVMX).contains(&val) {
            return Err(Errno::ERANGE);
        }
        let mut sets = self.sets.lock();
        let set = sets.reg.get(id)?;
        let num = usize::try_from(num)
            .ok()
            .filter(|&n| n < set.data.sems.len())
            .ok_or(Errno::EINVAL)?;
        if !set.perm.allows(who, WRITE) {
            return Err(Errno::EACCES);
        }
        let set = &mut set.data;
        for adj in set.undo.values_mut() {
            adj[num] = 0;
        }
        set.sems[num] = Semaphore { val, pid: who.pid };
        set.ctime = now();
        set.update_queue();
        Ok(())
    }

    /// `SETALL`: sets every value from what `read` returns for the set's size, and clears
    /// the undo adjustments.
    pub fn set_all(
        &self,
        who: &Caller,
        id: i32,
        read: impl FnOnce(usize) -> Result<Vec<u16>, Errno>,
    ) -> Result<(), Errno> {
        let mut sets = self.sets.lock();
        let set = sets.reg.get(id)?;
        if !set.perm.allows(who, WRITE) {
            return Err(Errno::EACCES);
        }
        let set = &mut set.data;
        let vals = read(set.sems.len())?;
        if vals.iter().any(|&v| v as i32 > SEMVMX) {
            return Err(Errno::ERANGE);
        }
        for (s, &v) in set.sems.iter_mut().zip(&vals) {
            *s = Semaphore {
                val: v as i32,
                pid: who.pid,
            };
        }
        set.undo.clear();
        set.ctime = now();
        set.update_queue();
        Ok(())
    }

    /// `IPC_STAT`, `SEM_STAT`, `SEM_STAT_ANY`.
    pub fn stat(&self, who: &Caller, id: i32, by: StatBy) -> Result<(Semid64Ds, i32), Errno> {
        let mut sets = self.sets.lock();
        let (set, ret) = sets.reg.stat(who, id, by)?;
        let ds = Semid64Ds {
            sem_perm: set.perm.to_abi(),
            sem_otime: set.data.otime,
            sem_ctime: set.data.ctime,
            sem_nsems: set.data.sems.len() as u64,
            ..Default::default()
        };
        Ok((ds, ret))
    }

    /// `IPC_SET`.
    pub fn set(&self, who: &Caller, id: i32, perm: &Ipc64Perm) -> Result<(), Errno> {
        let mut sets = self.sets.lock();
        let set = sets.reg.owned(who, id)?;
        set.perm.update(perm)?;
        set.data.ctime = now();
        Ok(())
    }

    /// `IPC_RMID`: removes the set; its waiters fail with `EIDRM`.
    pub fn remove(&self, who: &Caller, id: i32) -> Result<(), Errno> {
        let mut sets = self.sets.lock();
        sets.reg.owned(who, id)?;
        let set = sets.reg.remove(id).expect("owned set exists");
        sets.used -= set.data.sems.len();
        for p in set.data.pending {
            p.slot.complete(Err(Errno::EIDRM));
        }
        Ok(())
    }

    /// `IPC_INFO` (`usage` false) and `SEM_INFO`: limits (and usage), and the highest
    /// index in use.
    pub fn info(&self, usage: bool) -> (Seminfo, i32) {
        let sets = self.sets.lock();
        let (semusz, semaem) = if usage {
            (sets.reg.in_use() as i32, sets.used as i32)
        } else {
            (20, SEMAEM)
        };
        let info = Seminfo {
            semmap: SEMMNS as i32,
            semmni: SEMMNI as i32,
            semmns: SEMMNS as i32,
            semmnu: SEMMNS as i32,
            semmsl: SEMMSL as i32,
            semopm: SEMOPM as i32,
            semume: SEMOPM as i32,
            semusz,
            semvmx: SEMVMX,
            semaem,
        };
        (info, sets.reg.max_index())
    }

    /// Applies the undo adjustments of exiting process `pid`.
    pub fn exit_process(&self, pid: i32) {
        let mut sets = self.sets.lock();
        for set in sets.reg.iter_mut().map(|s| &mut s.data) {
            let Some(adj) = set.undo.remove(&pid) else {
                continue;
            };
            for (s, a) in set.sems.iter_mut().zip(adj) {
                if a != 0 {
                    s.val = (s.val + a).clamp(0, SEMVMX);
                    s.pid = pid;
                }
            }
            set.update_queue();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::process::Creds;

    fn me() -> Caller {
        Caller {
            creds: Creds::of_host(),
            pid: 7,
        }
    }

    fn op(num: u16, delta: i16, flg: i16) -> Sembuf {
        Sembuf {
            sem_num: num,
            sem_op: delta,
            sem_flg: flg,
        }
    }

    #[test]
    fn operations_apply_all_or_nothing() {
        let sem = Sem::default();
        let w = Waiter::new();
        let id = sem.get(&me(), 0, 2, 0o600).unwrap();
        let nowait = IPC_NOWAIT as i16;
        sem.op(&me(), id, vec![op(0, 2, 0)], None, &w).unwrap();
        let r = sem.op(&me(), id, vec![op(0, -1, 0), op(1, -1, nowait)], None, &w);
        assert_eq!(r, Err(Errno::EAGAIN));
        assert_eq!(sem.get_all(&me(), id), Ok(vec![2, 0]), "nothing applied");
        let r = sem.op(
            &me(),
            id,
            vec![op(0, 1, 0), op(0, SEMVMX as i16, 0)],
            None,
            &w,
        );
        assert_eq!(r, Err(Errno::ERANGE));
        assert_eq!(
            sem.op(&me(), id, vec![op(2, 1, 0)], None, &w),
            Err(Errno::EFBIG)
        );
    }

    #[test]
    fn waiters_complete_in_order_and_undo_applies_at_exit() {
        let sem = Arc::new(Sem::default());
        let id = sem.get(&me(), 0, 1, 0o600).unwrap();
        let w = Waiter::new();
        let waiter = {
            let sem = sem.clone();
            std::thread::spawn(move || sem.op(&me(), id, vec![op(0, -2, 0)], None, &Waiter::new()))
        };
        while sem.query(&me(), id, 0, SemQuery::Ncnt) != Ok(1) {
            std::thread::yield_now();
        }
        sem.op(&me(), id, vec![op(0, 3, SEM_UNDO)], None, &w)
            .unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(sem.query(&me(), id, 0, SemQuery::Val), Ok(1));
        sem.exit_process(7);
        assert_eq!(
            sem.query(&me(), id, 0, SemQuery::Val),
            Ok(0),
            "undo of +3 clamps at 0"
        );
        let deadline = Some(Instant::now() + std::time::Duration::from_millis(10));
        let r = sem.op(&me(), id, vec![op(0, -1, 0)], deadline, &w);
        assert_eq!(r, Err(Errno::EAGAIN), "a timeout is EAGAIN");
        assert_eq!(sem.query(&me(), id, 0, SemQuery::Ncnt), Ok(0));
    }
}
