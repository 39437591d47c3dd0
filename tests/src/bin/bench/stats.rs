//! Summary statistics of repeated measurements: median, min and max.
//!
//! The bench reports medians because a shared 2-vCPU VM has outliers in both
//! directions; min and max show how wide the spread was.

/// The summary of one row's samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The median sample (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples were taken.
    pub count: usize,
}

impl Summary {
    /// Summarises `samples`, or returns `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let count = sorted.len();
        let median = match count {
            0 => return None,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Some(Summary {
            median,
            min: sorted[0],
            max: sorted[count - 1],
            count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Summary;

    #[test]
    fn odd_and_even_counts() {
        let odd = Summary::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!(
            (odd.median, odd.min, odd.max, odd.count),
            (3.0, 1.0, 5.0, 3)
        );
        let even = Summary::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert!(Summary::of(&[]).is_none());
    }
}
