//! A process (thread group): what its threads share.

use crate::abi::{KSigaction, Rlimit};
use fs::Dentry;
use mm::AddressSpace;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// Number of resource limits (`RLIM_NLIMITS`).
pub const RLIM_NLIMITS: usize = 16;

/// User and group identities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds {
    /// Real, effective and saved user ids.
    pub uid: u32,
    /// Effective user id.
    pub euid: u32,
    /// Saved user id.
    pub suid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective group id.
    pub egid: u32,
    /// Saved group id.
    pub sgid: u32,
}

impl Creds {
    /// The sentry's own identities: the guest runs as the user who started it.
    pub fn of_host() -> Creds {
        let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        let (euid, egid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        Creds { uid, euid, suid: euid, gid, egid, sgid: egid }
    }

    /// Whether permission bits `mode` grant `want` (a mask of 4/2/1 = r/w/x) to these
    /// credentials on an object owned by `owner:group`, as `access(2)` checks with the
    /// real ids (`real`) or the effective ones.
    pub fn permits(&self, mode: u32, owner: u32, group: u32, want: u32, real: bool, is_dir: bool) -> bool {
        let (uid, gid) = if real { (self.uid, self.gid) } else { (self.euid, self.egid) };
        if uid == 0 {
            // Root may do anything but execute a file with no execute bit at all.
            return want & 1 == 0 || is_dir || mode & 0o111 != 0;
        }
        let bits = if uid == owner {
            (mode >> 6) & 7
        } else if gid == group {
            (mode >> 3) & 7
        } else {
            mode & 7
        };
        bits & want == want
    }
}

/// The file-system context: root, working directory and umask (shared with CLONE_FS).
pub struct FsContext {
    /// Root directory (`chroot`).
    pub root: Arc<Dentry>,
    /// Working directory.
    pub cwd: Arc<Dentry>,
    /// File creation mask.
    pub umask: u32,
}

/// A thread group.
pub struct Process {
    /// Process id (the thread group leader's tid).
    pub pid: i32,
    /// The current image's address space.
    pub mm: Mutex<Arc<AddressSpace>>,
    /// Identities.
    pub creds: Mutex<Creds>,
    /// Resource limits.
    pub rlimits: Mutex<[Rlimit; RLIM_NLIMITS]>,
    /// Signal dispositions, by signal number - 1.
    pub sigactions: Mutex<[KSigaction; 64]>,
    /// Guest path of the running executable.
    pub exe: Mutex<String>,
    /// Command name (`comm`, at most 15 bytes).
    pub comm: Mutex<Vec<u8>>,
    /// Host pid of the stub process running the image, for the VMA dump.
    pub stub_pid: AtomicI32,
}

impl Process {
    /// A process with `mm` and the host's limits and identities.
    pub fn new(pid: i32, mm: Arc<AddressSpace>) -> Arc<Process> {
        Arc::new(Process {
            pid,
            mm: Mutex::new(mm),
            creds: Mutex::new(Creds::of_host()),
            rlimits: Mutex::new(host_rlimits()),
            sigactions: Mutex::new([KSigaction::default(); 64]),
            exe: Mutex::new(String::new()),
            comm: Mutex::new(Vec::new()),
            stub_pid: AtomicI32::new(0),
        })
    }

    /// The current address space.
    pub fn mm(&self) -> Arc<AddressSpace> {
        self.mm.lock().clone()
    }

    /// The soft limit of resource `which`.
    pub fn rlimit(&self, which: usize) -> u64 {
        self.rlimits.lock()[which].cur
    }

    /// Host pid of the stub running this process.
    pub fn stub_pid(&self) -> i32 {
        self.stub_pid.load(Ordering::Relaxed)
    }
}

/// The sentry's own limits, which the first guest process inherits.
fn host_rlimits() -> [Rlimit; RLIM_NLIMITS] {
    let mut out = [Rlimit::default(); RLIM_NLIMITS];
    for (i, r) in out.iter_mut().enumerate() {
        let mut lim = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
        if let Ok(res) = resource_from_index(i) {
            if let Ok((cur, max)) = nix::sys::resource::getrlimit(res) {
                lim = libc::rlimit { rlim_cur: cur, rlim_max: max };
            }
        }
        *r = Rlimit { cur: lim.rlim_cur, max: lim.rlim_max };
    }
    out
}

fn resource_from_index(i: usize) -> Result<nix::sys::resource::Resource, ()> {
    use nix::sys::resource::Resource::*;
    Ok(match i {
        0 => RLIMIT_CPU,
        1 => RLIMIT_FSIZE,
        2 => RLIMIT_DATA,
        3 => RLIMIT_STACK,
        4 => RLIMIT_CORE,
        5 => RLIMIT_RSS,
        6 => RLIMIT_NPROC,
        7 => RLIMIT_NOFILE,
        8 => RLIMIT_MEMLOCK,
        9 => RLIMIT_AS,
        10 => RLIMIT_LOCKS,
        11 => RLIMIT_SIGPENDING,
        12 => RLIMIT_MSGQUEUE,
        13 => RLIMIT_NICE,
        14 => RLIMIT_RTPRIO,
        15 => RLIMIT_RTTIME,
        _ => return Err(()),
    })
}
