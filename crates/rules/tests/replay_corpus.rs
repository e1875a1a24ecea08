//! ACCEPTANCE: replaying the loghub OpenSSH corpus raises single-source
//! brute-force alerts (ward-login-001) for exactly the sources that cross
//! the threshold. The expected list (`golden/openssh_2k_bruteforce.expected`,
//! checked by hand) is derived from the log independently of Ward by
//! `golden/openssh_2k_bruteforce.awk`, which this test runs again. The
//! corpus is read from `shared/` beside this checkout; a missing corpus or
//! a missing `awk` fails the test.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use ward_rules::{replay, RuleSetBuilder};

fn corpus_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/loghub-openssh/OpenSSH_2k.log")
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// `ADDRESS COUNT` lines (comments with `#`) as a map.
fn address_counts(text: &str) -> BTreeMap<String, usize> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (ip, n) = l.split_once(' ').expect("ADDRESS COUNT");
            (ip.to_string(), n.trim().parse().expect("a count"))
        })
        .collect()
}

#[test]
fn corpus_brute_force_sources_are_exactly_those_over_the_threshold() {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "corpus {} is missing ({e}): the acceptance test needs it",
            path.display()
        )
    });
    let want = address_counts(
        &std::fs::read_to_string(golden("openssh_2k_bruteforce.expected")).expect("expected list"),
    );
    assert_eq!(want.len(), 6, "the hand-checked list");
    // The oracle, run now: awk over the same file.
    let o = Command::new("awk")
        .arg("-f")
        .arg(golden("openssh_2k_bruteforce.awk"))
        .arg(&path)
        .output()
        .expect("awk runs (Debian: mawk, priority required)");
    assert!(
        o.status.success(),
        "awk: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        address_counts(&String::from_utf8_lossy(&o.stdout)),
        want,
        "the awk derivation and the expected list agree"
    );

    let set = RuleSetBuilder::with_builtin()
        .build()
        .expect("built-in rules compile");
    let alerts = replay(text.lines(), 2026, &set);
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.rule_id == "ward-login-001") {
        let ip = a
            .group
            .get("SourceIp")
            .expect("grouped by SourceIp")
            .clone();
        assert_eq!(a.host, "LabSZ");
        assert_eq!(a.evidence.len(), 8, "{a:?}");
        assert!(a.last_ms - a.first_ms <= 120_000, "{a:?}");
        *got.entry(ip).or_default() += 1;
    }
    assert_eq!(got, want);
    // The one successful login (fztu from 119.137.62.142) is not from a
    // brute-forcing source, so no urgent alert; it is the account's first
    // login seen, so it sets the baseline without a first-seen alert.
    assert!(
        alerts.iter().all(|a| a.rule_id != "ward-login-003"),
        "{alerts:?}"
    );
    assert!(alerts.iter().all(|a| a.rule_id != "ward-login-004"));
    assert!(alerts.iter().all(|a| a.rule_id != "ward-login-005"));
}
