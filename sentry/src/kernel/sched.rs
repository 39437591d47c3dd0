//! Per-thread scheduling state: the policy (`SCHED_OTHER`, `SCHED_FIFO`, ...), real-time
//! priority, nice value, time slice, `SCHED_RESET_ON_FORK`, deadline parameters and I/O
//! priority, with Linux's rules for who may set what.
//!
//! The sentry records these and the guest reads them back; none of them reaches the host,
//! which schedules every stub thread as an ordinary one. Fork passes them on as Linux's
//! `sched_fork` does.

use super::process::Creds;
use nix::errno::Errno;
use std::sync::OnceLock;
use std::time::Duration;

/// `SCHED_DEADLINE`.
pub const SCHED_DEADLINE: i32 = 6;
/// `SCHED_EXT`: a BPF-defined class this kernel has none of (setting it is `EINVAL`).
pub const SCHED_EXT: i32 = 7;
/// Lowest nice value.
pub const MIN_NICE: i32 = -20;
/// Highest nice value.
pub const MAX_NICE: i32 = 19;
/// Highest real-time priority.
pub const MAX_RT_PRIO: u32 = 99;

/// `sched_attr` flags.
pub mod flags {
    /// `SCHED_FLAG_RESET_ON_FORK`.
    pub const RESET_ON_FORK: u64 = 0x01;
    /// `SCHED_FLAG_KEEP_POLICY`.
    pub const KEEP_POLICY: u64 = 0x08;
    /// `SCHED_FLAG_KEEP_PARAMS`.
    pub const KEEP_PARAMS: u64 = 0x10;
    /// `SCHED_FLAG_UTIL_CLAMP_MIN | SCHED_FLAG_UTIL_CLAMP_MAX`.
    pub const UTIL_CLAMP: u64 = 0x60;
    /// Every flag `sched_setattr` knows (`SCHED_FLAG_ALL`).
    pub const ALL: u64 = 0x7f;
}

/// Shortest and longest custom time slice of a fair policy, in nanoseconds.
const SLICE_RANGE: (u64, u64) = (100_000, 100_000_000);
/// The round-robin interval of `SCHED_RR` (Linux's `RR_TIMESLICE`).
const RR_TIMESLICE: Duration = Duration::from_millis(100);
/// Shortest and longest deadline period (`sched_deadline_period_{min,max}_us`), in ns.
const DL_PERIOD_RANGE: (u64, u64) = (100_000, (1 << 22) * 1000);

/// Whether `policy` is `SCHED_FIFO` or `SCHED_RR`.
pub fn is_rt(policy: i32) -> bool {
    policy == libc::SCHED_FIFO || policy == libc::SCHED_RR
}

/// Whether `policy` is a fair one whose nice value counts (`SCHED_OTHER`, `SCHED_BATCH`).
pub fn is_fair(policy: i32) -> bool {
    policy == libc::SCHED_OTHER || policy == libc::SCHED_BATCH
}

fn is_valid(policy: i32) -> bool {
    is_rt(policy) || is_fair(policy) || policy == libc::SCHED_IDLE || policy == SCHED_DEADLINE
}

/// `SCHED_DEADLINE` parameters, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline {
    /// Runtime per period.
    pub runtime: u64,
    /// Relative deadline.
    pub deadline: u64,
    /// Period.
    pub period: u64,
}

impl Deadline {
    /// Linux's `__checkparam_dl`: runtime <= deadline <= period, within the period limits.
    fn valid(&self) -> bool {
        let period = if self.period == 0 {
            self.deadline
        } else {
            self.period
        };
        self.deadline != 0
            && self.runtime >= 1 << 10
            && (self.deadline | self.period) >> 63 == 0
            && period >= self.deadline
            && self.deadline >= self.runtime
            && (DL_PERIOD_RANGE.0..=DL_PERIOD_RANGE.1).contains(&period)
    }
}

/// One thread's scheduling attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedAttrs {
    /// The policy.
    pub policy: i32,
    /// The real-time priority (0 for other policies).
    pub rt_priority: u32,
    /// The nice value (kept, and reported, under every policy).
    pub nice: i32,
    /// `SCHED_RESET_ON_FORK`.
    pub reset_on_fork: bool,
    /// A custom time slice for a fair policy (`sched_attr.sched_runtime`), in nanoseconds.
    pub slice: Option<u64>,
    /// The deadline parameters, under `SCHED_DEADLINE`.
    pub deadline: Deadline,
    /// The I/O priority (`ioprio_set`); 0 (`IOPRIO_CLASS_NONE`) until set.
    pub ioprio: u16,
}

impl Default for SchedAttrs {
    fn default() -> Self {
        SchedAttrs {
            policy: libc::SCHED_OTHER,
            rt_priority: 0,
            nice: 0,
            reset_on_fork: false,
            slice: None,
            deadline: Deadline::default(),
            ioprio: 0,
        }
    }
}

/// A change of policy and parameters (`sched_setscheduler`, `sched_setparam`,
/// `sched_setattr`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Request {
    /// The new policy, or `None` to keep the current one (and its reset-on-fork flag).
    pub policy: Option<i32>,
    /// `sched_attr` flags.
    pub flags: u64,
    /// The real-time priority.
    pub priority: u32,
    /// The nice value, for fair policies.
    pub nice: i32,
    /// The deadline parameters; for fair policies `runtime` is a custom time slice.
    pub deadline: Deadline,
}

/// Who asks for a change and of whom: the caller's and the target's credentials, and the
/// target's `RLIMIT_NICE` and `RLIMIT_RTPRIO`.
#[derive(Clone, Copy, Debug)]
pub struct Authority {
    /// The caller's credentials.
    pub caller: Creds,
    /// The target thread's credentials.
    pub target: Creds,
    /// The target's `RLIMIT_NICE`.
    pub nice_limit: u64,
    /// The target's `RLIMIT_RTPRIO`.
    pub rtprio_limit: u64,
}

impl Authority {
    /// `CAP_SYS_NICE`: root's.
    fn privileged(&self) -> bool {
        self.caller.euid == 0
    }

    /// Linux's `can_nice`: a nice value may go as low as `RLIMIT_NICE` allows.
    fn can_nice(&self, nice: i32) -> bool {
        (20 - nice) as u64 <= self.nice_limit || self.privileged()
    }

    /// Linux's `check_same_owner`.
    fn same_owner(&self) -> bool {
        self.caller.euid == self.target.euid || self.caller.euid == self.target.uid
    }

    /// Linux's `sched_setaffinity` check: the same owner, or `CAP_SYS_NICE`.
    pub fn may_set_affinity(&self) -> bool {
        self.same_owner() || self.privileged()
    }

    /// Linux's `set_one_prio_perm`: may the caller renice the target at all.
    fn may_renice(&self) -> bool {
        self.target.uid == self.caller.euid
            || self.target.euid == self.caller.euid
            || self.privileged()
    }
}

impl SchedAttrs {
    /// The sentry's own policy, priority and nice value, which the first guest process
    /// inherits as a program inherits them from its launcher.
    pub fn of_host() -> SchedAttrs {
        let host = platform::host::sched_attr().unwrap_or_default();
        let policy = host.policy as i32;
        if !is_valid(policy) || policy == SCHED_DEADLINE {
            return SchedAttrs::default();
        }
        SchedAttrs {
            policy,
            rt_priority: if is_rt(policy) { host.priority } else { 0 },
            nice: host.nice.clamp(MIN_NICE, MAX_NICE),
            reset_on_fork: host.flags & flags::RESET_ON_FORK != 0,
            ..SchedAttrs::default()
        }
    }

    /// What a new thread or process starts with: the same attributes, except that with
    /// `SCHED_RESET_ON_FORK` real-time and deadline policies become `SCHED_OTHER`, a
    /// negative nice value 0 and the time slice the default (the flag itself is cleared).
    pub fn for_child(&self) -> SchedAttrs {
        let mut child = *self;
        if self.reset_on_fork {
            if is_rt(self.policy) || self.policy == SCHED_DEADLINE {
                child.policy = libc::SCHED_OTHER;
                child.rt_priority = 0;
                child.nice = 0;
                child.deadline = Deadline::default();
            } else if self.nice < 0 {
                child.nice = 0;
            }
            child.slice = None;
            child.reset_on_fork = false;
        }
        child
    }

    /// The policy as `sched_getscheduler` reports it.
    pub fn policy_word(&self) -> i32 {
        self.policy
            | if self.reset_on_fork {
                libc::SCHED_RESET_ON_FORK
            } else {
                0
            }
    }

    /// The I/O priority that counts for the thread, as Linux's `__get_task_ioprio` sees
    /// it: the one set, or if none, one derived from the policy and nice value.
    pub fn effective_ioprio(&self) -> u16 {
        if ioprio::class(self.ioprio) != ioprio::CLASS_NONE {
            return self.ioprio;
        }
        let class = if self.policy == libc::SCHED_IDLE {
            ioprio::CLASS_IDLE
        } else if is_rt(self.policy) || self.policy == SCHED_DEADLINE {
            ioprio::CLASS_RT
        } else {
            ioprio::CLASS_BE
        };
        ioprio::value(class, ((self.nice + 20) / 5) as u16)
    }

    /// The time slice (`sched_attr.sched_runtime` of a non-real-time thread): the custom
    /// one, else the host's for an ordinary thread.
    pub fn time_slice(&self) -> u64 {
        static HOST: OnceLock<u64> = OnceLock::new();
        self.slice.unwrap_or_else(|| {
            *HOST.get_or_init(|| platform::host::sched_attr().map_or(0, |a| a.runtime))
        })
    }

    /// The `sched_rr_get_interval` answer: `SCHED_RR`'s time slice, none for `SCHED_FIFO`
    /// and deadline threads, and for others what the host says of an ordinary thread.
    pub fn rr_interval(&self) -> Duration {
        static HOST: OnceLock<Duration> = OnceLock::new();
        match self.policy {
            libc::SCHED_RR => RR_TIMESLICE,
            libc::SCHED_FIFO | SCHED_DEADLINE => Duration::ZERO,
            _ => *HOST.get_or_init(|| platform::host::rr_interval().unwrap_or_default()),
        }
    }

    /// The parameters `SCHED_FLAG_KEEP_PARAMS` keeps (Linux's `get_params`).
    pub fn keep_params(&self, req: &mut Request) {
        if self.policy == SCHED_DEADLINE {
            req.deadline = self.deadline;
        } else if is_rt(self.policy) {
            req.priority = self.rt_priority;
        } else {
            req.nice = self.nice;
            req.deadline.runtime = self.time_slice();
        }
    }

    /// Applies `req` as Linux's `__sched_setscheduler` does for a user request: the policy
    /// must exist and its priority fit it (`EINVAL`); lowering the nice value, entering a
    /// real-time or deadline policy, leaving `SCHED_IDLE`, clearing reset-on-fork or
    /// changing another user's thread need privilege or the rlimits (`EPERM`); utilization
    /// clamps are not supported (`EOPNOTSUPP`, as without `CONFIG_UCLAMP_TASK`).
    pub fn set(&mut self, req: &Request, who: &Authority) -> Result<(), Errno> {
        let (policy, reset_on_fork) = match req.policy {
            None => (self.policy, self.reset_on_fork),
            Some(p) if is_valid(p) => (p, req.flags & flags::RESET_ON_FORK != 0),
            Some(_) => return Err(Errno::EINVAL),
        };
        if req.flags & !flags::ALL != 0 || req.priority > MAX_RT_PRIO {
            return Err(Errno::EINVAL);
        }
        if (policy == SCHED_DEADLINE && !req.deadline.valid())
            || is_rt(policy) != (req.priority != 0)
        {
            return Err(Errno::EINVAL);
        }
        if !who.privileged() {
            let refused = (is_fair(policy) && req.nice < self.nice && !who.can_nice(req.nice))
                || (is_rt(policy) && policy != self.policy && who.rtprio_limit == 0)
                || (is_rt(policy)
                    && req.priority > self.rt_priority
                    && u64::from(req.priority) > who.rtprio_limit)
                || policy == SCHED_DEADLINE
                || (self.policy == libc::SCHED_IDLE
                    && policy != libc::SCHED_IDLE
                    && !who.can_nice(self.nice))
                || !who.same_owner()
                || (self.reset_on_fork && !reset_on_fork);
            if refused {
                return Err(Errno::EPERM);
            }
        }
        if req.flags & flags::UTIL_CLAMP != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        self.policy = policy;
        self.reset_on_fork = reset_on_fork;
        self.rt_priority = req.priority;
        if policy == SCHED_DEADLINE {
            self.deadline = req.deadline;
        } else if is_fair(policy) {
            self.nice = req.nice;
            self.slice = (req.deadline.runtime != 0)
                .then(|| req.deadline.runtime.clamp(SLICE_RANGE.0, SLICE_RANGE.1));
        }
        Ok(())
    }

    /// Sets the nice value (`setpriority`): another user's thread needs privilege
    /// (`EPERM`), a lower value than the current one `RLIMIT_NICE` or privilege (`EACCES`).
    pub fn renice(&mut self, nice: i32, who: &Authority) -> Result<(), Errno> {
        if !who.may_renice() {
            return Err(Errno::EPERM);
        }
        if nice < self.nice && !who.can_nice(nice) {
            return Err(Errno::EACCES);
        }
        self.nice = nice;
        Ok(())
    }

    /// Sets the I/O priority (`ioprio_set`): another user's thread needs privilege.
    pub fn set_ioprio(&mut self, ioprio: u16, who: &Authority) -> Result<(), Errno> {
        if who.target.uid != who.caller.euid
            && who.target.uid != who.caller.uid
            && !who.privileged()
        {
            return Err(Errno::EPERM);
        }
        self.ioprio = ioprio;
        Ok(())
    }
}

/// I/O priority classes and values (`IOPRIO_PRIO_VALUE(class, data)`).
pub mod ioprio {
    use nix::errno::Errno;

    /// `IOPRIO_CLASS_NONE`.
    pub const CLASS_NONE: u16 = 0;
    /// `IOPRIO_CLASS_RT`.
    pub const CLASS_RT: u16 = 1;
    /// `IOPRIO_CLASS_BE`.
    pub const CLASS_BE: u16 = 2;
    /// `IOPRIO_CLASS_IDLE`.
    pub const CLASS_IDLE: u16 = 3;
    const CLASS_SHIFT: u32 = 13;
    /// Priority levels of the RT and BE classes.
    const NR_LEVELS: i32 = 8;

    /// `IOPRIO_PRIO_CLASS`.
    pub fn class(value: u16) -> u16 {
        value >> CLASS_SHIFT
    }

    /// Linux's `ioprio_check_cap`: the class must exist (`EINVAL`), RT needs privilege
    /// (`EPERM`), RT and BE levels go up to 7 and a NONE value has no level (`EINVAL`).
    pub fn check(value: i32, privileged: bool) -> Result<u16, Errno> {
        let class = (value >> CLASS_SHIFT) & 7;
        let level = value & (NR_LEVELS - 1);
        match class as u16 {
            CLASS_RT if !privileged => Err(Errno::EPERM),
            CLASS_RT | CLASS_BE | CLASS_IDLE => Ok(value as u16),
            CLASS_NONE if level == 0 => Ok(value as u16),
            _ => Err(Errno::EINVAL),
        }
    }

    /// `IOPRIO_PRIO_VALUE(class, level)`.
    pub fn value(class: u16, level: u16) -> u16 {
        class << CLASS_SHIFT | level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uid: u32) -> Creds {
        Creds {
            uid,
            euid: uid,
            suid: uid,
            gid: uid,
            egid: uid,
            sgid: uid,
        }
    }

    fn authority(caller: u32, target: u32) -> Authority {
        Authority {
            caller: user(caller),
            target: user(target),
            nice_limit: 0,
            rtprio_limit: 0,
        }
    }

    #[test]
    fn unprivileged_rules() {
        let me = authority(1000, 1000);
        let mut a = SchedAttrs::default();
        let batch = Request {
            policy: Some(libc::SCHED_BATCH),
            nice: 5,
            ..Request::default()
        };
        a.set(&batch, &me).unwrap();
        assert_eq!((a.policy, a.nice), (libc::SCHED_BATCH, 5));
        let lower = Request { nice: 1, ..batch };
        assert_eq!(a.set(&lower, &me), Err(Errno::EPERM));
        assert_eq!(a.renice(1, &me), Err(Errno::EACCES));
        a.renice(10, &me).unwrap();
        let fifo = Request {
            policy: Some(libc::SCHED_FIFO),
            priority: 1,
            ..Request::default()
        };
        assert_eq!(a.set(&fifo, &me), Err(Errno::EPERM));
        assert_eq!(a.set(&fifo, &authority(0, 1000)), Ok(()));
        let other_user = authority(1000, 1001);
        assert_eq!(a.renice(12, &other_user), Err(Errno::EPERM));
        let bad = Request {
            policy: Some(libc::SCHED_OTHER),
            priority: 1,
            ..Request::default()
        };
        assert_eq!(a.set(&bad, &me), Err(Errno::EINVAL));
    }

    #[test]
    fn reset_on_fork() {
        let root = authority(0, 0);
        let mut a = SchedAttrs::default();
        let rr = Request {
            policy: Some(libc::SCHED_RR),
            flags: flags::RESET_ON_FORK,
            priority: 10,
            ..Request::default()
        };
        a.set(&rr, &root).unwrap();
        a.nice = -3;
        assert_eq!(a.policy_word(), libc::SCHED_RR | libc::SCHED_RESET_ON_FORK);
        let child = a.for_child();
        assert_eq!((child.policy, child.rt_priority, child.nice), (0, 0, 0));
        assert!(!child.reset_on_fork);
        a.reset_on_fork = false;
        assert_eq!(a.for_child(), a);
    }

    #[test]
    fn deadline_parameters_and_slices() {
        let root = authority(0, 0);
        let mut a = SchedAttrs::default();
        let mut dl = Request {
            policy: Some(SCHED_DEADLINE),
            ..Request::default()
        };
        assert_eq!(a.set(&dl, &root), Err(Errno::EINVAL));
        dl.deadline = Deadline {
            runtime: 1_000_000,
            deadline: 2_000_000,
            period: 3_000_000,
        };
        a.set(&dl, &root).unwrap();
        assert_eq!(a.deadline.period, 3_000_000);
        let slice = Request {
            policy: Some(libc::SCHED_OTHER),
            deadline: Deadline {
                runtime: 1,
                ..Deadline::default()
            },
            ..Request::default()
        };
        a.set(&slice, &root).unwrap();
        assert_eq!(a.time_slice(), 100_000);
    }

    #[test]
    fn io_priorities() {
        assert_eq!(ioprio::check(2 << 13 | 7, false), Ok(2 << 13 | 7));
        assert_eq!(ioprio::check(1 << 13, false), Err(Errno::EPERM));
        assert_eq!(ioprio::check(1 << 13, true), Ok(1 << 13));
        assert_eq!(ioprio::check(3, false), Err(Errno::EINVAL));
        assert_eq!(ioprio::check(4 << 13, true), Err(Errno::EINVAL));
        let mut a = SchedAttrs::default();
        assert_eq!(a.effective_ioprio(), 2 << 13 | 4);
        a.nice = 11;
        assert_eq!(a.effective_ioprio(), 2 << 13 | 6);
        a.policy = libc::SCHED_IDLE;
        assert_eq!(a.effective_ioprio(), 3 << 13 | 6);
        a.ioprio = 1 << 13 | 2;
        assert_eq!(a.effective_ioprio(), 1 << 13 | 2);
    }
}
