use super::*;
use crate::process::{Ancestor, ExeDeleted, FdKind, NetConnect, ProcessCpu};
use crate::{Event, FIELD_NAMES, KIND_NAMES};

fn fd(kind: FdKind, target: &str, remote: Option<&str>) -> Option<FdTarget> {
    Some(FdTarget {
        kind,
        target: target.into(),
        local: remote.map(|_| "127.0.0.1:40000".into()),
        remote: remote.map(str::to_string),
    })
}

fn ancestors() -> Vec<Ancestor> {
    vec![
        Ancestor {
            pid: 10,
            exe: "/usr/sbin/nginx".into(),
            cmdline: "nginx: worker process".into(),
        },
        Ancestor {
            pid: 1,
            exe: "/sbin/init".into(),
            cmdline: String::new(),
        },
    ]
}

fn full_process() -> ProcessInfo {
    ProcessInfo {
        pid: 4242,
        ppid: 10,
        uid: 33,
        user: Some("www-data".into()),
        exe: "/usr/bin/bash".into(),
        exe_deleted: true,
        memfd: true,
        cmdline: "bash -i".into(),
        cwd: Some("/var/www".into()),
        login_uid: Some(1000),
        stdin: fd(FdKind::Tcp, "socket:[77]", Some("192.0.2.9:4444")),
        stdout: fd(FdKind::Tcp, "socket:[77]", Some("192.0.2.9:4444")),
        stderr: fd(FdKind::Pipe, "pipe:[5]", None),
        ancestors: ancestors(),
        partial: true,
        stdio_inherited: true,
        ..ProcessInfo::default()
    }
}

fn full_actor() -> Option<Actor> {
    Some(Actor {
        pid: 7,
        exe: "/usr/bin/wget".into(),
        cmdline: "wget http://x/y".into(),
        uid: 0,
        user: Some("root".into()),
        ancestors: ancestors(),
        ..Actor::default()
    })
}

fn full_file() -> FileChange {
    FileChange {
        path: "/etc/cron.d/x".into(),
        old_path: Some("/etc/cron.d/.x.tmp".into()),
        category: "cron".into(),
        file_type: Some("file".into()),
        size: Some(10),
        old_size: Some(20),
        sha256: Some("ab".into()),
        old_sha256: Some("cd".into()),
        mode: Some(0o4755),
        old_mode: Some(0o755),
        owner_uid: Some(0),
        owner_gid: Some(0),
        link_target: Some("/tmp/t".into()),
        lines_added: Some(1),
        lines_removed: Some(0),
        added: "* * * * * root sh".into(),
        truncated: true,
        by_package: true,
        package: Some("cron".into()),
        tool: Some("dpkg".into()),
        actor: full_actor(),
        seen_by: "fanotify".into(),
    }
}

fn full_account() -> AccountChange {
    AccountChange {
        user: "eve".into(),
        uid: 0,
        gid: 0,
        home: "/home/eve".into(),
        shell: "/bin/bash".into(),
        old_uid: Some(1001),
        old_gid: Some(1001),
        old_home: Some("/home/e".into()),
        old_shell: Some("/bin/sh".into()),
        changed: "uid,gid".into(),
        by_package: true,
    }
}

fn full_group() -> GroupChange {
    GroupChange {
        group: "sudo".into(),
        gid: 27,
        members: "alice,eve".into(),
        added: "eve".into(),
        removed: "bob".into(),
        old_gid: Some(26),
        by_package: true,
    }
}

/// One event of every host kind with every optional field set.
fn samples() -> Vec<EventData> {
    vec![
        EventData::ProcessExec(full_process()),
        EventData::ProcessRunning(full_process()),
        EventData::ProcessExeDeleted(ExeDeleted {
            process: full_process(),
            replaced: false,
        }),
        EventData::ProcessCpu(ProcessCpu {
            process: full_process(),
            cpu_percent: 97,
            window_secs: 300,
            packaged: Some(false),
        }),
        EventData::FileCreated(full_file()),
        EventData::FileModified(full_file()),
        EventData::FileDeleted(full_file()),
        EventData::FileRenamed(full_file()),
        EventData::FileAttrib(full_file()),
        EventData::AccountCreated(full_account()),
        EventData::AccountDeleted(full_account()),
        EventData::AccountModified(full_account()),
        EventData::GroupCreated(full_group()),
        EventData::GroupDeleted(full_group()),
        EventData::GroupModified(full_group()),
        EventData::NetConnect(NetConnect {
            protocol: "tcp".into(),
            src_ip: "10.0.0.1".parse().unwrap(),
            src_port: 40000,
            dst_ip: "203.0.113.5".parse().unwrap(),
            dst_port: 4444,
            initiated: true,
            process: full_actor(),
        }),
    ]
}

fn event(data: EventData) -> Event {
    let mut e = Event::new(1_765_000_000_000, "proc", data);
    e.id = 3;
    e.host = "h".into();
    e
}

#[test]
fn every_host_kind_has_a_sample_and_round_trips_through_json() {
    let samples = samples();
    let kinds: Vec<usize> = samples.iter().map(EventData::kind_index).collect();
    assert_eq!(kinds, (9..KIND_COUNT).collect::<Vec<_>>());
    for d in samples {
        let e = event(d);
        let json = serde_json::to_string(&e).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e, "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["kind"], KIND_NAMES[e.data.kind_index()]);
    }
}

#[test]
fn kind_fields_says_exactly_which_fields_a_full_event_has() {
    for d in samples() {
        let e = event(d);
        let k = e.data.kind_index();
        for (f, names) in FIELD_NAMES {
            assert_eq!(
                e.get(*f).is_some(),
                kind_fields(k, *f),
                "{} field {}",
                KIND_NAMES[k],
                names[0]
            );
        }
    }
}

#[test]
fn process_fields_use_sigma_names() {
    let e = event(EventData::ProcessExec(full_process()));
    assert_eq!(e.field("Image"), Some(FieldValue::Str("/usr/bin/bash")));
    assert_eq!(e.field("CommandLine"), Some(FieldValue::Str("bash -i")));
    assert_eq!(
        e.field("ParentImage"),
        Some(FieldValue::Str("/usr/sbin/nginx"))
    );
    assert_eq!(
        e.field("ParentCommandLine"),
        Some(FieldValue::Str("nginx: worker process"))
    );
    assert_eq!(
        e.field("Ancestors"),
        Some(FieldValue::Str("/usr/sbin/nginx\n/sbin/init"))
    );
    assert_eq!(e.field("User"), Some(FieldValue::Str("www-data")));
    assert_eq!(e.field("LogonId"), Some(FieldValue::Int(1000)));
    assert_eq!(e.field("StdinType"), Some(FieldValue::Str("tcp")));
    assert_eq!(e.field("StderrType"), Some(FieldValue::Str("pipe")));
    assert_eq!(
        e.field("StdioRemote"),
        Some(FieldValue::Str("192.0.2.9:4444"))
    );
    // Deserialized events fill the derived text the same way.
    let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(back.field("Ancestors"), e.field("Ancestors"));
}

#[test]
fn file_mode_reads_as_octal_digits_and_setuid_added_needs_a_new_bit() {
    let mut f = full_file();
    let e = event(EventData::FileAttrib(f.clone()));
    assert_eq!(e.field("FileMode"), Some(FieldValue::Int(4755)));
    assert_eq!(e.field("OldFileMode"), Some(FieldValue::Int(755)));
    assert_eq!(e.field("SetuidAdded"), Some(FieldValue::Bool(true)));
    // Already setuid before: not added.
    f.old_mode = Some(0o4711);
    assert!(!f.setuid_added());
    // setgid added to a setuid file: added.
    f.mode = Some(0o6755);
    assert!(f.setuid_added());
    // Directories (setgid dirs are ordinary) never count.
    f.old_mode = Some(0o755);
    f.file_type = Some("dir".into());
    assert!(!f.setuid_added());
    // New file with the bit.
    let new = FileChange {
        mode: Some(0o2755),
        file_type: Some("file".into()),
        ..FileChange::default()
    };
    assert!(new.setuid_added());
    assert_eq!(super::octal(0o7777), 7777);
    assert_eq!(super::octal(0), 0);
}

#[test]
fn file_events_expose_the_writer_with_process_names() {
    let e = event(EventData::FileCreated(full_file()));
    assert_eq!(e.field("Image"), Some(FieldValue::Str("/usr/bin/wget")));
    assert_eq!(
        e.field("TargetFilename"),
        Some(FieldValue::Str("/etc/cron.d/x"))
    );
    assert_eq!(e.field("ProcessId"), Some(FieldValue::Int(7)));
    let mut f = full_file();
    f.actor = None;
    let e = event(EventData::FileCreated(f));
    assert_eq!(e.field("Image"), None);
}

#[test]
fn host_kinds_map_to_sigma_log_sources() {
    let cat = |k: &str| {
        let i = KIND_NAMES.iter().position(|n| *n == k).unwrap();
        crate::kind_logsource(i).category
    };
    assert_eq!(cat("process.exec"), "process_creation");
    assert_eq!(cat("file.created"), "file_event");
    assert_eq!(cat("file.deleted"), "file_delete");
    assert_eq!(cat("file.renamed"), "file_rename");
    assert_eq!(cat("net.connect"), "network_connection");
    assert_eq!(cat("account.created"), "account");
    assert_eq!(cat("auth.ssh_failed"), "authentication");
    for (k, name) in KIND_NAMES.iter().enumerate().skip(9) {
        let ls = crate::kind_logsource(k);
        assert_eq!(ls.product, "linux");
        assert!(ls.services.is_empty(), "{name}");
    }
}

#[test]
fn kind_fields_matches_full_auth_events_too() {
    use crate::*;
    let ip: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let some = || Some("x".to_string());
    let auth = vec![
        EventData::SshFailed(SshFailed {
            user: "u".into(),
            src_ip: ip,
            src_port: 1,
            method: "password".into(),
            invalid_user: false,
        }),
        EventData::SshAccepted(SshAccepted {
            user: "u".into(),
            src_ip: ip,
            src_port: 1,
            method: "publickey".into(),
            key: some(),
        }),
        EventData::SshInvalidUser(SshInvalidUser {
            user: "u".into(),
            src_ip: ip,
            src_port: Some(1),
        }),
        EventData::SshPreauthDisconnect(SshPreauthDisconnect {
            user: "u".into(),
            src_ip: ip,
            src_port: 1,
            invalid_user: true,
        }),
        EventData::PamFailed(PamFailed {
            service: "sshd".into(),
            user: some(),
            ruser: some(),
            rhost: some(),
            src_ip: Some(ip),
            tty: some(),
        }),
        EventData::SuFailed(SuFailed {
            user: "u".into(),
            target_user: "root".into(),
            tty: some(),
        }),
        EventData::SudoFailed(SudoFailed {
            user: "u".into(),
            reason: SudoFailure::NotInSudoers,
            target_user: some(),
            tty: some(),
            pwd: some(),
            command: some(),
        }),
        EventData::SessionOpened(SessionOpened {
            service: "cron".into(),
            user: "root".into(),
            by_user: some(),
        }),
        EventData::SessionClosed(SessionClosed {
            service: "cron".into(),
            user: "root".into(),
        }),
    ];
    for (i, d) in auth.into_iter().enumerate() {
        assert_eq!(d.kind_index(), i);
        let mut e = event(d);
        e.raw = Some("line".into());
        for (f, names) in FIELD_NAMES {
            assert_eq!(
                e.get(*f).is_some(),
                kind_fields(i, *f),
                "{} field {}",
                KIND_NAMES[i],
                names[0]
            );
        }
    }
}
