//! `seccomp(2)` and the seccomp options of `prctl` (`PR_SET_SECCOMP`, `PR_GET_SECCOMP`):
//! reading the guest's arguments and programs, and Linux's checks in Linux's order. The
//! filters themselves are [`crate::kernel::seccomp`].
//!
//! The sentry has no user notification and answers as a kernel before it (Linux 5.0):
//! `SECCOMP_FILTER_FLAG_NEW_LISTENER` (and `WAIT_KILLABLE_RECV`, which needs it) is an
//! unknown flag, EINVAL; `SECCOMP_GET_NOTIF_SIZES` an unknown operation, EINVAL;
//! `SECCOMP_GET_ACTION_AVAIL` does not know `SECCOMP_RET_USER_NOTIF` (EOPNOTSUPP).

use crate::abi::{SockFilter, SockFprog};
use crate::errno::SysResult;
use crate::kernel::seccomp::{self, Program, SeccompError};
use crate::kernel::task::Task;

/// `SECCOMP_SET_MODE_STRICT`.
const SET_MODE_STRICT: u32 = 0;
/// `SECCOMP_SET_MODE_FILTER`.
const SET_MODE_FILTER: u32 = 1;
/// `SECCOMP_GET_ACTION_AVAIL`.
const GET_ACTION_AVAIL: u32 = 2;

/// `SECCOMP_MODE_STRICT` for `prctl(PR_SET_SECCOMP)`.
const MODE_STRICT: u64 = 1;
/// `SECCOMP_MODE_FILTER` for `prctl(PR_SET_SECCOMP)`.
const MODE_FILTER: u64 = 2;

/// The filter flags the sentry knows (all of Linux's but the user-notification ones).
const KNOWN_FLAGS: u32 =
    seccomp::FLAG_TSYNC | seccomp::FLAG_LOG | seccomp::FLAG_SPEC_ALLOW | seccomp::FLAG_TSYNC_ESRCH;

/// `seccomp(op, flags, args)`.
pub fn seccomp(task: &mut Task) -> SysResult {
    do_seccomp(task, task.arg(0) as u32, task.arg(1) as u32, task.arg(2))
}

/// `prctl(PR_SET_SECCOMP, mode, filter)`: strict mode (the filter ignored) or a filter,
/// as `seccomp(2)` without flags.
pub fn prctl_set_seccomp(task: &mut Task, mode: u64, filter: u64) -> SysResult {
    match mode {
        MODE_STRICT => do_seccomp(task, SET_MODE_STRICT, 0, 0),
        MODE_FILTER => do_seccomp(task, SET_MODE_FILTER, 0, filter),
        _ => Err(SeccompError::Invalid.into()),
    }
}

/// `prctl(PR_GET_SECCOMP)`: the calling thread's mode (it cannot ask in strict mode,
/// where prctl itself is fatal).
pub fn prctl_get_seccomp(task: &mut Task) -> SysResult {
    Ok(task.handle.seccomp.mode() as u64)
}

fn do_seccomp(task: &mut Task, op: u32, flags: u32, args: u64) -> SysResult {
    match op {
        SET_MODE_STRICT if flags == 0 && args == 0 => {
            seccomp::set_strict(&task.process, &task.handle)?;
            // Strict mode also makes `rdtsc` fault, as Linux's disable_TSC.
            if let Err(e) = task.stub.syscall(
                libc::SYS_prctl,
                &[libc::PR_SET_TSC as u64, libc::PR_TSC_SIGSEGV as u64],
            ) {
                log::warn!("task {}: disabling rdtsc: {e}", task.tid);
            }
            Ok(0)
        }
        SET_MODE_FILTER => set_mode_filter(task, flags, args),
        GET_ACTION_AVAIL if flags == 0 => {
            let action: u32 = task.read_obj(args)?;
            seccomp::action_available(action)?;
            Ok(0)
        }
        _ => Err(SeccompError::Invalid.into()),
    }
}

/// `SECCOMP_SET_MODE_FILTER`: the checks of Linux's `seccomp_set_mode_filter` and
/// `seccomp_prepare_filter`, in their order: flags, the `sock_fprog` (EFAULT), its length,
/// `no_new_privs` or `CAP_SYS_ADMIN` (EACCES), the instructions (EFAULT), the program.
fn set_mode_filter(task: &mut Task, flags: u32, args: u64) -> SysResult {
    if flags & !KNOWN_FLAGS != 0 {
        return Err(SeccompError::Invalid.into());
    }
    let fprog: SockFprog = task.read_obj(args)?;
    let len = usize::from(fprog.len);
    if len == 0 || len > seccomp::MAX_INSNS {
        return Err(SeccompError::Invalid.into());
    }
    if !task.handle.no_new_privs() && !task.process.creds.lock().has_all_caps() {
        return Err(SeccompError::NeedsNoNewPrivs.into());
    }
    let mut insns = vec![SockFilter::default(); len];
    task.mm().read(
        fprog.filter,
        zerocopy::IntoBytes::as_mut_bytes(&mut insns[..]),
    )?;
    let program = Program::new(&insns).map_err(SeccompError::from)?;
    Ok(seccomp::install_filter(
        &task.process,
        &task.handle,
        program,
        flags,
    )?)
}
