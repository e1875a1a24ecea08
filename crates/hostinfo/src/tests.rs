use super::*;
use std::fs;
use std::net::IpAddr;
use std::process::Command;

/// A fake root with the files the collector reads.
fn fixture_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in [
        "proc/sys/kernel",
        "proc/self",
        "etc",
        "var/lib/dbus",
        "sys/class/dmi/id",
    ] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::write(r.join("proc/sys/kernel/hostname"), "web-01\n").unwrap();
    fs::write(r.join("proc/sys/kernel/osrelease"), "6.1.0-18-amd64\n").unwrap();
    fs::write(r.join("proc/uptime"), "86461.93 170000.12\n").unwrap();
    fs::write(
        r.join("proc/self/status"),
        "Name:\tward-agent\nVmPeak:\t  9000 kB\nVmRSS:\t    6144 kB\nThreads:\t1\n",
    )
    .unwrap();
    fs::write(
        r.join("etc/os-release"),
        "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
    )
    .unwrap();
    root
}

#[test]
fn collector_reads_fixture_files() {
    let root = fixture_root();
    let mut c = HostCollector::new(HostPaths::under(root.path()), "0.1.0");
    let r = c.collect();
    assert_eq!(r.hostname, "web-01");
    assert_eq!(r.os, "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(r.kernel, "6.1.0-18-amd64");
    assert_eq!(r.uptime_secs, 86461);
    assert_eq!(r.agent_rss_bytes, 6144 * 1024);
    assert_eq!(r.agent_version, "0.1.0");
    assert!(!r.arch.is_empty());
    // No stat fixture: no CPU figure rather than a wrong one.
    assert_eq!(r.agent_cpu_percent, 0.0);
}

#[test]
fn missing_files_give_placeholders_not_errors() {
    let root = tempfile::tempdir().unwrap();
    let paths = HostPaths::under(root.path());
    assert_eq!(hostname(&paths), "unknown");
    assert_eq!(os_name(&paths), "Linux");
    assert_eq!(kernel(&paths), "unknown");
    assert_eq!(uptime_secs(&paths), 0);
}

#[test]
fn os_release_forms() {
    assert_eq!(
        parse_os_release("PRETTY_NAME='Alpine Linux v3.19'\n").as_deref(),
        Some("Alpine Linux v3.19")
    );
    assert_eq!(
        parse_os_release("# c\nNAME=Fedora\nVERSION=\"39 (Server Edition)\"\n").as_deref(),
        Some("Fedora 39 (Server Edition)")
    );
    assert_eq!(
        parse_os_release("NAME=\"A \\\"quoted\\\" OS\"\n").as_deref(),
        Some("A \"quoted\" OS")
    );
    assert_eq!(parse_os_release("ID=x\nPRETTY_NAME=\"\"\n"), None);
    assert_eq!(parse_os_release("garbage\n"), None);
}

#[test]
fn os_release_falls_back_to_usr_lib() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("usr/lib")).unwrap();
    fs::write(
        root.path().join("usr/lib/os-release"),
        "PRETTY_NAME=Ubuntu\n",
    )
    .unwrap();
    assert_eq!(os_name(&HostPaths::under(root.path())), "Ubuntu");
}

#[test]
fn proc_stat_ticks_survive_odd_command_names() {
    // Fields 3..=15 written out by number: utime is field 14, stime field 15.
    let tail: Vec<String> = (3..=20)
        .map(|f| match f {
            3 => "S".to_string(),
            14 => "111".to_string(),
            15 => "222".to_string(),
            n => n.to_string(),
        })
        .collect();
    let line = format!("4242 (we ird) (name)) {}\n", tail.join(" "));
    assert_eq!(parse_proc_stat_cpu_ticks(&line), Some(333));
    assert_eq!(parse_proc_stat_cpu_ticks("4242 (short) S 1 2"), None);
    assert_eq!(parse_proc_stat_cpu_ticks("no parens"), None);
    // The real file of this process parses.
    let own = fs::read_to_string("/proc/self/stat").unwrap();
    assert!(parse_proc_stat_cpu_ticks(&own).is_some());
}

#[test]
fn status_rss_and_uptime() {
    assert_eq!(parse_status_rss_bytes("VmRSS:\t 10 kB\n"), Some(10240));
    assert_eq!(parse_status_rss_bytes("VmHWM:\t 10 kB\n"), None);
    assert_eq!(parse_status_rss_bytes("VmRSS:\t 10 MB\n"), None);
    assert_eq!(parse_uptime("12.99 1.00"), Some(12));
    assert_eq!(parse_uptime(""), None);
}

#[test]
fn cpu_percent_arithmetic() {
    assert_eq!(cpu_percent(50, 100, 1.0), 50.0);
    assert_eq!(cpu_percent(200, 100, 2.0), 100.0);
    assert_eq!(cpu_percent(5, 100, 0.0), 0.0);
}

#[test]
fn ip_filtering() {
    let ips: Vec<IpAddr> = [
        "127.0.0.1",
        "10.0.0.5",
        "::1",
        "fe80::1",
        "2001:db8::7",
        "0.0.0.0",
        "10.0.0.5",
        "192.0.2.1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(
        public_ips(ips),
        vec!["10.0.0.5", "192.0.2.1", "2001:db8::7"]
    );
    // The real interfaces include loopback, which the report leaves out.
    let real = interface_ips();
    assert!(real.contains(&"127.0.0.1".parse().unwrap()), "{real:?}");
    assert!(!public_ips(real).contains(&"127.0.0.1".to_string()));
}

#[test]
fn machine_id_fallback_order() {
    let root = fixture_root();
    let r = root.path();
    let paths = HostPaths::under(r);
    // Nothing but the hostname.
    assert_eq!(machine_id(&paths), "web-01");
    fs::write(r.join("sys/class/dmi/id/product_uuid"), "UUID-3\n").unwrap();
    assert_eq!(machine_id(&paths), "UUID-3");
    fs::write(r.join("var/lib/dbus/machine-id"), "dbus-2\n").unwrap();
    assert_eq!(machine_id(&paths), "dbus-2");
    fs::write(r.join("etc/machine-id"), "\n").unwrap();
    assert_eq!(
        machine_id(&paths),
        "dbus-2",
        "an empty machine-id is skipped"
    );
    fs::write(r.join("etc/machine-id"), "etc-1\n").unwrap();
    assert_eq!(machine_id(&paths), "etc-1");
}

#[test]
fn fingerprint_matches_sha256sum_oracle() {
    let root = fixture_root();
    fs::write(root.path().join("etc/machine-id"), "abc123\n").unwrap();
    let prefix = tempfile::tempdir().unwrap();
    let canon = fs::canonicalize(prefix.path()).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"printf 'ward-fp-v1\0%s\0%s' "$1" "$2" | sha256sum | cut -d' ' -f1"#)
        .arg("sh")
        .arg("abc123")
        .arg(&canon)
        .output()
        .unwrap();
    let expected = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        fingerprint_with(&HostPaths::under(root.path()), prefix.path()),
        expected.trim()
    );
}

#[test]
fn fingerprint_depends_on_machine_and_canonical_prefix() {
    let root = fixture_root();
    let paths = HostPaths::under(root.path());
    let base = tempfile::tempdir().unwrap();
    let real = base.path().join("real");
    fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&real, base.path().join("link")).unwrap();

    // A prefix that does not exist yet, reached through a symlink and `..`,
    // has the fingerprint it will have once created.
    let before = fingerprint_with(&paths, &base.path().join("link/x/../ward"));
    fs::create_dir_all(real.join("ward")).unwrap();
    let after = fingerprint_with(&paths, &real.join("ward"));
    assert_eq!(before, after);
    assert_eq!(
        canonical_prefix(&base.path().join("link/ward")),
        fs::canonicalize(real.join("ward")).unwrap()
    );

    let other_prefix = fingerprint_with(&paths, &real.join("ward2"));
    assert_ne!(after, other_prefix);
    fs::write(root.path().join("etc/machine-id"), "another-machine\n").unwrap();
    assert_ne!(after, fingerprint_with(&paths, &real.join("ward")));
    assert_eq!(after.len(), 64);
}
