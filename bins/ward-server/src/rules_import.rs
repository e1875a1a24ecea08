//! `ward-server rules import DIR [--replace] [--dry-run] [--json]` and
//! `ward-server rules list [--json] [--not-loaded]`: rule files imported
//! into the store (the running server rebuilds its rule book within
//! seconds), and the report of every rule, loaded or why not.

use std::path::Path;

use anyhow::{anyhow, Context};
use ward_config::ServerConfig;
use ward_pki::secret::sha256_hex;
use ward_rules::MAX_SOURCE_BYTES;
use ward_server_core::admin;
use ward_server_core::detect::rule_files::{self, RuleFile};
use ward_server_core::detect::rulebook::{self, RuleReport};
use ward_server_core::detect::settings::{self, DetectionSettings};
use ward_store::RuleSource;

use crate::Failure;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn print_report(rules: &[RuleReport], json: bool, only_not_loaded: bool) -> Result<(), Failure> {
    let shown: Vec<&RuleReport> = rules
        .iter()
        .filter(|r| !only_not_loaded || r.status != "loaded")
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&shown).context("printing the report")?
        );
        return Ok(());
    }
    for r in shown {
        let by = r
            .author
            .as_deref()
            .map(|a| format!(" by {a}"))
            .unwrap_or_default();
        match &r.reason {
            None => println!(
                "loaded      {}  {}  [{}{by}]",
                r.id,
                r.title.as_deref().unwrap_or(""),
                r.file
            ),
            Some(why) => println!("not loaded  {}  [{}]: {why}", r.id, r.file),
        }
    }
    Ok(())
}

/// Reads every rule file under `dir` (names relative to it). Files that are
/// too large or not UTF-8 are reported and left out.
fn read_dir(dir: &Path) -> Result<(Vec<RuleSource>, Vec<String>), Failure> {
    if !dir.is_dir() {
        return Err(Failure::Usage(anyhow!(
            "{} is not a directory of rule files",
            dir.display()
        )));
    }
    let mut sources = Vec::new();
    let mut skipped = Vec::new();
    let at = now_ms();
    let paths = rule_files::paths(dir).map_err(|e| Failure::Usage(e.into()))?;
    for p in paths {
        let name = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
        let bytes = std::fs::read(&p)
            .with_context(|| format!("reading {}", p.display()))
            .map_err(Failure::Usage)?;
        if bytes.len() > MAX_SOURCE_BYTES {
            skipped.push(format!("{name}: larger than {MAX_SOURCE_BYTES} bytes"));
            continue;
        }
        let Ok(body) = String::from_utf8(bytes) else {
            skipped.push(format!("{name}: not UTF-8 text"));
            continue;
        };
        sources.push(RuleSource {
            sha256: sha256_hex(body.as_bytes()),
            name,
            body,
            imported_at: at,
        });
    }
    Ok((sources, skipped))
}

/// The rule files of the server's `rules_dir` (they compile with the
/// imported ones; overrides may name their rules).
fn rules_dir_files(config: &ServerConfig) -> Result<Vec<RuleFile>, Failure> {
    rule_files::read_dir(&config.rules_dir(), config.rules_dir.is_none())
        .map_err(|e| Failure::Usage(e.into()))
}

pub async fn import(
    config: &ServerConfig,
    dir: &Path,
    replace: bool,
    dry_run: bool,
    json: bool,
) -> Result<(), Failure> {
    let (new, skipped) = read_dir(dir)?;
    let mut added = rules_dir_files(config)?;
    let store = admin::open_existing_store(&config.data_dir).await?;
    let stored = store
        .list_rule_sources()
        .await
        .context("reading imported rules")?;
    // The book as it will be: stored files (unless replaced) plus these.
    let mut all: Vec<RuleSource> = if replace {
        Vec::new()
    } else {
        stored
            .into_iter()
            .filter(|s| !new.iter().any(|n| n.name == s.name))
            .collect()
    };
    all.extend(new.iter().cloned());
    let det: DetectionSettings = settings::load(&*store, settings::DETECTION_KEY)
        .await
        .context("reading detection settings")?;
    added.extend(rulebook::imported_files(&all));
    let book = rulebook::build(&added, &det.rules).map_err(|e| {
        Failure::Usage(anyhow!(
            "the detection settings do not compile with these rules: {e}"
        ))
    })?;
    let names: std::collections::HashSet<String> = new.iter().map(|n| n.name.clone()).collect();
    let report: Vec<RuleReport> = book
        .rules
        .iter()
        .filter(|r| r.origin == "imported" && names.contains(&r.file))
        .cloned()
        .collect();
    print_report(&report, json, false)?;
    for s in &skipped {
        eprintln!("ward-server: skipped {s}");
    }
    let loaded = report.iter().filter(|r| r.status == "loaded").count();
    let revision = if dry_run {
        None
    } else {
        Some(
            store
                .import_rule_sources(&new, replace)
                .await
                .context("storing the rule files")?,
        )
    };
    eprintln!(
        "{} file(s), {} rule(s): {loaded} loaded, {} not loaded{}",
        new.len(),
        report.len(),
        report.len() - loaded,
        match revision {
            Some(r) =>
                format!("; stored (revision {r}): a running server uses them within seconds"),
            None => "; dry run: nothing stored".into(),
        }
    );
    Ok(())
}

pub async fn list(config: &ServerConfig, json: bool, not_loaded: bool) -> Result<(), Failure> {
    let mut added = rules_dir_files(config)?;
    let store = admin::open_existing_store(&config.data_dir).await?;
    let stored = store
        .list_rule_sources()
        .await
        .context("reading imported rules")?;
    let det: DetectionSettings = settings::load(&*store, settings::DETECTION_KEY)
        .await
        .context("reading detection settings")?;
    added.extend(rulebook::imported_files(&stored));
    let book = rulebook::build(&added, &det.rules)
        .map_err(|e| Failure::Runtime(anyhow!("the stored rule book does not compile: {e}")))?;
    print_report(&book.rules, json, not_loaded)?;
    let loaded = book.rules.iter().filter(|r| r.status == "loaded").count();
    eprintln!(
        "{} rule(s): {loaded} loaded, {} not loaded",
        book.rules.len(),
        book.rules.len() - loaded
    );
    Ok(())
}
