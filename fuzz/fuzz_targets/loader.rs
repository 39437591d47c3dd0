//! Fuzzes the loader with arbitrary executable files: parsing, validation, mapping into
//! an address space (through a fake host) and the initial stack. It must never panic,
//! and a file it accepts must map without touching anything outside the guest range.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loader::{ExecFile, ExecParams, LoadError, Opener};
use mm::{AddressSpace, FileSource, Layout, MappedFile, MemoryFile};
use nix::errno::Errno;
use platform::HostMapper;
use std::sync::{Arc, OnceLock};

struct Bytes(Vec<u8>);

impl FileSource for Bytes {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let off = (off as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - off);
        buf[..n].copy_from_slice(&self.0[off..off + n]);
        Ok(n)
    }
}

/// Every path opens the fuzz input, except that the second half of the input (if any)
/// is the interpreter named by PT_INTERP.
struct Files(Vec<u8>, Vec<u8>);

impl Opener for Files {
    fn open_exec(&self, path: &[u8]) -> Result<ExecFile, LoadError> {
        let data = if path == b"/prog" { self.0.clone() } else { self.1.clone() };
        let size = data.len() as u64;
        let file = MappedFile { path: String::from_utf8_lossy(path).into(), dev: 0, ino: 0, source: Arc::new(Bytes(data)), version: None };
        Ok(ExecFile { file: Arc::new(file), size })
    }
}

/// A host that only checks every mapping stays in the guest range.
struct Host;

impl HostMapper for Host {
    fn map(&mut self, addr: u64, len: u64, _prot: i32, _offset: u64) -> Result<(), Errno> {
        assert!(addr.checked_add(len).is_some_and(|e| e <= platform::GUEST_TOP), "mapping outside the guest range");
        Ok(())
    }
    fn unmap(&mut self, _addr: u64, _len: u64) -> Result<(), Errno> {
        Ok(())
    }
    fn protect(&mut self, _addr: u64, _len: u64, _prot: i32) -> Result<(), Errno> {
        Ok(())
    }
}

fn memory() -> &'static Arc<MemoryFile> {
    static MEM: OnceLock<Arc<MemoryFile>> = OnceLock::new();
    MEM.get_or_init(|| MemoryFile::new(1 << 40).expect("memory file"))
}

fuzz_target!(|data: &[u8]| {
    let split = data.len() / 2;
    let files = Files(data.to_vec(), data[split..].to_vec());
    let Ok(prepared) = loader::prepare(&files, b"/prog", vec![b"prog".to_vec()], vec![b"A=1".to_vec()]) else { return };
    let space = AddressSpace::new(memory().clone(), Layout::fixed(platform::GUEST_TOP));
    let params = ExecParams { ids: [0; 4], hwcap: 0, hwcap2: 0, minsigstksz: 2048, random: [0; 16], stack_gap: 0, brk_gap: 0 };
    let _ = prepared.load(&space, &mut Host, &params);
});
