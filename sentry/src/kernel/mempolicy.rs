//! NUMA memory policies on a machine with one node, node 0: what `set_mempolicy` records
//! per thread and `get_mempolicy` reports, built by Linux's rules (`mpol_new`,
//! `mpol_set_nodemask`).
//!
//! Every allocation lands on node 0 whatever the policy says, so a policy is only
//! remembered: its mode, its mode flags and the nodes it names, with the nodes that do not
//! exist (every one but 0) dropped as Linux drops nodes outside the allowed set.

use nix::errno::Errno;

/// Nodes a node mask can name (`MAX_NUMNODES`, as `CONFIG_NODES_SHIFT=10` gives).
pub const MAX_NUMNODES: usize = 1024;
/// Nodes that exist (`nr_node_ids`).
pub const NR_NODE_IDS: usize = 1;

/// A set of nodes, bit `n` for node `n`.
pub type NodeMask = [u64; MAX_NUMNODES / 64];

/// The nodes that exist and that a thread may use: node 0.
pub const ALLOWED: NodeMask = {
    let mut m = [0u64; MAX_NUMNODES / 64];
    m[0] = 1;
    m
};

/// Policy modes.
pub mod mode {
    /// `MPOL_DEFAULT`.
    pub const DEFAULT: i32 = 0;
    /// `MPOL_PREFERRED`.
    pub const PREFERRED: i32 = 1;
    /// `MPOL_BIND`.
    pub const BIND: i32 = 2;
    /// `MPOL_INTERLEAVE`.
    pub const INTERLEAVE: i32 = 3;
    /// `MPOL_LOCAL`.
    pub const LOCAL: i32 = 4;
    /// `MPOL_PREFERRED_MANY`.
    pub const PREFERRED_MANY: i32 = 5;
    /// `MPOL_WEIGHTED_INTERLEAVE`.
    pub const WEIGHTED_INTERLEAVE: i32 = 6;
    /// One past the last mode (`MPOL_MAX`).
    pub const MAX: i32 = 7;
}

/// `MPOL_F_STATIC_NODES`.
pub const F_STATIC_NODES: i32 = 1 << 15;
/// `MPOL_F_RELATIVE_NODES`.
pub const F_RELATIVE_NODES: i32 = 1 << 14;
/// `MPOL_F_NUMA_BALANCING`.
pub const F_NUMA_BALANCING: i32 = 1 << 13;
/// The mode flags a caller may pass with a mode (`MPOL_MODE_FLAGS`).
pub const MODE_FLAGS: i32 = F_STATIC_NODES | F_RELATIVE_NODES | F_NUMA_BALANCING;

fn is_empty(m: &NodeMask) -> bool {
    m.iter().all(|&w| w == 0)
}

fn and(a: &NodeMask, b: &NodeMask) -> NodeMask {
    std::array::from_fn(|i| a[i] & b[i])
}

/// Splits `mode | flags` and checks them as Linux's `sanitize_mpol_flags` does.
pub fn split_mode(raw: i32) -> Result<(i32, i32), Errno> {
    let (mode, flags) = (raw & !MODE_FLAGS, raw & MODE_FLAGS);
    if !(0..mode::MAX).contains(&mode) {
        return Err(Errno::EINVAL);
    }
    if flags & F_STATIC_NODES != 0 && flags & F_RELATIVE_NODES != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & F_NUMA_BALANCING != 0 && mode != mode::BIND && mode != mode::PREFERRED_MANY {
        return Err(Errno::EINVAL);
    }
    Ok((mode, flags))
}

/// A policy other than the default one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemPolicy {
    /// The mode (`MPOL_PREFERRED` with no node becomes `MPOL_LOCAL`).
    pub mode: i32,
    /// Its mode flags.
    pub flags: i32,
    /// The nodes it uses.
    pub nodes: NodeMask,
    /// The nodes the caller named, which static and relative policies report.
    pub user_nodes: NodeMask,
}

impl MemPolicy {
    /// Builds the policy for `mode` with `flags` over `nodes`; `None` is the default
    /// policy. `EINVAL` when the nodes do not suit the mode: the default and local
    /// policies take none, the others at least one that exists (a relative policy maps
    /// any node onto node 0).
    pub fn new(mode: i32, flags: i32, nodes: &NodeMask) -> Result<Option<MemPolicy>, Errno> {
        let scoped = flags & (F_STATIC_NODES | F_RELATIVE_NODES) != 0;
        let mode = match mode {
            mode::DEFAULT if is_empty(nodes) => return Ok(None),
            mode::DEFAULT => return Err(Errno::EINVAL),
            mode::PREFERRED if is_empty(nodes) && scoped => return Err(Errno::EINVAL),
            mode::PREFERRED if is_empty(nodes) => mode::LOCAL,
            mode::LOCAL if !is_empty(nodes) || scoped => return Err(Errno::EINVAL),
            mode::LOCAL => mode::LOCAL,
            _ if is_empty(nodes) => return Err(Errno::EINVAL),
            m => m,
        };
        let mut policy = MemPolicy {
            mode,
            flags,
            nodes: [0; MAX_NUMNODES / 64],
            user_nodes: *nodes,
        };
        if mode == mode::LOCAL {
            return Ok(Some(policy));
        }
        let usable = if flags & F_RELATIVE_NODES != 0 {
            // Folded onto the one allowed node.
            ALLOWED
        } else {
            and(nodes, &ALLOWED)
        };
        if is_empty(&usable) {
            return Err(Errno::EINVAL);
        }
        policy.nodes = if mode == mode::PREFERRED {
            ALLOWED
        } else {
            usable
        };
        Ok(Some(policy))
    }

    /// The mode word `get_mempolicy` reports: the mode with its flags.
    pub fn mode_word(&self) -> i32 {
        self.mode | self.flags
    }

    /// The nodes `get_mempolicy` reports: those named for static and relative policies,
    /// else those in use (none for the local policy).
    pub fn reported_nodes(&self) -> NodeMask {
        if self.flags & (F_STATIC_NODES | F_RELATIVE_NODES) != 0 {
            self.user_nodes
        } else {
            self.nodes
        }
    }

    /// Whether the policy interleaves, so that `MPOL_F_NODE` names the next node.
    pub fn interleaves(&self) -> bool {
        self.mode == mode::INTERLEAVE || self.mode == mode::WEIGHTED_INTERLEAVE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(list: &[usize]) -> NodeMask {
        let mut m = [0u64; MAX_NUMNODES / 64];
        for &n in list {
            m[n / 64] |= 1 << (n % 64);
        }
        m
    }

    #[test]
    fn modes_and_nodes() {
        assert_eq!(MemPolicy::new(mode::DEFAULT, 0, &nodes(&[])), Ok(None));
        assert_eq!(
            MemPolicy::new(mode::DEFAULT, 0, &nodes(&[0])),
            Err(Errno::EINVAL)
        );
        let bind = MemPolicy::new(mode::BIND, 0, &nodes(&[0, 64]))
            .unwrap()
            .unwrap();
        assert_eq!(bind.reported_nodes(), nodes(&[0]));
        assert_eq!(
            MemPolicy::new(mode::BIND, 0, &nodes(&[1])),
            Err(Errno::EINVAL)
        );
        let local = MemPolicy::new(mode::PREFERRED, 0, &nodes(&[]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (local.mode, local.reported_nodes()),
            (mode::LOCAL, nodes(&[]))
        );
        let stat = MemPolicy::new(mode::BIND, F_STATIC_NODES, &nodes(&[0, 5]))
            .unwrap()
            .unwrap();
        assert_eq!(stat.reported_nodes(), nodes(&[0, 5]));
        assert_eq!(stat.mode_word(), mode::BIND | F_STATIC_NODES);
        let rel = MemPolicy::new(mode::BIND, F_RELATIVE_NODES, &nodes(&[1, 2]))
            .unwrap()
            .unwrap();
        assert_eq!(rel.nodes, nodes(&[0]));
        assert_eq!(
            MemPolicy::new(mode::LOCAL, F_STATIC_NODES, &nodes(&[])),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn mode_flags() {
        assert_eq!(
            split_mode(mode::BIND | F_NUMA_BALANCING),
            Ok((2, F_NUMA_BALANCING))
        );
        assert_eq!(
            split_mode(mode::INTERLEAVE | F_NUMA_BALANCING),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            split_mode(mode::BIND | F_STATIC_NODES | F_RELATIVE_NODES),
            Err(Errno::EINVAL)
        );
        assert_eq!(split_mode(7), Err(Errno::EINVAL));
        assert_eq!(split_mode(-1), Err(Errno::EINVAL));
        assert_eq!(split_mode(2 | 1 << 12), Err(Errno::EINVAL));
    }
}
