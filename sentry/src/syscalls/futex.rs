//! `futex`: the wait/wake primitive under pthread mutexes, condition variables and joins.

use crate::abi::Timespec;
use crate::errno::{SysErr, SysResult};
use crate::kernel::futex::{BITSET_ALL, WaitError};
use crate::kernel::task::Task;
use nix::errno::Errno;
use std::time::{Duration, Instant};

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_CLOCK_REALTIME: u64 = 256;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CMD_MASK: u64 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);

fn wait_error(e: WaitError) -> SysErr {
    match e {
        WaitError::Changed => Errno::EAGAIN.into(),
        WaitError::Mm(m) => m.into(),
        WaitError::Errno(e) => e.into(),
    }
}

/// The deadline for a timeout argument: relative, or absolute on the given clock.
fn deadline(
    task: &Task,
    addr: u64,
    absolute: bool,
    realtime: bool,
) -> Result<Option<Instant>, SysErr> {
    if addr == 0 {
        return Ok(None);
    }
    let ts: Timespec = task.read_obj(addr)?;
    let d = ts.to_duration().ok_or(Errno::EINVAL)?;
    if !absolute {
        return Ok(Some(Instant::now() + d));
    }
    let clock = if realtime {
        nix::time::ClockId::CLOCK_REALTIME
    } else {
        nix::time::ClockId::CLOCK_MONOTONIC
    };
    let now = nix::time::clock_gettime(clock)?;
    let now = Duration::new(now.tv_sec().max(0) as u64, now.tv_nsec() as u32);
    Ok(Some(Instant::now() + d.saturating_sub(now)))
}

/// `futex(uaddr, op, val, timeout|val2, uaddr2, val3)`.
pub fn futex(task: &mut Task) -> SysResult {
    let (addr, op, val, arg4, addr2, val3) = (
        task.arg(0),
        task.arg(1),
        task.arg(2) as u32,
        task.arg(3),
        task.arg(4),
        task.arg(5) as u32,
    );
    let cmd = op & FUTEX_CMD_MASK;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    if realtime && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT {
        return Err(Errno::ENOSYS.into());
    }
    let mm = task.mm();
    let futexes = &task.kernel.futexes;
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT { BITSET_ALL } else { val3 };
            if bitset == 0 {
                return Err(Errno::EINVAL.into());
            }
            let deadline = deadline(task, arg4, cmd == FUTEX_WAIT_BITSET, realtime)?;
            futexes
                .wait(&mm, addr, private, val, bitset, task.waiter(), deadline)
                .map_err(wait_error)?;
            Ok(0)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE { BITSET_ALL } else { val3 };
            if bitset == 0 {
                return Err(Errno::EINVAL.into());
            }
            Ok(futexes.wake(&mm, addr, private, val as usize, bitset)? as u64)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let cmp = (cmd == FUTEX_CMP_REQUEUE).then_some(val3);
            let n = futexes
                .requeue(
                    &mm,
                    (addr, addr2),
                    private,
                    val as usize,
                    arg4 as u32 as usize,
                    cmp,
                )
                .map_err(wait_error)?;
            Ok(n as u64)
        }
        FUTEX_WAKE_OP => {
            let n = futexes
                .wake_op(
                    &mm,
                    (addr, addr2),
                    private,
                    val as usize,
                    arg4 as u32 as usize,
                    val3,
                )
                .map_err(wait_error)?;
            Ok(n as u64)
        }
        _ => Err(Errno::ENOSYS.into()),
    }
}
