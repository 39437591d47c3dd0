//! Calls programs make in passing: identities (set*id, capabilities), personality,
//! membarrier, memfd_create, copy_file_range, fallocate, readahead.

use super::{io, mapped_files};
use crate::errno::{SysErr, SysResult};
use crate::kernel::process::Creds;
use crate::kernel::task::Task;
use fs::OpenFile;
use nix::errno::Errno;

/// Changes credentials with `f` if the caller may: root may set anything; others may only
/// move between their real, effective and saved ids (`allowed`). A change of effective
/// id makes the process not dumpable, as Linux's `commit_creds` does with the host's
/// `suid_dumpable` of 0.
fn change_creds(task: &Task, f: impl FnOnce(&mut Creds) -> Result<(), Errno>) -> SysResult {
    let mut c = task.process.creds.lock();
    let mut next = *c;
    f(&mut next)?;
    if (next.euid, next.egid) != (c.euid, c.egid) {
        task.process.set_dumpable(false);
    }
    *c = next;
    Ok(0)
}

fn may_set(c: &Creds, id: u32, user: bool) -> bool {
    let (r, e, s) = if user {
        (c.uid, c.euid, c.suid)
    } else {
        (c.gid, c.egid, c.sgid)
    };
    c.euid == 0 || id == r || id == e || id == s
}

/// `setuid(uid)`.
pub fn setuid(task: &mut Task) -> SysResult {
    let uid = task.arg(0) as u32;
    change_creds(task, |c| {
        if c.euid == 0 {
            (c.uid, c.euid, c.suid) = (uid, uid, uid);
        } else if uid == c.uid || uid == c.suid {
            c.euid = uid;
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    })
}

/// `setgid(gid)`.
pub fn setgid(task: &mut Task) -> SysResult {
    let gid = task.arg(0) as u32;
    change_creds(task, |c| {
        if c.euid == 0 {
            (c.gid, c.egid, c.sgid) = (gid, gid, gid);
        } else if gid == c.gid || gid == c.sgid {
            c.egid = gid;
        } else {
            return Err(Errno::EPERM);
        }
        Ok(())
    })
}

/// `setresuid(r, e, s)` (and `setreuid(r, e)` with s = -1): -1 keeps an id.
fn setres(task: &Task, ids: [u32; 3], user: bool) -> SysResult {
    change_creds(task, |c| {
        if ids
            .iter()
            .any(|&id| id != u32::MAX && !may_set(c, id, user))
        {
            return Err(Errno::EPERM);
        }
        let slots = if user {
            [&mut c.uid, &mut c.euid, &mut c.suid]
        } else {
            [&mut c.gid, &mut c.egid, &mut c.sgid]
        };
        for (slot, id) in slots.into_iter().zip(ids) {
            if id != u32::MAX {
                *slot = id;
            }
        }
        Ok(())
    })
}

/// `setresuid(ruid, euid, suid)`.
pub fn setresuid(task: &mut Task) -> SysResult {
    setres(
        task,
        [task.arg(0) as u32, task.arg(1) as u32, task.arg(2) as u32],
        true,
    )
}

/// `setresgid(rgid, egid, sgid)`.
pub fn setresgid(task: &mut Task) -> SysResult {
    setres(
        task,
        [task.arg(0) as u32, task.arg(1) as u32, task.arg(2) as u32],
        false,
    )
}

/// `setreuid(ruid, euid)`.
pub fn setreuid(task: &mut Task) -> SysResult {
    setres(
        task,
        [task.arg(0) as u32, task.arg(1) as u32, u32::MAX],
        true,
    )
}

/// `setregid(rgid, egid)`.
pub fn setregid(task: &mut Task) -> SysResult {
    setres(
        task,
        [task.arg(0) as u32, task.arg(1) as u32, u32::MAX],
        false,
    )
}

/// `setfsuid(uid)`/`setfsgid(gid)`: file-system ids follow the effective ids here; the
/// previous value is returned and nothing changes.
pub fn setfsuid(task: &mut Task) -> SysResult {
    Ok(task.process.creds.lock().euid as u64)
}

/// `setfsgid(gid)`.
pub fn setfsgid(task: &mut Task) -> SysResult {
    Ok(task.process.creds.lock().egid as u64)
}

/// `setgroups(size, list)`: root may drop supplementary groups (there are none).
pub fn setgroups(task: &mut Task) -> SysResult {
    if task.process.creds.lock().euid != 0 {
        return Err(Errno::EPERM.into());
    }
    if task.arg(0) > 65536 {
        return Err(Errno::EINVAL.into());
    }
    Ok(0)
}

/// `_LINUX_CAPABILITY_VERSION_3` (and `_2`, the same layout): two 32-bit words per set.
const CAP_V3: u32 = 0x2008_0522;
const CAP_V2: u32 = 0x2007_1026;
/// `_LINUX_CAPABILITY_VERSION_1`: one word per set.
const CAP_V1: u32 = 0x1998_0330;
/// The highest capability (`CAP_CHECKPOINT_RESTORE`, `/proc/sys/kernel/cap_last_cap`).
pub const CAP_LAST_CAP: u64 = 40;

/// Checks a `cap_user_header_t`: the number of 32-bit words per set of its version and
/// its pid, or `EINVAL` (with the preferred version written back, as Linux does).
fn cap_header(task: &Task) -> Result<(usize, i32), SysErr> {
    let header: [u32; 2] = task.read_obj(task.arg(0))?;
    let pid = header[1] as i32;
    match header[0] {
        CAP_V3 | CAP_V2 => Ok((2, pid)),
        CAP_V1 => Ok((1, pid)),
        _ => {
            task.write_obj(task.arg(0), &[CAP_V3, header[1]])?;
            Err(Errno::EINVAL.into())
        }
    }
}

/// `capget(header, data)`: root holds every capability (effective and permitted; none
/// inheritable, as a root shell on Linux), others none.
pub fn capget(task: &mut Task) -> SysResult {
    let (words, _) = cap_header(task)?;
    if task.arg(1) != 0 {
        // Every valid capability: bits 0 to CAP_LAST_CAP.
        let all = if task.process.creds.lock().euid == 0 {
            (1u64 << (CAP_LAST_CAP + 1)) - 1
        } else {
            0
        };
        let data: Vec<u8> = (0..words)
            .flat_map(|w| [(all >> (32 * w)) as u32, (all >> (32 * w)) as u32, 0])
            .flat_map(|w| w.to_ne_bytes())
            .collect();
        task.mm().write(task.arg(1), &data)?;
    }
    Ok(0)
}

/// `capset(header, data)`: for the caller only (pid 0 or its own); root may set anything
/// (capabilities are not enforced further), others, who hold none, may only keep all
/// three sets empty.
pub fn capset(task: &mut Task) -> SysResult {
    let (words, pid) = cap_header(task)?;
    if pid != 0 && pid != task.tid {
        return Err(Errno::EPERM.into());
    }
    let mut data = vec![0u8; words * 12];
    task.mm().read(task.arg(1), &mut data)?;
    if task.process.creds.lock().euid != 0 && data.iter().any(|&b| b != 0) {
        return Err(Errno::EPERM.into());
    }
    Ok(0)
}

/// `personality(persona)`: sets the calling thread's personality (any value, as Linux
/// takes it) unless `persona` is 0xffffffff, and returns the old one. Of its flags, exec
/// honours ADDR_NO_RANDOMIZE and clears READ_IMPLIES_EXEC; the others are only recorded.
pub fn personality(task: &mut Task) -> SysResult {
    let old = task.handle.personality();
    let persona = task.arg(0) as u32;
    if persona != 0xffff_ffff {
        task.handle.set_personality(persona);
    }
    Ok(old.into())
}

/// `membarrier(cmd, flags, cpu)`: the sentry's syscalls are full barriers already.
pub fn membarrier(task: &mut Task) -> SysResult {
    const QUERY: u64 = 0;
    const GLOBAL: u64 = 1;
    const PRIVATE_EXPEDITED: u64 = 8;
    const REGISTER_PRIVATE_EXPEDITED: u64 = 16;
    match task.arg(0) {
        QUERY => Ok(GLOBAL | PRIVATE_EXPEDITED | REGISTER_PRIVATE_EXPEDITED),
        GLOBAL | PRIVATE_EXPEDITED | REGISTER_PRIVATE_EXPEDITED => Ok(0),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// `memfd_create(name, flags)`: an unlinked in-memory file.
pub fn memfd_create(task: &mut Task) -> SysResult {
    let flags = task.arg(1) as u32;
    let known = libc::MFD_CLOEXEC
        | libc::MFD_ALLOW_SEALING
        | libc::MFD_HUGETLB
        | libc::MFD_NOEXEC_SEAL
        | libc::MFD_EXEC;
    if flags & !known != 0 {
        return Err(Errno::EINVAL.into());
    }
    let name = task
        .mm()
        .read_cstring(task.arg(0), 249)
        .map_err(|e| match e {
            mm::MmError::TooLong => SysErr::Errno(Errno::EINVAL),
            e => e.into(),
        })?;
    if flags & libc::MFD_EXEC != 0 && flags & libc::MFD_NOEXEC_SEAL != 0 {
        return Err(Errno::EINVAL.into());
    }
    // MFD_NOEXEC_SEAL: not executable, sealed so, and open to more seals.
    let (mode, seals) = if flags & libc::MFD_NOEXEC_SEAL != 0 {
        (0o666, fs::memfd::F_SEAL_EXEC as u32)
    } else if flags & libc::MFD_ALLOW_SEALING != 0 {
        (0o777, 0)
    } else {
        (0o777, libc::F_SEAL_SEAL as u32)
    };
    let dir = fs::tmpfs::TmpFs::root(task.kernel.opts.limits.memory, 0o700);
    let (inode, ops) = fs::Inode::create(dir.as_ref(), b"memfd", libc::O_RDWR, mode)?;
    let memfd = fs::memfd::Memfd::new(inode, ops, &name, seals);
    let file = OpenFile::new(Box::new(memfd), libc::O_RDWR, None);
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    Ok(task
        .files
        .lock()
        .insert(file, flags & libc::MFD_CLOEXEC != 0, 0, limit)? as u64)
}

/// `copy_file_range(fd_in, off_in, fd_out, off_out, len, flags)`.
pub fn copy_file_range(task: &mut Task) -> SysResult {
    let (fin, off_in_p, fout, off_out_p, len, flags) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as i32,
        task.arg(3),
        task.arg(4) as usize,
        task.arg(5),
    );
    if flags != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (inp, out) = (task.file(fin)?, task.file(fout)?);
    if !inp.readable() || !out.writable() || out.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EBADF.into());
    }
    let read_off = |p: u64| -> Result<Option<u64>, SysErr> {
        if p == 0 {
            Ok(None)
        } else {
            Ok(Some(task.read_obj::<u64>(p)?))
        }
    };
    let (mut oi, mut oo) = (read_off(off_in_p)?, read_off(off_out_p)?);
    mapped_files::before_read(&task.kernel, &inp, oi, len);
    let mut buf = vec![0u8; len.min(1 << 20)];
    let mut done = 0usize;
    while done < len {
        let want = (len - done).min(buf.len());
        let n = match oi {
            Some(o) => inp.ops.pread(&mut buf[..want], o)?,
            None => inp.read(task.waiter(), &mut buf[..want])?,
        };
        if n == 0 {
            break;
        }
        let w = mapped_files::write(&task.kernel, &out, task.waiter(), &buf[..n], oo)?;
        done += w;
        oi = oi.map(|o| o + n as u64);
        oo = oo.map(|o| o + w as u64);
        if w < n || n < want {
            break;
        }
    }
    if let Some(o) = oi {
        task.write_obj(off_in_p, &o)?;
    }
    if let Some(o) = oo {
        task.write_obj(off_out_p, &o)?;
    }
    let r = io::notify_moved(Ok(done as u64), &inp, libc::IN_ACCESS);
    io::notify_moved(r, &out, libc::IN_MODIFY)
}

/// `fallocate(fd, mode, offset, len)`: modes 0 and `FALLOC_FL_KEEP_SIZE` reserve the
/// blocks of a host file on the host (an in-memory file only grows, as a write of zeros
/// would make it); other modes are not supported.
pub fn fallocate(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    let (mode, off, len) = (task.arg(1) as i32, task.arg(2) as i64, task.arg(3) as i64);
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL.into());
    }
    if !file.writable() {
        return Err(Errno::EBADF.into());
    }
    if mode & !libc::FALLOC_FL_KEEP_SIZE != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let keep_size = mode & libc::FALLOC_FL_KEEP_SIZE != 0;
    let (off, len) = (off as u64, len as u64);
    let end = off + len;
    if end > i64::MAX as u64 {
        return Err(Errno::EFBIG.into());
    }
    let size = file.ops.stat()?.size as u64;
    let allocate = || file.ops.allocate(keep_size, off, len);
    if !keep_size && end > size {
        mapped_files::resize(&task.kernel, || file.ops.stat(), end, allocate)?;
    } else {
        allocate()?;
    }
    fs::notify::file_event(&file, libc::IN_MODIFY);
    Ok(0)
}

/// `readahead(fd, offset, count)`, `sync_file_range`: hints, accepted.
pub fn readahead(task: &mut Task) -> SysResult {
    task.file(task.arg(0) as i32)?;
    Ok(0)
}
