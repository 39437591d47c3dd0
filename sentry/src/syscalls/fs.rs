//! Path-based file syscalls: open, stat, access, directories, links, renames, attributes,
//! the working directory and statfs.

use super::mapped_files;
use super::uaccess::AT_FDCWD;
use crate::abi::{KStat, KStatfs, Statx, Timespec, Timeval};
use crate::errno::{SysErr, SysResult};
use crate::kernel::task::Task;
use fs::notify;
use fs::{Dentry, FileType, Lookup, Resolve, SetAttr, Stat, Time, TimeChange, WalkCtx};
use nix::errno::Errno;
use std::sync::Arc;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

fn path_arg(task: &Task, i: usize) -> Result<Vec<u8>, SysErr> {
    task.read_path(task.arg(i))
}

/// The kernel's `__O_TMPFILE` bit (`O_TMPFILE` is it with `O_DIRECTORY`).
const O_TMPFILE_BIT: i32 = 0o20000000;
/// The kernel's `O_LARGEFILE` (libc's is 0 on x86_64).
const O_LARGEFILE: i32 = 0o100000;
/// Every flag `open` knows (`VALID_OPEN_FLAGS`).
const VALID_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | O_TMPFILE_BIT;
/// The flags `O_PATH` may come with in `openat2`.
const O_PATH_FLAGS: i32 = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC;

/// The checks of Linux's `build_open_flags` every open makes: `O_CREAT` with
/// `O_DIRECTORY`, and `O_TMPFILE` without `O_DIRECTORY`, with `O_CREAT` or not for
/// writing, are `EINVAL`.
fn check_open_flags(flags: i32) -> Result<(), SysErr> {
    let tmpfile_mask = O_TMPFILE_BIT | libc::O_DIRECTORY | libc::O_CREAT;
    let writes = flags & libc::O_ACCMODE != libc::O_RDONLY;
    let bad_tmpfile =
        flags & O_TMPFILE_BIT != 0 && (flags & tmpfile_mask != libc::O_TMPFILE || !writes);
    if (flags & libc::O_CREAT != 0 && flags & libc::O_DIRECTORY != 0) || bad_tmpfile {
        return Err(Errno::EINVAL.into());
    }
    Ok(())
}

fn do_open(task: &mut Task, dirfd: i32, path: &[u8], flags: i32, mode: u32) -> SysResult {
    do_open_with(task, dirfd, path, flags, mode, Resolve::default())
}

fn do_open_with(
    task: &mut Task,
    dirfd: i32,
    path: &[u8],
    flags: i32,
    mode: u32,
    resolve: Resolve,
) -> SysResult {
    check_open_flags(flags)?;
    if path.is_empty() {
        return Err(Errno::ENOENT.into());
    }
    if flags & O_TMPFILE_BIT != 0 {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let umask = task.fs.lock().umask;
    let mode = mode & 0o7777 & !umask;
    let ctty = task.process.ctty.lock().clone();
    let open = |ctx: &WalkCtx<'_>| -> Result<_, SysErr> {
        if let Some(pty) = ctty.filter(|_| flags & libc::O_PATH == 0) {
            // `/dev/tty` is the caller's controlling terminal.
            let lookup = task.kernel.vfs.walk_with(ctx, path, true, resolve)?;
            if let Some(d) = lookup.child.filter(|d| {
                d.inode()
                    .as_any()
                    .downcast_ref::<fs::dev::CharDevice>()
                    .is_some_and(|c| c.is_tty())
            }) {
                let how = fs::pty::ReplicaOpen::Alias(d.inode().stat()?);
                return Ok(fs::OpenFile::new(pty.open_replica(how)?, flags, Some(d)));
            }
        }
        Ok(task.kernel.vfs.open_with(ctx, path, flags, mode, resolve)?)
    };
    let file = if resolve.beneath || resolve.in_root {
        task.with_dir_walk(dirfd, open)?
    } else {
        task.with_walk(dirfd, path, open)?
    };
    // A blocking open of one side of a named pipe waits for the other (Linux's
    // `fifo_open`); the end is closed again if a signal ends the wait.
    if flags & libc::O_NONBLOCK == 0
        && let Some(end) = file.ops.pipe_end()
    {
        end.wait_partner(task.waiter())?;
    }
    if flags & libc::O_TRUNC != 0 {
        mapped_files::resize(&task.kernel, || file.ops.stat(), 0, || Ok(()))?;
    }
    if flags & libc::O_NOCTTY == 0
        && let Some((pty, fs::pty::Side::Replica)) = fs::pty::Pty::of(&file)
    {
        crate::kernel::tty::opened(&task.kernel, &task.process, pty);
    }
    let limit = task.process.rlimit(libc::RLIMIT_NOFILE as usize);
    let fd = task
        .files
        .lock()
        .insert(file, flags & libc::O_CLOEXEC != 0, 0, limit)?;
    Ok(fd as u64)
}

/// `open(path, flags, mode)`.
pub fn open(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    do_open(
        task,
        AT_FDCWD,
        &path,
        task.arg(1) as i32,
        task.arg(2) as u32,
    )
}

/// `openat(dirfd, path, flags, mode)`.
pub fn openat(task: &mut Task) -> SysResult {
    let path = path_arg(task, 1)?;
    do_open(
        task,
        task.arg(0) as i32,
        &path,
        task.arg(2) as i32,
        task.arg(3) as u32,
    )
}

/// `struct open_how`, as of `OPEN_HOW_SIZE_VER0`.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `RESOLVE_*` flags.
const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;
const RESOLVE_CACHED: u64 = 0x20;
/// Largest `open_how` size accepted (a page).
const OPEN_HOW_SIZE_MAX: usize = 4096;

/// Reads and checks an `open_how` as Linux's `openat2` and `build_open_flags` do: a
/// size below the first version's is `EINVAL`, above a page or with non-zero bytes past
/// the known structure `E2BIG`; unknown flags or resolve bits, both scoping bits, a mode
/// without a create flag or beyond `07777`, and `O_PATH` with other than its few flags
/// are `EINVAL`; `RESOLVE_CACHED` with a create or truncate is `EAGAIN`.
fn read_open_how(task: &Task, addr: u64, size: usize) -> Result<(i32, u32, Resolve), SysErr> {
    let known = std::mem::size_of::<OpenHow>();
    if size < known {
        return Err(Errno::EINVAL.into());
    }
    if size > OPEN_HOW_SIZE_MAX {
        return Err(Errno::E2BIG.into());
    }
    let mut raw = vec![0u8; size];
    task.mm().read(addr, &mut raw)?;
    if raw[known..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG.into());
    }
    let how = OpenHow::read_from_bytes(&raw[..known]).expect("size checked");
    let flags = how.flags & !(libc::O_CLOEXEC as u64);
    let all_resolve = RESOLVE_NO_XDEV
        | RESOLVE_NO_MAGICLINKS
        | RESOLVE_NO_SYMLINKS
        | RESOLVE_BENEATH
        | RESOLVE_IN_ROOT
        | RESOLVE_CACHED;
    if flags & !(VALID_OPEN_FLAGS as u64) != 0
        || how.resolve & !all_resolve != 0
        || how.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) == RESOLVE_BENEATH | RESOLVE_IN_ROOT
    {
        return Err(Errno::EINVAL.into());
    }
    let flags = how.flags as i32;
    let creates = flags & (libc::O_CREAT | O_TMPFILE_BIT) != 0;
    if (creates && how.mode & !0o7777 != 0) || (!creates && how.mode != 0) {
        return Err(Errno::EINVAL.into());
    }
    check_open_flags(flags)?;
    if flags & libc::O_PATH != 0 && flags & !O_PATH_FLAGS != 0 {
        return Err(Errno::EINVAL.into());
    }
    let creates_or_truncates = flags & (libc::O_CREAT | libc::O_TRUNC | O_TMPFILE_BIT) != 0;
    if how.resolve & RESOLVE_CACHED != 0 && creates_or_truncates {
        return Err(Errno::EAGAIN.into());
    }
    let resolve = Resolve {
        no_xdev: how.resolve & RESOLVE_NO_XDEV != 0,
        no_magiclinks: how.resolve & RESOLVE_NO_MAGICLINKS != 0,
        no_symlinks: how.resolve & RESOLVE_NO_SYMLINKS != 0,
        beneath: how.resolve & RESOLVE_BENEATH != 0,
        in_root: how.resolve & RESOLVE_IN_ROOT != 0,
    };
    Ok((flags, how.mode as u32, resolve))
}

/// `openat2(dirfd, path, how, size)`: `openat` with the flags, mode and resolve
/// restrictions of a `struct open_how`. `RESOLVE_CACHED` lookups always succeed as if
/// cached (the sentry's walk does no I/O worth avoiding).
pub fn openat2(task: &mut Task) -> SysResult {
    let (flags, mode, resolve) = read_open_how(task, task.arg(2), task.arg(3) as usize)?;
    let path = path_arg(task, 1)?;
    do_open_with(task, task.arg(0) as i32, &path, flags, mode, resolve)
}

/// `creat(path, mode)`.
pub fn creat(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    do_open(
        task,
        AT_FDCWD,
        &path,
        libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
        task.arg(1) as u32,
    )
}

/// Stats `path` relative to `dirfd`, or the fd itself with `AT_EMPTY_PATH` and "".
fn stat_at(task: &Task, dirfd: i32, path_addr: u64, flags: i32) -> Result<Stat, SysErr> {
    if flags
        & !(libc::AT_SYMLINK_NOFOLLOW
            | libc::AT_EMPTY_PATH
            | libc::AT_NO_AUTOMOUNT
            | libc::AT_STATX_SYNC_TYPE)
        != 0
    {
        return Err(Errno::EINVAL.into());
    }
    let path = task.read_path(path_addr)?;
    if path.is_empty() {
        if flags & libc::AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT.into());
        }
        if dirfd == AT_FDCWD {
            return Ok(task.fs.lock().cwd.inode().stat()?);
        }
        return Ok(task.file(dirfd)?.ops.stat()?);
    }
    let d = task.lookup_at(dirfd, &path, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
    Ok(d.inode().stat()?)
}

/// `stat(path, buf)`.
pub fn stat(task: &mut Task) -> SysResult {
    let st = stat_at(task, AT_FDCWD, task.arg(0), 0)?;
    task.write_obj(task.arg(1), &KStat::from(&st))?;
    Ok(0)
}

/// `lstat(path, buf)`.
pub fn lstat(task: &mut Task) -> SysResult {
    let st = stat_at(task, AT_FDCWD, task.arg(0), libc::AT_SYMLINK_NOFOLLOW)?;
    task.write_obj(task.arg(1), &KStat::from(&st))?;
    Ok(0)
}

/// `fstat(fd, buf)`.
pub fn fstat(task: &mut Task) -> SysResult {
    let st = task.file(task.arg(0) as i32)?.ops.stat()?;
    task.write_obj(task.arg(1), &KStat::from(&st))?;
    Ok(0)
}

/// `newfstatat(dirfd, path, buf, flags)`.
pub fn newfstatat(task: &mut Task) -> SysResult {
    let st = stat_at(task, task.arg(0) as i32, task.arg(1), task.arg(3) as i32)?;
    task.write_obj(task.arg(2), &KStat::from(&st))?;
    Ok(0)
}

/// `statx(dirfd, path, flags, mask, buf)`.
pub fn statx(task: &mut Task) -> SysResult {
    let flags = task.arg(2) as i32;
    if task.arg(3) as u32 & 0x8000_0000 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let st = stat_at(
        task,
        task.arg(0) as i32,
        task.arg(1),
        flags & !libc::AT_STATX_SYNC_TYPE,
    )?;
    task.write_obj(task.arg(4), &Statx::from(&st))?;
    Ok(0)
}

fn access_at(task: &Task, dirfd: i32, path_addr: u64, mode: u32, flags: i32) -> SysResult {
    if mode & !7 != 0
        || flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0
    {
        return Err(Errno::EINVAL.into());
    }
    let path = task.read_path(path_addr)?;
    let d = if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        task.dentry_of_fd(dirfd)?
    } else {
        task.lookup_at(dirfd, &path, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?
    };
    if mode == 0 {
        return Ok(0);
    }
    let st = d.inode().stat()?;
    let creds = *task.process.creds.lock();
    let real = flags & libc::AT_EACCESS == 0;
    if creds.permits(
        st.mode,
        st.uid,
        st.gid,
        mode,
        real,
        st.file_type() == FileType::Dir,
    ) {
        Ok(0)
    } else {
        Err(Errno::EACCES.into())
    }
}

/// `access(path, mode)`.
pub fn access(task: &mut Task) -> SysResult {
    access_at(task, AT_FDCWD, task.arg(0), task.arg(1) as u32, 0)
}

/// `faccessat(dirfd, path, mode)`.
pub fn faccessat(task: &mut Task) -> SysResult {
    access_at(task, task.arg(0) as i32, task.arg(1), task.arg(2) as u32, 0)
}

/// `faccessat2(dirfd, path, mode, flags)`.
pub fn faccessat2(task: &mut Task) -> SysResult {
    access_at(
        task,
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as u32,
        task.arg(3) as i32,
    )
}

fn readlink_at(task: &Task, dirfd: i32, path_addr: u64, buf: u64, size: u64) -> SysResult {
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let path = task.read_path(path_addr)?;
    let d = if path.is_empty() {
        task.dentry_of_fd(dirfd)?
    } else {
        task.lookup_at(dirfd, &path, false)?
    };
    let target = d.inode().readlink()?;
    let n = target.len().min(size as usize);
    task.mm().write(buf, &target[..n])?;
    Ok(n as u64)
}

/// `readlink(path, buf, size)`.
pub fn readlink(task: &mut Task) -> SysResult {
    readlink_at(task, AT_FDCWD, task.arg(0), task.arg(1), task.arg(2))
}

/// `readlinkat(dirfd, path, buf, size)`.
pub fn readlinkat(task: &mut Task) -> SysResult {
    readlink_at(
        task,
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2),
        task.arg(3),
    )
}

/// `getcwd(buf, size)`.
pub fn getcwd(task: &mut Task) -> SysResult {
    let cwd = task.fs.lock().cwd.clone();
    let mut path = cwd.path().to_vec();
    path.push(0);
    if (task.arg(1) as usize) < path.len() {
        return Err(Errno::ERANGE.into());
    }
    task.mm().write(task.arg(0), &path)?;
    Ok(path.len() as u64)
}

fn set_cwd(task: &Task, d: Arc<Dentry>) -> SysResult {
    if d.inode().file_type() != FileType::Dir {
        return Err(Errno::ENOTDIR.into());
    }
    let st = d.inode().stat()?;
    if !task
        .process
        .creds
        .lock()
        .permits(st.mode, st.uid, st.gid, 1, false, true)
    {
        return Err(Errno::EACCES.into());
    }
    task.fs.lock().cwd = d;
    Ok(0)
}

/// `chdir(path)`.
pub fn chdir(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    let d = task.lookup_at(AT_FDCWD, &path, true)?;
    set_cwd(task, d)
}

/// `fchdir(fd)`.
pub fn fchdir(task: &mut Task) -> SysResult {
    let d = task
        .file(task.arg(0) as i32)?
        .dentry
        .clone()
        .ok_or(Errno::ENOTDIR)?;
    set_cwd(task, d)
}

/// `chroot(path)`.
pub fn chroot(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    let d = task.lookup_at(AT_FDCWD, &path, true)?;
    if d.inode().file_type() != FileType::Dir {
        return Err(Errno::ENOTDIR.into());
    }
    if task.process.creds.lock().euid != 0 {
        return Err(Errno::EPERM.into());
    }
    task.fs.lock().root = d;
    Ok(0)
}

/// Walks `path` for a call that creates or removes its last component.
fn walk_parent(task: &Task, dirfd: i32, path: &[u8]) -> Result<Lookup, SysErr> {
    if path.is_empty() {
        return Err(Errno::ENOENT.into());
    }
    task.with_walk(dirfd, path, |ctx| {
        Ok(task.kernel.vfs.walk(ctx, path, false)?)
    })
}

fn mkdir_at(task: &Task, dirfd: i32, path_addr: u64, mode: u32) -> SysResult {
    let path = task.read_path(path_addr)?;
    let l = walk_parent(task, dirfd, &path)?;
    if l.child.is_some() || l.is_dot() {
        return Err(Errno::EEXIST.into());
    }
    let umask = task.fs.lock().umask;
    l.parent.inode().mkdir(&l.name, mode & 0o7777 & !umask)?;
    notify::created(&l.parent, &l.name, true);
    Ok(0)
}

/// `mkdir(path, mode)`.
pub fn mkdir(task: &mut Task) -> SysResult {
    mkdir_at(task, AT_FDCWD, task.arg(0), task.arg(1) as u32)
}

/// `mkdirat(dirfd, path, mode)`.
pub fn mkdirat(task: &mut Task) -> SysResult {
    mkdir_at(task, task.arg(0) as i32, task.arg(1), task.arg(2) as u32)
}

fn mknod_at(task: &Task, dirfd: i32, path_addr: u64, mode: u32, dev: u64) -> SysResult {
    let path = task.read_path(path_addr)?;
    let l = walk_parent(task, dirfd, &path)?;
    if l.child.is_some() || l.is_dot() {
        return Err(Errno::EEXIST.into());
    }
    let umask = task.fs.lock().umask;
    let perm = mode & 0o7777 & !umask;
    match mode & libc::S_IFMT {
        0 | libc::S_IFREG => {
            l.parent
                .inode()
                .create(&l.name, libc::O_WRONLY | libc::O_EXCL, perm)?;
        }
        libc::S_IFIFO | libc::S_IFSOCK => {
            l.parent
                .inode()
                .mknod(&l.name, (mode & libc::S_IFMT) | perm, 0)?
        }
        // Device nodes would reach host devices: never created for a guest.
        libc::S_IFCHR | libc::S_IFBLK => {
            let _ = dev;
            return Err(Errno::EPERM.into());
        }
        _ => return Err(Errno::EINVAL.into()),
    }
    notify::created(&l.parent, &l.name, false);
    Ok(0)
}

/// `mknod(path, mode, dev)`.
pub fn mknod(task: &mut Task) -> SysResult {
    mknod_at(task, AT_FDCWD, task.arg(0), task.arg(1) as u32, task.arg(2))
}

/// `mknodat(dirfd, path, mode, dev)`.
pub fn mknodat(task: &mut Task) -> SysResult {
    mknod_at(
        task,
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as u32,
        task.arg(3),
    )
}

fn rmdir_at(task: &Task, dirfd: i32, path: &[u8]) -> SysResult {
    let l = walk_parent(task, dirfd, path)?;
    match l.name.as_slice() {
        b"." => return Err(Errno::EINVAL.into()),
        b".." => return Err(Errno::ENOTEMPTY.into()),
        b"/" => return Err(Errno::EBUSY.into()),
        _ => {}
    }
    let child = l.child.ok_or(Errno::ENOENT)?;
    if child.inode().file_type() != FileType::Dir {
        return Err(Errno::ENOTDIR.into());
    }
    notify::remove(&l.parent, &l.name, &child, || {
        l.parent.inode().rmdir(&l.name)
    })?;
    Ok(0)
}

fn unlink_at(task: &Task, dirfd: i32, path: &[u8]) -> SysResult {
    let l = walk_parent(task, dirfd, path)?;
    let dot = l.is_dot();
    let child = l.child.as_ref().ok_or(Errno::ENOENT)?;
    if child.inode().file_type() == FileType::Dir || dot {
        return Err(Errno::EISDIR.into());
    }
    if l.trailing_slash {
        return Err(Errno::ENOTDIR.into());
    }
    notify::remove(&l.parent, &l.name, child, || {
        l.parent.inode().unlink(&l.name)
    })?;
    Ok(0)
}

/// `rmdir(path)`.
pub fn rmdir(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    rmdir_at(task, AT_FDCWD, &path)
}

/// `unlink(path)`.
pub fn unlink(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    unlink_at(task, AT_FDCWD, &path)
}

/// `unlinkat(dirfd, path, flags)`.
pub fn unlinkat(task: &mut Task) -> SysResult {
    let (dirfd, flags) = (task.arg(0) as i32, task.arg(2) as i32);
    let path = path_arg(task, 1)?;
    match flags {
        0 => unlink_at(task, dirfd, &path),
        libc::AT_REMOVEDIR => rmdir_at(task, dirfd, &path),
        _ => Err(Errno::EINVAL.into()),
    }
}

fn rename_at(
    task: &Task,
    olddir: i32,
    old_addr: u64,
    newdir: i32,
    new_addr: u64,
    flags: u32,
) -> SysResult {
    let known = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE | libc::RENAME_WHITEOUT;
    if flags & !known != 0
        || (flags & libc::RENAME_NOREPLACE != 0 && flags & libc::RENAME_EXCHANGE != 0)
    {
        return Err(Errno::EINVAL.into());
    }
    let old = task.read_path(old_addr)?;
    let new = task.read_path(new_addr)?;
    let lo = walk_parent(task, olddir, &old)?;
    let ln = walk_parent(task, newdir, &new)?;
    if lo.is_dot() || ln.is_dot() {
        return Err(Errno::EBUSY.into());
    }
    let src = lo.child.ok_or(Errno::ENOENT)?;
    if (lo.trailing_slash || ln.trailing_slash) && src.inode().file_type() != FileType::Dir {
        return Err(Errno::ENOTDIR.into());
    }
    let rename = notify::Rename {
        old_dir: &lo.parent,
        old_name: &lo.name,
        new_dir: &ln.parent,
        new_name: &ln.name,
        moved: &src,
        replaced: ln.child.as_deref(),
        exchange: flags & libc::RENAME_EXCHANGE != 0,
    };
    notify::rename(&rename, || {
        lo.parent
            .inode()
            .rename(&lo.name, ln.parent.inode().as_ref(), &ln.name, flags)
    })?;
    Ok(0)
}

/// `rename(old, new)`.
pub fn rename(task: &mut Task) -> SysResult {
    rename_at(task, AT_FDCWD, task.arg(0), AT_FDCWD, task.arg(1), 0)
}

/// `renameat(olddirfd, old, newdirfd, new)`.
pub fn renameat(task: &mut Task) -> SysResult {
    rename_at(
        task,
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as i32,
        task.arg(3),
        0,
    )
}

/// `renameat2(olddirfd, old, newdirfd, new, flags)`.
pub fn renameat2(task: &mut Task) -> SysResult {
    rename_at(
        task,
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as i32,
        task.arg(3),
        task.arg(4) as u32,
    )
}

fn symlink_at(task: &Task, target_addr: u64, dirfd: i32, path_addr: u64) -> SysResult {
    let target = task.read_path(target_addr)?;
    if target.is_empty() {
        return Err(Errno::ENOENT.into());
    }
    let path = task.read_path(path_addr)?;
    let l = walk_parent(task, dirfd, &path)?;
    if l.child.is_some() || l.is_dot() {
        return Err(Errno::EEXIST.into());
    }
    l.parent.inode().symlink(&l.name, &target)?;
    notify::created(&l.parent, &l.name, false);
    Ok(0)
}

/// `symlink(target, path)`.
pub fn symlink(task: &mut Task) -> SysResult {
    symlink_at(task, task.arg(0), AT_FDCWD, task.arg(1))
}

/// `symlinkat(target, dirfd, path)`.
pub fn symlinkat(task: &mut Task) -> SysResult {
    symlink_at(task, task.arg(0), task.arg(1) as i32, task.arg(2))
}

fn link_at(
    task: &Task,
    olddir: i32,
    old_addr: u64,
    newdir: i32,
    new_addr: u64,
    flags: i32,
) -> SysResult {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let old = task.read_path(old_addr)?;
    let src = if old.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        task.dentry_of_fd(olddir)?
    } else {
        task.lookup_at(olddir, &old, flags & libc::AT_SYMLINK_FOLLOW != 0)?
    };
    if src.inode().file_type() == FileType::Dir {
        return Err(Errno::EPERM.into());
    }
    let new = task.read_path(new_addr)?;
    let l = walk_parent(task, newdir, &new)?;
    if l.child.is_some() || l.is_dot() {
        return Err(Errno::EEXIST.into());
    }
    l.parent.inode().link(&l.name, src.inode().as_ref())?;
    notify::linked(&l.parent, &l.name, &src);
    Ok(0)
}

/// `link(old, new)`.
pub fn link(task: &mut Task) -> SysResult {
    link_at(task, AT_FDCWD, task.arg(0), AT_FDCWD, task.arg(1), 0)
}

/// `linkat(olddirfd, old, newdirfd, new, flags)`.
pub fn linkat(task: &mut Task) -> SysResult {
    link_at(
        task,
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2) as i32,
        task.arg(3),
        task.arg(4) as i32,
    )
}

/// Applies `attr` to the object at `path` (or the fd itself for an empty path with
/// `AT_EMPTY_PATH`).
fn setattr_at(
    task: &Task,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    empty_ok: bool,
    attr: SetAttr,
) -> SysResult {
    let d = if path.is_empty() && empty_ok {
        task.dentry_of_fd(dirfd)?
    } else {
        task.lookup_at(dirfd, path, follow)?
    };
    set_attr(&d, attr)
}

/// Applies `attr` to the object at `d` and tells its watchers.
fn set_attr(d: &Dentry, attr: SetAttr) -> SysResult {
    d.inode().setattr(attr)?;
    notify::attr_changed(d, attr);
    Ok(0)
}

/// `chmod(path, mode)`.
pub fn chmod(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    setattr_at(
        task,
        AT_FDCWD,
        &path,
        true,
        false,
        SetAttr::Mode(task.arg(1) as u32),
    )
}

/// `fchmod(fd, mode)`.
pub fn fchmod(task: &mut Task) -> SysResult {
    fd_set_attr(task, SetAttr::Mode(task.arg(1) as u32))
}

/// Changes the attributes of the file at fd argument 0: through its dentry, or for a
/// memfd (which has none) through the memfd, which checks its seals.
fn fd_set_attr(task: &Task, attr: SetAttr) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    match (&file.dentry, fs::memfd::Memfd::of(&file)) {
        (Some(d), _) => set_attr(d, attr),
        (None, Some(memfd)) => {
            memfd.setattr(attr)?;
            Ok(0)
        }
        (None, None) => Err(Errno::EBADF.into()),
    }
}

/// `fchmodat(dirfd, path, mode)`.
pub fn fchmodat(task: &mut Task) -> SysResult {
    fchmodat_flags(task, 0)
}

/// `fchmodat2(dirfd, path, mode, flags)`.
pub fn fchmodat2(task: &mut Task) -> SysResult {
    fchmodat_flags(task, task.arg(3) as i32)
}

fn fchmodat_flags(task: &Task, flags: i32) -> SysResult {
    let path = path_arg(task, 1)?;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    setattr_at(
        task,
        task.arg(0) as i32,
        &path,
        follow,
        flags & libc::AT_EMPTY_PATH != 0,
        SetAttr::Mode(task.arg(2) as u32),
    )
}

fn owner(task: &Task, uid: usize, gid: usize) -> SetAttr {
    SetAttr::Owner(task.arg(uid) as u32, task.arg(gid) as u32)
}

/// `chown(path, uid, gid)`.
pub fn chown(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    setattr_at(task, AT_FDCWD, &path, true, false, owner(task, 1, 2))
}

/// `lchown(path, uid, gid)`.
pub fn lchown(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    setattr_at(task, AT_FDCWD, &path, false, false, owner(task, 1, 2))
}

/// `fchown(fd, uid, gid)`.
pub fn fchown(task: &mut Task) -> SysResult {
    fd_set_attr(task, owner(task, 1, 2))
}

/// `fchownat(dirfd, path, uid, gid, flags)`.
pub fn fchownat(task: &mut Task) -> SysResult {
    let path = path_arg(task, 1)?;
    let flags = task.arg(4) as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    setattr_at(
        task,
        task.arg(0) as i32,
        &path,
        follow,
        flags & libc::AT_EMPTY_PATH != 0,
        owner(task, 2, 3),
    )
}

const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

fn time_change(ts: Timespec) -> Result<TimeChange, SysErr> {
    match ts.tv_nsec {
        UTIME_NOW => Ok(TimeChange::Now),
        UTIME_OMIT => Ok(TimeChange::Omit),
        0..=999_999_999 => Ok(TimeChange::Set(Time {
            sec: ts.tv_sec,
            nsec: ts.tv_nsec,
        })),
        _ => Err(Errno::EINVAL.into()),
    }
}

fn utimes_common(
    task: &Task,
    dirfd: i32,
    path_addr: u64,
    times: Option<[TimeChange; 2]>,
    flags: i32,
) -> SysResult {
    let [a, m] = times.unwrap_or([TimeChange::Now, TimeChange::Now]);
    let attr = SetAttr::Times(a, m);
    if path_addr == 0 {
        // futimens: the fd itself.
        let d = if dirfd == AT_FDCWD {
            return Err(Errno::EFAULT.into());
        } else {
            task.dentry_of_fd(dirfd)?
        };
        return set_attr(&d, attr);
    }
    let path = task.read_path(path_addr)?;
    setattr_at(
        task,
        dirfd,
        &path,
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        flags & libc::AT_EMPTY_PATH != 0,
        attr,
    )
}

/// `utimensat(dirfd, path, times, flags)`.
pub fn utimensat(task: &mut Task) -> SysResult {
    let flags = task.arg(3) as i32;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let times = match task.arg(2) {
        0 => None,
        addr => {
            let ts: [Timespec; 2] = task.read_obj(addr)?;
            Some([time_change(ts[0])?, time_change(ts[1])?])
        }
    };
    utimes_common(task, task.arg(0) as i32, task.arg(1), times, flags)
}

fn timevals(task: &Task, addr: u64) -> Result<Option<[TimeChange; 2]>, SysErr> {
    if addr == 0 {
        return Ok(None);
    }
    let tv: [Timeval; 2] = task.read_obj(addr)?;
    let conv = |t: Timeval| -> Result<TimeChange, SysErr> {
        if !(0..1_000_000).contains(&t.tv_usec) {
            return Err(Errno::EINVAL.into());
        }
        Ok(TimeChange::Set(Time {
            sec: t.tv_sec,
            nsec: t.tv_usec * 1000,
        }))
    };
    Ok(Some([conv(tv[0])?, conv(tv[1])?]))
}

/// `utimes(path, times)`.
pub fn utimes(task: &mut Task) -> SysResult {
    let times = timevals(task, task.arg(1))?;
    utimes_common(task, AT_FDCWD, task.arg(0), times, 0)
}

/// `futimesat(dirfd, path, times)`.
pub fn futimesat(task: &mut Task) -> SysResult {
    let times = timevals(task, task.arg(2))?;
    utimes_common(task, task.arg(0) as i32, task.arg(1), times, 0)
}

/// `utime(path, times)`.
pub fn utime(task: &mut Task) -> SysResult {
    let times = match task.arg(1) {
        0 => None,
        addr => {
            let t: [i64; 2] = task.read_obj(addr)?;
            Some([
                TimeChange::Set(Time { sec: t[0], nsec: 0 }),
                TimeChange::Set(Time { sec: t[1], nsec: 0 }),
            ])
        }
    };
    utimes_common(task, AT_FDCWD, task.arg(0), times, 0)
}

/// `truncate(path, length)`.
pub fn truncate(task: &mut Task) -> SysResult {
    let len = task.arg(1) as i64;
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let path = path_arg(task, 0)?;
    let d = task.lookup_at(AT_FDCWD, &path, true)?;
    if d.inode().file_type() == FileType::Dir {
        return Err(Errno::EISDIR.into());
    }
    let inode = d.inode();
    mapped_files::resize(
        &task.kernel,
        || inode.stat(),
        len as u64,
        || inode.setattr(SetAttr::Size(len as u64)),
    )?;
    notify::attr_changed(&d, SetAttr::Size(len as u64));
    Ok(0)
}

/// `ftruncate(fd, length)`.
pub fn ftruncate(task: &mut Task) -> SysResult {
    let len = task.arg(1) as i64;
    let file = task.file(task.arg(0) as i32)?;
    if len < 0 || !file.writable() {
        return Err(Errno::EINVAL.into());
    }
    let len = len as u64;
    mapped_files::resize(
        &task.kernel,
        || file.ops.stat(),
        len,
        || file.ops.truncate(len),
    )?;
    if let Some(d) = &file.dentry {
        notify::attr_changed(d, SetAttr::Size(len));
    }
    Ok(0)
}

/// `umask(mask)`.
pub fn umask(task: &mut Task) -> SysResult {
    let mut fs = task.fs.lock();
    let old = fs.umask;
    fs.umask = task.arg(0) as u32 & 0o777;
    Ok(old as u64)
}

/// `statfs(path, buf)`.
pub fn statfs(task: &mut Task) -> SysResult {
    let path = path_arg(task, 0)?;
    let d = task.lookup_at(AT_FDCWD, &path, true)?;
    let st = d.inode().statfs()?;
    task.write_obj(task.arg(1), &KStatfs::from(&st))?;
    Ok(0)
}

/// `fstatfs(fd, buf)`.
pub fn fstatfs(task: &mut Task) -> SysResult {
    let file = task.file(task.arg(0) as i32)?;
    let st = match &file.dentry {
        Some(d) => d.inode().statfs()?,
        None => return Err(Errno::ENOSYS.into()),
    };
    task.write_obj(task.arg(1), &KStatfs::from(&st))?;
    Ok(0)
}
