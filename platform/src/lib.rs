//! The host side of a guest: stub processes driven with `PTRACE_SYSEMU`.
//!
//! A guest address space lives in a host *stub* process started by `execveat` of a tiny
//! static image carried inside the sentry ([`stub`]). The sentry thread that creates a stub
//! is its tracer; it runs guest code with [`StubThread::switch`] until the next syscall,
//! fault or interruption, and changes the stub's address space only by injecting host
//! syscalls at the stub's gadget ([`StubThread::syscall`]). A seccomp filter in the stub
//! kills it if a host syscall ever comes from anywhere else.
//!
//! This crate knows the raw x86_64 ABI (registers, signals, syscall numbers) and nothing
//! of Linux semantics above it: it never decides what a guest syscall means.

mod cpu;
mod error;
pub mod host;
pub mod hostsock;
mod regs;
mod seccomp;
mod spawn;
pub mod stub;
mod thread;

pub use error::PlatformError;
pub use regs::{FpState, Regs, initial_fpstate, zeroed_regs};
pub use spawn::{STUB_MEMFD, spawn};
pub use stub::{GUEST_TOP, STUB_BASE};
pub use thread::{Event, FaultInfo, HostMapper, Kicker, StubThread};

/// ptrace options of every stub thread: killed with its tracer, syscall stops marked,
/// and vsyscall calls (`SECCOMP_RET_TRACE` in the stub filter) stopped for the sentry.
const TRACE_OPTIONS: nix::sys::ptrace::Options = nix::sys::ptrace::Options::PTRACE_O_EXITKILL
    .union(nix::sys::ptrace::Options::PTRACE_O_TRACESYSGOOD)
    .union(nix::sys::ptrace::Options::PTRACE_O_TRACESECCOMP);

/// Protection bits as the host's `mmap`/`mprotect` take them (`PROT_*`).
pub type Prot = i32;
