//! A process (thread group): what its threads share, and the view of a task that other
//! threads use to signal it.

use super::affinity::CpuMask;
use super::mempolicy::MemPolicy;
use super::sched::SchedAttrs;
use super::seccomp::TaskSeccomp;
use super::signal::{self, Pending, SigSet};
use crate::abi::{KSigaction, Rlimit};
use fs::{Dentry, FdTable, WaitQueue, Waiter};
use mm::AddressSpace;
use parking_lot::Mutex;
use platform::Kicker;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicU64, Ordering};

/// Number of resource limits (`RLIM_NLIMITS`).
pub const RLIM_NLIMITS: usize = 16;

/// User and group identities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds {
    /// Real user id.
    pub uid: u32,
    /// Effective user id.
    pub euid: u32,
    /// Saved user id.
    pub suid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective group id.
    pub egid: u32,
    /// Saved group id.
    pub sgid: u32,
}

impl Creds {
    /// Whether these credentials hold every capability (`CAP_SYS_ADMIN` among them): the
    /// sandbox gives all of them to an effective uid of 0 and none to anyone else, as
    /// `capget` reports.
    pub fn has_all_caps(&self) -> bool {
        self.euid == 0
    }

    /// The sentry's own identities: the guest runs as the user who started it.
    pub fn of_host() -> Creds {
        let (uid, gid) = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        let (euid, egid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        Creds {
            uid,
            euid,
            suid: euid,
            gid,
            egid,
            sgid: egid,
        }
    }

    /// Whether permission bits `mode` grant `want` (a mask of 4/2/1 = r/w/x) to these
    /// credentials on an object owned by `owner:group`, as `access(2)` checks with the
    /// real ids (`real`) or the effective ones.
    pub fn permits(
        &self,
        mode: u32,
        owner: u32,
        group: u32,
        want: u32,
        real: bool,
        is_dir: bool,
    ) -> bool {
        let (uid, gid) = if real {
            (self.uid, self.gid)
        } else {
            (self.euid, self.egid)
        };
        if uid == 0 {
            // Root may do anything but execute a file with no execute bit at all.
            return want & 1 == 0 || is_dir || mode & 0o111 != 0;
        }
        let bits = if uid == owner {
            (mode >> 6) & 7
        } else if gid == group {
            (mode >> 3) & 7
        } else {
            mode & 7
        };
        bits & want == want
    }
}

impl Creds {
    /// Whether a process with these credentials may inspect or take from (ptrace-access)
    /// a process with `target`'s, as Linux's `__ptrace_may_access` decides with real
    /// credentials: the same user and group in every id, or root.
    pub fn may_access(&self, target: &Creds) -> bool {
        let same_user = [target.uid, target.euid, target.suid]
            .iter()
            .all(|&id| id == self.uid);
        let same_group = [target.gid, target.egid, target.sgid]
            .iter()
            .all(|&id| id == self.gid);
        (same_user && same_group) || self.euid == 0
    }
}

/// The file-system context: root, working directory and umask (shared with CLONE_FS).
#[derive(Clone)]
pub struct FsContext {
    /// Root directory (`chroot`).
    pub root: Arc<Dentry>,
    /// Working directory.
    pub cwd: Arc<Dentry>,
    /// File creation mask.
    pub umask: u32,
}

/// What other threads may see and do to a task: interrupt it, read its signal mask, read
/// and change its scheduling attributes; and the per-thread state a new task inherits.
pub struct TaskHandle {
    /// Thread id.
    pub tid: i32,
    /// Its waiter (woken by signals).
    pub waiter: Arc<Waiter>,
    /// Blocked signals.
    pub sigmask: AtomicU64,
    /// Signals sent to this thread alone (`tgkill`, faults).
    pub pending: Mutex<Pending>,
    /// Kicks the task's stub out of guest code; set once the stub exists.
    pub kicker: Mutex<Option<Kicker>>,
    /// Scheduling policy, priorities and I/O priority.
    pub sched: Mutex<SchedAttrs>,
    /// The CPUs the thread may run on (`sched_setaffinity`).
    pub affinity: Mutex<CpuMask>,
    /// The execution domain and its flags (`personality(2)`).
    pub personality: AtomicU32,
    /// The thread's NUMA memory policy (`None`: the default one).
    pub mempolicy: Mutex<Option<MemPolicy>>,
    /// `PR_SET_NO_NEW_PRIVS`: once set, never cleared; inherited and kept across exec.
    pub no_new_privs: AtomicBool,
    /// Seccomp mode and filters.
    pub seccomp: TaskSeccomp,
    /// The thread's name (`comm`, at most [`COMM_LEN`] bytes).
    pub comm: Mutex<Vec<u8>>,
}

/// The longest thread name (Linux's `TASK_COMM_LEN` less its NUL).
pub const COMM_LEN: usize = 15;

/// The thread name `name` gives: up to its first NUL, cut to [`COMM_LEN`] bytes.
pub fn comm_from(name: &[u8]) -> Vec<u8> {
    let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    name[..end.min(COMM_LEN)].to_vec()
}

impl TaskHandle {
    /// A handle for task `tid`.
    pub fn new(tid: i32, sigmask: SigSet) -> Arc<TaskHandle> {
        Arc::new(TaskHandle {
            tid,
            waiter: Waiter::new(),
            sigmask: AtomicU64::new(sigmask),
            pending: Mutex::new(Pending::default()),
            kicker: Mutex::new(None),
            sched: Mutex::new(SchedAttrs::default()),
            affinity: Mutex::new(CpuMask::usable()),
            personality: AtomicU32::new(0),
            mempolicy: Mutex::new(None),
            no_new_privs: AtomicBool::new(false),
            seccomp: TaskSeccomp::default(),
            comm: Mutex::new(Vec::new()),
        })
    }

    /// A handle for task `tid`, created by `parent` (fork, clone): the signal mask,
    /// scheduling attributes, CPU affinity, personality, memory policy, `no_new_privs`,
    /// seccomp filters and name are inherited.
    pub fn child_of(tid: i32, parent: &TaskHandle) -> Arc<TaskHandle> {
        let child = TaskHandle::new(tid, parent.sigmask());
        *child.sched.lock() = parent.sched.lock().for_child();
        *child.affinity.lock() = parent.affinity.lock().clone();
        child.set_personality(parent.personality());
        *child.mempolicy.lock() = *parent.mempolicy.lock();
        child.keep_seccomp(parent);
        *child.comm.lock() = parent.comm.lock().clone();
        child
    }

    /// Takes over `from`'s scheduling attributes, CPU affinity, personality and memory
    /// policy: the handle an exec'ing thread gets with the leader's tid is still that
    /// thread.
    pub fn keep_attrs(&self, from: &TaskHandle) {
        *self.sched.lock() = *from.sched.lock();
        *self.affinity.lock() = from.affinity.lock().clone();
        self.set_personality(from.personality());
        *self.mempolicy.lock() = *from.mempolicy.lock();
    }

    /// The thread's personality.
    pub fn personality(&self) -> u32 {
        self.personality.load(Ordering::Relaxed)
    }

    /// Sets the thread's personality.
    pub fn set_personality(&self, persona: u32) {
        self.personality.store(persona, Ordering::Relaxed);
    }

    /// Takes over `from`'s `no_new_privs` and seccomp filters (a new task, or the handle
    /// an exec'ing thread gets with the leader's tid).
    pub fn keep_seccomp(&self, from: &TaskHandle) {
        self.no_new_privs
            .store(from.no_new_privs(), Ordering::SeqCst);
        self.seccomp.inherit(&from.seccomp);
    }

    /// Whether `PR_SET_NO_NEW_PRIVS` is set.
    pub fn no_new_privs(&self) -> bool {
        self.no_new_privs.load(Ordering::SeqCst)
    }

    /// Blocked signals.
    pub fn sigmask(&self) -> SigSet {
        self.sigmask.load(Ordering::SeqCst)
    }

    /// Interrupts the task if it does not block `sig`.
    pub fn interrupt_if_unblocked(&self, sig: i32) {
        if self.sigmask() & signal::bit(sig) == 0 || sig == libc::SIGKILL {
            self.interrupt();
        }
    }

    /// Interrupts whatever the task is doing: a blocking call returns EINTR, guest code
    /// stops at the next instruction boundary.
    pub fn interrupt(&self) {
        self.waiter.interrupt();
        if let Some(k) = *self.kicker.lock() {
            k.kick();
        }
    }
}

/// A thread group.
pub struct Process {
    /// Process id (the thread group leader's tid).
    pub pid: i32,
    /// The current image's address space.
    pub mm: Mutex<Arc<AddressSpace>>,
    /// Identities.
    pub creds: Mutex<Creds>,
    /// Resource limits.
    pub rlimits: Mutex<[Rlimit; RLIM_NLIMITS]>,
    /// Signal dispositions, by signal number - 1.
    pub sigactions: Mutex<[KSigaction; 64]>,
    /// Signals pending for the process as a whole.
    pub pending: Mutex<Pending>,
    /// Its live tasks.
    pub tasks: Mutex<Vec<Arc<TaskHandle>>>,
    /// Woken when a child changes state (for wait4/waitid).
    pub child_events: WaitQueue,
    /// Set once a `CLONE_VFORK` child has exec'd or exited (its parent waits for it).
    pub vfork_done: AtomicBool,
    /// Woken when `vfork_done` is set.
    pub vfork_queue: WaitQueue,
    /// The thread group leader's open files (for `/proc/[pid]/fd`).
    pub files: Mutex<Arc<Mutex<FdTable>>>,
    /// The thread group leader's root, cwd and umask.
    pub fs: Mutex<Arc<Mutex<FsContext>>>,
    /// Arguments of the running image, each NUL-terminated (`/proc/[pid]/cmdline`).
    pub cmdline: Mutex<Vec<u8>>,
    /// Environment of the running image, each `NAME=value` NUL-terminated
    /// (`/proc/[pid]/environ`).
    pub environ: Mutex<Vec<u8>>,
    /// The running executable (`/proc/[pid]/exe`), kept reachable after it is removed.
    pub exe: Mutex<Option<Arc<fs::Dentry>>>,
    /// The thread group leader's name (`/proc/[pid]/comm`), kept after the leader exits.
    pub comm: Mutex<Vec<u8>>,
    /// Host pid of the stub process running the image, for the VMA dump.
    pub stub_pid: AtomicI32,
    /// Generation of the address space the stub's host mappings match (all threads share
    /// one stub process, hence one host view). Held while a thread changes the mappings.
    pub stub_gen: Mutex<u64>,
    /// Set once the whole process is exiting (`exit_group`, a fatal signal, or `execve`
    /// from another thread), with the status it exits with.
    pub group_exit: Mutex<Option<super::task::ExitStatus>>,
    /// Fast check for `group_exit`.
    pub exiting: AtomicBool,
    /// Tid of a thread running `execve`: every other thread must end.
    pub dethread: AtomicI32,
    /// Woken whenever a signal is sent to the process or one of its threads (signalfd).
    pub signal_events: Arc<WaitQueue>,
    /// `ITIMER_REAL` (also `alarm`).
    pub itimer_real: Mutex<Option<Arc<super::timer::Timer>>>,
    /// `ITIMER_VIRTUAL`, `ITIMER_PROF` and the `RLIMIT_CPU` watch.
    pub cpu_itimers: super::itimer::CpuItimers,
    /// POSIX timers by id.
    pub posix_timers: Mutex<std::collections::BTreeMap<i32, PosixTimer>>,
    /// Stopped or not.
    pub job: Mutex<JobControl>,
    /// Woken when a stopped process continues.
    pub job_queue: WaitQueue,
    /// Its controlling terminal, when that is a sentry pty (inherited by fork, dropped
    /// by setsid).
    pub ctty: Mutex<Option<Arc<fs::pty::Pty>>>,
    /// When the process was created (`/proc/[pid]/stat` start time).
    pub started: std::time::Instant,
    /// Whether it is running, a zombie or reaped ([`ExitState`]).
    exit_state: AtomicU8,
    /// Woken when the exit state changes or a thread exits (pidfds poll on it).
    pub exit_events: WaitQueue,
    /// Identity of its System V semaphore undo list, 0 until it has one (a `SEM_UNDO`
    /// operation or a `CLONE_SYSVSEM` clone makes it); `CLONE_SYSVSEM` children share it.
    sem_undo_list: AtomicU64,
    /// `PR_SET_DUMPABLE`: cleared when the effective ids change (the host's
    /// `suid_dumpable` of 0), set again by `execve`; copied by `fork`. Only root may
    /// ptrace-access a process that is not dumpable.
    dumpable: AtomicBool,
}

/// The last semaphore undo list identity handed out.
static SEM_UNDO_LISTS: AtomicU64 = AtomicU64::new(0);

/// How far a process is through its exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitState {
    /// It runs.
    Running,
    /// It has exited and not been waited for.
    Zombie,
    /// It has exited and been waited for (or reaped at once).
    Reaped,
}

/// Job-control state: whether the process is stopped, and what its parent has not yet
/// been told.
#[derive(Default)]
pub struct JobControl {
    /// Stopped by this signal.
    pub stopped: Option<i32>,
    /// Stop or continue not yet reported by wait.
    pub report: Option<super::tree::JobReport>,
}

/// A `timer_create` timer.
pub struct PosixTimer {
    /// The timer.
    pub timer: super::posix_timer::Clocked,
    /// Its clock.
    pub clock: i32,
    /// Its signal and overrun count.
    pub notify: Arc<super::posix_timer::Notify>,
}

impl Process {
    /// A process with `mm`, files, file-system context, limits, identities and
    /// dispositions.
    pub fn new(
        pid: i32,
        mm: Arc<AddressSpace>,
        files: Arc<Mutex<FdTable>>,
        fs: Arc<Mutex<FsContext>>,
        creds: Creds,
        rlimits: [Rlimit; RLIM_NLIMITS],
        sigactions: [KSigaction; 64],
    ) -> Arc<Process> {
        Arc::new(Process {
            pid,
            mm: Mutex::new(mm),
            files: Mutex::new(files),
            fs: Mutex::new(fs),
            cmdline: Mutex::new(Vec::new()),
            environ: Mutex::new(Vec::new()),
            creds: Mutex::new(creds),
            rlimits: Mutex::new(rlimits),
            sigactions: Mutex::new(sigactions),
            pending: Mutex::new(Pending::default()),
            tasks: Mutex::new(Vec::new()),
            child_events: WaitQueue::new(),
            vfork_done: AtomicBool::new(false),
            vfork_queue: WaitQueue::new(),
            exe: Mutex::new(None),
            comm: Mutex::new(Vec::new()),
            stub_pid: AtomicI32::new(0),
            stub_gen: Mutex::new(u64::MAX),
            group_exit: Mutex::new(None),
            exiting: AtomicBool::new(false),
            dethread: AtomicI32::new(0),
            signal_events: Arc::new(WaitQueue::new()),
            itimer_real: Mutex::new(None),
            cpu_itimers: super::itimer::CpuItimers::default(),
            posix_timers: Mutex::new(std::collections::BTreeMap::new()),
            job: Mutex::new(JobControl::default()),
            job_queue: WaitQueue::new(),
            ctty: Mutex::new(None),
            started: std::time::Instant::now(),
            exit_state: AtomicU8::new(ExitState::Running as u8),
            exit_events: WaitQueue::new(),
            sem_undo_list: AtomicU64::new(0),
            dumpable: AtomicBool::new(true),
        })
    }

    /// Whether the process is dumpable (`PR_GET_DUMPABLE`).
    pub fn dumpable(&self) -> bool {
        self.dumpable.load(Ordering::SeqCst)
    }

    /// Sets whether the process is dumpable.
    pub fn set_dumpable(&self, dumpable: bool) {
        self.dumpable.store(dumpable, Ordering::SeqCst);
    }

    /// Whether `caller` may inspect or take from this process, as Linux's
    /// `ptrace_may_access` decides: its own threads always; otherwise credentials that
    /// [`Creds::may_access`] it, and root's only if it is not dumpable.
    pub fn accessible_by(&self, caller: &Process) -> bool {
        if std::ptr::eq(self, caller) {
            return true;
        }
        let by = *caller.creds.lock();
        by.may_access(&self.creds.lock()) && (self.dumpable() || by.has_all_caps())
    }

    /// Identity of the process's semaphore undo list (0: none), which `kcmp` compares.
    pub fn sem_undo_list(&self) -> u64 {
        self.sem_undo_list.load(Ordering::SeqCst)
    }

    /// The process's semaphore undo list, made now if it has none (Linux's
    /// `get_undo_list`).
    pub fn make_sem_undo_list(&self) -> u64 {
        let new = SEM_UNDO_LISTS.fetch_add(1, Ordering::SeqCst) + 1;
        match self
            .sem_undo_list
            .compare_exchange(0, new, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => new,
            Err(existing) => existing,
        }
    }

    /// Shares `list` as this new process's undo list (`CLONE_SYSVSEM`).
    pub fn share_sem_undo_list(&self, list: u64) {
        self.sem_undo_list.store(list, Ordering::SeqCst);
    }

    /// How far the process is through its exit.
    pub fn exit_state(&self) -> ExitState {
        match self.exit_state.load(Ordering::SeqCst) {
            0 => ExitState::Running,
            1 => ExitState::Zombie,
            _ => ExitState::Reaped,
        }
    }

    /// Records that the process became a zombie or was reaped, and wakes its watchers.
    pub fn set_exit_state(&self, state: ExitState) {
        self.exit_state.store(state as u8, Ordering::SeqCst);
        self.exit_events.notify_all();
    }

    /// Starts the exit of the whole process with `status` (the first one set wins) and
    /// interrupts every task but `except` so that each notices.
    pub fn begin_group_exit(
        &self,
        status: super::task::ExitStatus,
        except: i32,
    ) -> super::task::ExitStatus {
        let status = *self.group_exit.lock().get_or_insert(status);
        self.exiting.store(true, Ordering::SeqCst);
        for t in self.tasks.lock().iter().filter(|t| t.tid != except) {
            t.interrupt();
        }
        status
    }

    /// Whether the process is stopped by a signal.
    pub fn is_stopped(&self) -> bool {
        self.job.lock().stopped.is_some()
    }

    /// The group exit status, if the process is exiting.
    pub fn group_exit_status(&self) -> Option<super::task::ExitStatus> {
        if self.exiting.load(Ordering::SeqCst) {
            *self.group_exit.lock()
        } else {
            None
        }
    }

    /// The current address space.
    pub fn mm(&self) -> Arc<AddressSpace> {
        self.mm.lock().clone()
    }

    /// The soft limit of resource `which`.
    pub fn rlimit(&self, which: usize) -> u64 {
        self.rlimits.lock()[which].cur
    }

    /// Host pid of the stub running this process.
    pub fn stub_pid(&self) -> i32 {
        self.stub_pid.load(Ordering::Relaxed)
    }

    /// Names thread `handle` of the process (`PR_SET_NAME`, a write to its `comm`,
    /// `execve`) as [`comm_from`] makes it. The leader's name is also the process's.
    pub fn set_comm(&self, handle: &TaskHandle, name: &[u8]) {
        let name = comm_from(name);
        if handle.tid == self.pid {
            *self.comm.lock() = name.clone();
        }
        *handle.comm.lock() = name;
    }

    /// Releases a parent waiting in `vfork`.
    pub fn release_vfork(&self) {
        if !self.vfork_done.swap(true, Ordering::SeqCst) {
            self.vfork_queue.notify_all();
        }
    }
}

/// The sentry's own limits, which the first guest process inherits.
pub fn host_rlimits() -> [Rlimit; RLIM_NLIMITS] {
    let mut out = [Rlimit::default(); RLIM_NLIMITS];
    for (i, r) in out.iter_mut().enumerate() {
        *r = Rlimit {
            cur: libc::RLIM_INFINITY,
            max: libc::RLIM_INFINITY,
        };
        if let Some(res) = resource_from_index(i)
            && let Ok((cur, max)) = nix::sys::resource::getrlimit(res)
        {
            *r = Rlimit { cur, max };
        }
    }
    out
}

fn resource_from_index(i: usize) -> Option<nix::sys::resource::Resource> {
    use nix::sys::resource::Resource::*;
    Some(match i {
        0 => RLIMIT_CPU,
        1 => RLIMIT_FSIZE,
        2 => RLIMIT_DATA,
        3 => RLIMIT_STACK,
        4 => RLIMIT_CORE,
        5 => RLIMIT_RSS,
        6 => RLIMIT_NPROC,
        7 => RLIMIT_NOFILE,
        8 => RLIMIT_MEMLOCK,
        9 => RLIMIT_AS,
        10 => RLIMIT_LOCKS,
        11 => RLIMIT_SIGPENDING,
        12 => RLIMIT_MSGQUEUE,
        13 => RLIMIT_NICE,
        14 => RLIMIT_RTPRIO,
        15 => RLIMIT_RTTIME,
        _ => return None,
    })
}
