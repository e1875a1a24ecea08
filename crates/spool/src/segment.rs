//! The in-memory index of one segment file.

use std::path::{Path, PathBuf};

use crate::format::SegmentScan;

/// Suffix of segment files; the stem is the first id it was created for,
/// zero-padded to 20 digits so names sort like ids.
pub(crate) const SEGMENT_SUFFIX: &str = ".seg";

pub(crate) fn segment_name(name_id: u64) -> String {
    format!("{name_id:020}{SEGMENT_SUFFIX}")
}

/// `Some(id)` for a segment file name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(SEGMENT_SUFFIX)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub name_id: u64,
    pub path: PathBuf,
    pub first_id: Option<u64>,
    pub last_id: Option<u64>,
    pub count: u64,
    /// Missing id ranges (records lost to damage).
    pub gaps: Vec<(u64, u64)>,
    /// Byte ranges known to hold no valid record (already counted).
    pub bad_regions: Vec<(u64, u64)>,
    /// File size.
    pub bytes: u64,
}

impl Segment {
    pub fn new(dir: &Path, name_id: u64, bytes: u64) -> Segment {
        Segment {
            name_id,
            path: dir.join(segment_name(name_id)),
            first_id: None,
            last_id: None,
            count: 0,
            gaps: Vec::new(),
            bad_regions: Vec::new(),
            bytes,
        }
    }

    pub fn from_scan(dir: &Path, name_id: u64, scan: SegmentScan) -> Segment {
        Segment {
            first_id: scan.first_id,
            last_id: scan.last_id,
            count: scan.count,
            gaps: scan.gaps,
            bad_regions: scan.bad_regions,
            ..Segment::new(dir, name_id, scan.valid_end)
        }
    }

    /// Records a freshly written run of consecutive ids `first..=last`.
    pub fn appended(&mut self, first: u64, last: u64, bytes: u64) {
        if let Some(prev) = self.last_id {
            if first > prev + 1 {
                self.gaps.push((prev + 1, first - 1));
            }
        }
        self.first_id.get_or_insert(first);
        self.last_id = Some(last);
        self.count += last - first + 1;
        self.bytes += bytes;
    }

    /// Events in this segment with an id above `acked`.
    pub fn unacked(&self, acked: u64) -> u64 {
        let (Some(first), Some(last)) = (self.first_id, self.last_id) else {
            return 0;
        };
        if last <= acked {
            return 0;
        }
        let lo = first.max(acked + 1);
        let missing: u64 = self
            .gaps
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (a.max(lo), b.min(last));
                if a <= b {
                    b - a + 1
                } else {
                    0
                }
            })
            .sum();
        (last - lo + 1).saturating_sub(missing).min(self.count)
    }

    /// True when every event in it is acknowledged (or it holds none).
    pub fn fully_acked(&self, acked: u64) -> bool {
        self.last_id.is_none_or(|l| l <= acked)
    }

    /// The end of the known bad region starting at `offset`, if any.
    pub fn known_bad_end(&self, offset: u64) -> Option<u64> {
        self.bad_regions
            .iter()
            .find(|&&(a, b)| a <= offset && offset < b)
            .map(|&(_, b)| b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_like_ids() {
        assert_eq!(segment_name(42), "00000000000000000042.seg");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("42.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.seg"), None);
        assert!(segment_name(9) < segment_name(10));
    }

    #[test]
    fn unacked_counts_around_gaps() {
        let mut s = Segment::new(Path::new("/x"), 10, 16);
        s.appended(10, 14, 100);
        s.appended(17, 20, 100); // 15 and 16 missing
        assert_eq!(s.count, 9);
        assert_eq!(s.gaps, vec![(15, 16)]);
        assert_eq!(s.unacked(0), 9);
        assert_eq!(s.unacked(12), 6); // 13, 14, 17..=20
        assert_eq!(s.unacked(15), 4);
        assert_eq!(s.unacked(20), 0);
        assert!(s.fully_acked(20) && !s.fully_acked(19));
    }
}
