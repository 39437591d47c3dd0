//! Errors of the platform layer.

use nix::errno::Errno;

/// What can go wrong while creating or driving a stub.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A host call failed.
    #[error("{0}: {1}")]
    Errno(&'static str, Errno),
    /// Host I/O failed.
    #[error("{0}: {1}")]
    Io(&'static str, std::io::Error),
    /// The stub process is gone (killed from outside, or exited).
    #[error("stub process died")]
    StubDied,
    /// The stub stopped in a way the tracer did not ask for.
    #[error("unexpected stub stop: {0}")]
    UnexpectedStop(String),
}

impl PlatformError {
    /// Wraps `errno` of the last failed libc call.
    pub(crate) fn host(what: &'static str) -> Self {
        PlatformError::Errno(what, Errno::last())
    }
}
