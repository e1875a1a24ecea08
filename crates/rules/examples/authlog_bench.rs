//! Auth-log throughput on one core: parse + evaluate the built-in rules over
//! an auth log repeated to N lines (default: the loghub OpenSSH corpus,
//! 1,000,000 lines), and print lines/s.
//!
//! ```sh
//! cargo run --release -p ward-rules --example authlog_bench -- \
//!     [FILE (default ../shared/corpora/loghub-openssh/OpenSSH_2k.log)] [LINES (default 1000000)] \
//!     [--write-repeated OUT]
//! ```
//!
//! `--write-repeated OUT` also writes the repeated input to OUT, so other
//! tools (fail2ban-regex) can be measured on exactly the same lines.

use std::time::Instant;

/// CPU time of this thread, in seconds (immune to other load on the machine).
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
use ward_authlog::{parse_line, ParseContext};
use ward_rules::{Engine, RuleSetBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut write_to = None;
    if let Some(i) = args.iter().position(|a| a == "--write-repeated") {
        write_to = Some(
            args.get(i + 1)
                .ok_or("--write-repeated needs a path")?
                .clone(),
        );
        args.drain(i..=i + 1);
    }
    let default = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/loghub-openssh/OpenSSH_2k.log"
    );
    let path = args.first().map(String::as_str).unwrap_or(default);
    let want: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let base: Vec<&str> = text.lines().collect();
    if base.is_empty() {
        return Err("empty input".into());
    }
    let lines: Vec<&str> = base.iter().copied().cycle().take(want).collect();
    if let Some(out) = write_to {
        let mut s = lines.join("\n");
        s.push('\n');
        std::fs::write(&out, s)?;
        eprintln!("wrote {} lines to {out}", lines.len());
    }
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let ctx = ParseContext::new(2026, "bench");

    // 1. Parse only.
    let start = Instant::now();
    let cpu0 = thread_cpu_s();
    let mut events = 0usize;
    for line in &lines {
        events += parse_line(line, &ctx).len();
    }
    let parse_s = start.elapsed().as_secs_f64();
    let parse_cpu = thread_cpu_s() - cpu0;

    // 2. Parse + evaluate the built-in rules (engine clock = event time).
    let set = RuleSetBuilder::with_builtin().build()?;
    let mut engine = Engine::new(set);
    let start = Instant::now();
    let cpu0 = thread_cpu_s();
    let mut alerts = 0usize;
    let mut id = 0u64;
    for line in &lines {
        for mut ev in parse_line(line, &ctx) {
            id += 1;
            ev.id = id;
            alerts += engine.process(&ev, ev.host_time_ms).len();
        }
    }
    let full_s = start.elapsed().as_secs_f64();
    let full_cpu = thread_cpu_s() - cpu0;

    println!(
        "input: {path} repeated to {} lines ({:.1} MB)",
        lines.len(),
        bytes as f64 / 1e6
    );
    println!("events: {events}  alerts: {alerts}");
    let n = lines.len() as f64;
    println!(
        "parse only:       {:>10.0} lines/CPU-s  {:>10.0} lines/s wall  ({parse_cpu:.3} CPU-s, {parse_s:.3} s)",
        n / parse_cpu,
        n / parse_s
    );
    println!(
        "parse + evaluate: {:>10.0} lines/CPU-s  {:>10.0} lines/s wall  ({full_cpu:.3} CPU-s, {full_s:.3} s, {:.0} MB/CPU-s)",
        n / full_cpu,
        n / full_s,
        bytes as f64 / 1e6 / full_cpu
    );
    Ok(())
}
