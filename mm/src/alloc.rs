//! The memory file's offset allocator: a free list of byte extents.
//!
//! Offsets are virtual: the memory file is sparse, so reserving offset space costs nothing
//! until pages are touched. Allocation is next-fit from a roving cursor and can leave
//! *slack* after an allocation, so that a heap or a mapping that later grows usually finds
//! the offsets right after it free and grows in place instead of being copied.

use std::collections::BTreeMap;

/// Free extents of `[0, size)`, keyed by start, always coalesced.
#[derive(Debug)]
pub struct ExtentAllocator {
    free: BTreeMap<u64, u64>,
    cursor: u64,
    size: u64,
}

impl ExtentAllocator {
    /// An allocator with all of `[0, size)` free.
    pub fn new(size: u64) -> Self {
        let mut free = BTreeMap::new();
        if size > 0 {
            free.insert(0, size);
        }
        ExtentAllocator {
            free,
            cursor: 0,
            size,
        }
    }

    /// Allocates `len` bytes, preferring a place with `slack` free bytes after them.
    pub fn alloc(&mut self, len: u64, slack: u64) -> Option<u64> {
        debug_assert!(len > 0);
        let want = len.saturating_add(slack);
        let found = self
            .find(self.cursor, want)
            .or_else(|| self.find(0, want))
            .or_else(|| self.find(0, len))?;
        self.take(found, len);
        self.cursor = found + len.saturating_add(slack).min(self.size - found);
        Some(found)
    }

    /// First offset at or after `from` where `len` free bytes start.
    fn find(&self, from: u64, len: u64) -> Option<u64> {
        // An extent that starts before `from` may still cover it.
        if let Some((&start, &elen)) = self.free.range(..from).next_back()
            && start + elen >= from.saturating_add(len)
        {
            return Some(from);
        }
        self.free
            .range(from..)
            .find(|&(_, &elen)| elen >= len)
            .map(|(&s, _)| s)
    }

    /// Removes `[off, off + len)`, which must lie inside one free extent.
    fn take(&mut self, off: u64, len: u64) {
        let (&start, &elen) = self.free.range(..=off).next_back().expect("take: not free");
        assert!(off + len <= start + elen, "take: range not free");
        self.free.remove(&start);
        if off > start {
            self.free.insert(start, off - start);
        }
        if off + len < start + elen {
            self.free.insert(off + len, start + elen - (off + len));
        }
    }

    /// Returns `[off, off + len)` to the free list.
    pub fn free(&mut self, off: u64, len: u64) {
        if len == 0 {
            return;
        }
        let (mut start, mut end) = (off, off + len);
        if let Some((&s, &l)) = self.free.range(..off).next_back() {
            debug_assert!(s + l <= off, "double free at {off:#x}");
            if s + l == off {
                self.free.remove(&s);
                start = s;
            }
        }
        if let Some(&l) = self.free.get(&end) {
            self.free.remove(&end);
            end += l;
        }
        self.free.insert(start, end - start);
    }

    /// Extends the allocation `[off, off + len)` to `new_len` bytes if the offsets right
    /// after it are free.
    pub fn try_grow(&mut self, off: u64, len: u64, new_len: u64) -> bool {
        let at = off + len;
        let extra = new_len - len;
        match self.free.get(&at) {
            Some(&l) if l >= extra => {
                self.take(at, extra);
                true
            }
            _ => false,
        }
    }

    /// Bytes not allocated.
    #[cfg(test)]
    pub fn free_bytes(&self) -> u64 {
        self.free.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = 4096;

    #[test]
    fn alloc_free_coalesces() {
        let mut a = ExtentAllocator::new(100 * P);
        let x = a.alloc(10 * P, 0).unwrap();
        let y = a.alloc(10 * P, 0).unwrap();
        let z = a.alloc(10 * P, 0).unwrap();
        assert_eq!((x, y, z), (0, 10 * P, 20 * P));
        a.free(y, 10 * P);
        a.free(x, 10 * P);
        a.free(z, 10 * P);
        assert_eq!(a.free_bytes(), 100 * P);
        assert_eq!(a.free.len(), 1);
    }

    #[test]
    fn slack_leaves_room_to_grow() {
        let mut a = ExtentAllocator::new(100 * P);
        let x = a.alloc(4 * P, 4 * P).unwrap();
        let y = a.alloc(4 * P, 0).unwrap();
        assert_eq!(y, 8 * P);
        assert!(a.try_grow(x, 4 * P, 8 * P));
        assert!(!a.try_grow(x, 8 * P, 9 * P));
        assert_eq!(a.free_bytes(), 100 * P - 12 * P);
    }

    #[test]
    fn falls_back_to_exact_fit_and_runs_out() {
        let mut a = ExtentAllocator::new(10 * P);
        assert_eq!(a.alloc(6 * P, 100 * P), Some(0));
        assert_eq!(a.alloc(4 * P, 100 * P), Some(6 * P));
        assert_eq!(a.alloc(P, 0), None);
        a.free(2 * P, 2 * P);
        assert_eq!(a.alloc(2 * P, 0), Some(2 * P));
    }

    #[test]
    fn partial_free_inside_an_allocation() {
        let mut a = ExtentAllocator::new(16 * P);
        let x = a.alloc(8 * P, 0).unwrap();
        a.free(x + 2 * P, 3 * P);
        assert_eq!(a.free_bytes(), 8 * P + 3 * P);
        assert_eq!(a.alloc(3 * P, 0), Some(8 * P));
        assert_eq!(a.alloc(3 * P, 0), Some(11 * P));
        assert_eq!(a.alloc(3 * P, 0), Some(2 * P));
    }
}
