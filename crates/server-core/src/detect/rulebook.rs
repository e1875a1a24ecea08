//! The rule book: Ward's built-in rules, the rule files of `rules_dir`
//! (read at start), the rule files imported with `ward-server rules import`
//! (SigmaHQ's or the operator's, kept in the store), and the operator's
//! overrides, compiled into one rule set, with a report of every rule:
//! loaded, or why not.
//!
//! An added rule (of `rules_dir` or imported) that does not compile is left
//! out and reported with its error code (one bad SigmaHQ rule must not stop
//! detection). An imported rule is **loaded** when it compiles and can work
//! as written: some Ward event kind has its log source (an `auditd` rule
//! sees nothing: no Ward collector reads auditd) and every field it tests is
//! collected for that log source (`DestinationHostname` is not). Imported
//! rules that compile but cannot work are kept disabled: a filter on a field
//! that is never present never excludes anything, so running them would
//! raise alerts the rule's author did not intend.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use ward_rules::{
    ErrorCode, RuleError, RuleInfo, RuleOverride, RuleSet, RuleSetBuilder, RuleSettings,
};
use ward_store::RuleSource;

use super::rule_files::RuleFile;

/// Source names of imported files start with this.
pub const IMPORTED_PREFIX: &str = "imported/";

/// One rule (or one file that did not load) as the API and CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    /// The rule id; for a file that did not parse, its name.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The file it came from (`builtin/...`, a path under `rules_dir`, or
    /// the imported name).
    pub file: String,
    /// `builtin`, `rules_dir` or `imported`.
    pub origin: &'static str,
    /// The rule's author (shown with its alerts, as the Detection Rule
    /// License of SigmaHQ rules asks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<&'static str>,
    pub techniques: Vec<String>,
    /// `loaded` or `not_loaded`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether it raises alerts (loaded, enabled, and not only feeding a
    /// correlation).
    pub alerts: bool,
    /// Whether it is enabled (an override or, for an imported rule that
    /// cannot work, the rule book turned it off).
    pub enabled: bool,
    /// `event_count`, `value_count`, ... for correlations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<&'static str>,
    /// The rule error (`W10xx ...`) when it did not compile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Event kinds it sees.
    pub kinds: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub logsource: String,
}

/// The compiled set and its report.
#[derive(Debug, Clone)]
pub struct RuleBook {
    pub set: RuleSet,
    pub rules: Vec<RuleReport>,
    /// The added rules left out because they do not compile.
    pub errors: Vec<RuleError>,
}

impl RuleBook {
    /// `(loaded, not loaded)` among imported rules.
    pub fn imported_counts(&self) -> (usize, usize) {
        let imported = self.rules.iter().filter(|r| r.origin == "imported");
        let loaded = imported.clone().filter(|r| r.status == "loaded").count();
        (loaded, imported.count() - loaded)
    }
}

/// The rule file names of the imported sources, next to those of
/// `rules_dir`, as the rule book compiles them.
pub fn imported_files(imported: &[RuleSource]) -> Vec<RuleFile> {
    imported
        .iter()
        .map(|s| RuleFile {
            name: format!("{IMPORTED_PREFIX}{}", s.name),
            text: s.body.clone(),
        })
        .collect()
}

fn is_builtin(file: &str) -> bool {
    ward_rules::BUILTIN_SOURCES
        .iter()
        .any(|(name, _)| *name == file)
}

fn origin(file: &str) -> &'static str {
    if file.starts_with(IMPORTED_PREFIX) {
        "imported"
    } else if is_builtin(file) {
        "builtin"
    } else {
        "rules_dir"
    }
}

fn display_file(file: &str) -> String {
    file.strip_prefix(IMPORTED_PREFIX)
        .unwrap_or(file)
        .to_string()
}

/// Errors that fail the whole book: in the built-in rules, or in the
/// overrides (a bad setting, an override naming no rule).
fn is_fatal(e: &RuleError) -> bool {
    e.code == ErrorCode::BadSetting || e.file.as_deref().is_none_or(is_builtin)
}

fn why_unusable(r: &RuleInfo) -> String {
    if r.kinds.is_empty() {
        let needs = if r.logsource.contains("auditd") {
            " (it needs auditd, which Ward does not read)"
        } else {
            ""
        };
        format!(
            "no Ward event has its log source `{}`{needs}",
            if r.logsource.is_empty() {
                "(none)"
            } else {
                &r.logsource
            }
        )
    } else {
        format!(
            "it tests {} that Ward does not collect for its log source `{}`",
            r.unknown_fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
            r.logsource
        )
    }
}

fn compile(
    added: &[RuleFile],
    overrides: &BTreeMap<String, RuleOverride>,
) -> (RuleSet, Vec<RuleError>) {
    let mut b = RuleSetBuilder::with_builtin();
    for f in added {
        b.add_source(f.name.clone(), f.text.clone());
    }
    b.settings(RuleSettings {
        rules: overrides.clone(),
    });
    b.build_lenient()
}

fn fatal_message(errors: &[RuleError]) -> Option<String> {
    let fatal: Vec<String> = errors
        .iter()
        .filter(|e| is_fatal(e))
        .map(|e| e.to_string())
        .collect();
    (!fatal.is_empty()).then(|| fatal.join("; "))
}

/// Builds the book from the added rule files (those of `rules_dir` and
/// [`imported_files`]). `Err` when the built-in rules or the overrides do
/// not compile (an override naming no loaded rule, a bad threshold): added
/// files' own errors only leave their rules out.
pub fn build(
    added: &[RuleFile],
    overrides: &BTreeMap<String, RuleOverride>,
) -> Result<RuleBook, String> {
    let (set, errors) = compile(added, overrides);
    if let Some(e) = fatal_message(&errors) {
        return Err(e);
    }
    // Imported rules that compile but cannot work run disabled.
    let unusable: HashSet<String> = set
        .rules()
        .filter(|r| origin(&r.file) == "imported" && !r.usable())
        .map(|r| r.id.clone())
        .collect();
    let set = if unusable.is_empty() {
        set
    } else {
        let mut o = overrides.clone();
        for id in &unusable {
            o.entry(id.clone()).or_default().enabled = Some(false);
        }
        let (set, errors) = compile(added, &o);
        if let Some(e) = fatal_message(&errors) {
            return Err(e);
        }
        set
    };
    let mut rules: Vec<RuleReport> = set
        .rules()
        .map(|r| {
            let bad = unusable.contains(&r.id);
            RuleReport {
                id: r.id.clone(),
                title: Some(r.title.clone()),
                file: display_file(&r.file),
                origin: origin(&r.file),
                author: r.author.clone(),
                severity: Some(r.severity.as_str()),
                techniques: r.techniques.clone(),
                status: if bad { "not_loaded" } else { "loaded" },
                reason: bad.then(|| why_unusable(r)),
                alerts: r.alerts,
                enabled: r.enabled,
                correlation: r.correlation.map(|c| c.as_str()),
                error: None,
                kinds: r.kinds.iter().map(|k| k.to_string()).collect(),
                logsource: r.logsource.clone(),
            }
        })
        .collect();
    for e in &errors {
        let file = e.file.clone().unwrap_or_default();
        rules.push(RuleReport {
            id: e.rule.clone().unwrap_or_else(|| display_file(&file)),
            title: None,
            file: display_file(&file),
            origin: origin(&file),
            author: None,
            severity: None,
            techniques: Vec::new(),
            status: "not_loaded",
            reason: Some(e.to_string()),
            alerts: false,
            enabled: false,
            correlation: None,
            error: Some(e.to_string()),
            kinds: Vec::new(),
            logsource: String::new(),
        });
    }
    Ok(RuleBook { set, rules, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, body: &str) -> RuleSource {
        RuleSource {
            name: name.into(),
            body: body.into(),
            sha256: String::new(),
            imported_at: 0,
        }
    }

    const PROC: &str = "title: Base64 decode\nid: 11111111-0000-0000-0000-000000000001\nauthor: Jane Doe\nlevel: medium\n\
        logsource: {product: linux, category: process_creation}\n\
        detection: {selection: {Image|endswith: /base64, CommandLine|contains: ' -d'}, condition: selection}\n";
    const AUDITD: &str = "title: Audit\nid: 22222222-0000-0000-0000-000000000002\nauthor: A\nlevel: high\n\
        logsource: {product: linux, service: auditd}\ndetection: {sel: {type: EXECVE}, condition: sel}\n";
    const HOSTNAME: &str =
        "title: Pool\nid: 33333333-0000-0000-0000-000000000003\nauthor: B\nlevel: high\n\
        logsource: {product: linux, category: network_connection}\n\
        detection: {sel: {DestinationHostname: pool.example}, condition: sel}\n";
    const BROKEN: &str =
        "title: x\nid: 44444444-0000-0000-0000-000000000004\nlogsource: {product: linux}\n\
        detection: {sel: {CommandLine|windash: '-x'}, condition: sel}\n";

    #[test]
    fn imported_rules_report_loaded_or_why_not() {
        let book = build(
            &imported_files(&[
                src("proc/b64.yml", PROC),
                src("auditd/a.yml", AUDITD),
                src("net/pool.yml", HOSTNAME),
                src("bad.yml", BROKEN),
                src("garbage.yml", "title: [unclosed\n"),
            ]),
            &BTreeMap::new(),
        )
        .unwrap();
        let r = |id: &str| book.rules.iter().find(|r| r.id == id).unwrap().clone();
        let ok = r("11111111-0000-0000-0000-000000000001");
        assert_eq!(
            (ok.status, ok.origin, ok.file.as_str()),
            ("loaded", "imported", "proc/b64.yml")
        );
        assert_eq!(ok.author.as_deref(), Some("Jane Doe"));
        assert!(ok.alerts);
        let au = r("22222222-0000-0000-0000-000000000002");
        assert_eq!(au.status, "not_loaded");
        assert!(
            au.reason.as_deref().unwrap().contains("needs auditd"),
            "{au:?}"
        );
        assert!(!au.alerts, "disabled");
        let h = r("33333333-0000-0000-0000-000000000003");
        assert!(
            h.reason
                .as_deref()
                .unwrap()
                .contains("`DestinationHostname`"),
            "{h:?}"
        );
        assert!(!h.alerts);
        let b = r("44444444-0000-0000-0000-000000000004");
        assert!(b.reason.as_deref().unwrap().starts_with("W1003"), "{b:?}");
        let g = book.rules.iter().find(|r| r.file == "garbage.yml").unwrap();
        assert!(g.reason.as_deref().unwrap().starts_with("W1005"), "{g:?}");
        assert_eq!(book.imported_counts(), (1, 4));
        // Built-in rules are all loaded.
        assert!(book
            .rules
            .iter()
            .filter(|r| r.origin == "builtin")
            .all(|r| r.status == "loaded"));
    }

    #[test]
    fn rules_dir_files_are_their_own_origin_and_left_out_with_their_error() {
        let site = RuleFile {
            name: "/srv/ward/rules/site.yml".into(),
            text: PROC.replace("11111111-0000-0000-0000-000000000001", "site-b64"),
        };
        let broken = RuleFile {
            name: "/srv/ward/rules/broken.yml".into(),
            text: BROKEN.into(),
        };
        let mut added = vec![site, broken];
        added.extend(imported_files(&[src("p.yml", PROC)]));
        let book = build(&added, &BTreeMap::new()).unwrap();
        let r = |id: &str| book.rules.iter().find(|r| r.id == id).unwrap().clone();
        let site = r("site-b64");
        assert_eq!(
            (site.origin, site.status, site.file.as_str()),
            ("rules_dir", "loaded", "/srv/ward/rules/site.yml")
        );
        assert!(site.enabled && site.error.is_none());
        let bad = r("44444444-0000-0000-0000-000000000004");
        assert_eq!((bad.origin, bad.status), ("rules_dir", "not_loaded"));
        assert!(
            bad.error.as_deref().unwrap().starts_with("W1003"),
            "{bad:?}"
        );
        assert_eq!(book.errors.len(), 1);
        assert_eq!(r("11111111-0000-0000-0000-000000000001").origin, "imported");
        assert_eq!(book.imported_counts(), (1, 0));
    }

    #[test]
    fn overrides_may_name_imported_rules_but_must_compile() {
        let mut o = BTreeMap::new();
        o.insert(
            "11111111-0000-0000-0000-000000000001".to_string(),
            RuleOverride {
                enabled: Some(false),
                ..RuleOverride::default()
            },
        );
        let book = build(&imported_files(&[src("p.yml", PROC)]), &o).unwrap();
        assert!(
            !book
                .set
                .rule("11111111-0000-0000-0000-000000000001")
                .unwrap()
                .alerts
        );
        let e = build(&[], &o).unwrap_err();
        assert!(e.contains("W1015"), "{e}");
    }
}
