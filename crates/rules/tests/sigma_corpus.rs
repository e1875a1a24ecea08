//! The SigmaHQ Linux rules in `shared/corpora/sigma-linux` load through the
//! lenient builder: every rule compiles or fails with a documented
//! "unsupported" code, never a crash or a parse error of valid Sigma.

use std::path::{Path, PathBuf};
use ward_rules::{ErrorCode, RuleSetBuilder};

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

#[test]
fn sigma_linux_rules_load() {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma-linux");
    let mut files = Vec::new();
    yml_files(&root, &mut files);
    assert!(files.len() > 150, "only {} rule files", files.len());
    let mut b = RuleSetBuilder::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read rule");
        b.add_source(
            f.strip_prefix(&root).unwrap_or(f).display().to_string(),
            text,
        );
    }
    let (set, errors) = b.build_lenient();
    for e in &errors {
        assert!(
            matches!(
                e.code,
                ErrorCode::UnsupportedModifier
                    | ErrorCode::UnsupportedFeature
                    | ErrorCode::UnsupportedCorrelation
            ),
            "unexpected error on valid Sigma: {e}"
        );
    }
    assert!(set.len() + errors.len() >= files.len());
    assert!(
        set.len() * 10 >= files.len() * 9,
        "{} of {} compiled; errors: {errors:#?}",
        set.len(),
        files.len()
    );
    eprintln!(
        "{} of {} Sigma rule files compiled, {} unsupported",
        set.len(),
        files.len(),
        errors.len()
    );
    // Authors are kept for display with alerts (Detection Rule License).
    assert!(set.rules().all(|r| r.author.is_some()));
}
