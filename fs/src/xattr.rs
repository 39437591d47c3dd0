//! Extended attributes of in-memory objects (tmpfs, hence the overlay's upper layer):
//! a name-to-value map with `setxattr`'s create and replace rules.
//!
//! The `user.`, `trusted.` and `security.` namespaces are stored; `system.` names are
//! POSIX ACLs, which these filesystems do not implement (`EOPNOTSUPP`). Which caller may
//! touch which namespace is the syscall layer's business.

use crate::Result;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// Namespaces whose attributes an in-memory object stores.
const STORED: [&[u8]; 3] = [b"user.", b"trusted.", b"security."];

/// The extended attributes of one object.
#[derive(Default)]
pub struct Xattrs(Mutex<BTreeMap<Vec<u8>, Vec<u8>>>);

impl Xattrs {
    fn check(name: &[u8]) -> Result<()> {
        if STORED.iter().any(|p| name.starts_with(p)) {
            Ok(())
        } else {
            Err(Errno::EOPNOTSUPP)
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &[u8]) -> Result<Vec<u8>> {
        Self::check(name)?;
        self.0.lock().get(name).cloned().ok_or(Errno::ENODATA)
    }

    /// Sets `name` to `value` under `XATTR_CREATE`/`XATTR_REPLACE` `flags`, once `charge`
    /// has accepted the bytes the new attribute takes; returns the bytes the value it
    /// replaced took.
    pub fn set(
        &self,
        name: &[u8],
        value: &[u8],
        flags: i32,
        charge: impl FnOnce(u64) -> Result<()>,
    ) -> Result<u64> {
        Self::check(name)?;
        let mut map = self.0.lock();
        let old = map.get(name).map(|v| (name.len() + v.len()) as u64);
        if flags & libc::XATTR_CREATE != 0 && old.is_some() {
            return Err(Errno::EEXIST);
        }
        if flags & libc::XATTR_REPLACE != 0 && old.is_none() {
            return Err(Errno::ENODATA);
        }
        charge((name.len() + value.len()) as u64)?;
        map.insert(name.to_vec(), value.to_vec());
        Ok(old.unwrap_or(0))
    }

    /// Every name, in order.
    pub fn list(&self) -> Vec<Vec<u8>> {
        self.0.lock().keys().cloned().collect()
    }

    /// Removes `name`; returns the bytes it took.
    pub fn remove(&self, name: &[u8]) -> Result<u64> {
        Self::check(name)?;
        let value = self.0.lock().remove(name).ok_or(Errno::ENODATA)?;
        Ok((name.len() + value.len()) as u64)
    }

    /// Bytes the attributes take (for the filesystem's usage).
    pub fn bytes(&self) -> u64 {
        self.0
            .lock()
            .iter()
            .map(|(n, v)| (n.len() + v.len()) as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_replace_and_remove() {
        let x = Xattrs::default();
        let ok = |_| Ok(());
        assert_eq!(x.get(b"user.a"), Err(Errno::ENODATA));
        assert_eq!(
            x.set(b"user.a", b"1", libc::XATTR_REPLACE, ok),
            Err(Errno::ENODATA)
        );
        assert_eq!(x.set(b"user.a", b"1", libc::XATTR_CREATE, ok), Ok(0));
        assert_eq!(
            x.set(b"user.a", b"2", libc::XATTR_CREATE, ok),
            Err(Errno::EEXIST)
        );
        assert_eq!(x.set(b"user.a", b"22", libc::XATTR_REPLACE, ok), Ok(7));
        assert_eq!(
            x.set(b"user.c", b"3", 0, |_| Err(Errno::ENOSPC)),
            Err(Errno::ENOSPC)
        );
        x.set(b"trusted.b", b"", 0, ok).unwrap();
        assert_eq!(x.get(b"user.a").unwrap(), b"22");
        assert_eq!(x.list(), vec![b"trusted.b".to_vec(), b"user.a".to_vec()]);
        assert_eq!(x.bytes(), 9 + 8);
        assert_eq!(x.remove(b"user.a"), Ok(8));
        assert_eq!(x.remove(b"user.a"), Err(Errno::ENODATA));
        assert_eq!(
            x.set(b"system.posix_acl_access", b"", 0, ok),
            Err(Errno::EOPNOTSUPP)
        );
    }
}
