//! Telling the package manager's changes (and log rotation's) from others:
//!
//! 1. the writer (fanotify's pid, with its ancestors) is or descends from a
//!    package manager (dpkg, rpm, apt, ...) or logrotate;
//! 2. without a writer (inotify, periodic scans): a package manager or
//!    logrotate is running at the time;
//! 3. otherwise, for a file dpkg owns, its content matches the MD5 dpkg
//!    recorded (`info/*.md5sums`, conffiles in `status`): e.g. an upgrade
//!    made while the agent was stopped.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use ward_events::Actor;
use ward_hostinfo::packages::{dpkg_aliases, is_package_manager, is_package_manager_exe};

/// How long a `/proc` scan for running tools is reused.
const RUNNING_TTL: Duration = Duration::from_millis(250);

fn is_rotation_exe(exe: &str) -> bool {
    matches!(
        exe,
        "/usr/sbin/logrotate" | "/usr/bin/logrotate" | "/usr/bin/savelog" | "/usr/sbin/savelog"
    )
}

/// Who a change is attributed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributed {
    pub by_package: bool,
    /// `dpkg`, `apt-get`, ..., or `logrotate`.
    pub tool: Option<String>,
    pub package: Option<String>,
}

/// Attribution from the writer and its ancestors (`None`: the chain names
/// no tool).
pub fn from_actor(a: &Actor) -> Option<Attributed> {
    let chain = std::iter::once(a.exe.as_str()).chain(a.ancestors.iter().map(|x| x.exe.as_str()));
    let mut rotation = None;
    for exe in chain {
        let name = exe.rsplit('/').next().unwrap_or(exe);
        if is_package_manager_exe(exe) {
            return Some(Attributed {
                by_package: true,
                tool: Some(name.to_string()),
                package: None,
            });
        }
        if rotation.is_none() && is_rotation_exe(exe) {
            rotation = Some(name.to_string());
        }
    }
    rotation.map(|r| Attributed {
        by_package: false,
        tool: Some(r),
        package: None,
    })
}

/// Running package managers and log rotation, from `/proc/*/comm`.
pub struct Running {
    proc_root: PathBuf,
    cached: Option<(Instant, Option<Attributed>)>,
}

impl Running {
    pub fn new(proc_root: impl Into<PathBuf>) -> Running {
        Running {
            proc_root: proc_root.into(),
            cached: None,
        }
    }

    /// What is running now. A tool found is remembered for a quarter
    /// second (its changes come in bursts); its absence is not, so a
    /// package manager that just started is never missed.
    pub fn now(&mut self) -> Option<Attributed> {
        if let Some((at, v)) = &self.cached {
            if at.elapsed() < RUNNING_TTL {
                return v.clone();
            }
        }
        let v = self.scan();
        self.cached = v.as_ref().map(|_| (Instant::now(), v.clone()));
        v
    }

    fn scan(&self) -> Option<Attributed> {
        let rd = std::fs::read_dir(&self.proc_root).ok()?;
        let mut rotation = None;
        for e in rd.flatten() {
            let name = e.file_name();
            if !name
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            {
                continue;
            }
            let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) else {
                continue;
            };
            let comm = comm.trim_end();
            if is_package_manager(comm) {
                return Some(Attributed {
                    by_package: true,
                    tool: Some(comm.to_string()),
                    package: None,
                });
            }
            if matches!(comm, "logrotate" | "savelog") {
                rotation = Some(comm.to_string());
            }
        }
        rotation.map(|r| Attributed {
            by_package: false,
            tool: Some(r),
            package: None,
        })
    }
}

/// The MD5 dpkg recorded for each of `paths` it owns: `path → (package,
/// md5 hex)`. One pass over `info/*.md5sums` and the conffiles of `status`.
pub fn dpkg_md5s(dpkg_dir: &Path, paths: &HashSet<String>) -> HashMap<String, (String, String)> {
    let mut wanted: HashMap<String, String> = HashMap::new();
    for p in paths {
        for alias in dpkg_aliases(p) {
            wanted.insert(alias, p.clone());
        }
    }
    let mut out = HashMap::new();
    if wanted.is_empty() {
        return out;
    }
    if let Ok(rd) = std::fs::read_dir(dpkg_dir.join("info")) {
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(pkg) = name.to_str().and_then(|n| n.strip_suffix(".md5sums")) else {
                continue;
            };
            let pkg = pkg.split(':').next().unwrap_or(pkg).to_string();
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            for line in text.lines() {
                let Some((sum, rel)) = line.split_once("  ") else {
                    continue;
                };
                let abs = format!("/{}", rel.trim_start_matches('/'));
                if let Some(orig) = wanted.get(&abs) {
                    out.insert(orig.clone(), (pkg.clone(), sum.to_string()));
                }
            }
        }
    }
    if let Ok(status) = std::fs::read_to_string(dpkg_dir.join("status")) {
        for (pkg, path, sum) in conffiles(&status) {
            if let Some(orig) = wanted.get(path) {
                out.entry(orig.clone())
                    .or_insert((pkg.to_string(), sum.to_string()));
            }
        }
    }
    out
}

/// `(package, path, md5)` of every conffile in a dpkg `status` file.
pub fn conffiles(status: &str) -> Vec<(&str, &str, &str)> {
    let mut out = Vec::new();
    let mut pkg = "";
    let mut in_conf = false;
    for line in status.lines() {
        if let Some(p) = line.strip_prefix("Package: ") {
            pkg = p.trim();
            in_conf = false;
        } else if line.starts_with("Conffiles:") {
            in_conf = true;
        } else if in_conf && line.starts_with(' ') {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 2 {
                out.push((pkg, f[0], f[1]));
            }
        } else {
            in_conf = false;
        }
    }
    out
}

/// MD5 of a file's content, hex (`None` when unreadable or over `max`).
pub fn md5_file(path: &Path, max: u64) -> Option<String> {
    let f = std::fs::File::open(path).ok()?;
    if f.metadata().ok()?.len() > max {
        return None;
    }
    let mut h = Md5::new();
    let mut r = f.take(max);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(crate::state::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_events::Ancestor;

    fn actor(exe: &str, chain: &[&str]) -> Actor {
        Actor {
            pid: 9,
            exe: exe.into(),
            ancestors: chain
                .iter()
                .map(|e| Ancestor {
                    pid: 1,
                    exe: (*e).into(),
                    cmdline: String::new(),
                })
                .collect(),
            ..Actor::default()
        }
    }

    #[test]
    fn the_writer_chain_names_the_tool() {
        let a = from_actor(&actor("/usr/bin/dpkg", &["/usr/bin/apt-get"])).unwrap();
        assert!(a.by_package);
        assert_eq!(a.tool.as_deref(), Some("dpkg"));
        // A maintainer script run by dpkg.
        let a = from_actor(&actor(
            "/usr/sbin/ldconfig",
            &["/usr/bin/sh", "/usr/bin/dpkg"],
        ))
        .unwrap();
        assert_eq!(a.tool.as_deref(), Some("dpkg"));
        let r = from_actor(&actor(
            "/usr/bin/gzip",
            &["/usr/sbin/logrotate", "/usr/sbin/cron"],
        ))
        .unwrap();
        assert!(!r.by_package);
        assert_eq!(r.tool.as_deref(), Some("logrotate"));
        assert_eq!(
            from_actor(&actor("/usr/bin/bash", &["/usr/sbin/sshd"])),
            None
        );
        // Look-alikes outside the system directories are not trusted.
        assert!(from_actor(&actor("/tmp/dpkg", &[])).is_none());
        assert!(from_actor(&actor("/usr/bin/bash", &["/tmp/logrotate"])).is_none());
    }

    #[test]
    fn md5s_from_lists_and_conffiles() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("info")).unwrap();
        std::fs::write(
            d.path().join("info/coreutils.md5sums"),
            "d41d8cd98f00b204e9800998ecf8427e  bin/ls\n0123  usr/bin/cat\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("status"),
            "Package: openssh-server\nStatus: install ok installed\nConffiles:\n /etc/ssh/sshd_config abcd\n /etc/pam.d/sshd ef01\nDescription: x\n y\n\nPackage: other\n",
        )
        .unwrap();
        let want: HashSet<String> = ["/usr/bin/ls", "/etc/ssh/sshd_config", "/etc/hosts"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = dpkg_md5s(d.path(), &want);
        assert_eq!(
            m.get("/usr/bin/ls"),
            Some(&(
                "coreutils".to_string(),
                "d41d8cd98f00b204e9800998ecf8427e".to_string()
            ))
        );
        assert_eq!(
            m.get("/etc/ssh/sshd_config").map(|v| v.1.as_str()),
            Some("abcd")
        );
        assert!(!m.contains_key("/etc/hosts"));
        let f = d.path().join("empty");
        std::fs::write(&f, b"").unwrap();
        assert_eq!(
            md5_file(&f, 1 << 20).as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
    }

    #[test]
    fn running_tools_are_found_in_proc() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("123");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("comm"), "bash\n").unwrap();
        let mut r = Running::new(d.path());
        assert_eq!(r.now(), None);
        let q = d.path().join("124");
        std::fs::create_dir(&q).unwrap();
        std::fs::write(q.join("comm"), "dpkg\n").unwrap();
        // Seen at once (absence is not cached)...
        assert_eq!(r.now().and_then(|a| a.tool).as_deref(), Some("dpkg"));
        // ...and remembered a little after it exits.
        std::fs::remove_dir_all(&q).unwrap();
        assert_eq!(r.now().and_then(|a| a.tool).as_deref(), Some("dpkg"));
        std::thread::sleep(RUNNING_TTL);
        assert_eq!(r.now(), None);
    }
}
