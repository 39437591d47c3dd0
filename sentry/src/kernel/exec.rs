//! Replacing a process image (`execve`, and the first program of the sandbox).

use super::process::{Creds, FsContext};
use super::task::{ExitStatus, Task};
use fs::{FileType, OpenFile, Vfs, WalkCtx};
use loader::{ExecFile, ExecParams, LoadError, Opener};
use mm::{AddressSpace, Layout, MappedFile};
use nix::errno::Errno;
use platform::HostMapper;
use std::sync::{Arc, OnceLock};

/// A guest file's bytes for the loader and for file mappings, and where the stores of
/// its `MAP_SHARED` mappings go back.
pub struct FileData(pub Arc<OpenFile>);

impl mm::FileSource for FileData {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.0.ops.read_for_map(buf, off)
    }
    /// Open for writing, and not a memfd sealed against writes (whose shared mappings
    /// cannot become writable).
    fn writable(&self) -> bool {
        self.0.writable() && !fs::memfd::Memfd::of(&self.0).is_some_and(|m| m.write_sealed())
    }
    fn write_at(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        self.0.ops.store(buf, off)
    }
    fn size(&self) -> Result<u64, Errno> {
        Ok(self.0.ops.stat()?.size as u64)
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Opens executables inside the guest's root for the loader.
pub struct GuestOpener<'a> {
    /// The VFS.
    pub vfs: &'a Vfs,
    /// Root and working directory of the exec'ing process.
    pub ctx: WalkCtx<'a>,
    /// Its identities.
    pub creds: Creds,
}

impl Opener for GuestOpener<'_> {
    fn open_exec(&self, path: &[u8]) -> Result<ExecFile, LoadError> {
        let dentry = self
            .vfs
            .walk(&self.ctx, path, true)
            .and_then(|l| l.existing())
            .map_err(LoadError::Open)?;
        let st = dentry.inode().stat().map_err(LoadError::Open)?;
        if st.file_type() != FileType::Regular {
            return Err(LoadError::Open(Errno::EACCES));
        }
        if !self.creds.permits(st.mode, st.uid, st.gid, 1, false, false) {
            return Err(LoadError::Open(Errno::EACCES));
        }
        let ops = dentry
            .inode()
            .open(libc::O_RDONLY)
            .map_err(LoadError::Open)?;
        let file = OpenFile::new(ops, libc::O_RDONLY, Some(dentry.clone()));
        // As Linux's: opened, then its headers read.
        fs::notify::file_event(&file, libc::IN_OPEN);
        fs::notify::file_event(&file, libc::IN_ACCESS);
        let mapped = MappedFile {
            path: String::from_utf8_lossy(dentry.path()).into_owned(),
            dev: st.dev,
            ino: st.ino,
            source: Arc::new(FileData(file)),
            version: Some(file_version(&st)),
        };
        Ok(ExecFile {
            file: Arc::new(mapped),
            size: st.size as u64,
        })
    }
}

/// The page-cache identity of a file's current contents.
pub fn file_version(st: &fs::Stat) -> mm::FileVersion {
    mm::FileVersion {
        dev: st.dev,
        ino: st.ino,
        mtime_ns: st.mtime.sec as i128 * 1_000_000_000 + st.mtime.nsec as i128,
        size: st.size as u64,
    }
}

/// The host's auxiliary vector, for the CPU capability entries the guest gets.
fn host_auxv(key: u64) -> u64 {
    static AUXV: OnceLock<Vec<(u64, u64)>> = OnceLock::new();
    let auxv = AUXV.get_or_init(|| {
        let raw = std::fs::read("/proc/self/auxv").unwrap_or_default();
        raw.chunks_exact(16)
            .map(|c| {
                (
                    u64::from_ne_bytes(c[..8].try_into().unwrap()),
                    u64::from_ne_bytes(c[8..].try_into().unwrap()),
                )
            })
            .collect()
    });
    auxv.iter().find(|(k, _)| *k == key).map_or(0, |(_, v)| *v)
}

/// `personality(2)` flag: no address-space layout randomisation.
const ADDR_NO_RANDOMIZE: u32 = 0x0040000;
/// `personality(2)` flag: readable mappings are executable too (cleared by exec).
const READ_IMPLIES_EXEC: u32 = 0x0400000;

/// Random bits for address-space layout randomisation.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if platform::host::getrandom(&mut b).is_err() {
        return 0;
    }
    u64::from_ne_bytes(b)
}

/// Resolves and validates `path` for `task` without changing anything.
pub fn prepare(
    task: &Task,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<loader::Prepared, LoadError> {
    let fsctx = task.fs.lock();
    prepare_in(
        &task.kernel.vfs,
        &fsctx,
        *task.process.creds.lock(),
        path,
        argv,
        envp,
    )
}

/// Resolves and validates `path` in the file-system context `fsctx`.
pub fn prepare_in(
    vfs: &Vfs,
    fsctx: &FsContext,
    creds: Creds,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<loader::Prepared, LoadError> {
    let opener = GuestOpener {
        vfs,
        ctx: WalkCtx {
            root: &fsctx.root,
            start: &fsctx.cwd,
        },
        creds,
    };
    loader::prepare(&opener, path, argv, envp)
}

/// Replaces `task`'s image with `prepared`. Past the point where the old image is
/// unmapped a failure kills the process (as on Linux).
pub fn commit(task: &mut Task, prepared: loader::Prepared) -> Result<(), LoadError> {
    de_thread(task);
    let execfn = prepared.execfn().to_vec();
    // A 64-bit ELF drops READ_IMPLIES_EXEC (Linux's `set_personality_64bit`);
    // ADDR_NO_RANDOMIZE (`setarch -R`, debuggers) lays the image out without ASLR.
    let persona = task.handle.personality() & !READ_IMPLIES_EXEC;
    task.handle.set_personality(persona);
    let randomize = persona & ADDR_NO_RANDOMIZE == 0;
    let layout = if randomize {
        Layout::randomized(platform::GUEST_TOP, random_u64)
    } else {
        Layout::fixed(platform::GUEST_TOP)
    };
    let space = AddressSpace::new(task.kernel.mem.clone(), layout);
    let creds = *task.process.creds.lock();
    let mut random = [0u8; 16];
    let _ = platform::host::getrandom(&mut random);
    let r = if randomize { random_u64() } else { 0 };
    let params = ExecParams {
        ids: [creds.uid, creds.euid, creds.gid, creds.egid],
        hwcap: host_auxv(libc::AT_HWCAP),
        hwcap2: host_auxv(libc::AT_HWCAP2),
        minsigstksz: host_auxv(51).max(2048),
        random,
        stack_gap: r % 8192,
        brk_gap: ((r >> 16) % 8192) << 12,
    };
    // The point of no return: the old image goes away in the stub. (Another process may
    // still share the old address space through CLONE_VM; it keeps it.)
    let top = platform::GUEST_TOP;
    let loaded = task
        .stub
        .unmap(mm::MIN_ADDR, top - mm::MIN_ADDR)
        .map_err(|e| LoadError::Mm(mm::MmError::Host("munmap in stub", e)))
        .and_then(|()| prepared.load(&space, &mut task.stub, &params));
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            log::debug!("exec failed after the point of no return: {e}");
            task.exit = Some(ExitStatus::killed(libc::SIGSEGV));
            return Err(e);
        }
    };
    let space = Arc::new(space);
    task.set_stub_gen(space.generation());
    *task.process.mm.lock() = space;
    let mut regs = task
        .stub
        .initial_regs()
        .map_err(|_| LoadError::Io(Errno::EIO))?;
    regs.rip = loaded.entry;
    regs.rsp = loaded.sp;
    task.regs = regs;
    if let Err(e) = task.stub.set_fpregs(platform::initial_fpstate()) {
        log::warn!("resetting FPU state: {e}");
    }
    // A new image is dumpable unless its effective and real ids differ (Linux's
    // begin_new_exec, with the host's suid_dumpable of 0).
    task.process
        .set_dumpable(creds.uid == creds.euid && creds.gid == creds.egid);
    task.files.lock().close_on_exec();
    super::posix_timer::delete_all(&task.kernel, &task.process);
    for act in task.process.sigactions.lock().iter_mut() {
        if act.handler > 1 {
            *act = crate::abi::KSigaction::default();
        }
    }
    let name = execfn.rsplit(|&c| c == b'/').next().unwrap_or(&[]);
    task.process.set_comm(&task.handle, name);
    *task.process.exe.lock() = loaded
        .exe
        .source
        .as_any()
        .and_then(|s| s.downcast_ref::<FileData>())
        .and_then(|f| f.0.dentry.clone());
    let nul_terminated = |strings: &[Vec<u8>]| -> Vec<u8> {
        strings
            .iter()
            .flat_map(|a| a.iter().copied().chain([0]))
            .collect()
    };
    *task.process.cmdline.lock() = nul_terminated(&loaded.argv);
    *task.process.environ.lock() = nul_terminated(&loaded.envp);
    task.process.release_vfork();
    if let Some(e) = task.kernel.tree.lock().get_mut(task.process.pid) {
        e.execed = true;
    }
    if let Some(dump) = &task.kernel.opts.dump {
        dump.write(&task.process, "exec");
    }
    Ok(())
}

/// Ends every other thread of the exec'ing process (Linux's `de_thread`) and makes the
/// exec'ing task the thread group leader.
fn de_thread(task: &mut Task) {
    use std::sync::atomic::Ordering;
    let process = task.process.clone();
    if process.tasks.lock().len() <= 1 {
        return;
    }
    process.dethread.store(task.tid, Ordering::SeqCst);
    for t in process.tasks.lock().iter().filter(|t| t.tid != task.tid) {
        t.interrupt();
    }
    while process.tasks.lock().len() > 1 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    process.dethread.store(0, Ordering::SeqCst);
    if task.tid != process.pid {
        // The exec'ing thread takes over the leader's tid.
        let handle = super::process::TaskHandle::new(process.pid, task.sigmask());
        handle.keep_seccomp(&task.handle);
        handle.keep_attrs(&task.handle);
        *handle.kicker.lock() = Some(task.stub.kicker());
        *process.tasks.lock() = vec![handle.clone()];
        super::current::set(&process, &handle);
        task.handle = handle;
        task.tid = process.pid;
    }
}
