//! Running the built `ward-agent` in the integration tests of this crate.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ward_proto::Policy;

/// Short intervals so tests see keepalives quickly.
pub const FAST: Policy = Policy {
    keepalive_secs: 1,
    missed_keepalives: 3,
    report_interval_secs: 3600,
};

/// Runs the built `ward-agent` with short reconnect backoffs.
pub fn agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward-agent"))
        .args(args)
        .env("WARD_AGENT_RECONNECT_MIN_BACKOFF_MS", "100")
        .env("WARD_AGENT_RECONNECT_MAX_BACKOFF_MS", "500")
        .output()
        .unwrap()
}

/// `ward-agent install` of `prefix` against `url` with `pin` and `key`.
pub fn install(url: &str, pin: &str, key: &str, prefix: &Path) -> Output {
    agent(&[
        "install",
        "--server",
        url,
        "--pin",
        pin,
        "--key",
        key,
        "--platform",
        "linux-x86_64",
        "--prefix",
        prefix.to_str().unwrap(),
        "--wait-secs",
        "20",
    ])
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Stops the agent of a prefix when the test ends, pass or fail (which
/// leaves it stopped: no guardian restarts it) and the `ward-update` the
/// install started next to it.
pub struct StopOnDrop(pub PathBuf);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let p = self.0.to_str().unwrap();
        let _ = agent(&["stop", "--prefix", p]);
        let _ = updater(&["stop", "--prefix", p]);
    }
}

/// Runs the workspace's `ward-update` (built next to `ward-agent`).
pub fn updater(args: &[&str]) -> Output {
    Command::new(Path::new(env!("CARGO_BIN_EXE_ward-agent")).with_file_name("ward-update"))
        .args(args)
        .output()
        .unwrap()
}
