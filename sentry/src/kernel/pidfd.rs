//! Process file descriptors (`pidfd_open`, `CLONE_PIDFD`): a file that names a process,
//! or with `PIDFD_THREAD` one thread. A process pidfd polls readable once the process has
//! exited (and hung up once it has been reaped); a thread pidfd once the thread has
//! exited (hung up at once for a thread other than the leader, whose id goes with it).
//! They are what `pidfd_send_signal`, `pidfd_getfd` and `waitid(P_PIDFD)` take.

use super::process::{ExitState, Process};
use fs::{FileOps, OpenFile, PollEvents, Stat, WaitQueue};
use std::any::Any;
use std::sync::Arc;

/// Device number of pidfds (Linux's pidfs).
const PIDFS_DEV: u64 = 0x0f;

/// `PIDFD_THREAD` (`O_EXCL`): `pidfd_open` of one thread; kept in the file's flags.
pub const PIDFD_THREAD: i32 = libc::O_EXCL;

/// A pidfd: the process it names, and the thread if it names one.
pub struct PidFd {
    process: Arc<Process>,
    thread: Option<i32>,
}

impl PidFd {
    /// A new open file naming `process`, or its thread `thread`: read-write, `O_NONBLOCK`
    /// with `nonblock` (`PIDFD_NONBLOCK`), `PIDFD_THREAD` for a thread.
    pub fn open(process: Arc<Process>, thread: Option<i32>, nonblock: bool) -> Arc<OpenFile> {
        let mut flags = libc::O_RDWR;
        if nonblock {
            flags |= libc::O_NONBLOCK;
        }
        if thread.is_some() {
            flags |= PIDFD_THREAD;
        }
        OpenFile::new_exact(Box::new(PidFd { process, thread }), flags, None)
    }

    /// The pidfd `file` is, if it is one.
    pub fn of(file: &OpenFile) -> Option<&PidFd> {
        file.ops.any()?.downcast_ref::<PidFd>()
    }

    /// The process it names (the thread's, for a thread pidfd).
    pub fn process(&self) -> &Arc<Process> {
        &self.process
    }

    /// The thread it names, for a thread pidfd.
    pub fn thread(&self) -> Option<i32> {
        self.thread
    }

    /// The pid or tid it names.
    pub fn id(&self) -> i32 {
        self.thread.unwrap_or(self.process.pid)
    }

    /// Whether the thread it names is still on its process's thread list.
    fn thread_running(&self, tid: i32) -> bool {
        self.process.tasks.lock().iter().any(|t| t.tid == tid)
    }

    /// Whether what it names has exited: the whole process, or the thread.
    pub fn exited(&self) -> bool {
        self.process.exit_state() != ExitState::Running
            || self.thread.is_some_and(|tid| !self.thread_running(tid))
    }

    /// Whether its id names nothing any more: the process has been reaped, or a thread
    /// other than the leader has exited (a leader lasts as long as its process).
    pub fn gone(&self) -> bool {
        match self.thread {
            Some(tid) if tid != self.process.pid => !self.thread_running(tid),
            _ => self.process.exit_state() == ExitState::Reaped,
        }
    }
}

impl FileOps for PidFd {
    fn stat(&self) -> fs::Result<Stat> {
        // One inode per pid, as pidfs has; guest pids are never reused.
        Ok(fs::synth::anon_stat(PIDFS_DEV, self.id() as u64, 0o700))
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        let ready = if self.gone() {
            libc::POLLIN | libc::POLLRDNORM | libc::POLLHUP
        } else if self.exited() {
            libc::POLLIN | libc::POLLRDNORM
        } else {
            0
        };
        ready & (events | libc::POLLHUP | libc::POLLERR)
    }

    /// Process exits, reaps and thread exits are all announced here.
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.process.exit_events)
    }

    fn any(&self) -> Option<&dyn Any> {
        Some(self)
    }

    fn anon_name(&self) -> Option<String> {
        Some("anon_inode:[pidfd]".to_string())
    }

    /// The pid or tid (in the sandbox's one pid namespace), -1 once it names nothing.
    fn fdinfo(&self) -> String {
        let pid = if self.gone() { -1 } else { self.id() };
        format!("Pid:\t{pid}\nNSpid:\t{pid}\n")
    }
}
