//! The sandbox's UTS names (its own UTS namespace, as gVisor gives each sandbox): the
//! host name and NIS domain name that `uname`, `/proc/sys/kernel/{hostname,domainname}`
//! report and `sethostname`/`setdomainname` change, starting as the host's name and
//! `(none)`. The other `uname` fields are the host's.

use parking_lot::Mutex;

/// Longest name (`__NEW_UTS_LEN`).
pub const MAX_LEN: usize = 64;

/// Host and domain name.
pub struct Uts {
    hostname: Mutex<Vec<u8>>,
    domainname: Mutex<Vec<u8>>,
}

impl Default for Uts {
    fn default() -> Self {
        let host = nix::sys::utsname::uname()
            .map(|u| u.nodename().as_encoded_bytes().to_vec())
            .unwrap_or_else(|_| b"localhost".to_vec());
        Uts {
            hostname: Mutex::new(host),
            domainname: Mutex::new(b"(none)".to_vec()),
        }
    }
}

impl Uts {
    /// The host name.
    pub fn hostname(&self) -> Vec<u8> {
        self.hostname.lock().clone()
    }

    /// The NIS domain name.
    pub fn domainname(&self) -> Vec<u8> {
        self.domainname.lock().clone()
    }

    /// Sets the host name (at most [`MAX_LEN`] bytes; the caller checks).
    pub fn set_hostname(&self, name: &[u8]) {
        *self.hostname.lock() = name.to_vec();
    }

    /// Sets the NIS domain name (at most [`MAX_LEN`] bytes; the caller checks).
    pub fn set_domainname(&self, name: &[u8]) {
        *self.domainname.lock() = name.to_vec();
    }
}
