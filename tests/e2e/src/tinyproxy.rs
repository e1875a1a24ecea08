//! A real HTTP CONNECT proxy for tests: Debian's `tinyproxy` with its own
//! configuration, log and pid file in a temporary directory, in the
//! foreground, killed on drop.

use std::fs;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for};

pub struct Tinyproxy {
    pub dir: tempfile::TempDir,
    pub listen: String,
    pub port: u16,
    child: Option<Child>,
}

impl Tinyproxy {
    /// Starts tinyproxy on `listen` (an address of this machine), accepting
    /// clients from `allow` (an address or CIDR). With `connect_ports`
    /// empty every port may be CONNECTed to; otherwise only those (others
    /// get `403`).
    pub fn start(listen: &str, allow: &str, connect_ports: &[u16]) -> Tinyproxy {
        let dir = tempfile::Builder::new()
            .prefix("ward-e2e-tinyproxy")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let mut conf = format!(
            "Port {port}\nListen {listen}\nTimeout 600\nMaxClients 50\nAllow {allow}\n\
             LogLevel Connect\nLogFile \"{log}\"\nPidFile \"{pid}\"\n",
            log = dir.path().join("tinyproxy.log").display(),
            pid = dir.path().join("tinyproxy.pid").display(),
        );
        for p in connect_ports {
            conf.push_str(&format!("ConnectPort {p}\n"));
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        fs::write(&conf_path, conf).expect("write tinyproxy.conf");
        let out = fs::File::create(dir.path().join("stdout.log")).expect("log");
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log fd"))
            .stderr(out)
            .spawn()
            .expect(
                "spawn tinyproxy (install Debian's tinyproxy-bin: scripts/install-test-deps.sh)",
            );
        let mut p = Tinyproxy {
            dir,
            listen: listen.to_string(),
            port,
            child: Some(child),
        };
        let addr = format!("{listen}:{port}");
        wait_for("tinyproxy to listen", Duration::from_secs(10), || {
            if let Some(c) = p.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("tinyproxy exited ({st}): {}", p.log());
                }
            }
            TcpStream::connect(&addr).ok().map(|_| ())
        });
        p
    }

    /// `http://listen:port`.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.listen, self.port)
    }

    /// The proxy's log (requests are logged at level Connect).
    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default();
        s.push_str(&fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default());
        s
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
