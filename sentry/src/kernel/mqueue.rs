//! POSIX message queues (mq_overview(7)) in the sandbox's own IPC namespace, never the
//! host's: named queues of messages with priorities, opened as files.
//!
//! - [`MqNamespace`] maps names to [`Queue`]s; a queue lives while it has a name or an
//!   open description. Creation follows Linux's limits (`/proc/sys/fs/mqueue`: 10 messages
//!   of 8192 bytes by default and at most for users without `CAP_SYS_RESOURCE`, 256
//!   queues, `RLIMIT_MSGQUEUE` bytes per user) and permission rules.
//! - A [`Queue`] keeps its messages highest priority first, FIFO within a priority;
//!   senders wait for room and receivers for a message on its wait queue, which also
//!   drives `poll`/`epoll` readiness of its files ([`MqFile`]).
//! - One process may register for notification (`mq_notify`): a signal when a message
//!   arrives in the empty queue while no receiver waits, once.

use super::Kernel;
use super::ipc::Caller;
use super::process::Process;
use super::sigframe::SigInfo;
use super::signal;
use fs::{FileOps, PollEvents, Stat, WaitQueue, Waiter};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// Default and (without `CAP_SYS_RESOURCE`) largest number of messages (`msg_max`).
pub const MSG_MAX: i64 = 10;
/// Default and (without `CAP_SYS_RESOURCE`) largest message size (`msgsize_max`).
pub const MSGSIZE_MAX: i64 = 8192;
/// Largest number of messages for anyone (`HARD_MSGMAX`).
const HARD_MSGMAX: i64 = 65536;
/// Largest message size for anyone (`HARD_MSGSIZEMAX`).
const HARD_MSGSIZEMAX: i64 = 16 << 20;
/// Queues a user without `CAP_SYS_RESOURCE` may create (`queues_max`).
pub const QUEUES_MAX: usize = 256;
/// Priorities are below this (`MQ_PRIO_MAX`).
pub const PRIO_MAX: u32 = 32768;
/// Bytes the kernel charges per message besides its text (`struct msg_msg`), and per
/// priority level in use (`struct posix_msg_tree_node`), against `RLIMIT_MSGQUEUE`.
const MSG_OVERHEAD: u64 = 48;
const TREE_NODE: u64 = 40;
/// `si_code` of a message queue notification.
const SI_MESGQ: i32 = -3;

/// How a send or receive may wait: not at all (`O_NONBLOCK`: `EAGAIN`), until a deadline
/// (`ETIMEDOUT`) or for ever; a signal ends the wait through the waiter (`EINTR`).
pub struct Wait<'a> {
    /// The description is nonblocking.
    pub nonblock: bool,
    /// The absolute timeout, if any.
    pub deadline: Option<Instant>,
    /// The caller's waiter.
    pub waiter: &'a Arc<Waiter>,
}

/// `struct mq_attr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    /// `mq_maxmsg`.
    pub maxmsg: i64,
    /// `mq_msgsize`.
    pub msgsize: i64,
}

/// Who made a queue and who may use it.
#[derive(Clone, Copy, Debug)]
struct Owner {
    uid: u32,
    gid: u32,
    mode: u32,
}

/// A registered notification.
#[derive(Clone)]
pub struct Notify {
    /// The registered process.
    pub process: Weak<Process>,
    /// Its pid (to refuse others, and for the status line).
    pub pid: i32,
    /// Signal to send (0: none), or `None` for `SIGEV_NONE`.
    pub signo: Option<i32>,
    /// `sigev_value`.
    pub value: u64,
}

struct State {
    attr: Attr,
    owner: Owner,
    /// Messages, highest priority first, in arrival order within a priority.
    messages: Vec<(u32, Vec<u8>)>,
    bytes: u64,
    receivers_waiting: usize,
    notify: Option<Notify>,
}

/// One message queue.
pub struct Queue {
    st: Mutex<State>,
    /// Woken on every change: waiting senders and receivers, pollers.
    changed: WaitQueue,
    ino: u64,
    /// `RLIMIT_MSGQUEUE` bytes charged to the creator, returned when the queue goes (held
    /// for its `Drop`).
    _charge: Charge,
}

/// Bytes a queue holds against its creator's `RLIMIT_MSGQUEUE`.
struct Charge {
    ns: Weak<MqNamespace>,
    uid: u32,
    bytes: u64,
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(ns) = self.ns.upgrade() {
            let mut users = ns.user_bytes.lock();
            if let Some(b) = users.get_mut(&self.uid) {
                *b -= self.bytes;
            }
        }
    }
}

/// The sandbox's message queues by name (without the leading `/`).
#[derive(Default)]
pub struct MqNamespace {
    names: Mutex<HashMap<Vec<u8>, Arc<Queue>>>,
    user_bytes: Mutex<HashMap<u32, u64>>,
    next_ino: AtomicU64,
}

/// Checks a queue name as the kernel receives it (the C library strips the `/`).
fn check_name(name: &[u8]) -> Result<(), Errno> {
    if name.len() > 255 {
        Err(Errno::ENAMETOOLONG)
    } else if name.is_empty() {
        Err(Errno::ENOENT)
    } else if name.contains(&b'/') || name == b"." || name == b".." {
        Err(Errno::EACCES)
    } else {
        Ok(())
    }
}

impl MqNamespace {
    /// `mq_open(name, oflag, mode, attr)`: the queue, created with `O_CREAT` (`mode` after
    /// the umask, `attr` or the defaults) unless it exists (then `EEXIST` with `O_EXCL`),
    /// `ENOENT` without. `rlimit` is the caller's `RLIMIT_MSGQUEUE`.
    pub fn open(
        self: &Arc<Self>,
        who: &Caller,
        name: &[u8],
        oflag: i32,
        mode: u32,
        attr: Option<Attr>,
        rlimit: u64,
    ) -> Result<Arc<Queue>, Errno> {
        check_name(name)?;
        let mut names = self.names.lock();
        if let Some(q) = names.get(name) {
            if oflag & libc::O_CREAT != 0 && oflag & libc::O_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            q.check_access(who, oflag)?;
            return Ok(q.clone());
        }
        if oflag & libc::O_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
        let privileged = who.privileged();
        let attr = match attr {
            None => Attr {
                maxmsg: MSG_MAX,
                msgsize: MSGSIZE_MAX,
            },
            Some(a) => {
                let (max_msgs, max_size) = if privileged {
                    (HARD_MSGMAX, HARD_MSGSIZEMAX)
                } else {
                    (MSG_MAX, MSGSIZE_MAX)
                };
                if a.maxmsg <= 0 || a.msgsize <= 0 || a.maxmsg > max_msgs || a.msgsize > max_size {
                    return Err(Errno::EINVAL);
                }
                a
            }
        };
        if !privileged && names.len() >= QUEUES_MAX {
            return Err(Errno::ENOSPC);
        }
        let (maxmsg, msgsize) = (attr.maxmsg as u64, attr.msgsize as u64);
        let bytes = maxmsg * (MSG_OVERHEAD + msgsize) + maxmsg.min(u64::from(PRIO_MAX)) * TREE_NODE;
        {
            let mut users = self.user_bytes.lock();
            let used = users.entry(who.creds.euid).or_default();
            if used.saturating_add(bytes) > rlimit {
                return Err(Errno::EMFILE);
            }
            *used += bytes;
        }
        let q = Arc::new(Queue {
            st: Mutex::new(State {
                attr,
                owner: Owner {
                    uid: who.creds.euid,
                    gid: who.creds.egid,
                    mode: mode & 0o777,
                },
                messages: Vec::new(),
                bytes: 0,
                receivers_waiting: 0,
                notify: None,
            }),
            changed: WaitQueue::new(),
            ino: self.next_ino.fetch_add(1, Ordering::Relaxed) + 1,
            _charge: Charge {
                ns: Arc::downgrade(self),
                uid: who.creds.euid,
                bytes,
            },
        });
        names.insert(name.to_vec(), q.clone());
        Ok(q)
    }

    /// `mq_unlink(name)`: the name goes; open descriptions keep the queue. Only the owner
    /// (or root) may remove it (`EACCES`, as Linux answers).
    pub fn unlink(&self, who: &Caller, name: &[u8]) -> Result<(), Errno> {
        check_name(name)?;
        let mut names = self.names.lock();
        let q = names.get(name).ok_or(Errno::ENOENT)?;
        if !who.privileged() && q.st.lock().owner.uid != who.creds.euid {
            return Err(Errno::EACCES);
        }
        names.remove(name);
        Ok(())
    }
}

impl Queue {
    /// Whether `who` may open the queue for `oflag`'s access mode (`EACCES`).
    fn check_access(&self, who: &Caller, oflag: i32) -> Result<(), Errno> {
        let need = match oflag & libc::O_ACCMODE {
            libc::O_RDONLY => 4,
            libc::O_WRONLY => 2,
            libc::O_RDWR => 6,
            _ => return Err(Errno::EINVAL),
        };
        if who.privileged() {
            return Ok(());
        }
        let o = self.st.lock().owner;
        let bits = if who.creds.euid == o.uid {
            o.mode >> 6
        } else if who.creds.egid == o.gid {
            o.mode >> 3
        } else {
            o.mode
        } & 7;
        if bits & need == need {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    /// The queue's attributes and current message count.
    pub fn attr(&self) -> (Attr, usize) {
        let st = self.st.lock();
        (st.attr, st.messages.len())
    }

    /// `mq_timedsend`: queues `msg` at priority `prio`, waiting for room as `wait` allows;
    /// `EMSGSIZE` if it is longer than the queue's message size. A message into the empty
    /// queue that no receiver waits for fires the notification.
    pub fn send(
        &self,
        kernel: &Kernel,
        who: &Caller,
        msg: Vec<u8>,
        prio: u32,
        wait: Wait,
    ) -> Result<(), Errno> {
        loop {
            let notify = {
                let _reg = self.changed.register(wait.waiter);
                let mut st = self.st.lock();
                if msg.len() as i64 > st.attr.msgsize {
                    return Err(Errno::EMSGSIZE);
                }
                if (st.messages.len() as i64) < st.attr.maxmsg {
                    let was_empty = st.messages.is_empty();
                    let at = st.messages.partition_point(|(p, _)| *p >= prio);
                    st.bytes += msg.len() as u64;
                    st.messages.insert(at, (prio, msg));
                    let notify = if was_empty && st.receivers_waiting == 0 {
                        st.notify.take()
                    } else {
                        None
                    };
                    drop(st);
                    self.changed.notify_all();
                    notify
                } else if wait.nonblock {
                    return Err(Errno::EAGAIN);
                } else {
                    drop(st);
                    wait.waiter.wait(wait.deadline)?;
                    continue;
                }
            };
            if let Some(n) = notify {
                fire(kernel, who, n);
            }
            return Ok(());
        }
    }

    /// `mq_timedreceive`: the oldest message of the highest priority and its priority,
    /// waiting for one as `wait` allows; `EMSGSIZE` if `room` is below the queue's message
    /// size.
    pub fn receive(&self, room: usize, wait: Wait) -> Result<(Vec<u8>, u32), Errno> {
        loop {
            let _reg = self.changed.register(wait.waiter);
            let mut st = self.st.lock();
            if (room as i64) < st.attr.msgsize {
                return Err(Errno::EMSGSIZE);
            }
            if !st.messages.is_empty() {
                let (prio, msg) = st.messages.remove(0);
                st.bytes -= msg.len() as u64;
                drop(st);
                self.changed.notify_all();
                return Ok((msg, prio));
            }
            if wait.nonblock {
                return Err(Errno::EAGAIN);
            }
            st.receivers_waiting += 1;
            drop(st);
            let r = wait.waiter.wait(wait.deadline);
            self.st.lock().receivers_waiting -= 1;
            r?;
        }
    }

    /// `mq_notify`: registers `notify` (`EBUSY` if any process is registered), or with
    /// `None` removes the registration of process `pid` if it has one.
    pub fn set_notify(&self, pid: i32, notify: Option<Notify>) -> Result<(), Errno> {
        let mut st = self.st.lock();
        match notify {
            Some(n) => {
                if st
                    .notify
                    .as_ref()
                    .is_some_and(|o| o.process.strong_count() > 0)
                {
                    return Err(Errno::EBUSY);
                }
                st.notify = Some(n);
            }
            None => {
                if st.notify.as_ref().is_some_and(|o| o.pid == pid) {
                    st.notify = None;
                }
            }
        }
        Ok(())
    }

    /// What `read` of a queue's file shows.
    fn status(&self) -> String {
        let st = self.st.lock();
        let (notify, signo, pid) = match &st.notify {
            Some(n) => match n.signo {
                Some(s) => (libc::SIGEV_SIGNAL, s, n.pid),
                None => (libc::SIGEV_NONE, 0, n.pid),
            },
            None => (0, 0, 0),
        };
        format!(
            "QSIZE:{:<10} NOTIFY:{notify:<5} SIGNO:{signo:<5} NOTIFY_PID:{pid:<6}\n",
            st.bytes
        )
    }
}

/// Sends the notification `n` for a message `sender` queued.
fn fire(kernel: &Kernel, sender: &Caller, n: Notify) {
    let (Some(signo @ 1..), Some(process)) = (n.signo, n.process.upgrade()) else {
        return;
    };
    if kernel.tree.lock().live(n.pid).is_none() {
        return;
    }
    signal::send(
        &process,
        SigInfo::mesgq(signo, SI_MESGQ, sender.pid, sender.creds.uid, n.value),
    );
}

/// An open message queue description.
pub struct MqFile {
    /// The queue.
    pub queue: Arc<Queue>,
    name: Vec<u8>,
    /// The file's status text for `read`, from its first read on.
    shown: Mutex<Option<(String, usize)>>,
}

impl MqFile {
    /// A description of `queue`, opened as `name`.
    pub fn new(queue: Arc<Queue>, name: &[u8]) -> MqFile {
        MqFile {
            queue,
            name: name.to_vec(),
            shown: Mutex::new(None),
        }
    }

    /// The queue behind `file`, if it is a message queue.
    pub fn of(file: &fs::OpenFile) -> Option<&MqFile> {
        file.ops.any()?.downcast_ref()
    }
}

impl FileOps for MqFile {
    fn read(&self, _w: &Arc<Waiter>, buf: &mut [u8], _nonblock: bool) -> fs::Result<usize> {
        let mut shown = self.shown.lock();
        let (text, pos) = shown.get_or_insert_with(|| (self.queue.status(), 0));
        let n = buf.len().min(text.len() - *pos);
        buf[..n].copy_from_slice(&text.as_bytes()[*pos..*pos + n]);
        *pos += n;
        Ok(n)
    }
    fn stat(&self) -> fs::Result<Stat> {
        let st = self.queue.st.lock();
        Ok(Stat {
            uid: st.owner.uid,
            gid: st.owner.gid,
            ..fs::synth::synth_stat(
                self.queue.ino,
                libc::S_IFREG | st.owner.mode,
                0,
                st.bytes as i64,
            )
        })
    }
    fn poll(&self, events: PollEvents) -> PollEvents {
        let (attr, count) = self.queue.attr();
        let mut ready = 0;
        if count > 0 {
            ready |= libc::POLLIN | libc::POLLRDNORM;
        }
        if (count as i64) < attr.maxmsg {
            ready |= libc::POLLOUT | libc::POLLWRNORM;
        }
        events & ready
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue.changed)
    }
    fn any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn anon_name(&self) -> Option<String> {
        Some(format!("/{}", String::from_utf8_lossy(&self.name)))
    }
}
