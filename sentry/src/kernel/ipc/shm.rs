//! System V shared memory: segments whose pages are one shared object of the memory file.
//!
//! A segment's pages are an `Arc<MemRange>`; `shmat` maps it as a shared VMA
//! ([`mm::Content::Object`]) and every VMA showing it holds a reference, so the
//! attach count (`shm_nattch`) is the number of such VMAs, as on Linux: `fork` copies
//! them, `mprotect` may split them, exec and exit drop them with the address space. After
//! `IPC_RMID` the registry keeps only a weak reference: the pages go with the last VMA,
//! and the id with them (checked whenever the registry is used).

use super::abi::{Ipc64Perm, ShmInfo, Shmid64Ds, Shminfo64};
use super::{Caller, Registry, StatBy, now};
use crate::errno::mm_errno;
use crate::kernel::Kernel;
use mm::{MemRange, ObjectName, PAGE_SIZE};
use nix::errno::Errno;
use parking_lot::{Mutex, MutexGuard};
use std::sync::{Arc, Weak};

/// Smallest segment size.
pub const SHMMIN: u64 = 1;
/// Largest segment size (Linux's default `kernel.shmmax`).
pub const SHMMAX: u64 = u64::MAX - (1 << 24);
/// Most pages in all segments together (Linux's default `kernel.shmall`).
pub const SHMALL: u64 = u64::MAX - (1 << 24);
/// Most segments (`kernel.shmmni`).
pub const SHMMNI: usize = 4096;
/// Mode flag: removed, destroyed with its last attach.
pub const SHM_DEST: u32 = 0o1000;
/// Mode flag: locked in memory (`SHM_LOCK`).
pub const SHM_LOCKED: u32 = 0o2000;
/// `shmctl`: lock the segment in memory.
pub const SHM_LOCK: i32 = 11;
/// `shmctl`: unlock it.
pub const SHM_UNLOCK: i32 = 12;
/// `shmctl`: `IPC_STAT` by index.
pub const SHM_STAT: i32 = 13;
/// `shmctl`: usage figures.
pub const SHM_INFO: i32 = 14;
/// `shmctl`: `SHM_STAT` without a permission check.
pub const SHM_STAT_ANY: i32 = 15;

/// Device number of the segments' mappings in `/proc/pid/maps` (Linux's shm mount, 00:01).
const SHM_DEV: u64 = 1;

enum Pages {
    /// Not removed: the registry keeps the pages alive.
    Live(Arc<MemRange>),
    /// Removed while attached: alive as long as a VMA maps them.
    Doomed(Weak<MemRange>),
}

/// One segment.
pub struct Segment {
    pages: Pages,
    /// Size asked for at creation.
    size: u64,
    /// Key at creation (the mapping's name keeps it after removal).
    created_key: i32,
    atime: i64,
    dtime: i64,
    ctime: i64,
    cpid: i32,
    lpid: i32,
}

impl Segment {
    fn nattch(&self) -> u64 {
        match &self.pages {
            Pages::Live(p) => Arc::strong_count(p) as u64 - 1,
            Pages::Doomed(w) => w.strong_count() as u64,
        }
    }

    fn pages(&self) -> Option<Arc<MemRange>> {
        match &self.pages {
            Pages::Live(p) => Some(p.clone()),
            Pages::Doomed(w) => w.upgrade(),
        }
    }

    fn holds(&self, mem: &Arc<MemRange>) -> bool {
        match &self.pages {
            Pages::Live(p) => Arc::ptr_eq(p, mem),
            Pages::Doomed(w) => std::ptr::eq(w.as_ptr(), Arc::as_ptr(mem)),
        }
    }

    fn pages_len(&self) -> u64 {
        self.size.div_ceil(PAGE_SIZE)
    }
}

/// What `shmat` maps.
pub struct Attach {
    /// The segment's pages.
    pub mem: Arc<MemRange>,
    /// How `/proc/pid/maps` names the mapping.
    pub name: Arc<ObjectName>,
}

/// The shared memory segments of a namespace.
pub struct Shm {
    segs: Mutex<Registry<Segment>>,
}

impl Default for Shm {
    fn default() -> Self {
        Shm {
            segs: Mutex::new(Registry::new(SHMMNI)),
        }
    }
}

impl Shm {
    /// The registry, without the removed segments whose last attach is gone.
    fn segments(&self) -> MutexGuard<'_, Registry<Segment>> {
        let mut segs = self.segs.lock();
        let gone: Vec<i32> = segs
            .iter()
            .filter(|s| matches!(&s.data.pages, Pages::Doomed(w) if w.strong_count() == 0))
            .map(|s| s.perm.id)
            .collect();
        for id in gone {
            segs.remove(id);
        }
        segs
    }

    /// `shmget`: the id of the segment with `key`, or a new one of `size` bytes (which
    /// must fit in the guest's memory limit).
    pub fn get(
        &self,
        kernel: &Kernel,
        who: &Caller,
        key: i32,
        size: u64,
        flags: i32,
    ) -> Result<i32, Errno> {
        let mut segs = self.segments();
        let total: u64 = segs.iter().map(|s| s.data.pages_len()).sum();
        segs.get_or_create(
            who,
            key,
            flags,
            |seg| {
                if seg.size < size {
                    return Err(Errno::EINVAL);
                }
                Ok(())
            },
            || {
                if !(SHMMIN..=SHMMAX).contains(&size) {
                    return Err(Errno::EINVAL);
                }
                let len = size.div_ceil(PAGE_SIZE);
                if total.checked_add(len).is_none_or(|t| t > SHMALL) {
                    return Err(Errno::ENOSPC);
                }
                if !kernel.memory_allows(size) {
                    return Err(Errno::ENOMEM);
                }
                let mem = MemRange::zeroed(&kernel.mem, len * PAGE_SIZE).map_err(mm_errno)?;
                Ok(Segment {
                    pages: Pages::Live(Arc::new(mem)),
                    size,
                    created_key: key,
                    atime: 0,
                    dtime: 0,
                    ctime: now(),
                    cpid: who.pid,
                    lpid: 0,
                })
            },
        )
    }

    /// `shmat`: the pages of segment `id` for a mapping with access `want` (`READ`,
    /// `WRITE`, `EXEC`). Records the attach time and pid.
    pub fn attach(&self, who: &Caller, id: i32, want: u32) -> Result<Attach, Errno> {
        let mut segs = self.segments();
        let seg = segs.get(id)?;
        if !seg.perm.allows(who, want) {
            return Err(Errno::EACCES);
        }
        let mem = seg.data.pages().ok_or(Errno::EIDRM)?;
        seg.data.atime = now();
        seg.data.lpid = who.pid;
        let name = Arc::new(ObjectName {
            path: format!("/SYSV{:08x} (deleted)", seg.data.created_key as u32),
            dev: SHM_DEV,
            ino: id as u64,
        });
        Ok(Attach { mem, name })
    }

    /// Whether `mem` is the pages of a segment (what `shmdt` may unmap).
    pub fn is_segment(&self, mem: &Arc<MemRange>) -> bool {
        self.segs.lock().iter().any(|s| s.data.holds(mem))
    }

    /// `shmdt` unmapped the segment whose pages are `mem`: records the detach time and pid.
    pub fn detached(&self, who: &Caller, mem: &Arc<MemRange>) {
        if let Some(seg) = self.segs.lock().iter_mut().find(|s| s.data.holds(mem)) {
            seg.data.dtime = now();
            seg.data.lpid = who.pid;
        }
    }

    /// `IPC_STAT`, `SHM_STAT`, `SHM_STAT_ANY`.
    pub fn stat(&self, who: &Caller, id: i32, by: StatBy) -> Result<(Shmid64Ds, i32), Errno> {
        let mut segs = self.segments();
        let (seg, ret) = segs.stat(who, id, by)?;
        let ds = Shmid64Ds {
            shm_perm: seg.perm.to_abi(),
            shm_segsz: seg.data.size,
            shm_atime: seg.data.atime,
            shm_dtime: seg.data.dtime,
            shm_ctime: seg.data.ctime,
            shm_cpid: seg.data.cpid,
            shm_lpid: seg.data.lpid,
            shm_nattch: seg.data.nattch(),
            ..Default::default()
        };
        Ok((ds, ret))
    }

    /// `IPC_SET`.
    pub fn set(&self, who: &Caller, id: i32, perm: &Ipc64Perm) -> Result<(), Errno> {
        let mut segs = self.segments();
        let seg = segs.owned(who, id)?;
        seg.perm.update(perm)?;
        seg.data.ctime = now();
        Ok(())
    }

    /// `IPC_RMID`: destroys the segment now if nothing maps it, else marks it
    /// `SHM_DEST` and hides its key until the last attach goes.
    pub fn remove(&self, who: &Caller, id: i32) -> Result<(), Errno> {
        let mut segs = self.segments();
        let seg = segs.owned(who, id)?;
        if seg.data.nattch() == 0 {
            segs.remove(id);
            return Ok(());
        }
        seg.perm.mode |= SHM_DEST;
        if let Pages::Live(p) = &seg.data.pages {
            seg.data.pages = Pages::Doomed(Arc::downgrade(p));
        }
        segs.hide_key(id);
        Ok(())
    }

    /// `SHM_LOCK` (`lock`) and `SHM_UNLOCK`: only the flag, since guest memory is never
    /// swapped out by the sentry. Unprivileged callers must own the segment and, to lock,
    /// have a non-zero `RLIMIT_MEMLOCK` (`memlock`).
    pub fn lock(&self, who: &Caller, id: i32, lock: bool, memlock: u64) -> Result<(), Errno> {
        let mut segs = self.segments();
        let seg = segs.get(id)?;
        if !who.privileged() {
            let owner = who.creds.euid == seg.perm.uid || who.creds.euid == seg.perm.cuid;
            if !owner || (lock && memlock == 0) {
                return Err(Errno::EPERM);
            }
        }
        if lock {
            seg.perm.mode |= SHM_LOCKED;
        } else {
            seg.perm.mode &= !SHM_LOCKED;
        }
        Ok(())
    }

    /// `IPC_INFO`: the limits, and the highest index in use.
    pub fn ipc_info(&self) -> (Shminfo64, i32) {
        let info = Shminfo64 {
            shmmax: SHMMAX,
            shmmin: SHMMIN,
            shmmni: SHMMNI as u64,
            shmseg: SHMMNI as u64,
            shmall: SHMALL,
            ..Default::default()
        };
        (info, self.segments().max_index())
    }

    /// `SHM_INFO`: segments, pages allocated and resident, and the highest index in use.
    pub fn shm_info(&self) -> (ShmInfo, i32) {
        let segs = self.segments();
        let info = ShmInfo {
            used_ids: segs.in_use() as i32,
            shm_tot: segs.iter().map(|s| s.data.pages_len()).sum(),
            shm_rss: segs
                .iter()
                .filter_map(|s| s.data.pages())
                .map(|p| p.resident_bytes() / PAGE_SIZE)
                .sum(),
            ..Default::default()
        };
        (info, segs.max_index())
    }
}
