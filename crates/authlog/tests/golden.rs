//! Golden tests: every `golden/*.in` file (one log line per line; `#` starts a
//! comment line) is parsed with year 2026, UTC, source `/var/log/auth.log`;
//! each event is written as one JSON line with `id` set to the 1-based input
//! line number it came from. The result must equal `golden/*.out`.
//! `WARD_BLESS=1 cargo test -p ward-authlog --test golden` rewrites the
//! `.out` files (review every changed line by hand before committing).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use ward_authlog::{parse_line, ParseContext};

fn render(input: &str) -> String {
    let ctx = ParseContext::new(2026, "/var/log/auth.log");
    let mut out = String::new();
    for (i, line) in input.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        for mut event in parse_line(line, &ctx) {
            event.id = i as u64 + 1;
            let json = serde_json::to_string(&event).expect("events serialize");
            writeln!(out, "{json}").expect("write to string");
        }
    }
    out
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn golden_files() {
    let bless = std::env::var("WARD_BLESS").is_ok_and(|v| v == "1");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "in"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "golden inputs missing: {inputs:?}");
    let mut failures = Vec::new();
    for input in &inputs {
        let text = std::fs::read_to_string(input).expect("read .in");
        let got = render(&text);
        let out = input.with_extension("out");
        if bless {
            std::fs::write(&out, &got).expect("write .out");
            continue;
        }
        let want = std::fs::read_to_string(&out)
            .unwrap_or_else(|e| panic!("{}: {e} (run with WARD_BLESS=1)", out.display()));
        if got != want {
            let (g, w): (Vec<_>, Vec<_>) = (got.lines().collect(), want.lines().collect());
            let first = (0..g.len().max(w.len()))
                .find(|&i| g.get(i) != w.get(i))
                .unwrap_or(0);
            failures.push(format!(
                "{}: first difference at output line {}:\n  got:  {:?}\n  want: {:?}",
                out.display(),
                first + 1,
                g.get(first),
                w.get(first)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
