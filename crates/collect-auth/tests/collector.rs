//! The collector thread on real files: lines written while it runs, files
//! rotated and truncated under it, restarts, journald and wtmp/btmp.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ward_collect_auth::{spawn, AuthConfig, JournaldMode};
use ward_events::{Event, EventData};

type Got = Arc<Mutex<Vec<Event>>>;

fn config(dir: &Path, paths: Vec<PathBuf>) -> AuthConfig {
    AuthConfig {
        paths,
        journald: JournaldMode::Off,
        wtmp: None,
        btmp: None,
        poll_interval: Duration::from_millis(200),
        ..AuthConfig::new(dir.join("collect-auth.json"))
    }
}

fn sink(got: &Got) -> impl FnMut(&mut Vec<Event>) -> Result<(), String> + Send + 'static {
    let got = got.clone();
    move |events: &mut Vec<Event>| {
        got.lock().unwrap().append(events);
        Ok(())
    }
}

/// An sshd failure line whose source port is `n` (the test's tag).
fn failure(n: u32) -> String {
    format!(
        "Dec 10 06:55:46 web-1 sshd[1234]: Failed password for root from 192.0.2.5 port {n} ssh2\n"
    )
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn ports(got: &Got) -> Vec<u32> {
    got.lock()
        .unwrap()
        .iter()
        .map(|e| match &e.data {
            EventData::SshFailed(f) => u32::from(f.src_port),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn wait_for(got: &Got, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} events",
            got.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

#[test]
fn rotation_and_truncation_while_running_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let got: Got = Got::default();
    let c = spawn(config(dir.path(), vec![log.clone()]), sink(&got)).unwrap();
    // The file appears after the start: read from its beginning.
    for n in 1..=20 {
        append(&log, &failure(n));
    }
    wait_for(&got, 20);
    // Rename rotation; the writer keeps appending to the old file for a bit.
    fs::rename(&log, dir.path().join("auth.log.1")).unwrap();
    append(&dir.path().join("auth.log.1"), &failure(21));
    append(&log, &failure(22));
    for n in 23..=40 {
        append(&log, &failure(n));
    }
    wait_for(&got, 40);
    // copytruncate with lines the collector may not have read yet.
    append(&log, &failure(41));
    fs::copy(&log, dir.path().join("auth.log.2")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    for n in 42..=60 {
        append(&log, &failure(n));
    }
    wait_for(&got, 60);
    std::thread::sleep(Duration::from_millis(300)); // nothing more may come
    c.stop();
    assert_eq!(sorted(ports(&got)), (1..=60).collect::<Vec<_>>());
    let ev = &got.lock().unwrap()[0];
    assert_eq!(ev.source, log.display().to_string());
    assert_eq!(ev.host, "web-1");
    assert!(ev.raw.as_deref().unwrap().contains("port 1 ssh2"));
    assert_eq!(ev.id, 0, "ids are the spool's to assign");
}

#[test]
fn restart_resumes_without_duplicates_or_loss() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("secure");
    append(&log, &failure(1)); // exists before the first start: skipped (start at end)
    let got: Got = Got::default();
    let c = spawn(config(dir.path(), vec![log.clone()]), sink(&got)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for n in 2..=10 {
        append(&log, &failure(n));
    }
    wait_for(&got, 9);
    c.stop();
    // Written while the agent is down, including a rotation.
    append(&log, &failure(11));
    fs::rename(&log, dir.path().join("secure-20261203")).unwrap();
    append(&log, &failure(12));
    let c = spawn(config(dir.path(), vec![log.clone()]), sink(&got)).unwrap();
    wait_for(&got, 11);
    append(&log, &failure(13));
    wait_for(&got, 12);
    std::thread::sleep(Duration::from_millis(300));
    c.stop();
    assert_eq!(sorted(ports(&got)), (2..=13).collect::<Vec<_>>());
}

#[test]
fn a_failing_sink_is_retried_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let got: Got = Got::default();
    let fails = Arc::new(Mutex::new(2));
    let (g, f) = (got.clone(), fails.clone());
    let sink = move |events: &mut Vec<Event>| {
        let mut left = f.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Err("disk full".to_string());
        }
        g.lock().unwrap().append(events);
        Ok(())
    };
    let c = spawn(config(dir.path(), vec![log.clone()]), sink).unwrap();
    for n in 1..=5 {
        append(&log, &failure(n));
    }
    wait_for(&got, 5);
    let st = c.status();
    assert_eq!(st.sink_errors, 2);
    assert_eq!(st.last_error.as_deref(), Some("disk full"));
    c.stop();
    assert_eq!(sorted(ports(&got)), (1..=5).collect::<Vec<_>>());
}

#[test]
fn status_names_each_source() {
    let dir = tempfile::tempdir().unwrap();
    let present = dir.path().join("auth.log");
    append(&present, "");
    let missing = dir.path().join("secure");
    let got: Got = Got::default();
    let c = spawn(
        config(dir.path(), vec![present.clone(), missing.clone()]),
        sink(&got),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let st = c.status();
        let states: Vec<(String, String)> = st
            .sources
            .iter()
            .map(|s| (s.source.clone(), s.state.clone()))
            .collect();
        if states
            == vec![
                (present.display().to_string(), "following".to_string()),
                (missing.display().to_string(), "waiting".to_string()),
            ]
        {
            break;
        }
        assert!(Instant::now() < deadline, "{states:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    c.stop();
}

/// A stand-in `journalctl`: records its arguments, prints one entry per
/// line of `entries` (a file the test fills), then waits like `-f` does.
fn fake_journalctl(dir: &Path) -> PathBuf {
    let p = dir.join("journalctl");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {args}\ncat {entries}\nexec sleep 30\n",
        args = dir.join("args").display(),
        entries = dir.join("entries").display()
    );
    fs::write(&p, script).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn journal_entry_of(cursor: &str, port: u32, facility: u32) -> String {
    format!(
        "{{\"__CURSOR\":\"{cursor}\",\"__REALTIME_TIMESTAMP\":\"1796292000000000\",\"_HOSTNAME\":\"db-2\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_PID\":\"77\",\"SYSLOG_FACILITY\":\"{facility}\",\"MESSAGE\":\"Failed password for invalid user admin from 2001:db8::5 port {port} ssh2\"}}\n"
    )
}

fn journal_entry(cursor: &str, port: u32) -> String {
    journal_entry_of(cursor, port, 10)
}

#[test]
fn journald_is_read_when_no_log_file_exists_and_resumes_after_its_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let program = fake_journalctl(dir.path());
    // A daemon-facility entry between them is read (its cursor too) and dropped.
    fs::write(
        dir.path().join("entries"),
        journal_entry("c1", 1) + &journal_entry_of("c1b", 99, 3) + &journal_entry("c2", 2),
    )
    .unwrap();
    let cfg = AuthConfig {
        journald: JournaldMode::Auto,
        journalctl: program.clone(),
        ..config(dir.path(), vec![dir.path().join("no-such-auth.log")])
    };
    let got: Got = Got::default();
    let c = spawn(cfg.clone(), sink(&got)).unwrap();
    wait_for(&got, 2);
    c.stop();
    {
        let g = got.lock().unwrap();
        assert_eq!(g[0].source, "journald");
        assert_eq!(g[0].host, "db-2");
        assert_eq!(g[0].host_time_ms, 1_796_292_000_000);
        match &g[1].data {
            EventData::SshFailed(f) => {
                assert_eq!(f.src_ip.to_string(), "2001:db8::5");
                assert!(f.invalid_user);
            }
            other => panic!("{other:?}"),
        }
    }
    // Restart: journalctl is asked for what follows the last cursor.
    fs::write(dir.path().join("entries"), journal_entry("c3", 3)).unwrap();
    let c = spawn(cfg, sink(&got)).unwrap();
    wait_for(&got, 3);
    c.stop();
    let args = fs::read_to_string(dir.path().join("args")).unwrap();
    let lines: Vec<&str> = args.lines().collect();
    assert_eq!(lines.len(), 2, "{args}");
    assert!(lines[0].contains("--lines=0"), "{args}");
    assert!(
        !lines[0].contains("SYSLOG_FACILITY"),
        "no journalctl matches: {args}"
    );
    assert!(lines[1].contains("--after-cursor=c2"), "{args}");
    assert_eq!(sorted(ports(&got)), vec![1, 2, 3]);
}

fn utmp_record(ut_type: i16, line: &str, user: &str, host: &str, secs: i32) -> Vec<u8> {
    let mut r = vec![0u8; 384];
    r[0..2].copy_from_slice(&ut_type.to_ne_bytes());
    r[8..8 + line.len()].copy_from_slice(line.as_bytes());
    r[44..44 + user.len()].copy_from_slice(user.as_bytes());
    r[76..76 + host.len()].copy_from_slice(host.as_bytes());
    r[340..344].copy_from_slice(&secs.to_ne_bytes());
    r
}

#[test]
fn wtmp_and_btmp_records_become_login_events() {
    let dir = tempfile::tempdir().unwrap();
    let wtmp = dir.path().join("wtmp");
    let btmp = dir.path().join("btmp");
    // Old records are skipped (start at end)...
    fs::write(&wtmp, utmp_record(7, "pts/0", "old", "192.0.2.1", 1)).unwrap();
    fs::write(&btmp, b"").unwrap();
    let cfg = AuthConfig {
        wtmp: Some(wtmp.clone()),
        btmp: Some(btmp.clone()),
        ..config(dir.path(), vec![])
    };
    let got: Got = Got::default();
    let c = spawn(cfg, sink(&got)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // ...new ones are read.
    let mut w = OpenOptions::new().append(true).open(&wtmp).unwrap();
    w.write_all(&utmp_record(
        7,
        "pts/1",
        "alice",
        "192.0.2.44",
        1_700_000_000,
    ))
    .unwrap();
    w.write_all(&utmp_record(8, "pts/1", "", "", 1_700_000_100))
        .unwrap(); // logout
    let mut b = OpenOptions::new().append(true).open(&btmp).unwrap();
    b.write_all(&utmp_record(
        6,
        "ssh:notty",
        "root",
        "192.0.2.45",
        1_700_000_200,
    ))
    .unwrap();
    wait_for(&got, 2);
    std::thread::sleep(Duration::from_millis(300));
    c.stop();
    let g = got.lock().unwrap();
    assert_eq!(g.len(), 2);
    let opened = g
        .iter()
        .find(|e| e.kind() == "auth.session_opened")
        .unwrap();
    assert_eq!(opened.source, wtmp.display().to_string());
    assert_eq!(opened.host_time_ms, 1_700_000_000_000);
    let failed = g.iter().find(|e| e.kind() == "auth.pam_failed").unwrap();
    match &failed.data {
        EventData::PamFailed(p) => {
            assert_eq!(p.user.as_deref(), Some("root"));
            assert_eq!(
                p.src_ip.map(|i| i.to_string()).as_deref(),
                Some("192.0.2.45")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn lines_per_second_bound_makes_reading_lag_not_drop() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let cfg = AuthConfig {
        max_lines_per_sec: 200,
        ..config(dir.path(), vec![log.clone()])
    };
    let got: Got = Got::default();
    let c = spawn(cfg, sink(&got)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let text: String = (1..=600).map(failure).collect();
    let start = Instant::now();
    append(&log, &text);
    wait_for(&got, 600);
    // 600 lines at 200/s with a full first bucket: at least ~2 s.
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    c.stop();
    assert_eq!(sorted(ports(&got)), (1..=600).collect::<Vec<_>>());
}

/// Binary utmp records written by util-linux's `utmpdump --reverse` from
/// its text form (the layout glibc's login/last use, not ours).
fn utmpdump_records(text: &str) -> Vec<u8> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("utmpdump")
        .arg("--reverse")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("utmpdump (util-linux) runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len() % 384, 0, "utmp records are 384 bytes");
    out.stdout
}

#[test]
fn records_written_by_utmpdump_are_read_as_the_tools_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let wtmp = dir.path().join("wtmp");
    let btmp = dir.path().join("btmp");
    fs::write(&wtmp, b"").unwrap();
    fs::write(&btmp, b"").unwrap();
    let cfg = AuthConfig {
        wtmp: Some(wtmp.clone()),
        btmp: Some(btmp.clone()),
        ..config(dir.path(), vec![])
    };
    let got: Got = Got::default();
    let c = spawn(cfg, sink(&got)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // 2023-11-14T22:13:20Z is 1_700_000_000 s; 22:16:40 is 200 s later.
    let login = "[7] [04242] [ts/1] [carol   ] [pts/3       ] [192.0.2.61          ] [192.0.2.61     ] [2023-11-14T22:13:20,250000+00:00]\n\
                 [8] [04242] [ts/1] [        ] [pts/3       ] [                    ] [0.0.0.0        ] [2023-11-14T22:15:00,000000+00:00]\n";
    let failed = "[6] [04243] [    ] [oracle  ] [ssh:notty   ] [2001:db8::45        ] [2001:db8::45   ] [2023-11-14T22:16:40,000000+00:00]\n";
    let append_bin = |p: &Path, b: &[u8]| {
        OpenOptions::new()
            .append(true)
            .open(p)
            .unwrap()
            .write_all(b)
            .unwrap();
    };
    append_bin(&wtmp, &utmpdump_records(login));
    append_bin(&btmp, &utmpdump_records(failed));
    wait_for(&got, 2);
    std::thread::sleep(Duration::from_millis(300));
    c.stop();
    let g = got.lock().unwrap();
    assert_eq!(g.len(), 2, "the logout record is no event: {g:?}");
    let opened = g
        .iter()
        .find(|e| e.kind() == "auth.session_opened")
        .unwrap();
    assert_eq!(opened.host_time_ms, 1_700_000_000_250);
    match &opened.data {
        EventData::SessionOpened(s) => {
            assert_eq!((s.user.as_str(), s.service.as_str()), ("carol", "sshd"));
        }
        other => panic!("{other:?}"),
    }
    let failed = g.iter().find(|e| e.kind() == "auth.pam_failed").unwrap();
    assert_eq!(failed.host_time_ms, 1_700_000_200_000);
    assert_eq!(failed.source, btmp.display().to_string());
    match &failed.data {
        EventData::PamFailed(p) => {
            assert_eq!(p.user.as_deref(), Some("oracle"));
            assert_eq!(
                p.src_ip.map(|i| i.to_string()).as_deref(),
                Some("2001:db8::45")
            );
            assert_eq!(p.tty.as_deref(), Some("ssh:notty"));
        }
        other => panic!("{other:?}"),
    }
}
