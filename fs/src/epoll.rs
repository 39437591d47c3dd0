//! epoll: an interest list of files and the readiness they report, with Linux's
//! `epoll(7)` semantics.
//!
//! - Items are keyed by (fd number, open file description), as on Linux. An item holds its
//!   file weakly: once every fd of the description is closed, the item disappears.
//! - Level-triggered items are reported while their file is ready. Edge-triggered items
//!   (`EPOLLET`) are reported once after each wake-up of their file's wait queue (or host
//!   readiness event), and once after `ADD`/`MOD`. `EPOLLONESHOT` items are disarmed after
//!   one report until `MOD` re-arms them. `EPOLLERR` and `EPOLLHUP` are always reported.
//! - Readiness changes reach the epoll the way Linux's `ep_poll_callback` does: each item
//!   watches its file's [`WaitQueue`] ([`Wake`]) and wakes the epoll's own queue, so a
//!   task blocked in [`Epoll::wait`], in `poll(2)` on the epoll fd, or in an outer epoll
//!   wakes.
//! - Files backed by a host fd (inherited terminals and pipes) are watched through a host
//!   epoll instance, which holds an edge-triggered registration of a duplicate of each
//!   such fd. The host epoll fd is the epoll's [`FileOps::host_fd`]: it becomes readable on
//!   any new host event, and is drained every time the items are scanned.
//! - Adding an epoll to itself is `EINVAL`; adding one that would close a loop, or nest
//!   deeper than Linux allows, is `ELOOP`.
//!
//! Wake-ups carry no event mask here (Linux's carry one), so an edge-triggered item may be
//! reported once more after a change that did not concern it, e.g. a partial read; Linux
//! allows such spurious reports and edge-triggered programs read until `EAGAIN`.

use crate::Result;
use crate::eventfd::anon_inode_stat;
use crate::file::{FileOps, OpenFile, PollEvents};
use crate::inode::Stat;
use crate::wait::{WaitQueue, Waiter, Wake};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll as HostEpoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// `epoll_ctl` operation: add an item.
pub const EPOLL_CTL_ADD: i32 = libc::EPOLL_CTL_ADD;
/// `epoll_ctl` operation: remove an item.
pub const EPOLL_CTL_DEL: i32 = libc::EPOLL_CTL_DEL;
/// `epoll_ctl` operation: change an item's events and data.
pub const EPOLL_CTL_MOD: i32 = libc::EPOLL_CTL_MOD;

const EPOLLERR: u32 = libc::EPOLLERR as u32;
const EPOLLHUP: u32 = libc::EPOLLHUP as u32;
const EPOLLET: u32 = libc::EPOLLET as u32;
const EPOLLONESHOT: u32 = libc::EPOLLONESHOT as u32;
const EPOLLWAKEUP: u32 = libc::EPOLLWAKEUP as u32;
const EPOLLEXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;
/// Bits of an item's events that are flags rather than readiness (`EP_PRIVATE_BITS`).
const FLAG_BITS: u32 = EPOLLET | EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE;
/// What `EPOLLEXCLUSIVE` may be combined with (`EPOLLEXCLUSIVE_OK_BITS`).
const EXCLUSIVE_OK_BITS: u32 = (libc::EPOLLIN
    | libc::EPOLLOUT
    | libc::EPOLLRDNORM
    | libc::EPOLLRDBAND
    | libc::EPOLLWRNORM
    | libc::EPOLLWRBAND) as u32
    | EPOLLERR
    | EPOLLHUP
    | EPOLLWAKEUP
    | EPOLLET
    | EPOLLEXCLUSIVE;
/// How deep epolls may nest below the one an epoll is added to (Linux's `EP_MAX_NESTS`).
const EP_MAX_NESTS: usize = 4;

/// Live epolls by the address of their wait queue, so the epoll behind an open file can be
/// found ([`Epoll::from_file`], loop checks) without downcasting its [`FileOps`].
static EPOLLS: Mutex<BTreeMap<usize, Weak<Inner>>> = Mutex::new(BTreeMap::new());
/// Serialises adding epolls to epolls, so two adds cannot close a loop together.
static LOOP_CHECK: Mutex<()> = Mutex::new(());

/// An epoll instance, as an open file. Clones are handles to the same instance:
/// [`Epoll::from_file`] gives one for the epoll behind an fd.
#[derive(Clone)]
pub struct Epoll {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Woken by `epoll_ctl` changes and by every wake-up of an item's file.
    queue: Arc<WaitQueue>,
    /// Watches the items backed by host fds.
    host: Arc<HostEpoll>,
}

struct State {
    /// In the order Linux's ready list would report them: reported items move to the back.
    items: Vec<Item>,
    next_id: u64,
}

struct Item {
    fd: i32,
    file: Weak<OpenFile>,
    /// The description's address; stable while `file` keeps its allocation.
    file_id: usize,
    /// Requested events and flags, always with `EPOLLERR | EPOLLHUP`.
    events: u32,
    data: u64,
    /// False once a oneshot item has been reported.
    armed: bool,
    wake: Arc<ItemWake>,
    host: Option<HostReg>,
    /// Identifies the item in the host epoll.
    id: u64,
}

/// Watches an item's file: marks the item for edge-triggered reporting and wakes the epoll.
struct ItemWake {
    pending: AtomicBool,
    epoll: Weak<WaitQueue>,
}

impl Wake for ItemWake {
    fn wake(&self) {
        self.pending.store(true, Ordering::SeqCst);
        if let Some(q) = self.epoll.upgrade() {
            q.notify_all();
        }
    }
}

/// A duplicate of an item's host fd, registered in the epoll's host epoll until dropped.
struct HostReg {
    ep: Arc<HostEpoll>,
    fd: OwnedFd,
}

impl Drop for HostReg {
    fn drop(&mut self) {
        // Closing our duplicate would not remove the registration while the original host
        // fd stays open, so remove it explicitly.
        let _ = self.ep.delete(&self.fd);
    }
}

/// Host epoll flags for an item's events: edge-triggered, so the host epoll fd turns
/// readable on every new event rather than staying readable while a file is ready.
fn host_flags(events: u32) -> EpollFlags {
    EpollFlags::from_bits_truncate(((events & !FLAG_BITS) | EPOLLET) as i32)
}

/// The poll bits of an item's events.
fn poll_bits(events: u32) -> PollEvents {
    (events & !FLAG_BITS & 0x7fff) as PollEvents
}

fn queue_key(q: &WaitQueue) -> usize {
    q as *const WaitQueue as usize
}

/// The epoll `file` is, if it is one.
fn epoll_of(file: &OpenFile) -> Option<Arc<Inner>> {
    let q = file.ops.wait_queue()?;
    EPOLLS.lock().get(&queue_key(q))?.upgrade()
}

/// `ELOOP` if `me` is among the epolls nested in `target`, or they nest too deep.
fn check_loop(me: &Arc<Inner>, target: &Arc<Inner>, depth: usize) -> Result<()> {
    let files: Vec<Arc<OpenFile>> = target
        .state
        .lock()
        .items
        .iter()
        .filter_map(|i| i.file.upgrade())
        .collect();
    for child in files.iter().filter_map(|f| epoll_of(f)) {
        if Arc::ptr_eq(&child, me) || depth > EP_MAX_NESTS {
            return Err(Errno::ELOOP);
        }
        check_loop(me, &child, depth + 1)?;
    }
    Ok(())
}

impl Inner {
    /// Marks the host-backed items the host epoll has new events for.
    fn drain_host(&self, items: &[Item]) {
        let mut events = [EpollEvent::empty(); 16];
        loop {
            let Ok(n) = self.host.wait(&mut events, EpollTimeout::ZERO) else {
                return;
            };
            for ev in &events[..n] {
                if let Some(item) = items.iter().find(|i| i.id == ev.data()) {
                    item.wake.pending.store(true, Ordering::SeqCst);
                }
            }
            if n < events.len() {
                return;
            }
        }
    }

    /// Up to `max` ready items as (revents, data). With `consume`, as `epoll_wait`
    /// reports them: edge-triggered items are cleared, oneshot items disarmed, and the
    /// reported items move to the back so the others get their turn.
    fn scan(&self, max: usize, consume: bool) -> Vec<(u32, u64)> {
        let mut st = self.state.lock();
        st.items.retain(|i| i.file.strong_count() > 0);
        self.drain_host(&st.items);
        let mut ready = Vec::new();
        let mut reported = Vec::new();
        for (idx, item) in st.items.iter_mut().enumerate() {
            if ready.len() == max {
                break;
            }
            if !item.armed {
                continue;
            }
            let Some(file) = item.file.upgrade() else {
                continue;
            };
            if item.events & EPOLLET != 0 {
                // Cleared before looking, so a wake-up during the look is not lost.
                let pending = if consume {
                    item.wake.pending.swap(false, Ordering::SeqCst)
                } else {
                    item.wake.pending.load(Ordering::SeqCst)
                };
                if !pending {
                    continue;
                }
            }
            let mask = item.events & !FLAG_BITS;
            let revents = u32::from(file.ops.poll(poll_bits(mask)) as u16) & mask;
            if revents == 0 {
                continue;
            }
            ready.push((revents, item.data));
            if consume {
                if item.events & EPOLLONESHOT != 0 {
                    item.armed = false;
                }
                reported.push(idx);
            }
        }
        for (moved, idx) in reported.into_iter().enumerate() {
            let item = st.items.remove(idx - moved);
            st.items.push(item);
        }
        ready
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        EPOLLS.lock().remove(&queue_key(&self.queue));
    }
}

impl Epoll {
    /// A new, empty epoll instance (`epoll_create1`). Fails only if the host epoll that
    /// watches host-backed files cannot be created (`EMFILE`, `ENFILE`, `ENOMEM`).
    pub fn new() -> Result<Epoll> {
        let host = HostEpoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                items: Vec::new(),
                next_id: 0,
            }),
            queue: Arc::new(WaitQueue::new()),
            host: Arc::new(host),
        });
        EPOLLS
            .lock()
            .insert(queue_key(&inner.queue), Arc::downgrade(&inner));
        Ok(Epoll { inner })
    }

    /// The epoll `file` is, or `None` if it is not one (`EINVAL` for `epoll_ctl` and
    /// `epoll_wait`).
    pub fn from_file(file: &OpenFile) -> Option<Epoll> {
        epoll_of(file).map(|inner| Epoll { inner })
    }

    /// The file of the `nth` item watching fd `fd` (items of one fd number ordered by
    /// file, as `kcmp(KCMP_EPOLL_TFD)` counts them), if it is still open.
    pub fn target(&self, fd: i32, nth: usize) -> Option<Arc<OpenFile>> {
        let st = self.inner.state.lock();
        let mut matching: Vec<&Item> = st.items.iter().filter(|i| i.fd == fd).collect();
        matching.sort_by_key(|i| i.file_id);
        matching.get(nth)?.file.upgrade()
    }

    /// `epoll_ctl(op, fd, {events, data})`, where `file` is what the caller's `fd` names.
    ///
    /// `EPERM` for files that cannot be polled (regular files, directories), `EINVAL` for
    /// an unknown `op`, this epoll itself, or a misused `EPOLLEXCLUSIVE`, `ELOOP` for
    /// loops, `EEXIST` when adding an item that is there, `ENOENT` when changing or
    /// deleting one that is not. `events` is ignored for `EPOLL_CTL_DEL`.
    pub fn ctl(
        &self,
        op: i32,
        fd: i32,
        file: &Arc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<()> {
        let ops = &file.ops;
        // Linux refuses files without a poll method. Ours are the sentry's files without a
        // wait queue that are regular files or directories; the host epoll refuses other
        // host files it cannot watch.
        if ops.wait_queue().is_none() {
            let kind = ops.stat()?.mode & libc::S_IFMT;
            if kind == libc::S_IFREG || kind == libc::S_IFDIR {
                return Err(Errno::EPERM);
            }
        }
        let target = epoll_of(file);
        if target.as_ref().is_some_and(|t| Arc::ptr_eq(t, &self.inner)) {
            return Err(Errno::EINVAL);
        }
        if op != EPOLL_CTL_DEL
            && events & EPOLLEXCLUSIVE != 0
            && (op == EPOLL_CTL_MOD || target.is_some() || events & !EXCLUSIVE_OK_BITS != 0)
        {
            return Err(Errno::EINVAL);
        }
        // Waking the system from suspend needs CAP_BLOCK_SUSPEND; Linux drops the flag
        // silently without it, and the sentry has no suspend to block.
        let events = (events & !EPOLLWAKEUP) | EPOLLERR | EPOLLHUP;
        let key = (fd, Arc::as_ptr(file) as usize);
        match op {
            EPOLL_CTL_ADD => self.add(key, file, events, data, target.as_ref()),
            EPOLL_CTL_MOD => self.modify(key, events, data),
            EPOLL_CTL_DEL => self.delete(key),
            _ => Err(Errno::EINVAL),
        }
    }

    fn add(
        &self,
        (fd, file_id): (i32, usize),
        file: &Arc<OpenFile>,
        events: u32,
        data: u64,
        target: Option<&Arc<Inner>>,
    ) -> Result<()> {
        let _loop_guard = target.map(|_| LOOP_CHECK.lock());
        if let Some(target) = target {
            // Before taking our own lock: the walk locks the nested epolls one by one.
            check_loop(&self.inner, target, 0)?;
        }
        let mut st = self.inner.state.lock();
        st.items.retain(|i| i.file.strong_count() > 0);
        if st.items.iter().any(|i| (i.fd, i.file_id) == (fd, file_id)) {
            return Err(Errno::EEXIST);
        }
        let id = st.next_id;
        let host = match file.ops.host_fd() {
            Some(host_fd) => Some(self.host_register(host_fd, events, id)?),
            None => None,
        };
        st.next_id += 1;
        let wake = Arc::new(ItemWake {
            // A file ready when added is reported, edge-triggered or not.
            pending: AtomicBool::new(true),
            epoll: Arc::downgrade(&self.inner.queue),
        });
        if let Some(q) = file.ops.wait_queue() {
            let watcher: Weak<dyn Wake> = Arc::downgrade(&wake) as Weak<ItemWake>;
            q.watch(watcher);
        }
        st.items.push(Item {
            fd,
            file: Arc::downgrade(file),
            file_id,
            events,
            data,
            armed: true,
            wake,
            host,
            id,
        });
        drop(st);
        self.inner.queue.notify_all();
        Ok(())
    }

    fn host_register(&self, fd: BorrowedFd<'_>, events: u32, id: u64) -> Result<HostReg> {
        // A duplicate per item, so two items for one host file are two host registrations.
        let dup = fd
            .try_clone_to_owned()
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EMFILE)))?;
        self.inner
            .host
            .add(&dup, EpollEvent::new(host_flags(events), id))?;
        Ok(HostReg {
            ep: self.inner.host.clone(),
            fd: dup,
        })
    }

    fn modify(&self, key: (i32, usize), events: u32, data: u64) -> Result<()> {
        let mut st = self.inner.state.lock();
        st.items.retain(|i| i.file.strong_count() > 0);
        let item = st
            .items
            .iter_mut()
            .find(|i| (i.fd, i.file_id) == key)
            .ok_or(Errno::ENOENT)?;
        if item.events & EPOLLEXCLUSIVE != 0 {
            return Err(Errno::EINVAL);
        }
        if let Some(h) = &item.host {
            h.ep.modify(&h.fd, &mut EpollEvent::new(host_flags(events), item.id))?;
        }
        item.events = events;
        item.data = data;
        item.armed = true;
        item.wake.pending.store(true, Ordering::SeqCst);
        drop(st);
        self.inner.queue.notify_all();
        Ok(())
    }

    fn delete(&self, key: (i32, usize)) -> Result<()> {
        let mut st = self.inner.state.lock();
        st.items.retain(|i| i.file.strong_count() > 0);
        let idx = st
            .items
            .iter()
            .position(|i| (i.fd, i.file_id) == key)
            .ok_or(Errno::ENOENT)?;
        st.items.remove(idx);
        Ok(())
    }

    /// `epoll_wait`: up to `max` (> 0) ready items as (revents, data), sleeping until one
    /// is ready. Empty when `deadline` passes first (`Some(now)` polls without sleeping);
    /// `EINTR` when `w` is interrupted before anything is ready.
    pub fn wait(
        &self,
        w: &Arc<Waiter>,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<(u32, u64)>> {
        loop {
            // Register before looking, so a change between the look and the sleep wakes us.
            let _reg = self.inner.queue.register(w);
            let ready = self.inner.scan(max, true);
            if !ready.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(ready);
            }
            let host = [(self.inner.host.0.as_fd(), libc::POLLIN)];
            match w.wait_fds(&host, deadline) {
                Ok(_) => {}
                Err(Errno::ETIMEDOUT) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        }
    }
}

impl FileOps for Epoll {
    fn stat(&self) -> Result<Stat> {
        Ok(anon_inode_stat())
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        if self.inner.scan(1, false).is_empty() {
            0
        } else {
            (libc::POLLIN | libc::POLLRDNORM) & events
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.inner.queue)
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.inner.host.0.as_fd())
    }

    fn anon_name(&self) -> Option<String> {
        Some("anon_inode:[eventpoll]".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventfd::eventfd;
    use crate::pipe::pipe;
    use std::time::Duration;

    const IN: u32 = libc::EPOLLIN as u32;
    const OUT: u32 = libc::EPOLLOUT as u32;

    fn pipe_files() -> (Arc<OpenFile>, Arc<OpenFile>) {
        let (r, w) = pipe();
        (
            OpenFile::new(Box::new(r), libc::O_RDONLY, None),
            OpenFile::new(Box::new(w), libc::O_WRONLY, None),
        )
    }

    fn eventfd_file() -> Arc<OpenFile> {
        OpenFile::new(Box::new(eventfd(0, false)), libc::O_RDWR, None)
    }

    fn epoll_file() -> (Arc<OpenFile>, Epoll) {
        let f = OpenFile::new(Box::new(Epoll::new().unwrap()), libc::O_RDONLY, None);
        let ep = Epoll::from_file(&f).unwrap();
        (f, ep)
    }

    fn poll_now(ep: &Epoll) -> Vec<(u32, u64)> {
        ep.wait(&Waiter::new(), 16, Some(Instant::now())).unwrap()
    }

    fn write(f: &OpenFile, data: &[u8]) {
        f.write(&Waiter::new(), data).unwrap();
    }

    #[test]
    fn level_triggered_reports_while_ready() {
        let ep = Epoll::new().unwrap();
        let (r, w) = pipe_files();
        ep.ctl(EPOLL_CTL_ADD, 3, &r, IN, 7).unwrap();
        assert!(poll_now(&ep).is_empty());
        write(&w, b"x");
        assert_eq!(poll_now(&ep), vec![(IN, 7)]);
        assert_eq!(poll_now(&ep), vec![(IN, 7)]);
        r.read(&Waiter::new(), &mut [0u8; 4]).unwrap();
        assert!(poll_now(&ep).is_empty());
    }

    #[test]
    fn edge_triggered_reports_once_per_write() {
        let ep = Epoll::new().unwrap();
        let (r, w) = pipe_files();
        ep.ctl(EPOLL_CTL_ADD, 3, &r, IN | EPOLLET, 1).unwrap();
        assert!(poll_now(&ep).is_empty());
        write(&w, b"a");
        assert_eq!(poll_now(&ep), vec![(IN, 1)]);
        assert!(poll_now(&ep).is_empty());
        write(&w, b"b");
        assert_eq!(poll_now(&ep), vec![(IN, 1)]);
        assert!(poll_now(&ep).is_empty());
    }

    #[test]
    fn edge_triggered_item_ready_when_added_is_reported_once() {
        let ep = Epoll::new().unwrap();
        let e = eventfd_file();
        ep.ctl(EPOLL_CTL_ADD, 3, &e, OUT | EPOLLET, 2).unwrap();
        assert_eq!(poll_now(&ep), vec![(OUT, 2)]);
        assert!(poll_now(&ep).is_empty());
    }

    #[test]
    fn oneshot_disarms_until_modified() {
        let ep = Epoll::new().unwrap();
        let (r, w) = pipe_files();
        ep.ctl(EPOLL_CTL_ADD, 3, &r, IN | EPOLLONESHOT, 5).unwrap();
        write(&w, b"a");
        assert_eq!(poll_now(&ep), vec![(IN, 5)]);
        write(&w, b"b");
        assert!(poll_now(&ep).is_empty());
        // Even hang-ups wait for the re-arm.
        drop(w);
        assert!(poll_now(&ep).is_empty());
        ep.ctl(EPOLL_CTL_MOD, 3, &r, IN | EPOLLONESHOT, 6).unwrap();
        assert_eq!(poll_now(&ep), vec![(IN | EPOLLHUP, 6)]);
        assert!(poll_now(&ep).is_empty());
    }

    #[test]
    fn errors_and_hangups_are_always_reported() {
        let ep = Epoll::new().unwrap();
        let (r, w) = pipe_files();
        ep.ctl(EPOLL_CTL_ADD, 3, &r, 0, 9).unwrap();
        assert!(poll_now(&ep).is_empty());
        drop(w);
        assert_eq!(poll_now(&ep), vec![(EPOLLHUP, 9)]);
    }

    #[test]
    fn add_mod_del_errors() {
        let ep = Epoll::new().unwrap();
        let (r, w) = pipe_files();
        assert_eq!(ep.ctl(EPOLL_CTL_MOD, 3, &r, IN, 0), Err(Errno::ENOENT));
        assert_eq!(ep.ctl(EPOLL_CTL_DEL, 3, &r, 0, 0), Err(Errno::ENOENT));
        ep.ctl(EPOLL_CTL_ADD, 3, &r, IN, 0).unwrap();
        assert_eq!(ep.ctl(EPOLL_CTL_ADD, 3, &r, IN, 0), Err(Errno::EEXIST));
        // The same description under another fd (a dup) is another item.
        ep.ctl(EPOLL_CTL_ADD, 4, &r, IN, 1).unwrap();
        assert_eq!(ep.ctl(99, 3, &r, IN, 0), Err(Errno::EINVAL));
        assert_eq!(
            ep.ctl(EPOLL_CTL_MOD, 3, &r, IN | EPOLLEXCLUSIVE, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            ep.ctl(EPOLL_CTL_ADD, 5, &w, OUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 0),
            Err(Errno::EINVAL)
        );
        ep.ctl(EPOLL_CTL_ADD, 5, &w, OUT | EPOLLEXCLUSIVE, 0)
            .unwrap();
        assert_eq!(ep.ctl(EPOLL_CTL_MOD, 5, &w, OUT, 0), Err(Errno::EINVAL));
        write(&w, b"x");
        let mut got = poll_now(&ep);
        got.sort();
        assert_eq!(got, vec![(IN, 0), (IN, 1), (OUT, 0)]);
        ep.ctl(EPOLL_CTL_DEL, 3, &r, 0, 0).unwrap();
        ep.ctl(EPOLL_CTL_DEL, 5, &w, 0, 0).unwrap();
        assert_eq!(poll_now(&ep), vec![(IN, 1)]);
    }

    #[test]
    fn regular_files_cannot_be_watched() {
        struct Regular;
        impl FileOps for Regular {
            fn stat(&self) -> Result<Stat> {
                Ok(crate::synth::synth_stat(1, libc::S_IFREG | 0o644, 0, 0))
            }
        }
        struct HostRegular(std::fs::File);
        impl FileOps for HostRegular {
            fn stat(&self) -> Result<Stat> {
                Regular.stat()
            }
            fn host_fd(&self) -> Option<BorrowedFd<'_>> {
                Some(self.0.as_fd())
            }
        }
        let ep = Epoll::new().unwrap();
        let f = OpenFile::new(Box::new(Regular), libc::O_RDONLY, None);
        assert_eq!(ep.ctl(EPOLL_CTL_ADD, 3, &f, IN, 0), Err(Errno::EPERM));
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let host = HostRegular(std::fs::File::open(manifest).unwrap());
        let f = OpenFile::new(Box::new(host), libc::O_RDONLY, None);
        assert_eq!(ep.ctl(EPOLL_CTL_ADD, 3, &f, IN, 0), Err(Errno::EPERM));
    }

    #[test]
    fn item_disappears_with_its_last_description() {
        let ep = Epoll::new().unwrap();
        let (r, w) = pipe_files();
        write(&w, b"x");
        ep.ctl(EPOLL_CTL_ADD, 3, &r, IN, 0).unwrap();
        assert_eq!(poll_now(&ep).len(), 1);
        drop(r);
        assert!(poll_now(&ep).is_empty());
        // The fd number is free for a new description.
        let (r2, _w2) = pipe_files();
        ep.ctl(EPOLL_CTL_ADD, 3, &r2, IN, 0).unwrap();
    }

    #[test]
    fn timeout_returns_empty() {
        let ep = Epoll::new().unwrap();
        let (r, _w) = pipe_files();
        ep.ctl(EPOLL_CTL_ADD, 3, &r, IN, 0).unwrap();
        let start = Instant::now();
        let got = ep
            .wait(&Waiter::new(), 8, Some(start + Duration::from_millis(30)))
            .unwrap();
        assert!(got.is_empty());
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn blocked_wait_wakes_on_write_from_another_thread() {
        let ep = Epoll::new().unwrap();
        let (r, w) = pipe_files();
        ep.ctl(EPOLL_CTL_ADD, 3, &r, IN, 42).unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            write(&w, b"hi");
            w
        });
        assert_eq!(ep.wait(&Waiter::new(), 8, None).unwrap(), vec![(IN, 42)]);
        t.join().unwrap();
    }

    #[test]
    fn interrupt_ends_a_blocked_wait() {
        let ep = Epoll::new().unwrap();
        let e = eventfd_file();
        ep.ctl(EPOLL_CTL_ADD, 3, &e, IN, 0).unwrap();
        let w = Waiter::new();
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.interrupt();
        });
        assert_eq!(ep.wait(&w, 8, None), Err(Errno::EINTR));
        t.join().unwrap();
    }

    #[test]
    fn max_limits_and_rotates_reports() {
        let ep = Epoll::new().unwrap();
        let (a, b) = (eventfd_file(), eventfd_file());
        ep.ctl(EPOLL_CTL_ADD, 3, &a, OUT, 1).unwrap();
        ep.ctl(EPOLL_CTL_ADD, 4, &b, OUT, 2).unwrap();
        let w = Waiter::new();
        assert_eq!(ep.wait(&w, 1, None).unwrap(), vec![(OUT, 1)]);
        assert_eq!(ep.wait(&w, 1, None).unwrap(), vec![(OUT, 2)]);
        assert_eq!(ep.wait(&w, 1, None).unwrap(), vec![(OUT, 1)]);
    }

    #[test]
    fn self_and_loops_are_refused() {
        let (fa, a) = epoll_file();
        let (fb, b) = epoll_file();
        assert_eq!(a.ctl(EPOLL_CTL_ADD, 3, &fa, IN, 0), Err(Errno::EINVAL));
        a.ctl(EPOLL_CTL_ADD, 4, &fb, IN, 0).unwrap();
        assert_eq!(b.ctl(EPOLL_CTL_ADD, 3, &fa, IN, 0), Err(Errno::ELOOP));
        let (fc, c) = epoll_file();
        b.ctl(EPOLL_CTL_ADD, 5, &fc, IN, 0).unwrap();
        assert_eq!(c.ctl(EPOLL_CTL_ADD, 3, &fa, IN, 0), Err(Errno::ELOOP));
        assert_eq!(
            a.ctl(EPOLL_CTL_ADD, 6, &fc, IN | EPOLLEXCLUSIVE, 0),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn nested_epoll_wakes_its_parent_and_polls_ready() {
        let (fouter, outer) = epoll_file();
        let (finner, inner) = epoll_file();
        let e = eventfd_file();
        inner.ctl(EPOLL_CTL_ADD, 3, &e, IN, 1).unwrap();
        outer.ctl(EPOLL_CTL_ADD, 4, &finner, IN, 2).unwrap();
        assert_eq!(fouter.ops.poll(libc::POLLIN), 0);
        let e2 = e.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            write(&e2, &1u64.to_ne_bytes());
        });
        assert_eq!(outer.wait(&Waiter::new(), 8, None).unwrap(), vec![(IN, 2)]);
        t.join().unwrap();
        assert_eq!(fouter.ops.poll(libc::POLLIN), libc::POLLIN);
        assert_eq!(poll_now(&inner), vec![(IN, 1)]);
    }

    /// A file backed by the read end of a host pipe, like inherited guest stdio.
    struct HostPipe(OwnedFd);
    impl FileOps for HostPipe {
        fn stat(&self) -> Result<Stat> {
            Ok(crate::synth::synth_stat(1, libc::S_IFIFO | 0o600, 0, 0))
        }
        fn poll(&self, events: PollEvents) -> PollEvents {
            use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
            let mut fds = [PollFd::new(
                self.0.as_fd(),
                PollFlags::from_bits_truncate(events),
            )];
            poll(&mut fds, PollTimeout::ZERO).unwrap();
            fds[0].revents().map_or(0, |r| r.bits())
        }
        fn host_fd(&self) -> Option<BorrowedFd<'_>> {
            Some(self.0.as_fd())
        }
    }

    #[test]
    fn host_backed_files_wake_waits_and_report_edges() {
        let (hr, hw) = nix::unistd::pipe().unwrap();
        let f = OpenFile::new(Box::new(HostPipe(hr)), libc::O_RDONLY, None);
        let ep = Epoll::new().unwrap();
        ep.ctl(EPOLL_CTL_ADD, 0, &f, IN | EPOLLET, 3).unwrap();
        // The same description under a second fd is a second host registration.
        ep.ctl(EPOLL_CTL_ADD, 1, &f, IN, 4).unwrap();
        assert!(poll_now(&ep).is_empty());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            nix::unistd::write(&hw, b"a").unwrap();
            hw
        });
        let mut got = ep.wait(&Waiter::new(), 8, None).unwrap();
        got.sort();
        assert_eq!(got, vec![(IN, 3), (IN, 4)]);
        assert_eq!(poll_now(&ep), vec![(IN, 4)]);
        let hw = t.join().unwrap();
        nix::unistd::write(&hw, b"b").unwrap();
        let mut got = poll_now(&ep);
        got.sort();
        assert_eq!(got, vec![(IN, 3), (IN, 4)]);
        ep.ctl(EPOLL_CTL_DEL, 1, &f, 0, 0).unwrap();
        assert!(poll_now(&ep).is_empty());
    }
}
