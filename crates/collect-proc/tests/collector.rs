//! The process collector on this machine's real kernel: the netlink
//! process connector (root), `/proc` polling, the start snapshot, deleted
//! executables, sustained CPU and TCP connections. Real child processes
//! and sockets; the events are read from the collector's sink.

use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ward_collect_proc::{spawn, CpuConfig, Mode, NetConfig, ProcConfig, ProcHandle};
use ward_events::{Event, EventData, FdKind, ProcessInfo};

type Events = Arc<Mutex<Vec<Event>>>;

fn config(dir: &tempfile::TempDir, mode: Mode) -> ProcConfig {
    let mut c = ProcConfig::new(dir.path().join("collect-proc.json"));
    c.mode = mode;
    c.ignore_own = false;
    c.poll_interval = Duration::from_millis(100);
    c.exe_check_interval = Duration::from_millis(200);
    c.cpu = None;
    c.net = None;
    c
}

fn start(cfg: ProcConfig) -> (ProcHandle, Events) {
    let events: Events = Arc::default();
    let sink_events = events.clone();
    let h = spawn(cfg, move |b: &mut Vec<Event>| {
        sink_events.lock().unwrap().append(b);
        Ok::<(), String>(())
    })
    .expect("start the process collector (needs root for the connector)");
    // Processes started from now on are new ones, not part of the snapshot.
    let t0 = Instant::now();
    while h.status().state != "running" {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "collector never ran"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (h, events)
}

/// Waits up to 10 s for an event matching `f`.
fn wait_event(events: &Events, what: &str, f: impl Fn(&Event) -> bool) -> Event {
    let t0 = Instant::now();
    loop {
        if let Some(e) = events.lock().unwrap().iter().find(|e| f(e)) {
            return e.clone();
        }
        if t0.elapsed() > Duration::from_secs(10) {
            let seen: Vec<String> = events
                .lock()
                .unwrap()
                .iter()
                .rev()
                .take(30)
                .map(|e| match &e.data {
                    EventData::ProcessExec(p) | EventData::ProcessRunning(p) => {
                        let c: String = p.cmdline.chars().take(60).collect();
                        format!("{} {} {} {c:?}", e.kind(), p.pid, p.exe)
                    }
                    other => serde_json::to_string(other).unwrap_or_default(),
                })
                .collect();
            panic!("no {what} within 10 s; last events:\n{}", seen.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn exec_info(e: &Event) -> Option<&ProcessInfo> {
    match &e.data {
        EventData::ProcessExec(p) => Some(p),
        _ => None,
    }
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn marker() -> String {
    format!(
        "ward-test-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    )
}

#[test]
fn connector_reports_exec_with_details_and_parent_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (h, events) = start(config(&dir, Mode::Connector));
    assert_eq!(h.status().source, "connector");
    let m = marker();
    let cwd = tempfile::tempdir().unwrap();
    let child = Command::new("/bin/sh")
        .args(["-c", &format!("exec sleep 30 # {m}")])
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _k = Kill(child);
    let e = wait_event(&events, "exec of sleep", |e| {
        exec_info(e).is_some_and(|p| p.pid == pid && p.exe.ends_with("/sleep"))
    });
    let p = exec_info(&e).unwrap();
    assert_eq!(e.source, "process-connector");
    assert_eq!(p.cmdline, "sleep 30");
    assert_eq!(p.cwd.as_deref(), cwd.path().to_str());
    assert_eq!(p.ppid, std::process::id());
    assert_eq!(p.user.as_deref(), Some("root"));
    assert_eq!(p.stdin.as_ref().map(|t| t.kind), Some(FdKind::Null));
    // The parent chain starts with this test process.
    assert_eq!(p.ancestors[0].pid, std::process::id());
    assert_eq!(
        p.ancestors[0].exe,
        std::env::current_exe().unwrap().display().to_string()
    );
    assert!(!m.is_empty());
    h.stop();
}

#[test]
fn a_shell_on_a_tcp_socket_is_reported_with_its_peer() {
    let dir = tempfile::tempdir().unwrap();
    let (h, events) = start(config(&dir, Mode::Connector));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _server_side = l.accept().unwrap();
    let fd: OwnedFd = s.into();
    let child = Command::new("/bin/bash")
        .args(["-c", "sleep 30; true"])
        .stdin(Stdio::from(fd.try_clone().unwrap()))
        .stdout(Stdio::from(fd))
        .spawn()
        .unwrap();
    let pid = child.id();
    let _k = Kill(child);
    let e = wait_event(&events, "exec of bash on a socket", |e| {
        exec_info(e).is_some_and(|p| p.pid == pid && p.exe.ends_with("/bash"))
    });
    let p = exec_info(&e).unwrap();
    let json = serde_json::to_string(&e).unwrap();
    let stdin = p.stdin.as_ref().expect("stdin");
    assert_eq!(stdin.kind, FdKind::Tcp, "{json}");
    assert_eq!(
        stdin.remote.as_deref(),
        Some(format!("127.0.0.1:{port}").as_str()),
        "{json}"
    );
    assert_eq!(
        p.stdout.as_ref().map(|t| t.kind),
        Some(FdKind::Tcp),
        "{json}"
    );
    assert_eq!(
        e.field("StdioRemote").map(|v| v.to_string()),
        Some(format!("127.0.0.1:{port}"))
    );
    assert!(
        !p.stdio_inherited,
        "handed the socket by its parent (this test)"
    );
    // The shell's own child inherits the very same socket.
    let c = wait_event(&events, "the shell's child", |e| {
        exec_info(e).is_some_and(|c| c.ppid == pid && c.exe.ends_with("/sleep"))
    });
    assert!(exec_info(&c).unwrap().stdio_inherited, "{c:?}");
    h.stop();
}

#[test]
fn polling_finds_new_processes_without_the_connector() {
    let dir = tempfile::tempdir().unwrap();
    let (h, events) = start(config(&dir, Mode::Poll));
    assert_eq!(h.status().source, "poll");
    let m = marker();
    let child = Command::new("/bin/sh")
        .args(["-c", &format!("sleep 30; : {m}")])
        .spawn()
        .unwrap();
    let pid = child.id();
    let _k = Kill(child);
    let e = wait_event(&events, "polled process", |e| {
        exec_info(e).is_some_and(|p| p.pid == pid && p.cmdline.contains(&m))
    });
    assert_eq!(e.source, "process-poll");
    h.stop();
}

#[test]
fn the_snapshot_reports_running_processes_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let m = marker();
    let child = Command::new("/bin/sh")
        .args(["-c", &format!("sleep 30; : {m}")])
        .spawn()
        .unwrap();
    let pid = child.id();
    let _k = Kill(child);
    std::thread::sleep(Duration::from_millis(100));
    let (h, events) = start(config(&dir, Mode::Connector));
    let e = wait_event(
        &events,
        "snapshot entry",
        |e| matches!(&e.data, EventData::ProcessRunning(p) if p.pid == pid),
    );
    assert_eq!(e.source, "process-snapshot");
    h.stop();
    // Restarted with the same state: not reported again.
    let (h, events) = start(config(&dir, Mode::Connector));
    std::thread::sleep(Duration::from_millis(500));
    let again = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(&e.data, EventData::ProcessRunning(p) if p.pid == pid))
        .count();
    assert_eq!(again, 0);
    h.stop();
}

#[test]
fn a_deleted_executable_is_reported_once_and_told_from_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let gone = bin.path().join("ward-test-gone");
    let upgraded = bin.path().join("ward-test-upgraded");
    std::fs::copy("/bin/sleep", &gone).unwrap();
    std::fs::copy("/bin/sleep", &upgraded).unwrap();
    let (h, events) = start(config(&dir, Mode::Connector));
    let a = Kill(Command::new(&gone).arg("30").spawn().unwrap());
    let b = Kill(Command::new(&upgraded).arg("30").spawn().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(&gone).unwrap();
    // An upgrade: a new file renamed over the old one.
    let tmp = bin.path().join("new");
    std::fs::copy("/bin/sleep", &tmp).unwrap();
    std::fs::rename(&tmp, &upgraded).unwrap();
    let pid_of = |e: &Event| match &e.data {
        EventData::ProcessExeDeleted(d) => Some((d.process.pid, d.replaced)),
        _ => None,
    };
    let (ap, bp) = (a.0.id(), b.0.id());
    let e = wait_event(&events, "deleted exe", |e| {
        pid_of(e).is_some_and(|(p, _)| p == ap)
    });
    assert_eq!(pid_of(&e), Some((ap, false)));
    let e = wait_event(&events, "replaced exe", |e| {
        pid_of(e).is_some_and(|(p, _)| p == bp)
    });
    assert_eq!(pid_of(&e), Some((bp, true)));
    std::thread::sleep(Duration::from_millis(600));
    let n = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| pid_of(e).is_some_and(|(p, _)| p == ap))
        .count();
    assert_eq!(n, 1, "reported once");
    h.stop();
}

#[test]
fn sustained_cpu_is_reported_with_package_ownership() {
    let dir = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let spin = bin.path().join("ward-test-spin");
    std::fs::copy("/bin/dash", &spin).unwrap();
    let mut cfg = config(&dir, Mode::Connector);
    cfg.cpu = Some(CpuConfig {
        sample: Duration::from_millis(250),
        window: Duration::from_millis(1500),
        // The machine may be busy: a spinning process still gets this much.
        percent: 10,
    });
    let (h, events) = start(cfg);
    let busy = Kill(
        Command::new(&spin)
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    );
    let pid = busy.0.id();
    let e = wait_event(
        &events,
        "cpu report",
        |e| matches!(&e.data, EventData::ProcessCpu(c) if c.process.pid == pid),
    );
    let EventData::ProcessCpu(c) = &e.data else {
        unreachable!()
    };
    assert!(c.cpu_percent >= 10, "{}", c.cpu_percent);
    assert_eq!(c.window_secs, 1);
    if std::path::Path::new("/var/lib/dpkg/info").is_dir() {
        assert_eq!(
            c.packaged,
            Some(false),
            "a copy in a temp dir is no package's"
        );
    }
    h.stop();
}

#[test]
fn new_tcp_connections_are_reported_with_their_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir, Mode::Connector);
    cfg.net = Some(NetConfig {
        interval: Duration::from_millis(100),
        inbound: false,
    });
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (h, events) = start(cfg);
    std::thread::sleep(Duration::from_millis(300));
    let child = Kill(
        Command::new("/bin/bash")
            .args([
                "-c",
                &format!("exec 3<>/dev/tcp/127.0.0.1/{port}; sleep 30; true"),
            ])
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let _conn = l.accept().unwrap();
    let e = wait_event(
        &events,
        "net.connect",
        |e| matches!(&e.data, EventData::NetConnect(n) if n.dst_port == port),
    );
    let EventData::NetConnect(n) = &e.data else {
        unreachable!()
    };
    assert!(n.initiated);
    assert_eq!(n.dst_ip.to_string(), "127.0.0.1");
    let p = n.process.as_ref().expect("owner found");
    assert_eq!(p.pid, pid);
    assert!(p.exe.ends_with("/bash"), "{}", p.exe);
    h.stop();
}
