//! A set of byte offsets kept as disjoint, coalesced half-open ranges (which pages of a
//! shared file object hold the file's contents).

use std::collections::BTreeMap;

/// Disjoint `[start, end)` ranges keyed by start; touching ranges are merged.
#[derive(Debug, Default)]
pub(crate) struct RangeSet {
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Adds `[start, end)`.
    pub(crate) fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut lo, mut hi) = (start, end);
        // Absorb every range that overlaps or touches [lo, hi).
        let first = self
            .ranges
            .range(..=lo)
            .next_back()
            .filter(|&(_, &e)| e >= lo)
            .map(|(&s, _)| s)
            .unwrap_or(lo);
        let absorbed: Vec<(u64, u64)> = self
            .ranges
            .range(first..=hi)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in absorbed {
            self.ranges.remove(&s);
            lo = lo.min(s);
            hi = hi.max(e);
        }
        self.ranges.insert(lo, hi);
    }

    /// The parts of `[start, end)` in the set, in order.
    pub(crate) fn covered(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let first = self
            .ranges
            .range(..=start)
            .next_back()
            .map(|(&s, _)| s)
            .unwrap_or(start);
        self.ranges
            .range(first..end)
            .map(|(&s, &e)| (s.max(start), e.min(end)))
            .filter(|(s, e)| s < e)
            .collect()
    }

    /// The parts of `[start, end)` not in the set, in order.
    pub(crate) fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut pos = start;
        for (s, e) in self.covered(start, end) {
            if s > pos {
                out.push((pos, s));
            }
            pos = e;
        }
        if pos < end {
            out.push((pos, end));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(set: &RangeSet) -> Vec<(u64, u64)> {
        set.covered(0, u64::MAX)
    }

    #[test]
    fn inserts_merge_overlapping_and_touching_ranges() {
        let mut s = RangeSet::default();
        s.insert(10, 20);
        s.insert(30, 40);
        assert_eq!(all(&s), [(10, 20), (30, 40)]);
        s.insert(20, 25);
        assert_eq!(all(&s), [(10, 25), (30, 40)]);
        s.insert(5, 35);
        assert_eq!(all(&s), [(5, 40)]);
        s.insert(50, 50);
        assert_eq!(all(&s), [(5, 40)], "empty ranges are ignored");
        s.insert(0, 100);
        assert_eq!(all(&s), [(0, 100)]);
    }

    #[test]
    fn covered_and_gaps_partition_a_query() {
        let mut s = RangeSet::default();
        s.insert(10, 20);
        s.insert(30, 40);
        assert_eq!(s.covered(15, 35), [(15, 20), (30, 35)]);
        assert_eq!(s.gaps(15, 35), [(20, 30)]);
        assert_eq!(s.gaps(0, 50), [(0, 10), (20, 30), (40, 50)]);
        assert_eq!(s.covered(20, 30), []);
        assert_eq!(s.gaps(12, 18), []);
        assert_eq!(s.covered(12, 18), [(12, 18)]);
    }
}
