//! System V IPC: one namespace per sandbox with shared memory segments ([`shm`]),
//! semaphore sets ([`sem`]) and message queues ([`msg`]), all sentry objects (a guest
//! never reaches the host's IPC).
//!
//! What the three kinds share lives here, after Linux's `ipc/util.c`:
//! - [`Registry`]: the objects of one kind, by index and by key. An id is
//!   `seq * 32768 + index`; indices are handed out cyclically and the sequence number
//!   grows whenever allocation wraps, so a stale id does not name a new object (its
//!   lookups fail with `EINVAL`, as on Linux).
//! - [`Perm`]: owner, creator, mode and key of an object; access checks (`ipcperms`) and
//!   the owner check of `IPC_SET`/`IPC_RMID`.
//! - [`Slot`] and [`sleep`]: how `semop`, `msgsnd` and `msgrcv` block. A blocked caller
//!   leaves a slot in the object's wait list; whoever can complete its operation (or
//!   removes the object) stores the outcome in the slot and wakes it, all under the kind's
//!   lock, so no wake-up is lost and outcomes follow Linux's FIFO order. A signal ends
//!   the sleep with `EINTR`, a timeout with `ETIMEDOUT`.
//!
//! Each kind sits behind one lock; guest memory is never touched under it except where a
//! handler reads an argument array it must apply atomically (`SETALL`).

pub mod abi;
pub mod msg;
pub mod sem;
pub mod shm;

use super::process::Creds;
use fs::Waiter;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// `IPC_PRIVATE`: a key that always creates a new object.
pub const IPC_PRIVATE: i32 = 0;
/// Create the object if the key has none.
pub const IPC_CREAT: i32 = 0o1000;
/// With `IPC_CREAT`: fail if the key has an object.
pub const IPC_EXCL: i32 = 0o2000;
/// Do not block.
pub const IPC_NOWAIT: i32 = 0o4000;
/// `*ctl`: remove the object.
pub const IPC_RMID: i32 = 0;
/// `*ctl`: change owner and mode.
pub const IPC_SET: i32 = 1;
/// `*ctl`: read the object's data structure.
pub const IPC_STAT: i32 = 2;
/// `*ctl`: read the limits.
pub const IPC_INFO: i32 = 3;

/// Index space of a kind (Linux's `IPCMNI`): an id is `seq << SEQ_SHIFT | index`.
const IPCMNI: usize = 1 << SEQ_SHIFT;
const SEQ_SHIFT: u32 = 15;
/// Largest sequence number (`INT_MAX >> SEQ_SHIFT`).
const SEQ_MAX: u32 = (i32::MAX as u32) >> SEQ_SHIFT;
/// Indices are recycled no sooner than after this many (Linux's `ipc_min_cycle`).
const MIN_CYCLE: usize = 64;

/// Read permission, as `S_IRUGO` in a permission request.
pub const READ: u32 = 0o444;
/// Write permission, as `S_IWUGO`.
pub const WRITE: u32 = 0o222;
/// Execute permission (`shmat` with `SHM_EXEC`), as `S_IXUGO`.
pub const EXEC: u32 = 0o111;

/// All System V IPC objects of the sandbox.
#[derive(Default)]
pub struct IpcNamespace {
    /// Shared memory segments.
    pub shm: shm::Shm,
    /// Semaphore sets.
    pub sem: sem::Sem,
    /// Message queues.
    pub msg: msg::Msg,
}

impl IpcNamespace {
    /// A process ended: its semaphore undo adjustments are applied.
    pub fn exit_process(&self, pid: i32) {
        self.sem.exit_process(pid);
    }
}

/// Who makes an IPC call: its identities and process id.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    /// Credentials.
    pub creds: Creds,
    /// Process id (recorded as the last operator).
    pub pid: i32,
}

impl Caller {
    /// Whether the caller has the capabilities of root (`CAP_IPC_OWNER`,
    /// `CAP_SYS_ADMIN`, ...): only root has any in the sandbox.
    pub fn privileged(&self) -> bool {
        self.creds.euid == 0
    }
}

/// Seconds since the epoch, as IPC timestamps record them.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Owner, creator, mode and key of an object (Linux's `kern_ipc_perm`).
#[derive(Clone, Debug)]
pub struct Perm {
    /// Key, `IPC_PRIVATE` once removed from the key table.
    pub key: i32,
    /// Owner.
    pub uid: u32,
    /// Owner's group.
    pub gid: u32,
    /// Creator.
    pub cuid: u32,
    /// Creator's group.
    pub cgid: u32,
    /// Permission bits and kind-specific flags (`SHM_DEST`, `SHM_LOCKED`).
    pub mode: u32,
    /// Sequence number of the id.
    pub seq: u16,
    /// Full id.
    pub id: i32,
}

impl Perm {
    /// Linux's `ipcperms`: whether `who` may access with the permission bits of `flag`
    /// (any of `READ`, `WRITE`, `EXEC`, or the mode bits of a `*get` flag).
    pub fn allows(&self, who: &Caller, flag: u32) -> bool {
        let requested = (flag >> 6) | (flag >> 3) | flag;
        let (euid, egid) = (who.creds.euid, who.creds.egid);
        let granted = if euid == self.cuid || euid == self.uid {
            self.mode >> 6
        } else if egid == self.cgid || egid == self.gid {
            self.mode >> 3
        } else {
            self.mode
        };
        requested & !granted & 0o7 == 0 || who.privileged()
    }

    /// Whether `who` may change or remove the object: its owner, its creator, or root.
    pub fn owned_by(&self, who: &Caller) -> bool {
        who.creds.euid == self.uid || who.creds.euid == self.cuid || who.privileged()
    }

    /// `IPC_SET`: new owner, group and permission bits.
    pub fn update(&mut self, new: &abi::Ipc64Perm) -> Result<(), Errno> {
        if new.uid == u32::MAX || new.gid == u32::MAX {
            return Err(Errno::EINVAL);
        }
        self.uid = new.uid;
        self.gid = new.gid;
        self.mode = (self.mode & !0o777) | (new.mode & 0o777);
        Ok(())
    }

    /// As `struct ipc64_perm`.
    pub fn to_abi(&self) -> abi::Ipc64Perm {
        abi::Ipc64Perm {
            key: self.key,
            uid: self.uid,
            gid: self.gid,
            cuid: self.cuid,
            cgid: self.cgid,
            mode: self.mode,
            seq: self.seq,
            ..Default::default()
        }
    }
}

/// One object of a registry.
pub struct Object<T> {
    /// Its permissions and id.
    pub perm: Perm,
    /// The kind's data.
    pub data: T,
}

/// How an `*_STAT` command names its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatBy {
    /// `IPC_STAT`: by id, with read permission.
    Id,
    /// `SHM_STAT`, `SEM_STAT`, `MSG_STAT`: by index, with read permission.
    Index,
    /// `*_STAT_ANY`: by index, without a permission check.
    IndexAny,
}

/// The objects of one kind: by index, by key, with Linux's id allocation.
pub struct Registry<T> {
    slots: Vec<Option<Object<T>>>,
    keys: HashMap<i32, usize>,
    seq: u32,
    last_idx: Option<usize>,
    in_use: usize,
    max_objects: usize,
}

impl<T> Registry<T> {
    /// An empty registry for at most `max_objects` objects (`SHMMNI`, `SEMMNI`, `MSGMNI`).
    pub fn new(max_objects: usize) -> Self {
        Registry {
            slots: Vec::new(),
            keys: HashMap::new(),
            seq: 0,
            last_idx: None,
            in_use: 0,
            max_objects: max_objects.min(IPCMNI),
        }
    }

    /// Linux's `ipcget`: the id of the object with `key`, after `check` (the kind's
    /// extra checks, e.g. a size) and a permission check against `flags`' mode bits;
    /// or a new object from `create` (for `IPC_PRIVATE`, or `IPC_CREAT` on an unused key).
    pub fn get_or_create(
        &mut self,
        who: &Caller,
        key: i32,
        flags: i32,
        check: impl FnOnce(&T) -> Result<(), Errno>,
        create: impl FnOnce() -> Result<T, Errno>,
    ) -> Result<i32, Errno> {
        if key != IPC_PRIVATE
            && let Some(&idx) = self.keys.get(&key)
        {
            if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            let obj = self.slots[idx].as_ref().expect("keyed slot in use");
            check(&obj.data)?;
            if !obj.perm.allows(who, flags as u32 & 0o777) {
                return Err(Errno::EACCES);
            }
            return Ok(obj.perm.id);
        }
        if key != IPC_PRIVATE && flags & IPC_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
        let data = create()?;
        self.insert(who, key, flags as u32 & 0o777, data)
    }

    /// Adds an object; `ENOSPC` at the limit.
    fn insert(&mut self, who: &Caller, key: i32, mode: u32, data: T) -> Result<i32, Errno> {
        if self.in_use >= self.max_objects {
            return Err(Errno::ENOSPC);
        }
        let idx = self.free_index().ok_or(Errno::ENOSPC)?;
        if self.last_idx.is_some_and(|last| idx <= last) {
            self.seq += 1;
            if self.seq >= SEQ_MAX {
                self.seq = 0;
            }
        }
        self.last_idx = Some(idx);
        let id = ((self.seq << SEQ_SHIFT) as usize + idx) as i32;
        if self.slots.len() <= idx {
            self.slots.resize_with(idx + 1, || None);
        }
        let perm = Perm {
            key,
            uid: who.creds.euid,
            gid: who.creds.egid,
            cuid: who.creds.euid,
            cgid: who.creds.egid,
            mode,
            seq: self.seq as u16,
            id,
        };
        self.slots[idx] = Some(Object { perm, data });
        if key != IPC_PRIVATE {
            self.keys.insert(key, idx);
        }
        self.in_use += 1;
        Ok(id)
    }

    /// The next index, cyclically after the last one handed out, below
    /// `max(in_use * 3/2, MIN_CYCLE)` like Linux's `idr_alloc_cyclic` use.
    fn free_index(&self) -> Option<usize> {
        let end = (self.in_use * 3 / 2).clamp(MIN_CYCLE, IPCMNI);
        let start = self.last_idx.map_or(0, |l| l + 1);
        let free = |i: &usize| self.slots.get(*i).is_none_or(Option::is_none);
        (start..end).find(free).or_else(|| (0..end).find(free))
    }

    /// The object with id `id`: `EINVAL` if there is none (removed, or a stale
    /// sequence number).
    pub fn get(&mut self, id: i32) -> Result<&mut Object<T>, Errno> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        match self.slots.get_mut(id as usize % IPCMNI) {
            Some(Some(obj)) if obj.perm.id == id => Ok(obj),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The object an `*_STAT` command names, and what the command returns: 0 for
    /// `IPC_STAT`, the full id for the others.
    pub fn stat(
        &mut self,
        who: &Caller,
        id: i32,
        by: StatBy,
    ) -> Result<(&mut Object<T>, i32), Errno> {
        let obj = match by {
            StatBy::Id => self.get(id)?,
            StatBy::Index | StatBy::IndexAny => match self.slots.get_mut(id as usize % IPCMNI) {
                Some(Some(obj)) => obj,
                _ => return Err(Errno::EINVAL),
            },
        };
        if by != StatBy::IndexAny && !obj.perm.allows(who, READ) {
            return Err(Errno::EACCES);
        }
        let ret = if by == StatBy::Id { 0 } else { obj.perm.id };
        Ok((obj, ret))
    }

    /// The object for `IPC_SET` or `IPC_RMID`: `EPERM` unless `who` owns it.
    pub fn owned(&mut self, who: &Caller, id: i32) -> Result<&mut Object<T>, Errno> {
        let obj = self.get(id)?;
        if !obj.perm.owned_by(who) {
            return Err(Errno::EPERM);
        }
        Ok(obj)
    }

    /// Removes the object with id `id`.
    pub fn remove(&mut self, id: i32) -> Option<Object<T>> {
        self.get(id).ok()?;
        let obj = self.slots[id as usize % IPCMNI].take()?;
        if obj.perm.key != IPC_PRIVATE {
            self.keys.remove(&obj.perm.key);
        }
        self.in_use -= 1;
        Some(obj)
    }

    /// Makes the object unreachable by its key (its key becomes `IPC_PRIVATE`).
    pub fn hide_key(&mut self, id: i32) {
        if let Ok(obj) = self.get(id) {
            let key = std::mem::replace(&mut obj.perm.key, IPC_PRIVATE);
            if key != IPC_PRIVATE {
                self.keys.remove(&key);
            }
        }
    }

    /// The highest index in use, or 0 if none (what `IPC_INFO` and `*_INFO` return).
    pub fn max_index(&self) -> i32 {
        self.slots.iter().rposition(Option::is_some).unwrap_or(0) as i32
    }

    /// Objects in use.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// Every object.
    pub fn iter(&self) -> impl Iterator<Item = &Object<T>> {
        self.slots.iter().flatten()
    }

    /// Every object, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Object<T>> {
        self.slots.iter_mut().flatten()
    }
}

/// A blocked caller's place in an object's wait list: whoever decides its outcome stores
/// it here and wakes the caller.
pub struct Slot<R> {
    waiter: Arc<Waiter>,
    outcome: Mutex<Option<R>>,
}

impl<R> Slot<R> {
    /// A slot for a caller that sleeps on `waiter`.
    pub fn new(waiter: &Arc<Waiter>) -> Arc<Self> {
        Arc::new(Slot {
            waiter: waiter.clone(),
            outcome: Mutex::new(None),
        })
    }

    /// Stores the outcome and wakes the caller.
    pub fn complete(&self, outcome: R) {
        *self.outcome.lock() = Some(outcome);
        self.waiter.wake();
    }

    fn take(&self) -> Option<R> {
        self.outcome.lock().take()
    }
}

/// Sleeps until `slot` gets its outcome, a signal (`EINTR`) or `deadline` (`ETIMEDOUT`).
/// A caller that gives up takes `lock` and, unless the outcome arrived meanwhile, has
/// `cancel` take its slot off the wait list.
pub fn sleep<S, R>(
    lock: &Mutex<S>,
    slot: &Arc<Slot<R>>,
    deadline: Option<Instant>,
    cancel: impl FnOnce(&mut S),
) -> Result<R, Errno> {
    loop {
        if let Some(r) = slot.take() {
            return Ok(r);
        }
        if let Err(e) = slot.waiter.wait(deadline) {
            let mut state = lock.lock();
            if let Some(r) = slot.take() {
                return Ok(r);
            }
            cancel(&mut state);
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(uid: u32, gid: u32) -> Caller {
        Caller {
            creds: Creds {
                uid,
                euid: uid,
                suid: uid,
                gid,
                egid: gid,
                sgid: gid,
            },
            pid: 1,
        }
    }

    #[test]
    fn ids_carry_a_sequence_number() {
        let me = caller(1000, 1000);
        let mut r = Registry::<()>::new(100);
        let create =
            |r: &mut Registry<()>| r.get_or_create(&me, IPC_PRIVATE, 0o600, |_| Ok(()), || Ok(()));
        assert_eq!(create(&mut r), Ok(0));
        assert_eq!(create(&mut r), Ok(1));
        assert!(r.remove(0).is_some());
        assert_eq!(r.get(0).err(), Some(Errno::EINVAL));
        assert_eq!(r.max_index(), 1);
        assert!(r.remove(1).is_some());
        // With few objects in use, indices cycle through the first MIN_CYCLE.
        for want in 2..MIN_CYCLE as i32 {
            assert_eq!(create(&mut r), Ok(want));
            assert!(r.remove(want).is_some());
        }
        // The cycle wraps to index 0 with the next sequence number.
        assert_eq!(create(&mut r), Ok(IPCMNI as i32));
        assert_eq!(
            r.get(0).err(),
            Some(Errno::EINVAL),
            "a stale id stays invalid"
        );
        assert!(r.get(IPCMNI as i32).is_ok());
    }

    #[test]
    fn keys_create_exclusive_and_check_permissions() {
        let (me, other) = (caller(1000, 1000), caller(1001, 1000));
        let mut r = Registry::<u32>::new(10);
        let get = |r: &mut Registry<u32>, who: &Caller, flags: i32| {
            r.get_or_create(who, 42, flags, |_| Ok(()), || Ok(7))
        };
        assert_eq!(get(&mut r, &me, 0o600), Err(Errno::ENOENT));
        let id = get(&mut r, &me, IPC_CREAT | 0o640).unwrap();
        assert_eq!(get(&mut r, &me, IPC_CREAT | 0o600), Ok(id));
        assert_eq!(get(&mut r, &me, IPC_CREAT | IPC_EXCL), Err(Errno::EEXIST));
        assert_eq!(get(&mut r, &other, 0o400), Ok(id), "the group may read");
        assert_eq!(get(&mut r, &other, 0o200), Err(Errno::EACCES));
        let obj = r.get(id).unwrap();
        assert!(obj.perm.allows(&me, WRITE) && !obj.perm.allows(&other, WRITE));
        assert!(obj.perm.owned_by(&me) && !obj.perm.owned_by(&other));
        r.hide_key(id);
        assert_eq!(get(&mut r, &me, 0), Err(Errno::ENOENT));
    }
}
