//! Open file descriptions: what a guest fd points at.
//!
//! An [`OpenFile`] is shared by every fd that `dup`, `fork` or `SCM_RIGHTS` made from one
//! `open`, like Linux's `struct file`: it holds the status flags, the [`FileOps`] that
//! implement I/O, and its OFD and `flock` locks (released when it goes). Offsets live in
//! the [`FileOps`] (a host file's own offset, or a synthetic file's counter), so they are
//! shared exactly as Linux shares them.

use crate::Result;
use crate::inode::Stat;
use crate::lock::DescriptionLocks;
use crate::vfs::Dentry;
use crate::wait::Waiter;
use nix::errno::Errno;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// Readiness bits for poll (`POLLIN`, ...).
pub type PollEvents = i16;

/// What mapping a file gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `mmap` fails with ENODEV.
    NotMappable,
    /// The file's bytes (regular files).
    Data,
    /// Zero-filled memory, like `/dev/zero`: anonymous memory, shared or private.
    Zero,
}

/// I/O on an open file. Blocking operations take the caller's [`Waiter`] so a signal can
/// interrupt them (they then fail with `EINTR`).
pub trait FileOps: Send + Sync {
    /// Reads at the file's offset.
    fn read(&self, _w: &Arc<Waiter>, _buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::EINVAL)
    }
    /// Writes at the file's offset (or its end, with `append`).
    fn write(&self, _w: &Arc<Waiter>, _buf: &[u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::EINVAL)
    }
    /// Reads at `off` without moving the offset.
    fn pread(&self, _buf: &mut [u8], _off: u64) -> Result<usize> {
        Err(Errno::ESPIPE)
    }
    /// Writes at `off` without moving the offset.
    fn pwrite(&self, _buf: &[u8], _off: u64) -> Result<usize> {
        Err(Errno::ESPIPE)
    }
    /// Writes back stores of a shared mapping at `off`: a `pwrite` that is not a
    /// `write(2)`, so that seals against writes (memfds) do not refuse it.
    fn store(&self, buf: &[u8], off: u64) -> Result<usize> {
        self.pwrite(buf, off)
    }
    /// Moves the offset (`lseek`).
    fn seek(&self, _off: i64, _whence: i32) -> Result<u64> {
        Err(Errno::ESPIPE)
    }
    /// Fills `buf` with `linux_dirent64` records from the directory offset on.
    fn getdents(&self, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::ENOTDIR)
    }
    /// Attributes.
    fn stat(&self) -> Result<Stat>;
    /// Changes the size (`ftruncate`).
    fn truncate(&self, _len: u64) -> Result<()> {
        Err(Errno::EINVAL)
    }
    /// Makes `[off, off + len)` part of the file (`fallocate` modes 0 and
    /// `FALLOC_FL_KEEP_SIZE`): a file with no storage of its own to reserve only grows,
    /// unless `keep_size`.
    fn allocate(&self, keep_size: bool, off: u64, len: u64) -> Result<()> {
        let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
        if !keep_size && end > self.stat()?.size as u64 {
            self.truncate(end)?;
        }
        Ok(())
    }
    /// Flushes to storage.
    fn sync(&self) -> Result<()> {
        Ok(())
    }
    /// Current readiness for `events`, without blocking.
    fn poll(&self, events: PollEvents) -> PollEvents {
        events & (libc::POLLIN | libc::POLLOUT)
    }
    /// Bytes that can be read without blocking (`FIONREAD`).
    fn readable_bytes(&self) -> Result<usize> {
        Err(Errno::ENOTTY)
    }
    /// The host fd behind this file, for forwarding (terminal ioctls, blocking polls).
    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
    /// What `mmap` of this file means.
    fn map_kind(&self) -> MapKind {
        MapKind::NotMappable
    }
    /// Reads for mmap at `off`, whatever the file's access mode.
    fn read_for_map(&self, buf: &mut [u8], off: u64) -> Result<usize> {
        self.pread(buf, off)
    }
    /// The description's status flags changed (`fcntl(F_SETFL)`); files backed by a host fd
    /// pass `O_APPEND` and `O_DIRECT` on so host writes land where the guest expects and
    /// bypass the page cache when it asks.
    fn set_status_flags(&self, _flags: i32) {}
    /// The queue woken whenever this file's readiness may change (sentry-side files such
    /// as pipes), for poll to sleep on.
    fn wait_queue(&self) -> Option<&crate::wait::WaitQueue> {
        None
    }
    /// Whether reads may return less than asked before the end (pipes, terminals,
    /// sockets): such reads are not retried to fill the buffer.
    fn is_stream(&self) -> bool {
        false
    }
    /// The implementation as `Any`, for the sentry to find its own file types (timerfd,
    /// signalfd) behind an fd.
    fn any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// The pipe end, for `F_GETPIPE_SZ`/`F_SETPIPE_SZ`.
    fn pipe_end(&self) -> Option<&crate::pipe::PipeEnd> {
        None
    }
    /// A name for `/proc/pid/fd` when the file has no path (`pipe:[N]`, ...).
    fn anon_name(&self) -> Option<String> {
        None
    }
    /// The lines `/proc/pid/fdinfo` shows after the common ones (a pidfd's `Pid:`).
    fn fdinfo(&self) -> String {
        String::new()
    }
}

/// One open file description.
pub struct OpenFile {
    /// The implementation.
    pub ops: Box<dyn FileOps>,
    flags: AtomicI32,
    /// Where it was opened, for `*at` calls, `fchdir` and `/proc/pid/fd`.
    pub dentry: Option<Arc<Dentry>>,
    /// Its OFD and `flock` locks, released when it goes.
    pub(crate) locks: DescriptionLocks,
}

/// Status flags `fcntl(F_SETFL)` may change.
pub const SETFL_MASK: i32 =
    libc::O_APPEND | libc::O_NONBLOCK | libc::O_ASYNC | libc::O_DIRECT | libc::O_NOATIME;

impl OpenFile {
    /// A new description with open `flags` (creation flags are dropped).
    pub fn new(ops: Box<dyn FileOps>, flags: i32, dentry: Option<Arc<Dentry>>) -> Arc<OpenFile> {
        let keep =
            !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC | libc::O_CLOEXEC);
        Self::new_exact(ops, flags & keep, dentry)
    }

    /// A description whose `flags` are kept as given (a pidfd's `PIDFD_THREAD`, which
    /// is `O_EXCL`, shows in `F_GETFL`).
    pub fn new_exact(
        ops: Box<dyn FileOps>,
        flags: i32,
        dentry: Option<Arc<Dentry>>,
    ) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            ops,
            flags: AtomicI32::new(flags),
            dentry,
            locks: DescriptionLocks::default(),
        })
    }

    /// Status flags and access mode (`F_GETFL`).
    pub fn flags(&self) -> i32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Replaces the changeable status flags (`F_SETFL`).
    pub fn set_flags(&self, flags: i32) {
        let old = self.flags();
        let new = (old & !SETFL_MASK) | (flags & SETFL_MASK);
        self.flags.store(new, Ordering::Relaxed);
        self.ops.set_status_flags(new);
    }

    /// Whether reads are allowed.
    pub fn readable(&self) -> bool {
        let acc = self.flags() & libc::O_ACCMODE;
        acc == libc::O_RDONLY || acc == libc::O_RDWR
    }

    /// Whether writes are allowed.
    pub fn writable(&self) -> bool {
        let acc = self.flags() & libc::O_ACCMODE;
        acc == libc::O_WRONLY || acc == libc::O_RDWR
    }

    /// Whether `O_NONBLOCK` is set.
    pub fn nonblocking(&self) -> bool {
        self.flags() & libc::O_NONBLOCK != 0
    }

    /// `O_PATH` descriptions allow no I/O.
    pub fn is_path_only(&self) -> bool {
        self.flags() & libc::O_PATH != 0
    }

    /// Reads, checking the access mode.
    pub fn read(&self, w: &Arc<Waiter>, buf: &mut [u8]) -> Result<usize> {
        if !self.readable() || self.is_path_only() {
            return Err(Errno::EBADF);
        }
        self.ops.read(w, buf, self.nonblocking())
    }

    /// Writes, checking the access mode.
    pub fn write(&self, w: &Arc<Waiter>, buf: &[u8]) -> Result<usize> {
        if !self.writable() || self.is_path_only() {
            return Err(Errno::EBADF);
        }
        self.ops.write(w, buf, self.nonblocking())
    }

    /// The guest path this file was opened at, or its anonymous name.
    pub fn display_path(&self) -> String {
        match (&self.dentry, self.ops.anon_name()) {
            (_, Some(name)) => name,
            (Some(d), None) => String::from_utf8_lossy(d.path()).into_owned(),
            (None, None) => "anon_inode:[unknown]".to_string(),
        }
    }
}

/// The last reference went: the file is closed (inotify's `IN_CLOSE_WRITE` or
/// `IN_CLOSE_NOWRITE`).
impl Drop for OpenFile {
    fn drop(&mut self) {
        crate::notify::closed(self);
    }
}
