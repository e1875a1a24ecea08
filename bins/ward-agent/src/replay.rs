//! `ward-agent replay --source auth FILE [--year Y] [--rules DIR]`: the
//! built-in login rules (plus the `*.yml`/`*.yaml` files of DIR) over an
//! auth log, offline; one alert per line as JSON on stdout.

use std::io::Write;
use std::path::Path;

use ward_agent_core::{exit_code, AgentError};
use ward_rules::RuleSetBuilder;

/// Runs the replay; returns the process exit code.
pub fn replay(
    source: &str,
    file: &Path,
    year: Option<i32>,
    rules: Option<&Path>,
) -> Result<i32, AgentError> {
    if source != "auth" {
        return Err(AgentError::Usage(format!(
            "--source {source:?} is not supported (only \"auth\")"
        )));
    }
    let bytes = std::fs::read(file).map_err(|e| AgentError::io("reading", file, e))?;
    let year = match year {
        Some(y) => y,
        None => file_year(file),
    };
    let mut b = RuleSetBuilder::with_builtin();
    if let Some(dir) = rules {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| AgentError::io("listing", dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .collect();
        files.sort();
        for p in files {
            let text = std::fs::read_to_string(&p).map_err(|e| AgentError::io("reading", &p, e))?;
            b.add_source(p.display().to_string(), text);
        }
    }
    let set = b.build().map_err(|e| {
        AgentError::Usage(
            e.0.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let alerts = ward_rules::replay(text.lines(), year, &set);
    let mut out = std::io::stdout().lock();
    for a in &alerts {
        let line = serde_json::to_string(a).map_err(|e| AgentError::Runtime(e.to_string()))?;
        if writeln!(out, "{line}").is_err() {
            break; // closed pipe: nothing more to say
        }
    }
    Ok(exit_code::OK)
}

/// The year of the file's modification time (classic syslog timestamps
/// have none), else this year.
fn file_year(file: &Path) -> i32 {
    let ms = std::fs::metadata(file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or_else(ward_agent_core::now_ms);
    let offset = ward_collect_auth::clock::local_offset_secs(ms / 1000);
    ward_collect_auth::clock::year_of(ms, offset)
}
