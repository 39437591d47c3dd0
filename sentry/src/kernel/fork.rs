//! Creating processes: `clone`/`fork`/`vfork`, and the thread every new task runs on.
//!
//! A new process gets a new stub, created by the new task's own sentry thread (which is
//! thereby its tracer). Its memory is a copy of the parent's (`mm::AddressSpace::fork`),
//! or, with `CLONE_VM`, the very same address space, whose memory-file pages the new stub
//! maps too, so that they are truly shared.

use super::Kernel;
use super::exec;
use super::process::{FsContext, Process, TaskHandle};
use super::task::{ExitStatus, Task, exit_process, task_main};
use crate::errno::{SysErr, SysResult};
use fs::FdTable;
use mm::AddressSpace;
use nix::errno::Errno;
use parking_lot::Mutex;
use platform::{FpState, Regs};
use std::sync::Arc;

/// How a new task gets its memory image.
pub enum Image {
    /// Load this program (the first process of the sandbox).
    Program(Box<loader::Prepared>),
    /// Map the process's existing address space, and start with these FPU registers.
    Inherit(Box<FpState>),
    /// A new thread: take over host thread `host_tid`, already created in stub process
    /// `tgid` (it shares the address space and inherited its creator's FPU state).
    Thread {
        /// Host pid of the stub process.
        tgid: i32,
        /// Host tid of the parked stub thread.
        host_tid: i32,
    },
}

/// Everything a new task needs before its stub exists.
pub struct NewTask {
    /// The kernel.
    pub kernel: Arc<Kernel>,
    /// Its process (already in the tree).
    pub process: Arc<Process>,
    /// Its handle (already in the process's task list).
    pub handle: Arc<TaskHandle>,
    /// Initial registers (ignored for [`Image::Program`]).
    pub regs: Regs,
    /// Open files.
    pub files: Arc<Mutex<FdTable>>,
    /// File-system context.
    pub fs: Arc<Mutex<FsContext>>,
    /// `CLONE_CHILD_CLEARTID` address.
    pub clear_child_tid: u64,
    /// `CLONE_CHILD_SETTID` address.
    pub set_child_tid: Option<u64>,
    /// The alternate signal stack.
    pub altstack: Option<crate::abi::StackT>,
    /// The memory image.
    pub image: Image,
}

/// The child's alternate signal stack: the parent's, unless the child shares the
/// parent's memory and runs alongside it (`CLONE_VM` without `CLONE_VFORK`), where it
/// would be the same stack.
fn inherited_altstack(parent: &Task, flags: u64) -> Option<crate::abi::StackT> {
    let vm = libc::CLONE_VM as u64;
    let vfork = libc::CLONE_VFORK as u64;
    (flags & (vm | vfork) != vm)
        .then_some(parent.altstack)
        .flatten()
}

/// Starts `new` on a sentry thread of its own; the thread returns the task's exit status.
pub fn start(new: NewTask) -> std::io::Result<std::thread::JoinHandle<ExitStatus>> {
    let name = format!("task-{}", new.handle.tid);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || run_new(new))
}

fn run_new(new: NewTask) -> ExitStatus {
    super::current::set(&new.process, &new.handle);
    let stub = match &new.image {
        Image::Thread { tgid, host_tid } => platform::StubThread::attach(*tgid, *host_tid),
        _ => platform::spawn(new.kernel.mem.fd()),
    };
    let stub = match stub {
        Ok(s) => s,
        Err(e) => {
            let exiting = new.process.group_exit_status();
            if exiting.is_some() {
                log::debug!("task {}: its process exited as it started", new.handle.tid);
            } else {
                log::warn!("task {}: cannot start its stub: {e}", new.handle.tid);
            }
            new.kernel.release_task();
            let status = ExitStatus::killed(libc::SIGKILL);
            let last = {
                let mut tasks = new.process.tasks.lock();
                tasks.retain(|t| t.tid != new.handle.tid);
                tasks.is_empty()
            };
            // A thread whose process died while it started (an exit right after
            // `pthread_create`) may be the last to leave: the process ends with it.
            if last {
                exit_process(&new.kernel, &new.process, exiting.unwrap_or(status), (0, 0));
            }
            return status;
        }
    };
    new.process
        .stub_pid
        .store(stub.tgid(), std::sync::atomic::Ordering::Relaxed);
    *new.handle.kicker.lock() = Some(stub.kicker());
    if !matches!(new.image, Image::Thread { .. }) {
        // A new process inherits its creator's RLIMIT_CPU, on a CPU clock starting now.
        super::itimer::check_rlimit_cpu(&new.kernel, &new.process);
    }
    let mut task = Task {
        kernel: new.kernel,
        process: new.process,
        tid: new.handle.tid,
        handle: new.handle,
        regs: new.regs,
        stub,
        files: new.files,
        fs: new.fs,
        clear_child_tid: new.clear_child_tid,
        exit: None,
        altstack: new.altstack,
        iobuf: Vec::new(),
        recheck_signals: true,
        restart: None,
        saved_sigmask: None,
        restart_deadline: None,
        thread_exit: false,
        robust_list: 0,
        trap: Default::default(),
    };
    match new.image {
        Image::Program(prepared) => {
            let name = String::from_utf8_lossy(prepared.execfn()).into_owned();
            if let Err(e) = exec::commit(&mut task, *prepared) {
                // `sentry run` could not start the program at all: as for the errors found
                // before the point of no return, one line and "cannot execute".
                eprintln!("sentry: {name}: {e}");
                task.exit = Some(ExitStatus::Code(crate::sandbox::EXIT_CANNOT_EXECUTE));
            }
        }
        Image::Inherit(fp) => {
            let fp = *fp;
            let mm = task.mm();
            match mm.install(&mut task.stub) {
                Ok(g) => task.set_stub_gen(g),
                Err(e) => {
                    log::warn!("task {}: mapping the address space: {e}", task.tid);
                    task.exit = Some(ExitStatus::killed(libc::SIGKILL));
                }
            }
            if let Err(e) = task.stub.set_fpregs(fp) {
                log::warn!("task {}: setting FPU state: {e}", task.tid);
            }
            if let Some(addr) = new.set_child_tid {
                let _ = mm.write_obj(addr, &task.tid);
            }
        }
        Image::Thread { .. } => {
            if let Some(addr) = new.set_child_tid {
                let _ = task.mm().write_obj(addr, &task.tid);
            }
        }
    }
    task_main(task)
}

/// `clone` flags this sentry implements for new processes.
const SUPPORTED: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_PIDFD
    | libc::CLONE_PTRACE
    | libc::CLONE_VFORK
    | libc::CLONE_PARENT
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM
    | libc::CLONE_SETTLS
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_CHILD_CLEARTID
    | libc::CLONE_CHILD_SETTID
    | libc::CLONE_DETACHED
    | libc::CLONE_UNTRACED
    | libc::CLONE_IO) as u64;

/// Namespace flags: creating namespaces needs privileges the guest does not have.
const NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// Arguments of `clone`.
pub struct CloneArgs {
    /// `CLONE_*` flags (without the exit signal).
    pub flags: u64,
    /// Signal sent to the parent when the child exits.
    pub exit_signal: i32,
    /// Child stack pointer (0: same as the parent's).
    pub stack: u64,
    /// `CLONE_PARENT_SETTID` address.
    pub parent_tid: u64,
    /// `CLONE_CHILD_SETTID` / `CLONE_CHILD_CLEARTID` address.
    pub child_tid: u64,
    /// `CLONE_SETTLS` value.
    pub tls: u64,
    /// `CLONE_PIDFD` address: where the parent's pidfd for the child goes.
    pub pidfd: u64,
}

/// Creates a new process as a copy of `parent`'s (`clone` without `CLONE_THREAD`).
pub fn clone_process(parent: &mut Task, args: CloneArgs) -> SysResult {
    let flags = args.flags;
    if flags & NAMESPACES != 0 {
        return Err(Errno::EPERM.into());
    }
    let bad_pidfd = flags & libc::CLONE_PIDFD as u64 != 0
        && (flags & libc::CLONE_DETACHED as u64 != 0
            || (flags & libc::CLONE_PARENT_SETTID as u64 != 0 && args.pidfd == args.parent_tid));
    if flags & !SUPPORTED != 0
        || (flags & libc::CLONE_SIGHAND as u64 != 0 && flags & libc::CLONE_VM as u64 == 0)
        || (flags & libc::CLONE_THREAD as u64 != 0 && flags & libc::CLONE_SIGHAND as u64 == 0)
        || !(0..=64).contains(&args.exit_signal)
        || bad_pidfd
    {
        return Err(Errno::EINVAL.into());
    }
    if flags & libc::CLONE_THREAD as u64 != 0 {
        return clone_thread(parent, args);
    }
    let kernel = parent.kernel.clone();
    let slot = kernel.reserve_task()?;
    let mm = if flags & libc::CLONE_VM as u64 != 0 {
        parent.mm()
    } else {
        Arc::new(parent.mm().fork()?)
    };
    let fp = parent.stub.fpregs()?;
    let files = if flags & libc::CLONE_FILES as u64 != 0 {
        parent.files.clone()
    } else {
        Arc::new(Mutex::new(parent.files.lock().clone()))
    };
    let fs = if flags & libc::CLONE_FS as u64 != 0 {
        parent.fs.clone()
    } else {
        Arc::new(Mutex::new(parent.fs.lock().clone()))
    };
    let pid = kernel.alloc_pid();
    let src = &parent.process;
    let child = Process::new(
        pid,
        mm,
        files.clone(),
        fs.clone(),
        *src.creds.lock(),
        *src.rlimits.lock(),
        *src.sigactions.lock(),
    );
    *child.exe.lock() = src.exe.lock().clone();
    *child.cmdline.lock() = src.cmdline.lock().clone();
    *child.environ.lock() = src.environ.lock().clone();
    *child.ctty.lock() = src.ctty.lock().clone();
    child.set_dumpable(src.dumpable());
    if flags & libc::CLONE_SYSVSEM as u64 != 0 {
        child.share_sem_undo_list(src.make_sem_undo_list());
    }
    let handle = TaskHandle::child_of(pid, &parent.handle);
    *child.comm.lock() = handle.comm.lock().clone();
    child.tasks.lock().push(handle.clone());
    {
        let mut tree = kernel.tree.lock();
        let me = tree.get(src.pid).ok_or(Errno::ESRCH)?;
        let (pgid, sid, my_ppid) = (me.pgid, me.sid, me.ppid);
        let ppid = if flags & libc::CLONE_PARENT as u64 != 0 {
            my_ppid
        } else {
            src.pid
        };
        tree.insert(child.clone(), ppid, pgid, sid, args.exit_signal);
    }
    let mut regs = parent.regs;
    regs.rax = 0;
    if args.stack != 0 {
        regs.rsp = args.stack;
    }
    if flags & libc::CLONE_SETTLS as u64 != 0 {
        regs.fs_base = args.tls;
    }
    if flags & libc::CLONE_PARENT_SETTID as u64 != 0 {
        parent.write_obj(args.parent_tid, &pid)?;
    }
    let pidfd = match give_pidfd(parent, &args, &child, None) {
        Ok(fd) => fd,
        Err(e) => {
            kernel.tree.lock().remove(pid);
            return Err(e);
        }
    };
    let new = NewTask {
        kernel: kernel.clone(),
        process: child.clone(),
        handle,
        regs,
        files,
        fs,
        clear_child_tid: if flags & libc::CLONE_CHILD_CLEARTID as u64 != 0 {
            args.child_tid
        } else {
            0
        },
        set_child_tid: (flags & libc::CLONE_CHILD_SETTID as u64 != 0).then_some(args.child_tid),
        altstack: inherited_altstack(parent, flags),
        image: Image::Inherit(Box::new(fp)),
    };
    if let Err(e) = start(new) {
        log::warn!("cannot start a thread for pid {pid}: {e}");
        kernel.tree.lock().remove(pid);
        take_back_pidfd(parent, pidfd);
        return Err(Errno::EAGAIN.into());
    }
    slot.commit();
    if flags & libc::CLONE_VFORK as u64 != 0 {
        wait_vfork(parent, &child);
    }
    Ok(pid as u64)
}

/// With `CLONE_PIDFD`, installs a close-on-exec pidfd for `process` (or its new thread
/// `thread`) in `parent`'s fd table, after the child's copy of the table was made, and
/// stores its number where `args` say; the fd, or `None` without `CLONE_PIDFD`.
fn give_pidfd(
    parent: &Task,
    args: &CloneArgs,
    process: &Arc<Process>,
    thread: Option<i32>,
) -> Result<Option<i32>, SysErr> {
    if args.flags & libc::CLONE_PIDFD as u64 == 0 {
        return Ok(None);
    }
    let limit = parent.process.rlimit(libc::RLIMIT_NOFILE as usize);
    let file = super::pidfd::PidFd::open(process.clone(), thread, false);
    let fd = parent.files.lock().insert(file, true, 0, limit)?;
    if let Err(e) = parent.write_obj(args.pidfd, &fd) {
        take_back_pidfd(parent, Some(fd));
        return Err(e);
    }
    Ok(Some(fd))
}

/// Closes the pidfd [`give_pidfd`] installed for a child that could not start.
fn take_back_pidfd(parent: &Task, fd: Option<i32>) {
    if let Some(fd) = fd {
        drop(parent.files.lock().remove(fd));
    }
}

/// Creates a new thread of `parent`'s process (`clone` with `CLONE_THREAD`).
fn clone_thread(parent: &mut Task, args: CloneArgs) -> SysResult {
    let flags = args.flags;
    if flags & libc::CLONE_VM as u64 == 0 {
        return Err(Errno::EINVAL.into());
    }
    let process = parent.process.clone();
    if process.group_exit_status().is_some() {
        return Err(Errno::EAGAIN.into());
    }
    if flags & libc::CLONE_SYSVSEM as u64 != 0 {
        process.make_sem_undo_list();
    }
    let kernel = parent.kernel.clone();
    let slot = kernel.reserve_task()?;
    let tid = kernel.alloc_pid();
    let pidfd = give_pidfd(parent, &args, &process, Some(tid))?;
    let host_tid = parent.stub.spawn_thread().map_err(|e| {
        log::warn!("cannot create a stub thread: {e}");
        take_back_pidfd(parent, pidfd);
        Errno::EAGAIN
    })?;
    let handle = {
        // Inherited under the thread list's lock, so that a TSYNC filter reaches the new
        // thread either through its creator or directly.
        let mut tasks = process.tasks.lock();
        let handle = TaskHandle::child_of(tid, &parent.handle);
        tasks.push(handle.clone());
        handle
    };
    let mut regs = parent.regs;
    regs.rax = 0;
    if args.stack != 0 {
        regs.rsp = args.stack;
    }
    if flags & libc::CLONE_SETTLS as u64 != 0 {
        regs.fs_base = args.tls;
    }
    if flags & libc::CLONE_PARENT_SETTID as u64 != 0 {
        parent.write_obj(args.parent_tid, &tid)?;
    }
    let files = if flags & libc::CLONE_FILES as u64 != 0 {
        parent.files.clone()
    } else {
        Arc::new(Mutex::new(parent.files.lock().clone()))
    };
    let fs = if flags & libc::CLONE_FS as u64 != 0 {
        parent.fs.clone()
    } else {
        Arc::new(Mutex::new(parent.fs.lock().clone()))
    };
    let new = NewTask {
        kernel,
        process: process.clone(),
        handle,
        regs,
        files,
        fs,
        clear_child_tid: if flags & libc::CLONE_CHILD_CLEARTID as u64 != 0 {
            args.child_tid
        } else {
            0
        },
        set_child_tid: (flags & libc::CLONE_CHILD_SETTID as u64 != 0).then_some(args.child_tid),
        altstack: inherited_altstack(parent, flags),
        image: Image::Thread {
            tgid: parent.stub.tgid(),
            host_tid,
        },
    };
    if let Err(e) = start(new) {
        log::warn!("cannot start a thread for tid {tid}: {e}");
        process.tasks.lock().retain(|t| t.tid != tid);
        take_back_pidfd(parent, pidfd);
        return Err(Errno::EAGAIN.into());
    }
    slot.commit();
    Ok(tid as u64)
}

/// Blocks a vfork parent until the child has exec'd or exited. Like Linux's, this wait
/// is not interrupted by signals; the parent acts on them once the child lets it go.
fn wait_vfork(parent: &Task, child: &Process) {
    use std::sync::atomic::Ordering;
    while !child.vfork_done.load(Ordering::SeqCst) {
        let _reg = child.vfork_queue.register(parent.waiter());
        if child.vfork_done.load(Ordering::SeqCst) {
            break;
        }
        if parent.waiter().wait(None) == Err(Errno::EINTR) {
            // Keep the interruption for after the wait, but do not spin on it.
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// Starts the sandbox's first process running `prepared`; returns its thread.
pub fn start_init(
    kernel: &Arc<Kernel>,
    fsctx: FsContext,
    files: FdTable,
    prepared: loader::Prepared,
) -> Result<std::thread::JoinHandle<ExitStatus>, SysErr> {
    let pid = kernel.alloc_pid();
    let empty = AddressSpace::new(kernel.mem.clone(), mm::Layout::fixed(platform::GUEST_TOP));
    let creds = super::process::Creds::of_host();
    let files = Arc::new(Mutex::new(files));
    let fs = Arc::new(Mutex::new(fsctx));
    let sigactions = [crate::abi::KSigaction::default(); 64];
    let mut rlimits = super::process::host_rlimits();
    if let Some(n) = kernel.opts.limits.fds {
        rlimits[libc::RLIMIT_NOFILE as usize] = crate::abi::Rlimit { cur: n, max: n };
    }
    let process = Process::new(
        pid,
        Arc::new(empty),
        files.clone(),
        fs.clone(),
        creds,
        rlimits,
        sigactions,
    );
    let handle = TaskHandle::new(pid, 0);
    *handle.sched.lock() = super::sched::SchedAttrs::of_host();
    process.tasks.lock().push(handle.clone());
    kernel
        .tree
        .lock()
        .insert(process.clone(), 0, pid, pid, libc::SIGCHLD);
    let new = NewTask {
        kernel: kernel.clone(),
        process,
        handle,
        regs: platform::zeroed_regs(),
        files,
        fs,
        clear_child_tid: 0,
        set_child_tid: None,
        altstack: None,
        image: Image::Program(Box::new(prepared)),
    };
    let slot = kernel.reserve_task()?;
    let handle = start(new).map_err(|_| SysErr::Errno(Errno::EAGAIN))?;
    slot.commit();
    Ok(handle)
}
