//! Advisory file locks, held by the sentry for the whole sandbox: POSIX record locks
//! (`fcntl` `F_SETLK`/`F_SETLKW`/`F_GETLK`), open file description record locks
//! (`F_OFD_*`) and `flock` locks.
//!
//! [`FileLocks`] is the sandbox's one lock table. It is keyed by file identity
//! ([`FileKey`]: the device and inode `stat` reports), so locks taken through any
//! filesystem — host files, the overlay, tmpfs, binds — meet whatever path or fd reached
//! the file, and no lock is ever passed on to the host.
//!
//! Record locks are byte ranges held by an [`Owner`]: a process's fd table
//! ([`PosixOwner`], Linux's `files_struct`: the process and its threads) for POSIX locks,
//! or an open file description ([`DescriptionLocks`]) for OFD locks. Both kinds meet in
//! one list per file and conflict with each other; an owner's own locks are split, merged,
//! upgraded and downgraded, never in conflict. `flock` locks are whole-file locks of open
//! file descriptions and do not interact with record locks.
//!
//! Locks go as on Linux: a POSIX owner loses its locks on a file when it closes any fd of
//! that file ([`PosixOwner::closed`]) and when its fd table goes (exit); a description's
//! OFD and `flock` locks go with the description. A blocked request sleeps on its file's
//! wait queue (interruptible, `EINTR`) and tries again after every change; a POSIX request
//! that would wait, directly or through other waiting POSIX owners, on its own owner fails
//! with `EDEADLK`.

use crate::Result;
use crate::file::OpenFile;
use crate::wait::{WaitQueue, Waiter};
use nix::errno::Errno;
use parking_lot::{Mutex, MutexGuard};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The last byte offset a lock can cover (Linux's `OFFSET_MAX`): a lock ending there runs
/// to the end of the file, however long it grows.
pub const OFFSET_MAX: i64 = i64::MAX;

/// A file as locks see it: the device and inode its `stat` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// Device.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileKey {
    /// The identity of the file `file` is open on.
    pub fn of(file: &OpenFile) -> Result<FileKey> {
        let st = file.ops.stat()?;
        Ok(FileKey {
            dev: st.dev,
            ino: st.ino,
        })
    }
}

/// Shared (read) or exclusive (write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// `F_RDLCK`, `LOCK_SH`.
    Read,
    /// `F_WRLCK`, `LOCK_EX`.
    Write,
}

impl LockKind {
    /// Whether a lock of this kind and one of `other`, held by different owners over
    /// common bytes, conflict.
    pub fn conflicts(self, other: LockKind) -> bool {
        self == LockKind::Write || other == LockKind::Write
    }
}

/// Who holds a record lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A POSIX lock of the fd table with this id ([`PosixOwner`]).
    Posix(u64),
    /// An OFD lock of the open file description with this id ([`DescriptionLocks`]).
    Description(u64),
}

/// One record lock: bytes `start..=end` of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordLock {
    /// Its owner.
    pub owner: Owner,
    /// The `l_pid` `F_GETLK` reports: the locking process, -1 for OFD locks.
    pub pid: i32,
    /// Shared or exclusive.
    pub kind: LockKind,
    /// First byte.
    pub start: i64,
    /// Last byte ([`OFFSET_MAX`]: to the end of the file).
    pub end: i64,
}

impl RecordLock {
    fn overlaps(&self, start: i64, end: i64) -> bool {
        self.start <= end && start <= self.end
    }

    /// The `l_len` `F_GETLK` reports: 0 for a lock to the end of the file.
    pub fn l_len(&self) -> i64 {
        if self.end == OFFSET_MAX {
            0
        } else {
            self.end - self.start + 1
        }
    }
}

/// The bytes `[start, end]` a `struct flock` names: `l_start` counted from `base` (0, the
/// file offset or the file size, by `l_whence`) and `l_len` bytes on from there — 0: up to
/// [`OFFSET_MAX`], negative: the `-l_len` bytes before it. `EINVAL` for a range starting
/// before byte 0, `EOVERFLOW` for one past [`OFFSET_MAX`].
pub fn record_range(base: i64, l_start: i64, l_len: i64) -> Result<(i64, i64)> {
    let start = base.checked_add(l_start).ok_or(Errno::EOVERFLOW)?;
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    match l_len {
        0 => Ok((start, OFFSET_MAX)),
        len if len > 0 => Ok((start, start.checked_add(len - 1).ok_or(Errno::EOVERFLOW)?)),
        len => {
            let first = start + len;
            if first < 0 {
                return Err(Errno::EINVAL);
            }
            Ok((first, start - 1))
        }
    }
}

/// [`record_range`] of a `struct flock` on `file`: `whence` is `SEEK_SET`, `SEEK_CUR` (from
/// the file offset) or `SEEK_END` (from the file size); anything else is `EINVAL`.
pub fn range_of(file: &OpenFile, whence: i16, l_start: i64, l_len: i64) -> Result<(i64, i64)> {
    let base = match i32::from(whence) {
        libc::SEEK_SET => 0,
        // Files without an offset (pipes, sockets) count from 0, as Linux's unused f_pos.
        libc::SEEK_CUR => file.ops.seek(0, libc::SEEK_CUR).map_or(0, |o| o as i64),
        libc::SEEK_END => file.ops.stat()?.size,
        _ => return Err(Errno::EINVAL),
    };
    record_range(base, l_start, l_len)
}

/// One owner's locks after it locks (`new`) or unlocks bytes `[start, end]`: the range is
/// cut out of every lock it covers (splitting one that extends past both ends), the new
/// lock goes in, and locks of one kind that overlap or touch merge. `held` and the result
/// are sorted by start, disjoint, and maximal (no two touching locks of one kind).
fn apply_to_owner(
    held: &[RecordLock],
    new: Option<RecordLock>,
    start: i64,
    end: i64,
) -> Vec<RecordLock> {
    let mut cut = Vec::with_capacity(held.len() + 2);
    for l in held {
        if !l.overlaps(start, end) {
            cut.push(*l);
            continue;
        }
        if l.start < start {
            cut.push(RecordLock {
                end: start - 1,
                ..*l
            });
        }
        if l.end > end {
            cut.push(RecordLock {
                start: end + 1,
                ..*l
            });
        }
    }
    cut.extend(new);
    cut.sort_by_key(|l| l.start);
    let mut out: Vec<RecordLock> = Vec::with_capacity(cut.len());
    for l in cut {
        match out.last_mut() {
            Some(prev) if prev.kind == l.kind && prev.end.saturating_add(1) >= l.start => {
                prev.end = prev.end.max(l.end);
            }
            _ => out.push(l),
        }
    }
    out
}

/// Whether owner `me`, about to wait for the owners in `on`, would wait for itself: some
/// owner in `on` is `me`, or waits (as recorded in `blocked`) for an owner that does, and
/// so on.
fn would_deadlock(blocked: &[Blocked], me: Owner, on: &[Owner]) -> bool {
    let mut seen = HashSet::new();
    let mut todo = on.to_vec();
    while let Some(o) = todo.pop() {
        if o == me {
            return true;
        }
        if seen.insert(o) {
            for b in blocked.iter().filter(|b| b.owner == o) {
                todo.extend_from_slice(&b.on);
            }
        }
    }
    false
}

/// A whole-file `flock` lock.
#[derive(Clone, Copy, Debug)]
struct FlockLock {
    /// The open file description holding it.
    description: u64,
    /// The process that took it (for `/proc/locks`).
    pid: i32,
    kind: LockKind,
}

/// The locks of one file, and who waits for them to change.
#[derive(Default)]
struct FileState {
    /// Record locks, POSIX and OFD. Each owner's locks are together, sorted by start, in
    /// the order owners first locked (the order `F_GETLK` searches, as on Linux).
    records: Vec<RecordLock>,
    flocks: Vec<FlockLock>,
    /// Woken whenever a lock goes or gets weaker.
    queue: Arc<WaitQueue>,
    /// Tasks sleeping on `queue` (the state stays while there are any).
    sleepers: usize,
}

impl FileState {
    /// The record locks of owners other than `owner` that a lock of `kind` over
    /// `[start, end]` conflicts with.
    fn conflicts(
        &self,
        owner: Owner,
        kind: LockKind,
        start: i64,
        end: i64,
    ) -> impl Iterator<Item = &RecordLock> {
        self.records
            .iter()
            .filter(move |l| l.owner != owner && l.overlaps(start, end) && kind.conflicts(l.kind))
    }

    /// Replaces `owner`'s locks over `[start, end]` by `new` (none: unlock); returns whether
    /// anything changed.
    fn apply(&mut self, owner: Owner, new: Option<RecordLock>, start: i64, end: i64) -> bool {
        let at = self.records.iter().position(|l| l.owner == owner);
        let held: Vec<RecordLock> = self
            .records
            .iter()
            .filter(|l| l.owner == owner)
            .copied()
            .collect();
        let updated = apply_to_owner(&held, new, start, end);
        if updated == held {
            return false;
        }
        self.records.retain(|l| l.owner != owner);
        let at = at.unwrap_or(self.records.len());
        self.records.splice(at..at, updated);
        true
    }

    fn is_unused(&self) -> bool {
        self.records.is_empty() && self.flocks.is_empty() && self.sleepers == 0
    }
}

/// A POSIX owner blocked in `F_SETLKW`, and the POSIX owners whose locks it waits for.
struct Blocked {
    token: u64,
    owner: Owner,
    on: Vec<Owner>,
}

#[derive(Default)]
struct State {
    files: HashMap<FileKey, FileState>,
    blocked: Vec<Blocked>,
    next_token: u64,
}

impl State {
    fn file(&mut self, key: FileKey) -> &mut FileState {
        self.files.entry(key).or_default()
    }

    /// Forgets the file's state once it holds nothing.
    fn prune(&mut self, key: FileKey) {
        if self.files.get(&key).is_some_and(FileState::is_unused) {
            self.files.remove(&key);
        }
    }

    /// Removes every lock of `owner` on `key` (its `flock` lock too, for a description)
    /// and wakes the file's waiters.
    fn release(&mut self, key: FileKey, owner: Owner) {
        let Some(f) = self.files.get_mut(&key) else {
            return;
        };
        let before = (f.records.len(), f.flocks.len());
        f.records.retain(|l| l.owner != owner);
        if let Owner::Description(id) = owner {
            f.flocks.retain(|l| l.description != id);
        }
        if before != (f.records.len(), f.flocks.len()) {
            f.queue.notify_all();
        }
        self.prune(key);
    }
}

/// The sandbox's lock table.
#[derive(Default)]
pub struct FileLocks {
    state: Mutex<State>,
}

/// Who takes or tests a record lock through an open file.
#[derive(Clone, Copy)]
pub enum Holder<'a> {
    /// A process, through its fd table: a POSIX lock. The `i32` is its pid (`l_pid`).
    Process(&'a PosixOwner, i32),
    /// The open file description itself: an OFD lock.
    Description,
}

impl Holder<'_> {
    fn owner(self, file: &OpenFile) -> Owner {
        match self {
            Holder::Process(o, _) => Owner::Posix(o.id),
            Holder::Description => Owner::Description(file.locks.id),
        }
    }

    fn pid(self) -> i32 {
        match self {
            Holder::Process(_, pid) => pid,
            Holder::Description => -1,
        }
    }

    /// Remembers that the holder may have locks on `key` in `table`, so that closing or
    /// dropping it releases them.
    fn track(self, file: &OpenFile, table: &Arc<FileLocks>, key: FileKey) {
        match self {
            Holder::Process(o, _) => o.track(table, key),
            Holder::Description => file.locks.track(table, key),
        }
    }
}

/// A lock as `/proc/locks` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockInfo {
    /// The file.
    pub key: FileKey,
    /// What kind of lock.
    pub class: LockClass,
    /// Shared or exclusive.
    pub kind: LockKind,
    /// The process that took it (-1 for OFD locks).
    pub pid: i32,
    /// First byte (0 for `flock` locks).
    pub start: i64,
    /// Last byte ([`OFFSET_MAX`] to the end of the file, and for `flock` locks).
    pub end: i64,
}

/// The three kinds of advisory locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockClass {
    /// POSIX record lock.
    Posix,
    /// Open file description record lock.
    Ofd,
    /// `flock` lock.
    Flock,
}

impl FileLocks {
    /// An empty table.
    pub fn new() -> Arc<FileLocks> {
        Arc::default()
    }

    /// `F_GETLK`/`F_OFD_GETLK`: the first lock of another owner that a lock of `kind` by
    /// `holder` over `[start, end]` of `file` would conflict with. With no kind (an
    /// `F_OFD_GETLK` of `F_UNLCK`, as Linux 6.7 added), the holder's own first lock
    /// there.
    pub fn test_record(
        &self,
        file: &OpenFile,
        holder: Holder<'_>,
        kind: Option<LockKind>,
        (start, end): (i64, i64),
    ) -> Result<Option<RecordLock>> {
        let key = FileKey::of(file)?;
        let owner = holder.owner(file);
        let st = self.state.lock();
        let Some(f) = st.files.get(&key) else {
            return Ok(None);
        };
        Ok(match kind {
            Some(kind) => f.conflicts(owner, kind, start, end).next().copied(),
            None => f
                .records
                .iter()
                .find(|l| l.owner == owner && l.overlaps(start, end))
                .copied(),
        })
    }

    /// `F_SETLK`/`F_SETLKW` and their OFD forms: `holder` locks bytes `[start, end]` of
    /// `file` with `kind`, or unlocks them (`None`). A conflict fails with `EAGAIN`, or
    /// with a `wait`er sleeps until the lock can be taken (`EINTR` if interrupted,
    /// `EDEADLK` if a POSIX owner would wait for itself).
    pub fn set_record(
        self: &Arc<Self>,
        file: &OpenFile,
        holder: Holder<'_>,
        kind: Option<LockKind>,
        (start, end): (i64, i64),
        wait: Option<&Arc<Waiter>>,
    ) -> Result<()> {
        let key = FileKey::of(file)?;
        let owner = holder.owner(file);
        loop {
            let mut st = self.state.lock();
            let f = st.file(key);
            let blockers: Vec<Owner> = match kind {
                Some(k) => f.conflicts(owner, k, start, end).map(|l| l.owner).collect(),
                None => Vec::new(),
            };
            if blockers.is_empty() {
                let new = kind.map(|kind| RecordLock {
                    owner,
                    pid: holder.pid(),
                    kind,
                    start,
                    end,
                });
                if f.apply(owner, new, start, end) {
                    f.queue.notify_all();
                }
                if kind.is_some() {
                    holder.track(file, self, key);
                }
                st.prune(key);
                return Ok(());
            }
            let Some(w) = wait else {
                st.prune(key);
                return Err(Errno::EAGAIN);
            };
            // Only POSIX owners take part in deadlock detection, as on Linux: an OFD
            // lock is not any process's, so nothing says who would release it.
            let edge = match owner {
                Owner::Posix(_) => {
                    let on: Vec<Owner> = blockers
                        .into_iter()
                        .filter(|o| matches!(o, Owner::Posix(_)))
                        .collect();
                    if would_deadlock(&st.blocked, owner, &on) {
                        st.prune(key);
                        return Err(Errno::EDEADLK);
                    }
                    Some((owner, on))
                }
                Owner::Description(_) => None,
            };
            self.sleep(st, key, w, edge)?;
        }
    }

    /// `flock`: the description of `file` takes a shared or exclusive lock on it, or drops
    /// its lock (`None`). As on Linux, a change of kind first drops the old lock; a
    /// conflict then fails with `EWOULDBLOCK`, or with a `wait`er sleeps until the lock
    /// can be taken (`EINTR` if interrupted). `pid` is the caller's, for `/proc/locks`.
    pub fn flock(
        self: &Arc<Self>,
        file: &OpenFile,
        pid: i32,
        kind: Option<LockKind>,
        wait: Option<&Arc<Waiter>>,
    ) -> Result<()> {
        let key = FileKey::of(file)?;
        let me = file.locks.id;
        let mut st = self.state.lock();
        let f = st.file(key);
        if let Some(i) = f.flocks.iter().position(|l| l.description == me) {
            if Some(f.flocks[i].kind) == kind {
                return Ok(());
            }
            f.flocks.remove(i);
            f.queue.notify_all();
        }
        let Some(kind) = kind else {
            st.prune(key);
            return Ok(());
        };
        loop {
            let f = st.file(key);
            if !f
                .flocks
                .iter()
                .any(|l| l.description != me && kind.conflicts(l.kind))
            {
                f.flocks.push(FlockLock {
                    description: me,
                    pid,
                    kind,
                });
                file.locks.track(self, key);
                return Ok(());
            }
            let Some(w) = wait else {
                st.prune(key);
                return Err(Errno::EWOULDBLOCK);
            };
            self.sleep(st, key, w, None)?;
            st = self.state.lock();
        }
    }

    /// Every lock, sorted by file, for `/proc/locks`.
    pub fn list(&self) -> Vec<LockInfo> {
        let st = self.state.lock();
        let mut keys: Vec<&FileKey> = st.files.keys().collect();
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let f = &st.files[key];
            out.extend(f.records.iter().map(|l| LockInfo {
                key: *key,
                class: match l.owner {
                    Owner::Posix(_) => LockClass::Posix,
                    Owner::Description(_) => LockClass::Ofd,
                },
                kind: l.kind,
                pid: l.pid,
                start: l.start,
                end: l.end,
            }));
            out.extend(f.flocks.iter().map(|l| LockInfo {
                key: *key,
                class: LockClass::Flock,
                kind: l.kind,
                pid: l.pid,
                start: 0,
                end: OFFSET_MAX,
            }));
        }
        out
    }

    /// Removes every lock `owner` holds on `key` and wakes that file's waiters.
    fn release(&self, key: FileKey, owner: Owner) {
        self.state.lock().release(key, owner);
    }

    /// Sleeps on the queue of file `key` until a lock there changes (`EINTR` if `w` is
    /// interrupted). `blocked` records the POSIX owner sleeping and the owners it waits
    /// for, for deadlock detection, until it wakes. Consumes the state guard: the waiter
    /// is on the queue before the lock is let go, so no change in between is missed.
    fn sleep(
        &self,
        mut st: MutexGuard<'_, State>,
        key: FileKey,
        w: &Arc<Waiter>,
        blocked: Option<(Owner, Vec<Owner>)>,
    ) -> Result<()> {
        let token = st.next_token;
        st.next_token += 1;
        if let Some((owner, on)) = blocked {
            st.blocked.push(Blocked { token, owner, on });
        }
        let f = st.file(key);
        f.sleepers += 1;
        let queue = f.queue.clone();
        let registration = queue.register(w);
        drop(st);
        let woken = w.wait(None);
        drop(registration);
        let mut st = self.state.lock();
        st.blocked.retain(|b| b.token != token);
        st.file(key).sleepers -= 1;
        st.prune(key);
        woken
    }
}

static NEXT_OWNER_ID: AtomicU64 = AtomicU64::new(1);

fn next_owner_id() -> u64 {
    NEXT_OWNER_ID.fetch_add(1, Ordering::Relaxed)
}

/// The owner of POSIX record locks: one fd table, as Linux's `files_struct` (a process and
/// its threads; a forked child gets a table, hence an owner, of its own, so locks are not
/// inherited). It drops its locks on a file when any fd of the file is closed, and all of
/// them when it goes.
pub struct PosixOwner {
    id: u64,
    /// The files it may hold locks on, with the table holding them.
    files: Mutex<HashMap<FileKey, Arc<FileLocks>>>,
}

impl PosixOwner {
    /// A new owner, holding no locks.
    pub fn new() -> Arc<PosixOwner> {
        Arc::new(PosixOwner {
            id: next_owner_id(),
            files: Mutex::new(HashMap::new()),
        })
    }

    fn track(&self, table: &Arc<FileLocks>, key: FileKey) {
        self.files
            .lock()
            .entry(key)
            .or_insert_with(|| table.clone());
    }

    /// An fd of the owner's table that referred to `file` was closed: as POSIX requires,
    /// the owner loses every lock it holds on that file, whichever fd took them. Costs
    /// nothing while the owner holds no locks.
    pub fn closed(&self, file: &OpenFile) {
        if self.files.lock().is_empty() {
            return;
        }
        let Ok(key) = FileKey::of(file) else {
            return;
        };
        let table = self.files.lock().remove(&key);
        if let Some(table) = table {
            table.release(key, Owner::Posix(self.id));
        }
    }
}

impl Drop for PosixOwner {
    fn drop(&mut self) {
        for (key, table) in self.files.get_mut().drain() {
            table.release(key, Owner::Posix(self.id));
        }
    }
}

/// The locks of one open file description: its OFD record locks and its `flock` lock,
/// dropped with the description (when its last fd is closed and nothing else holds it).
pub struct DescriptionLocks {
    id: u64,
    /// The files it may hold locks on (one, unless the file's identity changed under it),
    /// with the table holding them.
    held: Mutex<Vec<(Arc<FileLocks>, FileKey)>>,
}

impl Default for DescriptionLocks {
    fn default() -> Self {
        DescriptionLocks {
            id: next_owner_id(),
            held: Mutex::new(Vec::new()),
        }
    }
}

impl DescriptionLocks {
    fn track(&self, table: &Arc<FileLocks>, key: FileKey) {
        let mut held = self.held.lock();
        if !held.iter().any(|(t, k)| Arc::ptr_eq(t, table) && *k == key) {
            held.push((table.clone(), key));
        }
    }
}

impl Drop for DescriptionLocks {
    fn drop(&mut self) {
        for (table, key) in self.held.get_mut().drain(..) {
            table.release(key, Owner::Description(self.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::FileOps;
    use crate::inode::Stat;
    use LockKind::{Read, Write};

    const A: Owner = Owner::Posix(1);
    const B: Owner = Owner::Posix(2);
    const C: Owner = Owner::Posix(3);

    fn lock(kind: LockKind, start: i64, end: i64) -> RecordLock {
        RecordLock {
            owner: A,
            pid: 7,
            kind,
            start,
            end,
        }
    }

    fn ranges(locks: &[RecordLock]) -> Vec<(LockKind, i64, i64)> {
        locks.iter().map(|l| (l.kind, l.start, l.end)).collect()
    }

    fn set(held: &[RecordLock], kind: Option<LockKind>, start: i64, end: i64) -> Vec<RecordLock> {
        apply_to_owner(held, kind.map(|k| lock(k, start, end)), start, end)
    }

    #[test]
    fn ranges_from_flock_fields() {
        assert_eq!(record_range(0, 10, 5), Ok((10, 14)));
        assert_eq!(record_range(100, -10, 0), Ok((90, OFFSET_MAX)));
        assert_eq!(record_range(0, 10, -4), Ok((6, 9)));
        assert_eq!(record_range(0, 10, -10), Ok((0, 9)));
        assert_eq!(record_range(0, 10, -11), Err(Errno::EINVAL));
        assert_eq!(record_range(0, -1, 1), Err(Errno::EINVAL));
        assert_eq!(record_range(5, OFFSET_MAX, 1), Err(Errno::EOVERFLOW));
        assert_eq!(record_range(0, 1, OFFSET_MAX), Ok((1, OFFSET_MAX)));
        assert_eq!(record_range(0, 2, OFFSET_MAX), Err(Errno::EOVERFLOW));
        assert_eq!(record_range(0, 0, OFFSET_MAX), Ok((0, OFFSET_MAX - 1)));
        assert_eq!(record_range(0, 0, i64::MIN), Err(Errno::EINVAL));
    }

    #[test]
    fn unlocking_the_middle_splits() {
        let held = set(&[], Some(Write), 0, 99);
        let held = set(&held, None, 40, 59);
        assert_eq!(ranges(&held), [(Write, 0, 39), (Write, 60, 99)]);
        let held = set(&held, None, 0, OFFSET_MAX);
        assert!(held.is_empty());
    }

    #[test]
    fn touching_locks_of_one_kind_merge() {
        let held = set(&[], Some(Read), 10, 19);
        let held = set(&held, Some(Read), 20, 29);
        assert_eq!(ranges(&held), [(Read, 10, 29)]);
        let held = set(&held, Some(Read), 0, 9);
        assert_eq!(ranges(&held), [(Read, 0, 29)]);
        let held = set(&held, Some(Read), 31, OFFSET_MAX);
        assert_eq!(ranges(&held), [(Read, 0, 29), (Read, 31, OFFSET_MAX)]);
        let held = set(&held, Some(Read), 30, 30);
        assert_eq!(ranges(&held), [(Read, 0, OFFSET_MAX)]);
    }

    #[test]
    fn other_kinds_split_and_do_not_merge() {
        let held = set(&[], Some(Read), 0, 99);
        let held = set(&held, Some(Write), 40, 59);
        assert_eq!(
            ranges(&held),
            [(Read, 0, 39), (Write, 40, 59), (Read, 60, 99)]
        );
        let held = set(&held, Some(Write), 100, 109);
        assert_eq!(
            ranges(&held),
            [
                (Read, 0, 39),
                (Write, 40, 59),
                (Read, 60, 99),
                (Write, 100, 109)
            ]
        );
        // Downgrading the middle merges everything read back into one lock.
        let held = set(&held, Some(Read), 40, 59);
        assert_eq!(ranges(&held), [(Read, 0, 99), (Write, 100, 109)]);
        // An upgrade over several locks replaces them all.
        let held = set(&held, Some(Write), 50, 200);
        assert_eq!(ranges(&held), [(Read, 0, 49), (Write, 50, 200)]);
    }

    #[test]
    fn unlocking_nothing_changes_nothing() {
        let held = set(&[], Some(Write), 10, 19);
        assert_eq!(set(&held, None, 20, 30), held);
        assert_eq!(set(&held, Some(Write), 12, 15), held);
    }

    #[test]
    fn conflicts_need_another_owner_overlap_and_a_writer() {
        let mut f = FileState::default();
        f.apply(A, Some(lock(Read, 0, 9)), 0, 9);
        let b = RecordLock {
            owner: B,
            ..lock(Write, 20, 29)
        };
        f.apply(B, Some(b), 20, 29);
        assert_eq!(f.conflicts(C, Read, 0, 19).count(), 0);
        assert_eq!(f.conflicts(C, Write, 0, 19).count(), 1);
        assert_eq!(
            f.conflicts(C, Read, 5, 25)
                .map(|l| l.owner)
                .collect::<Vec<_>>(),
            [B]
        );
        assert_eq!(f.conflicts(C, Write, 5, 25).count(), 2);
        assert_eq!(f.conflicts(A, Write, 0, 9).count(), 0);
        assert_eq!(f.conflicts(A, Write, 0, 20).count(), 1);
        assert_eq!(f.conflicts(C, Write, 10, 19).count(), 0);
        // An owner's locks stay together in the order owners came.
        f.apply(A, Some(lock(Read, 40, 49)), 40, 49);
        let owners: Vec<Owner> = f.records.iter().map(|l| l.owner).collect();
        assert_eq!(owners, [A, A, B]);
    }

    #[test]
    fn deadlock_follows_waiting_owners() {
        let blocked = vec![
            Blocked {
                token: 1,
                owner: A,
                on: vec![B],
            },
            Blocked {
                token: 2,
                owner: B,
                on: vec![C],
            },
        ];
        // C waiting for A closes the cycle A -> B -> C -> A.
        assert!(would_deadlock(&blocked, C, &[A]));
        assert!(would_deadlock(&blocked, B, &[A]));
        assert!(!would_deadlock(&blocked, C, &[Owner::Posix(4)]));
        assert!(!would_deadlock(&[], B, &[A]));
        // A cycle that does not lead back to the requester is not its deadlock.
        let cycle = vec![
            Blocked {
                token: 1,
                owner: A,
                on: vec![B],
            },
            Blocked {
                token: 2,
                owner: B,
                on: vec![A],
            },
        ];
        assert!(!would_deadlock(&cycle, C, &[A]));
    }

    struct Plain(u64);
    impl FileOps for Plain {
        fn stat(&self) -> Result<Stat> {
            Ok(Stat {
                dev: 1,
                ino: self.0,
                size: 1000,
                ..Stat::default()
            })
        }
    }

    fn open(ino: u64) -> Arc<OpenFile> {
        OpenFile::new(Box::new(Plain(ino)), libc::O_RDWR, None)
    }

    #[test]
    fn posix_locks_go_when_any_fd_of_the_file_closes() {
        let table = FileLocks::new();
        let (f1, f2, other) = (open(5), open(5), open(6));
        let (a, b) = (PosixOwner::new(), PosixOwner::new());
        let whole = (0, OFFSET_MAX);
        table
            .set_record(&f1, Holder::Process(&a, 10), Some(Write), whole, None)
            .unwrap();
        let probe = |f: &OpenFile| {
            table
                .test_record(f, Holder::Process(&b, 11), Some(Read), whole)
                .unwrap()
        };
        assert_eq!(probe(&f2).map(|l| (l.pid, l.l_len())), Some((10, 0)));
        assert_eq!(
            table.set_record(&f2, Holder::Process(&b, 11), Some(Read), whole, None),
            Err(Errno::EAGAIN)
        );
        a.closed(&other);
        assert!(probe(&f2).is_some());
        a.closed(&f2);
        assert!(probe(&f1).is_none());
        assert!(table.list().is_empty());
    }

    #[test]
    fn description_locks_go_with_the_description() {
        let table = FileLocks::new();
        let (f1, f2) = (open(5), open(5));
        let owner = PosixOwner::new();
        table
            .set_record(&f1, Holder::Description, Some(Read), (0, 9), None)
            .unwrap();
        table.flock(&f1, 3, Some(Write), None).unwrap();
        assert_eq!(
            table.flock(&f2, 3, Some(Read), None),
            Err(Errno::EWOULDBLOCK)
        );
        // OFD and POSIX locks conflict, even within one process.
        let posix = Holder::Process(&owner, 3);
        assert_eq!(
            table.set_record(&f2, posix, Some(Write), (5, 5), None),
            Err(Errno::EAGAIN)
        );
        let l = table
            .test_record(&f2, posix, Some(Write), (0, 0))
            .unwrap()
            .unwrap();
        assert_eq!((l.pid, l.kind, l.start, l.l_len()), (-1, Read, 0, 10));
        assert_eq!(table.list().len(), 2);
        drop(f1);
        assert!(table.list().is_empty());
        table.flock(&f2, 3, Some(Write), None).unwrap();
    }

    #[test]
    fn a_blocked_lock_is_taken_once_released() {
        let table = FileLocks::new();
        let f = open(9);
        let (a, b) = (PosixOwner::new(), PosixOwner::new());
        table
            .set_record(&f, Holder::Process(&a, 1), Some(Write), (0, 0), None)
            .unwrap();
        let waiter = {
            let (table, f, b) = (table.clone(), f.clone(), b.clone());
            std::thread::spawn(move || {
                let w = Waiter::new();
                table.set_record(&f, Holder::Process(&b, 2), Some(Write), (0, 0), Some(&w))
            })
        };
        // Wait until b is blocked on a, then a waiting for b is a deadlock.
        while table.state.lock().blocked.is_empty() {
            std::thread::yield_now();
        }
        table
            .set_record(&f, Holder::Process(&b, 2), Some(Write), (1, 1), None)
            .expect("byte 1 is free");
        let w = Waiter::new();
        // b holds byte 1 and waits for byte 0, which a holds.
        assert_eq!(
            table.set_record(&f, Holder::Process(&a, 1), Some(Write), (1, 1), Some(&w)),
            Err(Errno::EDEADLK)
        );
        drop(a);
        assert_eq!(waiter.join().unwrap(), Ok(()));
        let l = table.list();
        assert_eq!(
            l.iter()
                .map(|l| (l.pid, l.start, l.end))
                .collect::<Vec<_>>(),
            [(2, 0, 1)]
        );
    }

    #[test]
    fn an_interrupted_wait_fails_with_eintr() {
        let table = FileLocks::new();
        let (f1, f2) = (open(3), open(3));
        table.flock(&f1, 1, Some(Write), None).unwrap();
        let w = Waiter::new();
        w.interrupt();
        assert_eq!(table.flock(&f2, 2, Some(Read), Some(&w)), Err(Errno::EINTR));
        drop(f1);
        w.clear_interrupt();
        table.flock(&f2, 2, Some(Read), Some(&w)).unwrap();
    }
}
