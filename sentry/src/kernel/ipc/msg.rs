//! System V message queues.
//!
//! A queue holds typed messages up to `msg_qbytes` bytes (and as many messages). A
//! sender finding it full waits and retries when a receive makes room; a receiver finding
//! no matching message waits, and a later send hands a matching message straight to the
//! first such waiting receiver (Linux's pipelined send). Removal wakes both with `EIDRM`.

use super::abi::{Ipc64Perm, Msginfo, Msqid64Ds};
use super::{Caller, READ, Registry, Slot, StatBy, WRITE, now, sleep};
use fs::Waiter;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;

/// Largest message (`MSGMAX`).
pub const MSGMAX: usize = 8192;
/// Default and unprivileged maximum of a queue's bytes (`MSGMNB`).
pub const MSGMNB: u64 = 16384;
/// Most queues (`MSGMNI`).
pub const MSGMNI: usize = 32000;
/// `msgctl`: `IPC_STAT` by index.
pub const MSG_STAT: i32 = 11;
/// `msgctl`: usage figures.
pub const MSG_INFO: i32 = 12;
/// `msgctl`: `MSG_STAT` without a permission check.
pub const MSG_STAT_ANY: i32 = 13;
/// `msgrcv`: truncate a message longer than the buffer.
pub const MSG_NOERROR: i32 = 0o10000;
/// `msgrcv`: the first message whose type is not `msgtyp`.
pub const MSG_EXCEPT: i32 = 0o20000;
/// `msgrcv`: copy the message at index `msgtyp`, leaving it queued.
pub const MSG_COPY: i32 = 0o40000;

/// One message.
#[derive(Clone, Debug)]
pub struct Message {
    /// Its type (positive).
    pub mtype: i64,
    /// Its contents.
    pub text: Vec<u8>,
}

/// Which message `msgrcv` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    /// The first (`msgtyp` 0).
    Any,
    /// The first of this type (`msgtyp` > 0).
    Type(i64),
    /// The first not of this type (`MSG_EXCEPT`).
    Except(i64),
    /// The first of the lowest type up to this one (`msgtyp` < 0).
    UpTo(i64),
    /// The one at this index (`MSG_COPY`).
    Index(i64),
}

impl Select {
    /// Linux's `convert_mode`: the selection `msgtyp` and `flags` ask for.
    pub fn of(msgtyp: i64, flags: i32) -> Select {
        if flags & MSG_COPY != 0 {
            Select::Index(msgtyp)
        } else if msgtyp == 0 {
            Select::Any
        } else if msgtyp < 0 {
            Select::UpTo(msgtyp.checked_neg().unwrap_or(i64::MAX))
        } else if flags & MSG_EXCEPT != 0 {
            Select::Except(msgtyp)
        } else {
            Select::Type(msgtyp)
        }
    }

    fn accepts(self, mtype: i64) -> bool {
        match self {
            Select::Any | Select::Index(_) => true,
            Select::Type(t) => mtype == t,
            Select::Except(t) => mtype != t,
            Select::UpTo(t) => mtype <= t,
        }
    }

    /// The index of the message to take from `messages`.
    fn find(self, messages: &VecDeque<Message>) -> Option<usize> {
        match self {
            Select::Index(n) => usize::try_from(n).ok().filter(|&n| n < messages.len()),
            Select::UpTo(_) => messages
                .iter()
                .enumerate()
                .filter(|(_, m)| self.accepts(m.mtype))
                .min_by_key(|(i, m)| (m.mtype, *i))
                .map(|(i, _)| i),
            _ => messages.iter().position(|m| self.accepts(m.mtype)),
        }
    }
}

/// A receiver waiting for a message; an outcome of `EAGAIN` means "look again".
struct Receiver {
    select: Select,
    max: usize,
    pid: i32,
    slot: Arc<Slot<Result<Message, Errno>>>,
}

/// A sender waiting for room; an outcome of `Ok` means "try again".
struct Sender {
    size: usize,
    slot: Arc<Slot<Result<(), Errno>>>,
}

/// One message queue.
pub struct Queue {
    messages: VecDeque<Message>,
    cbytes: u64,
    qbytes: u64,
    stime: i64,
    rtime: i64,
    ctime: i64,
    lspid: i32,
    lrpid: i32,
    receivers: VecDeque<Receiver>,
    senders: VecDeque<Sender>,
}

impl Queue {
    fn fits(&self, size: usize) -> bool {
        self.cbytes + size as u64 <= self.qbytes && (self.messages.len() as u64) < self.qbytes
    }

    /// Gives `msg` to the first waiting receiver that selects it (one whose buffer is too
    /// small fails with `E2BIG` instead); returns it if none takes it.
    fn hand_over(&mut self, msg: Message) -> Option<Message> {
        let mut i = 0;
        while i < self.receivers.len() {
            if !self.receivers[i].select.accepts(msg.mtype) {
                i += 1;
                continue;
            }
            let r = self.receivers.remove(i).expect("index in range");
            if r.max < msg.text.len() {
                r.slot.complete(Err(Errno::E2BIG));
                continue;
            }
            self.lrpid = r.pid;
            self.rtime = now();
            r.slot.complete(Ok(msg));
            return None;
        }
        Some(msg)
    }

    /// Wakes the waiting senders whose message now fits.
    fn wake_senders(&mut self) {
        let mut waiting = std::mem::take(&mut self.senders);
        waiting.retain(|s| {
            let fits = self.fits(s.size);
            if fits {
                s.slot.complete(Ok(()));
            }
            !fits
        });
        self.senders = waiting;
    }
}

/// The message queues of a namespace.
pub struct Msg {
    queues: Mutex<Registry<Queue>>,
}

impl Default for Msg {
    fn default() -> Self {
        Msg {
            queues: Mutex::new(Registry::new(MSGMNI)),
        }
    }
}

impl Msg {
    /// `msgget`: the id of the queue with `key`, or a new queue.
    pub fn get(&self, who: &Caller, key: i32, flags: i32) -> Result<i32, Errno> {
        self.queues.lock().get_or_create(
            who,
            key,
            flags,
            |_| Ok(()),
            || {
                Ok(Queue {
                    messages: VecDeque::new(),
                    cbytes: 0,
                    qbytes: MSGMNB,
                    stime: 0,
                    rtime: 0,
                    ctime: now(),
                    lspid: 0,
                    lrpid: 0,
                    receivers: VecDeque::new(),
                    senders: VecDeque::new(),
                })
            },
        )
    }

    /// `msgsnd`: queues `msg`, waiting for room unless `nowait` (`EAGAIN`). A signal is
    /// `EINTR`, removal of the queue `EIDRM`.
    pub fn send(
        &self,
        who: &Caller,
        id: i32,
        msg: Message,
        nowait: bool,
        waiter: &Arc<Waiter>,
    ) -> Result<(), Errno> {
        let mut waited = false;
        loop {
            let slot = {
                let mut queues = self.queues.lock();
                let q = match queues.get(id) {
                    Err(_) if waited => return Err(Errno::EIDRM),
                    r => r?,
                };
                if !q.perm.allows(who, WRITE) {
                    return Err(Errno::EACCES);
                }
                let q = &mut q.data;
                if q.fits(msg.text.len()) {
                    q.lspid = who.pid;
                    q.stime = now();
                    if let Some(msg) = q.hand_over(msg) {
                        q.cbytes += msg.text.len() as u64;
                        q.messages.push_back(msg);
                    }
                    return Ok(());
                }
                if nowait {
                    return Err(Errno::EAGAIN);
                }
                let slot = Slot::new(waiter);
                q.senders.push_back(Sender {
                    size: msg.text.len(),
                    slot: slot.clone(),
                });
                slot
            };
            sleep(&self.queues, &slot, None, |queues| {
                if let Ok(q) = queues.get(id) {
                    q.data.senders.retain(|s| !Arc::ptr_eq(&s.slot, &slot));
                }
            })??;
            waited = true;
        }
    }

    /// `msgrcv`: takes the message `select` picks (copies it, for `MSG_COPY`), waiting
    /// for one unless `IPC_NOWAIT` (`ENOMSG`). A message longer than `max` is `E2BIG`
    /// unless `MSG_NOERROR`; the caller truncates it then.
    pub fn receive(
        &self,
        who: &Caller,
        id: i32,
        max: usize,
        select: Select,
        flags: i32,
        waiter: &Arc<Waiter>,
    ) -> Result<Message, Errno> {
        let noerror = flags & MSG_NOERROR != 0;
        let mut waited = false;
        loop {
            let slot = {
                let mut queues = self.queues.lock();
                let q = match queues.get(id) {
                    Err(_) if waited => return Err(Errno::EIDRM),
                    r => r?,
                };
                if !q.perm.allows(who, READ) {
                    return Err(Errno::EACCES);
                }
                let q = &mut q.data;
                if let Some(i) = select.find(&q.messages) {
                    if max < q.messages[i].text.len() && !noerror {
                        return Err(Errno::E2BIG);
                    }
                    if flags & MSG_COPY != 0 {
                        return Ok(q.messages[i].clone());
                    }
                    let msg = q.messages.remove(i).expect("index in range");
                    q.cbytes -= msg.text.len() as u64;
                    q.rtime = now();
                    q.lrpid = who.pid;
                    q.wake_senders();
                    return Ok(msg);
                }
                if flags & super::IPC_NOWAIT != 0 {
                    return Err(Errno::ENOMSG);
                }
                let slot = Slot::new(waiter);
                q.receivers.push_back(Receiver {
                    select,
                    max: if noerror { usize::MAX } else { max },
                    pid: who.pid,
                    slot: slot.clone(),
                });
                slot
            };
            let outcome = sleep(&self.queues, &slot, None, |queues| {
                if let Ok(q) = queues.get(id) {
                    q.data.receivers.retain(|r| !Arc::ptr_eq(&r.slot, &slot));
                }
            })?;
            match outcome {
                Err(Errno::EAGAIN) => waited = true,
                r => return r,
            }
        }
    }

    /// `IPC_STAT`, `MSG_STAT`, `MSG_STAT_ANY`.
    pub fn stat(&self, who: &Caller, id: i32, by: StatBy) -> Result<(Msqid64Ds, i32), Errno> {
        let mut queues = self.queues.lock();
        let (q, ret) = queues.stat(who, id, by)?;
        let ds = Msqid64Ds {
            msg_perm: q.perm.to_abi(),
            msg_stime: q.data.stime,
            msg_rtime: q.data.rtime,
            msg_ctime: q.data.ctime,
            msg_cbytes: q.data.cbytes,
            msg_qnum: q.data.messages.len() as u64,
            msg_qbytes: q.data.qbytes,
            msg_lspid: q.data.lspid,
            msg_lrpid: q.data.lrpid,
            ..Default::default()
        };
        Ok((ds, ret))
    }

    /// `IPC_SET`: owner, mode and the queue's size (above `MSGMNB` only for root).
    /// Waiting receivers look again (the mode may exclude them now); senders whose
    /// message now fits retry.
    pub fn set(&self, who: &Caller, id: i32, perm: &Ipc64Perm, qbytes: u64) -> Result<(), Errno> {
        let mut queues = self.queues.lock();
        let q = queues.owned(who, id)?;
        if qbytes > MSGMNB && !who.privileged() {
            return Err(Errno::EPERM);
        }
        q.perm.update(perm)?;
        let q = &mut q.data;
        q.qbytes = qbytes;
        q.ctime = now();
        for r in q.receivers.drain(..) {
            r.slot.complete(Err(Errno::EAGAIN));
        }
        q.wake_senders();
        Ok(())
    }

    /// `IPC_RMID`: removes the queue and its messages; waiters fail with `EIDRM`.
    pub fn remove(&self, who: &Caller, id: i32) -> Result<(), Errno> {
        let mut queues = self.queues.lock();
        queues.owned(who, id)?;
        let q = queues.remove(id).expect("owned queue exists").data;
        for r in q.receivers {
            r.slot.complete(Err(Errno::EIDRM));
        }
        for s in q.senders {
            s.slot.complete(Err(Errno::EIDRM));
        }
        Ok(())
    }

    /// `IPC_INFO` (`usage` false) and `MSG_INFO`: limits (and usage), and the highest
    /// index in use.
    pub fn info(&self, usage: bool) -> (Msginfo, i32) {
        const MSGSSZ: i32 = 16;
        const MSGPOOL: i32 = (MSGMNI as u64 * MSGMNB / 1024) as i32;
        let queues = self.queues.lock();
        let (pool, map, tql) = if usage {
            let msgs: usize = queues.iter().map(|q| q.data.messages.len()).sum();
            let bytes: u64 = queues.iter().map(|q| q.data.cbytes).sum();
            (
                queues.in_use() as i32,
                msgs.min(i32::MAX as usize) as i32,
                bytes.min(i32::MAX as u64) as i32,
            )
        } else {
            (MSGPOOL, MSGMNB as i32, MSGMNB as i32)
        };
        let info = Msginfo {
            msgpool: pool,
            msgmap: map,
            msgmax: MSGMAX as i32,
            msgmnb: MSGMNB as i32,
            msgmni: MSGMNI as i32,
            msgssz: MSGSSZ,
            msgtql: tql,
            msgseg: u16::MAX,
            pad: 0,
        };
        (info, queues.max_index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_msgtyp() {
        let q: VecDeque<Message> = [3, 1, 2, 1]
            .iter()
            .map(|&t| Message {
                mtype: t,
                text: vec![],
            })
            .collect();
        assert_eq!(Select::of(0, 0).find(&q), Some(0));
        assert_eq!(Select::of(2, 0).find(&q), Some(2));
        assert_eq!(Select::of(3, MSG_EXCEPT).find(&q), Some(1));
        assert_eq!(
            Select::of(-2, 0).find(&q),
            Some(1),
            "lowest type, first of them"
        );
        assert_eq!(Select::of(-3, 0).find(&q), Some(1));
        assert_eq!(Select::of(4, 0).find(&q), None);
        assert_eq!(Select::of(3, MSG_COPY).find(&q), Some(3));
        assert_eq!(Select::of(4, MSG_COPY).find(&q), None);
        assert_eq!(Select::of(i64::MIN, 0), Select::UpTo(i64::MAX));
    }
}
