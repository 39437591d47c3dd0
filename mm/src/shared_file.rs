//! `MAP_SHARED` file mappings: every shared mapping of a file uses the same memory-file
//! pages for the same file offset, in every address space, and its stores reach the file.
//!
//! - A file, named by its device and inode ([`FileId`]), has one *object*: a range of
//!   memory-file offsets whose page `i` holds file page `i`. The range is reserved with
//!   room to grow (offsets of the sparse memory file cost nothing until touched), and the
//!   pages a mapping covers are loaded from the file the first time any mapping covers
//!   them. VMAs, forks and `mremap`s of the file all map views of that range.
//! - *Write-back* compares the loaded pages with the file and writes the pages that differ
//!   through the mapping's [`FileSource`] (the VFS), up to the file's size: on `msync`,
//!   `fsync`, before a syscall or a private mapping reads the file, and when the last
//!   mapping of the object goes away. Pages never populated in the memory file read as
//!   zero, as the file does there (loading never writes zero pages), so they are skipped.
//!   Only objects with a mapping of a file opened for writing write back.
//! - A syscall that changes the file goes through [`SharedFiles::begin_write`]: the range
//!   it may change is written back first, then no write-back or new object can interleave
//!   until [`FileWrite::changed`] copied the new bytes into the object.
//! - An object that cannot grow in place to cover a new mapping (the offsets after it were
//!   taken) is *superseded*: a bigger object serves this and every later mapping, loading
//!   its pages after the older object's stores there were written back. Mappings made
//!   before keep the older object; both stay equal to the file at each write-back (what
//!   one writes back is copied into the other), but stores through both to the same page
//!   between two write-backs are not merged: the later write-back wins.
//!
//! Locks, outermost first: an address space's lock, `files` (shared by file I/O, exclusive
//! to create, grow or drop objects), `io` (serialises the I/O of files that have objects),
//! an object's state, the memory file's page cache. Guest memory is never accessed through
//! an address space while `files` is held.

use crate::error::MmError;
use crate::memfile::{MemRange, MemoryFile, PAGE_SIZE};
use crate::range_set::RangeSet;
use crate::space::{MAX_SLACK, page_down};
use crate::vma::{FileSource, MappedFile};
use nix::errno::Errno;
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Weak};

/// Smallest range of offsets reserved for a file's object.
const MIN_RESERVE: u64 = 1 << 20;
/// Bytes moved per step when loading or writing back.
const CHUNK: usize = 1 << 16;

/// A file's identity: device and inode numbers as the VFS reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

impl FileId {
    /// The identity of a mapped file.
    pub fn of(file: &MappedFile) -> FileId {
        FileId {
            dev: file.dev,
            ino: file.ino,
        }
    }
}

type Files = HashMap<FileId, Vec<Weak<FileObject>>>;

/// Every file that has shared mappings, with its objects (the newest last).
#[derive(Default)]
pub struct SharedFiles {
    files: RwLock<Files>,
    io: Mutex<()>,
}

/// The shared pages of one file.
pub(crate) struct FileObject {
    id: FileId,
    mem: Arc<MemoryFile>,
    /// Memory-file offset of file offset 0.
    base: u64,
    state: Mutex<ObjectState>,
}

struct ObjectState {
    /// The reserved offsets: file offsets `[0, range.len())`.
    range: MemRange,
    /// File offsets (page-aligned ranges) whose pages were loaded from the file.
    loaded: RangeSet,
    /// Where pages are loaded from: the first mapping's file.
    source: Arc<MappedFile>,
    /// Where stores are written back: the first mapping of the file opened for writing.
    writer: Option<Arc<MappedFile>>,
}

/// A mapping's hold on a file's shared pages. When the last one goes (munmap, exec,
/// exit, mremap away), the pages are written back and freed.
#[derive(Clone)]
pub struct SharedFileRef(Arc<FileObject>);

/// A change of a file by a syscall in progress (see [`SharedFiles::begin_write`]).
pub struct FileWrite<'a> {
    _io: Option<MutexGuard<'a, ()>>,
    files: RwLockReadGuard<'a, Files>,
    target: Option<(FileId, Range<u64>)>,
}

/// Reads `buf.len()` bytes at `off`, zero past the end of the file.
fn read_full(src: &dyn FileSource, buf: &mut [u8], off: u64) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        match src.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    buf[done..].fill(0);
    Ok(())
}

/// Writes all of `buf` at `off`.
fn write_full(src: &dyn FileSource, buf: &[u8], off: u64) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        match src.write_at(&buf[done..], off + done as u64) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => done += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The live objects of a file, newest last. The clones must not outlive the lock guard
/// they were taken under, so that a dropping [`SharedFileRef`] counts only real holders.
fn live(objects: &[Weak<FileObject>]) -> Vec<Arc<FileObject>> {
    objects.iter().filter_map(Weak::upgrade).collect()
}

/// Writes back what the objects `which` selects hold in `[start, end)`, and copies what
/// was written into the other objects so that they stay equal to the file.
fn flush(
    objects: &[Arc<FileObject>],
    which: impl Fn(&Arc<FileObject>) -> bool,
    start: u64,
    end: u64,
) -> Result<(), MmError> {
    let mut result = Ok(());
    for obj in objects.iter().filter(|o| which(o)) {
        let written = match obj.write_back(start, end) {
            Ok(w) => w,
            Err(e) => {
                result = Err(MmError::File(e));
                continue;
            }
        };
        if written.is_empty() {
            continue;
        }
        obj.mem.forget_cached(obj.id);
        for other in objects.iter().filter(|o| !Arc::ptr_eq(o, obj)) {
            for (s, e) in &written {
                if let Err(err) = other.refresh(*s, *e) {
                    result = Err(err);
                }
            }
        }
    }
    result
}

impl SharedFiles {
    /// The shared pages of `file` for a mapping of file offsets `[offset, offset + len)`:
    /// the file's object, grown or superseded to cover them, with those pages loaded.
    pub(crate) fn map(
        &self,
        mem: &Arc<MemoryFile>,
        file: &Arc<MappedFile>,
        offset: u64,
        len: u64,
    ) -> Result<SharedFileRef, MmError> {
        let id = FileId::of(file);
        let end = offset.checked_add(len).ok_or(MmError::NoMem)?;
        let mut files = self.files.write();
        let objects = files.entry(id).or_default();
        let mut live = live(objects);
        let result = (|| {
            let current = live.last().filter(|o| o.cover(end)).cloned();
            let obj = match current {
                Some(o) => o,
                None => {
                    let o = FileObject::new(mem, id, file, end)?;
                    objects.push(Arc::downgrade(&o));
                    live.push(o.clone());
                    o
                }
            };
            if obj.needs_load(offset, end) {
                // Older objects' stores there reach the file before the pages load.
                flush(&live, |o| !Arc::ptr_eq(o, &obj), offset, end)?;
                obj.load(&file.source, offset, end)?;
            }
            obj.adopt_writer(file);
            Ok(SharedFileRef(obj))
        })();
        drop(live);
        objects.retain(|w| w.strong_count() > 0);
        if objects.is_empty() {
            files.remove(&id);
        }
        result
    }

    /// Whether `id` has shared mappings (its private read-only pages then cannot come
    /// from the page cache, which would not see their stores).
    pub(crate) fn has_file(&self, id: FileId) -> bool {
        self.files.read().contains_key(&id)
    }

    /// Writes stores made through shared mappings of a file back to it: before a syscall
    /// reads the file, and for `msync`/`fsync`. `target` names the file and the byte range;
    /// it is called only when some file has shared mappings.
    pub fn sync(
        &self,
        target: impl FnOnce() -> Option<(FileId, Range<u64>)>,
    ) -> Result<(), MmError> {
        let files = self.files.read();
        if files.is_empty() {
            return Ok(());
        }
        let Some((id, range)) = target() else {
            return Ok(());
        };
        let Some(objects) = files.get(&id) else {
            return Ok(());
        };
        let _io = self.io.lock();
        let live = live(objects);
        flush(&live, |_| true, range.start, range.end)
    }

    /// Starts a change of a file by a syscall (write, truncate). `target` names the file
    /// and every byte the change may touch (including a gap it zero-fills); it is called
    /// only when some file has shared mappings. Stores made through the mappings there are
    /// written back first; then, until the returned guard drops, no write-back or new
    /// mapping of the file interleaves. Report the change with [`FileWrite::changed`].
    pub fn begin_write(
        &self,
        target: impl FnOnce() -> Option<(FileId, Range<u64>)>,
    ) -> Result<FileWrite<'_>, MmError> {
        let files = self.files.read();
        let target = if files.is_empty() {
            None
        } else {
            target().filter(|(id, _)| files.contains_key(id))
        };
        let io = target.as_ref().map(|_| self.io.lock());
        if let Some((id, range)) = &target {
            let live = live(&files[id]);
            flush(&live, |_| true, range.start, range.end)?;
        }
        Ok(FileWrite {
            _io: io,
            files,
            target,
        })
    }

    /// `MADV_REMOVE` of a shared file range: its pages and the file's bytes there
    /// become zero.
    pub(crate) fn punch(&self, pages: &SharedFileRef, start: u64, end: u64) -> Result<(), MmError> {
        let files = self.files.read();
        let _io = self.io.lock();
        let obj = &pages.0;
        let Some((s, e)) = obj.punch(start, end).map_err(MmError::File)? else {
            return Ok(());
        };
        obj.mem.forget_cached(obj.id);
        let others = files.get(&obj.id).map(|o| live(o)).unwrap_or_default();
        for other in others.iter().filter(|o| !Arc::ptr_eq(o, obj)) {
            other.refresh(s, e)?;
        }
        Ok(())
    }

    /// A mapping's hold on `obj` is going away; the last one writes its pages back.
    fn release(&self, obj: &Arc<FileObject>) {
        let mut files = self.files.write();
        // Under the exclusive lock nobody else can take a new hold: a count of one is us.
        if Arc::strong_count(obj) > 1 {
            return;
        }
        let Some(objects) = files.get_mut(&obj.id) else {
            return;
        };
        let live = live(objects);
        if let Err(e) = flush(&live, |o| Arc::ptr_eq(o, obj), 0, u64::MAX) {
            log::warn!("writing back shared file pages at last unmap: {e}");
        }
        drop(live);
        let me = Arc::downgrade(obj);
        objects.retain(|w| !w.ptr_eq(&me) && w.strong_count() > 0);
        if objects.is_empty() {
            files.remove(&obj.id);
        }
    }
}

impl FileWrite<'_> {
    /// Whether the file has shared mappings (then [`changed`](Self::changed) matters).
    pub fn tracked(&self) -> bool {
        self.target.is_some()
    }

    /// The change is done: copies the file's bytes in the range given to
    /// [`SharedFiles::begin_write`] into the file's shared pages.
    pub fn changed(self) -> Result<(), MmError> {
        let Some((id, range)) = &self.target else {
            return Ok(());
        };
        for obj in live(&self.files[id]) {
            obj.refresh(range.start, range.end)?;
        }
        Ok(())
    }
}

impl FileObject {
    /// A new object for `file` that covers file offsets `[0, end)` and usually much more.
    fn new(
        mem: &Arc<MemoryFile>,
        id: FileId,
        file: &Arc<MappedFile>,
        end: u64,
    ) -> Result<Arc<FileObject>, MmError> {
        let size = file.source.size().unwrap_or(0);
        let want = end
            .max(size)
            .max(MIN_RESERVE)
            .checked_next_power_of_two()
            .unwrap_or(end);
        let range = MemRange::new(mem, want, want.min(MAX_SLACK))
            .or_else(|_| MemRange::new(mem, end, 0))?;
        Ok(Arc::new(FileObject {
            id,
            mem: mem.clone(),
            base: range.offset(),
            state: Mutex::new(ObjectState {
                range,
                loaded: RangeSet::default(),
                source: file.clone(),
                writer: None,
            }),
        }))
    }

    /// Makes the object cover file offsets `[0, end)`, growing its range in place if
    /// needed; false if the offsets after it are taken.
    fn cover(&self, end: u64) -> bool {
        let mut st = self.state.lock();
        if end <= st.range.len() {
            return true;
        }
        let doubled = end.checked_next_power_of_two().unwrap_or(end);
        st.range.try_grow(doubled) || st.range.try_grow(end)
    }

    fn needs_load(&self, start: u64, end: u64) -> bool {
        !self.state.lock().loaded.gaps(start, end).is_empty()
    }

    /// Loads the pages of `[start, end)` that are not loaded yet from `src`.
    fn load(&self, src: &Arc<dyn FileSource>, start: u64, end: u64) -> Result<(), MmError> {
        let mut st = self.state.lock();
        for (s, e) in st.loaded.gaps(start, end) {
            self.copy_from(src.as_ref(), s, e)?;
            st.loaded.insert(s, e);
        }
        Ok(())
    }

    /// The first mapping of a file opened for writing is where stores go back.
    fn adopt_writer(&self, file: &Arc<MappedFile>) {
        let mut st = self.state.lock();
        if st.writer.is_none() && file.source.writable() {
            st.writer = Some(file.clone());
        }
    }

    /// Copies the file's current bytes in `[start, end)` over the loaded pages there.
    fn refresh(&self, start: u64, end: u64) -> Result<(), MmError> {
        let st = self.state.lock();
        for (s, e) in st.loaded.covered(start, end.min(st.range.len())) {
            self.copy_from(st.source.source.as_ref(), s, e)?;
        }
        Ok(())
    }

    /// Copies file bytes `[start, end)` into the object (zero past the end of file); whole
    /// zero pages are punched out rather than written, so they stay unpopulated.
    fn copy_from(&self, src: &dyn FileSource, start: u64, end: u64) -> Result<(), MmError> {
        let mut buf = vec![0u8; CHUNK];
        let mut pos = start;
        while pos < end {
            let n = (end - pos).min(CHUNK as u64) as usize;
            read_full(src, &mut buf[..n], pos).map_err(MmError::File)?;
            self.store(pos, &buf[..n]);
            pos += n as u64;
        }
        Ok(())
    }

    /// Writes `data` at file offset `off`, punching whole zero pages instead.
    fn store(&self, off: u64, data: &[u8]) {
        let mut zero_run: Option<(u64, u64)> = None;
        let mut i = 0usize;
        while i < data.len() {
            let at = off + i as u64;
            let next = ((page_down(at) + PAGE_SIZE - off) as usize).min(data.len());
            let piece = &data[i..next];
            if at.is_multiple_of(PAGE_SIZE)
                && piece.len() as u64 == PAGE_SIZE
                && piece.iter().all(|&b| b == 0)
            {
                zero_run = match zero_run {
                    Some((s, len)) => Some((s, len + PAGE_SIZE)),
                    None => Some((at, PAGE_SIZE)),
                };
            } else {
                if let Some((s, len)) = zero_run.take() {
                    self.mem.zero(self.base + s, len);
                }
                self.mem.write(self.base + at, piece);
            }
            i = next;
        }
        if let Some((s, len)) = zero_run {
            self.mem.zero(self.base + s, len);
        }
    }

    /// Writes the loaded pages of `[start, end)` that differ from the file back to it, up
    /// to the file's size; returns the ranges written.
    fn write_back(&self, start: u64, end: u64) -> Result<Vec<(u64, u64)>, Errno> {
        let st = self.state.lock();
        let Some(writer) = &st.writer else {
            return Ok(Vec::new());
        };
        let src = writer.source.as_ref();
        let end = end.min(src.size()?).min(st.range.len());
        let start = page_down(start);
        let mut written = Vec::new();
        if start >= end {
            return Ok(written);
        }
        let (mut ours, mut theirs) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
        for (s, e) in st.loaded.covered(start, end) {
            let mut pos = s;
            while let Some((data, hole)) = self.mem.next_data(self.base + pos, self.base + e) {
                let (mut at, stop) = (data - self.base, hole - self.base);
                while at < stop {
                    let n = (stop - at).min(CHUNK as u64) as usize;
                    self.mem.read(self.base + at, &mut ours[..n]);
                    read_full(src, &mut theirs[..n], at)?;
                    for (run_start, run_end) in differing_pages(&ours[..n], &theirs[..n], at) {
                        let i = (run_start - at) as usize;
                        let j = (run_end - at) as usize;
                        write_full(src, &ours[i..j], run_start)?;
                        written.push((run_start, run_end));
                    }
                    at += n as u64;
                }
                pos = stop;
            }
        }
        Ok(written)
    }

    /// Zeroes the pages of `[start, end)` and the file's bytes there (up to its size);
    /// returns the file range written.
    fn punch(&self, start: u64, end: u64) -> Result<Option<(u64, u64)>, Errno> {
        let mut st = self.state.lock();
        let end = end.min(st.range.len());
        if start >= end {
            return Ok(None);
        }
        self.mem.zero(self.base + start, end - start);
        st.loaded.insert(start, end);
        let Some(writer) = &st.writer else {
            return Ok(None);
        };
        let src = writer.source.as_ref();
        let stop = end.min(src.size()?);
        let zeros = vec![0u8; CHUNK];
        let mut at = start;
        while at < stop {
            let n = (stop - at).min(CHUNK as u64) as usize;
            write_full(src, &zeros[..n], at)?;
            at += n as u64;
        }
        Ok((start < stop).then_some((start, stop)))
    }
}

/// Runs of whole pages (the last possibly partial) on which `ours` and `theirs` differ,
/// as absolute ranges given that both start at `at` (page-aligned).
fn differing_pages(ours: &[u8], theirs: &[u8], at: u64) -> Vec<(u64, u64)> {
    let page = PAGE_SIZE as usize;
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for (i, (a, b)) in ours.chunks(page).zip(theirs.chunks(page)).enumerate() {
        if a == b {
            continue;
        }
        let s = at + (i * page) as u64;
        let e = s + a.len() as u64;
        match runs.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => runs.push((s, e)),
        }
    }
    runs
}

impl SharedFileRef {
    /// Memory-file offset of file offset `off`.
    pub(crate) fn offset_of(&self, off: u64) -> u64 {
        self.0.base + off
    }

    /// Whether both hold the same object.
    pub(crate) fn same_pages(&self, other: &SharedFileRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The file's identity.
    pub(crate) fn id(&self) -> FileId {
        self.0.id
    }
}

impl Drop for SharedFileRef {
    fn drop(&mut self) {
        self.0.mem.shared_files().release(&self.0);
    }
}

impl std::fmt::Debug for SharedFileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SharedFileRef({}:{} at {:#x})",
            self.0.id.dev, self.0.id.ino, self.0.base
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_pages_coalesce_and_clip() {
        let p = PAGE_SIZE as usize;
        let a = vec![0u8; 3 * p + 10];
        let mut b = a.clone();
        b[5] = 1;
        b[p + 7] = 1;
        b[3 * p + 9] = 1;
        let at = 8 * PAGE_SIZE;
        assert_eq!(
            differing_pages(&a, &b, at),
            [
                (at, at + 2 * PAGE_SIZE),
                (at + 3 * PAGE_SIZE, at + 3 * PAGE_SIZE + 10)
            ]
        );
        assert!(differing_pages(&a, &a, at).is_empty());
    }
}
