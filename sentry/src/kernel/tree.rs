//! The process tree: parents and children, process groups, sessions and zombies.
//!
//! One lock guards the whole tree (as Linux's `tasklist_lock` does), so a child's exit,
//! its reparenting and its parent's wait see one consistent picture.

use super::process::{ExitState, Process, TaskHandle};
use super::task::ExitStatus;
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Pid of the sandbox's init, to which orphans are reparented.
pub const INIT_PID: i32 = 1;

/// A process that has exited and not been waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zombie {
    /// How it ended.
    pub status: ExitStatus,
    /// User and system CPU time, in microseconds.
    pub cpu_us: (u64, u64),
}

/// A process's place in the tree.
pub struct Entry {
    /// The process.
    pub process: Arc<Process>,
    /// Parent pid (0 for init).
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// Signal sent to the parent at exit (normally SIGCHLD).
    pub exit_signal: i32,
    /// Set once the process has exec'd (setpgid on it then fails with EACCES).
    pub execed: bool,
    /// Set when it has exited.
    pub zombie: Option<Zombie>,
}

/// What a wait call reports about a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// It exited.
    Exited(Zombie),
    /// It was stopped by this signal.
    Stopped(i32),
    /// It was continued by SIGCONT.
    Continued,
}

/// A stop or continue not yet reported to the parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobReport {
    /// Stopped by this signal.
    Stopped(i32),
    /// Continued.
    Continued,
}

/// Which events a wait call wants.
#[derive(Clone, Copy, Debug, Default)]
pub struct WaitOpts {
    /// Exits (`WEXITED`, implied by wait4).
    pub exited: bool,
    /// Stops (`WUNTRACED`/`WSTOPPED`).
    pub stopped: bool,
    /// Continues (`WCONTINUED`).
    pub continued: bool,
    /// Leave the child waitable (`WNOWAIT`).
    pub keep: bool,
}

/// Which children a wait call accepts.
#[derive(Clone, Copy, Debug)]
pub enum WaitFor {
    /// Any child.
    Any,
    /// The child with this pid.
    Pid(i32),
    /// Any child in this process group.
    Group(i32),
}

/// All processes of the sandbox.
#[derive(Default)]
pub struct ProcTree {
    entries: BTreeMap<i32, Entry>,
}

/// What an exit changed, for the caller to act on outside the lock.
pub struct ExitEffects {
    /// The parent to notify, and with which signal (0: none).
    pub parent: Option<(Arc<Process>, i32)>,
    /// Whether the zombie was reaped at once (the parent ignores SIGCHLD).
    pub autoreaped: bool,
}

impl ProcTree {
    /// Adds a process.
    pub fn insert(
        &mut self,
        process: Arc<Process>,
        ppid: i32,
        pgid: i32,
        sid: i32,
        exit_signal: i32,
    ) {
        let pid = process.pid;
        self.entries.insert(
            pid,
            Entry {
                process,
                ppid,
                pgid,
                sid,
                exit_signal,
                execed: false,
                zombie: None,
            },
        );
    }

    /// The entry for `pid`, zombie or not.
    pub fn get(&self, pid: i32) -> Option<&Entry> {
        self.entries.get(&pid)
    }

    /// The entry for `pid`, mutably.
    pub fn get_mut(&mut self, pid: i32) -> Option<&mut Entry> {
        self.entries.get_mut(&pid)
    }

    /// The live (not zombie) process `pid`.
    pub fn live(&self, pid: i32) -> Option<Arc<Process>> {
        self.entries
            .get(&pid)
            .filter(|e| e.zombie.is_none())
            .map(|e| e.process.clone())
    }

    /// The live thread `tid` and its process.
    pub fn thread(&self, tid: i32) -> Option<(Arc<Process>, Arc<TaskHandle>)> {
        self.entries
            .values()
            .filter(|e| e.zombie.is_none())
            .find_map(|e| {
                let handle = e
                    .process
                    .tasks
                    .lock()
                    .iter()
                    .find(|t| t.tid == tid)
                    .cloned();
                handle.map(|h| (e.process.clone(), h))
            })
    }

    /// Every live process.
    pub fn all_live(&self) -> Vec<Arc<Process>> {
        self.entries
            .values()
            .filter(|e| e.zombie.is_none())
            .map(|e| e.process.clone())
            .collect()
    }

    /// Live members of process group `pgid`.
    pub fn group(&self, pgid: i32) -> Vec<Arc<Process>> {
        self.entries
            .values()
            .filter(|e| e.pgid == pgid && e.zombie.is_none())
            .map(|e| e.process.clone())
            .collect()
    }

    /// Whether any process (zombies included) is in group `pgid` of session `sid`.
    pub fn group_in_session(&self, pgid: i32, sid: i32) -> bool {
        self.entries
            .values()
            .any(|e| e.pgid == pgid && e.sid == sid)
    }

    /// Number of processes, zombies included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Marks `pid` exited with `status`, hands its children to init, and says whom to
    /// notify. A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) never sees the zombie.
    pub fn exit(&mut self, pid: i32, zombie: Zombie) -> ExitEffects {
        for e in self.entries.values_mut() {
            if e.ppid == pid {
                e.ppid = INIT_PID;
            }
        }
        let Some(entry) = self.entries.get_mut(&pid) else {
            return ExitEffects {
                parent: None,
                autoreaped: false,
            };
        };
        entry.zombie = Some(zombie);
        entry.process.set_exit_state(ExitState::Zombie);
        let (ppid, sig) = (entry.ppid, entry.exit_signal);
        let parent = self.live(ppid);
        let autoreap = match &parent {
            None => true,
            Some(p) => {
                let act = p.sigactions.lock()[libc::SIGCHLD as usize - 1];
                act.handler == super::signal::SIG_IGN || act.flags & libc::SA_NOCLDWAIT as u64 != 0
            }
        };
        if autoreap {
            self.reap(pid);
        }
        ExitEffects {
            parent: parent.map(|p| (p, sig)),
            autoreaped: autoreap,
        }
    }

    /// Children of `parent` that `which` selects.
    fn selected(&self, parent: i32, which: WaitFor) -> impl Iterator<Item = &Entry> {
        self.entries.values().filter(move |e| {
            e.ppid == parent
                && match which {
                    WaitFor::Any => true,
                    WaitFor::Pid(p) => e.process.pid == p,
                    WaitFor::Group(g) => e.pgid == g,
                }
        })
    }

    /// The first selected child with something to report that `opts` asks for:
    /// `Ok(Some)`; nothing yet: `Ok(None)`; no selected child at all: `ECHILD`. An exit is
    /// consumed (the zombie reaped) and a stop or continue report cleared unless
    /// `opts.keep`.
    pub fn wait(
        &mut self,
        parent: i32,
        which: WaitFor,
        opts: WaitOpts,
    ) -> Result<Option<(i32, Report)>, Errno> {
        let mut any = false;
        let mut found = None;
        for e in self.selected(parent, which) {
            any = true;
            if let Some(z) = e.zombie {
                if opts.exited {
                    found = Some((e.process.pid, Report::Exited(z)));
                    break;
                }
                continue;
            }
            let mut jc = e.process.job.lock();
            let report = match jc.report {
                Some(JobReport::Stopped(sig)) if opts.stopped => Some(Report::Stopped(sig)),
                Some(JobReport::Continued) if opts.continued => Some(Report::Continued),
                _ => None,
            };
            if let Some(r) = report {
                if !opts.keep {
                    jc.report = None;
                }
                found = Some((e.process.pid, r));
                break;
            }
        }
        if !any {
            return Err(Errno::ECHILD);
        }
        if let Some((pid, Report::Exited(_))) = found
            && !opts.keep
        {
            self.reap(pid);
        }
        Ok(found)
    }

    /// Forgets `pid` (a process that never started running).
    pub fn remove(&mut self, pid: i32) {
        self.reap(pid);
    }

    /// Removes `pid`'s entry: the process is gone for good.
    fn reap(&mut self, pid: i32) {
        if let Some(e) = self.entries.remove(&pid) {
            e.process.set_exit_state(ExitState::Reaped);
        }
    }
}
