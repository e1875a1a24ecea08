//! Process-start storm for the agent benchmark (BENCHMARKS.md, "Host
//! detection"): starts PROGRAM (default /bin/true) RATE times a second
//! for SECS seconds, evenly spaced, reaping as it goes, and prints the rate
//! achieved.
//!
//! `cargo run --release -p ward-collect-proc --example exec_storm -- 200 60`

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let rate: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(60);
    let program = args.next().unwrap_or_else(|| "/bin/true".into());
    let period = Duration::from_secs(1) / rate.max(1);
    let t0 = Instant::now();
    let mut started = 0u64;
    let mut children = Vec::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        let due = t0 + period * started as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        match Command::new(&program)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => children.push(c),
            Err(e) => eprintln!("spawn: {e}"),
        }
        started += 1;
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
    }
    for mut c in children {
        let _ = c.wait();
    }
    let took = t0.elapsed().as_secs_f64();
    println!(
        "exec storm: {started} starts of {program} in {took:.1} s ({:.0}/s)",
        started as f64 / took
    );
}
