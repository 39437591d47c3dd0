//! The memory file: one memfd holding every guest page of a sandbox, and the sentry's
//! window onto it.
//!
//! The sentry maps the whole (sparse) memfd once, so the guest page at memfd offset `o` is
//! at `base + o` for the sentry, and copying to or from guest memory is a `memcpy`. This is
//! the only module of `mm` that dereferences raw pointers; every access is bounds-checked
//! against the file size here, so a wrong offset from a caller panics instead of touching
//! sentry memory.

use crate::alloc::ExtentAllocator;
use crate::error::MmError;
use crate::shared_file::{FileId, SharedFiles};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;

/// Page size of the guest ABI.
pub const PAGE_SIZE: u64 = 4096;

/// A sparse memfd and the sentry's mapping of all of it.
pub struct MemoryFile {
    fd: OwnedFd,
    base: NonNull<u8>,
    size: u64,
    alloc: Mutex<ExtentAllocator>,
    /// Read-only file pages shared by every private mapping of the same file range.
    pub(crate) page_cache: Mutex<
        std::collections::HashMap<(crate::vma::FileVersion, u64, u64), std::sync::Weak<MemRange>>,
    >,
    /// The pages of every file with `MAP_SHARED` mappings.
    shared_files: SharedFiles,
}

// SAFETY: `base` points at a MAP_SHARED mapping owned by this object for its whole life;
// all access goes through the bounds-checked methods below, which only copy bytes, so the
// object can be shared and sent between threads like the fd it wraps.
unsafe impl Send for MemoryFile {}
// SAFETY: see `Send`; concurrent byte copies to distinct or even overlapping ranges cannot
// break any invariant of this type (guest memory is untyped bytes to the sentry).
unsafe impl Sync for MemoryFile {}

impl MemoryFile {
    /// Creates a memory file of `size` bytes (sparse: nothing is allocated yet).
    pub fn new(size: u64) -> Result<Arc<Self>, MmError> {
        let flags = libc::MFD_CLOEXEC | libc::MFD_EXEC;
        // SAFETY: memfd_create reads the NUL-terminated name and returns a new fd or -1.
        let mut raw = unsafe { libc::memfd_create(c"sentry-memory".as_ptr(), flags) };
        if raw < 0 {
            // Kernels before 6.3 reject MFD_EXEC; their memfds are executable anyway.
            // SAFETY: as above.
            raw = unsafe { libc::memfd_create(c"sentry-memory".as_ptr(), libc::MFD_CLOEXEC) };
        }
        if raw < 0 {
            return Err(MmError::Host("memfd_create", Errno::last()));
        }
        // SAFETY: `raw` is a fresh fd owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        nix::unistd::ftruncate(&fd, size as i64).map_err(|e| MmError::Host("ftruncate", e))?;
        // SAFETY: mapping a fresh shared file mapping at a kernel-chosen address cannot
        // alias any Rust object; MAP_NORESERVE because the file is sparse.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(MmError::Host("mmap(memory file)", Errno::last()));
        }
        let base = NonNull::new(ptr.cast::<u8>()).expect("mmap returned NULL");
        Ok(Arc::new(MemoryFile {
            fd,
            base,
            size,
            alloc: Mutex::new(ExtentAllocator::new(size)),
            page_cache: Mutex::new(std::collections::HashMap::new()),
            shared_files: SharedFiles::default(),
        }))
    }

    /// The pages of files with `MAP_SHARED` mappings, for keeping file syscalls coherent
    /// with them.
    pub fn shared_files(&self) -> &SharedFiles {
        &self.shared_files
    }

    /// Drops the page cache's entries for file `id`, whose contents changed under them.
    pub(crate) fn forget_cached(&self, id: FileId) {
        self.page_cache
            .lock()
            .retain(|(v, _, _), _| (v.dev, v.ino) != (id.dev, id.ino));
    }

    /// The memfd, for mapping into stubs.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reserves `len` bytes of offsets (page multiple) with `slack` spare offsets after
    /// them when possible. The pages read as zero.
    pub(crate) fn allocate(&self, len: u64, slack: u64) -> Result<u64, MmError> {
        self.alloc.lock().alloc(len, slack).ok_or(MmError::NoMem)
    }

    /// Extends the allocation at `off` from `len` to `new_len` bytes if the offsets after it
    /// are free.
    pub(crate) fn try_grow(&self, off: u64, len: u64, new_len: u64) -> bool {
        self.alloc.lock().try_grow(off, len, new_len)
    }

    /// Gives `[off, off + len)` back: its pages are freed and its offsets reusable.
    pub(crate) fn release(&self, off: u64, len: u64) {
        self.zero(off, len);
        self.alloc.lock().free(off, len);
    }

    /// Frees the pages of `[off, off + len)`; they read as zero afterwards.
    pub(crate) fn zero(&self, off: u64, len: u64) {
        self.check(off, len);
        let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        // SAFETY: fallocate on our own memfd; it changes file contents only.
        let r = unsafe { libc::fallocate(self.fd.as_raw_fd(), mode, off as i64, len as i64) };
        if r != 0 {
            log::warn!(
                "punching memory file hole at {off:#x}+{len:#x}: {}",
                Errno::last()
            );
        }
    }

    fn check(&self, off: u64, len: u64) {
        assert!(
            off.checked_add(len).is_some_and(|end| end <= self.size),
            "memory file access out of bounds: {off:#x}+{len:#x}"
        );
    }

    /// Copies `buf.len()` bytes at `off` into `buf`.
    pub(crate) fn read(&self, off: u64, buf: &mut [u8]) {
        self.check(off, buf.len() as u64);
        // SAFETY: the source range lies inside our live mapping (checked above) and cannot
        // overlap `buf`, which is ordinary sentry memory outside the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(off as usize),
                buf.as_mut_ptr(),
                buf.len(),
            );
        }
    }

    /// Copies `data` to offset `off`.
    pub(crate) fn write(&self, off: u64, data: &[u8]) {
        self.check(off, data.len() as u64);
        // SAFETY: the destination lies inside our live, writable mapping (checked above)
        // and cannot overlap `data`, which is sentry memory outside the mapping.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.base.as_ptr().add(off as usize),
                data.len(),
            );
        }
    }

    /// Runs `f` on the bytes at `[off, off + len)` as a mutable slice, for filling fresh
    /// ranges (file contents) without a bounce buffer.
    pub(crate) fn with_slice_mut<R>(
        &self,
        off: u64,
        len: u64,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> R {
        self.check(off, len);
        // SAFETY: the range lies inside our live, writable mapping. Callers use this only
        // on ranges they just allocated and have not mapped into any stub, so nothing else
        // reads or writes these bytes while the slice exists.
        let slice = unsafe {
            std::slice::from_raw_parts_mut(self.base.as_ptr().add(off as usize), len as usize)
        };
        f(slice)
    }

    /// Copies `len` bytes from `src` to `dst` (non-overlapping ranges), skipping holes so
    /// that untouched pages stay unallocated in the copy.
    pub(crate) fn copy(&self, src: u64, dst: u64, len: u64) {
        self.check(src, len);
        self.check(dst, len);
        let end = src + len;
        let mut pos = src;
        while pos < end {
            let Some((data, hole)) = self.next_data(pos, end) else {
                break;
            };
            let n = hole - data;
            // SAFETY: both ranges lie inside our live mapping (checked above); they do not
            // overlap because the caller copies between two distinct allocations.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.base.as_ptr().add(data as usize),
                    self.base.as_ptr().add((dst + (data - src)) as usize),
                    n as usize,
                );
            }
            pos = hole;
        }
    }

    /// The first populated extent `[data, hole)` within `[pos, end)`.
    pub(crate) fn next_data(&self, pos: u64, end: u64) -> Option<(u64, u64)> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: lseek on our own fd has no memory effects.
        let data = unsafe { libc::lseek(fd, pos as i64, libc::SEEK_DATA) };
        if data < 0 || data as u64 >= end {
            return None;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        let hole = if hole < 0 {
            end
        } else {
            (hole as u64).min(end)
        };
        Some((data as u64, hole))
    }

    /// Runs `f` on the 4-byte-aligned word at `off` as an atomic (futexes).
    pub(crate) fn with_atomic_u32<R>(
        &self,
        off: u64,
        f: impl FnOnce(&std::sync::atomic::AtomicU32) -> R,
    ) -> R {
        self.check(off, 4);
        assert!(off.is_multiple_of(4), "unaligned atomic access at {off:#x}");
        // SAFETY: the word lies inside our live mapping (checked above) and is 4-byte
        // aligned, as AtomicU32 requires; guest memory is plain bytes, so any value is a
        // valid u32, and all sentry accesses to it here are atomic.
        let atomic = unsafe {
            std::sync::atomic::AtomicU32::from_ptr(self.base.as_ptr().add(off as usize).cast())
        };
        f(atomic)
    }

    /// Bytes of memory the file really holds (allocated pages).
    pub fn resident_bytes(&self) -> u64 {
        nix::sys::stat::fstat(&self.fd)
            .map(|st| st.st_blocks as u64 * 512)
            .unwrap_or(0)
    }
}

impl Drop for MemoryFile {
    fn drop(&mut self) {
        // SAFETY: unmapping the window we created in `new`; no slice into it outlives
        // `self` because every borrow is scoped to a method call.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.size as usize);
        }
    }
}

/// An exclusively owned range of the memory file; its pages are freed when it is dropped.
pub struct MemRange {
    file: Arc<MemoryFile>,
    off: u64,
    len: u64,
}

impl MemRange {
    /// Allocates a zeroed range of `len` bytes with `slack` growth room if possible.
    pub(crate) fn new(file: &Arc<MemoryFile>, len: u64, slack: u64) -> Result<Self, MmError> {
        let off = file.allocate(len, slack)?;
        Ok(MemRange {
            file: file.clone(),
            off,
            len,
        })
    }

    /// A zeroed range of `len` bytes (a page multiple) for a shared memory object that
    /// address spaces map with [`Content::Object`](crate::Content::Object).
    pub fn zeroed(file: &Arc<MemoryFile>, len: u64) -> Result<Self, MmError> {
        Self::new(file, len, 0)
    }

    /// Offset of the range in the memory file.
    pub fn offset(&self) -> u64 {
        self.off
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the range is empty (never, for a live range).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the range that hold memory (pages written since it was allocated).
    pub fn resident_bytes(&self) -> u64 {
        let end = self.off + self.len;
        let (mut pos, mut total) = (self.off, 0);
        while let Some((data, hole)) = self.file.next_data(pos, end) {
            total += hole - data;
            pos = hole;
        }
        total
    }

    /// The memory file the range belongs to.
    pub(crate) fn file(&self) -> &Arc<MemoryFile> {
        &self.file
    }

    /// Splits off `[at, len)` into a new range; `self` keeps `[0, at)`.
    pub(crate) fn split_off(&mut self, at: u64) -> MemRange {
        assert!(at > 0 && at < self.len);
        let tail = MemRange {
            file: self.file.clone(),
            off: self.off + at,
            len: self.len - at,
        };
        self.len = at;
        tail
    }

    /// Grows the range in place to `new_len` if the offsets after it are free.
    pub(crate) fn try_grow(&mut self, new_len: u64) -> bool {
        if self.file.try_grow(self.off, self.len, new_len) {
            self.len = new_len;
            true
        } else {
            false
        }
    }
}

impl Drop for MemRange {
    fn drop(&mut self) {
        self.file.release(self.off, self.len);
    }
}

impl std::fmt::Debug for MemRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemRange({:#x}+{:#x})", self.off, self.len)
    }
}
