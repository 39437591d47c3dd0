//! sentry: a userspace kernel that runs unmodified x86_64 Linux programs under
//! `PTRACE_SYSEMU`, answering every syscall itself.
//!
//! Start-up reads top to bottom in [`sandbox`]: parse the command line, open the guest
//! root, resolve the program, create the first task (its stub, its address space, its
//! image), run it. The kernel proper lives in [`kernel`] (tasks, processes, exec) and
//! [`syscalls`] (the table and its handlers); [`abi`] holds the structures the guest
//! exchanges with syscalls, [`errno`] the one mapping from typed errors to errnos.

#![allow(clippy::new_without_default)]

pub mod abi;
pub mod cli;
pub mod dump;
pub mod errno;
pub mod kernel;
pub mod procfs;
pub mod sandbox;
pub mod strace;
pub mod syscalls;
