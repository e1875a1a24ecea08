//! Imported rule files.

use crate::{RuleSource, Store};

fn src(name: &str, body: &str, at: i64) -> RuleSource {
    RuleSource {
        name: name.into(),
        body: body.into(),
        sha256: format!("sha-of-{body}"),
        imported_at: at,
    }
}

/// Imports upsert by name, `replace_all` drops the others, every import
/// raises the revision, listing is in name order.
pub async fn rule_sources_import_replace_and_revision(s: &dyn Store) {
    assert_eq!(s.rule_sources_revision().await.unwrap(), 0);
    assert!(s.list_rule_sources().await.unwrap().is_empty());
    let r1 = s
        .import_rule_sources(&[src("b/x.yml", "one", 10), src("a.yml", "two", 10)], false)
        .await
        .unwrap();
    assert_eq!(r1, 1);
    let names: Vec<String> = s
        .list_rule_sources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["a.yml", "b/x.yml"]);
    // The same name again replaces its text; others stay.
    let r2 = s
        .import_rule_sources(&[src("a.yml", "three", 20)], false)
        .await
        .unwrap();
    assert_eq!(r2, 2);
    let all = s.list_rule_sources().await.unwrap();
    assert_eq!(
        all,
        vec![src("a.yml", "three", 20), src("b/x.yml", "one", 10)]
    );
    // Replace everything.
    let r3 = s
        .import_rule_sources(&[src("c.yml", "four", 30)], true)
        .await
        .unwrap();
    assert_eq!(r3, 3);
    assert_eq!(
        s.list_rule_sources().await.unwrap(),
        vec![src("c.yml", "four", 30)]
    );
    assert_eq!(s.rule_sources_revision().await.unwrap(), 3);
    // An empty replacing import clears and still raises the revision.
    assert_eq!(s.import_rule_sources(&[], true).await.unwrap(), 4);
    assert!(s.list_rule_sources().await.unwrap().is_empty());
    // Large texts round-trip.
    let big = "x".repeat(1 << 20);
    s.import_rule_sources(&[src("big.yml", &big, 1)], false)
        .await
        .unwrap();
    assert_eq!(s.list_rule_sources().await.unwrap()[0].body.len(), 1 << 20);
}
