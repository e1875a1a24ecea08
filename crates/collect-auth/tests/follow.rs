//! The follower on real files: appends, partial lines, rotation by rename,
//! copytruncate, restarts from a saved position, long lines.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use ward_collect_auth::follow::{Follower, Framing};

const LINES: Framing = Framing::Lines { max_line: 4096 };

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn poll_all(f: &mut Follower) -> Vec<String> {
    let mut out = Vec::new();
    while f.poll(1000, &mut out).unwrap() {}
    out.into_iter()
        .map(|l| String::from_utf8(l).unwrap())
        .collect()
}

fn lines(range: std::ops::Range<u32>) -> String {
    range.map(|i| format!("line {i}\n")).collect()
}

fn expect(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

#[test]
fn appends_and_partial_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    let mut f = Follower::new(p.clone(), LINES, None, true);
    assert!(poll_all(&mut f).is_empty());
    assert!(!f.is_open());
    // Created after start: read from its beginning.
    append(&p, &lines(0..3));
    assert_eq!(poll_all(&mut f), expect(0..3));
    append(&p, "line 3\nline ");
    assert_eq!(poll_all(&mut f), expect(3..4));
    append(&p, "4\n");
    assert_eq!(poll_all(&mut f), expect(4..5));
    assert_eq!(f.pos().unwrap().offset, fs::metadata(&p).unwrap().len());
}

#[test]
fn start_at_end_skips_existing_content_only_without_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    append(&p, &lines(0..5));
    let mut f = Follower::new(p.clone(), LINES, None, true);
    assert!(poll_all(&mut f).is_empty());
    append(&p, &lines(5..7));
    assert_eq!(poll_all(&mut f), expect(5..7));
    let mut g = Follower::new(p.clone(), LINES, None, false);
    assert_eq!(poll_all(&mut g), expect(0..7));
}

#[test]
fn rename_rotation_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    let rotated = dir.path().join("auth.log.1");
    append(&p, &lines(0..3));
    let mut f = Follower::new(p.clone(), LINES, None, false);
    assert_eq!(poll_all(&mut f), expect(0..3));
    // More lines, then rotation before the follower looked.
    append(&p, &lines(3..5));
    fs::rename(&p, &rotated).unwrap();
    // The writer still appends to the old file before it reopens...
    append(&rotated, &lines(5..6));
    let mut got = poll_all(&mut f);
    // ...and then writes the new file.
    append(&p, &lines(6..9));
    got.extend(poll_all(&mut f));
    append(&rotated, "line 9\n"); // a late write into the rotated file
    got.extend(poll_all(&mut f));
    append(&p, &lines(10..12));
    got.extend(poll_all(&mut f));
    let mut sorted = got.clone();
    sorted.sort_by_key(|l| l[5..].parse::<u32>().unwrap());
    assert_eq!(sorted, expect(3..12), "got {got:?}");
}

#[test]
fn copytruncate_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("secure");
    append(&p, &lines(0..4));
    let mut f = Follower::new(p.clone(), LINES, None, false);
    assert_eq!(poll_all(&mut f), expect(0..4));
    // Lines written, then copied and truncated before the follower looked.
    append(&p, &lines(4..6));
    fs::copy(&p, dir.path().join("secure-20261203")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&p, &lines(6..8));
    let got = poll_all(&mut f);
    assert_eq!(got, expect(4..8));
    append(&p, &lines(8..9));
    assert_eq!(poll_all(&mut f), expect(8..9));
    assert_eq!(f.stats.truncations, 1);
}

#[test]
fn truncated_and_refilled_past_the_offset_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    append(&p, "first old line\n");
    let mut f = Follower::new(p.clone(), LINES, None, false);
    assert_eq!(poll_all(&mut f), vec!["first old line"]);
    fs::write(&p, "a new first line, longer than before\nsecond\n").unwrap();
    assert_eq!(
        poll_all(&mut f),
        vec!["a new first line, longer than before", "second"]
    );
}

#[test]
fn restart_resumes_from_the_saved_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    append(&p, &lines(0..3));
    let mut f = Follower::new(p.clone(), LINES, None, false);
    assert_eq!(poll_all(&mut f), expect(0..3));
    let saved = f.pos();
    drop(f);
    append(&p, &lines(3..5));
    let mut f = Follower::new(p.clone(), LINES, saved, true);
    assert_eq!(poll_all(&mut f), expect(3..5));
    // Rotated while stopped: the rest of the old file comes from its new
    // name, then the new file from its start.
    let saved = f.pos();
    drop(f);
    append(&p, &lines(5..7));
    fs::rename(&p, dir.path().join("auth.log.1")).unwrap();
    append(&p, &lines(7..9));
    let mut f = Follower::new(p.clone(), LINES, saved, true);
    assert_eq!(poll_all(&mut f), expect(5..9));
}

#[test]
fn long_lines_are_cut_and_the_rest_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    let long = "x".repeat(10_000);
    append(&p, &format!("short\n{long}\nafter\n"));
    let mut f = Follower::new(p.clone(), Framing::Lines { max_line: 300 }, None, false);
    let got = poll_all(&mut f);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], "short");
    assert_eq!(got[1], "x".repeat(300));
    assert_eq!(got[2], "after");
    assert_eq!(f.stats.long_lines, 1);
    assert_eq!(f.pos().unwrap().offset, fs::metadata(&p).unwrap().len());
}

#[test]
fn budget_bounds_one_poll() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    append(&p, &lines(0..50));
    let mut f = Follower::new(p.clone(), LINES, None, false);
    let mut out = Vec::new();
    assert!(f.poll(20, &mut out).unwrap());
    assert_eq!(out.len(), 20);
    let mut rest = Vec::new();
    while f.poll(20, &mut rest).unwrap() {}
    assert_eq!(out.len() + rest.len(), 50);
    assert_eq!(String::from_utf8(rest[0].clone()).unwrap(), "line 20");
}

#[test]
fn fixed_records() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wtmp");
    fs::write(&p, vec![1u8; 10]).unwrap();
    let mut f = Follower::new(p.clone(), Framing::Records { size: 4 }, None, true);
    let mut out = Vec::new();
    f.poll(100, &mut out).unwrap();
    assert!(out.is_empty()); // started at the last whole record (offset 8)
    append(&p, "\u{2}\u{2}\u{3}\u{3}\u{3}\u{3}");
    f.poll(100, &mut out).unwrap();
    // Offset 8: bytes [1,1,2,2], then [3,3,3,3].
    assert_eq!(out, vec![vec![1, 1, 2, 2], vec![3, 3, 3, 3]]);
}
