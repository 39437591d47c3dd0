//! The kernel: global sandbox state, processes and tasks.
//!
//! - [`Kernel`]: what every task shares: the VFS, the memory file, options, the process
//!   table.
//! - [`process`]: a thread group and what its threads share (address space, credentials,
//!   limits, signal dispositions).
//! - [`task`]: one guest thread, run by its own sentry thread that traces its stub thread.
//! - [`exec`]: replacing a process image; [`fork`]: creating processes.
//! - [`tree`]: parents, children, process groups, sessions, zombies.
//! - [`signal`]: signal sets, default actions, sending; [`pidfd`]: files naming processes.
//! - [`sched`], [`affinity`], [`mempolicy`]: per-thread scheduling attributes, CPU
//!   affinity and NUMA memory policy.
//! - [`uts`]: the sandbox's host and domain name; [`mqueue`]: POSIX message queues;
//!   [`aio`]: Linux native AIO contexts.
//! - [`seccomp`]: the guest's own syscall filters, run on each of its syscalls.
//! - [`timer`]: wall-clock timers; [`cpuclock`], [`cputimer`], [`itimer`]: CPU-time clocks,
//!   the timers on them, a process's CPU-time interval timers and `RLIMIT_CPU`.

pub mod affinity;
pub mod aio;
pub mod cpuclock;
pub mod cputimer;
pub mod current;
pub mod exec;
pub mod fork;
pub mod futex;
pub mod ipc;
pub mod itimer;
pub mod mempolicy;
pub mod mqueue;
pub mod pidfd;
pub mod posix_timer;
pub mod process;
pub mod sched;
pub mod seccomp;
pub mod sigframe;
pub mod signal;
pub mod signalfd;
pub mod task;
pub mod timer;
pub mod timerfd;
pub mod trap;
pub mod tree;
pub mod tty;
pub mod uts;

use crate::dump::VmaDump;
use fs::Vfs;
use mm::MemoryFile;
use parking_lot::Mutex;
use process::Process;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;
use tree::ProcTree;

/// Size of the sparse memory file (64 TiB of offsets, of which only touched pages are
/// allocated): the most guest address space, in mappings of every process together, a
/// sandbox can ever hold. Room for AddressSanitizer's ~16 TiB of shadow reservations, in
/// a process and in a forked copy of it.
pub const MEMORY_FILE_SIZE: u64 = 1 << 46;

/// Run-time options of a sandbox.
#[derive(Default)]
pub struct Options {
    /// Print every syscall like strace.
    pub strace: bool,
    /// Where the VMA dump goes, if enabled.
    pub dump: Option<VmaDump>,
    /// Resource limits.
    pub limits: Limits,
    /// Where the guest's inet sockets live.
    pub network: Network,
}

/// Where the guest's `AF_INET`/`AF_INET6` sockets live (`sentry run --network`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    /// In the sentry, on the sandbox's own loopback interface; host and guest cannot
    /// reach each other (gVisor's `--network=none`).
    #[default]
    Sandbox,
    /// Host sockets the sentry operates for the guest, on the host's interfaces
    /// (gVisor's `--network=host`); netlink route dumps and interface ioctls describe
    /// the host's interfaces.
    Host,
}

/// Room for one task under the task limit.
pub struct TaskSlot {
    kernel: Option<Arc<Kernel>>,
}

impl TaskSlot {
    /// The task started: its thread gives the room back when it ends.
    pub fn commit(mut self) {
        self.kernel = None;
    }
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        if let Some(k) = self.kernel.take() {
            k.release_task();
        }
    }
}

/// What the guest as a whole may use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of guest memory: memory-file pages plus in-memory filesystems.
    pub memory: u64,
    /// Guest threads and processes alive at once.
    pub tasks: usize,
    /// RLIMIT_NOFILE of the first process, when set.
    pub fds: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: u64::MAX,
            tasks: usize::MAX,
            fds: None,
        }
    }
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
    /// Every process, with its place in the tree.
    pub tree: Mutex<ProcTree>,
    /// Futex wait queues.
    pub futexes: futex::Futexes,
    /// System V IPC objects.
    pub ipc: ipc::IpcNamespace,
    /// Advisory file locks (`fcntl` record locks, `flock`) of every file.
    pub locks: Arc<fs::lock::FileLocks>,
    /// Every timer of the sandbox.
    pub timers: Arc<timer::TimerService>,
    /// Host and domain name.
    pub uts: uts::Uts,
    /// POSIX message queues.
    pub mqueues: Arc<mqueue::MqNamespace>,
    /// Linux AIO contexts.
    pub aio: aio::AioContexts,
    /// Every timer on a CPU-time clock, sampled on `timers`.
    pub cpu_timers: Arc<cputimer::CpuTimers>,
    next_pid: AtomicI32,
    unimplemented: Mutex<HashSet<u64>>,
    /// The guest's terminal foreground process group (Ctrl-C goes there).
    fg_pgrp: AtomicI32,
    /// Tasks alive now (for the task limit).
    live_tasks: std::sync::atomic::AtomicUsize,
    /// In-memory filesystems whose contents count as guest memory.
    tmpfs: Mutex<Vec<Arc<fs::tmpfs::TmpFs>>>,
}

impl Kernel {
    /// A kernel over `vfs` with a fresh memory file.
    pub fn new(vfs: Vfs, opts: Options) -> Result<Arc<Kernel>, mm::MmError> {
        let timers = Arc::new(timer::TimerService::default());
        Ok(Arc::new(Kernel {
            vfs,
            mem: MemoryFile::new(MEMORY_FILE_SIZE)?,
            opts,
            boot: Instant::now(),
            tree: Mutex::new(ProcTree::default()),
            futexes: futex::Futexes::default(),
            ipc: ipc::IpcNamespace::default(),
            locks: fs::lock::FileLocks::new(),
            uts: uts::Uts::default(),
            mqueues: Arc::default(),
            aio: aio::AioContexts::default(),
            cpu_timers: cputimer::CpuTimers::new(timers.clone()),
            timers,
            next_pid: AtomicI32::new(1),
            fg_pgrp: AtomicI32::new(tree::INIT_PID),
            live_tasks: std::sync::atomic::AtomicUsize::new(0),
            tmpfs: Mutex::new(Vec::new()),
            unimplemented: Mutex::new(HashSet::new()),
        }))
    }

    /// A fresh guest pid (the first is 1).
    pub fn alloc_pid(&self) -> i32 {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    /// Reserves room for a new task; EAGAIN at the task limit (like RLIMIT_NPROC). The
    /// room is given back when the slot drops, unless [`TaskSlot::commit`]ted to a started
    /// task (whose thread gives it back with [`Kernel::release_task`]).
    pub fn reserve_task(self: &Arc<Self>) -> Result<TaskSlot, nix::errno::Errno> {
        let n = self.live_tasks.fetch_add(1, Ordering::SeqCst);
        if n >= self.opts.limits.tasks {
            self.live_tasks.fetch_sub(1, Ordering::SeqCst);
            return Err(nix::errno::Errno::EAGAIN);
        }
        Ok(TaskSlot {
            kernel: Some(self.clone()),
        })
    }

    /// Gives back a task's room.
    pub fn release_task(&self) {
        self.live_tasks.fetch_sub(1, Ordering::SeqCst);
    }

    /// Counts an in-memory filesystem's contents as guest memory.
    pub fn account_tmpfs(&self, fs: Arc<fs::tmpfs::TmpFs>) {
        self.tmpfs.lock().push(fs);
    }

    /// Bytes of memory the guest uses now.
    pub fn guest_memory(&self) -> u64 {
        self.mem.resident_bytes() + self.tmpfs.lock().iter().map(|t| t.used()).sum::<u64>()
    }

    /// Whether `more` bytes fit under the memory limit.
    pub fn memory_allows(&self, more: u64) -> bool {
        let limit = self.opts.limits.memory;
        limit == u64::MAX || self.guest_memory().saturating_add(more) <= limit
    }

    /// The guest terminal's foreground process group.
    pub fn foreground_pgrp(&self) -> i32 {
        self.fg_pgrp.load(Ordering::Relaxed)
    }

    /// Sets the guest terminal's foreground process group (`TIOCSPGRP`).
    pub fn set_foreground_pgrp(&self, pgrp: i32) {
        self.fg_pgrp.store(pgrp, Ordering::Relaxed);
    }

    /// Every live process.
    pub fn processes(&self) -> Vec<Arc<Process>> {
        self.tree.lock().all_live()
    }

    /// Logs an unimplemented syscall the first time it is seen; returns whether it was new.
    pub fn note_unimplemented(&self, nr: u64) -> bool {
        self.unimplemented.lock().insert(nr)
    }
}
