//! The guest's files: the VFS, open files, fd tables, and synthetic filesystems.
//!
//! - [`vfs`]: dentries, the mount table and the path walk that keeps every lookup inside
//!   the guest's root.
//! - [`inode`]: the [`Inode`] trait each filesystem implements; [`host`] backs it with host
//!   directories, [`synth`] and [`dev`] with sentry objects.
//! - [`file`]: open file descriptions and the [`FileOps`] trait; [`fdtable`]: fd numbers.
//! - [`pipe`], [`eventfd`], [`epoll`]: sentry-side files with their own blocking rules.
//! - [`wait`]: wait queues and the interruptible [`Waiter`] every blocking call takes.
//! - [`xattr`]: extended attributes of in-memory objects.
//! - [`memfd`]: memfds and their seals.
//! - [`lock`]: advisory file locks (POSIX, OFD and `flock`), the sandbox's lock table.
//! - [`notify`]: inotify watches and the events the VFS operations raise.
//!
//! Errors are Linux errnos ([`Errno`]): every operation here is one a syscall performs.
//! This crate knows nothing of guest memory or tasks; the sentry copies buffers in and out.

pub mod dev;
pub mod epoll;
pub mod eventfd;
pub mod fdtable;
pub mod file;
pub mod host;
pub mod inode;
pub mod lock;
pub mod memfd;
pub mod notify;
pub mod overlay;
pub mod pipe;
pub mod pty;
pub mod socket;
pub mod synth;
pub mod tmpfs;
pub mod vfs;
pub mod wait;
pub mod xattr;

pub use fdtable::{FdEntry, FdTable};
pub use file::{FileOps, MapKind, OpenFile, PollEvents};
pub use inode::{FileType, Inode, SetAttr, Stat, StatFs, Time, TimeChange};
pub use nix::errno::Errno;
pub use vfs::{Dentry, Lookup, Resolve, Vfs, WalkCtx};
pub use wait::{WaitQueue, Waiter};

/// Result of file operations.
pub type Result<T> = std::result::Result<T, Errno>;
