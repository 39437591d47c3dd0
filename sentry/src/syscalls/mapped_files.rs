//! File syscalls that stay coherent with `MAP_SHARED` mappings of the same file: a read
//! sees what was stored through the mappings, and what a write or truncate changes is seen
//! through them.
//!
//! `mm` keeps the pages all shared mappings of a file use ([`mm::SharedFiles`]); this module
//! tells it which file (device and inode, as `stat` reports them) and which bytes each
//! syscall reads or changes. Only regular files take part, and only while some file of the
//! sandbox has shared mappings: otherwise nothing here costs more than a lock.

use crate::errno::mm_errno;
use crate::kernel::Kernel;
use fs::{FileType, MapKind, OpenFile, Stat, Waiter};
use mm::FileId;
use std::ops::Range;
use std::sync::Arc;

/// The identity of a regular file with attributes `st`.
fn id_of(st: &Stat) -> Option<FileId> {
    (st.file_type() == FileType::Regular).then_some(FileId {
        dev: st.dev,
        ino: st.ino,
    })
}

/// The identity and size of `file`, if it can have shared mappings.
fn identity(file: &OpenFile) -> Option<(FileId, u64)> {
    if file.ops.map_kind() != MapKind::Data {
        return None;
    }
    let st = file.ops.stat().ok()?;
    Some((id_of(&st)?, st.size as u64))
}

/// Where a transfer of `len` bytes at `at` (`None`: at the file's offset) starts.
fn position(file: &OpenFile, at: Option<u64>) -> Option<u64> {
    match at {
        Some(off) => Some(off),
        None => file.ops.seek(0, libc::SEEK_CUR).ok(),
    }
}

/// Before a syscall reads `len` bytes of `file` at `at` (`None`: at its offset): writes
/// back what shared mappings stored there.
pub fn before_read(kernel: &Kernel, file: &OpenFile, at: Option<u64>, len: usize) {
    let synced = kernel.mem.shared_files().sync(|| {
        let (id, _) = identity(file)?;
        let start = position(file, at)?;
        Some((id, start..start.saturating_add(len as u64)))
    });
    if let Err(e) = synced {
        log::warn!("writing back shared mappings before a read: {e}");
    }
}

/// Writes `buf` to `file` at `at` (`None`: at its offset, after the access-mode check) so
/// that the file's shared mappings see the new bytes.
pub fn write(
    kernel: &Kernel,
    file: &OpenFile,
    w: &Arc<Waiter>,
    buf: &[u8],
    at: Option<u64>,
) -> fs::Result<usize> {
    let change = kernel
        .mem
        .shared_files()
        .begin_write(|| {
            let (id, size) = identity(file)?;
            Some((id, written_range(file, at, size, buf.len())?))
        })
        .map_err(mm_errno)?;
    let n = match at {
        Some(off) => file.ops.pwrite(buf, off)?,
        None => file.write(w, buf)?,
    };
    if let Err(e) = change.changed() {
        log::warn!("updating shared mappings after a write: {e}");
    }
    Ok(n)
}

/// Every byte a write of `len` bytes at `at` may change in a file of `size` bytes: the gap
/// it zero-fills past the old end too, and with `O_APPEND` both where the offset says and
/// the end of file (filesystems disagree on `pwrite` there).
fn written_range(file: &OpenFile, at: Option<u64>, size: u64, len: usize) -> Option<Range<u64>> {
    let append = file.flags() & libc::O_APPEND != 0;
    let lands = match at {
        None if append => size,
        _ => position(file, at)?,
    };
    let last = if append { lands.max(size) } else { lands };
    Some(lands.min(size)..last.saturating_add(len as u64))
}

/// Changes a file's size with `set` (ftruncate, truncate, fallocate; after the fact for an
/// open with `O_TRUNC`) so that its shared mappings see what lies past the new end as
/// zero. `stat` gives the file's attributes before the change.
pub fn resize(
    kernel: &Kernel,
    stat: impl FnOnce() -> fs::Result<Stat>,
    len: u64,
    set: impl FnOnce() -> fs::Result<()>,
) -> fs::Result<()> {
    let change = kernel
        .mem
        .shared_files()
        .begin_write(|| {
            let st = stat().ok()?;
            Some((id_of(&st)?, (st.size as u64).min(len)..u64::MAX))
        })
        .map_err(mm_errno)?;
    set()?;
    if let Err(e) = change.changed() {
        log::warn!("updating shared mappings after a size change: {e}");
    }
    Ok(())
}

/// `fsync`: writes back every store made through shared mappings of `file`, then syncs it.
pub fn sync(kernel: &Kernel, file: &OpenFile) -> fs::Result<()> {
    kernel
        .mem
        .shared_files()
        .sync(|| Some((identity(file)?.0, 0..u64::MAX)))
        .map_err(mm_errno)?;
    file.ops.sync()
}
