//! Pseudo-terminals, all inside the sentry (Linux's devpts and `pty.c`): `/dev/ptmx`
//! makes a new pty and returns its master; `/dev/pts/N` (listed while the master is
//! open) opens its replica once unlocked. The [`ldisc`] sits between the two.
//!
//! - Master reads take the replica's output; once every replica has closed they fail
//!   with `EIO` (when nothing is left). Master writes are the replica's input, kept
//!   whether or not a replica is open.
//! - Closing the master hangs the replica up: its reads return 0 (a read blocked at that
//!   moment fails with `EIO`), its writes and ioctls fail with `EIO`, and the session
//!   whose controlling terminal it is gets told through its [`JobControl`].
//! - The session, foreground process group and controlling-terminal rules are the
//!   sentry's: this module only stores the pty's session and group and raises signals
//!   through the [`JobControl`] the sentry installed.

pub mod ldisc;
pub mod termios;

use crate::Result;
use crate::file::{FileOps, OpenFile, PollEvents};
use crate::inode::{FileType, Inode, Stat, StatFs};
use crate::synth::{DynDir, next_ino, synth_stat, synth_statfs};
use crate::wait::{WaitQueue, Waiter};
use ldisc::{Ldisc, OUTPUT_CAP};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use termios::{Termios, Winsize};

/// Major device number of pty replicas (`UNIX98_PTY_SLAVE_MAJOR`).
const REPLICA_MAJOR: u64 = 136;

/// What the kernel does for a pty's session: signals to process groups, hangups.
pub trait JobControl: Send + Sync {
    /// Sends `sig` to every process of group `pgrp`.
    fn signal_group(&self, pgrp: i32, sig: i32);
    /// The terminal of session `sid` hung up: its processes lose it and its leader gets
    /// SIGHUP and SIGCONT.
    fn hangup(&self, sid: i32);
}

/// The open ptys, by index.
#[derive(Default)]
struct Registry {
    ptys: Mutex<BTreeMap<u32, Weak<Pty>>>,
}

impl Registry {
    /// The ptys whose master is open, as `/dev/pts` lists them.
    fn listed(&self) -> Vec<Arc<Pty>> {
        // Upgraded under the lock, filtered after it: a pty whose last reference is one
        // of these goes (and leaves the registry) once the lock is free.
        let ptys: Vec<Arc<Pty>> = self
            .ptys
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        ptys.into_iter()
            .filter(|p| p.state.lock().master_open)
            .collect()
    }
}

struct State {
    termios: Termios,
    winsize: Winsize,
    ld: Ldisc,
    locked: bool,
    replicas: usize,
    replica_opened: bool,
    master_open: bool,
    session: i32,
    pgrp: i32,
    job: Option<Arc<dyn JobControl>>,
}

impl State {
    /// Every replica has closed since one opened (Linux's `TTY_OTHER_CLOSED` on the
    /// master).
    fn replica_gone(&self) -> bool {
        self.replica_opened && self.replicas == 0
    }
}

/// One pseudo-terminal: both ends' shared state.
pub struct Pty {
    index: u32,
    ino: u64,
    state: Mutex<State>,
    queue: WaitQueue,
    registry: Arc<Registry>,
}

/// Which end of a pty a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The master (`/dev/ptmx`).
    Master,
    /// The replica (`/dev/pts/N`).
    Replica,
}

impl Pty {
    /// The pty behind `file` and which end `file` is.
    pub fn of(file: &OpenFile) -> Option<(&Arc<Pty>, Side)> {
        let any = file.ops.any()?;
        if let Some(m) = any.downcast_ref::<MasterFile>() {
            return Some((&m.pty, Side::Master));
        }
        any.downcast_ref::<ReplicaFile>()
            .map(|r| (&r.pty, Side::Replica))
    }

    /// Its number (`TIOCGPTN`, the `N` of `/dev/pts/N`).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The replica's path.
    pub fn path(&self) -> String {
        format!("/dev/pts/{}", self.index)
    }

    fn replica_stat(&self) -> Stat {
        let rdev = nix::sys::stat::makedev(REPLICA_MAJOR, u64::from(self.index));
        synth_stat(self.ino, libc::S_IFCHR | 0o620, rdev, 0)
    }

    /// Opens the replica: `EIO` while locked or once the master has closed. `node` is
    /// the node it was opened through when that is not `/dev/pts/N` (`/dev/tty`), which
    /// `fstat` shows.
    pub fn open_replica(self: &Arc<Self>, how: ReplicaOpen) -> Result<Box<dyn FileOps>> {
        let mut st = self.state.lock();
        if st.locked || !st.master_open {
            return Err(Errno::EIO);
        }
        st.replicas += 1;
        st.replica_opened = true;
        drop(st);
        self.queue.notify_all();
        Ok(Box::new(ReplicaFile {
            pty: self.clone(),
            how,
        }))
    }

    /// Whether the master has closed (the replica is hung up).
    pub fn hung_up(&self) -> bool {
        !self.state.lock().master_open
    }

    /// Whether the replica is locked (`TIOCGPTLCK`).
    pub fn locked(&self) -> bool {
        self.state.lock().locked
    }

    /// Locks or unlocks the replica (`TIOCSPTLCK`).
    pub fn set_locked(&self, locked: bool) {
        self.state.lock().locked = locked;
    }

    /// The terminal settings, shared by both ends.
    pub fn termios(&self) -> Termios {
        self.state.lock().termios
    }

    /// Changes the settings (`TCSETS*`); `flush` discards unread input first
    /// (`TCSETSF`).
    pub fn set_termios(&self, new: Termios, flush: bool) {
        let mut st = self.state.lock();
        if flush {
            st.ld.flush_input();
        }
        let old = st.termios;
        st.ld.set_termios(&old, &new);
        st.termios = new;
        drop(st);
        self.queue.notify_all();
    }

    /// The window size.
    pub fn winsize(&self) -> Winsize {
        self.state.lock().winsize
    }

    /// Sets the window size; SIGWINCH goes to the foreground group if it changed.
    pub fn set_winsize(&self, ws: Winsize) {
        let mut st = self.state.lock();
        if st.winsize == ws {
            return;
        }
        st.winsize = ws;
        let (job, pgrp) = (st.job.clone(), st.pgrp);
        drop(st);
        if let Some(job) = job.filter(|_| pgrp > 0) {
            job.signal_group(pgrp, libc::SIGWINCH);
        }
    }

    /// The session whose controlling terminal this is (0: none).
    pub fn session(&self) -> i32 {
        self.state.lock().session
    }

    /// The foreground process group (0: none).
    pub fn pgrp(&self) -> i32 {
        self.state.lock().pgrp
    }

    /// Sets the foreground process group (`TIOCSPGRP`).
    pub fn set_pgrp(&self, pgrp: i32) {
        self.state.lock().pgrp = pgrp;
    }

    /// Makes this the controlling terminal of session `sid` with foreground group
    /// `pgrp`, whose signals `job` raises; session 0 detaches it.
    pub fn set_session(&self, sid: i32, pgrp: i32, job: Option<Arc<dyn JobControl>>) {
        let mut st = self.state.lock();
        st.session = sid;
        st.pgrp = pgrp;
        st.job = job;
    }

    /// Discards unread input and/or output as `TCFLSH` on `side` asks: input is what
    /// that end reads, output what it wrote and the other end has not read.
    pub fn flush(&self, side: Side, input: bool, output: bool) {
        let mut st = self.state.lock();
        let (replica_in, master_in) = match side {
            Side::Replica => (input, output),
            Side::Master => (output, input),
        };
        if replica_in {
            st.ld.flush_input();
        }
        if master_in {
            st.ld.out.clear();
        }
        drop(st);
        self.queue.notify_all();
    }

    /// Bytes a read on `side` would find (`FIONREAD`).
    pub fn readable_bytes(&self, side: Side) -> usize {
        let st = self.state.lock();
        match side {
            Side::Master => st.ld.out.len(),
            Side::Replica => st.ld.input_bytes(&st.termios),
        }
    }

    fn master_closed(&self) {
        let mut st = self.state.lock();
        st.master_open = false;
        let (job, sid) = (st.job.take(), st.session);
        st.session = 0;
        st.pgrp = 0;
        drop(st);
        self.queue.notify_all();
        if let Some(job) = job.filter(|_| sid > 0) {
            job.hangup(sid);
        }
    }
}

impl Pty {
    /// A write that moved `done` bytes and has more: `Some` result to return (EAGAIN, or
    /// what was done, for a nonblocking file; an interrupted wait), `None` once `full`
    /// no longer holds and the write goes on.
    fn wait_for_room(
        &self,
        w: &Arc<Waiter>,
        done: usize,
        nonblock: bool,
        full: impl Fn(&State) -> bool,
    ) -> Option<Result<usize>> {
        if nonblock {
            return Some(if done > 0 {
                Ok(done)
            } else {
                Err(Errno::EAGAIN)
            });
        }
        let _reg = self.queue.register(w);
        if !full(&self.state.lock()) {
            return None;
        }
        match w.wait(None) {
            Ok(()) => None,
            Err(e) if done == 0 => Some(Err(e)),
            Err(_) => Some(Ok(done)),
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.registry.ptys.lock().remove(&self.index);
    }
}

/// An open master.
struct MasterFile {
    pty: Arc<Pty>,
    stat: Stat,
}

impl Drop for MasterFile {
    fn drop(&mut self) {
        self.pty.master_closed();
    }
}

impl FileOps for MasterFile {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pty = &self.pty;
        loop {
            {
                let mut st = pty.state.lock();
                if !st.ld.out.is_empty() {
                    let n = buf.len().min(st.ld.out.len());
                    for (d, s) in buf.iter_mut().zip(st.ld.out.drain(..n)) {
                        *d = s;
                    }
                    drop(st);
                    pty.queue.notify_all();
                    return Ok(n);
                }
                if st.replica_gone() {
                    return Err(Errno::EIO);
                }
                if nonblock {
                    return Err(Errno::EAGAIN);
                }
            }
            let _reg = pty.queue.register(w);
            {
                let st = pty.state.lock();
                if !st.ld.out.is_empty() || st.replica_gone() {
                    continue;
                }
            }
            w.wait(None)?;
        }
    }

    fn write(&self, w: &Arc<Waiter>, data: &[u8], nonblock: bool) -> Result<usize> {
        let pty = &self.pty;
        let mut done = 0;
        loop {
            let mut signals = Vec::new();
            let (job, pgrp) = {
                let mut st = pty.state.lock();
                let t = st.termios;
                st.ld.begin_batch();
                while done < data.len() && !st.ld.input_full(&t) {
                    signals.extend(st.ld.input(&t, data[done]));
                    done += 1;
                }
                (st.job.clone(), st.pgrp)
            };
            pty.queue.notify_all();
            if let Some(job) = job.filter(|_| pgrp > 0) {
                for sig in signals {
                    job.signal_group(pgrp, sig);
                }
            }
            if done == data.len() {
                return Ok(done);
            }
            if let Some(r) =
                pty.wait_for_room(w, done, nonblock, |st| st.ld.input_full(&st.termios))
            {
                return r;
            }
        }
    }

    fn stat(&self) -> Result<Stat> {
        Ok(self.stat)
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        let st = self.pty.state.lock();
        let mut r = 0;
        if !st.ld.out.is_empty() {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if st.replica_gone() {
            r |= libc::POLLHUP;
        }
        if !st.ld.input_full(&st.termios) {
            r |= libc::POLLOUT | libc::POLLWRNORM;
        }
        r & (events | libc::POLLERR | libc::POLLHUP)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.queue)
    }

    fn readable_bytes(&self) -> Result<usize> {
        Ok(self.pty.readable_bytes(Side::Master))
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// How a replica is opened.
#[derive(Clone, Copy, Debug)]
pub enum ReplicaOpen {
    /// Through `/dev/pts/N`.
    Node,
    /// By `TIOCGPTPEER`, without a path of its own.
    Peer,
    /// Through another device node (`/dev/tty`), whose attributes `fstat` shows.
    Alias(Stat),
}

/// An open replica.
struct ReplicaFile {
    pty: Arc<Pty>,
    how: ReplicaOpen,
}

impl Drop for ReplicaFile {
    fn drop(&mut self) {
        self.pty.state.lock().replicas -= 1;
        self.pty.queue.notify_all();
    }
}

impl ReplicaFile {
    /// How long a non-canonical read may wait, and whether it can return now with what
    /// is there: Linux's `VMIN`/`VTIME` rules.
    fn raw_ready(t: &Termios, avail: usize, want: usize, timed_out: bool) -> bool {
        let (vmin, vtime) = (t.cc[libc::VMIN] as usize, t.cc[libc::VTIME]);
        if avail >= vmin.max(1).min(want) {
            return true;
        }
        (vmin == 0 && vtime == 0) || timed_out
    }
}

impl FileOps for ReplicaFile {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        let pty = &self.pty;
        if pty.hung_up() {
            return Ok(0);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut deadline: Option<Instant> = None;
        let mut seen = 0;
        let mut timed_out = false;
        loop {
            {
                let mut st = pty.state.lock();
                if !st.master_open {
                    return Err(Errno::EIO);
                }
                let t = st.termios;
                if t.l(libc::ICANON) {
                    if let Some(n) = st.ld.read(&t, buf) {
                        drop(st);
                        pty.queue.notify_all();
                        return Ok(n);
                    }
                } else {
                    let avail = st.ld.input_bytes(&t);
                    if Self::raw_ready(&t, avail, buf.len(), timed_out) {
                        let n = st.ld.read(&t, buf).unwrap_or(0);
                        drop(st);
                        pty.queue.notify_all();
                        return Ok(n);
                    }
                    let vtime = t.cc[libc::VTIME];
                    // VTIME times the whole read when VMIN is 0, else the gap after
                    // each byte.
                    if vtime > 0 && (deadline.is_none() || avail > seen) {
                        if t.cc[libc::VMIN] == 0 || avail > 0 {
                            deadline = Some(
                                Instant::now() + Duration::from_millis(100 * u64::from(vtime)),
                            );
                        }
                        seen = avail;
                    }
                }
                if nonblock {
                    return Err(Errno::EAGAIN);
                }
            }
            let _reg = pty.queue.register(w);
            {
                let st = pty.state.lock();
                let t = st.termios;
                let ready = if t.l(libc::ICANON) {
                    st.ld.readable(&t)
                } else {
                    st.ld.input_bytes(&t) > seen
                };
                if !st.master_open || ready {
                    continue;
                }
            }
            match w.wait(deadline) {
                Ok(()) => {}
                Err(Errno::ETIMEDOUT) => timed_out = true,
                Err(e) => return Err(e),
            }
        }
    }

    fn write(&self, w: &Arc<Waiter>, data: &[u8], nonblock: bool) -> Result<usize> {
        let pty = &self.pty;
        let mut done = 0;
        loop {
            {
                let mut st = pty.state.lock();
                if !st.master_open {
                    return if done > 0 { Ok(done) } else { Err(Errno::EIO) };
                }
                let t = st.termios;
                while done < data.len() && st.ld.out.len() < OUTPUT_CAP {
                    st.ld.output(&t, data[done]);
                    done += 1;
                }
            }
            pty.queue.notify_all();
            if done == data.len() {
                return Ok(done);
            }
            if let Some(r) = pty.wait_for_room(w, done, nonblock, |st| {
                st.master_open && st.ld.out.len() >= OUTPUT_CAP
            }) {
                return r;
            }
        }
    }

    fn stat(&self) -> Result<Stat> {
        match self.how {
            ReplicaOpen::Alias(stat) => Ok(stat),
            _ => Ok(self.pty.replica_stat()),
        }
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        let st = self.pty.state.lock();
        if !st.master_open {
            let all = libc::POLLIN
                | libc::POLLOUT
                | libc::POLLERR
                | libc::POLLHUP
                | libc::POLLRDNORM
                | libc::POLLWRNORM;
            return all & (events | libc::POLLERR | libc::POLLHUP);
        }
        let mut r = 0;
        if st.ld.readable(&st.termios) {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if st.ld.out.len() < OUTPUT_CAP {
            r |= libc::POLLOUT | libc::POLLWRNORM;
        }
        r & (events | libc::POLLERR | libc::POLLHUP)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.queue)
    }

    fn readable_bytes(&self) -> Result<usize> {
        if self.pty.hung_up() {
            return Err(Errno::EIO);
        }
        Ok(self.pty.readable_bytes(Side::Replica))
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn any(&self) -> Option<&dyn Any> {
        Some(self)
    }

    fn anon_name(&self) -> Option<String> {
        matches!(self.how, ReplicaOpen::Peer).then(|| self.pty.path())
    }
}

/// `/dev/ptmx` (and `/dev/pts/ptmx`): each open makes a new pty.
struct Ptmx {
    registry: Arc<Registry>,
    ino: u64,
    mode: u32,
}

impl Ptmx {
    fn stat_of(&self) -> Stat {
        synth_stat(
            self.ino,
            libc::S_IFCHR | self.mode,
            nix::sys::stat::makedev(5, 2),
            0,
        )
    }
}

impl Inode for Ptmx {
    fn file_type(&self) -> FileType {
        FileType::CharDev
    }
    fn stat(&self) -> Result<Stat> {
        Ok(self.stat_of())
    }
    fn open(&self, _flags: i32) -> Result<Box<dyn FileOps>> {
        let mut ptys = self.registry.ptys.lock();
        let index = (0..).find(|i| !ptys.contains_key(i)).ok_or(Errno::ENOSPC)?;
        let pty = Arc::new(Pty {
            index,
            ino: next_ino(),
            state: Mutex::new(State {
                termios: Termios::default_pty(),
                winsize: Winsize::default(),
                ld: Ldisc::default(),
                locked: true,
                replicas: 0,
                replica_opened: false,
                master_open: true,
                session: 0,
                pgrp: 0,
                job: None,
            }),
            queue: WaitQueue::new(),
            registry: self.registry.clone(),
        });
        ptys.insert(index, Arc::downgrade(&pty));
        Ok(Box::new(MasterFile {
            pty,
            stat: self.stat_of(),
        }))
    }
    fn setattr(&self, _attr: crate::inode::SetAttr) -> Result<()> {
        Ok(())
    }
    fn statfs(&self) -> Result<StatFs> {
        Ok(synth_statfs())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `/dev/pts/N`.
struct ReplicaNode {
    pty: Weak<Pty>,
    stat: Stat,
}

impl Inode for ReplicaNode {
    fn file_type(&self) -> FileType {
        FileType::CharDev
    }
    fn stat(&self) -> Result<Stat> {
        Ok(self.stat)
    }
    fn open(&self, _flags: i32) -> Result<Box<dyn FileOps>> {
        self.pty
            .upgrade()
            .ok_or(Errno::EIO)?
            .open_replica(ReplicaOpen::Node)
    }
    fn setattr(&self, _attr: crate::inode::SetAttr) -> Result<()> {
        Ok(())
    }
    fn statfs(&self) -> Result<StatFs> {
        Ok(synth_statfs())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `/dev/ptmx` and the `/dev/pts` directory of one sandbox's ptys.
pub fn devpts() -> (Arc<dyn Inode>, Arc<dyn Inode>) {
    let registry = Arc::new(Registry::default());
    let ptmx: Arc<dyn Inode> = Arc::new(Ptmx {
        registry: registry.clone(),
        ino: next_ino(),
        mode: 0o666,
    });
    let inner: Arc<dyn Inode> = Arc::new(Ptmx {
        registry: registry.clone(),
        ino: next_ino(),
        mode: 0,
    });
    let dir = DynDir::new(Box::new(move || {
        let mut out: Vec<(Vec<u8>, Arc<dyn Inode>)> = vec![(b"ptmx".to_vec(), inner.clone())];
        for pty in registry.listed() {
            let node = ReplicaNode {
                pty: Arc::downgrade(&pty),
                stat: pty.replica_stat(),
            };
            out.push((pty.index.to_string().into_bytes(), Arc::new(node)));
        }
        out
    }));
    (ptmx, dir)
}
