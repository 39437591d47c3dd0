//! `signalfd`: pending signals read from a file descriptor instead of being delivered.
//!
//! Reading takes signals of the mask off the reading thread's and its process's pending
//! sets; every signal sent to a process wakes the process's signal queue, on which readers
//! and pollers sleep (the signals are normally blocked, so they interrupt nobody).

use super::current;
use super::sigframe::SigInfo;
use super::signal;
use fs::{Errno, FileOps, Stat, WaitQueue, Waiter};
use parking_lot::Mutex;
use std::sync::Arc;

/// Size of `struct signalfd_siginfo`.
const SSI_SIZE: usize = 128;
/// `si_code` of a signal raised by the kernel.
const SI_KERNEL: i32 = 0x80;
/// `si_code` of a POSIX timer's signal.
const SI_TIMER: i32 = -2;
/// `si_code` of a signal for an I/O event.
const SI_SIGIO: i32 = -5;

/// An open signalfd.
pub struct SignalFd {
    /// Signals it reports.
    pub mask: Mutex<u64>,
    queue: Arc<WaitQueue>,
    ino: u64,
}

impl SignalFd {
    /// A signalfd for `mask`, woken through the creating process's signal queue.
    pub fn new(mask: u64, queue: Arc<WaitQueue>) -> SignalFd {
        SignalFd {
            mask: Mutex::new(mask),
            queue,
            ino: fs::synth::next_ino(),
        }
    }

    fn take(&self) -> Option<SigInfo> {
        let (process, handle) = current::get()?;
        let mask = *self.mask.lock();
        signal::dequeue(&process, &handle, mask)
    }

    fn ready(&self) -> bool {
        let Some((process, handle)) = current::get() else {
            return false;
        };
        let mask = *self.mask.lock();
        handle.pending.lock().set() & mask != 0 || process.pending.lock().set() & mask != 0
    }
}

/// Which union member of a `siginfo_t` holds its fields.
enum Layout {
    /// Sender's pid and uid (`kill`, the kernel).
    Kill,
    /// Timer id, overrun count and value.
    Timer,
    /// Band and fd.
    Poll,
    /// Faulting address.
    Fault,
    /// Child's pid, uid, status and CPU times.
    Child,
    /// Sender's pid and uid, and the value (`sigqueue`, `tgkill`).
    Queued,
}

/// The layout of a siginfo with signal `sig` and code `code`, as Linux decides it.
fn layout(sig: i32, code: i32) -> Layout {
    if code > 0 && code < SI_KERNEL {
        match sig {
            libc::SIGILL
            | libc::SIGFPE
            | libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGTRAP
            | libc::SIGSYS => Layout::Fault,
            libc::SIGCHLD => Layout::Child,
            libc::SIGIO => Layout::Poll,
            _ => Layout::Kill,
        }
    } else {
        match code {
            SI_TIMER => Layout::Timer,
            SI_SIGIO => Layout::Poll,
            c if c < 0 => Layout::Queued,
            _ => Layout::Kill,
        }
    }
}

/// `struct signalfd_siginfo` for `info`.
fn encode(info: &SigInfo) -> [u8; SSI_SIZE] {
    let i = &info.0;
    let word = |at: usize| i32::from_ne_bytes(i[at..at + 4].try_into().expect("4 bytes"));
    let mut out = [0u8; SSI_SIZE];
    let mut put = |at: usize, v: &[u8]| out[at..at + v.len()].copy_from_slice(v);
    put(0, &i[0..12]); // ssi_signo, ssi_errno, ssi_code
    match layout(word(0), word(8)) {
        Layout::Kill => put(12, &i[16..24]), // ssi_pid, ssi_uid
        Layout::Timer => {
            put(24, &i[16..20]); // ssi_tid
            put(32, &i[20..24]); // ssi_overrun
            put(44, &i[24..28]); // ssi_int
            put(48, &i[24..32]); // ssi_ptr
        }
        Layout::Poll => {
            put(28, &i[16..20]); // ssi_band
            put(20, &i[24..28]); // ssi_fd
        }
        Layout::Fault => put(72, &i[16..24]), // ssi_addr
        Layout::Child => {
            put(12, &i[16..24]); // ssi_pid, ssi_uid
            put(40, &i[24..28]); // ssi_status
            put(56, &i[32..48]); // ssi_utime, ssi_stime
        }
        Layout::Queued => {
            put(12, &i[16..24]); // ssi_pid, ssi_uid
            put(44, &i[24..28]); // ssi_int
            put(48, &i[24..32]); // ssi_ptr
        }
    }
    out
}

impl FileOps for SignalFd {
    fn read(&self, w: &Arc<Waiter>, buf: &mut [u8], nonblock: bool) -> fs::Result<usize> {
        if buf.len() < SSI_SIZE {
            return Err(Errno::EINVAL);
        }
        let mut done = 0;
        loop {
            let _reg = self.queue.register(w);
            while done + SSI_SIZE <= buf.len() {
                match self.take() {
                    Some(info) => {
                        buf[done..done + SSI_SIZE].copy_from_slice(&encode(&info));
                        done += SSI_SIZE;
                    }
                    None => break,
                }
            }
            if done > 0 {
                return Ok(done);
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            w.wait(None)?;
        }
    }

    fn stat(&self) -> fs::Result<Stat> {
        Ok(fs::synth::synth_stat(self.ino, 0o600, 0, 0))
    }

    fn poll(&self, events: fs::PollEvents) -> fs::PollEvents {
        if self.ready() {
            events & libc::POLLIN
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn anon_name(&self) -> Option<String> {
        Some("anon_inode:[signalfd]".into())
    }

    fn any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
