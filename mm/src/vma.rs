//! Virtual memory areas: what the guest sees as its mappings, and the map that holds them.
//!
//! A [`Vma`] is a page-aligned range with one protection, one sharing mode and one
//! contiguous backing range of the memory file. Splitting a VMA splits its backing; a
//! private backing is owned by exactly one VMA, so dropping the VMA frees its pages.

use crate::memfile::MemRange;
use crate::shared_file::SharedFileRef;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// Page protection, with the bits of `PROT_READ`, `PROT_WRITE` and `PROT_EXEC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prot(pub u32);

impl Prot {
    /// No access.
    pub const NONE: Prot = Prot(0);
    /// `PROT_READ`.
    pub const READ: Prot = Prot(1);
    /// `PROT_WRITE`.
    pub const WRITE: Prot = Prot(2);
    /// `PROT_EXEC`.
    pub const EXEC: Prot = Prot(4);
    /// `PROT_READ | PROT_WRITE`.
    pub const RW: Prot = Prot(3);

    /// Whether all bits of `other` are set.
    pub fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the sentry may read guest memory with this protection on the guest's behalf
    /// (on x86_64 any access right implies read).
    pub fn readable(self) -> bool {
        self.0 != 0
    }

    /// Whether the guest may write.
    pub fn writable(self) -> bool {
        self.contains(Prot::WRITE)
    }

    /// As `r`/`w`/`x` characters, like `/proc/pid/maps`.
    pub fn rwx(self) -> [char; 3] {
        [
            if self.contains(Prot::READ) { 'r' } else { '-' },
            if self.contains(Prot::WRITE) { 'w' } else { '-' },
            if self.contains(Prot::EXEC) { 'x' } else { '-' },
        ]
    }
}

/// The file behind a file-backed mapping: its contents, and for `MAP_SHARED` mappings the
/// way stores go back to it.
pub trait FileSource: Send + Sync {
    /// Reads into `buf` from file offset `off`; returns the bytes read (0 at end of file).
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, nix::errno::Errno>;
    /// Whether the file was opened for writing: a `MAP_SHARED` mapping of it may become
    /// writable, and its stores are written back through [`write_at`](Self::write_at).
    fn writable(&self) -> bool {
        false
    }
    /// Writes `buf` at file offset `off` (write-back of a shared mapping's stores); returns
    /// the bytes written.
    fn write_at(&self, _buf: &[u8], _off: u64) -> Result<usize, nix::errno::Errno> {
        Err(nix::errno::Errno::EBADF)
    }
    /// The file's current size: write-back stops there.
    fn size(&self) -> Result<u64, nix::errno::Errno> {
        Err(nix::errno::Errno::ENOSYS)
    }
    /// The implementation, for the kernel to find its own file behind a mapping.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// The file behind a file-backed mapping.
pub struct MappedFile {
    /// Path as the guest named it.
    pub path: String,
    /// Device number, for `/proc/pid/maps`.
    pub dev: u64,
    /// Inode number, for `/proc/pid/maps`.
    pub ino: u64,
    /// Where the contents come from.
    pub source: Arc<dyn FileSource>,
    /// The file's identity and version (device, inode, mtime, size) when its read-only
    /// pages may be shared through the page cache; `None` for files whose contents can
    /// change unseen.
    pub version: Option<FileVersion>,
}

/// What identifies one version of a file's contents for the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileVersion {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Size in bytes.
    pub size: u64,
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MappedFile({})", self.path)
    }
}

/// The name and identity `/proc/pid/maps` shows for a shared memory object that is not a
/// file (a System V segment: `/SYSV0000abcd (deleted)`, with the segment id as inode).
#[derive(Debug)]
pub struct ObjectName {
    /// Path as `/proc/pid/maps` prints it.
    pub path: String,
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

/// What a VMA is, for naming it and for refilling file pages.
#[derive(Clone, Debug)]
pub enum VmaName {
    /// Anonymous memory.
    Anon,
    /// The brk heap.
    Heap,
    /// The initial thread's stack.
    Stack,
    /// A file mapping; the VMA's `file_offset` says where in the file it starts.
    File(Arc<MappedFile>),
    /// A mapping of a shared memory object ([`Content::Object`](crate::Content::Object));
    /// `file_offset` says where in the object it starts.
    Object(Arc<ObjectName>),
}

/// The memory-file pages behind a VMA.
#[derive(Debug)]
pub enum Backing {
    /// Pages owned by this VMA alone (`MAP_PRIVATE`).
    Private(MemRange),
    /// Pages shared with other VMAs, possibly in other address spaces (`MAP_SHARED`);
    /// the VMA starts at `off` within `mem`.
    Shared {
        /// The shared object.
        mem: Arc<MemRange>,
        /// Offset of the VMA's start within `mem`.
        off: u64,
    },
    /// The pages of a file that every `MAP_SHARED` mapping of it shares (see
    /// [`shared_file`](crate::shared_file)); the VMA starts at file offset `off`.
    File {
        /// The file's shared pages.
        pages: SharedFileRef,
        /// File offset of the VMA's start.
        off: u64,
    },
}

impl Backing {
    /// Memory-file offset of the VMA's first byte.
    pub fn offset(&self) -> u64 {
        match self {
            Backing::Private(r) => r.offset(),
            Backing::Shared { mem, off } => mem.offset() + off,
            Backing::File { pages, off } => pages.offset_of(*off),
        }
    }

    fn split_off(&mut self, at: u64) -> Backing {
        match self {
            Backing::Private(r) => Backing::Private(r.split_off(at)),
            Backing::Shared { mem, off } => Backing::Shared {
                mem: mem.clone(),
                off: *off + at,
            },
            Backing::File { pages, off } => Backing::File {
                pages: pages.clone(),
                off: *off + at,
            },
        }
    }
}

/// One guest mapping.
#[derive(Debug)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Current protection.
    pub prot: Prot,
    /// `MAP_SHARED` (true) or `MAP_PRIVATE`.
    pub shared: bool,
    /// Where the pages live.
    pub backing: Backing,
    /// What it is.
    pub name: VmaName,
    /// For file mappings, the file offset of `start`.
    pub file_offset: u64,
}

impl Vma {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the VMA is empty (never, for a VMA in a map).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// A private mapping whose pages come from the page cache (shared, read-only, equal to
    /// the file): writing it first needs a private copy.
    pub fn is_cached(&self) -> bool {
        !self.shared && matches!(self.backing, Backing::Shared { .. })
    }

    /// The file of a `MAP_SHARED` file mapping.
    pub fn shared_file(&self) -> Option<&Arc<MappedFile>> {
        match (&self.backing, &self.name) {
            (Backing::File { .. }, VmaName::File(file)) => Some(file),
            _ => None,
        }
    }

    /// Memory-file offset of guest address `addr` (which must be inside the VMA).
    pub fn offset_of(&self, addr: u64) -> u64 {
        debug_assert!(addr >= self.start && addr < self.end);
        self.backing.offset() + (addr - self.start)
    }

    /// Splits at `addr`; `self` keeps the lower part and the upper part is returned.
    fn split_off(&mut self, addr: u64) -> Vma {
        assert!(addr > self.start && addr < self.end);
        let at = addr - self.start;
        let backing = self.backing.split_off(at);
        let upper = Vma {
            start: addr,
            end: self.end,
            prot: self.prot,
            shared: self.shared,
            backing,
            name: self.name.clone(),
            file_offset: self.file_offset + at,
        };
        self.end = addr;
        upper
    }
}

/// The VMAs of an address space, keyed by start address, never overlapping.
#[derive(Debug, Default)]
pub struct VmaMap {
    map: BTreeMap<u64, Vma>,
}

impl VmaMap {
    /// Adds `vma`, which must not overlap any existing one.
    pub fn insert(&mut self, vma: Vma) {
        debug_assert!(
            !self.overlaps(vma.start, vma.end),
            "overlapping insert at {:#x}",
            vma.start
        );
        self.map.insert(vma.start, vma);
    }

    /// The VMA containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Vma> {
        self.map
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// The VMA containing `addr`, mutably.
    pub fn find_mut(&mut self, addr: u64) -> Option<&mut Vma> {
        self.map
            .range_mut(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// Whether any VMA intersects `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.range(start, end).next().is_some()
    }

    /// VMAs intersecting `[start, end)`, in address order.
    pub fn range(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma> {
        let first = self
            .map
            .range(..=start)
            .next_back()
            .filter(|(_, v)| v.end > start)
            .map(|(&k, _)| k);
        let from = first.unwrap_or(start);
        self.map
            .range((Bound::Included(from), Bound::Excluded(end)))
            .map(|(_, v)| v)
            .filter(move |v| v.end > start)
    }

    /// Makes `addr` a VMA boundary by splitting the VMA that strictly contains it.
    pub fn split_at(&mut self, addr: u64) {
        if let Some(vma) = self.find_mut(addr)
            && vma.start != addr
        {
            let upper = vma.split_off(addr);
            self.map.insert(upper.start, upper);
        }
    }

    /// Removes and returns every VMA part inside `[start, end)`, splitting at the edges.
    pub fn remove_range(&mut self, start: u64, end: u64) -> Vec<Vma> {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|(&k, _)| k).collect();
        keys.into_iter()
            .filter_map(|k| self.map.remove(&k))
            .collect()
    }

    /// Removes the VMA starting exactly at `start`.
    pub fn remove(&mut self, start: u64) -> Option<Vma> {
        self.map.remove(&start)
    }

    /// Whether `[start, end)` is covered by VMAs without holes.
    pub fn is_fully_mapped(&self, start: u64, end: u64) -> bool {
        let mut pos = start;
        for v in self.range(start, end) {
            if v.start > pos {
                return false;
            }
            pos = v.end;
            if pos >= end {
                return true;
            }
        }
        pos >= end
    }

    /// Highest start `s` with `[s, s + len)` free and inside `[low, high)`.
    pub fn find_gap_top_down(&self, len: u64, low: u64, high: u64) -> Option<u64> {
        let mut hi = high;
        for v in self.map.range(..high).rev().map(|(_, v)| v) {
            if v.end <= hi && hi - v.end >= len {
                let s = hi - len;
                return (s >= low).then_some(s);
            }
            hi = hi.min(v.start);
            if hi < low.saturating_add(len) {
                return None;
            }
        }
        (hi >= low.saturating_add(len)).then(|| hi - len)
    }

    /// All VMAs in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.map.values()
    }
}
