//! A process's CPU-time interval timers (`ITIMER_VIRTUAL`, `ITIMER_PROF`) and its
//! `RLIMIT_CPU`, both run as [`CpuTimer`]s on the process's CPU clocks.
//!
//! As on Linux: `ITIMER_VIRTUAL` counts user time and sends SIGVTALRM, `ITIMER_PROF`
//! counts user and system time and sends SIGPROF, both to the process with `si_code`
//! `SI_KERNEL`; a new value expires one tick (here one [`SAMPLE_PERIOD`]) later than asked,
//! and a timer due but not yet fired reads as one tick left. At the `RLIMIT_CPU` soft limit
//! (seconds of user and system time) the process gets SIGXCPU and the soft limit grows by
//! a second, so that SIGXCPU comes once a second; at the hard limit, SIGKILL. Neither
//! survives `fork`; both survive `execve`.

use super::Kernel;
use super::cpuclock::{CpuClock, Which};
use super::cputimer::{CpuTimer, SAMPLE_PERIOD};
use super::process::Process;
use super::sigframe::SigInfo;
use super::signal;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// Which CPU-time interval timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Itimer {
    /// `ITIMER_VIRTUAL`: user time, SIGVTALRM.
    Virtual,
    /// `ITIMER_PROF`: user and system time, SIGPROF.
    Prof,
}

impl Itimer {
    fn signal(self) -> i32 {
        match self {
            Itimer::Virtual => libc::SIGVTALRM,
            Itimer::Prof => libc::SIGPROF,
        }
    }

    fn which(self) -> Which {
        match self {
            Itimer::Virtual => Which::Virt,
            Itimer::Prof => Which::Prof,
        }
    }
}

/// A process's CPU-time timers, created on first use.
#[derive(Default)]
pub struct CpuItimers {
    virt: Mutex<Option<Arc<CpuTimer>>>,
    prof: Mutex<Option<Arc<CpuTimer>>>,
    rlimit: Mutex<Option<Arc<CpuTimer>>>,
}

impl CpuItimers {
    fn slot(&self, which: Itimer) -> &Mutex<Option<Arc<CpuTimer>>> {
        match which {
            Itimer::Virtual => &self.virt,
            Itimer::Prof => &self.prof,
        }
    }
}

/// The process's timer `which`, created on first use.
fn itimer(kernel: &Kernel, process: &Arc<Process>, which: Itimer) -> Arc<CpuTimer> {
    let mut slot = process.cpu_itimers.slot(which).lock();
    slot.get_or_insert_with(|| {
        let weak = Arc::downgrade(process);
        let sig = which.signal();
        kernel.cpu_timers.create(
            CpuClock::process(process, which.which()),
            Box::new(move |_| {
                if let Some(p) = weak.upgrade() {
                    signal::send(&p, SigInfo::kernel(sig));
                }
            }),
        )
    })
    .clone()
}

/// `getitimer` of `which`: (time left, interval).
pub fn get(kernel: &Kernel, process: &Arc<Process>, which: Itimer) -> (Duration, Duration) {
    itimer(kernel, process, which).get(SAMPLE_PERIOD)
}

/// `setitimer` of `which` to expire after `value` (zero disarms), then every `interval`;
/// returns the old (time left, interval).
pub fn set(
    kernel: &Kernel,
    process: &Arc<Process>,
    which: Itimer,
    value: Duration,
    interval: Duration,
) -> (Duration, Duration) {
    let t = itimer(kernel, process, which);
    let old = t.get(SAMPLE_PERIOD);
    let expires = if value.is_zero() {
        None
    } else {
        Some(t.clock().now().unwrap_or_default() + value + SAMPLE_PERIOD)
    };
    kernel.cpu_timers.arm(&t, expires, interval);
    old
}

/// Applies `process`'s `RLIMIT_CPU`: signals it if its CPU time has reached a limit (and
/// raises the soft limit past SIGXCPU), then watches for the next limit while the soft
/// limit is finite. Called when the limit is set or inherited, and at each expiry.
pub fn check_rlimit_cpu(kernel: &Arc<Kernel>, process: &Arc<Process>) {
    let index = libc::RLIMIT_CPU as usize;
    let limit = process.rlimits.lock()[index];
    let t = {
        let mut slot = process.cpu_itimers.rlimit.lock();
        if limit.cur == libc::RLIM_INFINITY && slot.is_none() {
            return;
        }
        slot.get_or_insert_with(|| {
            let (k, weak) = (Arc::downgrade(kernel), Arc::downgrade(process));
            kernel.cpu_timers.create(
                CpuClock::process(process, Which::Prof),
                Box::new(move |_| {
                    if let (Some(k), Some(p)) = (k.upgrade(), weak.upgrade()) {
                        check_rlimit_cpu(&k, &p);
                    }
                }),
            )
        })
        .clone()
    };
    if limit.cur == libc::RLIM_INFINITY {
        kernel.cpu_timers.arm(&t, None, Duration::ZERO);
        return;
    }
    let Some(used) = t.clock().now() else {
        return;
    };
    let secs = |s: u64| Duration::from_secs(s);
    let hard = (limit.max != libc::RLIM_INFINITY).then(|| secs(limit.max));
    if hard.is_some_and(|h| used >= h) {
        signal::send(process, SigInfo::kernel(libc::SIGKILL));
        return;
    }
    let mut soft = secs(limit.cur);
    if used >= soft {
        signal::send(process, SigInfo::kernel(libc::SIGXCPU));
        let mut limits = process.rlimits.lock();
        limits[index].cur = limit.cur + 1;
        soft += secs(1);
    }
    let next = hard.map_or(soft, |h| h.min(soft));
    kernel.cpu_timers.arm(&t, Some(next), Duration::ZERO);
}
