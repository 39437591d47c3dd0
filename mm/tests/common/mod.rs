//! What the address-space tests share: a fake host that records what the stub would map,
//! and in-memory files to map.

#![allow(dead_code)]

use mm::{AddressSpace, Layout, MemoryFile};
use nix::errno::Errno;
use parking_lot::Mutex;
use platform::HostMapper;
use std::collections::BTreeMap;

pub const P: u64 = 4096;
pub const TOP: u64 = 0x7ffa_f000_0000;

/// A page-granular model of the stub's host mappings: page -> (prot, memfd offset).
#[derive(Default)]
pub struct FakeHost {
    pub pages: BTreeMap<u64, (i32, u64)>,
}

impl HostMapper for FakeHost {
    fn map(&mut self, addr: u64, len: u64, prot: i32, offset: u64) -> Result<(), Errno> {
        for i in 0..len / P {
            self.pages.insert(addr + i * P, (prot, offset + i * P));
        }
        Ok(())
    }
    fn unmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        for i in 0..len / P {
            self.pages.remove(&(addr + i * P));
        }
        Ok(())
    }
    fn protect(&mut self, addr: u64, len: u64, prot: i32) -> Result<(), Errno> {
        for i in 0..len / P {
            let e = self.pages.get_mut(&(addr + i * P)).ok_or(Errno::ENOMEM)?;
            e.0 = prot;
        }
        Ok(())
    }
}

/// An empty address space over a fresh memory file, and its fake host.
pub fn space() -> (AddressSpace, FakeHost) {
    let mem = MemoryFile::new(1 << 36).unwrap();
    (
        AddressSpace::new(mem, Layout::fixed(TOP)),
        FakeHost::default(),
    )
}

/// The host view must equal the VMA map page by page.
pub fn assert_consistent(a: &AddressSpace, h: &FakeHost) {
    let mut expect = BTreeMap::new();
    for v in a.vmas() {
        for i in 0..(v.end - v.start) / P {
            expect.insert(v.start + i * P, (v.prot.0 as i32, v.memfd_offset + i * P));
        }
    }
    assert_eq!(expect, h.pages, "host mappings diverged from the VMA map");
}

/// A read-only file's bytes.
pub struct Bytes(pub Vec<u8>);

impl mm::FileSource for Bytes {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let off = (off as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - off);
        buf[..n].copy_from_slice(&self.0[off..off + n]);
        Ok(n)
    }
}

/// A file opened for reading and writing (or, with `writable` false, read-only), whose
/// bytes the test can inspect and change behind the mappings' back.
pub struct RwFile {
    pub data: Mutex<Vec<u8>>,
    pub writable: bool,
}

impl RwFile {
    pub fn new(data: Vec<u8>, writable: bool) -> Self {
        RwFile {
            data: Mutex::new(data),
            writable,
        }
    }

    pub fn contents(&self) -> Vec<u8> {
        self.data.lock().clone()
    }
}

impl mm::FileSource for RwFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        Bytes(self.contents()).read_at(buf, off)
    }
    fn writable(&self) -> bool {
        self.writable
    }
    fn write_at(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        let mut d = self.data.lock();
        let end = off as usize + buf.len();
        if d.len() < end {
            d.resize(end, 0);
        }
        d[off as usize..end].copy_from_slice(buf);
        Ok(buf.len())
    }
    fn size(&self) -> Result<u64, Errno> {
        Ok(self.data.lock().len() as u64)
    }
}
