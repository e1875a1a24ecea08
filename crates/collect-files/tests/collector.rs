//! The file collector on a temporary root with the real kernel interfaces
//! (fanotify as root, inotify): persistence files, integrity changes,
//! setuid bits, log truncation and rotation, accounts, changes made while
//! stopped, and attribution to the package manager.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ward_collect_files::{spawn, Backend, FilesConfig, FilesHandle};
use ward_events::{Event, EventData, FileChange};

type Events = Arc<Mutex<Vec<Event>>>;

struct Lab {
    dir: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        for d in [
            "etc/cron.d",
            "etc/ssh",
            "usr/bin",
            "root/.ssh",
            "var/log",
            "tmp",
            "proc",
        ] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(r.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        std::fs::write(r.join("etc/passwd"), "root:x:0:0::/root:/bin/bash\n").unwrap();
        std::fs::write(r.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
        std::fs::write(r.join("etc/group"), "root:x:0:\nsudo:x:27:\n").unwrap();
        std::fs::write(r.join("usr/bin/tool"), "#!/bin/sh\n").unwrap();
        std::fs::write(
            r.join("root/.ssh/authorized_keys"),
            "ssh-ed25519 AAAA admin\n",
        )
        .unwrap();
        std::fs::write(r.join("var/log/auth.log"), "x".repeat(4000)).unwrap();
        Lab {
            dir,
            data: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn config(&self, backend: Backend) -> FilesConfig {
        let mut c = FilesConfig::new(self.data.path());
        c.root = self.root().to_path_buf();
        c.fim_paths = vec![self.p("etc"), self.p("usr/bin")];
        c.backend = backend;
        c.dpkg_dir = self.p("var/lib/dpkg");
        c.settle = Duration::from_millis(50);
        c
    }
}

fn start(cfg: FilesConfig) -> (FilesHandle, Events) {
    let events: Events = Arc::default();
    let e2 = events.clone();
    let h = spawn(cfg, move |b: &mut Vec<Event>| {
        e2.lock().unwrap().append(b);
        Ok::<(), String>(())
    })
    .expect("start the file collector");
    let t0 = Instant::now();
    while h.status().state != "running" {
        assert!(t0.elapsed() < Duration::from_secs(30), "no first scan");
        std::thread::sleep(Duration::from_millis(10));
    }
    (h, events)
}

fn change(e: &Event) -> Option<&FileChange> {
    match &e.data {
        EventData::FileCreated(f)
        | EventData::FileModified(f)
        | EventData::FileDeleted(f)
        | EventData::FileRenamed(f)
        | EventData::FileAttrib(f) => Some(f),
        _ => None,
    }
}

/// Waits for the events about `path`, then a quiet moment, and returns them.
fn about(events: &Events, path: &Path) -> Vec<Event> {
    let want = path.to_string_lossy().into_owned();
    let t0 = Instant::now();
    loop {
        let got: Vec<Event> = events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| change(e).is_some_and(|f| f.path == want))
            .cloned()
            .collect();
        if !got.is_empty() {
            std::thread::sleep(Duration::from_millis(400));
            return events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| change(e).is_some_and(|f| f.path == want))
                .cloned()
                .collect();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no event for {want}: {:?}",
            events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn persistence_integrity_setuid_logs_and_accounts_with_fanotify() {
    let lab = Lab::new();
    let (h, events) = start(lab.config(Backend::Fanotify));
    assert_eq!(h.status().backend, "fanotify");
    assert!(
        events.lock().unwrap().is_empty(),
        "the first baseline is quiet: {:?}",
        events.lock().unwrap()
    );

    // A new cron file: one event, all lines counted, the writer named.
    let cron = lab.p("etc/cron.d/ward-test-job");
    std::fs::write(&cron, "* * * * * root /tmp/x\n").unwrap();
    let got = about(&events, &cron);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].kind(), "file.created");
    let f = change(&got[0]).unwrap();
    assert_eq!(f.category, "cron");
    assert_eq!(f.lines_added, Some(1));
    assert_eq!(f.added, "* * * * * root /tmp/x");
    assert_eq!(f.seen_by, "fanotify");
    let actor = f.actor.as_ref().expect("fanotify names the writer");
    assert_eq!(actor.pid, std::process::id());
    assert_eq!(
        actor.exe,
        std::env::current_exe().unwrap().display().to_string()
    );
    assert!(!f.by_package);

    // An authorized key appended.
    let keys = lab.p("root/.ssh/authorized_keys");
    let mut k = std::fs::read_to_string(&keys).unwrap();
    k.push_str("ssh-ed25519 BBBB intruder\n");
    std::fs::write(&keys, k).unwrap();
    let got = about(&events, &keys);
    assert_eq!(got.len(), 1);
    let f = change(&got[0]).unwrap();
    assert_eq!(
        (got[0].kind(), f.category.as_str()),
        ("file.modified", "authorized_keys")
    );
    assert_eq!((f.lines_added, f.lines_removed), (Some(1), Some(0)));
    assert_eq!(f.added, "ssh-ed25519 BBBB intruder");

    // A file-integrity change, with both hashes.
    let hosts = lab.p("etc/hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost evil\n").unwrap();
    let got = about(&events, &hosts);
    let f = change(&got[0]).unwrap();
    assert_eq!(
        (got[0].kind(), f.category.as_str()),
        ("file.modified", "fim")
    );
    assert!(f.sha256.is_some() && f.old_sha256.is_some() && f.sha256 != f.old_sha256);

    // A setuid bit.
    let tool = lab.p("usr/bin/tool");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let got = about(&events, &tool);
    assert_eq!(got[0].kind(), "file.attrib");
    assert!(change(&got[0]).unwrap().setuid_added());

    // Log truncated, then rotated away.
    let log = lab.p("var/log/auth.log");
    std::fs::write(&log, "").unwrap();
    let got = about(&events, &log);
    let f = change(&got[0]).unwrap();
    assert!(f.truncated && f.size == Some(0), "{f:?}");
    let rotated = lab.p("var/log/auth.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let got = about(&events, &rotated);
    assert_eq!(got[0].kind(), "file.renamed");
    assert_eq!(change(&got[0]).unwrap().old_path.as_deref(), log.to_str());
    assert!(
        !events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.kind() == "file.deleted"),
        "a rename is no deletion"
    );

    // A second root account, written as useradd does (temp file + rename).
    let tmp = lab.p("etc/passwd+");
    std::fs::write(
        &tmp,
        "root:x:0:0::/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n",
    )
    .unwrap();
    std::fs::rename(&tmp, lab.p("etc/passwd")).unwrap();
    let t0 = Instant::now();
    let created = loop {
        let hit = events.lock().unwrap().iter().find_map(|e| match &e.data {
            EventData::AccountCreated(a) => Some(a.clone()),
            _ => None,
        });
        if let Some(a) = hit {
            break a;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no account event");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!((created.user.as_str(), created.uid), ("toor", 0));
    h.stop();
}

#[test]
fn changes_while_stopped_are_found_at_start() {
    let lab = Lab::new();
    let (h, events) = start(lab.config(Backend::Inotify));
    h.stop();
    assert!(events.lock().unwrap().is_empty());
    std::fs::write(lab.p("etc/hosts"), "10.0.0.1 elsewhere\n").unwrap();
    std::fs::remove_file(lab.p("usr/bin/tool")).unwrap();
    std::fs::write(lab.p("etc/cron.d/new"), "@reboot root /x\n").unwrap();
    let (h, events) = start(lab.config(Backend::Inotify));
    let kinds = |p: &Path| -> Vec<String> {
        about(&events, p)
            .iter()
            .map(|e| e.kind().to_string())
            .collect()
    };
    assert_eq!(kinds(&lab.p("etc/hosts")), vec!["file.modified"]);
    assert_eq!(kinds(&lab.p("usr/bin/tool")), vec!["file.deleted"]);
    assert_eq!(kinds(&lab.p("etc/cron.d/new")), vec!["file.created"]);
    let all = events.lock().unwrap().clone();
    assert!(all.iter().filter_map(change).all(|f| f.seen_by == "scan"));
    assert_eq!(all.len(), 3, "{all:?}");
    h.stop();
    // A damaged baseline is rebuilt (reported, no events).
    std::fs::write(lab.data.path().join("fim-baseline"), b"garbage").unwrap();
    let (h, events) = start(lab.config(Backend::Inotify));
    assert!(h
        .status()
        .last_error
        .unwrap_or_default()
        .contains("baseline"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(events.lock().unwrap().is_empty());
    h.stop();
}

#[test]
fn package_manager_changes_are_attributed() {
    let lab = Lab::new();
    // A fake /proc where dpkg runs (inotify gives no writer: the running
    // package manager is what attributes).
    let dpkg = lab.p("proc/4242");
    let mut cfg = lab.config(Backend::Inotify);
    cfg.proc_root = lab.p("proc");
    let (h, events) = start(cfg);
    std::fs::create_dir_all(&dpkg).unwrap();
    std::fs::write(dpkg.join("comm"), "dpkg\n").unwrap();
    let unit = lab.p("etc/cron.d/pkg-job");
    std::fs::write(&unit, "0 0 * * * root /usr/bin/true\n").unwrap();
    let got = about(&events, &unit);
    let f = change(&got[0]).unwrap();
    assert!(f.by_package, "{f:?}");
    assert_eq!(f.tool.as_deref(), Some("dpkg"));
    assert_eq!(f.seen_by, "inotify");
    assert!(f.actor.is_none());
    std::fs::remove_dir_all(&dpkg).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Not running any more, but the content is what dpkg installed.
    let info = lab.p("var/lib/dpkg/info");
    std::fs::create_dir_all(&info).unwrap();
    let shipped = "shipped content\n";
    let out = std::process::Command::new("md5sum")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut child = out;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(shipped.as_bytes())
        .unwrap();
    let sum = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let sum = sum.split_whitespace().next().unwrap().to_string();
    let rel = lab.p("usr/bin/shipped");
    std::fs::write(
        info.join("pkg.md5sums"),
        format!("{sum}  {}\n", rel.strip_prefix("/").unwrap().display()),
    )
    .unwrap();
    std::fs::write(&rel, shipped).unwrap();
    let got = about(&events, &rel);
    let f = change(&got[0]).unwrap();
    assert!(f.by_package, "{f:?}");
    assert_eq!(f.package.as_deref(), Some("pkg"));
    // Edited by hand: owned, but no longer what the package shipped.
    std::fs::write(&rel, "edited\n").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let last = events
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|e| change(e).is_some_and(|f| Path::new(&f.path) == rel))
        .cloned()
        .unwrap();
    let f = change(&last).unwrap();
    assert_eq!(last.kind(), "file.modified");
    assert!(!f.by_package);
    assert_eq!(f.package.as_deref(), Some("pkg"));
    h.stop();
}

#[test]
fn a_stop_during_the_first_walk_is_prompt_and_keeps_no_partial_baseline() {
    let lab = Lab::new();
    // A tree that takes a while to hash: 256 files of 1 MiB, distinct.
    let big = lab.p("usr/bin/big");
    std::fs::create_dir_all(&big).unwrap();
    let mut block = vec![0u8; 1 << 20];
    for i in 0..256u32 {
        block[..4].copy_from_slice(&i.to_le_bytes());
        std::fs::write(big.join(format!("f{i}")), &block).unwrap();
    }
    let baseline = lab.data.path().join("fim-baseline");
    // A whole first walk, for reference.
    let t0 = Instant::now();
    let (h, _) = start(lab.config(Backend::Inotify));
    let full = t0.elapsed();
    h.stop();
    assert!(baseline.exists());
    std::fs::remove_file(&baseline).unwrap();

    // Again from scratch, stopped a quarter of the way through.
    let h = spawn(lab.config(Backend::Inotify), |_: &mut Vec<Event>| {
        Ok::<(), String>(())
    })
    .expect("start the file collector");
    std::thread::sleep(full / 4);
    assert_ne!(h.status().state, "running", "still walking");
    let t1 = Instant::now();
    h.stop();
    let stopping = t1.elapsed();
    assert!(
        stopping < full / 2,
        "the stop took {stopping:?}; a whole first walk takes {full:?}"
    );
    assert!(!baseline.exists(), "no partial baseline is written");

    // The next start walks again, to the end, and reports nothing.
    let (h, events) = start(lab.config(Backend::Inotify));
    assert!(baseline.exists());
    std::thread::sleep(Duration::from_millis(300));
    let got = events.lock().unwrap().clone();
    assert!(got.is_empty(), "a first walk is quiet: {got:?}");
    h.stop();
}
