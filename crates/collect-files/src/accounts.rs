//! Accounts as the file collector tracks them: `/etc/passwd`, `/etc/shadow`
//! (a digest of each password field, never the hash) and `/etc/group`,
//! diffed into `account.*` and `group.*` events. The last state is kept in
//! the agent's data directory (0600) so changes made while the agent was
//! down are reported at start.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ward_events::{AccountChange, EventData, GroupChange};
use ward_hostinfo::accounts::{parse_group, parse_passwd, parse_shadow};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    /// Digest of the shadow password field (see `ward_hostinfo::accounts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pw: Option<String>,
    #[serde(default)]
    pub locked: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub gid: u32,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
}

/// Reads the databases under `etc` (missing files are empty).
pub fn read(etc: &Path) -> Accounts {
    let text = |n: &str| std::fs::read_to_string(etc.join(n)).unwrap_or_default();
    let shadow: BTreeMap<String, (String, bool)> = parse_shadow(&text("shadow"))
        .into_iter()
        .map(|s| (s.name, (s.digest, s.locked)))
        .collect();
    let mut a = Accounts::default();
    for p in parse_passwd(&text("passwd")) {
        let sh = shadow.get(&p.name);
        a.users.insert(
            p.name,
            User {
                uid: p.uid,
                gid: p.gid,
                home: p.home,
                shell: p.shell,
                pw: sh.map(|s| s.0.clone()),
                locked: sh.is_some_and(|s| s.1),
            },
        );
    }
    for g in parse_group(&text("group")) {
        a.groups.insert(
            g.name,
            Group {
                gid: g.gid,
                members: g.members,
            },
        );
    }
    a
}

fn change(name: &str, u: &User, by_package: bool) -> AccountChange {
    AccountChange {
        user: name.to_string(),
        uid: u.uid,
        gid: u.gid,
        home: u.home.clone(),
        shell: u.shell.clone(),
        by_package,
        ..AccountChange::default()
    }
}

fn group(name: &str, g: &Group, by_package: bool) -> GroupChange {
    GroupChange {
        group: name.to_string(),
        gid: g.gid,
        members: g.members.join(","),
        by_package,
        ..GroupChange::default()
    }
}

/// The events from `old` to `new`.
pub fn diff(old: &Accounts, new: &Accounts, by_package: bool) -> Vec<EventData> {
    let mut out = Vec::new();
    for (name, u) in &new.users {
        match old.users.get(name) {
            None => out.push(EventData::AccountCreated(change(name, u, by_package))),
            Some(o) if o != u => {
                let mut c = change(name, u, by_package);
                let mut what = Vec::new();
                if o.uid != u.uid {
                    what.push("uid");
                    c.old_uid = Some(o.uid);
                }
                if o.gid != u.gid {
                    what.push("gid");
                    c.old_gid = Some(o.gid);
                }
                if o.home != u.home {
                    what.push("home");
                    c.old_home = Some(o.home.clone());
                }
                if o.shell != u.shell {
                    what.push("shell");
                    c.old_shell = Some(o.shell.clone());
                }
                if o.pw != u.pw && o.pw.is_some() && u.pw.is_some() {
                    what.push("password");
                }
                if o.locked != u.locked {
                    what.push(if u.locked { "locked" } else { "unlocked" });
                }
                if !what.is_empty() {
                    c.changed = what.join(",");
                    out.push(EventData::AccountModified(c));
                }
            }
            Some(_) => {}
        }
    }
    for (name, u) in &old.users {
        if !new.users.contains_key(name) {
            out.push(EventData::AccountDeleted(change(name, u, by_package)));
        }
    }
    for (name, g) in &new.groups {
        match old.groups.get(name) {
            None => out.push(EventData::GroupCreated(group(name, g, by_package))),
            Some(o) if o != g => {
                let mut c = group(name, g, by_package);
                let added: Vec<&str> = g
                    .members
                    .iter()
                    .filter(|m| !o.members.contains(m))
                    .map(String::as_str)
                    .collect();
                let removed: Vec<&str> = o
                    .members
                    .iter()
                    .filter(|m| !g.members.contains(m))
                    .map(String::as_str)
                    .collect();
                c.added = added.join(",");
                c.removed = removed.join(",");
                if o.gid != g.gid {
                    c.old_gid = Some(o.gid);
                }
                if !c.added.is_empty() || !c.removed.is_empty() || c.old_gid.is_some() {
                    out.push(EventData::GroupModified(c));
                }
            }
            Some(_) => {}
        }
    }
    for (name, g) in &old.groups {
        if !new.groups.contains_key(name) {
            out.push(EventData::GroupDeleted(group(name, g, by_package)));
        }
    }
    out
}

/// The saved state, if any (a damaged file counts as none).
pub fn load(path: &Path) -> Option<Accounts> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Saves atomically, mode 0600.
pub fn save(path: &Path, a: &Accounts) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec(a).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etc(passwd: &str, shadow: &str, group: &str) -> (tempfile::TempDir, Accounts) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("passwd"), passwd).unwrap();
        std::fs::write(d.path().join("shadow"), shadow).unwrap();
        std::fs::write(d.path().join("group"), group).unwrap();
        let a = read(d.path());
        (d, a)
    }

    const P: &str = "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n";
    const S: &str = "root:$6$a$b:19000:0:99999:7:::\nalice:$6$c$d:19000:0:99999:7:::\n";
    const G: &str = "root:x:0:\nsudo:x:27:\nalice:x:1000:\n";

    #[test]
    fn useradd_of_a_second_root_and_its_group() {
        let (_d, old) = etc(P, S, G);
        let (_e, new) = etc(
            &format!("{P}toor:x:0:0::/root:/bin/sh\n"),
            &format!("{S}toor:!:19000:0:99999:7:::\n"),
            &format!("{G}toor:x:1001:\n"),
        );
        let ev = diff(&old, &new, false);
        assert_eq!(ev.len(), 2, "{ev:?}");
        match &ev[0] {
            EventData::AccountCreated(c) => {
                assert_eq!((c.user.as_str(), c.uid), ("toor", 0));
                assert!(!c.by_package);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&ev[1], EventData::GroupCreated(g) if g.group == "toor"));
        assert!(diff(&new, &new, false).is_empty());
        let back = diff(&new, &old, true);
        assert!(
            matches!(&back[0], EventData::AccountDeleted(c) if c.user == "toor" && c.by_package)
        );
    }

    #[test]
    fn modifications_name_what_changed_without_hashes() {
        let (_d, old) = etc(P, S, G);
        let (_e, new) = etc(
            "root:x:0:0::/root:/bin/bash\nalice:x:0:1000::/home/alice:/bin/sh\n",
            "root:$6$a$b:19000:0:99999:7:::\nalice:!$6$c$d:19000:0:99999:7:::\n",
            "root:x:0:\nsudo:x:27:alice\nalice:x:1000:\n",
        );
        let ev = diff(&old, &new, false);
        let EventData::AccountModified(c) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(c.changed, "uid,shell,password,locked");
        assert_eq!(c.old_uid, Some(1000));
        let json = serde_json::to_string(&ev).unwrap();
        assert!(!json.contains("$6$"), "no password hash in events: {json}");
        let EventData::GroupModified(g) = &ev[1] else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (g.group.as_str(), g.added.as_str(), g.members.as_str()),
            ("sudo", "alice", "alice")
        );
    }

    #[test]
    fn state_round_trips_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let (d, a) = etc(P, S, G);
        let p = d.path().join("state.json");
        assert!(load(&p).is_none());
        save(&p, &a).unwrap();
        assert_eq!(load(&p), Some(a));
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&p, b"{").unwrap();
        assert!(load(&p).is_none());
    }
}
