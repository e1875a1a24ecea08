//! Parsers of the account databases (`/etc/passwd`, `/etc/group`,
//! `/etc/shadow`). Pure: malformed lines, comments and NIS `+`/`-` lines
//! are skipped, never fatal.

use sha2::{Digest, Sha256};

/// One `/etc/passwd` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// One `/etc/group` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// One `/etc/shadow` line, without the password hash: a digest of the
/// password field (to tell that it changed) and whether it is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    /// SHA-256 of the password field, first 16 hex digits.
    pub digest: String,
    /// The field starts with `!` or `*` (no password login).
    pub locked: bool,
}

fn fields(line: &str) -> Option<Vec<&str>> {
    let line = line.trim_end_matches('\r');
    if line.is_empty() || line.starts_with('#') || line.starts_with('+') || line.starts_with('-') {
        return None;
    }
    Some(line.split(':').collect())
}

/// `name:x:uid:gid:gecos:home:shell` lines.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f = fields(l)?;
            if f.len() != 7 || f[0].is_empty() {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// `name:x:gid:member,member` lines.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|l| {
            let f = fields(l)?;
            if f.len() != 4 || f[0].is_empty() {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// `name:hash:...` lines (9 fields).
pub fn parse_shadow(text: &str) -> Vec<ShadowEntry> {
    text.lines()
        .filter_map(|l| {
            let f = fields(l)?;
            if f.len() != 9 || f[0].is_empty() {
                return None;
            }
            let digest = Sha256::digest(f[1].as_bytes());
            Some(ShadowEntry {
                name: f[0].to_string(),
                digest: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
                locked: f[1].starts_with('!') || f[1].starts_with('*'),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_and_bad_ones() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\
                    # comment\n\
                    +nisuser::::::\n\
                    bad:x:notanumber:0::/:/bin/sh\n\
                    short:x:1:1\n\
                    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\r\n\
                    \n";
        let e = parse_passwd(text);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0],
            PasswdEntry {
                name: "root".into(),
                uid: 0,
                gid: 0,
                home: "/root".into(),
                shell: "/bin/bash".into()
            }
        );
        assert_eq!(e[1].shell, "/usr/sbin/nologin");
    }

    #[test]
    fn group_members_are_split_and_trimmed() {
        let g = parse_group("sudo:x:27:alice, bob\nempty:x:1000:\nbad:x:y:\n");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].members, vec!["alice", "bob"]);
        assert!(g[1].members.is_empty());
    }

    #[test]
    fn shadow_keeps_no_hash_but_sees_changes_and_locks() {
        let a = parse_shadow("eve:$6$salt$hash:19000:0:99999:7:::\n");
        let b = parse_shadow("eve:$6$salt$other:19000:0:99999:7:::\n");
        let l = parse_shadow("eve:!$6$salt$hash:19000:0:99999:7:::\n");
        assert_eq!(a[0].digest.len(), 16);
        assert!(!a[0].digest.contains("salt"));
        assert_ne!(a[0].digest, b[0].digest);
        assert!(!a[0].locked);
        assert!(l[0].locked);
        assert!(parse_shadow("eve:x:1\n").is_empty());
    }
}
