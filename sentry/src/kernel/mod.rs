//! The kernel: global sandbox state, processes and tasks.
//!
//! - [`Kernel`]: what every task shares: the VFS, the memory file, options, the process
//!   table.
//! - [`process`]: a thread group and what its threads share (address space, credentials,
//!   limits, signal dispositions).
//! - [`task`]: one guest thread, run by its own sentry thread that traces its stub thread.
//! - [`exec`]: replacing a process image.

pub mod exec;
pub mod process;
pub mod task;

use crate::dump::VmaDump;
use fs::Vfs;
use mm::MemoryFile;
use parking_lot::Mutex;
use process::Process;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// Size of the sparse memory file: the most guest memory a sandbox can ever hold.
pub const MEMORY_FILE_SIZE: u64 = 1 << 40;

/// Run-time options of a sandbox.
#[derive(Default)]
pub struct Options {
    /// Print every syscall like strace.
    pub strace: bool,
    /// Where the VMA dump goes, if enabled.
    pub dump: Option<VmaDump>,
}

/// State shared by every task of the sandbox.
pub struct Kernel {
    /// The guest's file tree.
    pub vfs: Vfs,
    /// The memory file behind every guest page.
    pub mem: Arc<MemoryFile>,
    /// Options from the command line.
    pub opts: Options,
    /// When the sandbox started (uptime, process start times).
    pub boot: Instant,
    processes: Mutex<BTreeMap<i32, Weak<Process>>>,
    next_pid: AtomicI32,
    unimplemented: Mutex<HashSet<u64>>,
}

impl Kernel {
    /// A kernel over `vfs` with a fresh memory file.
    pub fn new(vfs: Vfs, opts: Options) -> Result<Arc<Kernel>, mm::MmError> {
        Ok(Arc::new(Kernel {
            vfs,
            mem: MemoryFile::new(MEMORY_FILE_SIZE)?,
            opts,
            boot: Instant::now(),
            processes: Mutex::new(BTreeMap::new()),
            next_pid: AtomicI32::new(1),
            unimplemented: Mutex::new(HashSet::new()),
        }))
    }

    /// A fresh guest pid (the first is 1).
    pub fn alloc_pid(&self) -> i32 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a process so dumps and `/proc` can find it.
    pub fn register(&self, p: &Arc<Process>) {
        self.processes.lock().insert(p.pid, Arc::downgrade(p));
    }

    /// Forgets a process that has been reaped.
    pub fn unregister(&self, pid: i32) {
        self.processes.lock().remove(&pid);
    }

    /// Every live process, by pid.
    pub fn processes(&self) -> Vec<Arc<Process>> {
        self.processes.lock().values().filter_map(Weak::upgrade).collect()
    }

    /// Logs an unimplemented syscall the first time it is seen; returns whether it was new.
    pub fn note_unimplemented(&self, nr: u64) -> bool {
        self.unimplemented.lock().insert(nr)
    }
}
