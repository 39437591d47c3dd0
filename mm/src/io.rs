//! Copying between sentry buffers and guest memory.
//!
//! Every copy is checked against the VMA map under the read lock: each byte must lie in a
//! VMA whose protection allows the access the guest itself would need (reading needs any
//! access right, writing needs `PROT_WRITE`), otherwise the whole copy fails with
//! [`MmError::Fault`] before any byte moves. The bytes then move with a `memcpy` through
//! the sentry's window on the memory file.

use crate::error::MmError;
use crate::space::AddressSpace;
use crate::vma::Backing;
use zerocopy::{FromBytes, Immutable, IntoBytes};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    /// The sentry itself (loader): protection is not checked, mapping is.
    Force,
}

impl AddressSpace {
    /// Calls `f(memfd_offset, position_in_buffer, len)` for each piece of
    /// `[addr, addr + len)`, after checking the whole range.
    fn chunks(
        &self,
        addr: u64,
        len: usize,
        access: Access,
        mut f: impl FnMut(u64, usize, usize),
    ) -> Result<(), MmError> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len as u64).ok_or(MmError::Fault)?;
        let st = self.state.read();
        let mut pieces = Vec::with_capacity(2);
        let mut pos = addr;
        while pos < end {
            let vma = st.vmas.find(pos).ok_or(MmError::Fault)?;
            let allowed = match access {
                Access::Read => vma.prot.readable(),
                Access::Write => vma.prot.writable(),
                Access::Force => true,
            };
            if !allowed {
                return Err(MmError::Fault);
            }
            let n = vma.end.min(end) - pos;
            pieces.push((vma.offset_of(pos), (pos - addr) as usize, n as usize));
            pos += n;
        }
        for (off, at, n) in pieces {
            f(off, at, n);
        }
        Ok(())
    }

    /// Copies guest memory at `addr` into `buf`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MmError> {
        let mem = self.mem.clone();
        self.chunks(addr, buf.len(), Access::Read, |off, at, n| {
            mem.read(off, &mut buf[at..at + n])
        })
    }

    /// Copies `data` into guest memory at `addr`.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), MmError> {
        let mem = self.mem.clone();
        self.chunks(addr, data.len(), Access::Write, |off, at, n| {
            mem.write(off, &data[at..at + n])
        })
    }

    /// Writes `data` at `addr` whatever the protection (the loader filling read-only
    /// pages); the range must still be mapped.
    pub fn poke(&self, addr: u64, data: &[u8]) -> Result<(), MmError> {
        let mem = self.mem.clone();
        self.chunks(addr, data.len(), Access::Force, |off, at, n| {
            mem.write(off, &data[at..at + n])
        })
    }

    /// Checks that `[addr, addr + len)` could be read (or written, with `write`).
    pub fn check_access(&self, addr: u64, len: usize, write: bool) -> Result<(), MmError> {
        self.chunks(
            addr,
            len,
            if write { Access::Write } else { Access::Read },
            |_, _, _| (),
        )
    }

    /// Reads a NUL-terminated string of at most `max` bytes (NUL excluded).
    pub fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>, MmError> {
        let mut out = Vec::new();
        let mut pos = addr;
        loop {
            // Never read past a page boundary in one go: the next page may be unmapped
            // although the string ends before it.
            let chunk = (4096 - (pos % 4096)) as usize;
            let mut buf = vec![0u8; chunk];
            self.read(pos, &mut buf)?;
            if let Some(nul) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..nul]);
                return if out.len() > max {
                    Err(MmError::TooLong)
                } else {
                    Ok(out)
                };
            }
            out.extend_from_slice(&buf);
            if out.len() > max {
                return Err(MmError::TooLong);
            }
            pos = pos.checked_add(chunk as u64).ok_or(MmError::Fault)?;
        }
    }

    /// Reads a plain-data value from guest memory.
    pub fn read_obj<T: FromBytes + IntoBytes>(&self, addr: u64) -> Result<T, MmError> {
        let mut v = T::new_zeroed();
        self.read(addr, v.as_mut_bytes())?;
        Ok(v)
    }

    /// Writes a plain-data value to guest memory.
    pub fn write_obj<T: IntoBytes + Immutable>(&self, addr: u64, v: &T) -> Result<(), MmError> {
        self.write(addr, v.as_bytes())
    }
}

/// What tells futex words apart, as Linux's `futex_key` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FutexKey {
    /// A word in shared memory: its memory-file offset, the same in every mapping of the
    /// page in any address space.
    Shared(u64),
    /// A word of one address space (`FUTEX_PRIVATE_FLAG`, or private memory): the space
    /// and the address, which stay put when the sentry moves the pages in the memory file
    /// (a heap growing into a new range, a page-cache page made private).
    Private {
        /// [`AddressSpace`] id.
        space: u64,
        /// The word's address.
        addr: u64,
    },
}

impl AddressSpace {
    /// The key of the futex word at `addr`: [`FutexKey::Private`] for `private` operations
    /// and private mappings, [`FutexKey::Shared`] for shared mappings. The word must be
    /// 4-byte aligned (EINVAL) and mapped readable (EFAULT).
    pub fn futex_key(&self, addr: u64, private: bool) -> Result<FutexKey, MmError> {
        if !addr.is_multiple_of(4) {
            return Err(MmError::Invalid);
        }
        let st = self.state.read();
        let vma = st
            .vmas
            .find(addr)
            .filter(|v| v.prot.readable())
            .ok_or(MmError::Fault)?;
        Ok(match &vma.backing {
            Backing::Shared { .. } | Backing::File { .. } if !private => {
                FutexKey::Shared(vma.offset_of(addr))
            }
            _ => FutexKey::Private {
                space: self.id,
                addr,
            },
        })
    }

    /// Runs `f` on the futex word at `addr` as an atomic; the word must be mapped
    /// writable when `write`, readable otherwise.
    pub fn with_futex_word<R>(
        &self,
        addr: u64,
        write: bool,
        f: impl FnOnce(&std::sync::atomic::AtomicU32) -> R,
    ) -> Result<R, MmError> {
        if !addr.is_multiple_of(4) {
            return Err(MmError::Invalid);
        }
        let st = self.state.read();
        let vma = st.vmas.find(addr).ok_or(MmError::Fault)?;
        if !(if write {
            vma.prot.writable()
        } else {
            vma.prot.readable()
        }) {
            return Err(MmError::Fault);
        }
        let off = vma.offset_of(addr);
        Ok(self.mem.with_atomic_u32(off, f))
    }
}
