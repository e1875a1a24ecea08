//! Golden tests of the built-in rules: every `golden/*.log` is replayed
//! (year 2026) through the built-in rule set; the alerts, one JSON object a
//! line, must equal `golden/*.alerts`. Event ids count events in the order
//! they are parsed, from 1. `WARD_BLESS=1` rewrites the expected files
//! (review every line by hand before committing).

use std::path::{Path, PathBuf};
use ward_rules::{replay, RuleSetBuilder};

#[test]
fn golden_alerts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var("WARD_BLESS").is_ok_and(|v| v == "1");
    let set = RuleSetBuilder::with_builtin()
        .build()
        .expect("built-in rules compile");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 5, "{logs:?}");
    let mut failures = Vec::new();
    for log in &logs {
        let text = std::fs::read_to_string(log).expect("read log");
        let mut got = String::new();
        for a in replay(text.lines(), 2026, &set) {
            got.push_str(&serde_json::to_string(&a).expect("alerts serialize"));
            got.push('\n');
        }
        let out = log.with_extension("alerts");
        if bless {
            std::fs::write(&out, &got).expect("write");
            continue;
        }
        let want = std::fs::read_to_string(&out).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- got\n{got}--- want\n{want}",
                out.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn replay_crosses_new_year() {
    // 8 failures straddling midnight of 31 December: one window of 8 s.
    let lines: Vec<String> = (0..8)
        .map(|i| {
            let (day, sec) = if i < 4 {
                ("Dec 31 23:59", 56 + i)
            } else {
                ("Jan  1 00:00", i - 4)
            };
            format!(
                "{day}:{sec:02} h sshd[1]: Failed password for root from 192.0.2.5 port 22 ssh2"
            )
        })
        .collect();
    let set = RuleSetBuilder::with_builtin()
        .build()
        .expect("built-in rules compile");
    let alerts = replay(lines.iter().map(String::as_str), 2026, &set);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    // date -u -d '2026-12-31 23:59:56' +%s → 1798761596; last 2027-01-01 00:00:03.
    assert_eq!(alerts[0].first_ms, 1_798_761_596_000);
    assert_eq!(alerts[0].last_ms, 1_798_761_603_000);
}
