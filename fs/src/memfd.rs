//! memfds (`memfd_create`): a tmpfs file with no name in any directory, reported as
//! `/memfd:NAME (deleted)`, and its *seals* (`fcntl(F_ADD_SEALS)`), which refuse changes
//! to the file as Linux's shmem does:
//!
//! - `F_SEAL_SHRINK` / `F_SEAL_GROW`: truncates to a smaller / larger size are `EPERM`; a
//!   write that would grow the file writes the whole pages that stay inside it (Linux
//!   writes page by page and stops at the first page that would grow the file), `EPERM`
//!   if none.
//! - `F_SEAL_WRITE` / `F_SEAL_FUTURE_WRITE`: writes are `EPERM`, new writable shared
//!   mappings too (the caller asks [`Memfd::write_sealed`]); `F_SEAL_WRITE` is `EBUSY`
//!   while a shared mapping that may write exists ([`Memfd::add_writable_map`]), while
//!   `F_SEAL_FUTURE_WRITE` leaves such mappings writing. Stores of a shared mapping are
//!   not writes: they reach the file through [`FileOps::store`].
//! - `F_SEAL_EXEC`: the execute bits cannot change; added to a file that has some, it
//!   brings every write seal with it (W^X).
//! - `F_SEAL_SEAL`: no more seals. A memfd made without `MFD_ALLOW_SEALING` starts with it.
//!
//! The seals belong to the file: every fd that `dup`, `fork` or `SCM_RIGHTS` made from the
//! memfd shares them.

use crate::Result;
use crate::file::{FileOps, MapKind, OpenFile, PollEvents};
use crate::inode::{Inode, SetAttr, Stat};
use crate::wait::Waiter;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::any::Any;
use std::sync::{Arc, Weak};

/// Every seal Linux knows (`F_ALL_SEALS`).
pub const ALL_SEALS: u32 = (libc::F_SEAL_SEAL
    | libc::F_SEAL_SHRINK
    | libc::F_SEAL_GROW
    | libc::F_SEAL_WRITE
    | libc::F_SEAL_FUTURE_WRITE
    | F_SEAL_EXEC) as u32;
/// `F_SEAL_EXEC` (Linux 6.3).
pub const F_SEAL_EXEC: i32 = 0x20;
/// The seals that refuse writes.
const WRITE_SEALS: u32 = (libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE) as u32;
/// The seals `F_SEAL_EXEC` brings to an executable file.
const W_X_SEALS: u32 =
    (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE)
        as u32;
/// Linux's page size, the unit of a growing write under `F_SEAL_GROW`.
const PAGE: u64 = 4096;

/// A memfd: its tmpfs file, its name and its seals.
pub struct Memfd {
    inode: Arc<dyn Inode>,
    file: Box<dyn FileOps>,
    label: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    seals: u32,
    /// The shared mappings that may write (their owners' tokens; gone when unmapped).
    writable_maps: Vec<Weak<dyn Any + Send + Sync>>,
}

impl Memfd {
    /// The memfd `name` over tmpfs file `inode` opened as `file`, with initial `seals`.
    pub fn new(inode: Arc<dyn Inode>, file: Box<dyn FileOps>, name: &[u8], seals: u32) -> Self {
        Memfd {
            inode,
            file,
            label: format!("/memfd:{} (deleted)", String::from_utf8_lossy(name)),
            state: Mutex::new(State {
                seals,
                writable_maps: Vec::new(),
            }),
        }
    }

    /// The memfd behind `file`, if it is one.
    pub fn of(file: &OpenFile) -> Option<&Memfd> {
        file.ops.any()?.downcast_ref()
    }

    /// `F_GET_SEALS`.
    pub fn seals(&self) -> u32 {
        self.state.lock().seals
    }

    /// Whether writes (and new writable shared mappings) are refused.
    pub fn write_sealed(&self) -> bool {
        self.seals() & WRITE_SEALS != 0
    }

    /// `F_ADD_SEALS` through `file` (this memfd's open file): `EPERM` unless it is open for
    /// writing or once `F_SEAL_SEAL` is set, `EINVAL` for unknown seals, `EBUSY` for
    /// `F_SEAL_WRITE` while a shared mapping may write.
    pub fn add_seals(&self, file: &OpenFile, seals: u32) -> Result<()> {
        if !file.writable() {
            return Err(Errno::EPERM);
        }
        if seals & !ALL_SEALS != 0 {
            return Err(Errno::EINVAL);
        }
        let mut st = self.state.lock();
        if st.seals & libc::F_SEAL_SEAL as u32 != 0 {
            return Err(Errno::EPERM);
        }
        let write = libc::F_SEAL_WRITE as u32;
        if seals & write != 0 && st.seals & write == 0 {
            st.writable_maps.retain(|m| m.strong_count() > 0);
            if !st.writable_maps.is_empty() {
                return Err(Errno::EBUSY);
            }
        }
        let mut add = seals;
        if seals & F_SEAL_EXEC as u32 != 0 && self.file.stat()?.mode & 0o111 != 0 {
            add |= W_X_SEALS;
        }
        st.seals |= add;
        Ok(())
    }

    /// A shared mapping that may write was made; it counts until `token` is dropped.
    pub fn add_writable_map(&self, token: Weak<dyn Any + Send + Sync>) {
        let mut st = self.state.lock();
        st.writable_maps.retain(|m| m.strong_count() > 0);
        st.writable_maps.push(token);
    }

    /// `fchmod`/`fchown` of the memfd: a mode change that flips an execute bit is `EPERM`
    /// under `F_SEAL_EXEC`.
    pub fn setattr(&self, attr: SetAttr) -> Result<()> {
        if let SetAttr::Mode(mode) = attr
            && self.seals() & F_SEAL_EXEC as u32 != 0
            && (mode ^ self.file.stat()?.mode) & 0o111 != 0
        {
            return Err(Errno::EPERM);
        }
        self.inode.setattr(attr)
    }

    /// How many of `len` bytes at `off` a write may change: all unless write-sealed
    /// (`EPERM`) or growing under `F_SEAL_GROW`.
    fn writable_len(&self, off: u64, len: usize) -> Result<usize> {
        let seals = self.seals();
        if seals & WRITE_SEALS != 0 {
            return Err(Errno::EPERM);
        }
        let end = off.saturating_add(len as u64);
        if seals & libc::F_SEAL_GROW as u32 == 0 || len == 0 {
            return Ok(len);
        }
        let size = self.file.stat()?.size as u64;
        if end <= size {
            return Ok(len);
        }
        // Page by page, up to the first page that would end past the size.
        let last = size / PAGE * PAGE;
        if last > off {
            Ok((last - off) as usize)
        } else {
            Err(Errno::EPERM)
        }
    }
}

impl FileOps for Memfd {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        self.file.read(w, buf, nonblock)
    }
    fn write(&self, w: &Arc<Waiter>, buf: &[u8], nonblock: bool) -> Result<usize> {
        let at = self.file.seek(0, libc::SEEK_CUR)?;
        let n = self.writable_len(at, buf.len())?;
        self.file.write(w, &buf[..n], nonblock)
    }
    fn pread(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        self.file.pread(buf, off)
    }
    fn pwrite(&self, buf: &[u8], off: u64) -> Result<usize> {
        let n = self.writable_len(off, buf.len())?;
        self.file.pwrite(&buf[..n], off)
    }
    fn store(&self, buf: &[u8], off: u64) -> Result<usize> {
        self.file.pwrite(buf, off)
    }
    fn seek(&self, off: i64, whence: i32) -> Result<u64> {
        self.file.seek(off, whence)
    }
    fn stat(&self) -> Result<Stat> {
        self.file.stat()
    }
    fn truncate(&self, len: u64) -> Result<()> {
        let seals = self.seals();
        let size = self.file.stat()?.size as u64;
        if (len < size && seals & libc::F_SEAL_SHRINK as u32 != 0)
            || (len > size && seals & libc::F_SEAL_GROW as u32 != 0)
        {
            return Err(Errno::EPERM);
        }
        self.file.truncate(len)
    }
    fn sync(&self) -> Result<()> {
        self.file.sync()
    }
    fn poll(&self, events: PollEvents) -> PollEvents {
        self.file.poll(events)
    }
    fn map_kind(&self) -> MapKind {
        self.file.map_kind()
    }
    fn read_for_map(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        self.file.read_for_map(buf, off)
    }
    fn any(&self) -> Option<&dyn Any> {
        Some(self)
    }
    fn anon_name(&self) -> Option<String> {
        Some(self.label.clone())
    }
}
