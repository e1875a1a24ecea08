//! The install command and `install.sh`, run with the real `sh` and `curl`
//! against a real server (the agent package is a stand-in script that
//! records how it was called).

mod common;

use std::path::Path;
use std::process::Output;

use common::TestServer;
use ward_server_core::admin::install_command;

/// A stand-in `ward-agent` that writes its arguments (one per line) to
/// `record`, then exits with `code`.
fn fake_agent(record: &Path, code: i32) -> String {
    format!(
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'\nexit {code}\n",
        record.display()
    )
}

fn publish(s: &TestServer, script: &str) {
    let dir = s.data_dir().join("packages/linux-x86_64");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ward-agent"), script).unwrap();
}

async fn sh(script: &str) -> Output {
    tokio::process::Command::new("sh")
        .args(["-c", script])
        .output()
        .await
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn url(s: &TestServer) -> String {
    format!("https://127.0.0.1:{}", s.addr.port())
}

#[tokio::test]
async fn the_printed_command_runs_the_agent_installer_with_all_arguments() {
    let s = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let record = tmp.path().join("args");
    publish(&s, &fake_agent(&record, 7));
    let cmd = install_command(&url(&s), &s.pin, "wk_secret", "linux-x86_64");
    let out = sh(&format!("{cmd} --prefix '/tmp/a dir'")).await;
    assert_eq!(
        out.status.code(),
        Some(7),
        "the agent's status: {}",
        stderr(&out)
    );
    let args = std::fs::read_to_string(&record).unwrap();
    let want = [
        "install",
        "--server",
        &url(&s),
        "--pin",
        &s.pin,
        "--key",
        "wk_secret",
        "--platform",
        "linux-x86_64",
        "--prefix",
        "/tmp/a dir",
    ]
    .join("\n")
        + "\n";
    assert_eq!(args, want);
}

#[tokio::test]
async fn installer_failures_are_one_clear_line() {
    let s = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("install.sh");
    let (_, body, _) = s
        .request(axum::http::Method::GET, "/install.sh", &[], None)
        .await;
    std::fs::write(&script, body).unwrap();
    let run = |server: String, pin: String| {
        let script = script.clone();
        async move {
            sh(&format!(
                "sh '{}' --server '{server}' --pin '{pin}' --key wk_x --platform linux-x86_64",
                script.display()
            ))
            .await
        }
    };

    // No package published yet.
    let out = run(url(&s), s.pin.clone()).await;
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "ward-install: the server has no ward-agent package for platform linux-x86_64 (HTTP 404 for {}/download/agent/linux-x86_64)",
            url(&s)
        )
    );

    publish(&s, &fake_agent(&tmp.path().join("args"), 0));
    // A pin of another key.
    let other = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let out = run(url(&s), other.into()).await;
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ward-install: server key does not match pin"),
        "{err}"
    );

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = run(format!("https://127.0.0.1:{port}"), s.pin.clone()).await;
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.starts_with("ward-install: connection refused"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // Missing arguments.
    let out = sh(&format!("sh '{}' --server x", script.display())).await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).starts_with("ward-install: missing --pin"),
        "{}",
        stderr(&out)
    );

    // Success runs the agent, whose status is the installer's.
    let out = run(url(&s), s.pin.clone()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(tmp.path().join("args").exists());
}

#[tokio::test]
async fn a_truncated_installer_runs_nothing() {
    let s = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let record = tmp.path().join("args");
    publish(&s, &fake_agent(&record, 0));
    let full = ward_server_core::download::INSTALL_SH;
    // Cut at many points, including just before the final call.
    let cut_points = [
        full.len() / 4,
        full.len() / 2,
        full.len() * 3 / 4,
        full.len() - 12,
    ];
    for cut in cut_points {
        let script = tmp.path().join("partial.sh");
        std::fs::write(&script, &full.as_bytes()[..cut]).unwrap();
        let _ = sh(&format!(
            "sh '{}' --server '{}' --pin '{}' --key wk_x --platform linux-x86_64",
            script.display(),
            url(&s),
            s.pin
        ))
        .await;
        assert!(
            !record.exists(),
            "a script cut at {cut} bytes ran the agent"
        );
    }
}
