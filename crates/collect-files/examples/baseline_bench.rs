//! Baseline hashing benchmark (BENCHMARKS.md, "Host detection"): walks the
//! given trees as file-integrity paths, observes every file (metadata,
//! SHA-256; no size limit, like AIDE), writes the baseline file, and
//! prints files, bytes, wall and CPU time, throughput and peak RSS.
//!
//! `cargo run --release -p ward-collect-files --example baseline_bench -- /usr`

use std::time::{Duration, Instant};

use ward_collect_files::baseline::{self, Baseline};
use ward_collect_files::classify::{Category, Plan, PlanInput};
use ward_collect_files::scan::Walk;
use ward_collect_files::state::{observe, Limits};

fn rusage() -> (f64, u64) {
    // SAFETY: getrusage fills the zeroed struct.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage struct.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(r.ru_utime) + t(r.ru_stime), r.ru_maxrss as u64)
}

fn main() {
    let roots: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    if roots.is_empty() {
        eprintln!("usage: baseline_bench DIR...");
        std::process::exit(2);
    }
    let empty = tempfile::tempdir().expect("tempdir");
    // Only the given trees: persistence paths under an empty root.
    let plan = Plan::new(&PlanInput {
        root: empty.path().to_path_buf(),
        homes: Vec::new(),
        fim: roots.clone(),
        history: false,
        logs: false,
        temp: false,
        exclude_names: Vec::new(),
        exclude_paths: Vec::new(),
    });
    let limits = Limits { hash_max: u64::MAX };
    let t0 = Instant::now();
    let mut walk = Walk::new(&plan, 10_000_000);
    let mut paths = Vec::new();
    while !walk.done() {
        walk.step(
            Duration::from_secs(3600),
            |_| {},
            |p| paths.push(p.to_path_buf()),
        );
    }
    let (mut files, mut bytes, mut hashed) = (0u64, 0u64, 0u64);
    let mut b = Baseline::new();
    for p in paths {
        if plan.classify(&p) != Some(Category::Fim) {
            continue;
        }
        if let Some((st, _)) = observe(&p, Category::Fim, limits, None, false) {
            files += 1;
            if st.sha256.is_some() {
                hashed += 1;
                bytes += st.size;
            }
            b.insert(p, st);
        }
    }
    let out = empty.path().join("fim-baseline");
    baseline::save(&out, &b).expect("write the baseline");
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let wall = t0.elapsed().as_secs_f64();
    let (cpu, rss_kib) = rusage();
    println!(
        "ward baseline: {files} paths ({hashed} files hashed, {:.1} MiB) in {wall:.2} s wall, {cpu:.2} s CPU, \
         {:.0} MiB/s, peak RSS {:.1} MiB, baseline file {:.1} MiB",
        bytes as f64 / 1048576.0,
        bytes as f64 / 1048576.0 / wall,
        rss_kib as f64 / 1024.0,
        size as f64 / 1048576.0
    );
}
