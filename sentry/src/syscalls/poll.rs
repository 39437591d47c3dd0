//! Waiting for fds: poll, ppoll, select, pselect6.
//!
//! Readiness comes from each file's [`fs::FileOps::poll`]; when nothing is ready the task
//! sleeps on its waiter together with the host fds behind the files (terminals and pipes
//! the sentry inherited), so a signal or a timeout ends the wait.

use crate::abi::{Pollfd, Timespec, Timeval};
use crate::errno::{SysErr, SysResult};
use crate::kernel::task::Task;
use fs::OpenFile;
use nix::errno::Errno;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events always reported when they happen, asked or not.
const ALWAYS: i16 = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
/// Most fds one poll may name (the default RLIMIT_NOFILE hard limit).
const MAX_POLL_FDS: u64 = 1 << 20;

struct Entry {
    /// `None` for a closed fd (reported POLLNVAL).
    file: Option<Arc<OpenFile>>,
    events: i16,
    revents: i16,
    /// A negative fd in poll's array: ignored.
    skip: bool,
}

/// Fills in `revents` for every entry and returns how many have any; sleeps until one is
/// ready, `deadline` passes (then 0), or a signal comes (EINTR).
fn wait_ready(
    task: &Task,
    entries: &mut [Entry],
    deadline: Option<Instant>,
) -> Result<usize, SysErr> {
    let files: Vec<(Option<Arc<OpenFile>>, i16, bool)> = entries
        .iter()
        .map(|e| (e.file.clone(), e.events, e.skip))
        .collect();
    loop {
        // Register before looking, so a change between the look and the sleep wakes us.
        let _regs: Vec<_> = files
            .iter()
            .filter_map(|(f, _, skip)| {
                if *skip {
                    None
                } else {
                    f.as_ref()?.ops.wait_queue()
                }
            })
            .map(|q| q.register(task.waiter()))
            .collect();
        let mut ready = 0;
        for (e, (file, events, skip)) in entries.iter_mut().zip(&files) {
            if *skip {
                continue;
            }
            e.revents = match file {
                None => libc::POLLNVAL,
                Some(f) => f.ops.poll(events | ALWAYS) & (events | ALWAYS),
            };
            if e.revents != 0 {
                ready += 1;
            }
        }
        if ready > 0 || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(ready);
        }
        let host: Vec<(BorrowedFd<'_>, i16)> = files
            .iter()
            .filter(|(_, _, skip)| !skip)
            .filter_map(|(f, events, _)| {
                f.as_ref()
                    .and_then(|f| f.ops.host_fd().map(|fd| (fd, events | ALWAYS)))
            })
            .collect();
        match task.waiter().wait_fds(&host, deadline) {
            Ok(_) | Err(Errno::ETIMEDOUT) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn do_poll(task: &Task, addr: u64, nfds: u64, deadline: Option<Instant>) -> SysResult {
    if nfds > MAX_POLL_FDS.min(task.process.rlimit(libc::RLIMIT_NOFILE as usize)) {
        return Err(Errno::EINVAL.into());
    }
    let mm = task.mm();
    let mut raw: Vec<Pollfd> = (0..nfds)
        .map(|i| mm.read_obj::<Pollfd>(addr + i * 8))
        .collect::<Result<_, _>>()?;
    let mut entries: Vec<Entry> = raw
        .iter()
        .map(|p| Entry {
            file: if p.fd < 0 {
                None
            } else {
                task.files.lock().file(p.fd).ok()
            },
            events: p.events,
            revents: 0,
            skip: p.fd < 0,
        })
        .collect();
    let n = wait_ready(task, &mut entries, deadline)?;
    for (i, (p, e)) in raw.iter_mut().zip(&entries).enumerate() {
        p.revents = e.revents;
        mm.write_obj(addr + i as u64 * 8, p)?;
    }
    Ok(n as u64)
}

/// `poll(fds, nfds, timeout_ms)`.
pub fn poll(task: &mut Task) -> SysResult {
    let timeout = task.arg(2) as i32;
    let deadline = (timeout >= 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    do_poll(task, task.arg(0), task.arg(1), deadline)
}

fn timespec_deadline(task: &Task, addr: u64) -> Result<Option<Instant>, SysErr> {
    if addr == 0 {
        return Ok(None);
    }
    let ts: Timespec = task.read_obj(addr)?;
    let d = ts.to_duration().ok_or(Errno::EINVAL)?;
    Ok(Some(Instant::now() + d))
}

/// `ppoll(fds, nfds, timeout, sigmask, sigsetsize)`.
pub fn ppoll(task: &mut Task) -> SysResult {
    let deadline = timespec_deadline(task, task.arg(2))?;
    do_poll(task, task.arg(0), task.arg(1), deadline)
}

/// select's three fd sets, as bitmaps of `words` u64s (0 = NULL).
fn do_select(task: &Task, nfds: i32, sets: [u64; 3], deadline: Option<Instant>) -> SysResult {
    if !(0..=1024 * 1024).contains(&nfds) {
        return Err(Errno::EINVAL.into());
    }
    let words = (nfds as usize).div_ceil(64);
    let mm = task.mm();
    let mut bits = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (set, &addr) in bits.iter_mut().zip(&sets) {
        if addr != 0 {
            for (w, word) in set.iter_mut().enumerate() {
                *word = mm.read_obj(addr + w as u64 * 8)?;
            }
        }
    }
    let mut fds = Vec::new();
    let mut entries = Vec::new();
    for fd in 0..nfds {
        let (w, b) = (fd as usize / 64, 1u64 << (fd % 64));
        let mut events = 0;
        if bits[0][w] & b != 0 {
            events |= libc::POLLIN;
        }
        if bits[1][w] & b != 0 {
            events |= libc::POLLOUT;
        }
        if bits[2][w] & b != 0 {
            events |= libc::POLLPRI;
        }
        if events == 0 {
            continue;
        }
        let file = task.files.lock().file(fd).map_err(|_| Errno::EBADF)?;
        fds.push(fd);
        entries.push(Entry {
            file: Some(file),
            events,
            revents: 0,
            skip: false,
        });
    }
    wait_ready(task, &mut entries, deadline)?;
    let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    let mut count = 0;
    for (fd, e) in fds.iter().zip(&entries) {
        let (w, b) = (*fd as usize / 64, 1u64 << (fd % 64));
        let checks = [
            (0, libc::POLLIN | libc::POLLHUP | libc::POLLERR),
            (1, libc::POLLOUT | libc::POLLERR),
            (2, libc::POLLPRI),
        ];
        for (k, mask) in checks {
            if bits[k][w] & b != 0 && e.revents & mask != 0 {
                out[k][w] |= b;
                count += 1;
            }
        }
    }
    for (set, &addr) in out.iter().zip(&sets) {
        if addr != 0 {
            for (w, word) in set.iter().enumerate() {
                mm.write_obj(addr + w as u64 * 8, word)?;
            }
        }
    }
    Ok(count)
}

/// `select(nfds, readfds, writefds, exceptfds, timeout)`: the timeout is updated with the
/// time left, as Linux does.
pub fn select(task: &mut Task) -> SysResult {
    let tv_addr = task.arg(4);
    let deadline = if tv_addr == 0 {
        None
    } else {
        let tv: Timeval = task.read_obj(tv_addr)?;
        if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EINVAL.into());
        }
        Some(Instant::now() + Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
    };
    let r = do_select(
        task,
        task.arg(0) as i32,
        [task.arg(1), task.arg(2), task.arg(3)],
        deadline,
    );
    if let Some(d) = deadline {
        let left = d.saturating_duration_since(Instant::now());
        task.write_obj(tv_addr, &Timeval::from_duration(left))?;
    }
    r
}

/// `pselect6(nfds, readfds, writefds, exceptfds, timeout, sigmask)`.
pub fn pselect6(task: &mut Task) -> SysResult {
    let deadline = timespec_deadline(task, task.arg(4))?;
    do_select(
        task,
        task.arg(0) as i32,
        [task.arg(1), task.arg(2), task.arg(3)],
        deadline,
    )
}
