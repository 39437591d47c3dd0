//! A guest address space: the VMA map, brk, and the Linux semantics of mmap, munmap,
//! mprotect, mremap, brk and madvise.
//!
//! Every change is applied to the VMA map and to the host stub (through a
//! [`HostMapper`]) under the address space's write lock, host first where memory is
//! released: pages go back to the memory file only after no stub maps them any more, so
//! a freed page can never be seen by a guest that used to own it.

use crate::error::MmError;
use crate::memfile::{MemRange, MemoryFile, PAGE_SIZE};
use crate::shared_file::FileId;
use crate::vma::{Backing, MappedFile, ObjectName, Prot, Vma, VmaMap, VmaName};
use parking_lot::RwLock;
use platform::HostMapper;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lowest address a guest may map (Linux's default `vm.mmap_min_addr`).
pub const MIN_ADDR: u64 = 0x10000;
/// Size of the initial stack mapping (the default `RLIMIT_STACK`).
pub const STACK_SIZE: u64 = 8 << 20;
/// Largest slack reserved after an allocation for in-place growth.
pub(crate) const MAX_SLACK: u64 = 1 << 30;

/// Rounds up to a page multiple; `None` on overflow.
pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

/// Rounds down to a page multiple.
pub fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

fn is_aligned(x: u64) -> bool {
    x.is_multiple_of(PAGE_SIZE)
}

/// Where the stack, the mmap area and PIE images go.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// First address the guest may not map.
    pub top: u64,
    /// Top of the initial stack.
    pub stack_top: u64,
    /// Mappings without a usable hint are placed top-down below this.
    pub mmap_base: u64,
    /// Load address of a position-independent executable.
    pub pie_base: u64,
}

impl Layout {
    /// Linux's x86_64 layout below `top`, randomised with `rand` like Linux's ASLR
    /// (stack: 22 bits of pages, mmap and PIE base: 28 bits of pages).
    pub fn randomized(top: u64, mut rand: impl FnMut() -> u64) -> Layout {
        let stack_top = page_down(top - PAGE_SIZE - ((rand() & 0x3f_ffff) << 12));
        let gap = (128 << 20) + (1 << 20) + (STACK_SIZE.max(128 << 20) - (128 << 20));
        let mmap_base = page_down(stack_top - gap - ((rand() & 0xfff_ffff) << 12));
        let pie_base = page_down(top / 3 * 2) + ((rand() & 0xfff_ffff) << 12);
        Layout {
            top,
            stack_top,
            mmap_base,
            pie_base,
        }
    }

    /// A fixed layout (no randomisation), for tests and reproducible runs.
    pub fn fixed(top: u64) -> Layout {
        Layout::randomized(top, || 0)
    }
}

/// How `mmap` may place a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// `addr` is a hint.
    Hint,
    /// `MAP_FIXED`: replace whatever is there.
    Fixed,
    /// `MAP_FIXED_NOREPLACE`: fail with EEXIST if anything is there.
    FixedNoReplace,
}

/// Initial contents of a new mapping.
#[derive(Clone)]
pub enum Content {
    /// Zero-filled.
    Zero,
    /// Copied from a file starting at `offset`; bytes past the end of file are zero.
    File {
        /// The file.
        file: Arc<MappedFile>,
        /// File offset of the mapping's first byte (page aligned).
        offset: u64,
    },
    /// The pages of a shared memory object, from its start (the mapping must be shared
    /// and no longer than the object).
    Object {
        /// The object's pages.
        mem: Arc<MemRange>,
        /// How `/proc/pid/maps` names it.
        name: Arc<ObjectName>,
    },
}

/// An `mmap` request, already decoded from the guest's flags.
#[derive(Clone)]
pub struct MapRequest {
    /// Hint or fixed address.
    pub addr: u64,
    /// Length in bytes (rounded up to pages).
    pub len: u64,
    /// Protection.
    pub prot: Prot,
    /// `MAP_SHARED` rather than `MAP_PRIVATE`.
    pub shared: bool,
    /// How `addr` is used.
    pub placement: Placement,
    /// `MAP_32BIT`: place in the first 2 GiB.
    pub low_2g: bool,
    /// Initial contents.
    pub content: Content,
    /// Name override for the heap and stack; `None` derives it from the content.
    pub name: Option<VmaName>,
}

impl MapRequest {
    /// A private anonymous mapping of `len` bytes at a kernel-chosen address.
    pub fn anon(len: u64, prot: Prot) -> Self {
        MapRequest {
            addr: 0,
            len,
            prot,
            shared: false,
            placement: Placement::Hint,
            low_2g: false,
            content: Content::Zero,
            name: None,
        }
    }
}

/// One VMA as the VMA dump and `/proc/pid/maps` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmaInfo {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Protection.
    pub prot: Prot,
    /// `MAP_SHARED`.
    pub shared: bool,
    /// Offset of `start` in the memory file.
    pub memfd_offset: u64,
    /// File offset for file mappings, 0 otherwise.
    pub file_offset: u64,
    /// Device and inode of the mapped file, (0, 0) otherwise.
    pub dev_ino: (u64, u64),
    /// `[heap]`, `[stack]`, a path, or empty.
    pub name: String,
}

pub(crate) struct State {
    pub(crate) vmas: VmaMap,
    layout: Layout,
    brk_start: u64,
    brk: u64,
}

/// One guest address space.
pub struct AddressSpace {
    pub(crate) mem: Arc<MemoryFile>,
    pub(crate) state: RwLock<State>,
    /// Bumped by every change of the host view, so that a stub sharing this address space
    /// with another (`CLONE_VM`) can tell it missed a change and reinstall.
    generation: AtomicU64,
    /// Unique among the sentry's address spaces: keys its private futexes.
    pub(crate) id: u64,
}

/// A fresh address-space id.
fn next_space_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `madvise` advice values the sentry acts on or accepts.
pub mod advice {
    /// `MADV_DONTNEED`: private pages read back as zero (or as the file's contents).
    pub const DONTNEED: i32 = 4;
    /// `MADV_FREE`: like DONTNEED for private anonymous memory.
    pub const FREE: i32 = 8;
    /// `MADV_REMOVE`: frees shared pages too.
    pub const REMOVE: i32 = 9;
    /// Highest advice value Linux knows (`MADV_COLLAPSE`).
    pub const MAX_KNOWN: i32 = 25;
}

impl AddressSpace {
    /// An empty address space with `layout`, backed by `mem`.
    pub fn new(mem: Arc<MemoryFile>, layout: Layout) -> Self {
        AddressSpace {
            mem,
            state: RwLock::new(State {
                vmas: VmaMap::default(),
                layout,
                brk_start: 0,
                brk: 0,
            }),
            generation: AtomicU64::new(0),
            id: next_space_id(),
        }
    }

    /// This address space's identity, unique in the sandbox's lifetime.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The memory file behind this address space.
    pub fn memory_file(&self) -> &Arc<MemoryFile> {
        &self.mem
    }

    /// The layout chosen at creation.
    pub fn layout(&self) -> Layout {
        self.state.read().layout
    }

    /// Creates a mapping and returns its address.
    pub fn mmap(&self, host: &mut dyn HostMapper, req: MapRequest) -> Result<u64, MmError> {
        self.changed();
        let len = match page_up(req.len) {
            Some(0) => return Err(MmError::Invalid),
            Some(l) => l,
            None => return Err(MmError::NoMem),
        };
        let mut st = self.state.write();
        let top = st.layout.top;
        let addr = match req.placement {
            Placement::Fixed | Placement::FixedNoReplace => {
                if !is_aligned(req.addr) {
                    return Err(MmError::Invalid);
                }
                if req.addr.checked_add(len).is_none_or(|end| end > top) {
                    return Err(MmError::NoMem);
                }
                if req.addr < MIN_ADDR {
                    return Err(MmError::Perm);
                }
                if req.placement == Placement::FixedNoReplace
                    && st.vmas.overlaps(req.addr, req.addr + len)
                {
                    return Err(MmError::Exists);
                }
                req.addr
            }
            Placement::Hint => st.unmapped_area(req.addr, len, req.low_2g)?,
        };
        let name = req.name.clone().unwrap_or_else(|| match &req.content {
            Content::Zero => VmaName::Anon,
            Content::File { file, .. } => VmaName::File(file.clone()),
            Content::Object { name, .. } => VmaName::Object(name.clone()),
        });
        let file_offset = match &req.content {
            Content::File { offset, .. } => *offset,
            Content::Zero | Content::Object { .. } => 0,
        };
        let backing = self.new_backing(len, req.shared, req.prot, &req.content)?;
        host.map(addr, len, req.prot.0 as i32, backing.offset())
            .map_err(|e| MmError::Host("mmap in stub", e))?;
        // The host mapping already replaced whatever was there; drop it only now.
        let replaced = st.vmas.remove_range(addr, addr + len);
        drop(replaced);
        st.vmas.insert(Vma {
            start: addr,
            end: addr + len,
            prot: req.prot,
            shared: req.shared,
            backing,
            name,
            file_offset,
        });
        Ok(addr)
    }

    fn new_backing(
        &self,
        len: u64,
        shared: bool,
        prot: Prot,
        content: &Content,
    ) -> Result<Backing, MmError> {
        if let Content::Object { mem, .. } = content {
            if !shared || len > mem.len() {
                return Err(MmError::Invalid);
            }
            return Ok(Backing::Shared {
                mem: mem.clone(),
                off: 0,
            });
        }
        if let Content::File { file, offset } = content {
            if shared {
                let pages = self.mem.shared_files().map(&self.mem, file, *offset, len)?;
                return Ok(Backing::File {
                    pages,
                    off: *offset,
                });
            }
            if let (false, Some(version)) = (prot.writable(), file.version)
                && !self.mem.shared_files().has_file(FileId::of(file))
            {
                return self.cached(version, len, file, *offset);
            }
        }
        let range = MemRange::new(&self.mem, len, if shared { 0 } else { len.min(MAX_SLACK) })?;
        if let Content::File { file, offset } = content {
            fill_private(&range, 0, len, file, *offset)?;
        }
        Ok(if shared {
            Backing::Shared {
                mem: Arc::new(range),
                off: 0,
            }
        } else {
            Backing::Private(range)
        })
    }

    /// Read-only pages of a file range from the page cache, filled on first use.
    fn cached(
        &self,
        version: crate::vma::FileVersion,
        len: u64,
        file: &MappedFile,
        offset: u64,
    ) -> Result<Backing, MmError> {
        let key = (version, offset, len);
        let mut cache = self.mem.page_cache.lock();
        if let Some(mem) = cache.get(&key).and_then(std::sync::Weak::upgrade) {
            return Ok(Backing::Shared { mem, off: 0 });
        }
        let range = MemRange::new(&self.mem, len, 0)?;
        fill_from_file(&range, 0, len, file, offset)?;
        let mem = Arc::new(range);
        cache.retain(|_, w| w.strong_count() > 0);
        cache.insert(key, Arc::downgrade(&mem));
        Ok(Backing::Shared { mem, off: 0 })
    }

    /// Gives a page-cache VMA private pages (before it becomes writable).
    fn uncache(&self, host: &mut dyn HostMapper, vma: &mut Vma) -> Result<(), MmError> {
        let copy = MemRange::new(&self.mem, vma.len(), 0)?;
        self.mem
            .copy(vma.backing.offset(), copy.offset(), vma.len());
        host.map(vma.start, vma.len(), vma.prot.0 as i32, copy.offset())
            .map_err(|e| MmError::Host("mmap in stub", e))?;
        vma.backing = Backing::Private(copy);
        Ok(())
    }

    /// Removes mappings in `[addr, addr + len)`.
    pub fn munmap(&self, host: &mut dyn HostMapper, addr: u64, len: u64) -> Result<(), MmError> {
        self.changed();
        let mut st = self.state.write();
        let end = check_range(addr, len, st.layout.top)?;
        if !st.vmas.overlaps(addr, end) {
            return Ok(());
        }
        host.unmap(addr, end - addr)
            .map_err(|e| MmError::Host("munmap in stub", e))?;
        drop(st.vmas.remove_range(addr, end));
        Ok(())
    }

    /// Linux's `shmdt` walk: from `addr` up, finds the first shared VMA whose object
    /// `is_attached` accepts and which maps it at the offset it would have were the object
    /// mapped at `addr`, then unmaps that VMA and every later one mapping the same object
    /// that way and ending within the object's size of `addr` (the pieces `mprotect` or
    /// `munmap` made of one attach). Returns the object so detached, if any.
    /// `is_attached` runs under the address space's lock.
    pub fn detach(
        &self,
        host: &mut dyn HostMapper,
        addr: u64,
        is_attached: impl Fn(&Arc<MemRange>) -> bool,
    ) -> Result<Option<Arc<MemRange>>, MmError> {
        self.changed();
        let mut st = self.state.write();
        let mut found: Option<Arc<MemRange>> = None;
        let mut picked = Vec::new();
        for v in st
            .vmas
            .range(addr, st.layout.top)
            .filter(|v| v.start >= addr)
        {
            let Backing::Shared { mem, off } = &v.backing else {
                continue;
            };
            let attach = v.shared && *off == v.start - addr && is_attached(mem);
            match &found {
                None if attach => found = Some(mem.clone()),
                None => continue,
                Some(obj) if v.end - addr > obj.len() => break,
                Some(obj) if attach && Arc::ptr_eq(obj, mem) => {}
                Some(_) => continue,
            }
            picked.push((v.start, v.end));
        }
        for &(start, end) in &picked {
            host.unmap(start, end - start)
                .map_err(|e| MmError::Host("munmap in stub", e))?;
            drop(st.vmas.remove_range(start, end));
        }
        Ok(found)
    }

    /// Changes the protection of `[addr, addr + len)`, which must be fully mapped.
    pub fn mprotect(
        &self,
        host: &mut dyn HostMapper,
        addr: u64,
        len: u64,
        prot: Prot,
    ) -> Result<(), MmError> {
        self.changed();
        if !is_aligned(addr) {
            return Err(MmError::Invalid);
        }
        let Some(len) = page_up(len) else {
            return Err(MmError::NoMem);
        };
        if len == 0 {
            return Ok(());
        }
        let mut st = self.state.write();
        let end = addr.checked_add(len).ok_or(MmError::NoMem)?;
        if !st.vmas.is_fully_mapped(addr, end) {
            return Err(MmError::NoMem);
        }
        if prot.writable()
            && st
                .vmas
                .range(addr, end)
                .any(|v| v.shared_file().is_some_and(|f| !f.source.writable()))
        {
            return Err(MmError::Access);
        }
        host.protect(addr, len, prot.0 as i32)
            .map_err(|e| MmError::Host("mprotect in stub", e))?;
        st.vmas.split_at(addr);
        st.vmas.split_at(end);
        let starts: Vec<u64> = st.vmas.range(addr, end).map(|v| v.start).collect();
        for s in starts {
            if let Some(mut v) = st.vmas.remove(s) {
                v.prot = prot;
                let r = if v.is_cached() && prot.writable() {
                    self.uncache(host, &mut v)
                } else {
                    Ok(())
                };
                st.vmas.insert(v);
                r?;
            }
        }
        Ok(())
    }

    /// `mremap`: resizes and possibly moves the mapping at `[old, old + old_len)`.
    pub fn mremap(
        &self,
        host: &mut dyn HostMapper,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
        fixed: Option<u64>,
    ) -> Result<u64, MmError> {
        self.changed();
        if !is_aligned(old) || (fixed.is_some() && !may_move) {
            return Err(MmError::Invalid);
        }
        let (Some(old_len), Some(new_len)) = (page_up(old_len), page_up(new_len)) else {
            return Err(MmError::Invalid);
        };
        if new_len == 0 {
            return Err(MmError::Invalid);
        }
        let mut st = self.state.write();
        let top = st.layout.top;
        if old_len == 0 {
            return self.duplicate_shared(&mut st, host, old, new_len, may_move, fixed);
        }
        let old_end = old.checked_add(old_len).ok_or(MmError::Fault)?;
        match st.vmas.find(old) {
            Some(v) if v.end >= old_end => {}
            _ => return Err(MmError::Fault),
        }
        if let Some(dst) = fixed {
            if !is_aligned(dst)
                || dst.checked_add(new_len).is_none_or(|e| e > top)
                || dst < MIN_ADDR
            {
                return Err(MmError::Invalid);
            }
            if dst < old_end && old < dst + new_len {
                return Err(MmError::Invalid);
            }
        }
        if fixed.is_none() && new_len <= old_len {
            if new_len < old_len {
                host.unmap(old + new_len, old_len - new_len)
                    .map_err(|e| MmError::Host("munmap in stub", e))?;
                drop(st.vmas.remove_range(old + new_len, old_end));
            }
            return Ok(old);
        }
        st.vmas.split_at(old);
        st.vmas.split_at(old_end);
        // Grow in place when the pages after it are free.
        if fixed.is_none() && old + new_len <= top && !st.vmas.overlaps(old_end, old + new_len) {
            let mut vma = st.vmas.remove(old).expect("split VMA");
            let res = self.resize_backing(host, &mut vma, new_len, old);
            st.vmas.insert(vma);
            return res.map(|()| old);
        }
        if !may_move {
            return Err(MmError::NoMem);
        }
        let dst = match fixed {
            Some(dst) => dst,
            None => {
                let base = st.layout.mmap_base;
                st.vmas
                    .find_gap_top_down(new_len, MIN_ADDR, base)
                    .or_else(|| st.vmas.find_gap_top_down(new_len, MIN_ADDR, top))
                    .ok_or(MmError::NoMem)?
            }
        };
        if fixed.is_some() {
            host.unmap(dst, new_len)
                .map_err(|e| MmError::Host("munmap in stub", e))?;
            drop(st.vmas.remove_range(dst, dst + new_len));
        }
        let mut vma = st.vmas.remove(old).expect("split VMA");
        if new_len < old_len {
            let tail_start = vma.start + new_len;
            let mut tmp = VmaMap::default();
            tmp.insert(vma);
            tmp.split_at(tail_start);
            vma = tmp.remove(old).expect("head");
            let tail = tmp.remove(tail_start).expect("tail");
            host.unmap(tail.start, tail.len())
                .map_err(|e| MmError::Host("munmap in stub", e))?;
            drop(tail);
        }
        // Move: map the same memory-file pages at the new address, then drop the old view.
        let moved_len = vma.len();
        if let Err(e) = host.map(dst, moved_len, vma.prot.0 as i32, vma.backing.offset()) {
            st.vmas.insert(vma);
            return Err(MmError::Host("mmap in stub", e));
        }
        host.unmap(old, moved_len)
            .map_err(|e| MmError::Host("munmap in stub", e))?;
        vma.end = dst + moved_len;
        vma.start = dst;
        let res = if new_len > moved_len {
            self.resize_backing(host, &mut vma, new_len, dst)
        } else {
            Ok(())
        };
        st.vmas.insert(vma);
        res.map(|()| dst)
    }

    /// `mremap` with `MREMAP_DONTUNMAP`: moves the `len` bytes at `old` (inside one
    /// mapping) to `fixed` or a free range, and leaves `old` mapped with the same
    /// protection as if its pages had just gone: a shared mapping still shows the same
    /// pages, a private one reads as freshly mapped (zeros, or the file's bytes), as Linux
    /// leaves a source whose page tables moved away.
    pub fn mremap_dontunmap(
        &self,
        host: &mut dyn HostMapper,
        old: u64,
        len: u64,
        fixed: Option<u64>,
    ) -> Result<u64, MmError> {
        let len = page_up(len).filter(|&l| l > 0).ok_or(MmError::Invalid)?;
        if !is_aligned(old) {
            return Err(MmError::Invalid);
        }
        let (prot, shared, name, file_offset, dst) = {
            let st = self.state.read();
            let end = old.checked_add(len).ok_or(MmError::Fault)?;
            let v = st
                .vmas
                .find(old)
                .filter(|v| v.end >= end)
                .ok_or(MmError::Fault)?;
            let dst = match fixed {
                Some(d) => d,
                None => st
                    .vmas
                    .find_gap_top_down(len, MIN_ADDR, st.layout.mmap_base)
                    .or_else(|| st.vmas.find_gap_top_down(len, MIN_ADDR, st.layout.top))
                    .ok_or(MmError::NoMem)?,
            };
            let file_offset = v.file_offset + (old - v.start);
            (v.prot, v.shared, v.name.clone(), file_offset, dst)
        };
        let dst = self.mremap(host, old, len, len, true, Some(dst))?;
        if shared {
            self.mremap(host, dst, 0, len, true, Some(old))?;
        } else {
            let content = match name {
                VmaName::File(file) => Content::File {
                    file,
                    offset: file_offset,
                },
                _ => Content::Zero,
            };
            let req = MapRequest {
                addr: old,
                len,
                prot,
                shared: false,
                placement: Placement::Fixed,
                low_2g: false,
                content,
                name: None,
            };
            self.mmap(host, req)?;
        }
        Ok(dst)
    }

    /// `mremap` with an old size of 0: a second mapping of the same shared pages.
    fn duplicate_shared(
        &self,
        st: &mut State,
        host: &mut dyn HostMapper,
        old: u64,
        new_len: u64,
        may_move: bool,
        fixed: Option<u64>,
    ) -> Result<u64, MmError> {
        let vma = st.vmas.find(old).ok_or(MmError::Fault)?;
        if !may_move || !vma.shared {
            return Err(MmError::Invalid);
        }
        let (prot, name, file_offset) = (
            vma.prot,
            vma.name.clone(),
            vma.file_offset + (old - vma.start),
        );
        let backing = match (&vma.backing, &name) {
            (Backing::Shared { mem, off }, _) => {
                let start_off = off + (old - vma.start);
                if start_off + new_len > mem.len() {
                    return Err(MmError::NoMem);
                }
                Backing::Shared {
                    mem: mem.clone(),
                    off: start_off,
                }
            }
            (Backing::File { .. }, VmaName::File(file)) => Backing::File {
                pages: self
                    .mem
                    .shared_files()
                    .map(&self.mem, file, file_offset, new_len)?,
                off: file_offset,
            },
            _ => return Err(MmError::Invalid),
        };
        let top = st.layout.top;
        let dst = match fixed {
            Some(d) => d,
            None => st
                .vmas
                .find_gap_top_down(new_len, MIN_ADDR, st.layout.mmap_base)
                .ok_or(MmError::NoMem)?,
        };
        if dst + new_len > top {
            return Err(MmError::Invalid);
        }
        host.map(dst, new_len, prot.0 as i32, backing.offset())
            .map_err(|e| MmError::Host("mmap in stub", e))?;
        drop(st.vmas.remove_range(dst, dst + new_len));
        st.vmas.insert(Vma {
            start: dst,
            end: dst + new_len,
            prot,
            shared: true,
            backing,
            name,
            file_offset,
        });
        Ok(dst)
    }

    /// Grows `vma` (not in the map) to `new_len` at address `at`; page-cache pages are
    /// made private first (the file's cached range cannot grow).
    fn resize_backing(
        &self,
        host: &mut dyn HostMapper,
        vma: &mut Vma,
        new_len: u64,
        at: u64,
    ) -> Result<(), MmError> {
        if vma.is_cached() {
            self.uncache(host, vma)?;
        }
        self.resize_backing_any(host, vma, new_len, at)
    }

    /// Grows `vma` (not in the map) to `new_len` at address `at`, in place in the memory
    /// file when possible, else by copying into a bigger range.
    fn resize_backing_any(
        &self,
        host: &mut dyn HostMapper,
        vma: &mut Vma,
        new_len: u64,
        at: u64,
    ) -> Result<(), MmError> {
        let old_len = vma.len();
        debug_assert!(new_len > old_len);
        match &mut vma.backing {
            Backing::Private(range) => {
                if range.try_grow(new_len) {
                    host.map(
                        at + old_len,
                        new_len - old_len,
                        vma.prot.0 as i32,
                        range.offset() + old_len,
                    )
                    .map_err(|e| MmError::Host("mmap in stub", e))?;
                } else {
                    let fresh = MemRange::new(&self.mem, new_len, new_len.min(MAX_SLACK))?;
                    self.mem.copy(range.offset(), fresh.offset(), old_len);
                    host.map(at, new_len, vma.prot.0 as i32, fresh.offset())
                        .map_err(|e| MmError::Host("mmap in stub", e))?;
                    *range = fresh;
                }
                // Linux fills file-mapping growth from the file; keep the file bytes too.
                if let VmaName::File(file) = &vma.name {
                    let file = file.clone();
                    fill_private(
                        range,
                        old_len,
                        new_len - old_len,
                        &file,
                        vma.file_offset + old_len,
                    )?;
                }
            }
            Backing::Shared { mem, off } => {
                if *off + new_len > mem.len() {
                    return Err(MmError::NoMem);
                }
                host.map(
                    at + old_len,
                    new_len - old_len,
                    vma.prot.0 as i32,
                    mem.offset() + *off + old_len,
                )
                .map_err(|e| MmError::Host("mmap in stub", e))?;
            }
            Backing::File { pages, off } => {
                let VmaName::File(file) = &vma.name else {
                    unreachable!("shared file pages behind a VMA without a file");
                };
                let grown = self
                    .mem
                    .shared_files()
                    .map(&self.mem, file, *off, new_len)?;
                // A superseded object is left for the file's newest one, which covers it all.
                let (from, len) = if grown.same_pages(pages) {
                    (old_len, new_len - old_len)
                } else {
                    (0, new_len)
                };
                host.map(
                    at + from,
                    len,
                    vma.prot.0 as i32,
                    grown.offset_of(*off + from),
                )
                .map_err(|e| MmError::Host("mmap in stub", e))?;
                *pages = grown;
            }
        }
        vma.end = vma.start + new_len;
        Ok(())
    }

    /// `brk`: sets the program break to `addr` if possible; returns the break in effect.
    pub fn brk(&self, host: &mut dyn HostMapper, addr: u64) -> u64 {
        self.changed();
        let mut st = self.state.write();
        let cur = st.brk;
        if addr < st.brk_start {
            return cur;
        }
        let (Some(old_end), Some(new_end)) = (page_up(cur), page_up(addr)) else {
            return cur;
        };
        let heap_start = page_up(st.brk_start).expect("brk start");
        if new_end > old_end {
            if new_end > st.layout.top || st.vmas.overlaps(old_end, new_end) {
                return cur;
            }
            let grown = if old_end == heap_start {
                let req = MapRequest {
                    addr: heap_start,
                    placement: Placement::FixedNoReplace,
                    name: Some(VmaName::Heap),
                    ..MapRequest::anon(new_end - heap_start, Prot::RW)
                };
                drop(st);
                let r = self.mmap(host, req).is_ok();
                st = self.state.write();
                r
            } else {
                // The heap's last VMA (mprotect may have split the heap) grows.
                let last = st
                    .vmas
                    .find(old_end - PAGE_SIZE)
                    .filter(|v| matches!(v.name, VmaName::Heap));
                match last.map(|v| v.start).and_then(|s| st.vmas.remove(s)) {
                    Some(mut vma) => {
                        let start = vma.start;
                        let r = self
                            .resize_backing(host, &mut vma, new_end - start, start)
                            .is_ok();
                        st.vmas.insert(vma);
                        r
                    }
                    None => false,
                }
            };
            if !grown {
                return cur;
            }
        } else if new_end < old_end {
            if host.unmap(new_end, old_end - new_end).is_err() {
                return cur;
            }
            drop(st.vmas.remove_range(new_end, old_end));
        }
        st.brk = addr;
        addr
    }

    /// Sets where the program break starts (after the executable's last segment).
    pub fn set_brk_start(&self, addr: u64) {
        let mut st = self.state.write();
        st.brk_start = addr;
        st.brk = addr;
    }

    /// `madvise`.
    pub fn madvise(&self, addr: u64, len: u64, advice: i32) -> Result<(), MmError> {
        if !is_aligned(addr) || !(0..=advice::MAX_KNOWN).contains(&advice) {
            return Err(MmError::Invalid);
        }
        let Some(len) = page_up(len) else {
            return Err(MmError::Invalid);
        };
        let end = addr.checked_add(len).ok_or(MmError::Invalid)?;
        let st = self.state.read();
        if !matches!(advice, advice::DONTNEED | advice::FREE | advice::REMOVE) {
            return Ok(());
        }
        let mut result = Ok(());
        if !st.vmas.is_fully_mapped(addr, end) {
            result = Err(MmError::NoMem);
        }
        for v in st.vmas.range(addr, end) {
            let (s, e) = (v.start.max(addr), v.end.min(end));
            // Shared pages stay (they are the object's, not this mapping's); page-cache
            // pages already hold exactly what a re-read of the file would give.
            if (v.shared && advice != advice::REMOVE) || v.is_cached() {
                continue;
            }
            if let Backing::File { pages, off } = &v.backing {
                // Linux punches the file itself, for writable mappings only.
                if !v.prot.writable() {
                    return Err(MmError::Access);
                }
                let at = off + (s - v.start);
                self.mem.shared_files().punch(pages, at, at + (e - s))?;
                continue;
            }
            self.mem.zero(v.offset_of(s), e - s);
            if let (VmaName::File(file), Backing::Private(range)) = (&v.name, &v.backing) {
                fill_private(
                    range,
                    s - v.start,
                    e - s,
                    file,
                    v.file_offset + (s - v.start),
                )?;
            }
        }
        result
    }

    /// Fails with ENOMEM unless `[addr, addr + len)` is fully mapped (msync, mincore).
    pub fn check_mapped(&self, addr: u64, len: u64) -> Result<(), MmError> {
        self.mapped_end(addr, len).map(|_| ())
    }

    /// The end of `[addr, addr + len)`, which must be fully mapped (ENOMEM otherwise).
    fn mapped_end(&self, addr: u64, len: u64) -> Result<u64, MmError> {
        if !is_aligned(addr) {
            return Err(MmError::Invalid);
        }
        let end = page_up(len)
            .and_then(|l| addr.checked_add(l))
            .ok_or(MmError::NoMem)?;
        if self.state.read().vmas.is_fully_mapped(addr, end) {
            Ok(end)
        } else {
            Err(MmError::NoMem)
        }
    }

    /// `msync`: writes the stores made through the shared file mappings in
    /// `[addr, addr + len)` back to their files (synchronously, whatever the flags).
    pub fn msync(&self, addr: u64, len: u64) -> Result<(), MmError> {
        let end = self.mapped_end(addr, len)?;
        let files: Vec<(FileId, std::ops::Range<u64>)> = self
            .state
            .read()
            .vmas
            .range(addr, end)
            .filter_map(|v| match &v.backing {
                Backing::File { pages, off } => {
                    let (s, e) = (v.start.max(addr), v.end.min(end));
                    let from = off + (s - v.start);
                    Some((pages.id(), from..from + (e - s)))
                }
                _ => None,
            })
            .collect();
        for target in files {
            self.mem.shared_files().sync(|| Some(target))?;
        }
        Ok(())
    }

    /// The protection of the mapping holding `addr`, if any.
    pub fn prot_at(&self, addr: u64) -> Option<Prot> {
        self.state.read().vmas.find(addr).map(|v| v.prot)
    }

    /// Every VMA, for the VMA dump and `/proc/pid/maps`.
    pub fn vmas(&self) -> Vec<VmaInfo> {
        self.state.read().vmas.iter().map(info).collect()
    }

    /// A copy of this address space for a forked child: private memory copied, shared
    /// memory shared. The child's stub gets its mappings from [`install`](Self::install).
    pub fn fork(&self) -> Result<AddressSpace, MmError> {
        let st = self.state.read();
        let mut vmas = VmaMap::default();
        for v in st.vmas.iter() {
            let backing = match &v.backing {
                Backing::Private(r) => {
                    let copy = MemRange::new(&self.mem, r.len(), 0)?;
                    self.mem.copy(r.offset(), copy.offset(), r.len());
                    Backing::Private(copy)
                }
                Backing::Shared { mem, off } => Backing::Shared {
                    mem: mem.clone(),
                    off: *off,
                },
                Backing::File { pages, off } => Backing::File {
                    pages: pages.clone(),
                    off: *off,
                },
            };
            vmas.insert(Vma {
                start: v.start,
                end: v.end,
                prot: v.prot,
                shared: v.shared,
                backing,
                name: v.name.clone(),
                file_offset: v.file_offset,
            });
        }
        Ok(AddressSpace {
            mem: self.mem.clone(),
            state: RwLock::new(State {
                vmas,
                layout: st.layout,
                brk_start: st.brk_start,
                brk: st.brk,
            }),
            generation: AtomicU64::new(0),
            id: next_space_id(),
        })
    }

    /// The current generation of the host view (see [`AddressSpace::install`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Maps every VMA into a stub (a fresh one, or one that missed changes made through
    /// another stub sharing this address space, after unmapping everything in it); returns
    /// the generation the stub is now in sync with.
    pub fn install(&self, host: &mut dyn HostMapper) -> Result<u64, MmError> {
        let st = self.state.read();
        let generation = self.generation();
        for v in st.vmas.iter() {
            host.map(v.start, v.len(), v.prot.0 as i32, v.backing.offset())
                .map_err(|e| MmError::Host("mmap in stub", e))?;
        }
        Ok(generation)
    }
}

/// Copies file bytes into private pages like [`fill_from_file`], after writing back the
/// stores shared mappings of the file made there, so that the copy sees them.
fn fill_private(
    range: &MemRange,
    at: u64,
    len: u64,
    file: &MappedFile,
    offset: u64,
) -> Result<(), MmError> {
    let end = offset.saturating_add(len);
    range
        .file()
        .shared_files()
        .sync(|| Some((FileId::of(file), offset..end)))?;
    fill_from_file(range, at, len, file, offset)
}

/// Copies file bytes into `[at, at + len)` of `range`; the part past end of file is zero.
fn fill_from_file(
    range: &MemRange,
    at: u64,
    len: u64,
    file: &MappedFile,
    offset: u64,
) -> Result<(), MmError> {
    range
        .file()
        .with_slice_mut(range.offset() + at, len, |buf| {
            let mut done = 0;
            while done < buf.len() {
                match file.source.read_at(&mut buf[done..], offset + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(MmError::File(e)),
                }
            }
            buf[done..].fill(0);
            Ok(())
        })
}

fn check_range(addr: u64, len: u64, top: u64) -> Result<u64, MmError> {
    if !is_aligned(addr) || len == 0 {
        return Err(MmError::Invalid);
    }
    let len = page_up(len).ok_or(MmError::Invalid)?;
    match addr.checked_add(len) {
        Some(end) if end <= top => Ok(end),
        _ => Err(MmError::Invalid),
    }
}

fn info(v: &Vma) -> VmaInfo {
    let (name, dev_ino) = match &v.name {
        VmaName::Anon => (String::new(), (0, 0)),
        VmaName::Heap => ("[heap]".to_string(), (0, 0)),
        VmaName::Stack => ("[stack]".to_string(), (0, 0)),
        VmaName::File(f) => (f.path.clone(), (f.dev, f.ino)),
        VmaName::Object(o) => (o.path.clone(), (o.dev, o.ino)),
    };
    VmaInfo {
        start: v.start,
        end: v.end,
        prot: v.prot,
        shared: v.shared,
        memfd_offset: v.backing.offset(),
        file_offset: if matches!(v.name, VmaName::File(_) | VmaName::Object(_)) {
            v.file_offset
        } else {
            0
        },
        dev_ino,
        name,
    }
}

impl State {
    /// Linux's `get_unmapped_area`: the hint if it is free, else top-down below mmap_base.
    fn unmapped_area(&self, hint: u64, len: u64, low_2g: bool) -> Result<u64, MmError> {
        let top = self.layout.top;
        if len > top - MIN_ADDR {
            return Err(MmError::NoMem);
        }
        if low_2g {
            return self
                .vmas
                .find_gap_top_down(len, 0x4000_0000, 0x8000_0000)
                .ok_or(MmError::NoMem);
        }
        if hint != 0
            && let Some(h) = page_up(hint)
            && h >= MIN_ADDR
            && h.checked_add(len).is_some_and(|e| e <= top)
            && !self.vmas.overlaps(h, h + len)
        {
            return Ok(h);
        }
        self.vmas
            .find_gap_top_down(len, MIN_ADDR, self.layout.mmap_base)
            .or_else(|| self.vmas.find_gap_top_down(len, MIN_ADDR, top))
            .ok_or(MmError::NoMem)
    }
}
