//! Pipes: a bounded byte buffer between a read end and a write end, with Linux's blocking,
//! atomicity and end-of-file rules.
//!
//! - Reads block while the pipe is empty and has writers, return 0 once it is empty and
//!   has none.
//! - Writes of at most [`PIPE_BUF`] bytes are atomic: they wait until all of them fit.
//!   Larger writes go in pieces as room appears. Writing with no reader left fails with
//!   `EPIPE` (the caller raises SIGPIPE).
//! - Every change wakes the pipe's wait queue, which readers, writers and pollers share.
//! - `splice`, `tee` and `vmsplice` take, peek at and append bytes directly, filling the
//!   pipe as room appears (no all-or-nothing rule).
//! - A named pipe ([`Fifo`], a FIFO on an in-memory filesystem) makes an end at each open
//!   with Linux's `fifo_open` rules: a blocking open for reading only or writing only
//!   waits for the other side ([`PipeEnd::wait_partner`]), a non-blocking write-only open
//!   with no reader is `ENXIO`, and the bytes last only while some end is open.

use crate::Result;
use crate::file::{FileOps, PollEvents};
use crate::inode::Stat;
use crate::synth::{anon_stat, next_ino};
use crate::wait::{WaitQueue, Waiter};
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;

/// Writes up to this many bytes are atomic.
pub const PIPE_BUF: usize = 4096;
/// Default capacity.
pub const DEFAULT_CAPACITY: usize = 65536;
/// Largest capacity `F_SETPIPE_SZ` grants (Linux's default `pipe-max-size`).
pub const MAX_CAPACITY: usize = 1 << 20;

struct State {
    buf: VecDeque<u8>,
    capacity: usize,
    readers: usize,
    writers: usize,
    /// Read and write ends ever opened (Linux's `r_counter`, `w_counter`).
    read_opens: usize,
    write_opens: usize,
}

/// The shared part of a pipe.
pub struct Pipe {
    state: Mutex<State>,
    queue: WaitQueue,
    ino: u64,
    /// A named pipe's (opens wait for a partner); an anonymous one's ends, reopened
    /// through `/proc/PID/fd`, never wait.
    named: bool,
}

/// One end of a pipe, as an open file (both ends for a FIFO opened read-write).
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    read: bool,
    write: bool,
    /// The other side's open count when this end was opened, for
    /// [`wait_partner`](Self::wait_partner).
    partner_opens: usize,
    /// A reader reports `POLLHUP` with no writer only once the write-open count differs
    /// from this (Linux's `f_version`): set by a non-blocking FIFO open with no writer, so
    /// that such a reader does not see a hang-up before any writer came.
    hup_after: usize,
}

impl Pipe {
    fn new(readers: usize, writers: usize, named: bool) -> Arc<Pipe> {
        Arc::new(Pipe {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                capacity: DEFAULT_CAPACITY,
                readers,
                writers,
                read_opens: readers,
                write_opens: writers,
            }),
            queue: WaitQueue::new(),
            ino: next_ino(),
            named,
        })
    }
}

/// Creates a pipe and returns its (read, write) ends.
pub fn pipe() -> (PipeEnd, PipeEnd) {
    let pipe = Pipe::new(1, 1, false);
    let end = |read: bool| PipeEnd {
        pipe: pipe.clone(),
        read,
        write: !read,
        partner_opens: 1,
        hup_after: 0,
    };
    (end(true), end(false))
}

/// The pipe of a named pipe (a FIFO on an in-memory filesystem).
pub struct Fifo(Arc<Pipe>);

impl Default for Fifo {
    fn default() -> Self {
        Fifo(Pipe::new(0, 0, true))
    }
}

impl Fifo {
    /// Opens an end for the access mode of `flags`: `ENXIO` for a non-blocking write-only
    /// open while no reader has the FIFO open. A blocking open then waits for the other
    /// side with [`PipeEnd::wait_partner`].
    pub fn open(&self, flags: i32) -> Result<PipeEnd> {
        let (read, write) = match flags & libc::O_ACCMODE {
            libc::O_RDONLY => (true, false),
            libc::O_WRONLY => (false, true),
            libc::O_RDWR => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        let nonblock = flags & libc::O_NONBLOCK != 0;
        let mut st = self.0.state.lock();
        if write && !read && nonblock && st.readers == 0 {
            return Err(Errno::ENXIO);
        }
        let (partner_opens, hup_after) = if read && !write {
            let lonely = st.writers == 0 && nonblock;
            (st.write_opens, if lonely { st.write_opens } else { 0 })
        } else {
            (st.read_opens, 0)
        };
        if read {
            st.readers += 1;
            st.read_opens += 1;
        }
        if write {
            st.writers += 1;
            st.write_opens += 1;
        }
        drop(st);
        self.0.queue.notify_all();
        Ok(PipeEnd {
            pipe: self.0.clone(),
            read,
            write,
            partner_opens,
            hup_after,
        })
    }
}

impl PipeEnd {
    /// Capacity in bytes (`F_GETPIPE_SZ`).
    pub fn capacity(&self) -> usize {
        self.pipe.state.lock().capacity
    }

    /// Sets the capacity (`F_SETPIPE_SZ`): rounded up to a power of two of at least a
    /// page; `EBUSY` if the pipe holds more than that.
    pub fn set_capacity(&self, size: usize) -> Result<usize> {
        if size > MAX_CAPACITY {
            return Err(Errno::EPERM);
        }
        let size = size.max(4096).next_power_of_two();
        let mut st = self.pipe.state.lock();
        if st.buf.len() > size {
            return Err(Errno::EBUSY);
        }
        st.capacity = size;
        drop(st);
        self.pipe.queue.notify_all();
        Ok(size)
    }
}

impl PipeEnd {
    /// After a blocking open of a FIFO for reading only or writing only: waits until the
    /// other side is open, or has been opened since (Linux's `wait_for_partner`). `EINTR`
    /// if a signal comes first. Never waits for an anonymous pipe's end.
    pub fn wait_partner(&self, w: &Arc<Waiter>) -> Result<()> {
        if !self.pipe.named || self.read == self.write {
            return Ok(());
        }
        loop {
            let _reg = self.pipe.queue.register(w);
            {
                let st = self.pipe.state.lock();
                let (open, opens) = if self.read {
                    (st.writers, st.write_opens)
                } else {
                    (st.readers, st.read_opens)
                };
                if open > 0 || opens != self.partner_opens {
                    return Ok(());
                }
            }
            w.wait(None)?;
        }
    }
}

/// Support for `splice`, `tee` and `vmsplice`, which move bytes between a pipe and
/// another file, another pipe or guest memory without the atomicity rule of writes.
impl PipeEnd {
    /// Whether `self` and `other` are ends of the same pipe.
    pub fn same_pipe(&self, other: &PipeEnd) -> bool {
        Arc::ptr_eq(&self.pipe, &other.pipe)
    }

    /// Waits until the pipe holds data (`true`) or has no writer left (`false`); `EAGAIN`
    /// instead of waiting with `nonblock`.
    pub fn wait_data(&self, w: &Arc<Waiter>, nonblock: bool) -> Result<bool> {
        loop {
            {
                let st = self.pipe.state.lock();
                if !st.buf.is_empty() {
                    return Ok(true);
                }
                if st.writers == 0 {
                    return Ok(false);
                }
                if nonblock {
                    return Err(Errno::EAGAIN);
                }
            }
            let _reg = self.pipe.queue.register(w);
            {
                let st = self.pipe.state.lock();
                if !st.buf.is_empty() || st.writers == 0 {
                    continue;
                }
            }
            w.wait(None)?;
        }
    }

    /// Waits until the pipe has room and returns how many bytes fit; `EPIPE` once no
    /// reader is left, `EAGAIN` instead of waiting with `nonblock`.
    pub fn wait_room(&self, w: &Arc<Waiter>, nonblock: bool) -> Result<usize> {
        loop {
            {
                let st = self.pipe.state.lock();
                if st.readers == 0 {
                    return Err(Errno::EPIPE);
                }
                let room = st.capacity.saturating_sub(st.buf.len());
                if room > 0 {
                    return Ok(room);
                }
                if nonblock {
                    return Err(Errno::EAGAIN);
                }
            }
            let _reg = self.pipe.queue.register(w);
            {
                let st = self.pipe.state.lock();
                if st.readers == 0 || st.buf.len() < st.capacity {
                    continue;
                }
            }
            w.wait(None)?;
        }
    }

    /// A copy of up to `max` bytes from the front of the pipe, left in place (`tee`).
    pub fn peek(&self, max: usize) -> Vec<u8> {
        let st = self.pipe.state.lock();
        st.buf.iter().take(max).copied().collect()
    }

    /// Takes up to `max` bytes off the front of the pipe.
    pub fn take(&self, max: usize) -> Vec<u8> {
        let mut st = self.pipe.state.lock();
        let n = max.min(st.buf.len());
        let out = st.buf.drain(..n).collect();
        drop(st);
        self.pipe.queue.notify_all();
        out
    }

    /// Puts back at the front of the pipe bytes [`take`](Self::take) returned that could
    /// not be delivered.
    pub fn give_back(&self, data: &[u8]) {
        let mut st = self.pipe.state.lock();
        for &b in data.iter().rev() {
            st.buf.push_front(b);
        }
        drop(st);
        self.pipe.queue.notify_all();
    }

    /// Appends all of `data`, for which [`wait_room`](Self::wait_room) found room (a
    /// writer racing in between may make the pipe hold a little more than its capacity
    /// for a while); `EPIPE` if no reader is left.
    pub fn push(&self, data: &[u8]) -> Result<()> {
        let mut st = self.pipe.state.lock();
        if st.readers == 0 {
            return Err(Errno::EPIPE);
        }
        st.buf.extend(data);
        drop(st);
        self.pipe.queue.notify_all();
        Ok(())
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut st = self.pipe.state.lock();
        if self.write {
            st.writers -= 1;
        }
        if self.read {
            st.readers -= 1;
        }
        // A named pipe keeps no bytes once no end is open.
        if st.readers == 0 && st.writers == 0 {
            st.buf.clear();
        }
        drop(st);
        self.pipe.queue.notify_all();
    }
}

impl FileOps for PipeEnd {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        if !self.read {
            return Err(Errno::EBADF);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.wait_data(w, nonblock)? {
                return Ok(0);
            }
            let mut st = self.pipe.state.lock();
            // Another reader may have emptied the pipe since.
            if !st.buf.is_empty() {
                let n = buf.len().min(st.buf.len());
                for (dst, src) in buf.iter_mut().zip(st.buf.drain(..n)) {
                    *dst = src;
                }
                drop(st);
                self.pipe.queue.notify_all();
                return Ok(n);
            }
        }
    }

    fn write(&self, w: &Arc<Waiter>, data: &[u8], nonblock: bool) -> Result<usize> {
        if !self.write {
            return Err(Errno::EBADF);
        }
        let mut done = 0;
        loop {
            {
                let mut st = self.pipe.state.lock();
                if st.readers == 0 {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                let room = st.capacity.saturating_sub(st.buf.len());
                let rest = &data[done..];
                // Small writes are all or nothing; big ones take whatever room there is.
                let fits = if data.len() <= PIPE_BUF {
                    room >= rest.len()
                } else {
                    room > 0
                };
                if fits {
                    let n = rest.len().min(room);
                    st.buf.extend(&rest[..n]);
                    done += n;
                    drop(st);
                    self.pipe.queue.notify_all();
                    if done == data.len() {
                        return Ok(done);
                    }
                    continue;
                }
                if nonblock {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EAGAIN)
                    };
                }
            }
            let _reg = self.pipe.queue.register(w);
            {
                let st = self.pipe.state.lock();
                let room = st.capacity.saturating_sub(st.buf.len());
                if st.readers == 0 || room >= (data.len() - done).min(PIPE_BUF) {
                    continue;
                }
            }
            match w.wait(None) {
                Ok(()) => {}
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            }
        }
    }

    fn stat(&self) -> Result<Stat> {
        Ok(anon_stat(0x0d, self.pipe.ino, libc::S_IFIFO | 0o600))
    }

    fn poll(&self, events: PollEvents) -> PollEvents {
        let st = self.pipe.state.lock();
        let mut r = 0;
        if self.write {
            if st.readers == 0 {
                r |= libc::POLLERR;
            } else if st.capacity - st.buf.len() >= PIPE_BUF.min(st.capacity) {
                r |= libc::POLLOUT | libc::POLLWRNORM;
            }
        }
        if self.read {
            if !st.buf.is_empty() {
                r |= libc::POLLIN | libc::POLLRDNORM;
            }
            if st.writers == 0 && st.write_opens != self.hup_after {
                r |= libc::POLLHUP;
            }
        }
        r & (events | libc::POLLERR | libc::POLLHUP)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.queue)
    }

    fn readable_bytes(&self) -> Result<usize> {
        Ok(self.pipe.state.lock().buf.len())
    }

    fn anon_name(&self) -> Option<String> {
        Some(format!("pipe:[{}]", self.pipe.ino))
    }

    fn pipe_end(&self) -> Option<&PipeEnd> {
        Some(self)
    }

    fn is_stream(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_opens_follow_linux_rules() {
        let w = Waiter::new();
        let fifo = Fifo::default();
        let nb = libc::O_NONBLOCK;
        assert!(matches!(fifo.open(libc::O_WRONLY | nb), Err(Errno::ENXIO)));
        let r = fifo.open(libc::O_RDONLY | nb).unwrap();
        // Alone, with no writer ever: no data, no hang-up, EOF.
        assert_eq!(r.poll(libc::POLLIN), 0);
        assert_eq!(r.read(&w, &mut [0u8; 4], true).unwrap(), 0);
        let wr = fifo.open(libc::O_WRONLY).unwrap();
        wr.wait_partner(&w).unwrap();
        assert_eq!(wr.write(&w, b"ab", false).unwrap(), 2);
        drop(wr);
        assert_eq!(r.poll(libc::POLLIN), libc::POLLIN | libc::POLLHUP);
        drop(r);
        // The bytes went with the last end; a read-write end needs no partner.
        let rw = fifo.open(libc::O_RDWR).unwrap();
        rw.wait_partner(&w).unwrap();
        assert_eq!(rw.read(&w, &mut [0u8; 4], true), Err(Errno::EAGAIN));
    }

    #[test]
    fn an_anonymous_pipe_end_never_waits_for_a_partner() {
        let w = Waiter::new();
        let (r, wr) = pipe();
        drop(wr);
        // A wait would end at once with EINTR instead of hanging the test.
        w.interrupt();
        r.wait_partner(&w).unwrap();
    }

    #[test]
    fn eof_after_last_writer() {
        let w = Waiter::new();
        let (r, wr) = pipe();
        assert_eq!(wr.write(&w, b"abc", false).unwrap(), 3);
        drop(wr);
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&w, &mut buf, false).unwrap(), 3);
        assert_eq!(r.read(&w, &mut buf, false).unwrap(), 0);
    }

    #[test]
    fn epipe_without_reader_and_eagain_when_full() {
        let w = Waiter::new();
        let (r, wr) = pipe();
        let big = vec![7u8; DEFAULT_CAPACITY];
        assert_eq!(wr.write(&w, &big, true).unwrap(), DEFAULT_CAPACITY);
        assert_eq!(wr.write(&w, b"x", true), Err(Errno::EAGAIN));
        assert_eq!(wr.poll(libc::POLLOUT), 0);
        drop(r);
        assert_eq!(wr.write(&w, b"x", false), Err(Errno::EPIPE));
    }

    #[test]
    fn blocking_read_wakes_on_write_from_another_thread() {
        let (r, wr) = pipe();
        let t = std::thread::spawn(move || {
            let w = Waiter::new();
            std::thread::sleep(std::time::Duration::from_millis(20));
            wr.write(&w, b"hi", false).unwrap();
        });
        let w = Waiter::new();
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&w, &mut buf, false).unwrap(), 2);
        t.join().unwrap();
    }

    #[test]
    fn interrupt_ends_a_blocked_read() {
        let (r, _wr) = pipe();
        let w = Waiter::new();
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            w2.interrupt();
        });
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&w, &mut buf, false), Err(Errno::EINTR));
        t.join().unwrap();
    }

    #[test]
    fn splice_support() {
        let w = Waiter::new();
        let (r, wr) = pipe();
        assert!(r.same_pipe(&wr));
        assert_eq!(r.wait_data(&w, true), Err(Errno::EAGAIN));
        assert_eq!(wr.wait_room(&w, true).unwrap(), DEFAULT_CAPACITY);
        wr.push(b"hello").unwrap();
        assert!(r.wait_data(&w, true).unwrap());
        assert_eq!(r.peek(3), b"hel");
        assert_eq!(r.take(4), b"hell");
        r.give_back(b"ll");
        assert_eq!(r.readable_bytes().unwrap(), 3);
        assert_eq!(r.take(10), b"llo");
        drop(wr);
        assert!(!r.wait_data(&w, false).unwrap());
        let (r2, w2) = pipe();
        drop(r2);
        assert_eq!(w2.wait_room(&w, false), Err(Errno::EPIPE));
        assert_eq!(w2.push(b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn capacity_rounds_up_and_refuses_to_shrink_below_contents() {
        let w = Waiter::new();
        let (_r, wr) = pipe();
        assert_eq!(wr.set_capacity(5000).unwrap(), 8192);
        wr.write(&w, &[1u8; 6000], false).unwrap();
        assert_eq!(wr.set_capacity(4096), Err(Errno::EBUSY));
    }
}
