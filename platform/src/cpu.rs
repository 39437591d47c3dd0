//! Keeping each stub thread on its tracer's CPU.
//!
//! A ptrace round trip between two CPUs costs several times one on the same CPU (an
//! inter-processor wake-up each way; see `shared/research/ptrace-measurements.md`). The
//! tracer is left free to migrate; before each resume the stub thread is moved to the CPU
//! the tracer is on now, which costs one `sched_setaffinity` only when that changed.

use nix::sched::{CpuSet, sched_getcpu, sched_setaffinity};
use nix::unistd::Pid;

/// The CPU a stub thread was last bound to.
pub(crate) struct Placement {
    cpu: Option<usize>,
}

impl Placement {
    pub(crate) fn new() -> Self {
        Placement { cpu: None }
    }

    /// Binds `tid` to the calling thread's current CPU if it is not there already.
    pub(crate) fn follow_tracer(&mut self, tid: Pid) {
        let Ok(cpu) = sched_getcpu() else { return };
        if self.cpu == Some(cpu) {
            return;
        }
        let mut set = CpuSet::new();
        if set.set(cpu).is_ok() && sched_setaffinity(tid, &set).is_ok() {
            self.cpu = Some(cpu);
        }
    }
}
