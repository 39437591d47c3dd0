//! `futex`: the wait/wake primitive under pthread mutexes, condition variables and joins;
//! `futex_waitv`, waiting on several words at once (Wine, Proton, some runtimes).

use crate::abi::Timespec;
use crate::errno::{SysErr, SysResult};
use crate::kernel::futex::{BITSET_ALL, WaitError, Word};
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

/// Most words one `futex_waitv` waits on (`FUTEX_WAITV_MAX`).
const FUTEX_WAITV_MAX: u64 = 128;
/// `FUTEX2_SIZE_U32`: the only word size futexes have here (and in Linux's waitv).
const FUTEX2_SIZE_U32: u32 = 0x02;
/// `FUTEX2_SIZE_MASK`.
const FUTEX2_SIZE_MASK: u32 = 0x03;
/// `FUTEX2_PRIVATE`.
const FUTEX2_PRIVATE: u32 = 128;

/// `futex_waitv(waiters, nr, flags, timeout, clockid)`: waits on up to 128 32-bit words at
/// once (`struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 reserved; }`) until
/// one is woken, whose index is the result; the timeout is absolute on `CLOCK_MONOTONIC`
/// or `CLOCK_REALTIME`.
pub fn futex_waitv(task: &mut Task) -> SysResult {
    let (addr, nr, flags, timeout, clock) = (
        task.arg(0),
        task.arg(1) as u32 as u64,
        task.arg(2) as u32,
        task.arg(3),
        task.arg(4) as i32,
    );
    if flags != 0 || nr == 0 || nr > FUTEX_WAITV_MAX {
        return Err(Errno::EINVAL.into());
    }
    let deadline = if timeout == 0 {
        None
    } else {
        let realtime = match clock {
            libc::CLOCK_REALTIME => true,
            libc::CLOCK_MONOTONIC => false,
            _ => return Err(Errno::EINVAL.into()),
        };
        deadline(task, timeout, true, realtime)?
    };
    let raw: Vec<[u64; 3]> = (0..nr)
        .map(|i| task.read_obj(addr + i * 24))
        .collect::<Result<_, _>>()?;
    let words = raw
        .iter()
        .map(|&[val, uaddr, flags_reserved]| {
            let (wflags, reserved) = (flags_reserved as u32, (flags_reserved >> 32) as u32);
            if wflags & !(FUTEX2_SIZE_MASK | FUTEX2_PRIVATE) != 0
                || wflags & FUTEX2_SIZE_MASK != FUTEX2_SIZE_U32
                || reserved != 0
            {
                return Err(Errno::EINVAL);
            }
            Ok(Word {
                addr: uaddr,
                private: wflags & FUTEX2_PRIVATE != 0,
                val: u32::try_from(val).map_err(|_| Errno::EINVAL)?,
                bitset: BITSET_ALL,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let i = task
        .kernel
        .futexes
        .wait_any(&task.mm(), &words, task.waiter(), deadline)
        .map_err(wait_error)?;
    Ok(i as u64)
}
