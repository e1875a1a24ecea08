//! The `ward-server` program as an operator runs it: exit codes, one-line
//! errors, and the admin commands against a running server.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn ward_server() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ward-server"));
    // The tests' own environment must not leak WARD_ settings in.
    for (k, _) in std::env::vars() {
        if k.starts_with("WARD_") {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null());
    c
}

fn run(c: &mut Command) -> Output {
    c.output().expect("run ward-server")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a failure with `code` and exactly one `ward-server: ` line containing `needle`.
fn assert_fails(out: &Output, code: i32, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].starts_with("ward-server: "), "{err}");
    assert!(lines[0].contains(needle), "{needle:?} not in {err}");
}

#[test]
fn config_validate_reports_problems_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(ward_server()
        .args(["config", "validate", "--data-dir"])
        .arg(&data));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid"));
    assert!(text(&out.stdout).contains("keepalive_secs = 30"));

    let file = dir.path().join("ward.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:1\"\nlisten_addr = 1\n").unwrap();
    let out = run(ward_server()
        .args(["config", "validate", "--config"])
        .arg(&file));
    assert_fails(&out, 2, "listen_addr");
    assert!(text(&out.stderr).contains(&file.display().to_string()));

    std::fs::write(&file, "[policy]\nkeepalive_secs = 0\n").unwrap();
    let out = run(ward_server()
        .args(["config", "validate", "--config"])
        .arg(&file));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("policy.keepalive_secs"), "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");

    let out = run(ward_server()
        .args(["config", "validate"])
        .env("WARD_POLICY__KEEPALIVE", "5"));
    assert_fails(&out, 2, "WARD_POLICY__KEEPALIVE");

    let out = run(ward_server().args(["serve", "--listen", "nowhere"]));
    assert_fails(&out, 2, "--listen");
    let out = run(ward_server().arg("frobnicate"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn admin_commands_need_an_existing_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none");
    for args in [
        vec!["keys", "list"],
        vec!["token", "create"],
        vec!["install-command", "--platform", "linux-x86_64"],
    ] {
        let out = run(ward_server().args(&args).arg("--data-dir").arg(&missing));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).starts_with("ward-server: "));
        assert!(!missing.exists(), "{args:?} must not create the data dir");
    }
    let out = run(ward_server()
        .args([
            "install-command",
            "--platform",
            "windows-x86_64",
            "--data-dir",
        ])
        .arg(&missing));
    assert_fails(&out, 2, "unknown platform");
}

struct Serve {
    child: Child,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> (Serve, Value) {
    let child = ward_server()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("WARD_LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let serve = Serve { child };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(t) = std::fs::read_to_string(data.join("server.json")) {
            if let Ok(v) = serde_json::from_str::<Value>(&t) {
                return (serve, v);
            }
        }
        assert!(Instant::now() < deadline, "server.json never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cli(data: &Path, args: &[&str]) -> Output {
    run(ward_server().args(args).arg("--data-dir").arg(data))
}

#[test]
fn serve_and_admin_commands_work_together() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut serve, info) = start(&data);
    let url = info["url"].as_str().unwrap().to_string();
    let pin = info["pin"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{info}");
    assert!(pin.starts_with("sha256//"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    let out = cli(
        &data,
        &[
            "keys", "create", "--label", "web", "--group", "g1", "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key_id = key["id"].as_str().unwrap().to_string();
    let secret = key["secret"].as_str().unwrap().to_string();

    let out = cli(&data, &["keys", "list", "--json"]);
    let keys: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let labels: Vec<&str> = keys.iter().map(|k| k["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["default", "web"]);

    // The default key is the newest one.
    let out = cli(&data, &["install-command", "--platform", "linux-x86_64"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert_eq!(line.lines().count(), 1, "{line}");
    let want = format!(
        "sh -c \"$(curl -fsSk --pinnedpubkey '{pin}' '{url}/install.sh' || echo exit 3)\" ward-install --server '{url}' --pin '{pin}' --key '{secret}' --platform linux-x86_64\n"
    );
    assert_eq!(line, want);

    let other = "https://ward.example:9443";
    let out = cli(
        &data,
        &[
            "install-command",
            "--platform",
            "linux-i686",
            "--key",
            &key_id,
            "--server",
            other,
        ],
    );
    let line = text(&out.stdout);
    assert!(line.contains(&format!("--server '{other}'")), "{line}");
    assert!(line.contains(&format!("'{other}/install.sh'")), "{line}");
    assert!(line.contains(&format!("--key '{secret}'")), "{line}");

    let out = cli(&data, &["keys", "revoke", &key_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = cli(
        &data,
        &[
            "install-command",
            "--platform",
            "linux-x86_64",
            "--key",
            &key_id,
        ],
    );
    assert_fails(&out, 1, "revoked");
    let out = cli(&data, &["keys", "revoke", "key_nope"]);
    assert_fails(&out, 1, "key_nope");

    let out = cli(&data, &["token", "create", "--label", "ops"]);
    assert_eq!(out.status.code(), Some(0));
    let token = text(&out.stdout).trim().to_string();
    assert!(token.starts_with("wt_"), "{token}");
    let api = Command::new("curl")
        .args(["-sS", "-k", "--pinnedpubkey", &pin, "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{url}/api/v1/keys"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&api.stdout).expect("API JSON");
    assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");

    // SIGTERM: a clean exit.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(serve.child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = serve.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut stdout = String::new();
    use std::io::Read;
    serve
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(stdout.contains(&format!("Pin:     {pin}")), "{stdout}");
    assert!(stdout.contains("Install: sh -c"), "{stdout}");
    assert!(
        !stdout.contains(&token),
        "tokens are never printed by serve"
    );
}
