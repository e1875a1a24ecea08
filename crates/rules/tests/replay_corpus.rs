//! ACCEPTANCE: replaying the loghub OpenSSH corpus raises single-source
//! brute-force alerts (ward-login-001) for exactly the sources that cross
//! the threshold. The corpus is read from the steering repo's `shared/`
//! beside this checkout; a missing corpus fails the test.

use std::collections::BTreeMap;
use std::path::PathBuf;
use ward_rules::{replay, RuleSetBuilder};

fn corpus() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/loghub-openssh/OpenSSH_2k.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "corpus {} is missing ({e}): the acceptance test needs it",
            path.display()
        )
    })
}

/// Expected sources and alert counts, derived from the log independently of
/// Ward by this command (run in shared/corpora/loghub-openssh/), which counts
/// `Failed <method> for` lines except method `none` (N for `message repeated
/// N times: [ Failed ...]`), per source address, and applies the documented
/// semantics: an alert when 8 failures fall within 120 s, and a new one only
/// after 120 s without such a window (see RULES.md):
///
/// ```sh
/// awk '
/// { split($3, hms, ":"); t = $2*86400 + hms[1]*3600 + hms[2]*60 + hms[3]; n = 0 }
/// /: Failed [^ ]+ for / && !/: Failed none for / { n = 1 }
/// /: message repeated [0-9]+ times: \[ Failed [^ ]+ for / && !/Failed none for/ { n = $8 }
/// n > 0 { match($0, / from [0-9a-f.:]+ port /); ip = substr($0, RSTART + 6, RLENGTH - 12);
///         for (k = 0; k < n; k++) { c[ip]++; ts[ip, c[ip]] = t } }
/// END { for (ip in c) { q = -1; a = 0; for (j = 8; j <= c[ip]; j++)
///         if (ts[ip, j] - ts[ip, j-7] <= 120) { if (ts[ip, j] > q) a++; q = ts[ip, j] + 120 };
///       if (a) print ip, a } }' OpenSSH_2k.log | sort -V
/// ```
///
/// Checked by hand: the densest 120 s window per source is 62, 30, 26, 23,
/// 18 and 10 failures for these six, and at most 7 for every other source
/// (123.235.32.19 has 7 failures in all), so no source sits on the edge.
/// 103.99.0.122 attacks in two bursts more than 120 s apart.
const EXPECTED: &[(&str, usize)] = &[
    ("5.188.10.180", 1),
    ("103.99.0.122", 2),
    ("112.95.230.3", 1),
    ("183.62.140.253", 1),
    ("185.190.58.151", 1),
    ("187.141.143.180", 1),
];

#[test]
fn corpus_brute_force_sources_are_exactly_those_over_the_threshold() {
    let text = corpus();
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
    let want: BTreeMap<String, usize> = EXPECTED
        .iter()
        .map(|(ip, n)| (ip.to_string(), *n))
        .collect();
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
