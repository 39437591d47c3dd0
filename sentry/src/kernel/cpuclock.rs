//! CPU-time clocks: `CLOCK_PROCESS_CPUTIME_ID`, `CLOCK_THREAD_CPUTIME_ID` and the clock
//! ids `clock_getcpuclockid`/`pthread_getcpuclockid` make for a process or a thread.
//!
//! The guest's CPU time is the host CPU time of the stub that runs its code: a process's
//! is its stub process's (every stub thread, live or gone, since the stub started; the
//! stub outlives `execve`), a thread's is its stub thread's. The time the sentry spends
//! answering the guest's syscalls is the sentry's own and is not counted.
//!
//! Precision: the scheduler clocks (`CPUCLOCK_SCHED`, also used for `CPUCLOCK_PROF`) read
//! the host's running-time counters, a process's to the nanosecond, a thread's as of its
//! last host scheduler tick; the user-time clocks (`CPUCLOCK_VIRT`) read the host's
//! accounting in `/proc`, in 10 ms ticks.

use super::Kernel;
use super::process::{Process, TaskHandle};
use nix::errno::Errno;
use nix::time::ClockId;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Which CPU time a clock measures (Linux's `CPUCLOCK_WHICH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// User and system time (`CPUCLOCK_PROF`).
    Prof,
    /// User time (`CPUCLOCK_VIRT`).
    Virt,
    /// Time on a CPU (`CPUCLOCK_SCHED`).
    Sched,
}

impl Which {
    fn code(self) -> i32 {
        match self {
            Which::Prof => 0,
            Which::Virt => 1,
            Which::Sched => 2,
        }
    }
}

/// Whose CPU time a clock measures.
#[derive(Clone)]
enum Subject {
    Process(Weak<Process>),
    Thread(Weak<TaskHandle>),
}

/// A CPU-time clock of a process or a thread.
#[derive(Clone)]
pub struct CpuClock {
    subject: Subject,
    which: Which,
}

/// Bit of a CPU clock id that makes it per-thread (`CPUCLOCK_PERTHREAD_MASK`).
const PERTHREAD: i32 = 4;

/// Whether `id` names a CPU-time clock (including ones that turn out invalid).
pub fn is_cpu_clock(id: i32) -> bool {
    id < 0 || id == libc::CLOCK_PROCESS_CPUTIME_ID || id == libc::CLOCK_THREAD_CPUTIME_ID
}

/// Whether `id` names a clock by file descriptor (`CLOCKFD`: a PTP device's). The sandbox
/// has none: reading one is EINVAL, and, as on Linux, timers and sleeps on one are
/// EOPNOTSUPP.
pub fn is_fd_clock(id: i32) -> bool {
    id < 0 && id & 7 == 3
}

impl CpuClock {
    /// The clock a `(pid, thread)` pair names for the calling thread `me` of `process`:
    /// pid 0 is the caller; a thread clock must be of a thread of the caller's process; a
    /// process clock of a process, or of the caller itself (as Linux's `lookup_task`).
    fn lookup(
        kernel: &Kernel,
        process: &Arc<Process>,
        me: &Arc<TaskHandle>,
        pid: i32,
        thread: bool,
        which: Which,
    ) -> Result<CpuClock, Errno> {
        let subject = if thread {
            let handle = if pid == 0 {
                me.clone()
            } else {
                let tasks = process.tasks.lock();
                tasks
                    .iter()
                    .find(|t| t.tid == pid)
                    .cloned()
                    .ok_or(Errno::EINVAL)?
            };
            Subject::Thread(Arc::downgrade(&handle))
        } else if pid == 0 || pid == process.pid || pid == me.tid {
            Subject::Process(Arc::downgrade(process))
        } else {
            let p = kernel.tree.lock().live(pid).ok_or(Errno::EINVAL)?;
            Subject::Process(Arc::downgrade(&p))
        };
        Ok(CpuClock { subject, which })
    }

    /// Decodes CPU clock `id` for the calling thread `me` of `process`; EINVAL if it is no
    /// valid CPU clock (callers check [`is_cpu_clock`] first).
    pub fn from_id(
        kernel: &Kernel,
        process: &Arc<Process>,
        me: &Arc<TaskHandle>,
        id: i32,
    ) -> Result<CpuClock, Errno> {
        match id {
            libc::CLOCK_PROCESS_CPUTIME_ID => {
                Self::lookup(kernel, process, me, 0, false, Which::Sched)
            }
            libc::CLOCK_THREAD_CPUTIME_ID => {
                Self::lookup(kernel, process, me, 0, true, Which::Sched)
            }
            _ if id < 0 => {
                let which = match id & 3 {
                    0 => Which::Prof,
                    1 => Which::Virt,
                    2 => Which::Sched,
                    _ => return Err(Errno::EINVAL),
                };
                let pid = !(id >> 3);
                Self::lookup(kernel, process, me, pid, id & PERTHREAD != 0, which)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// The clock of `process`'s CPU time.
    pub fn process(process: &Arc<Process>, which: Which) -> CpuClock {
        CpuClock {
            subject: Subject::Process(Arc::downgrade(process)),
            which,
        }
    }

    /// Whether this is a thread's clock.
    pub fn is_thread(&self) -> bool {
        matches!(self.subject, Subject::Thread(_))
    }

    /// Whether this is the clock of thread `handle`.
    pub fn is_thread_of(&self, handle: &Arc<TaskHandle>) -> bool {
        matches!(&self.subject, Subject::Thread(w) if std::ptr::eq(w.as_ptr(), Arc::as_ptr(handle)))
    }

    /// The CPU time used so far; `None` once the process or thread is gone.
    pub fn now(&self) -> Option<Duration> {
        match &self.subject {
            Subject::Process(w) => {
                let p = w.upgrade().filter(|p| p.group_exit_status().is_none())?;
                let stub = p.stub_pid();
                if stub == 0 {
                    // Its stub is still starting: no code of it has run.
                    return Some(Duration::ZERO);
                }
                match self.which {
                    Which::Virt => user_time(&format!("/proc/{stub}/stat")),
                    Which::Prof | Which::Sched => {
                        let id = ClockId::from_raw((!stub << 3) | Which::Sched.code());
                        let t = nix::time::clock_gettime(id).ok()?;
                        Some(Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
                    }
                }
            }
            Subject::Thread(w) => {
                let Some(kicker) = *w.upgrade()?.kicker.lock() else {
                    // Its stub thread is still starting: no code of it has run.
                    return Some(Duration::ZERO);
                };
                let (stub, tid) = kicker.host_thread();
                let dir = format!("/proc/{stub}/task/{tid}");
                match self.which {
                    Which::Virt => user_time(&format!("{dir}/stat")),
                    Which::Prof | Which::Sched => {
                        let s = std::fs::read_to_string(format!("{dir}/schedstat")).ok()?;
                        let ns = s.split_whitespace().next()?.parse().ok()?;
                        Some(Duration::from_nanos(ns))
                    }
                }
            }
        }
    }

    /// The clock's resolution, as the host reports it for the same kind of clock.
    pub fn resolution(&self) -> Duration {
        let perthread = if self.is_thread() { PERTHREAD } else { 0 };
        let id = ClockId::from_raw((!0 << 3) | perthread | self.which.code());
        nix::time::clock_getres(id)
            .map(|t| Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
            .unwrap_or(Duration::from_nanos(1))
    }
}

/// User time from a host `stat` file (field 14, in `USER_HZ` = 100 ticks a second).
fn user_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let ticks: u64 = rest.split_whitespace().nth(11)?.parse().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
