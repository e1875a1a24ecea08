//! Server-side render time of console pages with a large fleet.
//!
//! Fills a SQLite store with N assets through the real `Store` API (enroll,
//! then status changes: ~85 % protected, 10 % offline, 5 % never connected,
//! 20 groups), loads the real status engine as `ward-server` does, signs in
//! through the real router, and times whole requests (session check, store
//! queries, engine lookups, HTML rendering) with `tower::ServiceExt::oneshot`.
//!
//! ```text
//! cargo run --release -p ward-console --example assets_page_bench -- [--assets 100000] [--iterations 30] [--db PATH]
//! ```
//!
//! `--db` keeps the filled database for the next run (it is only filled when
//! it has fewer assets than asked).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use support::{get, sign_in, TestHost};
use ward_proto::HostReport;
use ward_store::{AssetQuery, Enrollment, NewKey, Status, StatusChange, StatusReason, Store};

const PASSWORD: &str = "benchmark password";
const GROUPS: usize = 20;

struct Args {
    assets: usize,
    iterations: usize,
    db: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        assets: 100_000,
        iterations: 30,
        db: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--assets" => a.assets = v.parse().expect("--assets N"),
            "--iterations" => a.iterations = v.parse().expect("--iterations N"),
            "--db" => a.db = Some(PathBuf::from(v)),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn group_of(i: usize) -> String {
    ["web", "db", "cache", "batch", "edge"][i % 5].to_string() + &format!("-{:02}", i % GROUPS)
}

async fn fill(store: &dyn Store, n: usize) {
    let have: u64 = store
        .count_by_status()
        .await
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum();
    if have as usize >= n {
        println!("store already holds {have} assets");
        return;
    }
    let t0 = Instant::now();
    for g in 0..GROUPS {
        let id = format!("key_bench_{g:02}");
        if store.get_key(&id).await.unwrap().is_none() {
            store
                .create_key(NewKey {
                    id: id.clone(),
                    secret: format!("wk_bench_{g:02}"),
                    label: format!("bench {g}"),
                    default_group: Some(group_of(g)),
                    created_at: 1_700_000_000_000,
                })
                .await
                .unwrap();
        }
    }
    for i in have as usize..n {
        let kind = ["web", "db", "cache", "batch", "edge"][i % 5];
        let report = HostReport {
            hostname: format!("{kind}-{i:06}.prod.example.com"),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel: "6.1.0-18-amd64".into(),
            arch: "x86_64".into(),
            ips: vec![
                format!("10.{}.{}.{}", i / 65_536, (i / 256) % 256, i % 256),
                format!("fd00::{i:x}"),
            ],
            agent_version: ["0.1.0", "0.1.1", "0.2.0"][i % 3].into(),
            agent_cpu_percent: 0.05,
            agent_rss_bytes: 9 << 20,
            uptime_secs: 86_400,
        };
        let at = 1_700_000_000_000 + i as i64;
        store
            .enroll(Enrollment {
                new_id: format!("as_{i:06}"),
                key_id: format!("key_bench_{:02}", i % GROUPS),
                fingerprint: format!("fp-{i}"),
                platform: "linux-x86_64".into(),
                credential_hash: format!("h{i}"),
                report,
                at,
            })
            .await
            .unwrap();
        let change = match i % 20 {
            0 | 10 => Some((Status::Unprotected, Some(StatusReason::Offline))),
            1 => None, // never connected
            _ => Some((Status::Protected, None)),
        };
        if let Some((status, reason)) = change {
            store
                .set_status(
                    &format!("as_{i:06}"),
                    &StatusChange {
                        status,
                        reason,
                        at: at + 1000,
                        detail: None,
                    },
                )
                .await
                .unwrap();
        }
        if (i + 1) % 10_000 == 0 {
            println!("  {} assets ({:.0} s)", i + 1, t0.elapsed().as_secs_f64());
        }
    }
    println!("filled {n} assets in {:.1} s", t0.elapsed().as_secs_f64());
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = v[((v.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)];
    (ms(v[0]), ms(v[v.len() / 2]), ms(p95))
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let db = a.db.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    let host = TestHost::open(dir.path(), &db, PASSWORD).await;
    fill(&*host.store, a.assets).await;
    host.load_engine().await;
    let app = support::router(host.clone());
    let (cookie, _) = sign_in(&app, PASSWORD).await;

    // The cursor of the page that starts at the middle of the fleet.
    let mut q = AssetQuery {
        limit: 1000,
        ..Default::default()
    };
    for _ in 0..(a.assets / 2000) {
        q.after = host.store.list_assets(&q).await.unwrap().next_cursor;
    }
    let middle = q.after.clone().unwrap_or_default();

    let cases = [
        ("Assets, first page", "/console/assets".to_string()),
        (
            "Assets, page at the middle (keyset cursor)",
            format!("/console/assets?cursor={middle}&page=1001"),
        ),
        (
            "Assets, status = offline",
            "/console/assets?status=offline".to_string(),
        ),
        (
            "Assets, group = db-01",
            "/console/assets?group=db-01".to_string(),
        ),
        (
            "Assets, search hostname \"-00042\"",
            "/console/assets?q=-00042".to_string(),
        ),
        (
            "Assets, search IP \"10.1.44.\"",
            "/console/assets?q=10.1.44.".to_string(),
        ),
        (
            "Assets, search with no match",
            "/console/assets?q=no-such-host".to_string(),
        ),
        ("Overview", "/console/".to_string()),
        (
            "Live status JSON (50 ids)",
            format!(
                "/console/live?ids={}",
                (0..50)
                    .map(|i| format!("as_{:06}", i * 7))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
    ];
    println!(
        "\n{} assets, {} timed requests per case (after 3 warm-ups)\n",
        a.assets, a.iterations
    );
    println!("| page | min ms | median ms | p95 ms | rows | HTML KiB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, path) in cases {
        let mut times = Vec::with_capacity(a.iterations);
        let mut last = None;
        for i in 0..a.iterations + 3 {
            let t = Instant::now();
            let res = get(&app, &path, Some(&cookie)).await;
            let el = t.elapsed();
            assert_eq!(res.status, StatusCode::OK, "{path}");
            if i >= 3 {
                times.push(el);
            }
            last = Some(res);
        }
        let body = last.map(|r| r.body).unwrap_or_default();
        let rows = body.matches("<tr data-asset-id=").count();
        let (min, med, p95) = stats(times);
        println!(
            "| {name} | {min:.1} | {med:.1} | {p95:.1} | {rows} | {:.0} |",
            body.len() as f64 / 1024.0
        );
    }
}
