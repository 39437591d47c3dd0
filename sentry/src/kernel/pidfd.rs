//! Process file descriptors (`pidfd_open`, `CLONE_PIDFD`): a file that names a process,
//! polls readable once the process has exited (and hung up once it has been reaped),
//! and is what `pidfd_send_signal`, `pidfd_getfd` and `waitid(P_PIDFD)` take.

use super::process::{ExitState, Process};
use fs::{FileOps, OpenFile, PollEvents, Stat, WaitQueue};
use std::any::Any;
use std::sync::Arc;

/// Device number of pidfds (Linux's pidfs).
const PIDFS_DEV: u64 = 0x0f;

/// A pidfd: the process it names.
pub struct PidFd {
    process: Arc<Process>,
}

impl PidFd {
    /// A new open file naming `process`: read-write, `O_NONBLOCK` with `nonblock`
    /// (`PIDFD_NONBLOCK`).
    pub fn open(process: Arc<Process>, nonblock: bool) -> Arc<OpenFile> {
        let flags = libc::O_RDWR | if nonblock { libc::O_NONBLOCK } else { 0 };
        OpenFile::new(Box::new(PidFd { process }), flags, None)
    }

    /// The process `file` names, if it is a pidfd.
    pub fn process_of(file: &OpenFile) -> Option<&Arc<Process>> {
        let pidfd = file.ops.any()?.downcast_ref::<PidFd>()?;
        Some(&pidfd.process)
    }
}

impl FileOps for PidFd {
    fn stat(&self) -> fs::Result<Stat> {
        // One inode per process, as pidfs has; guest pids are never reused.
        Ok(fs::synth::anon_stat(
            PIDFS_DEV,
            self.process.pid as u64,
            0o700,
        ))
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        let ready = match self.process.exit_state() {
            ExitState::Running => 0,
            ExitState::Zombie => libc::POLLIN | libc::POLLRDNORM,
            ExitState::Reaped => libc::POLLIN | libc::POLLRDNORM | libc::POLLHUP,
        };
        ready & (events | libc::POLLHUP | libc::POLLERR)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.process.exit_events)
    }

    fn any(&self) -> Option<&dyn Any> {
        Some(self)
    }

    fn anon_name(&self) -> Option<String> {
        Some("anon_inode:[pidfd]".to_string())
    }

    /// The pid (in the sandbox's one pid namespace), -1 once the process is reaped.
    fn fdinfo(&self) -> String {
        let pid = match self.process.exit_state() {
            ExitState::Reaped => -1,
            _ => self.process.pid,
        };
        format!("Pid:\t{pid}\nNSpid:\t{pid}\n")
    }
}
