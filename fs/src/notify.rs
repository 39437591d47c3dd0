//! inotify: watches on filesystem objects, and the events the guest's own changes raise.
//!
//! Every change the guest makes goes through the sentry's VFS, so the sentry raises the
//! events itself, as Linux's fsnotify does: each syscall that opens, reads, writes,
//! closes, changes attributes of, creates, removes or renames an object makes one call
//! here ([`file_event`], [`closed`], [`dentry_event`], [`attr_changed`], [`created`],
//! [`linked`], [`remove`], [`rename`]). Changes the host makes to bound directories behind
//! the sentry's back raise nothing (gVisor has the same limit for gofer mounts).
//!
//! A watch is on an object's identity (the device and inode `stat` reports), so hard
//! links and different paths to one object share it, and it follows the object across
//! renames; when the overlay copies an object up, its watches move to the copy
//! ([`identity_changed`]). An event about an object goes first to a watch on the
//! directory it was reached through (with its name), then to a watch on the object
//! itself (without), as Linux orders them.
//!
//! An instance ([`Inotify`], an `anon_inode:inotify` file) holds an [`EventQueue`]:
//! Linux's record layout, merging of an event identical to the last queued one, and the
//! `IN_Q_OVERFLOW` record past [`Limits::max_queued_events`]. Watches and instances are
//! counted per user against [`limits`]. While no watch exists anywhere in the sandbox,
//! every hook returns after one atomic load.

use crate::Result;
use crate::file::{FileOps, OpenFile, PollEvents};
use crate::inode::{FileType, Inode, SetAttr, Stat, TimeChange};
use crate::vfs::Dentry;
use crate::wait::{WaitQueue, Waiter};
use libc::{
    IN_ACCESS, IN_ALL_EVENTS, IN_ATTRIB, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE,
    IN_DELETE_SELF, IN_DONT_FOLLOW, IN_EXCL_UNLINK, IN_IGNORED, IN_ISDIR, IN_MASK_ADD,
    IN_MASK_CREATE, IN_MODIFY, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO, IN_ONESHOT, IN_ONLYDIR,
    IN_Q_OVERFLOW, IN_UNMOUNT,
};
use nix::errno::Errno;
use parking_lot::{Mutex, RwLock};
use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, Weak};

/// Every bit `inotify_add_watch` accepts (Linux's `ALL_INOTIFY_BITS`).
const ALL_BITS: u32 = IN_ALL_EVENTS
    | IN_UNMOUNT
    | IN_Q_OVERFLOW
    | IN_IGNORED
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
    | IN_MASK_CREATE
    | IN_MASK_ADD
    | IN_ISDIR
    | IN_ONESHOT;
/// Flags a watch keeps besides its events.
const WATCH_FLAGS: u32 = IN_ONESHOT | IN_EXCL_UNLINK;
/// Size of `struct inotify_event` without its name.
const RECORD: usize = 16;

/// The sandbox's inotify limits (`/proc/sys/fs/inotify`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events an instance queues before `IN_Q_OVERFLOW`.
    pub max_queued_events: usize,
    /// Instances one user may have.
    pub max_user_instances: usize,
    /// Watches one user may have.
    pub max_user_watches: usize,
}

/// The limits: the host's own (Linux sizes `max_user_watches` by memory), or Linux's
/// defaults where the host does not say.
pub fn limits() -> &'static Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    LIMITS.get_or_init(|| {
        let host = |name: &str, default: usize| {
            std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(default)
        };
        Limits {
            max_queued_events: host("max_queued_events", 16384),
            max_user_instances: host("max_user_instances", 128),
            max_user_watches: host("max_user_watches", 8192),
        }
    })
}

/// Checks the bits of an `inotify_add_watch` mask: only inotify's, and at least one.
pub fn check_mask(mask: u32) -> Result<()> {
    if mask & !ALL_BITS != 0 || mask & ALL_BITS == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// One queued event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Watch descriptor (-1 for `IN_Q_OVERFLOW`).
    pub wd: i32,
    /// `IN_*` bits.
    pub mask: u32,
    /// Pairs `IN_MOVED_FROM` with `IN_MOVED_TO`; 0 otherwise.
    pub cookie: u32,
    /// Name of the directory entry the event is about (empty for the watched object).
    pub name: Vec<u8>,
}

impl Event {
    /// The name field's size: the name, its NUL and padding to a multiple of the record
    /// header's size, as Linux pads it; 0 without a name.
    fn name_field(&self) -> usize {
        if self.name.is_empty() {
            0
        } else {
            (self.name.len() + 1).next_multiple_of(RECORD)
        }
    }

    /// Size of the `struct inotify_event` record.
    pub fn record_len(&self) -> usize {
        RECORD + self.name_field()
    }

    /// Writes the record to the start of `out` (at least [`record_len`](Self::record_len)
    /// bytes).
    fn write(&self, out: &mut [u8]) {
        let field = self.name_field();
        out[0..4].copy_from_slice(&self.wd.to_ne_bytes());
        out[4..8].copy_from_slice(&self.mask.to_ne_bytes());
        out[8..12].copy_from_slice(&self.cookie.to_ne_bytes());
        out[12..16].copy_from_slice(&(field as u32).to_ne_bytes());
        let name = &mut out[RECORD..RECORD + field];
        name.fill(0);
        name[..self.name.len()].copy_from_slice(&self.name);
    }

    /// Whether Linux drops `new` when this event is the last one queued.
    fn absorbs(&self, new: &Event) -> bool {
        self.mask & IN_IGNORED == 0
            && self.mask == new.mask
            && self.wd == new.wd
            && self.name == new.name
    }
}

/// An instance's queue of events, as Linux's fsnotify notification list keeps it.
#[derive(Debug)]
pub struct EventQueue {
    events: VecDeque<Event>,
    max: usize,
    /// The `IN_Q_OVERFLOW` record is in the queue.
    overflowed: bool,
}

impl EventQueue {
    /// An empty queue that overflows past `max` events.
    pub fn new(max: usize) -> EventQueue {
        EventQueue {
            events: VecDeque::new(),
            max,
            overflowed: false,
        }
    }

    /// Queues `ev`. A full queue takes one `IN_Q_OVERFLOW` record instead (once until it
    /// is read); an event identical to the last one queued is dropped. Returns whether
    /// the queue grew.
    pub fn push(&mut self, ev: Event) -> bool {
        if self.events.len() >= self.max {
            if self.overflowed {
                return false;
            }
            self.overflowed = true;
            self.events.push_back(Event {
                wd: -1,
                mask: IN_Q_OVERFLOW,
                cookie: 0,
                name: Vec::new(),
            });
            return true;
        }
        if self.events.back().is_some_and(|last| last.absorbs(&ev)) {
            return false;
        }
        self.events.push_back(ev);
        true
    }

    /// Moves as many whole records as fit into `buf`; `EINVAL` if not even the first
    /// does. 0 when the queue is empty.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut used = 0;
        while let Some(ev) = self.events.front() {
            let len = ev.record_len();
            if used + len > buf.len() {
                if used == 0 {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            ev.write(&mut buf[used..]);
            used += len;
            if ev.mask & IN_Q_OVERFLOW != 0 {
                self.overflowed = false;
            }
            self.events.pop_front();
        }
        Ok(used)
    }

    /// Bytes the queued records take (`FIONREAD`).
    pub fn pending_bytes(&self) -> usize {
        self.events.iter().map(Event::record_len).sum()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// What a watch is on: an object's device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    dev: u64,
    ino: u64,
}

impl From<&Stat> for Key {
    fn from(st: &Stat) -> Key {
        Key {
            dev: st.dev,
            ino: st.ino,
        }
    }
}

/// One watch of one instance.
struct Watch {
    wd: i32,
    /// The watched object (changes when the overlay copies it up).
    key: Mutex<Key>,
    /// Its events (`IN_ALL_EVENTS` bits) and flags (`IN_ONESHOT`, `IN_EXCL_UNLINK`).
    mask: AtomicU32,
    instance: Weak<Instance>,
    /// Taken off its object and instance: delivers nothing more.
    removed: AtomicBool,
}

/// An instance's watches by descriptor.
struct Watches {
    by_wd: BTreeMap<i32, Arc<Watch>>,
    /// Where the search for the next free descriptor starts (Linux allocates cyclically).
    next_wd: i32,
}

/// The state of one inotify instance.
struct Instance {
    events: Mutex<EventQueue>,
    queue: WaitQueue,
    watches: Mutex<Watches>,
    /// The user it is counted against.
    uid: u32,
}

impl Instance {
    fn push(&self, ev: Event) {
        if self.events.lock().push(ev) {
            self.queue.notify_all();
        }
    }
}

/// Instances and watches of one user.
#[derive(Default)]
struct Usage {
    instances: usize,
    watches: usize,
}

/// Watches by watched object.
type WatchMap = HashMap<Key, Vec<Arc<Watch>>>;

/// The sandbox's watches, by watched object, and the per-user counts.
struct Hub {
    by_key: RwLock<WatchMap>,
    users: Mutex<HashMap<u32, Usage>>,
}

static HUB: LazyLock<Hub> = LazyLock::new(|| Hub {
    by_key: RwLock::new(HashMap::new()),
    users: Mutex::new(HashMap::new()),
});

/// Live watches in the sandbox: the hooks' fast path.
static WATCHES: AtomicUsize = AtomicUsize::new(0);

/// Whether any watch exists.
fn active() -> bool {
    WATCHES.load(Ordering::Relaxed) != 0
}

impl Hub {
    /// Takes `watch` of `inst` off its object and out of the instance, and queues its
    /// `IN_IGNORED` (once, whoever calls first). `by_key` is the hub's map, write-locked.
    fn detach(&self, by_key: &mut WatchMap, watch: &Arc<Watch>, inst: &Instance) {
        if watch.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.unlink(by_key, watch);
        inst.watches.lock().by_wd.remove(&watch.wd);
        self.count_watches(inst.uid, -1);
        inst.push(Event {
            wd: watch.wd,
            mask: IN_IGNORED,
            cookie: 0,
            name: Vec::new(),
        });
    }

    /// Takes `watch` out of the map.
    fn unlink(&self, by_key: &mut WatchMap, watch: &Arc<Watch>) {
        let key = *watch.key.lock();
        if let Some(list) = by_key.get_mut(&key) {
            list.retain(|w| !Arc::ptr_eq(w, watch));
            if list.is_empty() {
                by_key.remove(&key);
            }
        }
    }

    /// Counts `delta` more (or fewer) watches of user `uid`.
    fn count_watches(&self, uid: u32, delta: isize) {
        let mut users = self.users.lock();
        let u = users.entry(uid).or_default();
        u.watches = u.watches.saturating_add_signed(delta);
        if delta < 0 {
            WATCHES.fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        } else {
            WATCHES.fetch_add(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }

    /// Detaches one watch (for `IN_ONESHOT` and `inotify_rm_watch`).
    fn remove(&self, watch: &Arc<Watch>, inst: &Instance) {
        let mut by_key = self.by_key.write();
        self.detach(&mut by_key, watch, inst);
    }

    /// Detaches every watch on `key` (the object is gone).
    fn remove_all(&self, key: Key) {
        let mut instances = Vec::new();
        let mut by_key = self.by_key.write();
        for watch in by_key.get(&key).cloned().unwrap_or_default() {
            if let Some(inst) = watch.instance.upgrade() {
                self.detach(&mut by_key, &watch, &inst);
                instances.push(inst);
            }
        }
        drop(by_key);
        // An instance whose file went meanwhile is dropped here, with the hub unlocked.
        drop(instances);
    }

    /// Queues an event on every watch of `key` that wants it.
    fn deliver(&self, key: Key, ev: &Occurrence<'_>) {
        let watches = match self.by_key.read().get(&key) {
            Some(list) => list.clone(),
            None => return,
        };
        let mut mask = ev.mask;
        if mask & (IN_MOVE_SELF | IN_DELETE_SELF) != 0 {
            // inotify never reports IN_ISDIR with these.
            mask &= !IN_ISDIR;
        }
        for watch in watches {
            let wants = watch.mask.load(Ordering::Relaxed);
            if wants & mask & IN_ALL_EVENTS == 0
                || (wants & IN_EXCL_UNLINK != 0 && ev.unlinked_file)
                || watch.removed.load(Ordering::SeqCst)
            {
                continue;
            }
            let Some(inst) = watch.instance.upgrade() else {
                continue;
            };
            inst.push(Event {
                wd: watch.wd,
                mask,
                cookie: ev.cookie,
                name: ev.name.to_vec(),
            });
            if wants & IN_ONESHOT != 0 {
                self.remove(&watch, &inst);
            }
        }
    }

    /// Moves the watches of `old` to `new`.
    fn rekey(&self, old: Key, new: Key) {
        let mut by_key = self.by_key.write();
        if let Some(list) = by_key.remove(&old) {
            for w in &list {
                *w.key.lock() = new;
            }
            by_key.entry(new).or_default().extend(list);
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let watches = std::mem::take(&mut self.watches.get_mut().by_wd);
        let mut live = 0;
        {
            let mut by_key = HUB.by_key.write();
            for w in watches.values() {
                if !w.removed.swap(true, Ordering::SeqCst) {
                    HUB.unlink(&mut by_key, w);
                    live += 1;
                }
            }
        }
        HUB.count_watches(self.uid, -live);
        if let Some(u) = HUB.users.lock().get_mut(&self.uid) {
            u.instances = u.instances.saturating_sub(1);
        }
    }
}

/// An inotify instance: the file behind an `inotify_init` fd.
pub struct Inotify {
    inner: Arc<Instance>,
}

impl Inotify {
    /// A new instance counted against user `uid`; `EMFILE` past its instance limit.
    pub fn new(uid: u32) -> Result<Inotify> {
        let limits = limits();
        {
            let mut users = HUB.users.lock();
            let u = users.entry(uid).or_default();
            if u.instances >= limits.max_user_instances {
                return Err(Errno::EMFILE);
            }
            u.instances += 1;
        }
        Ok(Inotify {
            inner: Arc::new(Instance {
                events: Mutex::new(EventQueue::new(limits.max_queued_events)),
                queue: WaitQueue::new(),
                watches: Mutex::new(Watches {
                    by_wd: BTreeMap::new(),
                    next_wd: 1,
                }),
                uid,
            }),
        })
    }

    /// The instance behind `file`, if it is one.
    pub fn of(file: &OpenFile) -> Option<&Inotify> {
        file.ops.any()?.downcast_ref::<Inotify>()
    }

    /// `inotify_add_watch` on the object `target` (resolved, checked for `IN_ONLYDIR`
    /// and read permission by the caller) with `mask` (checked by [`check_mask`], and
    /// not both `IN_MASK_ADD` and `IN_MASK_CREATE`): returns the watch descriptor, the
    /// existing one if the instance already watches the object. Without `IN_MASK_ADD` the
    /// new mask replaces the old; `IN_MASK_CREATE` on a watched object is `EEXIST`; past
    /// the user's watch limit, `ENOSPC`.
    pub fn add_watch(&self, target: &Dentry, mask: u32) -> Result<i32> {
        let key = Key::from(&target.inode().stat()?);
        let bits = mask & (IN_ALL_EVENTS | WATCH_FLAGS);
        let inst = &self.inner;
        let mut by_key = HUB.by_key.write();
        let existing = by_key.get(&key).and_then(|list| {
            list.iter()
                .find(|w| std::ptr::eq(w.instance.as_ptr(), Arc::as_ptr(inst)))
                .cloned()
        });
        if let Some(w) = existing {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            if mask & IN_MASK_ADD != 0 {
                w.mask.fetch_or(bits, Ordering::SeqCst);
            } else {
                w.mask.store(bits, Ordering::SeqCst);
            }
            return Ok(w.wd);
        }
        {
            let mut users = HUB.users.lock();
            let u = users.entry(inst.uid).or_default();
            if u.watches >= limits().max_user_watches {
                return Err(Errno::ENOSPC);
            }
        }
        let mut watches = inst.watches.lock();
        let wd = free_wd(&watches.by_wd, watches.next_wd).ok_or(Errno::ENOSPC)?;
        watches.next_wd = wd.checked_add(1).unwrap_or(1);
        let watch = Arc::new(Watch {
            wd,
            key: Mutex::new(key),
            mask: AtomicU32::new(bits),
            instance: Arc::downgrade(inst),
            removed: AtomicBool::new(false),
        });
        watches.by_wd.insert(wd, watch.clone());
        drop(watches);
        by_key.entry(key).or_default().push(watch);
        HUB.count_watches(inst.uid, 1);
        Ok(wd)
    }

    /// `inotify_rm_watch`: removes watch `wd` and queues its `IN_IGNORED`; `EINVAL` if the
    /// instance has no such watch.
    pub fn rm_watch(&self, wd: i32) -> Result<()> {
        let watch = self
            .inner
            .watches
            .lock()
            .by_wd
            .get(&wd)
            .cloned()
            .ok_or(Errno::EINVAL)?;
        HUB.remove(&watch, &self.inner);
        Ok(())
    }
}

/// The first descriptor from `from` on (wrapping to 1) that `used` lacks.
fn free_wd(used: &BTreeMap<i32, Arc<Watch>>, from: i32) -> Option<i32> {
    (from.max(1)..=i32::MAX)
        .chain(1..from.max(1))
        .find(|wd| !used.contains_key(wd))
}

impl FileOps for Inotify {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        let inst = &self.inner;
        loop {
            let n = inst.events.lock().read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            let _reg = inst.queue.register(w);
            if !inst.events.lock().is_empty() {
                continue;
            }
            w.wait(None)?;
        }
    }

    fn seek(&self, _off: i64, _whence: i32) -> Result<u64> {
        Ok(0)
    }

    fn stat(&self) -> Result<Stat> {
        Ok(crate::eventfd::anon_inode_stat())
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        if self.inner.events.lock().is_empty() {
            0
        } else {
            (libc::POLLIN | libc::POLLRDNORM) & events
        }
    }

    fn readable_bytes(&self) -> Result<usize> {
        Ok(self.inner.events.lock().pending_bytes())
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.inner.queue)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn any(&self) -> Option<&dyn Any> {
        Some(self)
    }

    fn anon_name(&self) -> Option<String> {
        Some("anon_inode:inotify".to_string())
    }
}

/// One event as the hooks raise it, before it is queued on each watch.
struct Occurrence<'a> {
    mask: u32,
    name: &'a [u8],
    cookie: u32,
    /// An event on an open file whose object has no link left (`IN_EXCL_UNLINK` drops
    /// it).
    unlinked_file: bool,
}

impl<'a> Occurrence<'a> {
    fn new(mask: u32) -> Occurrence<'a> {
        Occurrence {
            mask,
            name: &[],
            cookie: 0,
            unlinked_file: false,
        }
    }

    fn named(mut self, name: &'a [u8]) -> Occurrence<'a> {
        self.name = name;
        self
    }

    fn cookie(mut self, cookie: u32) -> Occurrence<'a> {
        self.cookie = cookie;
        self
    }
}

/// What the hooks need of an object: its identity, whether it is a directory, and
/// whether it has links left.
#[derive(Clone, Copy)]
struct Object {
    key: Key,
    is_dir: bool,
    nlink: u64,
}

impl Object {
    fn of(inode: &dyn Inode) -> Option<Object> {
        let st = inode.stat().ok()?;
        Some(Object {
            key: Key::from(&st),
            is_dir: st.file_type() == FileType::Dir,
            nlink: st.nlink,
        })
    }

    /// `mask`, with `IN_ISDIR` for a directory.
    fn mask(&self, mask: u32) -> u32 {
        if self.is_dir { mask | IN_ISDIR } else { mask }
    }

    /// Whether removing one link of it removes the object.
    fn last_link(&self) -> bool {
        self.is_dir || self.nlink <= 1
    }
}

/// An event about the object at `d`: to a watch on its directory with its name, then to a
/// watch on the object itself.
fn object_event(d: &Dentry, mask: u32, file: bool) {
    let Some(obj) = Object::of(d.inode().as_ref()) else {
        return;
    };
    let mut ev = Occurrence::new(obj.mask(mask));
    ev.unlinked_file = file && obj.nlink == 0;
    if let Some(parent) = d.parent()
        && let Some(dir) = Object::of(parent.inode().as_ref())
    {
        HUB.deliver(
            dir.key,
            &Occurrence {
                name: d.name(),
                ..ev
            },
        );
    }
    HUB.deliver(obj.key, &ev);
}

/// An event only for the watches on `obj` itself.
fn self_event(obj: &Object, mask: u32) {
    HUB.deliver(obj.key, &Occurrence::new(obj.mask(mask)));
}

/// An event about entry `name` (of object `obj`) for the watches on directory `dir`.
fn entry_event(dir: &Dentry, name: &[u8], obj: &Object, mask: u32, cookie: u32) {
    if let Some(d) = Object::of(dir.inode().as_ref()) {
        HUB.deliver(
            d.key,
            &Occurrence::new(obj.mask(mask)).named(name).cookie(cookie),
        );
    }
}

/// The object `obj` lost its last link: `IN_DELETE_SELF`, then its watches go.
fn deleted(obj: &Object) {
    self_event(obj, IN_DELETE_SELF);
    HUB.remove_all(obj.key);
}

/// An I/O event on an open file: `IN_OPEN`, `IN_ACCESS` or `IN_MODIFY` (once per call
/// that moved bytes). Files without a path and `O_PATH` descriptions raise nothing.
pub fn file_event(file: &OpenFile, mask: u32) {
    if !active() || file.is_path_only() {
        return;
    }
    if let Some(d) = &file.dentry {
        object_event(d, mask, true);
    }
}

/// The last reference to an open file went: `IN_CLOSE_WRITE` or `IN_CLOSE_NOWRITE` by
/// its access mode.
pub fn closed(file: &OpenFile) {
    let mask = if file.writable() {
        IN_CLOSE_WRITE
    } else {
        IN_CLOSE_NOWRITE
    };
    file_event(file, mask);
}

/// An event about the object at `d` raised through its path (`IN_ATTRIB` for extended
/// attributes, `IN_MODIFY` for a truncation by `open`).
pub fn dentry_event(d: &Dentry, mask: u32) {
    if active() {
        object_event(d, mask, false);
    }
}

/// The object at `d` had `attr` changed: `IN_ATTRIB` for its mode, owner or both times,
/// `IN_MODIFY` for its size or modification time alone, `IN_ACCESS` for its access time
/// alone, nothing for a change of nothing.
pub fn attr_changed(d: &Dentry, attr: SetAttr) {
    let mask = match attr {
        SetAttr::Mode(_) => IN_ATTRIB,
        SetAttr::Owner(u32::MAX, u32::MAX) => return,
        SetAttr::Owner(..) => IN_ATTRIB,
        SetAttr::Size(_) => IN_MODIFY,
        SetAttr::Times(a, m) => match (a == TimeChange::Omit, m == TimeChange::Omit) {
            (true, true) => return,
            (false, true) => IN_ACCESS,
            (true, false) => IN_MODIFY,
            (false, false) => IN_ATTRIB,
        },
    };
    dentry_event(d, mask);
}

/// `name` was created in `dir` (a file, directory, node or symlink): `IN_CREATE`.
pub fn created(dir: &Dentry, name: &[u8], is_dir: bool) {
    if !active() {
        return;
    }
    if let Some(d) = Object::of(dir.inode().as_ref()) {
        let mask = if is_dir {
            IN_CREATE | IN_ISDIR
        } else {
            IN_CREATE
        };
        HUB.deliver(d.key, &Occurrence::new(mask).named(name));
    }
}

/// `name` in `dir` became a new link to `target`: `IN_ATTRIB` on the object (its link
/// count), then `IN_CREATE`.
pub fn linked(dir: &Dentry, name: &[u8], target: &Dentry) {
    if !active() {
        return;
    }
    if let Some(obj) = Object::of(target.inode().as_ref()) {
        self_event(&obj, IN_ATTRIB);
        entry_event(dir, name, &obj, IN_CREATE, 0);
    }
}

/// Removes `name` (the object at `child`) from `dir` with `op` (`unlink` or `rmdir`), and
/// on success raises what Linux does: `IN_ATTRIB` on a non-directory (its link count),
/// `IN_DELETE_SELF` and the end of its watches if that was its last link, then
/// `IN_DELETE` in `dir`.
pub fn remove<T>(
    dir: &Dentry,
    name: &[u8],
    child: &Dentry,
    op: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let before = active()
        .then(|| Object::of(child.inode().as_ref()))
        .flatten();
    let done = op()?;
    if let Some(obj) = before {
        if !obj.is_dir {
            self_event(&obj, IN_ATTRIB);
        }
        if obj.last_link() {
            deleted(&obj);
        }
        entry_event(dir, name, &obj, IN_DELETE, 0);
    }
    Ok(done)
}

/// A rename, as [`rename`] reports it.
pub struct Rename<'a> {
    /// The directory the object leaves.
    pub old_dir: &'a Dentry,
    /// Its name there.
    pub old_name: &'a [u8],
    /// The directory it enters.
    pub new_dir: &'a Dentry,
    /// Its name there.
    pub new_name: &'a [u8],
    /// The object.
    pub moved: &'a Dentry,
    /// The object at the new name, if any.
    pub replaced: Option<&'a Dentry>,
    /// `RENAME_EXCHANGE`: the replaced object moves to the old name.
    pub exchange: bool,
}

/// Performs the rename `r` with `op` and on success raises what Linux does:
/// `IN_MOVED_FROM` and `IN_MOVED_TO` sharing a fresh cookie, `IN_ATTRIB` on a replaced
/// object, `IN_MOVE_SELF` on the moved one, and `IN_DELETE_SELF` (and the end of its
/// watches) for a replaced object that lost its last link. With `exchange` both objects
/// move, each with its own pair. A rename of an object onto itself raises nothing.
pub fn rename<T>(r: &Rename<'_>, op: impl FnOnce() -> Result<T>) -> Result<T> {
    let target = active()
        .then(|| r.replaced.and_then(|d| Object::of(d.inode().as_ref())))
        .flatten();
    let done = op()?;
    if !active() {
        return Ok(done);
    }
    // After the operation: the overlay may have copied the object up.
    let Some(src) = Object::of(r.moved.inode().as_ref()) else {
        return Ok(done);
    };
    if target.is_some_and(|t| t.key == src.key) {
        return Ok(done);
    }
    let pair = |from_dir: &Dentry, from: &[u8], to_dir: &Dentry, to: &[u8], obj: &Object| {
        let cookie = next_cookie();
        entry_event(from_dir, from, obj, IN_MOVED_FROM, cookie);
        entry_event(to_dir, to, obj, IN_MOVED_TO, cookie);
    };
    pair(r.old_dir, r.old_name, r.new_dir, r.new_name, &src);
    match target {
        Some(t) if r.exchange => {
            self_event(&src, IN_MOVE_SELF);
            pair(r.new_dir, r.new_name, r.old_dir, r.old_name, &t);
            self_event(&t, IN_MOVE_SELF);
        }
        Some(t) => {
            self_event(&t, IN_ATTRIB);
            self_event(&src, IN_MOVE_SELF);
            if t.last_link() {
                deleted(&t);
            }
        }
        None => self_event(&src, IN_MOVE_SELF),
    }
    Ok(done)
}

/// A fresh rename cookie (never 0).
fn next_cookie() -> u32 {
    static COOKIE: AtomicU32 = AtomicU32::new(0);
    loop {
        let c = COOKIE.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if c != 0 {
            return c;
        }
    }
}

/// An object's identity changed from `old`'s to `new`'s (the overlay copied it up): its
/// watches follow it.
pub fn identity_changed(old: &Stat, new: &Stat) {
    if active() {
        HUB.rekey(Key::from(old), Key::from(new));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tmpfs::TmpFs;

    fn ev(wd: i32, mask: u32, name: &str) -> Event {
        Event {
            wd,
            mask,
            cookie: 0,
            name: name.as_bytes().to_vec(),
        }
    }

    fn drain(q: &mut EventQueue) -> Vec<Event> {
        let mut buf = vec![0u8; 1 << 16];
        let n = q.read(&mut buf).unwrap();
        parse(&buf[..n])
    }

    fn parse(mut buf: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        let word = |b: &[u8], i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap());
        while !buf.is_empty() {
            let len = word(buf, 12) as usize;
            let name = &buf[RECORD..RECORD + len];
            let end = name.iter().position(|&c| c == 0).unwrap_or(len);
            out.push(Event {
                wd: word(buf, 0) as i32,
                mask: word(buf, 4),
                cookie: word(buf, 8),
                name: name[..end].to_vec(),
            });
            buf = &buf[RECORD + len..];
        }
        out
    }

    #[test]
    fn records_pad_names_to_sixteen_bytes() {
        assert_eq!(ev(1, IN_MODIFY, "").record_len(), 16);
        assert_eq!(ev(1, IN_CREATE, "a").record_len(), 32);
        assert_eq!(ev(1, IN_CREATE, "fifteen-chars-x").record_len(), 32);
        assert_eq!(ev(1, IN_CREATE, "sixteen-chars-xx").record_len(), 48);
        let e = Event {
            wd: 3,
            mask: IN_MOVED_TO,
            cookie: 9,
            name: b"ab".to_vec(),
        };
        let mut out = vec![0xffu8; 32];
        e.write(&mut out);
        assert_eq!(&out[0..4], &3i32.to_ne_bytes());
        assert_eq!(&out[4..8], &IN_MOVED_TO.to_ne_bytes());
        assert_eq!(&out[8..12], &9u32.to_ne_bytes());
        assert_eq!(&out[12..16], &16u32.to_ne_bytes());
        assert_eq!(&out[16..18], b"ab");
        assert!(out[18..].iter().all(|&b| b == 0));
    }

    #[test]
    fn identical_consecutive_events_merge() {
        let mut q = EventQueue::new(100);
        assert!(q.push(ev(1, IN_MODIFY, "")));
        assert!(!q.push(ev(1, IN_MODIFY, "")));
        assert!(q.push(ev(2, IN_MODIFY, "")));
        assert!(q.push(ev(1, IN_MODIFY, "")));
        assert!(q.push(ev(1, IN_MODIFY, "x")));
        assert!(!q.push(ev(1, IN_MODIFY, "x")));
        assert!(q.push(ev(1, IN_MODIFY | IN_ISDIR, "x")));
        assert!(q.push(ev(1, IN_IGNORED, "")));
        assert!(q.push(ev(1, IN_IGNORED, "")), "IN_IGNORED never absorbs");
        assert_eq!(drain(&mut q).len(), 7);
        // Once read, the same event queues again.
        assert!(q.push(ev(1, IN_IGNORED, "")));
        assert_eq!(drain(&mut q), vec![ev(1, IN_IGNORED, "")]);
    }

    #[test]
    fn full_queue_takes_one_overflow_record() {
        let mut q = EventQueue::new(3);
        for i in 0..10 {
            q.push(ev(1, if i % 2 == 0 { IN_MODIFY } else { IN_ACCESS }, ""));
        }
        let got = drain(&mut q);
        assert_eq!(got.len(), 4);
        assert_eq!(got[3], ev(-1, IN_Q_OVERFLOW, ""));
        // After reading, events queue again, and a new overflow can be reported.
        for _ in 0..5 {
            q.push(ev(1, IN_MODIFY, ""));
            q.push(ev(1, IN_ACCESS, ""));
        }
        assert_eq!(q.pending_bytes(), 4 * 16);
        assert_eq!(drain(&mut q).last(), Some(&ev(-1, IN_Q_OVERFLOW, "")));
    }

    #[test]
    fn reads_take_whole_records() {
        let mut q = EventQueue::new(10);
        q.push(ev(1, IN_CREATE, "abc"));
        q.push(ev(1, IN_DELETE, "abc"));
        assert_eq!(q.pending_bytes(), 64);
        let mut small = [0u8; 31];
        assert_eq!(q.read(&mut small), Err(Errno::EINVAL));
        let mut one_and_a_half = [0u8; 48];
        assert_eq!(q.read(&mut one_and_a_half), Ok(32));
        assert_eq!(parse(&one_and_a_half[..32]), vec![ev(1, IN_CREATE, "abc")]);
        assert_eq!(q.pending_bytes(), 32);
        assert_eq!(drain(&mut q), vec![ev(1, IN_DELETE, "abc")]);
        assert!(q.is_empty());
        assert_eq!(q.read(&mut small), Ok(0));
    }

    #[test]
    fn descriptors_are_allocated_cyclically() {
        let mut used = BTreeMap::new();
        let w = |wd| {
            Arc::new(Watch {
                wd,
                key: Mutex::new(Key { dev: 0, ino: 0 }),
                mask: AtomicU32::new(0),
                instance: Weak::new(),
                removed: AtomicBool::new(false),
            })
        };
        assert_eq!(free_wd(&used, 1), Some(1));
        used.insert(1, w(1));
        used.insert(2, w(2));
        assert_eq!(free_wd(&used, 2), Some(3));
        assert_eq!(free_wd(&used, i32::MAX), Some(i32::MAX));
        used.insert(i32::MAX, w(i32::MAX));
        assert_eq!(free_wd(&used, i32::MAX), Some(3));
    }

    /// A tmpfs directory with a file, as dentries.
    fn tree() -> (Arc<Dentry>, Arc<Dentry>) {
        let vfs = crate::Vfs::new(TmpFs::root(1 << 20, 0o755));
        let root = vfs.root();
        root.inode().create(b"f", libc::O_WRONLY, 0o644).unwrap();
        let ctx = crate::WalkCtx {
            root: &root,
            start: &root,
        };
        let f = vfs.walk(&ctx, b"/f", false).unwrap().existing().unwrap();
        (root, f)
    }

    fn read_all(ino: &Inotify) -> Vec<Event> {
        let mut buf = vec![0u8; 4096];
        match ino.read(&Waiter::new(), &mut buf, true) {
            Ok(n) => parse(&buf[..n]),
            Err(Errno::EAGAIN) => Vec::new(),
            Err(e) => panic!("read: {e}"),
        }
    }

    #[test]
    fn events_reach_directory_and_object_watches() {
        let (root, f) = tree();
        let ino = Inotify::new(u32::MAX - 1).unwrap();
        let dir_wd = ino.add_watch(&root, IN_ALL_EVENTS).unwrap();
        let f_wd = ino.add_watch(&f, IN_ATTRIB | IN_DELETE_SELF).unwrap();
        assert_eq!(ino.add_watch(&f, IN_ATTRIB | IN_MASK_ADD), Ok(f_wd));
        assert_eq!(
            ino.add_watch(&f, IN_ATTRIB | IN_MASK_CREATE),
            Err(Errno::EEXIST)
        );
        attr_changed(&f, SetAttr::Mode(0o600));
        created(&root, b"d", true);
        remove(&root, b"f", &f, || root.inode().unlink(b"f")).unwrap();
        assert_eq!(
            read_all(&ino),
            vec![
                ev(dir_wd, IN_ATTRIB, "f"),
                ev(f_wd, IN_ATTRIB, ""),
                ev(dir_wd, IN_CREATE | IN_ISDIR, "d"),
                ev(f_wd, IN_ATTRIB, ""),
                ev(f_wd, IN_DELETE_SELF, ""),
                ev(f_wd, IN_IGNORED, ""),
                ev(dir_wd, IN_DELETE, "f"),
            ]
        );
        assert_eq!(ino.rm_watch(f_wd), Err(Errno::EINVAL));
        assert_eq!(ino.rm_watch(dir_wd), Ok(()));
        assert_eq!(read_all(&ino), vec![ev(dir_wd, IN_IGNORED, "")]);
    }

    #[test]
    fn oneshot_watch_fires_once() {
        let (root, f) = tree();
        let ino = Inotify::new(u32::MAX - 1).unwrap();
        let wd = ino.add_watch(&f, IN_ATTRIB | IN_ONESHOT).unwrap();
        attr_changed(&f, SetAttr::Mode(0o600));
        attr_changed(&f, SetAttr::Mode(0o644));
        assert_eq!(
            read_all(&ino),
            vec![ev(wd, IN_ATTRIB, ""), ev(wd, IN_IGNORED, "")]
        );
        assert_ne!(ino.add_watch(&f, IN_ATTRIB).unwrap(), wd);
        drop(root);
    }

    #[test]
    fn instances_per_user_are_limited() {
        let uid = u32::MAX - 3;
        let max = limits().max_user_instances;
        let held: Vec<Inotify> = (0..max).map(|_| Inotify::new(uid).unwrap()).collect();
        assert_eq!(Inotify::new(uid).err(), Some(Errno::EMFILE));
        assert!(
            Inotify::new(uid - 1).is_ok(),
            "other users have their own limit"
        );
        drop(held);
        assert!(Inotify::new(uid).is_ok());
    }

    #[test]
    fn closing_the_instance_drops_its_watches() {
        let (_root, f) = tree();
        let uid = u32::MAX - 2;
        let ino = Inotify::new(uid).unwrap();
        ino.add_watch(&f, IN_ATTRIB).unwrap();
        let count = |uid| HUB.users.lock().get(&uid).map(|u| (u.instances, u.watches));
        assert_eq!(count(uid), Some((1, 1)));
        drop(ino);
        assert_eq!(count(uid), Some((0, 0)));
    }
}
