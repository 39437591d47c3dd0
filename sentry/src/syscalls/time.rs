//! Clocks and sleeping: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
//! clock_nanosleep.

use crate::abi::{Timespec, Timeval, Timezone};
use crate::errno::{SysErr, SysResult};
use crate::kernel::posix_timer::{Notify, Target};
use crate::kernel::process::PosixTimer;
use crate::kernel::sigframe::SigInfo;
use crate::kernel::signal;
use crate::kernel::task::Task;
use crate::kernel::timer::{self, Timer};
use crate::kernel::timerfd::{Ticks, TimerFd};
use fs::OpenFile;
use nix::errno::Errno;
use nix::time::ClockId;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The host clock behind guest clock `id`. CPU-time clocks measure the stub process, the
/// host process that runs the guest's code.
fn host_clock(task: &Task, id: i32) -> Result<ClockId, Errno> {
    Ok(match id {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_REALTIME_COARSE
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_TAI
        | libc::CLOCK_REALTIME_ALARM
        | libc::CLOCK_BOOTTIME_ALARM => ClockId::from_raw(id),
        libc::CLOCK_PROCESS_CPUTIME_ID | libc::CLOCK_THREAD_CPUTIME_ID => {
            ClockId::pid_cpu_clock_id(nix::unistd::Pid::from_raw(task.stub.tid()))?
        }
        _ => return Err(Errno::EINVAL),
    })
}

/// `clock_gettime(clock, tp)`.
pub fn clock_gettime(task: &mut Task) -> SysResult {
    let clock = host_clock(task, task.arg(0) as i32)?;
    let t = nix::time::clock_gettime(clock)?;
    task.write_obj(
        task.arg(1),
        &Timespec {
            tv_sec: t.tv_sec(),
            tv_nsec: t.tv_nsec(),
        },
    )?;
    Ok(0)
}

/// `clock_getres(clock, res)`.
pub fn clock_getres(task: &mut Task) -> SysResult {
    let clock = host_clock(task, task.arg(0) as i32)?;
    let r = nix::time::clock_getres(clock)?;
    if task.arg(1) != 0 {
        task.write_obj(
            task.arg(1),
            &Timespec {
                tv_sec: r.tv_sec(),
                tv_nsec: r.tv_nsec(),
            },
        )?;
    }
    Ok(0)
}

/// `gettimeofday(tv, tz)`.
pub fn gettimeofday(task: &mut Task) -> SysResult {
    let t = nix::time::clock_gettime(ClockId::CLOCK_REALTIME)?;
    if task.arg(0) != 0 {
        task.write_obj(
            task.arg(0),
            &Timeval {
                tv_sec: t.tv_sec(),
                tv_usec: t.tv_nsec() / 1000,
            },
        )?;
    }
    if task.arg(1) != 0 {
        task.write_obj(task.arg(1), &Timezone::default())?;
    }
    Ok(0)
}

/// `time(tloc)`.
pub fn time(task: &mut Task) -> SysResult {
    let t = nix::time::clock_gettime(ClockId::CLOCK_REALTIME)?;
    if task.arg(0) != 0 {
        task.write_obj(task.arg(0), &t.tv_sec())?;
    }
    Ok(t.tv_sec() as u64)
}

/// Sleeps until `deadline` unless interrupted; on interruption writes the time left to
/// `rem` (if non-zero) and fails with EINTR.
fn sleep_until(task: &mut Task, deadline: Instant, rem: u64) -> SysResult {
    match task.waiter().wait(Some(deadline)) {
        Err(Errno::ETIMEDOUT) => Ok(0),
        Err(Errno::EINTR) => {
            task.restart_deadline = Some(deadline);
            if rem != 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                task.write_obj(rem, &Timespec::from_duration(left))?;
            }
            Err(SysErr::Errno(Errno::EINTR))
        }
        Err(e) => Err(e.into()),
        // Woken for another reason: keep sleeping.
        Ok(()) => sleep_until(task, deadline, rem),
    }
}

fn read_timespec(task: &Task, addr: u64) -> Result<Duration, SysErr> {
    task.read_obj::<Timespec>(addr)?
        .to_duration()
        .ok_or(SysErr::Errno(Errno::EINVAL))
}

/// `nanosleep(req, rem)`.
pub fn nanosleep(task: &mut Task) -> SysResult {
    let d = read_timespec(task, task.arg(0))?;
    sleep_until(task, Instant::now() + d, task.arg(1))
}

/// `clock_nanosleep(clock, flags, req, rem)`.
pub fn clock_nanosleep(task: &mut Task) -> SysResult {
    let (id, flags) = (task.arg(0) as i32, task.arg(1) as i32);
    let clock = host_clock(task, id)?;
    if matches!(id, libc::CLOCK_THREAD_CPUTIME_ID) {
        return Err(Errno::EINVAL.into());
    }
    let d = read_timespec(task, task.arg(2))?;
    if flags & libc::TIMER_ABSTIME != 0 {
        let now = nix::time::clock_gettime(clock)?;
        let now = Duration::new(now.tv_sec().max(0) as u64, now.tv_nsec() as u32);
        return sleep_until(task, Instant::now() + d.saturating_sub(now), 0);
    }
    sleep_until(task, Instant::now() + d, task.arg(3))
}

/// `restart_syscall()`: resumes an interrupted `nanosleep` until its original deadline.
pub fn restart_syscall(task: &mut Task) -> SysResult {
    match task.restart_deadline.take() {
        Some(deadline) => sleep_until(task, deadline, 0),
        None => Err(Errno::EINTR.into()),
    }
}

/// `struct itimerval` / `struct itimerspec` as durations.
#[derive(Clone, Copy)]
struct TimerValue {
    interval: Duration,
    value: Duration,
}

fn timeval_duration(tv: Timeval) -> Result<Duration, Errno> {
    if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
}

fn read_itimerval(task: &Task, addr: u64) -> Result<TimerValue, SysErr> {
    let v: [Timeval; 2] = task.read_obj(addr)?;
    Ok(TimerValue {
        interval: timeval_duration(v[0])?,
        value: timeval_duration(v[1])?,
    })
}

fn write_itimerval(
    task: &Task,
    addr: u64,
    (left, interval): (Duration, Duration),
) -> Result<(), SysErr> {
    task.write_obj(
        addr,
        &[
            Timeval::from_duration(interval),
            Timeval::from_duration(left),
        ],
    )
}

fn read_itimerspec(task: &Task, addr: u64) -> Result<TimerValue, SysErr> {
    let v: [Timespec; 2] = task.read_obj(addr)?;
    let d = |t: Timespec| t.to_duration().ok_or(SysErr::Errno(Errno::EINVAL));
    Ok(TimerValue {
        interval: d(v[0])?,
        value: d(v[1])?,
    })
}

fn write_itimerspec(
    task: &Task,
    addr: u64,
    (left, interval): (Duration, Duration),
) -> Result<(), SysErr> {
    task.write_obj(
        addr,
        &[
            Timespec::from_duration(interval),
            Timespec::from_duration(left),
        ],
    )
}

/// The process's `ITIMER_REAL` timer, created on first use: it sends SIGALRM.
fn itimer_real(task: &Task) -> Arc<Timer> {
    let mut slot = task.process.itimer_real.lock();
    slot.get_or_insert_with(|| {
        let process = Arc::downgrade(&task.process);
        task.kernel.timers.create(Box::new(move |_| {
            if let Some(p) = process.upgrade() {
                signal::send(&p, SigInfo::kernel(libc::SIGALRM));
            }
        }))
    })
    .clone()
}

fn deadline_after(d: Duration) -> Option<Instant> {
    (!d.is_zero()).then(|| Instant::now() + d)
}

/// `alarm(seconds)`: returns the seconds left of the previous alarm (rounded).
pub fn alarm(task: &mut Task) -> SysResult {
    let timer = itimer_real(task);
    let secs = task.arg(0) as u32 as u64;
    let (left, _) = task.kernel.timers.arm(
        &timer,
        deadline_after(Duration::from_secs(secs)),
        Duration::ZERO,
    );
    let mut old = left.as_secs();
    if left.subsec_nanos() >= 500_000_000 || (old == 0 && !left.is_zero()) {
        old += 1;
    }
    Ok(old)
}

/// `getitimer(which, value)`: `ITIMER_REAL` runs; the CPU-time timers read as disarmed.
pub fn getitimer(task: &mut Task) -> SysResult {
    let v = match task.arg(0) as i32 {
        libc::ITIMER_REAL => itimer_real(task).get(),
        libc::ITIMER_VIRTUAL | libc::ITIMER_PROF => (Duration::ZERO, Duration::ZERO),
        _ => return Err(Errno::EINVAL.into()),
    };
    write_itimerval(task, task.arg(1), v)?;
    Ok(0)
}

/// `setitimer(which, new, old)`.
pub fn setitimer(task: &mut Task) -> SysResult {
    let which = task.arg(0) as i32;
    let new = if task.arg(1) == 0 {
        TimerValue {
            interval: Duration::ZERO,
            value: Duration::ZERO,
        }
    } else {
        read_itimerval(task, task.arg(1))?
    };
    let old = match which {
        libc::ITIMER_REAL => {
            let timer = itimer_real(task);
            task.kernel
                .timers
                .arm(&timer, deadline_after(new.value), new.interval)
        }
        libc::ITIMER_VIRTUAL | libc::ITIMER_PROF => (Duration::ZERO, Duration::ZERO),
        _ => return Err(Errno::EINVAL.into()),
    };
    if task.arg(2) != 0 {
        write_itimerval(task, task.arg(2), old)?;
    }
    Ok(0)
}

fn check_clock(clock: i32) -> Result<(), Errno> {
    match clock {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_REALTIME_ALARM
        | libc::CLOCK_BOOTTIME_ALARM
        | libc::CLOCK_TAI => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

/// The deadline for a `*_settime` value: relative, or absolute on `clock`.
fn settime_deadline(clock: i32, value: Duration, absolute: bool) -> Option<Instant> {
    if value.is_zero() {
        None
    } else if absolute {
        Some(timer::instant_for(clock, value))
    } else {
        Some(Instant::now() + value)
    }
}

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD_ID: i32 = 4;

/// `timer_create(clock, sevp, timerid)`.
pub fn timer_create(task: &mut Task) -> SysResult {
    let clock = task.arg(0) as i32;
    check_clock(clock)?;
    let process = task.process.clone();
    let id = {
        let timers = process.posix_timers.lock();
        (0..).find(|i| !timers.contains_key(i)).expect("unbounded")
    };
    // struct sigevent { sigval value; int signo; int notify; int tid; ... }
    let (value, signo, notify, tid) = match task.arg(1) {
        0 => (id as u64, libc::SIGALRM, SIGEV_SIGNAL, 0),
        addr => {
            let ev: [u8; 64] = task.read_obj(addr)?;
            let int = |at: usize| i32::from_ne_bytes(ev[at..at + 4].try_into().expect("4 bytes"));
            (
                u64::from_ne_bytes(ev[0..8].try_into().expect("8 bytes")),
                int(8),
                int(12),
                int(16),
            )
        }
    };
    if notify != SIGEV_NONE && !(1..=64).contains(&signo) {
        return Err(Errno::EINVAL.into());
    }
    let target = match notify {
        SIGEV_NONE => Target::None,
        SIGEV_SIGNAL => Target::Process,
        SIGEV_THREAD_ID => Target::Thread(
            process
                .tasks
                .lock()
                .iter()
                .find(|t| t.tid == tid)
                .cloned()
                .ok_or(Errno::EINVAL)?,
        ),
        _ => return Err(Errno::EINVAL.into()),
    };
    let notify = Arc::new(Notify::new(id, signo, value, target));
    let (weak, on_fire) = (Arc::downgrade(&process), notify.clone());
    let timer = task.kernel.timers.create(Box::new(move |n| {
        if let Some(p) = weak.upgrade() {
            on_fire.fire(&p, n);
        }
    }));
    task.write_obj(task.arg(2), &id)?;
    process.posix_timers.lock().insert(
        id,
        PosixTimer {
            timer,
            clock,
            notify,
        },
    );
    Ok(0)
}

fn posix_timer(task: &Task, id: i32) -> Result<(Arc<Timer>, i32, Arc<Notify>), Errno> {
    let timers = task.process.posix_timers.lock();
    let t = timers.get(&id).ok_or(Errno::EINVAL)?;
    Ok((t.timer.clone(), t.clock, t.notify.clone()))
}

/// `timer_settime(timerid, flags, new, old)`.
pub fn timer_settime(task: &mut Task) -> SysResult {
    let (timer, clock, notify) = posix_timer(task, task.arg(0) as i32)?;
    let new = read_itimerspec(task, task.arg(2))?;
    let deadline = settime_deadline(
        clock,
        new.value,
        task.arg(1) as i32 & libc::TIMER_ABSTIME != 0,
    );
    notify.rearm();
    let old = task.kernel.timers.arm(&timer, deadline, new.interval);
    if task.arg(3) != 0 {
        write_itimerspec(task, task.arg(3), old)?;
    }
    Ok(0)
}

/// `timer_gettime(timerid, value)`.
pub fn timer_gettime(task: &mut Task) -> SysResult {
    let (timer, _, _) = posix_timer(task, task.arg(0) as i32)?;
    write_itimerspec(task, task.arg(1), timer.get())?;
    Ok(0)
}

/// `timer_getoverrun(timerid)`: the overrun count of the timer's last delivered signal.
pub fn timer_getoverrun(task: &mut Task) -> SysResult {
    let (_, _, notify) = posix_timer(task, task.arg(0) as i32)?;
    Ok(notify.overrun() as u64)
}

/// `timer_delete(timerid)`: a signal of the timer still pending is dropped.
pub fn timer_delete(task: &mut Task) -> SysResult {
    let t = task
        .process
        .posix_timers
        .lock()
        .remove(&(task.arg(0) as i32))
        .ok_or(Errno::EINVAL)?;
    task.kernel.timers.arm(&t.timer, None, Duration::ZERO);
    Ok(0)
}

/// `timerfd_create(clock, flags)`.
pub fn timerfd_create(task: &mut Task) -> SysResult {
    let (clock, flags) = (task.arg(0) as i32, task.arg(1) as i32);
    check_clock(clock)?;
    if flags & !(libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let ticks = Arc::new(Ticks::default());
    let t2 = ticks.clone();
    let timer = task.kernel.timers.create(Box::new(move |n| t2.add(n)));
    let file = OpenFile::new(
        Box::new(TimerFd::new(timer, clock, ticks)),
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
        None,
    );
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task
        .files
        .lock()
        .insert(file, flags & libc::TFD_CLOEXEC != 0, 0, limit)? as u64)
}

fn timerfd_of(task: &Task, fd: i32) -> Result<Arc<OpenFile>, SysErr> {
    let file = task.file(fd)?;
    if file
        .ops
        .any()
        .and_then(|a| a.downcast_ref::<TimerFd>())
        .is_none()
    {
        return Err(Errno::EINVAL.into());
    }
    Ok(file)
}

/// `timerfd_settime(fd, flags, new, old)`.
pub fn timerfd_settime(task: &mut Task) -> SysResult {
    let file = timerfd_of(task, task.arg(0) as i32)?;
    let tfd = file
        .ops
        .any()
        .and_then(|a| a.downcast_ref::<TimerFd>())
        .ok_or(Errno::EINVAL)?;
    let flags = task.arg(1) as i32;
    if flags & !(libc::TFD_TIMER_ABSTIME | 2) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let new = read_itimerspec(task, task.arg(2))?;
    let deadline = settime_deadline(tfd.clock, new.value, flags & libc::TFD_TIMER_ABSTIME != 0);
    tfd.ticks.clear();
    let old = task.kernel.timers.arm(&tfd.timer, deadline, new.interval);
    if task.arg(3) != 0 {
        write_itimerspec(task, task.arg(3), old)?;
    }
    Ok(0)
}

/// `timerfd_gettime(fd, value)`.
pub fn timerfd_gettime(task: &mut Task) -> SysResult {
    let file = timerfd_of(task, task.arg(0) as i32)?;
    let tfd = file
        .ops
        .any()
        .and_then(|a| a.downcast_ref::<TimerFd>())
        .ok_or(Errno::EINVAL)?;
    write_itimerspec(task, task.arg(1), tfd.timer.get())?;
    Ok(0)
}
