//! Errors of address-space operations. The sentry maps them to errnos in one place.

use nix::errno::Errno;

/// Why an address-space operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MmError {
    /// Out of address space or memory (ENOMEM).
    #[error("out of memory or address space")]
    NoMem,
    /// Bad alignment, length or flags (EINVAL).
    #[error("invalid argument")]
    Invalid,
    /// A guest address that is not mapped with the needed access (EFAULT).
    #[error("bad guest address")]
    Fault,
    /// MAP_FIXED_NOREPLACE over an existing mapping (EEXIST).
    #[error("range already mapped")]
    Exists,
    /// Writable shared access to a file not opened for writing (EACCES).
    #[error("file not opened for writing")]
    Access,
    /// A fixed mapping below the minimum address (EPERM).
    #[error("address below mmap_min_addr")]
    Perm,
    /// A guest string longer than allowed (ENAMETOOLONG or E2BIG, by caller).
    #[error("string too long")]
    TooLong,
    /// Reading the file behind a mapping failed.
    #[error("reading mapped file: {0}")]
    File(Errno),
    /// A host call failed.
    #[error("{0}: {1}")]
    Host(&'static str, Errno),
}
