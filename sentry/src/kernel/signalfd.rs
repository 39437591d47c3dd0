//! `signalfd`: pending signals read from a file descriptor instead of being delivered.
//!
//! Reading takes signals of the mask off the reading thread's and its process's pending
//! sets; every signal sent to a process wakes the process's signal queue, on which readers
//! and pollers sleep (the signals are normally blocked, so they interrupt nobody).

use super::current;
use super::sigframe::SigInfo;
use fs::{Errno, FileOps, Stat, WaitQueue, Waiter};
use parking_lot::Mutex;
use std::sync::Arc;

/// Size of `struct signalfd_siginfo`.
const SSI_SIZE: usize = 128;

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
        let own = handle.pending.lock().take(mask);
        own.or_else(|| process.pending.lock().take(mask))
    }

    fn ready(&self) -> bool {
        let Some((process, handle)) = current::get() else {
            return false;
        };
        let mask = *self.mask.lock();
        handle.pending.lock().set() & mask != 0 || process.pending.lock().set() & mask != 0
    }
}

/// `struct signalfd_siginfo` for `info`.
fn encode(info: &SigInfo) -> [u8; SSI_SIZE] {
    let i = &info.0;
    let word = |at: usize| i32::from_ne_bytes(i[at..at + 4].try_into().expect("4 bytes"));
    let mut out = [0u8; SSI_SIZE];
    let mut put = |at: usize, v: &[u8]| out[at..at + v.len()].copy_from_slice(v);
    put(0, &word(0).to_ne_bytes()); // ssi_signo
    put(4, &word(4).to_ne_bytes()); // ssi_errno
    put(8, &word(8).to_ne_bytes()); // ssi_code
    put(12, &word(16).to_ne_bytes()); // ssi_pid (or si_addr's low half / timer id)
    put(16, &word(20).to_ne_bytes()); // ssi_uid (or overrun)
    put(44, &word(24).to_ne_bytes()); // ssi_status / ssi_int
    put(48, &word(24).to_ne_bytes()); // ssi_int
    put(56, &i[24..32]); // ssi_ptr (sigval)
    put(80, &i[16..24]); // ssi_addr
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
