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

/// Writes the time left before `deadline` back to the guest's timespec at `addr`, as
/// ppoll and pselect6 do on Linux (whatever the outcome). A timeout in read-only memory
/// is not an error: Linux ignores a failed update after the wait.
fn update_timespec(task: &Task, addr: u64, deadline: Option<Instant>) {
    if let Some(d) = deadline {
        let left = d.saturating_duration_since(Instant::now());
        let _ = task.write_obj(addr, &Timespec::from_duration(left));
    }
}

/// `ppoll(fds, nfds, timeout, sigmask, sigsetsize)`: the timeout is updated with the
/// time left, as Linux does.
pub fn ppoll(task: &mut Task) -> SysResult {
    let ts_addr = task.arg(2);
    let deadline = timespec_deadline(task, ts_addr)?;
    let (mask, size) = (task.arg(3), task.arg(4));
    let r = with_sigmask(task, mask, size, |task| {
        do_poll(task, task.arg(0), task.arg(1), deadline)
    });
    update_timespec(task, ts_addr, deadline);
    r
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

/// `pselect6(nfds, readfds, writefds, exceptfds, timeout, sig)`: `sig` points to
/// `{ const sigset_t *mask; size_t size }` (NULL, or a NULL mask, for none); the timeout
/// is updated with the time left, as Linux does.
pub fn pselect6(task: &mut Task) -> SysResult {
    let ts_addr = task.arg(4);
    let deadline = timespec_deadline(task, ts_addr)?;
    let (mask, size) = match task.arg(5) {
        0 => (0, 0),
        addr => (task.read_obj::<u64>(addr)?, task.read_obj::<u64>(addr + 8)?),
    };
    let r = with_sigmask(task, mask, size, |task| {
        do_select(
            task,
            task.arg(0) as i32,
            [task.arg(1), task.arg(2), task.arg(3)],
            deadline,
        )
    });
    update_timespec(task, ts_addr, deadline);
    r
}

/// `eventfd(initval)`.
pub fn eventfd(task: &mut Task) -> SysResult {
    make_eventfd(task, 0)
}

/// `eventfd2(initval, flags)`.
pub fn eventfd2(task: &mut Task) -> SysResult {
    make_eventfd(task, task.arg(1) as i32)
}

fn make_eventfd(task: &mut Task, flags: i32) -> SysResult {
    if flags & !(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | libc::EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let efd = fs::eventfd::eventfd(task.arg(0) as u32, flags & libc::EFD_SEMAPHORE != 0);
    let file = OpenFile::new(
        Box::new(efd),
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
        None,
    );
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task
        .files
        .lock()
        .insert(file, flags & libc::EFD_CLOEXEC != 0, 0, limit)? as u64)
}

/// `epoll_create(size)`: size must be positive and is otherwise ignored.
pub fn epoll_create(task: &mut Task) -> SysResult {
    if (task.arg(0) as i32) <= 0 {
        return Err(Errno::EINVAL.into());
    }
    make_epoll(task, 0)
}

/// `epoll_create1(flags)`.
pub fn epoll_create1(task: &mut Task) -> SysResult {
    make_epoll(task, task.arg(0) as i32)
}

fn make_epoll(task: &mut Task, flags: i32) -> SysResult {
    if flags & !libc::EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL.into());
    }
    let ep = fs::epoll::Epoll::new()?;
    let file = OpenFile::new(Box::new(ep), libc::O_RDWR, None);
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task
        .files
        .lock()
        .insert(file, flags & libc::EPOLL_CLOEXEC != 0, 0, limit)? as u64)
}

fn epoll_of(task: &Task, fd: i32) -> Result<fs::epoll::Epoll, SysErr> {
    let file = task.file(fd)?;
    Ok(fs::epoll::Epoll::from_file(&file).ok_or(Errno::EINVAL)?)
}

/// `epoll_ctl(epfd, op, fd, event)`.
pub fn epoll_ctl(task: &mut Task) -> SysResult {
    let (epfd, op, fd, ev_addr) = (
        task.arg(0) as i32,
        task.arg(1) as i32,
        task.arg(2) as i32,
        task.arg(3),
    );
    let ep = epoll_of(task, epfd)?;
    let target = task.file(fd)?;
    let (events, data) = if op == fs::epoll::EPOLL_CTL_DEL {
        (0, 0)
    } else {
        let raw: [u8; 12] = task.read_obj(ev_addr)?;
        (
            u32::from_ne_bytes(raw[0..4].try_into().expect("4 bytes")),
            u64::from_ne_bytes(raw[4..12].try_into().expect("8 bytes")),
        )
    };
    if epfd == fd {
        return Err(Errno::EINVAL.into());
    }
    ep.ctl(op, fd, &target, events, data)?;
    Ok(0)
}

fn epoll_wait_common(task: &mut Task, deadline: Option<Instant>) -> SysResult {
    let (epfd, events_addr, max) = (task.arg(0) as i32, task.arg(1), task.arg(2) as i32);
    if max <= 0 || max > i32::MAX / 12 {
        return Err(Errno::EINVAL.into());
    }
    let ep = epoll_of(task, epfd)?;
    task.mm()
        .check_access(events_addr, max as usize * 12, true)?;
    let ready = ep.wait(task.waiter(), max as usize, deadline)?;
    let mut out = Vec::with_capacity(ready.len() * 12);
    for (events, data) in &ready {
        out.extend_from_slice(&events.to_ne_bytes());
        out.extend_from_slice(&data.to_ne_bytes());
    }
    task.mm().write(events_addr, &out)?;
    Ok(ready.len() as u64)
}

fn ms_deadline(timeout: i32) -> Option<Instant> {
    (timeout >= 0).then(|| Instant::now() + Duration::from_millis(timeout as u64))
}

/// `epoll_wait(epfd, events, maxevents, timeout_ms)`.
pub fn epoll_wait(task: &mut Task) -> SysResult {
    let deadline = ms_deadline(task.arg(3) as i32);
    epoll_wait_common(task, deadline)
}

/// `epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask, sigsetsize)`.
pub fn epoll_pwait(task: &mut Task) -> SysResult {
    let deadline = ms_deadline(task.arg(3) as i32);
    let (mask, size) = (task.arg(4), task.arg(5));
    with_sigmask(task, mask, size, |task| epoll_wait_common(task, deadline))
}

/// `epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize)`.
pub fn epoll_pwait2(task: &mut Task) -> SysResult {
    let deadline = timespec_deadline(task, task.arg(3))?;
    let (mask, size) = (task.arg(4), task.arg(5));
    with_sigmask(task, mask, size, |task| epoll_wait_common(task, deadline))
}

/// Runs `f` with the signal mask at guest address `addr` (of `size` bytes; none if NULL)
/// in force, as ppoll/pselect/epoll_pwait do: the old mask comes back after a handler
/// runs, or right away if none does. A signal already pending that the mask lets through
/// ends the wait at once, unless an fd is ready (readiness wins, as on Linux).
fn with_sigmask(
    task: &mut Task,
    addr: u64,
    size: u64,
    f: impl FnOnce(&mut Task) -> SysResult,
) -> SysResult {
    if addr == 0 {
        return f(task);
    }
    if size != 8 {
        return Err(Errno::EINVAL.into());
    }
    let mask: u64 = task.read_obj(addr)?;
    let old = task.sigmask();
    task.saved_sigmask = Some(old);
    task.set_sigmask(mask);
    if task.has_deliverable() {
        task.waiter().interrupt();
    }
    let r = f(task);
    if r != Err(SysErr::Errno(Errno::EINTR))
        && let Some(m) = task.saved_sigmask.take()
    {
        task.set_sigmask(m);
    }
    r
}
