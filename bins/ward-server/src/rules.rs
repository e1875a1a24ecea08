//! `ward-server rules test FILE [--rules DIR] [--year Y] [--strict]`: runs
//! the built-in rules (plus every `*.yml`/`*.yaml` under DIR) over an auth
//! log offline and prints each alert as one JSON line on stdout; a summary
//! and rule warnings go to stderr.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{anyhow, Context};
use ward_rules::{replay, RuleSetBuilder};
use ward_server_core::detect::rule_files::read_dir;

use crate::Failure;

/// The current UTC year.
fn this_year() -> i32 {
    let now = std::time::SystemTime::now();
    humantime::format_rfc3339(now).to_string()[..4]
        .parse()
        .unwrap_or(1970)
}

pub fn test(
    file: &Path,
    rules: Option<&Path>,
    year: Option<i32>,
    strict: bool,
) -> Result<(), Failure> {
    let mut b = RuleSetBuilder::with_builtin();
    let mut count = 0;
    if let Some(dir) = rules {
        for f in read_dir(dir, false).map_err(|e| Failure::Usage(e.into()))? {
            b.add_source(f.name, f.text);
            count += 1;
        }
    }
    let (set, errors) = b.build_lenient();
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("ward-server: rule warning: {e}");
        }
        if strict {
            return Err(Failure::Usage(anyhow!(
                "{} rule error(s) (see above)",
                errors.len()
            )));
        }
    }
    let f = std::fs::File::open(file)
        .with_context(|| format!("opening {}", file.display()))
        .map_err(Failure::Usage)?;
    let mut reader = std::io::BufReader::new(f);
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {}", file.display()))?;
        if n == 0 {
            break;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        lines.push(String::from_utf8_lossy(&buf).into_owned());
    }
    let year = year.unwrap_or_else(this_year);
    let alerts = replay(lines.iter().map(String::as_str), year, &set);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for a in &alerts {
        serde_json::to_writer(&mut out, a).context("writing an alert")?;
        out.write_all(b"\n").context("writing an alert")?;
    }
    out.flush().context("writing alerts")?;
    eprintln!(
        "{} alert(s) from {} line(s); {} rule(s) ({} rule file(s) added, {} error(s)); year {year}",
        alerts.len(),
        lines.len(),
        set.len(),
        count,
        errors.len()
    );
    Ok(())
}
