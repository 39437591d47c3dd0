//! A process's file descriptor table.
//!
//! The table is also the owner of the POSIX record locks its process takes (Linux's
//! `files_struct`): closing any fd of a file drops them on that file, and they all go with
//! the table.

use crate::Result;
use crate::file::OpenFile;
use crate::lock::PosixOwner;
use nix::errno::Errno;
use std::sync::Arc;

/// One fd: the open file and the close-on-exec flag.
#[derive(Clone)]
pub struct FdEntry {
    /// The open file description.
    pub file: Arc<OpenFile>,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// Guest fd numbers to open files.
pub struct FdTable {
    entries: Vec<Option<FdEntry>>,
    /// The owner of the POSIX locks taken through this table.
    locks: Arc<PosixOwner>,
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable {
            entries: Vec::new(),
            locks: PosixOwner::new(),
        }
    }
}

/// A copy for a child process (`fork` without `CLONE_FILES`): the same open files, and a
/// lock owner of its own (record locks are not inherited).
impl Clone for FdTable {
    fn clone(&self) -> Self {
        FdTable {
            entries: self.entries.clone(),
            locks: PosixOwner::new(),
        }
    }
}

impl FdTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The owner of the POSIX record locks taken through this table.
    pub fn lock_owner(&self) -> &Arc<PosixOwner> {
        &self.locks
    }

    /// An fd of `file` was closed: the table's POSIX locks on the file go.
    fn closed(&self, file: &OpenFile) {
        self.locks.closed(file);
    }

    /// The entry for `fd`.
    pub fn get(&self, fd: i32) -> Result<&FdEntry> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.entries.get(i))
            .and_then(|e| e.as_ref())
            .ok_or(Errno::EBADF)
    }

    /// The entry for `fd`, mutably.
    pub fn get_mut(&mut self, fd: i32) -> Result<&mut FdEntry> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.entries.get_mut(i))
            .and_then(|e| e.as_mut())
            .ok_or(Errno::EBADF)
    }

    /// The open file behind `fd`.
    pub fn file(&self, fd: i32) -> Result<Arc<OpenFile>> {
        self.get(fd).map(|e| e.file.clone())
    }

    /// Installs `file` at the lowest free fd `>= min` below `limit` (`EMFILE` if none).
    pub fn insert(
        &mut self,
        file: Arc<OpenFile>,
        cloexec: bool,
        min: i32,
        limit: u64,
    ) -> Result<i32> {
        let min = usize::try_from(min).map_err(|_| Errno::EINVAL)?;
        let free = (min..)
            .find(|&i| self.entries.get(i).is_none_or(|e| e.is_none()))
            .expect("unbounded range");
        if free as u64 >= limit {
            return Err(Errno::EMFILE);
        }
        if free >= self.entries.len() {
            self.entries.resize(free + 1, None);
        }
        self.entries[free] = Some(FdEntry { file, cloexec });
        Ok(free as i32)
    }

    /// Installs `file` at `fd`, returning what was there (`dup2`).
    pub fn install(
        &mut self,
        fd: i32,
        file: Arc<OpenFile>,
        cloexec: bool,
        limit: u64,
    ) -> Result<Option<FdEntry>> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        if i as u64 >= limit {
            return Err(Errno::EBADF);
        }
        if i >= self.entries.len() {
            self.entries.resize(i + 1, None);
        }
        let old = self.entries[i].replace(FdEntry { file, cloexec });
        if let Some(e) = &old {
            self.closed(&e.file);
        }
        Ok(old)
    }

    /// Removes `fd`.
    pub fn remove(&mut self, fd: i32) -> Result<FdEntry> {
        let e = usize::try_from(fd)
            .ok()
            .and_then(|i| self.entries.get_mut(i))
            .and_then(|e| e.take())
            .ok_or(Errno::EBADF)?;
        self.closed(&e.file);
        self.trim();
        Ok(e)
    }

    /// Drops the free slots at the end.
    fn trim(&mut self) {
        while self.entries.last().is_some_and(|e| e.is_none()) {
            self.entries.pop();
        }
    }

    /// Closes every close-on-exec fd (at `execve`).
    pub fn close_on_exec(&mut self) {
        for e in &mut self.entries {
            if e.as_ref().is_some_and(|e| e.cloexec)
                && let Some(closed) = e.take()
            {
                self.locks.closed(&closed.file);
            }
        }
        self.trim();
    }

    /// Open fds in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as i32, e)))
    }

    /// Removes every fd in `[first, last]` (`close_range`).
    pub fn remove_range(&mut self, first: u32, last: u32) -> Vec<FdEntry> {
        let mut out = Vec::new();
        let end = (last as usize).saturating_add(1).min(self.entries.len());
        for i in (first as usize)..end {
            if let Some(e) = self.entries[i].take() {
                self.closed(&e.file);
                out.push(e);
            }
        }
        self.trim();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::FileOps;
    use crate::inode::Stat;

    struct Dummy;
    impl FileOps for Dummy {
        fn stat(&self) -> Result<Stat> {
            Ok(Stat::default())
        }
    }

    fn file() -> Arc<OpenFile> {
        OpenFile::new(Box::new(Dummy), libc::O_RDONLY, None)
    }

    #[test]
    fn lowest_free_and_limits() {
        let mut t = FdTable::new();
        assert_eq!(t.insert(file(), false, 0, 4).unwrap(), 0);
        assert_eq!(t.insert(file(), true, 0, 4).unwrap(), 1);
        assert_eq!(t.insert(file(), false, 3, 4).unwrap(), 3);
        assert_eq!(t.insert(file(), false, 0, 4).unwrap(), 2);
        assert_eq!(t.insert(file(), false, 0, 4), Err(Errno::EMFILE));
        t.remove(1).unwrap();
        assert_eq!(t.remove(1).err(), Some(Errno::EBADF));
        assert_eq!(t.insert(file(), false, 0, 4).unwrap(), 1);
        assert_eq!(t.install(9, file(), false, 4).err(), Some(Errno::EBADF));
    }

    #[test]
    fn cloexec_closes() {
        let mut t = FdTable::new();
        t.insert(file(), false, 0, 10).unwrap();
        t.insert(file(), true, 0, 10).unwrap();
        t.close_on_exec();
        assert!(t.get(0).is_ok());
        assert_eq!(t.get(1).err(), Some(Errno::EBADF));
        assert_eq!(t.iter().count(), 1);
    }
}
