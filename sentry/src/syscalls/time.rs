//! Clocks, sleeping and timers: clock_gettime, clock_getres, gettimeofday, time,
//! nanosleep, clock_nanosleep, alarm, getitimer/setitimer, the POSIX timers and timerfd,
//! on wall clocks and (but timerfd) on CPU-time clocks.

use crate::abi::{Timespec, Timeval, Timezone};
use crate::errno::{SysErr, SysResult};
use crate::kernel::cpuclock::{self, CpuClock};
use crate::kernel::itimer::{self, Itimer};
use crate::kernel::posix_timer::{Clocked, Notify, Target};
use crate::kernel::process::PosixTimer;
use crate::kernel::sigframe::SigInfo;
use crate::kernel::signal;
use crate::kernel::task::{SleepEnd, Task};
use crate::kernel::timer::{self, Timer};
use crate::kernel::timerfd::{Ticks, TimerFd};
use fs::OpenFile;
use nix::errno::Errno;
use nix::time::ClockId;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a guest clock id names: a host clock, or a guest CPU-time clock.
enum Clock {
    Host(ClockId),
    Cpu(CpuClock),
}

/// The clock behind guest clock `id`.
fn clock_of(task: &Task, id: i32) -> Result<Clock, Errno> {
    if cpuclock::is_cpu_clock(id) {
        return CpuClock::from_id(&task.kernel, &task.process, &task.handle, id).map(Clock::Cpu);
    }
    Ok(Clock::Host(match id {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_REALTIME_COARSE
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_TAI
        | libc::CLOCK_REALTIME_ALARM
        | libc::CLOCK_BOOTTIME_ALARM => ClockId::from_raw(id),
        _ => return Err(Errno::EINVAL),
    }))
}

/// The time on `clock` now (EINVAL once a CPU clock's process or thread is gone).
fn clock_now(clock: &Clock) -> Result<Duration, Errno> {
    match clock {
        Clock::Host(id) => {
            let t = nix::time::clock_gettime(*id)?;
            Ok(Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
        }
        Clock::Cpu(c) => c.now().ok_or(Errno::EINVAL),
    }
}

/// `clock_gettime(clock, tp)`.
pub fn clock_gettime(task: &mut Task) -> SysResult {
    let now = clock_now(&clock_of(task, task.arg(0) as i32)?)?;
    task.write_obj(task.arg(1), &Timespec::from_duration(now))?;
    Ok(0)
}

/// `clock_getres(clock, res)`.
pub fn clock_getres(task: &mut Task) -> SysResult {
    let res = match clock_of(task, task.arg(0) as i32)? {
        Clock::Host(id) => {
            let r = nix::time::clock_getres(id)?;
            Duration::new(r.tv_sec() as u64, r.tv_nsec() as u32)
        }
        Clock::Cpu(c) => c.resolution(),
    };
    if task.arg(1) != 0 {
        task.write_obj(task.arg(1), &Timespec::from_duration(res))?;
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

/// Sleeps until `end` unless interrupted; on interruption writes the time left to `rem`
/// (if non-zero) and fails with EINTR, to be restarted by `restart_syscall`.
fn sleep_until(task: &mut Task, end: SleepEnd, rem: u64) -> SysResult {
    let woken = match &end {
        SleepEnd::Wall(deadline) => wait_until(task, *deadline),
        SleepEnd::Cpu(clock, at) => wait_cpu_time(task, clock, *at)?,
    };
    match woken {
        Err(Errno::EINTR) => {
            let left = match &end {
                SleepEnd::Wall(deadline) => deadline.saturating_duration_since(Instant::now()),
                SleepEnd::Cpu(clock, at) => at.saturating_sub(clock.now().unwrap_or(*at)),
            };
            task.restart_deadline = Some(end);
            if rem != 0 {
                task.write_obj(rem, &Timespec::from_duration(left))?;
            }
            Err(SysErr::Errno(Errno::EINTR))
        }
        Err(e) => Err(e.into()),
        Ok(()) => Ok(0),
    }
}

/// Waits until `deadline`: `Ok` then, `EINTR` if interrupted.
fn wait_until(task: &Task, deadline: Instant) -> Result<(), Errno> {
    loop {
        match task.waiter().wait(Some(deadline)) {
            Err(Errno::ETIMEDOUT) => return Ok(()),
            // Woken for another reason: keep sleeping.
            Ok(()) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Waits until `clock` reads `at`: `Ok(Ok)` then, `Ok(EINTR)` if interrupted; EINVAL if
/// the clock's process or thread is gone.
fn wait_cpu_time(task: &Task, clock: &CpuClock, at: Duration) -> Result<Result<(), Errno>, Errno> {
    let reached = Arc::new(AtomicBool::new(false));
    let (flag, waiter) = (reached.clone(), task.waiter().clone());
    let timer = task.kernel.cpu_timers.create(
        clock.clone(),
        Box::new(move |_| {
            flag.store(true, Ordering::SeqCst);
            waiter.wake();
        }),
    );
    if clock.now().ok_or(Errno::EINVAL)? >= at {
        return Ok(Ok(()));
    }
    task.kernel.cpu_timers.arm(&timer, Some(at), Duration::ZERO);
    while !reached.load(Ordering::SeqCst) {
        if let Err(e) = task.waiter().wait(None) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

fn read_timespec(task: &Task, addr: u64) -> Result<Duration, SysErr> {
    task.read_obj::<Timespec>(addr)?
        .to_duration()
        .ok_or(SysErr::Errno(Errno::EINVAL))
}

/// `nanosleep(req, rem)`.
pub fn nanosleep(task: &mut Task) -> SysResult {
    let d = read_timespec(task, task.arg(0))?;
    sleep_until(task, SleepEnd::Wall(Instant::now() + d), task.arg(1))
}

/// `clock_nanosleep(clock, flags, req, rem)`: on a wall clock, or on a process's or
/// another thread's CPU-time clock (never the caller's own thread's: EINVAL, and
/// `CLOCK_THREAD_CPUTIME_ID` has no sleep at all: EOPNOTSUPP, as on Linux).
pub fn clock_nanosleep(task: &mut Task) -> SysResult {
    let (id, flags) = (task.arg(0) as i32, task.arg(1) as i32);
    if id == libc::CLOCK_THREAD_CPUTIME_ID || cpuclock::is_fd_clock(id) {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let clock = clock_of(task, id)?;
    let d = read_timespec(task, task.arg(2))?;
    let absolute = flags & libc::TIMER_ABSTIME != 0;
    let rem = if absolute { 0 } else { task.arg(3) };
    let end = match clock {
        Clock::Cpu(c) if c.is_thread_of(&task.handle) => return Err(Errno::EINVAL.into()),
        Clock::Cpu(c) => {
            let now = c.now().ok_or(Errno::EINVAL)?;
            let at = if absolute { d } else { now + d };
            SleepEnd::Cpu(c, at)
        }
        Clock::Host(host) if absolute => {
            let now = clock_now(&Clock::Host(host))?;
            SleepEnd::Wall(Instant::now() + d.saturating_sub(now))
        }
        Clock::Host(_) => SleepEnd::Wall(Instant::now() + d),
    };
    sleep_until(task, end, rem)
}

/// `restart_syscall()`: resumes an interrupted sleep until its original end.
pub fn restart_syscall(task: &mut Task) -> SysResult {
    match task.restart_deadline.take() {
        Some(end) => sleep_until(task, end, 0),
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

/// The CPU-time interval timer `which` names, if it names one.
fn cpu_itimer(which: i32) -> Option<Itimer> {
    match which {
        libc::ITIMER_VIRTUAL => Some(Itimer::Virtual),
        libc::ITIMER_PROF => Some(Itimer::Prof),
        _ => None,
    }
}

/// `getitimer(which, value)`.
pub fn getitimer(task: &mut Task) -> SysResult {
    let which = task.arg(0) as i32;
    let v = match (which, cpu_itimer(which)) {
        (libc::ITIMER_REAL, _) => itimer_real(task).get(),
        (_, Some(it)) => itimer::get(&task.kernel, &task.process, it),
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
    let old = match (which, cpu_itimer(which)) {
        (libc::ITIMER_REAL, _) => {
            let timer = itimer_real(task);
            task.kernel
                .timers
                .arm(&timer, deadline_after(new.value), new.interval)
        }
        (_, Some(it)) => itimer::set(&task.kernel, &task.process, it, new.value, new.interval),
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

/// `timer_create(clock, sevp, timerid)`: on a wall clock or a CPU-time clock.
pub fn timer_create(task: &mut Task) -> SysResult {
    let clock = task.arg(0) as i32;
    if cpuclock::is_fd_clock(clock) {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let cpu_clock = if cpuclock::is_cpu_clock(clock) {
        Some(CpuClock::from_id(
            &task.kernel,
            &task.process,
            &task.handle,
            clock,
        )?)
    } else {
        check_clock(clock)?;
        None
    };
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
    let action: timer::Action = Box::new(move |n| {
        if let Some(p) = weak.upgrade() {
            on_fire.fire(&p, n);
        }
    });
    let timer = match cpu_clock {
        Some(c) => Clocked::Cpu(task.kernel.cpu_timers.create(c, action)),
        None => Clocked::Wall(task.kernel.timers.create(action)),
    };
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

fn posix_timer(task: &Task, id: i32) -> Result<(Clocked, i32, Arc<Notify>), Errno> {
    let timers = task.process.posix_timers.lock();
    let t = timers.get(&id).ok_or(Errno::EINVAL)?;
    Ok((t.timer.clone(), t.clock, t.notify.clone()))
}

/// `timer_settime(timerid, flags, new, old)`.
pub fn timer_settime(task: &mut Task) -> SysResult {
    let (timer, clock, notify) = posix_timer(task, task.arg(0) as i32)?;
    let new = read_itimerspec(task, task.arg(2))?;
    let absolute = task.arg(1) as i32 & libc::TIMER_ABSTIME != 0;
    let old = match &timer {
        Clocked::Wall(t) => {
            let deadline = settime_deadline(clock, new.value, absolute);
            notify.rearm();
            task.kernel.timers.arm(t, deadline, new.interval)
        }
        Clocked::Cpu(t) => {
            let now = t.clock().now().ok_or(Errno::ESRCH)?;
            let old = timer.get();
            let expires = match (new.value.is_zero(), absolute) {
                (true, _) => None,
                (false, true) => Some(new.value),
                (false, false) => Some(now + new.value),
            };
            notify.rearm();
            task.kernel.cpu_timers.arm(t, expires, new.interval);
            old
        }
    };
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
    t.timer.disarm(&task.kernel);
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
