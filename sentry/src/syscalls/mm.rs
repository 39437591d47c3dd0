//! Memory syscalls: mmap, munmap, mprotect, mremap, brk, madvise, msync, mincore, mlock.

use crate::errno::SysResult;
use crate::kernel::exec::FileData;
use crate::kernel::task::Task;
use fs::MapKind;
use mm::{Content, MapRequest, MappedFile, Placement, Prot};
use nix::errno::Errno;
use std::sync::Arc;

const PROT_MASK: u64 = 7;
const PROT_GROWS: u64 = 0x0100_0000 | 0x0200_0000;

fn prot_arg(v: u64) -> Result<Prot, Errno> {
    if v & !(PROT_MASK | PROT_GROWS) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Prot((v & PROT_MASK) as u32))
}

/// `mmap(addr, length, prot, flags, fd, offset)`.
pub fn mmap(task: &mut Task) -> SysResult {
    let (addr, len, prot, flags, fd, off) = (
        task.arg(0),
        task.arg(1),
        task.arg(2),
        task.arg(3) as i32,
        task.arg(4) as i32,
        task.arg(5),
    );
    let prot = prot_arg(prot)?;
    let shared = match flags & 0xf {
        libc::MAP_SHARED | libc::MAP_SHARED_VALIDATE => true,
        libc::MAP_PRIVATE => false,
        _ => return Err(Errno::EINVAL.into()),
    };
    if off % mm::PAGE_SIZE != 0 || len == 0 {
        return Err(Errno::EINVAL.into());
    }
    let placement = if flags & libc::MAP_FIXED_NOREPLACE != 0 {
        Placement::FixedNoReplace
    } else if flags & libc::MAP_FIXED != 0 {
        Placement::Fixed
    } else {
        Placement::Hint
    };
    let content = if flags & libc::MAP_ANONYMOUS != 0 {
        Content::Zero
    } else {
        let file = task.file(fd)?;
        match file.ops.map_kind() {
            MapKind::NotMappable => return Err(Errno::ENODEV.into()),
            MapKind::Zero => Content::Zero,
            MapKind::Data => {
                if !file.readable() || (shared && prot.writable() && !file.writable()) {
                    return Err(Errno::EACCES.into());
                }
                let memfd = fs::memfd::Memfd::of(&file);
                if shared && prot.writable() && memfd.is_some_and(|m| m.write_sealed()) {
                    return Err(Errno::EPERM.into());
                }
                let st = file.ops.stat()?;
                let path = file.display_path();
                let source = FileData(file.clone());
                let may_write = shared && mm::FileSource::writable(&source);
                let mapped = Arc::new(MappedFile {
                    path,
                    dev: st.dev,
                    ino: st.ino,
                    source: Arc::new(source),
                    version: Some(crate::kernel::exec::file_version(&st)),
                });
                if let Some(memfd) = memfd.filter(|_| may_write) {
                    let token: Arc<dyn std::any::Any + Send + Sync> = mapped.clone();
                    memfd.add_writable_map(Arc::downgrade(&token));
                }
                Content::File {
                    file: mapped,
                    offset: off,
                }
            }
        }
    };
    // As Linux's heuristic overcommit (`overcommit_memory` 0): a MAP_NORESERVE mapping is
    // not charged when made (sanitizers reserve terabytes of shadow so); its pages count
    // against the limit as they are touched.
    let charged = prot.writable() && flags & libc::MAP_NORESERVE == 0;
    if charged && !task.kernel.memory_allows(len) {
        return Err(Errno::ENOMEM.into());
    }
    let req = MapRequest {
        addr,
        len,
        prot,
        shared,
        placement,
        low_2g: flags & libc::MAP_32BIT != 0,
        content,
        name: None,
    };
    Ok(task.with_mm(|mm, host| mm.mmap(host, req))?)
}

/// `munmap(addr, length)`.
pub fn munmap(task: &mut Task) -> SysResult {
    let (addr, len) = (task.arg(0), task.arg(1));
    task.with_mm(|mm, host| mm.munmap(host, addr, len))?;
    Ok(0)
}

/// `mprotect(addr, length, prot)`.
pub fn mprotect(task: &mut Task) -> SysResult {
    let prot = prot_arg(task.arg(2))?;
    let (addr, len) = (task.arg(0), task.arg(1));
    task.with_mm(|mm, host| mm.mprotect(host, addr, len, prot))?;
    Ok(0)
}

/// `pkey_mprotect(addr, len, prot, pkey)`: the sandbox has no protection keys (as a kernel
/// on a CPU without them), so only pkey -1, meaning plain `mprotect`, is valid.
pub fn pkey_mprotect(task: &mut Task) -> SysResult {
    if task.arg(3) as i32 != -1 {
        return Err(Errno::EINVAL.into());
    }
    mprotect(task)
}

/// `pkey_alloc(flags, init_access)` and `pkey_free(pkey)`: no protection keys to hand out
/// or free; EINVAL as from a kernel on a CPU without them.
pub fn pkey_unsupported(_task: &mut Task) -> SysResult {
    Err(Errno::EINVAL.into())
}

/// The top of the x86_64 user address space (`TASK_SIZE`).
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// `mremap(old, old_size, new_size, flags, new_addr)`; `MREMAP_DONTUNMAP` moves without
/// resizing and needs `MREMAP_MAYMOVE`.
pub fn mremap(task: &mut Task) -> SysResult {
    let flags = task.arg(3) as i32;
    let (old, old_len, new_len) = (task.arg(0), task.arg(1), task.arg(2));
    let may_move = flags & libc::MREMAP_MAYMOVE != 0;
    let dont_unmap = flags & libc::MREMAP_DONTUNMAP != 0;
    if flags & !(libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | libc::MREMAP_DONTUNMAP) != 0
        || (flags & libc::MREMAP_FIXED != 0 && !may_move)
        || (dont_unmap && (!may_move || old_len != new_len))
    {
        return Err(Errno::EINVAL.into());
    }
    let new_addr = task.arg(4);
    // With MREMAP_DONTUNMAP the new address is checked even as a mere hint.
    if (dont_unmap || flags & libc::MREMAP_FIXED != 0)
        && (!new_addr.is_multiple_of(mm::PAGE_SIZE)
            || new_len > TASK_SIZE
            || new_addr > TASK_SIZE - new_len
            || (new_addr < old.saturating_add(old_len) && old < new_addr.saturating_add(new_len)))
    {
        return Err(Errno::EINVAL.into());
    }
    let fixed = (flags & libc::MREMAP_FIXED != 0).then_some(new_addr);
    // A move that keeps the source mapped holds its length twice.
    let grows = if dont_unmap {
        new_len
    } else {
        new_len.saturating_sub(old_len)
    };
    if grows > 0 && !task.kernel.memory_allows(grows) {
        return Err(Errno::ENOMEM.into());
    }
    if dont_unmap {
        return Ok(task.with_mm(|mm, host| mm.mremap_dontunmap(host, old, old_len, fixed))?);
    }
    Ok(task.with_mm(|mm, host| mm.mremap(host, old, old_len, new_len, may_move, fixed))?)
}

/// `brk(addr)`.
pub fn brk(task: &mut Task) -> SysResult {
    let addr = task.arg(0);
    let cur = task.with_mm(|mm, host| mm.brk(host, 0));
    if addr > cur && !task.kernel.memory_allows(addr - cur) {
        // Linux's brk fails by returning the unchanged break.
        return Ok(cur);
    }
    Ok(task.with_mm(|mm, host| mm.brk(host, addr)))
}

/// `madvise(addr, length, advice)`.
pub fn madvise(task: &mut Task) -> SysResult {
    task.mm()
        .madvise(task.arg(0), task.arg(1), task.arg(2) as i32)?;
    Ok(0)
}

/// `msync(addr, length, flags)`: shared file mappings are written back to their files,
/// at once for `MS_ASYNC` too.
pub fn msync(task: &mut Task) -> SysResult {
    let flags = task.arg(2) as i32;
    if flags & !(libc::MS_ASYNC | libc::MS_INVALIDATE | libc::MS_SYNC) != 0
        || (flags & libc::MS_ASYNC != 0 && flags & libc::MS_SYNC != 0)
    {
        return Err(Errno::EINVAL.into());
    }
    task.mm().msync(task.arg(0), task.arg(1))?;
    Ok(0)
}

/// `mincore(addr, length, vec)`: every mapped page is reported resident.
pub fn mincore(task: &mut Task) -> SysResult {
    let (addr, len, vec) = (task.arg(0), task.arg(1), task.arg(2));
    let mm = task.mm();
    mm.check_mapped(addr, len)?;
    let pages = mm::page_up(len).ok_or(Errno::ENOMEM)? / mm::PAGE_SIZE;
    mm.write(vec, &vec![1u8; pages as usize])?;
    Ok(0)
}

/// `mlock(addr, len)`, `munlock`, `mlock2`: memory is never swapped out by the sentry, so
/// only the range is checked.
pub fn mlock(task: &mut Task) -> SysResult {
    let addr = mm::page_down(task.arg(0));
    let len = task.arg(1) + (task.arg(0) - addr);
    task.mm().check_mapped(addr, len)?;
    Ok(0)
}

/// `mlockall(flags)`, `munlockall()`.
pub fn mlockall(_task: &mut Task) -> SysResult {
    Ok(0)
}
