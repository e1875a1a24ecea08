//! End to end: a real `ward-server` (in this process, real TLS, real SQLite
//! in a temp dir) and a small `ward-bench agents` run against it.

use std::os::unix::fs::PermissionsExt as _;

use clap::Parser;
use ward_config::ServerConfig;
use ward_proto::Policy;
use ward_server_core::{admin, StartOptions};

use crate::cli::{Cli, Command};

fn agents_args(argv: &[String]) -> crate::cli::AgentsArgs {
    let mut full = vec!["ward-bench".to_string(), "agents".to_string()];
    full.extend_from_slice(argv);
    match Cli::try_parse_from(full).expect("arguments parse").command {
        Command::Agents(a) => a,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_agents_enroll_connect_keep_alive_and_are_protected() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        policy: Policy {
            keepalive_secs: 1,
            missed_keepalives: 3,
            report_interval_secs: 3600,
        },
        ..ServerConfig::default()
    };
    let server = ward_server_core::start(config, StartOptions::default())
        .await
        .expect("server starts");
    let key = admin::create_key(&*server.store(), "bench", None)
        .await
        .unwrap();
    let (_, token) = admin::create_api_token(&*server.store(), "bench")
        .await
        .unwrap();
    let creds = dir.path().join("agents.json");
    const N: u64 = 24;
    let argv = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--server",
            server.url(),
            "--pin",
            server.pin(),
            "--token",
            &token,
            "--count",
            &N.to_string(),
            "--duration",
            "3",
            "--concurrency",
            "8",
            "--enrolled-file",
            creds.to_str().unwrap(),
            "--server-pid",
            &std::process::id().to_string(),
            "--progress",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };

    let first = crate::run::agents(agents_args(&argv(&["--key", &key.secret])), 2)
        .await
        .expect("first run");
    assert_eq!(first.enroll.enrolled, N as usize);
    assert_eq!(first.ramp.agents_up, N);
    assert!(first.errors_total.is_empty(), "{:?}", first.errors_total);
    assert!(first.held, "every session held and protected");
    assert_eq!(first.protected_metrics_end, Some(N));
    assert_eq!(first.protected_api_end, Some(N));
    assert!(first.ramp.secs_to_all_protected_metrics.is_some());
    // 24 agents × 1 s keepalives × 3 s: tens of acks, each timed.
    assert!(first.hold.acks >= N, "acks {}", first.hold.acks);
    assert_eq!(first.hold.ack_latency.samples, first.hold.acks);
    assert_eq!(first.keepalive_secs, Some(1.0), "the server's policy");
    let mode = std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // A rerun reuses the saved identities: no key needed, nothing enrolled,
    // and the server still counts exactly N assets.
    let second = crate::run::agents(agents_args(&argv(&["--keepalive-secs", "1"])), 2)
        .await
        .expect("second run");
    assert_eq!(
        (second.enroll.reused, second.enroll.enrolled),
        (N as usize, 0)
    );
    assert!(second.held);
    assert_eq!(second.protected_api_end, Some(N));
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_stops_enrollment_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        ..ServerConfig::default()
    };
    let server = ward_server_core::start(config, StartOptions::default())
        .await
        .expect("server starts");
    let args = agents_args(
        &[
            "--server",
            server.url(),
            "--pin",
            server.pin(),
            "--key",
            "wk_not_a_key",
            "--count",
            "3",
            "--server-pid",
            &std::process::id().to_string(),
        ]
        .map(String::from),
    );
    let err = crate::run::agents(args, 1).await.expect_err("must fail");
    let text = format!("{err:#}");
    assert!(text.contains("key_unknown"), "{text}");
    server.shutdown().await;
}
