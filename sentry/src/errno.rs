//! Syscall errors, and the one place where the lower layers' typed errors become errnos.

use crate::kernel::seccomp::SeccompError;
use loader::LoadError;
use mm::MmError;
use nix::errno::Errno;
use platform::PlatformError;

/// Why a syscall did not return a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysErr {
    /// Fail with this errno.
    Errno(Errno),
    /// Fail with `EINTR`, never restarted whatever the handler's `SA_RESTART`: a wait
    /// bounded by a socket timeout that a signal ended (Linux's `sock_intr_errno`).
    Interrupted,
}

/// What a syscall handler returns: the value for `rax`, or why not.
pub type SysResult = Result<u64, SysErr>;

impl SysErr {
    /// The errno the guest sees.
    pub fn errno(self) -> Errno {
        match self {
            SysErr::Errno(e) => e,
            SysErr::Interrupted => Errno::EINTR,
        }
    }
}

impl From<Errno> for SysErr {
    fn from(e: Errno) -> Self {
        SysErr::Errno(e)
    }
}

/// The errno for an address-space error.
pub fn mm_errno(e: MmError) -> Errno {
    match e {
        MmError::NoMem => Errno::ENOMEM,
        MmError::Invalid => Errno::EINVAL,
        MmError::Fault => Errno::EFAULT,
        MmError::Exists => Errno::EEXIST,
        MmError::Perm => Errno::EPERM,
        MmError::Access => Errno::EACCES,
        MmError::TooLong => Errno::ENAMETOOLONG,
        MmError::File(e) => e,
        MmError::Host(what, e) => {
            log::warn!("host address-space change failed: {what}: {e}");
            Errno::ENOMEM
        }
    }
}

impl From<MmError> for SysErr {
    fn from(e: MmError) -> Self {
        SysErr::Errno(mm_errno(e))
    }
}

impl From<LoadError> for SysErr {
    fn from(e: LoadError) -> Self {
        SysErr::Errno(e.errno())
    }
}

impl From<SeccompError> for SysErr {
    fn from(e: SeccompError) -> Self {
        SysErr::Errno(match e {
            SeccompError::Invalid => Errno::EINVAL,
            SeccompError::NeedsNoNewPrivs => Errno::EACCES,
            SeccompError::TooLong => Errno::ENOMEM,
            SeccompError::CannotSync => Errno::ESRCH,
            SeccompError::UnknownAction => Errno::EOPNOTSUPP,
        })
    }
}

impl From<PlatformError> for SysErr {
    fn from(e: PlatformError) -> Self {
        log::warn!("platform error: {e}");
        SysErr::Errno(Errno::EFAULT)
    }
}

/// The symbolic name of an errno (`ENOENT`), as strace prints it.
pub fn errno_name(e: Errno) -> String {
    format!("{e:?}")
}
