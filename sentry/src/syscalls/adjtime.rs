//! `adjtimex` and `clock_adjtime`: the guest may read the host clock's discipline (NTP
//! state, tick, frequency), which any unprivileged process may; changing it is `EPERM`, as
//! for a process without `CAP_SYS_TIME` (and as gVisor answers), since the clock is the
//! host's.

use crate::errno::SysResult;
use crate::kernel::task::Task;
use nix::errno::Errno;
use platform::host::{ADJ_OFFSET_SS_READ, TIMEX_SIZE, adjtimex_read};

/// `ADJ_ADJTIME`: the `adjtime(3)` single-shot forms.
const ADJ_ADJTIME: u32 = 0x8000;
/// `ADJ_OFFSET_SINGLESHOT`.
const ADJ_OFFSET_SINGLESHOT: u32 = 0x8001;

/// `adjtimex(buf)`.
pub fn adjtimex(task: &mut Task) -> SysResult {
    adjust(task, task.arg(0))
}

/// `clock_adjtime(clock, buf)`: `CLOCK_REALTIME` is `adjtimex`; other valid clocks cannot
/// be adjusted (`EOPNOTSUPP`), unknown ones are `EINVAL`.
pub fn clock_adjtime(task: &mut Task) -> SysResult {
    match task.arg(0) as i32 {
        libc::CLOCK_REALTIME => adjust(task, task.arg(1)),
        0..=9 | libc::CLOCK_TAI => Err(Errno::EOPNOTSUPP.into()),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// Reads (or refuses to change) the clock discipline through the `struct timex` at `addr`,
/// with Linux's checks: `EFAULT`, then `EINVAL` for `ADJ_ADJTIME` without the single-shot
/// bits, then `EPERM` for any change.
fn adjust(task: &Task, addr: u64) -> SysResult {
    let mut timex: [u8; TIMEX_SIZE] = task.read_obj(addr)?;
    let modes = u32::from_ne_bytes(timex[..4].try_into().expect("4 bytes"));
    if modes & ADJ_ADJTIME != 0 && modes & ADJ_OFFSET_SINGLESHOT != ADJ_OFFSET_SINGLESHOT {
        return Err(Errno::EINVAL.into());
    }
    let read_only = modes == 0 || modes == ADJ_OFFSET_SS_READ;
    if !read_only {
        return Err(Errno::EPERM.into());
    }
    let state = adjtimex_read(&mut timex, modes)?;
    task.write_obj(addr, &timex)?;
    Ok(state as u64)
}
