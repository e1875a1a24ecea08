//! The on-disk format: a segment header, then length-prefixed, checksummed
//! records. Pure functions over byte slices (no I/O), so recovery can be
//! fuzzed.
//!
//! ```text
//! segment header (16 bytes): "WARDSPOL" | version u32 LE | crc32c(first 12 bytes) u32 LE
//! record (20-byte header + payload):
//!   magic "WREC" | len u32 LE | id u64 LE | crc32c(len bytes | id bytes | payload) u32 LE | payload
//! ```
//!
//! The payload is the event as JSON. JSON text never holds a NUL byte
//! (control characters are escaped), and a record length is at most
//! [`MAX_RECORD_BYTES`] (below `0x0101_0101`, so its little-endian bytes
//! include a zero): a record header therefore cannot be forged inside a
//! payload, which keeps re-synchronisation after a damaged record sound.

use crate::crc;

/// Segment file magic.
pub const SEGMENT_MAGIC: [u8; 8] = *b"WARDSPOL";
/// Version of the segment format written by this crate.
pub const FORMAT_VERSION: u32 = 1;
/// Length of the segment header.
pub const SEGMENT_HEADER_LEN: usize = 16;
/// Record magic, `WREC`.
pub const RECORD_MAGIC: [u8; 4] = *b"WREC";
/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 20;
/// Hard upper bound of one record's payload, for reading (writers use the
/// smaller configured limit).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Largest valid event id (ids above it are damage; the sequence can never
/// get there, and arithmetic on ids cannot overflow).
pub const MAX_ID: u64 = 1 << 62;

/// Why a segment header is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("segment shorter than its header")]
    Short,
    #[error("not a spool segment (bad magic)")]
    Magic,
    #[error("segment header checksum mismatch")]
    Checksum,
    #[error("segment format version {0} is not supported (this agent reads version 1)")]
    Version(u32),
}

/// The 16-byte header of a new segment.
pub fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let c = crc::crc32c(&h[..12]);
    h[12..16].copy_from_slice(&c.to_le_bytes());
    h
}

/// Checks a segment header at the start of `bytes`.
pub fn check_header(bytes: &[u8]) -> Result<(), HeaderError> {
    let h = bytes.get(..SEGMENT_HEADER_LEN).ok_or(HeaderError::Short)?;
    if h[..8] != SEGMENT_MAGIC {
        return Err(HeaderError::Magic);
    }
    if crc::crc32c(&h[..12]) != u32_at(h, 12) {
        return Err(HeaderError::Checksum);
    }
    match u32_at(h, 8) {
        FORMAT_VERSION => Ok(()),
        v => Err(HeaderError::Version(v)),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn record_crc(len: u32, id: u64, payload: &[u8]) -> u32 {
    let c = crc::update(0, &len.to_le_bytes());
    let c = crc::update(c, &id.to_le_bytes());
    crc::update(c, payload)
}

/// Appends one encoded record to `out`. The caller bounds `payload` (at most
/// [`MAX_RECORD_BYTES`]) and never passes id 0.
pub fn encode_record(id: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&RECORD_MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&record_crc(len, id, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Encoded size of a record with a payload of `payload_len` bytes.
pub fn record_len(payload_len: usize) -> usize {
    RECORD_HEADER_LEN + payload_len
}

/// What [`decode_record`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid record of `total` bytes (header included).
    Record {
        id: u64,
        payload: &'a [u8],
        total: usize,
    },
    /// The buffer ends inside what may be a valid record.
    Incomplete,
    /// Not a valid record (bad magic, length, id or checksum).
    Bad,
}

/// Decodes the record at the start of `buf`.
pub fn decode_record(buf: &[u8]) -> Decoded<'_> {
    let head_len = buf.len().min(4);
    if buf[..head_len] != RECORD_MAGIC[..head_len] {
        return Decoded::Bad;
    }
    if buf.len() < RECORD_HEADER_LEN {
        return Decoded::Incomplete;
    }
    let len = u32_at(buf, 4);
    let id = u64_at(buf, 8);
    let crc = u32_at(buf, 16);
    if len as usize > MAX_RECORD_BYTES || id == 0 || id > MAX_ID {
        return Decoded::Bad;
    }
    let total = RECORD_HEADER_LEN + len as usize;
    let Some(payload) = buf.get(RECORD_HEADER_LEN..total) else {
        return Decoded::Incomplete;
    };
    if record_crc(len, id, payload) != crc {
        return Decoded::Bad;
    }
    Decoded::Record { id, payload, total }
}

/// The first offset at or after `from` where a valid record with an id
/// above `after` starts.
pub fn resync(bytes: &[u8], from: usize, after: u64) -> Option<usize> {
    let mut pos = from;
    while pos + RECORD_HEADER_LEN <= bytes.len() {
        let rel = bytes[pos..]
            .windows(RECORD_MAGIC.len())
            .position(|w| w == RECORD_MAGIC)?;
        pos += rel;
        if let Decoded::Record { id, .. } = decode_record(&bytes[pos..]) {
            if id > after {
                return Some(pos);
            }
        }
        pos += 1;
    }
    None
}

/// What a scan of a whole segment found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentScan {
    /// Id of the first and last valid record.
    pub first_id: Option<u64>,
    pub last_id: Option<u64>,
    /// Valid records.
    pub count: u64,
    /// Id ranges (inclusive) missing between valid records (ids inside one
    /// segment are consecutive when written).
    pub gaps: Vec<(u64, u64)>,
    /// Ids missing right after a damaged region: records lost to damage.
    pub lost: u64,
    /// Byte ranges `[start, end)` skipped because they hold no valid record.
    pub bad_regions: Vec<(u64, u64)>,
    /// Offset just past the last valid record (the header's end when none).
    pub valid_end: u64,
    /// Bytes after `valid_end` that are not a record (a torn write).
    pub torn_tail: bool,
}

/// Scans a whole segment file held in memory: checks the header, walks the
/// records, skips damaged ones (re-synchronising on the next valid record
/// with a higher id) and reports a torn tail. Never panics.
pub fn scan_segment(bytes: &[u8]) -> Result<SegmentScan, HeaderError> {
    check_header(bytes)?;
    let mut scan = SegmentScan {
        valid_end: SEGMENT_HEADER_LEN as u64,
        ..SegmentScan::default()
    };
    let mut pos = SEGMENT_HEADER_LEN;
    let mut after_damage = false;
    while pos < bytes.len() {
        let after = scan.last_id.unwrap_or(0);
        match decode_record(&bytes[pos..]) {
            Decoded::Record { id, total, .. } if id > after => {
                if scan.last_id.is_some() && id > after + 1 {
                    scan.gaps.push((after + 1, id - 1));
                    if after_damage {
                        scan.lost += id - 1 - after;
                    }
                }
                after_damage = false;
                scan.first_id.get_or_insert(id);
                scan.last_id = Some(id);
                scan.count += 1;
                pos += total;
                scan.valid_end = pos as u64;
            }
            _ => match resync(bytes, pos + 1, after) {
                Some(next) => {
                    scan.bad_regions.push((pos as u64, next as u64));
                    after_damage = true;
                    pos = next;
                }
                None => {
                    scan.torn_tail = true;
                    break;
                }
            },
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(records: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = segment_header().to_vec();
        for (id, p) in records {
            encode_record(*id, p, &mut out);
        }
        out
    }

    #[test]
    fn header_round_trip_and_errors() {
        let h = segment_header();
        assert_eq!(&h[..8], b"WARDSPOL");
        assert_eq!(check_header(&h), Ok(()));
        assert_eq!(check_header(&h[..10]), Err(HeaderError::Short));
        let mut bad = h;
        bad[0] = b'X';
        assert_eq!(check_header(&bad), Err(HeaderError::Magic));
        let mut bad = h;
        bad[13] ^= 1;
        assert_eq!(check_header(&bad), Err(HeaderError::Checksum));
        // A future version with a valid checksum is refused by version.
        let mut v2 = h;
        v2[8..12].copy_from_slice(&2u32.to_le_bytes());
        let c = crc::crc32c(&v2[..12]);
        v2[12..16].copy_from_slice(&c.to_le_bytes());
        assert_eq!(check_header(&v2), Err(HeaderError::Version(2)));
    }

    #[test]
    fn record_layout_is_as_documented() {
        let mut out = Vec::new();
        encode_record(7, b"{}", &mut out);
        assert_eq!(out.len(), 22);
        assert_eq!(&out[..4], b"WREC");
        assert_eq!(&out[4..8], &2u32.to_le_bytes());
        assert_eq!(&out[8..16], &7u64.to_le_bytes());
        let mut crc_input = 2u32.to_le_bytes().to_vec();
        crc_input.extend_from_slice(&7u64.to_le_bytes());
        crc_input.extend_from_slice(b"{}");
        assert_eq!(&out[16..20], &crc::crc32c(&crc_input).to_le_bytes());
        assert_eq!(
            decode_record(&out),
            Decoded::Record {
                id: 7,
                payload: b"{}",
                total: 22
            }
        );
        assert_eq!(decode_record(&out[..21]), Decoded::Incomplete);
        assert_eq!(decode_record(&out[..3]), Decoded::Incomplete);
        assert_eq!(decode_record(b"WRX"), Decoded::Bad);
    }

    #[test]
    fn scan_clean_segment() {
        let seg = segment(&[(5, b"a"), (6, b"bb"), (7, b"ccc")]);
        let s = scan_segment(&seg).unwrap();
        assert_eq!((s.first_id, s.last_id, s.count), (Some(5), Some(7), 3));
        assert_eq!(s.valid_end, seg.len() as u64);
        assert!(!s.torn_tail && s.gaps.is_empty() && s.bad_regions.is_empty());
    }

    #[test]
    fn scan_skips_a_damaged_middle_record() {
        let seg = segment(&[(1, b"first"), (2, b"second"), (3, b"third")]);
        let second_start = SEGMENT_HEADER_LEN + record_len(5);
        let mut bad = seg.clone();
        bad[second_start + RECORD_HEADER_LEN + 1] ^= 0x40; // payload byte of record 2
        let s = scan_segment(&bad).unwrap();
        assert_eq!(s.count, 2);
        assert_eq!(s.gaps, vec![(2, 2)]);
        assert_eq!(s.lost, 1);
        let third_start = second_start + record_len(6);
        assert_eq!(
            s.bad_regions,
            vec![(second_start as u64, third_start as u64)]
        );
        assert!(!s.torn_tail);
        // A damaged length field is skipped the same way.
        let mut bad = seg;
        bad[second_start + 4] = 0xFF;
        let s = scan_segment(&bad).unwrap();
        assert_eq!((s.count, s.lost), (2, 1));
        // Ids that jump without damage are a gap, not a loss.
        let s = scan_segment(&segment(&[(1, b"a"), (5, b"b")])).unwrap();
        assert_eq!((s.gaps.clone(), s.lost), (vec![(2, 4)], 0));
    }

    #[test]
    fn scan_reports_torn_tail_at_every_cut() {
        let seg = segment(&[(1, b"one"), (2, b"two two")]);
        let last_start = SEGMENT_HEADER_LEN + record_len(3);
        for cut in last_start + 1..seg.len() {
            let s = scan_segment(&seg[..cut]).unwrap();
            assert_eq!(s.count, 1, "cut {cut}");
            assert_eq!(s.valid_end, last_start as u64, "cut {cut}");
            assert!(s.torn_tail, "cut {cut}");
        }
        let s = scan_segment(&seg[..last_start]).unwrap();
        assert!(!s.torn_tail);
    }
}
