//! CPU affinity: the host's CPUs as the guest sees them and each thread's affinity mask
//! (`sched_setaffinity`/`sched_getaffinity`), with Linux's sizes and rules.
//!
//! The mask is the guest's own record: the sentry places stub threads on CPUs itself
//! (each on its tracer's), so no guest mask ever reaches the host. What the guest reads
//! back is what Linux would report: the mask it set, limited to the CPUs that exist.

use nix::errno::Errno;
use std::sync::OnceLock;

/// The CPUs of the host, fixed when the sandbox starts.
struct HostCpus {
    /// The kernel's `cpumask_size()`: the length `sched_getaffinity` reports.
    mask_bytes: usize,
    /// `nr_cpu_ids`: a mask buffer must hold this many bits.
    nr_ids: usize,
    /// The CPUs the sentry may run on (the first guest thread's mask).
    usable: CpuMask,
}

/// A set of CPUs, `cpumask_size()` bytes long, bit N for CPU N.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuMask(Vec<u8>);

fn host() -> &'static HostCpus {
    static HOST: OnceLock<HostCpus> = OnceLock::new();
    HOST.get_or_init(|| {
        let mask = platform::host::cpu_affinity().unwrap_or_else(|e| {
            log::warn!("sched_getaffinity on the host failed ({e}); assuming one CPU");
            vec![1, 0, 0, 0, 0, 0, 0, 0]
        });
        // `nr_cpu_ids` is one past the highest possible CPU; without sysfs, one past the
        // highest usable one.
        let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .ok()
            .and_then(|s| s.trim().rsplit([',', '-']).next()?.parse::<usize>().ok());
        let usable = (0..mask.len() * 8)
            .rev()
            .find(|&i| mask[i / 8] & (1 << (i % 8)) != 0);
        HostCpus {
            mask_bytes: mask.len(),
            nr_ids: possible.or(usable).unwrap_or(0) + 1,
            usable: CpuMask(mask),
        }
    })
}

impl CpuMask {
    /// Every CPU the sentry may run on: the mask the first guest thread starts with.
    pub fn usable() -> CpuMask {
        host().usable.clone()
    }

    /// The mask a guest buffer of `len` bytes at most can hold: `EINVAL` unless it is a
    /// whole number of longs with room for every CPU id (Linux's `sched_getaffinity`).
    pub fn check_user_len(len: usize) -> Result<usize, Errno> {
        let host = host();
        if len * 8 < host.nr_ids || !len.is_multiple_of(8) {
            return Err(Errno::EINVAL);
        }
        Ok(len.min(host.mask_bytes))
    }

    /// How many bytes of a guest's `len`-byte mask count (the rest is ignored, and a
    /// shorter mask is zero-extended), as Linux's `get_user_cpu_mask`.
    pub fn user_len(len: usize) -> usize {
        len.min(host().mask_bytes)
    }

    /// The mask from the first bytes `user` of a guest buffer, limited to the CPU ids that
    /// exist; `EINVAL` if it names none of the usable CPUs (Linux's
    /// `__set_cpus_allowed_ptr`).
    pub fn from_user(user: &[u8]) -> Result<CpuMask, Errno> {
        let host = host();
        let mut bytes = vec![0u8; host.mask_bytes];
        for (cpu_byte, (out, &b)) in bytes.iter_mut().zip(user).enumerate() {
            let first = cpu_byte * 8;
            let keep = if first + 8 <= host.nr_ids {
                0xff
            } else {
                (1u16 << host.nr_ids.saturating_sub(first)).wrapping_sub(1) as u8
            };
            *out = b & keep;
        }
        let mask = CpuMask(bytes);
        if mask.and(&host.usable).is_empty() {
            return Err(Errno::EINVAL);
        }
        Ok(mask)
    }

    /// What `sched_getaffinity` reports: the CPUs of this mask the sentry may run on.
    pub fn reported(&self) -> CpuMask {
        self.and(&host().usable)
    }

    /// The mask's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn and(&self, other: &CpuMask) -> CpuMask {
        CpuMask(self.0.iter().zip(&other.0).map(|(a, b)| a & b).collect())
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}
