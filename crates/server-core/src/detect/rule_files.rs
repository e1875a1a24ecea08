//! Rule files added to the built-in rules: every `*.yml`/`*.yaml` file
//! under a directory (the server's `rules_dir`, or `ward-server rules test
//! --rules DIR`), read recursively in path order so errors come out in a
//! stable order.

use std::path::{Path, PathBuf};

/// One rule file: its path (shown in rule errors and as the rule's file)
/// and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    pub name: String,
    pub text: String,
}

/// Why a rules directory could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct RuleDirError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RuleDirError {
    let path = path.to_path_buf();
    move |source| RuleDirError { op, path, source }
}

/// The paths of the rule files (`*.yml`, `*.yaml`) under `dir`,
/// recursively, sorted.
pub fn paths(dir: &Path) -> Result<Vec<PathBuf>, RuleDirError> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(err("reading the rules directory", &d))? {
            let p = entry
                .map_err(err("reading the rules directory", &d))?
                .path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
                paths.push(p);
            }
        }
    }
    paths.sort();
    Ok(paths)
}

/// The rule files under `dir`, sorted by path. A missing `dir` has none
/// (`missing_ok`), otherwise it is an error.
pub fn read_dir(dir: &Path, missing_ok: bool) -> Result<Vec<RuleFile>, RuleDirError> {
    if missing_ok && !dir.exists() {
        return Ok(Vec::new());
    }
    paths(dir)?
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(err("reading", &p))?;
            Ok(RuleFile {
                name: p.display().to_string(),
                text,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_files_are_found_recursively_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("linux/sshd");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("b.yml"), "b").unwrap();
        std::fs::write(dir.path().join("a.yaml"), "a").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let files = read_dir(dir.path(), false).unwrap();
        let texts: Vec<&str> = files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, ["a", "b"]);
        assert!(files[1].name.ends_with("linux/sshd/b.yml"));
        let missing = dir.path().join("nope");
        assert!(read_dir(&missing, true).unwrap().is_empty());
        let e = read_dir(&missing, false).unwrap_err().to_string();
        assert!(e.starts_with("reading the rules directory"), "{e}");
    }
}
