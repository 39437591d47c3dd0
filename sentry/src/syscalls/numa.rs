//! NUMA syscalls on a machine with one memory node: `set_mempolicy` and `get_mempolicy`
//! (the thread's [`MemPolicy`]), `mbind` and `set_mempolicy_home_node` (checked against
//! the address space, not recorded per mapping), `migrate_pages` and `move_pages` (every
//! page already is on node 0).
//!
//! Node masks cross the boundary as Linux's `get_nodes` and `copy_nodes_to_user` move
//! them: `maxnode` bits, of which only those below `MAX_NUMNODES` may be set.

use crate::errno::{SysErr, SysResult};
use crate::kernel::mempolicy::{self, ALLOWED, MAX_NUMNODES, MemPolicy, NR_NODE_IDS, NodeMask};
use crate::kernel::task::Task;
use mm::{AddressSpace, PAGE_SIZE};
use nix::errno::Errno;
use std::sync::Arc;

/// `get_mempolicy` flags.
const MPOL_F_NODE: u64 = 1;
const MPOL_F_ADDR: u64 = 2;
const MPOL_F_MEMS_ALLOWED: u64 = 4;
/// `mbind` and `move_pages` flags.
const MPOL_MF_STRICT: u32 = 1;
const MPOL_MF_MOVE: u32 = 2;
const MPOL_MF_MOVE_ALL: u32 = 4;
/// Bits a node mask argument may span (a page of them).
const MAXNODE_LIMIT: u64 = PAGE_SIZE * 8;

/// Reads a node mask of `maxnode - 1` bits (Linux's `get_nodes`): none for a null mask
/// or `maxnode` of 0 or 1; `EINVAL` for more than a page of bits or a node beyond
/// `MAX_NUMNODES`.
fn read_nodes(task: &Task, addr: u64, maxnode: u64) -> Result<NodeMask, SysErr> {
    let mut nodes = [0u64; MAX_NUMNODES / 64];
    let bits = maxnode.saturating_sub(1);
    if bits == 0 || addr == 0 {
        return Ok(nodes);
    }
    if bits > MAXNODE_LIMIT {
        return Err(Errno::EINVAL.into());
    }
    let mut words = vec![0u64; bits.div_ceil(64) as usize];
    task.mm()
        .read(addr, zerocopy::IntoBytes::as_mut_bytes(&mut words[..]))?;
    if !bits.is_multiple_of(64) {
        *words.last_mut().expect("at least one word") &= (1 << (bits % 64)) - 1;
    }
    for (i, w) in words.into_iter().enumerate() {
        match nodes.get_mut(i) {
            Some(slot) => *slot = w,
            None if w != 0 => return Err(Errno::EINVAL.into()),
            None => {}
        }
    }
    Ok(nodes)
}

/// Writes `nodes` to a mask of `maxnode - 1` bits (Linux's `copy_nodes_to_user`): the
/// words of nodes that exist, the rest of the mask zeroed (`EINVAL` beyond a page).
fn write_nodes(task: &Task, addr: u64, maxnode: u64, nodes: &NodeMask) -> Result<(), SysErr> {
    let mut bytes = (maxnode - 1).next_multiple_of(64) / 8;
    let exist = NR_NODE_IDS.div_ceil(64) as u64 * 8;
    let mm = task.mm();
    if bytes > exist {
        if bytes > PAGE_SIZE {
            return Err(Errno::EINVAL.into());
        }
        mm.write(addr + exist, &vec![0u8; (bytes - exist) as usize])?;
        bytes = exist;
    }
    let all = zerocopy::IntoBytes::as_bytes(&nodes[..]);
    mm.write(addr, &all[..bytes as usize])?;
    Ok(())
}

/// A mask argument a caller will write: with a mask, `maxnode` must cover every node
/// that exists.
fn check_out_mask(addr: u64, maxnode: u64) -> Result<(), SysErr> {
    if addr != 0 && maxnode < NR_NODE_IDS as u64 {
        return Err(Errno::EINVAL.into());
    }
    Ok(())
}

/// `set_mempolicy(mode, nodemask, maxnode)`.
pub fn set_mempolicy(task: &mut Task) -> SysResult {
    let (mode, flags) = mempolicy::split_mode(task.arg(0) as i32)?;
    let nodes = read_nodes(task, task.arg(1), task.arg(2))?;
    *task.handle.mempolicy.lock() = MemPolicy::new(mode, flags, &nodes)?;
    Ok(0)
}

/// `get_mempolicy(mode, nodemask, maxnode, addr, flags)`: the thread's policy; with
/// `MPOL_F_ADDR` that of the mapping at `addr` (always the default one: `mbind` policies
/// are not recorded); with `MPOL_F_NODE` a node instead of a mode (node 0);
/// with `MPOL_F_MEMS_ALLOWED` the nodes the thread may use.
pub fn get_mempolicy(task: &mut Task) -> SysResult {
    let (mode_addr, mask_addr, maxnode, addr, flags) = (
        task.arg(0),
        task.arg(1),
        task.arg(2),
        task.arg(3),
        task.arg(4),
    );
    check_out_mask(mask_addr, maxnode)?;
    if flags & !(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (mode, nodes) = if flags & MPOL_F_MEMS_ALLOWED != 0 {
        if flags & (MPOL_F_NODE | MPOL_F_ADDR) != 0 {
            return Err(Errno::EINVAL.into());
        }
        (0, ALLOWED)
    } else {
        let policy = if flags & MPOL_F_ADDR != 0 {
            task.mm().prot_at(addr).ok_or(Errno::EFAULT)?;
            None
        } else if addr != 0 {
            return Err(Errno::EINVAL.into());
        } else {
            *task.handle.mempolicy.lock()
        };
        let mode = if flags & MPOL_F_NODE == 0 {
            policy.map_or(mempolicy::mode::DEFAULT, |p| p.mode_word())
        } else if flags & MPOL_F_ADDR != 0 || policy.is_some_and(|p| p.interleaves()) {
            // The node of the page at `addr`, or the next one interleaving uses.
            0
        } else {
            return Err(Errno::EINVAL.into());
        };
        let nodes = policy.map_or([0; MAX_NUMNODES / 64], |p| p.reported_nodes());
        (mode, nodes)
    };
    if mode_addr != 0 {
        task.write_obj(mode_addr, &mode)?;
    }
    if mask_addr != 0 {
        write_nodes(task, mask_addr, maxnode, &nodes)?;
    }
    Ok(0)
}

/// The page-aligned range `[start, start + len)` of an `mbind`-like call: `EINVAL` for
/// an unaligned start or a range that wraps; `None` when it is empty (a length that
/// rounds up past the top of the address space is 0, as Linux's `PAGE_ALIGN` makes it).
fn page_range(start: u64, len: u64) -> Result<Option<(u64, u64)>, SysErr> {
    if !start.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL.into());
    }
    let len = len.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    let end = start.wrapping_add(len);
    if end < start {
        return Err(Errno::EINVAL.into());
    }
    Ok((end > start).then_some((start, end)))
}

/// Checks that mappings cover `[start, end)` (`whole`) or at least meet it, as
/// `mbind`'s page walk requires: `EFAULT` if not.
fn check_mapped(mm: &AddressSpace, start: u64, end: u64, whole: bool) -> Result<(), SysErr> {
    let mut covered = start;
    let mut met = false;
    for v in mm.vmas() {
        if v.end <= start || v.start >= end {
            continue;
        }
        met = true;
        if v.start > covered {
            break;
        }
        covered = covered.max(v.end);
    }
    if (whole && covered < end) || !met {
        return Err(Errno::EFAULT.into());
    }
    Ok(())
}

/// `mbind(addr, len, mode, nodemask, maxnode, flags)`: validated like Linux's (mode,
/// nodes, flags, alignment, and mappings covering the range, any hole tolerated only for
/// the default policy); the policy itself is not recorded per mapping.
pub fn mbind(task: &mut Task) -> SysResult {
    let (start, len) = (task.arg(0), task.arg(1));
    let (mode, mode_flags) = mempolicy::split_mode(task.arg(2) as i32)?;
    let nodes = read_nodes(task, task.arg(3), task.arg(4))?;
    let flags = task.arg(5) as u32;
    if flags & !(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(Errno::EINVAL.into());
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && task.process.creds.lock().euid != 0 {
        return Err(Errno::EPERM.into());
    }
    let Some((start, end)) = page_range(start, len)? else {
        return Ok(0);
    };
    let policy = MemPolicy::new(mode, mode_flags, &nodes)?;
    check_mapped(&task.mm(), start, end, policy.is_some())?;
    Ok(0)
}

/// `set_mempolicy_home_node(addr, len, home_node, flags)`: only node 0 exists, and no
/// mapping carries a policy whose home node could be set (`ENOENT`).
pub fn set_mempolicy_home_node(task: &mut Task) -> SysResult {
    let (start, len, home, flags) = (task.arg(0), task.arg(1), task.arg(2), task.arg(3));
    if !start.is_multiple_of(PAGE_SIZE) || flags != 0 || home >= NR_NODE_IDS as u64 {
        return Err(Errno::EINVAL.into());
    }
    match page_range(start, len)? {
        Some(_) => Err(Errno::ENOENT.into()),
        None => Ok(0),
    }
}

/// The address space of process `pid` (0: the caller's) for `migrate_pages` and
/// `move_pages`: `ESRCH` if there is none, `EPERM` if the caller may not inspect it.
fn address_space_of(task: &Task, pid: i32) -> Result<Arc<AddressSpace>, SysErr> {
    if pid == 0 {
        return Ok(task.mm());
    }
    let (process, _) = task.kernel.tree.lock().thread(pid).ok_or(Errno::ESRCH)?;
    if !process.accessible_by(&task.process) {
        return Err(Errno::EPERM.into());
    }
    Ok(process.mm())
}

/// `migrate_pages(pid, maxnode, old_nodes, new_nodes)`: every page is on node 0 already;
/// 0 pages could not be moved. Target nodes that do not exist are `EPERM` without
/// privilege, `EINVAL` if none is left.
pub fn migrate_pages(task: &mut Task) -> SysResult {
    let (pid, maxnode) = (task.arg(0) as i32, task.arg(1));
    read_nodes(task, task.arg(2), maxnode)?;
    let new = read_nodes(task, task.arg(3), maxnode)?;
    address_space_of(task, pid)?;
    let outside = new.iter().zip(ALLOWED).any(|(n, a)| n & !a != 0);
    if outside && task.process.creds.lock().euid != 0 {
        return Err(Errno::EPERM.into());
    }
    if new.iter().zip(ALLOWED).all(|(n, a)| n & a == 0) {
        return Err(Errno::EINVAL.into());
    }
    Ok(0)
}

/// `move_pages(pid, count, pages, nodes, status, flags)`: each page's node (0) or
/// `-EFAULT` for an unmapped address goes to `status`; moving to a node that does not
/// exist is `ENODEV`.
pub fn move_pages(task: &mut Task) -> SysResult {
    let (pid, count, pages, nodes, status, flags) = (
        task.arg(0) as i32,
        task.arg(1),
        task.arg(2),
        task.arg(3),
        task.arg(4),
        task.arg(5) as u32,
    );
    if flags & !(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(Errno::EINVAL.into());
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && task.process.creds.lock().euid != 0 {
        return Err(Errno::EPERM.into());
    }
    let target = address_space_of(task, pid)?;
    for i in 0..count {
        let page: u64 = task.read_obj(pages + i * 8)?;
        if nodes != 0 {
            let node: i32 = task.read_obj(nodes + i * 4)?;
            if !(0..NR_NODE_IDS as i32).contains(&node) {
                return Err(Errno::ENODEV.into());
            }
        }
        let result = match target.prot_at(page) {
            Some(_) => 0,
            None => -(Errno::EFAULT as i32),
        };
        task.write_obj(status + i * 4, &result)?;
    }
    Ok(0)
}
