//! Clocks and sleeping: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
//! clock_nanosleep.

use crate::abi::{Timespec, Timeval, Timezone};
use crate::errno::{SysErr, SysResult};
use crate::kernel::task::Task;
use nix::errno::Errno;
use nix::time::ClockId;
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
