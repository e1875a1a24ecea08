//! From two states of a path to one typed change (pure).

use ward_events::{truncate_at_char, FileChange, MAX_ADDED_LINES, MAX_ADDED_LINE_BYTES};

use crate::classify::Category;
use crate::state::{line_hash, FileState, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Modified,
    Deleted,
    Renamed,
    Attrib,
}

/// Lines of `content` whose hash is not in `old` (a multiset: a line
/// present twice now and once before counts once), at most
/// [`MAX_ADDED_LINES`], each cut to [`MAX_ADDED_LINE_BYTES`].
fn added_lines(content: &[u8], old: &[u64]) -> String {
    let mut budget: Vec<u64> = old.to_vec();
    let mut out: Vec<String> = Vec::new();
    for l in content.split(|&b| b == b'\n') {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let h = line_hash(l);
        if let Some(i) = budget.iter().position(|x| *x == h) {
            budget.swap_remove(i);
            continue;
        }
        if out.len() < MAX_ADDED_LINES {
            let text = String::from_utf8_lossy(l);
            out.push(truncate_at_char(&text, MAX_ADDED_LINE_BYTES).to_string());
        }
    }
    out.join("\n")
}

/// `(added, removed)` between two sorted multisets.
fn count_diff(old: &[u64], new: &[u64]) -> (u32, u32) {
    let (mut i, mut j, mut added, mut removed) = (0, 0, 0u32, 0u32);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                removed += 1;
                i += 1;
            }
            (Some(_), None) => {
                removed += 1;
                i += 1;
            }
            _ => {
                added += 1;
                j += 1;
            }
        }
    }
    (added, removed)
}

fn describe(f: &mut FileChange, st: &FileState) {
    f.file_type = Some(st.kind.as_str().to_string());
    f.size = Some(st.size);
    f.sha256 = st.sha256_hex();
    f.mode = Some(st.mode);
    f.owner_uid = Some(st.uid);
    f.owner_gid = Some(st.gid);
    f.link_target = st.link.clone();
}

/// The change from `old` to `new` at `path`, if any. `content` is the new
/// content of a line-tracked file (to quote added lines). Logs and shell
/// history report only truncation and replacement, not growth.
pub fn diff(
    path: &str,
    category: Category,
    old: Option<&FileState>,
    new: Option<&FileState>,
    content: Option<&[u8]>,
) -> Option<(ChangeKind, FileChange)> {
    let mut f = FileChange {
        path: path.to_string(),
        category: category.as_str().to_string(),
        ..FileChange::default()
    };
    let kind = match (old, new) {
        (None, None) => return None,
        (None, Some(n)) => {
            if category == Category::Temp && n.kind == Kind::Dir {
                return None;
            }
            describe(&mut f, n);
            if let Some(lines) = &n.lines {
                f.lines_added = Some(lines.len() as u32);
                f.lines_removed = Some(0);
                f.added = content.map(|c| added_lines(c, &[])).unwrap_or_default();
            }
            ChangeKind::Created
        }
        (Some(o), None) => {
            f.old_size = Some(o.size);
            f.old_sha256 = o.sha256_hex();
            f.old_mode = Some(o.mode);
            f.file_type = Some(o.kind.as_str().to_string());
            ChangeKind::Deleted
        }
        (Some(o), Some(n)) => {
            let content_changed = !o.same_content(n);
            let grows_only = matches!(category, Category::Log | Category::History)
                && o.kind == n.kind
                && o.link == n.link
                && n.size >= o.size;
            describe(&mut f, n);
            f.old_size = Some(o.size);
            f.old_sha256 = o.sha256_hex();
            f.old_mode = Some(o.mode);
            if content_changed && !grows_only {
                f.truncated = o.kind == Kind::File && n.kind == Kind::File && n.size < o.size;
                if let (Some(ol), Some(nl)) = (&o.lines, &n.lines) {
                    let (a, r) = count_diff(ol, nl);
                    f.lines_added = Some(a);
                    f.lines_removed = Some(r);
                    f.added = content.map(|c| added_lines(c, ol)).unwrap_or_default();
                } else if let (None, Some(nl)) = (&o.lines, &n.lines) {
                    f.lines_added = Some(nl.len() as u32);
                    f.added = content.map(|c| added_lines(c, &[])).unwrap_or_default();
                }
                ChangeKind::Modified
            } else if (o.mode, o.uid, o.gid) != (n.mode, n.uid, n.gid) {
                ChangeKind::Attrib
            } else {
                return None;
            }
        }
    };
    if category == Category::Temp && kind != ChangeKind::Created && kind != ChangeKind::Attrib {
        return None;
    }
    Some((kind, f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::line_hashes;

    fn st(content: &[u8], mode: u32) -> FileState {
        FileState {
            kind: Kind::File,
            size: content.len() as u64,
            mode,
            uid: 0,
            gid: 0,
            mtime_ns: 1,
            ctime_ns: 1,
            dev: 1,
            ino: 1,
            sha256: Some([content.len() as u8; 32]),
            lines: Some(line_hashes(content)),
            link: None,
        }
    }

    #[test]
    fn created_counts_and_quotes_every_line() {
        let c = b"# job\n* * * * * root /tmp/x\n";
        let (k, f) = diff(
            "/etc/cron.d/x",
            Category::Cron,
            None,
            Some(&st(c, 0o644)),
            Some(c),
        )
        .unwrap();
        assert_eq!(k, ChangeKind::Created);
        assert_eq!(f.lines_added, Some(2));
        assert_eq!(f.added, "# job\n* * * * * root /tmp/x");
        assert_eq!(f.mode, Some(0o644));
        assert_eq!(f.file_type.as_deref(), Some("file"));
    }

    #[test]
    fn modified_reports_added_and_removed_lines() {
        let old = b"key-a\nkey-b\n";
        let new = b"key-a\nkey-b\nkey-evil\n";
        let (k, f) = diff(
            "/root/.ssh/authorized_keys",
            Category::AuthorizedKeys,
            Some(&st(old, 0o600)),
            Some(&st(new, 0o600)),
            Some(new),
        )
        .unwrap();
        assert_eq!(k, ChangeKind::Modified);
        assert_eq!((f.lines_added, f.lines_removed), (Some(1), Some(0)));
        assert_eq!(f.added, "key-evil");
        assert!(!f.truncated);
        // Undo: one removed, nothing added.
        let (_, f) = diff(
            "/root/.ssh/authorized_keys",
            Category::AuthorizedKeys,
            Some(&st(new, 0o600)),
            Some(&st(old, 0o600)),
            Some(old),
        )
        .unwrap();
        assert_eq!((f.lines_added, f.lines_removed), (Some(0), Some(1)));
        assert!(f.truncated);
        assert_eq!(f.added, "");
        // A duplicated line is an added one.
        let dup = b"key-a\nkey-a\nkey-b\n";
        let (_, f) = diff(
            "/x",
            Category::AuthorizedKeys,
            Some(&st(old, 0)),
            Some(&st(dup, 0)),
            Some(dup),
        )
        .unwrap();
        assert_eq!((f.lines_added, f.lines_removed), (Some(1), Some(0)));
        assert_eq!(f.added, "key-a");
    }

    #[test]
    fn attrib_only_and_no_change() {
        let c = b"x\n";
        let (k, f) = diff(
            "/usr/bin/x",
            Category::Fim,
            Some(&st(c, 0o755)),
            Some(&st(c, 0o4755)),
            None,
        )
        .unwrap();
        assert_eq!(k, ChangeKind::Attrib);
        assert!(f.setuid_added());
        assert!(diff(
            "/usr/bin/x",
            Category::Fim,
            Some(&st(c, 0o755)),
            Some(&st(c, 0o755)),
            None
        )
        .is_none());
        let (k, f) = diff("/usr/bin/x", Category::Fim, Some(&st(c, 0o755)), None, None).unwrap();
        assert_eq!(k, ChangeKind::Deleted);
        assert_eq!(f.old_mode, Some(0o755));
    }

    #[test]
    fn logs_report_truncation_not_growth() {
        let mut a = st(b"", 0o640);
        a.sha256 = None;
        a.lines = None;
        a.size = 1000;
        let mut grown = a.clone();
        grown.size = 2000;
        assert!(diff(
            "/var/log/auth.log",
            Category::Log,
            Some(&a),
            Some(&grown),
            None
        )
        .is_none());
        let mut emptied = a.clone();
        emptied.size = 0;
        let (k, f) = diff(
            "/var/log/auth.log",
            Category::Log,
            Some(&a),
            Some(&emptied),
            None,
        )
        .unwrap();
        assert_eq!(k, ChangeKind::Modified);
        assert!(f.truncated);
        assert_eq!((f.size, f.old_size), (Some(0), Some(1000)));
        // Replaced by a link to /dev/null.
        let mut link = a.clone();
        link.kind = Kind::Symlink;
        link.link = Some("/dev/null".into());
        let (_, f) = diff(
            "/root/.bash_history",
            Category::History,
            Some(&a),
            Some(&link),
            None,
        )
        .unwrap();
        assert_eq!(f.link_target.as_deref(), Some("/dev/null"));
    }

    #[test]
    fn temp_reports_new_files_and_mode_changes_only() {
        let c = b"x";
        let mut dir = st(c, 0o755);
        dir.kind = Kind::Dir;
        assert!(diff("/tmp/d", Category::Temp, None, Some(&dir), None).is_none());
        assert_eq!(
            diff("/tmp/f", Category::Temp, None, Some(&st(c, 0o644)), None)
                .unwrap()
                .0,
            ChangeKind::Created
        );
        assert!(diff("/tmp/f", Category::Temp, Some(&st(c, 0o644)), None, None).is_none());
        assert_eq!(
            diff(
                "/tmp/f",
                Category::Temp,
                Some(&st(c, 0o755)),
                Some(&st(c, 0o4755)),
                None
            )
            .unwrap()
            .0,
            ChangeKind::Attrib
        );
    }

    #[test]
    fn quotes_are_bounded() {
        let long = format!("{}\n", "x".repeat(1000)).repeat(20);
        let (_, f) = diff(
            "/etc/cron.d/x",
            Category::Cron,
            None,
            Some(&st(long.as_bytes(), 0)),
            Some(long.as_bytes()),
        )
        .unwrap();
        assert_eq!(f.lines_added, Some(20));
        assert_eq!(f.added.lines().count(), MAX_ADDED_LINES);
        assert!(f.added.lines().all(|l| l.len() == MAX_ADDED_LINE_BYTES));
    }
}
