use super::*;

fn plan() -> Plan {
    Plan::new(&PlanInput {
        root: "/".into(),
        homes: vec!["/root".into(), "/home/alice".into()],
        fim: vec!["/etc".into(), "/usr/bin".into()],
        history: true,
        logs: true,
        temp: true,
        exclude_names: vec!["*.swp".into(), "*~".into(), "4913".into()],
        exclude_paths: vec!["/etc/ward-agent".into()],
    })
}

fn cat(p: &str) -> Option<&'static str> {
    plan().classify(Path::new(p)).map(Category::as_str)
}

#[test]
fn persistence_paths_win_over_the_integrity_tree() {
    for (path, want) in [
        ("/etc/ld.so.preload", "ld_preload"),
        ("/etc/crontab", "cron"),
        ("/etc/cron.d/job", "cron"),
        ("/etc/cron.daily/x", "cron"),
        ("/var/spool/cron/crontabs/root", "cron"),
        ("/etc/systemd/system/x.service", "systemd"),
        (
            "/etc/systemd/system/multi-user.target.wants/x.service",
            "systemd",
        ),
        ("/usr/lib/systemd/system/ssh.service", "systemd"),
        ("/etc/rc.local", "rc_local"),
        ("/etc/init.d/ssh", "rc_local"),
        ("/etc/rc2.d/S01x", "rc_local"),
        ("/etc/profile", "profile"),
        ("/etc/profile.d/x.sh", "profile"),
        ("/etc/bash.bashrc", "profile"),
        ("/root/.bashrc", "profile"),
        ("/home/alice/.profile", "profile"),
        ("/root/.ssh/authorized_keys", "authorized_keys"),
        ("/home/alice/.ssh/authorized_keys2", "authorized_keys"),
        ("/etc/pam.d/sshd", "pam"),
        ("/etc/security/limits.d/x.conf", "pam"),
        ("/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "pam"),
        ("/etc/sudoers", "sudoers"),
        ("/etc/sudoers.d/x", "sudoers"),
        ("/etc/passwd", "accounts"),
        ("/etc/shadow-", "accounts"),
        ("/etc/gshadow+", "accounts"),
        ("/root/.bash_history", "history"),
        ("/var/log/auth.log", "log"),
        ("/tmp/x", "temp"),
        ("/dev/shm/y", "temp"),
        ("/etc/hosts", "fim"),
        ("/etc/ssh/sshd_config", "fim"),
        ("/usr/bin/ls", "fim"),
        ("/home/alice/.config/systemd/user/x.service", "systemd"),
    ] {
        assert_eq!(cat(path), Some(want), "{path}");
    }
}

#[test]
fn unwatched_and_excluded_paths() {
    for path in [
        "/var/log/apt/history.log",
        "/tmp/dir/deeper",
        "/root/notes.txt",
        "/root/.ssh/id_ed25519",
        "/home/bob/.bashrc",
        "/etc/.sshd_config.swp",
        "/etc/hosts~",
        "/etc/4913",
        "/etc/ward-agent/conf",
        "/usr/lib/libc.so.6",
        "/etc",
    ] {
        assert_eq!(cat(path), None, "{path}");
    }
}

#[test]
fn watched_directories_and_directories_that_appear_later() {
    let p = plan();
    let dirs = p.watch_dirs();
    let find = |d: &str| dirs.iter().find(|w| w.path == Path::new(d)).cloned();
    assert!(find("/etc").unwrap().recursive, "the FIM tree");
    assert!(!find("/etc/cron.d").unwrap().recursive);
    assert!(find("/etc/systemd/system").unwrap().recursive);
    assert_eq!(
        find("/tmp").unwrap().mask & DELETED,
        0,
        "temp: no deletions"
    );
    assert!(find("/root/.ssh").is_some());
    assert!(find("/home/alice").is_some());
    // The parent of a directory that may appear (a home's .ssh) is
    // watched for new entries.
    assert_ne!(find("/home/alice").unwrap().mask & CREATED, 0);
    let ssh = p.watches_new_dir(Path::new("/home/alice/.ssh")).unwrap();
    assert!(!ssh.recursive);
    let sub = p
        .watches_new_dir(Path::new("/etc/systemd/system/x.target.wants"))
        .unwrap();
    assert!(sub.recursive);
    assert!(p.watches_new_dir(Path::new("/tmp/build-dir")).is_none());
    assert!(
        p.watches_new_dir(Path::new("/etc/ward-agent")).is_none(),
        "excluded"
    );
}

#[test]
fn tracking_by_category() {
    assert!(Category::Cron.lines() && Category::Cron.hashed());
    assert!(Category::Fim.hashed() && !Category::Fim.lines());
    assert!(Category::Accounts.hashed() && !Category::Accounts.lines());
    assert!(!Category::Log.hashed() && !Category::Log.in_baseline());
    assert!(!Category::Temp.hashed());
}

#[test]
fn globs() {
    assert!(glob("*.swp", ".x.swp"));
    assert!(glob("*~", "hosts~"));
    assert!(glob("?x", "ax"));
    assert!(!glob("?x", "x"));
    assert!(glob("*", ""));
    assert!(!glob("*.swp", "swp"));
    assert!(!glob(&"*".repeat(300), "a"), "bounded");
}
