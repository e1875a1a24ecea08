//! `ward-agent replay`: the real binary over log files written by the test.

use std::process::Command;

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ward-agent"))
}

fn line(sec: u32, ip: &str, port: u32) -> String {
    format!(
        "Dec  3 10:{:02}:{:02} web-1 sshd[7]: Failed password for root from {ip} port {port} ssh2\n",
        sec / 60,
        sec % 60
    )
}

#[test]
fn brute_force_sources_are_reported_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    // 192.0.2.1: 8 failures in 70 s (threshold: 8 in 120 s) → one alert.
    // 192.0.2.2: 7 failures → none. 2001:db8::9: 8 failures spread over
    // 16 minutes (never 8 within 120 s) → none.
    let mut text = String::new();
    for i in 0..8 {
        text += &line(i * 10, "192.0.2.1", 40000 + i);
    }
    for i in 0..7 {
        text += &line(100 + i * 5, "192.0.2.2", 41000 + i);
    }
    for i in 0..8 {
        text += &line(200 + i * 120, "2001:db8::9", 42000 + i);
    }
    std::fs::write(&log, text).unwrap();
    let out = agent()
        .args(["replay", "--source", "auth", "--year", "2026"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let brute: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| a["rule_id"] == "ward-login-001")
        .collect();
    assert_eq!(brute.len(), 1, "{alerts:?}");
    assert_eq!(brute[0]["group"]["SourceIp"], "192.0.2.1");
    assert_eq!(brute[0]["evidence"].as_array().unwrap().len(), 8);
    assert_eq!(brute[0]["severity"], "suspicious");
}

#[test]
fn extra_rules_from_a_directory_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("secure");
    std::fs::write(&log, line(5, "192.0.2.77", 5555)).unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("probe.yml"),
        "title: Failure from the probe network\nid: test-probe\nlevel: high\n\
         detection:\n  sel:\n    kind: auth.ssh_failed\n    SourceIp|cidr: 192.0.2.64/26\n  condition: sel\n",
    )
    .unwrap();
    let out = agent()
        .args(["replay", "--source", "auth", "--year", "2026", "--rules"])
        .arg(&rules)
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{text}");
    assert_eq!(alerts[0]["rule_id"], "test-probe");
    assert_eq!(alerts[0]["severity"], "urgent");
    // A broken rule file is a usage error naming the rule error code.
    std::fs::write(
        rules.join("bad.yml"),
        "title: x\ndetection:\n  sel:\n    a|nope: 1\n  condition: sel\n",
    )
    .unwrap();
    let out = agent()
        .args(["replay", "--rules"])
        .arg(&rules)
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("W1001"));
    // Unknown source kind, missing file.
    let out = agent()
        .args(["replay", "--source", "wtmp"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = agent()
        .args(["replay"])
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
}

/// `ADDRESS COUNT` lines (comments with `#`) as a map.
fn address_counts(text: &str) -> std::collections::BTreeMap<String, usize> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (ip, n) = l.split_once(' ')?;
            Some((ip.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn replaying_the_openssh_corpus_alerts_exactly_the_brute_forcing_sources() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("../shared/corpora/loghub-openssh/OpenSSH_2k.log");
    assert!(corpus.is_file(), "corpus {} is missing", corpus.display());
    // The hand-checked list of the ward-rules acceptance test, derived from
    // the log by its awk oracle (crates/rules/tests/golden/).
    let want = address_counts(
        &std::fs::read_to_string(
            root.join("crates/rules/tests/golden/openssh_2k_bruteforce.expected"),
        )
        .unwrap(),
    );
    assert_eq!(want.len(), 6);
    let out = agent()
        .args(["replay", "--source", "auth", "--year", "2026"])
        .arg(&corpus)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = std::collections::BTreeMap::new();
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let a: serde_json::Value = serde_json::from_str(l).unwrap();
        if a["rule_id"] == "ward-login-001" {
            *got.entry(a["group"]["SourceIp"].as_str().unwrap().to_string())
                .or_insert(0usize) += 1;
        }
    }
    assert_eq!(got, want);
}
