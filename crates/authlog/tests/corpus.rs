//! Classification of every line of the loghub OpenSSH corpus against the
//! corpus' own structured CSV (templates assigned by loghub, not by us).
//! The corpus lives in the steering repo's `shared/` beside this checkout;
//! a missing corpus is a failure, never a skip.

use std::collections::BTreeMap;
use std::path::PathBuf;
use ward_authlog::{parse_line, ParseContext};
use ward_events::EventData;

fn corpus(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/loghub-openssh")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "corpus file {} is missing ({e}): it must be present beside the checkout",
            path.display()
        )
    })
}

/// Kind (and count) each loghub template must produce; every other template
/// must produce nothing.
fn expected_for(event_id: &str, content: &str) -> Option<(&'static str, usize)> {
    let kind = match event_id {
        // Failed password for <*> ... / for invalid user <*> ... / Failed none ...
        "E9" | "E10" | "E8" => "auth.ssh_failed",
        // message repeated <*> times: [ Failed password for root from <*> port <*>]
        "E14" => {
            let n = content
                .strip_prefix("message repeated ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .expect("E14 content has a count");
            return Some(("auth.ssh_failed", n));
        }
        "E13" => "auth.ssh_invalid_user",
        "E1" => "auth.ssh_accepted",
        // pam_unix(sshd:auth): authentication failure; ... (with and without user=)
        "E19" | "E20" => "auth.pam_failed",
        "E23" => "auth.session_opened",
        "E22" => "auth.session_closed",
        _ => return None,
    };
    Some((kind, 1))
}

#[test]
fn every_corpus_line_is_classified_as_its_template_says() {
    let log = corpus("OpenSSH_2k.log");
    let csv = corpus("OpenSSH_2k.log_structured.csv");
    let lines: Vec<&str> = log.lines().collect();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(lines.len(), 2000);
    assert_eq!(rows.len(), 2000);
    let ctx = ParseContext::new(2026, "OpenSSH_2k.log");
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (line, row)) in lines.iter().zip(&rows).enumerate() {
        let (content, event_id) = (row[6], row[7]);
        assert!(
            line.trim_end().ends_with(content.trim_end()),
            "line {} does not match CSV",
            i + 1
        );
        let events: Vec<_> = parse_line(line, &ctx).collect();
        match expected_for(event_id, content) {
            None => assert!(
                events.is_empty(),
                "line {} ({event_id}) gave {events:?}",
                i + 1
            ),
            Some((kind, n)) => {
                assert_eq!(events.len(), n, "line {} ({event_id})", i + 1);
                for e in &events {
                    assert_eq!(e.kind(), kind, "line {} ({event_id})", i + 1);
                    assert_eq!(e.host, "LabSZ");
                    // The address sshd wrote: the token after " from " in the content.
                    if let EventData::SshFailed(f) = &e.data {
                        let ip = content
                            .rsplit(" from ")
                            .next()
                            .and_then(|t| t.split(' ').next());
                        assert_eq!(ip, Some(f.src_ip.to_string().as_str()), "line {}", i + 1);
                    }
                }
                *by_kind.entry(kind).or_default() += n;
            }
        }
    }
    // Totals from the CSV's template counts (awk -F, '{print $8}' | sort | uniq -c):
    // E9 383 + E10 135 + E8 4 + E14 (5 + 5 repeats) = 532 failures.
    assert_eq!(by_kind.get("auth.ssh_failed"), Some(&532));
    assert_eq!(by_kind.get("auth.ssh_invalid_user"), Some(&113));
    assert_eq!(by_kind.get("auth.ssh_accepted"), Some(&1));
    assert_eq!(by_kind.get("auth.pam_failed"), Some(&(110 + 384)));
    assert_eq!(by_kind.get("auth.session_opened"), Some(&1));
    assert_eq!(by_kind.get("auth.session_closed"), Some(&1));
}
