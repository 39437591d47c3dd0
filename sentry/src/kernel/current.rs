//! Which task the calling sentry thread runs: each task has its own sentry thread, so
//! file objects that answer "for the caller" (`/proc/self`, signalfd) look it up here.

use super::process::{Process, TaskHandle};
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    static CURRENT: RefCell<Option<(Arc<Process>, Arc<TaskHandle>)>> = const { RefCell::new(None) };
}

/// Records that the calling sentry thread runs `handle`'s task of `process`.
pub fn set(process: &Arc<Process>, handle: &Arc<TaskHandle>) {
    CURRENT.with(|c| *c.borrow_mut() = Some((process.clone(), handle.clone())));
}

/// The calling thread's process and task, if it runs one.
pub fn get() -> Option<(Arc<Process>, Arc<TaskHandle>)> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The calling thread's process id (0 outside a task).
pub fn pid() -> i32 {
    CURRENT.with(|c| c.borrow().as_ref().map_or(0, |(p, _)| p.pid))
}
